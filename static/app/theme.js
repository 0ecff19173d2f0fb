// Light/dark colour mode from the system setting (Bootstrap 5.3 colour modes), applied before the
// page paints and again whenever the system setting changes. Also marks <html class="js"> so that
// the CSS can keep the sidebar a plain block above the content when JavaScript is off.
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");
  if (!window.matchMedia) return;
  var dark = window.matchMedia("(prefers-color-scheme: dark)");
  function apply() {
    root.setAttribute("data-bs-theme", dark.matches ? "dark" : "light");
  }
  apply();
  if (dark.addEventListener) {
    dark.addEventListener("change", apply);
  } else if (dark.addListener) {
    dark.addListener(apply);
  }
})();
