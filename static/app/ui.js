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

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-filter-target]").forEach(setUpFilter);
  });
})();
