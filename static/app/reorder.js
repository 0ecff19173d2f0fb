// Match order on the home page: drag a row to reorder the integrations. The up/down buttons
// next to each row do the same without JavaScript (and with the keyboard); this only adds drag.
(function () {
  "use strict";

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function setUp(list) {
    var status = document.querySelector("[data-order-status]");
    var dragged = null;
    var before = "";

    function ids() {
      return Array.prototype.map.call(list.querySelectorAll("[data-order-id]"), function (row) {
        return row.getAttribute("data-order-id");
      });
    }

    function refreshButtons() {
      var rows = list.querySelectorAll("[data-order-id]");
      rows.forEach(function (row, index) {
        var up = row.querySelector("button[value=up]");
        var down = row.querySelector("button[value=down]");
        if (up) up.disabled = index === 0;
        if (down) down.disabled = index === rows.length - 1;
      });
    }

    // The sidebar lists the integrations in match order too: follow the new order.
    function reorderSidebar(order) {
      var sidebar = document.getElementById("sidebar-integrations");
      if (!sidebar) return;
      order.forEach(function (id) {
        var link = sidebar.querySelector('a[href$="/integrations/' + id + '/"]');
        if (link) sidebar.appendChild(link);
      });
    }

    function save() {
      var order = ids().join(",");
      if (order === before) return;
      if (status) status.textContent = list.getAttribute("data-saving-label") || "Saving…";
      fetch(list.getAttribute("data-reorder-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": csrfToken() },
        body: "order=" + encodeURIComponent(order),
      })
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          before = order;
          if (status) status.textContent = list.getAttribute("data-saved-label") || "Order saved.";
          refreshButtons();
          reorderSidebar(order.split(","));
        })
        .catch(function () {
          if (status) {
            status.textContent =
              list.getAttribute("data-failed-label") || "The order could not be saved; reload the page.";
          }
        });
    }

    list.addEventListener("dragstart", function (event) {
      dragged = event.target.closest("[data-order-id]");
      if (!dragged) return;
      before = ids().join(",");
      dragged.classList.add("opacity-50");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", dragged.getAttribute("data-order-id"));
    });
    list.addEventListener("dragover", function (event) {
      var target = event.target.closest("[data-order-id]");
      if (!dragged || !target || target === dragged) {
        if (dragged) event.preventDefault();
        return;
      }
      event.preventDefault();
      var box = target.getBoundingClientRect();
      var after = event.clientY > box.top + box.height / 2;
      list.insertBefore(dragged, after ? target.nextSibling : target);
    });
    list.addEventListener("drop", function (event) {
      if (dragged) event.preventDefault();
    });
    list.addEventListener("dragend", function () {
      if (!dragged) return;
      dragged.classList.remove("opacity-50");
      dragged = null;
      save();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var list = document.querySelector("[data-reorder-url]");
    if (list) setUp(list);
  });
})();
