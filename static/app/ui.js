// Small progressive enhancements of the admin UI; every page works without them.
(function () {
  "use strict";

  // Preset search: hide tiles whose name, description and keywords do not contain every typed word
  // (the same rule as the server-side ?q= filter).
  function setUpFilter(input) {
    var container = document.querySelector(input.getAttribute("data-filter-target"));
    if (!container) return;
    var items = container.querySelectorAll("[data-filter-item]");
    var empty = document.querySelector("[data-filter-empty]");
    function apply() {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      items.forEach(function (item) {
        var text = item.getAttribute("data-search") || "";
        var match = words.every(function (word) { return text.indexOf(word) !== -1; });
        item.classList.toggle("d-none", !match);
        if (match) shown += 1;
      });
      if (empty) empty.classList.toggle("d-none", shown !== 0);
    }
    input.addEventListener("input", apply);
    apply();
  }

  // Placeholder picker: insert the button's placeholder at the cursor of the URL field, then fire
  // "input" so that the live preview (htmx) updates.
  function insertAtCursor(field, text) {
    var start = field.selectionStart == null ? field.value.length : field.selectionStart;
    var end = field.selectionEnd == null ? field.value.length : field.selectionEnd;
    field.value = field.value.slice(0, start) + text + field.value.slice(end);
    var cursor = start + text.length;
    field.focus();
    field.setSelectionRange(cursor, cursor);
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // Fields marked data-insert-target (a server request's headers and body) take the placeholder
  // when they were the last one focused and are still shown; otherwise it goes to data-insert-into.
  var lastTarget = null;
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-insert-target]")) lastTarget = event.target;
  });

  document.addEventListener("click", function (event) {
    var insert = event.target.closest("[data-insert]");
    if (insert) {
      var shown = lastTarget && document.body.contains(lastTarget) && lastTarget.offsetParent !== null;
      var field = shown ? lastTarget : document.querySelector(insert.getAttribute("data-insert-into"));
      if (field) insertAtCursor(field, insert.getAttribute("data-insert"));
      return;
    }
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var source = document.querySelector(copy.getAttribute("data-copy"));
      if (!source) return;
      source.select();
      var done = function () {
        var label = copy.textContent;
        copy.textContent = document.body.getAttribute("data-copied-label") || "Copied";
        setTimeout(function () { copy.textContent = label; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(source.value).then(done);
      } else if (document.execCommand("copy")) {
        done();
      }
    }
  });

  // Read-only fields to copy by hand (a key, a curl line): a click selects all of the text.
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) event.target.select();
  });

  // Forms with data-confirm ask before they post (revoke a key, delete a script).
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // The script dialog (issue 8, item 3): a link or button with data-script-dialog (its value, else
  // its href, is the form's URL) opens the frame's modal and htmx loads the form into it. Without
  // JavaScript, or with a modifier key (a new tab), the link opens the script page as before.
  var dialogLoading = null;
  var dialogOpener = null;
  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[data-script-dialog]");
    if (!opener || !window.htmx || !window.bootstrap) return;
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    var dialog = document.getElementById("script-dialog");
    var content = document.getElementById("script-dialog-content");
    var url = opener.getAttribute("data-script-dialog") || opener.getAttribute("href");
    if (!dialog || !content || !url) return;
    event.preventDefault();
    if (dialogLoading === null) dialogLoading = content.innerHTML;
    content.innerHTML = dialogLoading;
    dialogOpener = opener;
    window.bootstrap.Modal.getOrCreateInstance(dialog).show(opener);
    window.htmx.ajax("GET", url, { target: "#script-dialog-content", swap: "innerHTML" });
  });

  // A form loaded into the dialog: focus its first field (the name), or the first error.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (!event.detail || !event.detail.target || event.detail.target.id !== "script-dialog-content") return;
    var field = event.detail.target.querySelector("[aria-invalid=true]") ||
      event.detail.target.querySelector("input:not([type=hidden]), textarea, select");
    if (field) field.focus();
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-filter-target]").forEach(setUpFilter);
    // Bootstrap focuses the dialog itself once it is shown: move on to the form when it is there.
    var dialog = document.getElementById("script-dialog");
    if (dialog) {
      dialog.addEventListener("shown.bs.modal", function () {
        var field = dialog.querySelector("#script-dialog-form input:not([type=hidden]), #script-dialog-form textarea");
        if (field) field.focus();
      });
      // Closed (Cancel, Escape, the cross): focus goes back to the link or button that opened it.
      dialog.addEventListener("hidden.bs.modal", function () {
        if (dialogOpener && document.body.contains(dialogOpener)) dialogOpener.focus();
        dialogOpener = null;
      });
    }
  });
})();
