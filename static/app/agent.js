// The agent's live page: a WebSocket to /ws/agent/ brings today's calls on connect ("snapshot")
// and each call's card as it changes ("call"). Cards are built with DOM methods (textContent),
// never from HTML strings: names and fields come from CRMs. No inline script (CSP script-src 'self').
(function () {
  "use strict";

  var root = document.getElementById("agent-page");
  if (!root) return;
  var list = document.getElementById("calls");
  var empty = document.getElementById("calls-empty");
  var statusBadge = document.getElementById("agent-status");
  var offlineAlert = document.getElementById("agent-offline");
  var popupAlert = document.getElementById("popup-blocked");
  var notifyButton = document.getElementById("notify-enable");
  var baseTitle = document.title;

  var me = null; // {id, name}
  var calls = {}; // id -> card JSON
  var expanded = {}; // id -> true when the agent opened the card
  var socket = null;
  var retryDelay = 1000;
  var retryTimer = null;
  var everConnected = false;

  // The words on the cards come from the page in the agent's language (json_script "agent-texts");
  // t(key, fallback, params) fills in %(name)s parts.
  var TEXTS = {};
  try { TEXTS = JSON.parse((document.getElementById("agent-texts") || {}).textContent || "{}"); } catch (e) { TEXTS = {}; }
  function t(key, fallback, params) {
    var text = TEXTS[key] || fallback;
    Object.keys(params || {}).forEach(function (name) { text = text.split("%(" + name + ")s").join(String(params[name])); });
    return text;
  }
  var STATE_TEXT = {
    ringing: t("ringing", "Ringing"), answered: t("answered", "Answered"), ended: t("ended", "Ended"), missed: t("missed", "Missed"),
  };
  var STATE_CLASS = { ringing: "text-bg-primary", answered: "text-bg-success", ended: "text-bg-secondary", missed: "text-bg-danger" };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function time(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function callerLabel(call) {
    if (call.caller_name) return call.caller_name;
    if (call.anonymous || !call.caller_number) return t("withheld", "Withheld number");
    return call.caller_number;
  }

  function stateText(call) {
    if (!call.follows_state) return t("incoming", "Incoming call");
    var text = STATE_TEXT[call.state] || call.state;
    var by = call.answered_by;
    if (by && (call.state === "answered" || call.state === "ended")) {
      text = me && by.id === me.id
        ? t("by_you", "%(state)s by you", { state: text })
        : t("by_name", "%(state)s by %(name)s", { state: text, name: by.name });
    }
    return text;
  }

  function linkButton(action, className) {
    var a = el("a", className, action.name);
    a.href = action.url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  function actionsRow(actions) {
    var row = el("div", "d-flex flex-wrap gap-2 mt-2");
    actions.forEach(function (action) {
      if (!action.url) return; // the server dropped a link of a scheme that could run script
      row.appendChild(linkButton(action, "btn btn-sm " + (action.auto_open ? "btn-primary" : "btn-outline-primary")));
    });
    return row;
  }

  function renderBody(call) {
    var body = el("div", "card-body pt-2");
    var number = el("p", "small text-body-secondary mb-2");
    number.textContent = (call.anonymous ? t("withheld", "Withheld number") : call.caller_number || t("no_number", "No number")) +
      (call.called_number ? " → " + call.called_number : "");
    body.appendChild(number);
    call.matches.forEach(function (match) {
      var box = el("section", "call-match border rounded p-2 mb-2");
      var head = el("div", "d-flex flex-wrap align-items-baseline gap-2");
      head.appendChild(el("h3", "h6 mb-0", match.title || t("no_name", "(no name)")));
      head.appendChild(el("span", "small text-body-secondary", match.integration));
      if (match.other_records) head.appendChild(el("span", "badge text-bg-light border", t("more", "+%(count)s more", { count: match.other_records })));
      box.appendChild(head);
      if (match.fields.length) {
        var dl = el("dl", "row small mb-0 mt-1");
        match.fields.forEach(function (field) {
          dl.appendChild(el("dt", "col-sm-4 col-lg-3 fw-normal text-body-secondary", field.label));
          dl.appendChild(el("dd", "col-sm-8 col-lg-9 mb-0", field.value));
        });
        box.appendChild(dl);
      }
      var actions = match.actions.slice();
      if (match.record_url && !actions.some(function (a) { return a.url === match.record_url; })) {
        actions.unshift({ name: t("open_record", "Open record"), url: match.record_url, auto_open: false });
      }
      if (actions.length) box.appendChild(actionsRow(actions));
      body.appendChild(box);
    });
    call.choose.forEach(function (entry) {
      var box = el("section", "call-match border rounded p-2 mb-2");
      box.appendChild(el("h3", "h6", t("choose", "Choose the record in %(integration)s", { integration: entry.integration })));
      box.appendChild(actionsRow(entry.choices.map(function (c) { return { name: c.title, url: c.url, auto_open: false }; })));
      body.appendChild(box);
    });
    if (!call.matches.length && !call.choose.length) {
      body.appendChild(el("p", "mb-1", t("no_record", "No CRM record has this number.")));
    }
    if (call.actions.length) body.appendChild(actionsRow(call.actions));
    if (call.state === "missed") {
      var callback = el("div", "d-flex flex-wrap align-items-center gap-2 mt-3 call-callback");
      if (call.called_back) {
        var who = call.called_back.by ? (me && call.called_back.by.id === me.id ? t("you", "you") : call.called_back.by.name) : t("colleague", "a colleague");
        callback.appendChild(el("span", "small text-success", t("called_back_by", "Called back by %(who)s at %(time)s", { who: who, time: time(call.called_back.at) })));
      } else {
        if (call.callback_url) {
          var tel = el("a", "btn btn-sm btn-danger", t("call_back", "Call back %(number)s", { number: call.caller_e164 }));
          tel.href = call.callback_url;
          tel.setAttribute("data-callback", call.id);
          callback.appendChild(tel);
        }
        var done = el("button", "btn btn-sm btn-outline-secondary", t("called_back", "Called back"));
        done.type = "button";
        done.setAttribute("data-called-back", call.id);
        callback.appendChild(done);
      }
      body.appendChild(callback);
    }
    return body;
  }

  function renderCard(call) {
    var card = el("article", "card call-card");
    card.id = "call-" + call.id;
    card.tabIndex = -1;
    card.setAttribute("data-state", call.follows_state ? call.state : "incoming");
    if (call.state === "missed" && !call.called_back) card.classList.add("call-missed-open");
    var header = el("div", "card-header d-flex flex-wrap align-items-center gap-2");
    var badgeClass = call.follows_state ? STATE_CLASS[call.state] || "text-bg-secondary" : "text-bg-info";
    header.appendChild(el("span", "badge " + badgeClass, stateText(call)));
    header.setAttribute("data-testid", "call-state");
    header.appendChild(el("strong", "call-caller text-truncate", callerLabel(call)));
    header.appendChild(el("span", "small text-body-secondary ms-auto", time(call.started_at)));
    var toggle = el("button", "btn btn-link btn-sm p-0", expanded[call.id] ? t("hide", "Hide") : t("show", "Show"));
    toggle.type = "button";
    toggle.setAttribute("data-toggle-call", call.id);
    toggle.setAttribute("aria-expanded", expanded[call.id] ? "true" : "false");
    header.appendChild(toggle);
    card.appendChild(header);
    if (expanded[call.id]) card.appendChild(renderBody(call));
    return card;
  }

  function ordered() {
    return Object.keys(calls).map(function (id) { return calls[id]; }).sort(function (a, b) {
      return a.started_at < b.started_at ? 1 : a.started_at > b.started_at ? -1 : b.id - a.id;
    });
  }

  function redraw() {
    var focused = document.activeElement && document.activeElement.closest ? document.activeElement.closest(".call-card") : null;
    var focusedId = focused ? focused.id : null;
    var cards = ordered().map(renderCard);
    list.replaceChildren.apply(list, cards);
    empty.classList.toggle("d-none", cards.length > 0);
    if (focusedId && document.getElementById(focusedId)) document.getElementById(focusedId).focus();
    var ringing = ordered().filter(function (c) { return c.state === "ringing" && c.follows_state; });
    document.title = ringing.length ? "(" + ringing.length + ") " + callerLabel(ringing[0]) + " · " + baseTitle : baseTitle;
  }

  function focusCard(id) {
    expanded[id] = true;
    redraw();
    var card = document.getElementById("call-" + id);
    if (card) {
      card.scrollIntoView({ block: "center" });
      card.focus();
    }
  }

  function autoOpen(call) {
    var blocked = [];
    var actions = call.actions.slice();
    call.matches.forEach(function (m) { actions = actions.concat(m.actions); });
    actions.filter(function (a) { return a.auto_open; }).forEach(function (action) {
      var opened = null;
      try { opened = window.open(action.url, "_blank"); } catch (e) { opened = null; }
      if (opened) {
        try { opened.opener = null; } catch (e) { /* another origin */ }
      } else {
        blocked.push(action.name);
      }
    });
    if (blocked.length) {
      popupAlert.querySelector("[data-name]").textContent = blocked.join(", ");
      popupAlert.classList.remove("d-none");
    }
  }

  function notify(call) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    if (document.visibilityState === "visible" && document.hasFocus()) return;
    var lines = [call.anonymous ? t("withheld", "Withheld number") : call.caller_number];
    if (call.matches.length && call.matches[0].fields.length) {
      lines.push(call.matches[0].fields.map(function (f) { return f.value; }).join(" · "));
    }
    try {
      var note = new Notification(t("notification", "Call: %(caller)s", { caller: callerLabel(call) }), { body: lines.join("\n"), tag: "call-" + call.id });
      note.onclick = function () {
        window.focus();
        focusCard(call.id);
        note.close();
      };
    } catch (e) { /* a browser that only allows notifications from a service worker */ }
  }

  function received(message) {
    if (message.type === "snapshot") {
      me = message.agent;
      calls = {};
      message.calls.forEach(function (call) { calls[call.id] = call; });
      var newest = ordered()[0];
      if (newest && Object.keys(expanded).length === 0) expanded[newest.id] = true;
      redraw();
    } else if (message.type === "call") {
      var call = message.call;
      var isNew = !calls[call.id];
      calls[call.id] = call;
      if (isNew && call.state === "ringing") {
        Object.keys(expanded).forEach(function (id) { if (calls[id] && calls[id].state !== "ringing") delete expanded[id]; });
        expanded[call.id] = true;
      }
      if (call.state === "missed" && !call.called_back) expanded[call.id] = true;
      redraw();
      if (isNew && call.state === "ringing") {
        autoOpen(call);
        notify(call);
      }
    }
  }

  function setStatus(state, text) {
    statusBadge.textContent = text;
    statusBadge.setAttribute("data-state", state);
    statusBadge.className = "badge " + (state === "live" ? "text-bg-success" : state === "offline" ? "text-bg-danger" : "text-bg-secondary");
    offlineAlert.classList.toggle("d-none", state !== "offline");
  }

  function scheduleReconnect() {
    if (retryTimer) return;
    var delay = retryDelay;
    retryDelay = Math.min(retryDelay * 2, 15000);
    offlineAlert.querySelector("[data-retry]").textContent = t("next_try", " (next try in %(seconds)s s)", { seconds: Math.round(delay / 1000) });
    setStatus("offline", t("offline", "Offline"));
    retryTimer = window.setTimeout(function () {
      retryTimer = null;
      // The browser knows it has no network: wait for its "online" event (or the next try).
      if (!navigator.onLine) return scheduleReconnect();
      checkSignedInThenConnect();
    }, delay);
  }

  // A refused handshake looks like a network error: ask the page itself whether the session is
  // still valid, and reload (to the sign-in page) when it is not.
  function checkSignedInThenConnect() {
    if (!everConnected || !navigator.onLine) return connect();
    fetch(window.location.href, { method: "HEAD", redirect: "manual", credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status === 403) window.location.reload();
        else connect();
      })
      .catch(function () { connect(); });
  }

  function connect() {
    if (socket && (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    setStatus("connecting", everConnected ? t("reconnecting", "Reconnecting…") : t("connecting", "Connecting…"));
    socket = new WebSocket(scheme + window.location.host + root.getAttribute("data-ws-path"));
    socket.onopen = function () {
      everConnected = true;
      retryDelay = 1000;
      setStatus("live", t("live", "Live"));
    };
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      received(message);
    };
    socket.onclose = function (event) {
      socket = null;
      if (event.code === 4401) {
        window.location.reload();
        return;
      }
      scheduleReconnect();
    };
  }

  function sendCalledBack(id) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "called_back", id: Number(id) }));
    }
  }

  list.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-toggle-call]");
    if (toggle) {
      var id = toggle.getAttribute("data-toggle-call");
      if (expanded[id]) delete expanded[id]; else expanded[id] = true;
      redraw();
      return;
    }
    var done = event.target.closest("[data-called-back]");
    if (done) {
      sendCalledBack(done.getAttribute("data-called-back"));
      return;
    }
    var tel = event.target.closest("[data-callback]");
    if (tel) sendCalledBack(tel.getAttribute("data-callback")); // the tel: link itself still opens
  });

  if ("Notification" in window && Notification.permission === "default") {
    notifyButton.classList.remove("d-none");
    notifyButton.addEventListener("click", function () {
      Notification.requestPermission().then(function () { notifyButton.classList.add("d-none"); });
    });
  }

  window.addEventListener("online", function () {
    if (retryTimer) { window.clearTimeout(retryTimer); retryTimer = null; }
    retryDelay = 1000;
    connect();
  });
  window.addEventListener("offline", function () {
    if (socket) socket.close();
  });

  connect();
})();
