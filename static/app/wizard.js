// The wizard's call notification step: drag a field to reorder it. The Up/Down buttons do the same
// without JavaScript; dragging only moves the row, whose hidden "order" input goes with it, so the
// next post (Next, Back, a tick) saves the new order.
(function () {
  "use strict";

  function refreshButtons(list) {
    var rows = list.querySelectorAll("[data-field]");
    rows.forEach(function (row, index) {
      var up = row.querySelector("button[value^='up:']");
      var down = row.querySelector("button[value^='down:']");
      if (up) up.disabled = index === 0;
      if (down) down.disabled = index === rows.length - 1;
    });
  }

  // The notification card beside the list: the ticked fields in list order, with the sample
  // record's values (server-rendered the same way; this keeps it live between posts).
  function redrawCard(list) {
    var card = document.getElementById("notification-preview");
    var empty = document.getElementById("preview-empty-value");
    var none = document.getElementById("preview-no-fields");
    if (!card || !empty || !none) return;
    card.replaceChildren();
    list.querySelectorAll("[data-field]").forEach(function (row) {
      var box = row.querySelector("input[type=checkbox]");
      if (!box || !box.checked) return;
      var term = document.createElement("dt");
      term.className = "fw-normal text-body-secondary";
      term.textContent = row.getAttribute("data-label");
      var value = document.createElement("dd");
      var sample = row.getAttribute("data-sample");
      if (sample) value.textContent = sample;
      else value.appendChild(empty.content.cloneNode(true));
      card.append(term, value);
    });
    if (!card.children.length) card.appendChild(none.content.cloneNode(true));
  }

  function setUp(list) {
    var dragged = null;
    list.addEventListener("change", function () {
      redrawCard(list);
    });
    list.addEventListener("dragstart", function (event) {
      dragged = event.target.closest("[data-field]");
      if (!dragged) return;
      dragged.classList.add("opacity-50");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", dragged.getAttribute("data-field"));
    });
    list.addEventListener("dragover", function (event) {
      if (!dragged) return;
      event.preventDefault();
      var target = event.target.closest("[data-field]");
      if (!target || target === dragged) return;
      var box = target.getBoundingClientRect();
      var after = event.clientY > box.top + box.height / 2;
      list.insertBefore(dragged, after ? target.nextSibling : target);
    });
    list.addEventListener("drop", function (event) {
      event.preventDefault();
    });
    list.addEventListener("dragend", function () {
      if (dragged) dragged.classList.remove("opacity-50");
      dragged = null;
      refreshButtons(list);
      redrawCard(list);
    });
  }

  // "Test connection" and "Next" may wait up to the connection test's timeout: say so on the button.
  // The button stays enabled so that its name and value are still posted.
  function setUpBusy(form) {
    form.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (!button || !button.hasAttribute("data-busy-label")) return;
      button.setAttribute("aria-busy", "true");
      button.textContent = button.getAttribute("data-busy-label");
      form.setAttribute("aria-busy", "true");
    });
  }

  function ready() {
    document.querySelectorAll("[data-field-order]").forEach(setUp);
    document.querySelectorAll("[data-busy-form]").forEach(setUpBusy);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
