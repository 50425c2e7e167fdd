/* The agent's own work between calls: the dial pad, lead search and the
   customer card (call, call the other number, edit details), their
   callbacks (reschedule, cancel, the due-now alert) and "save and pause" in
   the wrap-up. It shares agent.js's connection (window.ccAgent). */
(function () {
  "use strict";

  var agent = window.ccAgent;
  if (!agent || !agent.send) return;
  var send = agent.send, socket = agent.socket;
  var L = JSON.parse(document.getElementById("cc-labels").textContent);
  var W = JSON.parse(document.getElementById("cc-work-labels").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var ws = $("ws");
  var fa = ws.dataset.locale === "fa";
  var work = { found: null, editing: null, callbacks: [] };
  agent.work = work;

  var fmt = agent.dom.fmt, el = agent.dom.el, clear = agent.dom.clear;
  function say(node, text, kind) { node.textContent = text || ""; node.className = "work-status " + (kind || ""); }
  // Built from its parts: Chromium's own "full" Persian pattern puts the
  // year first and the weekday last, which no Persian reader writes.
  function jalali(date) {
    var parts = {};
    new Intl.DateTimeFormat(fa ? "fa-IR-u-ca-persian" : "en-GB-u-ca-persian", {
      weekday: "long", day: "numeric", month: "long", year: "numeric",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23"
    }).formatToParts(date).forEach(function (p) { parts[p.type] = p.value; });
    return fmt(W.text.jalali_when, { weekday: parts.weekday, day: parts.day, month: parts.month,
      year: parts.year, time: parts.hour + ":" + parts.minute });
  }

  /* --- the panel is there when no call is on screen ------------------------------------ */
  function showWork() {
    $("work").hidden = !$("call").hidden || !$("preview").hidden;
    var pause = $("btn-dispose-pause");
    if (pause) pause.disabled = $("btn-dispose").disabled;
  }
  new MutationObserver(showWork).observe($("call"), { attributes: true, attributeFilter: ["hidden"] });
  new MutationObserver(showWork).observe($("preview"), { attributes: true, attributeFilter: ["hidden"] });
  new MutationObserver(showWork).observe($("btn-dispose"), { attributes: true, attributeFilter: ["disabled"] });
  showWork();

  function openTab(name) {
    document.querySelectorAll(".work-tab").forEach(function (tab) {
      tab.setAttribute("aria-selected", tab.dataset.tab === name ? "true" : "false");
    });
    document.querySelectorAll(".work-pane").forEach(function (pane) { pane.hidden = pane.dataset.pane !== name; });
    if (name === "callbacks") loadCallbacks();
    if (name === "dial") $("dial-number").focus();
    if (name === "search") $("search-query").focus();
  }
  document.querySelectorAll(".work-tab").forEach(function (tab) {
    tab.addEventListener("click", function () { openTab(tab.dataset.tab); });
  });

  /* --- dialing ---------------------------------------------------------------------- */
  function dialed(status, r) {
    work.dialStatus = status;
    if (r.ok) say(status, fmt(W.text.dialing, { name: r.name || "", number: r.phone_display }), "ok");
    else say(status, r.message || r.error, "error");
    return r;
  }
  document.querySelectorAll(".dialpad-key").forEach(function (key) {
    key.addEventListener("click", function () {
      var input = $("dial-number");
      input.value = key.dataset.key === "⌫" ? input.value.slice(0, -1) : input.value + key.dataset.key;
      input.focus();
    });
  });
  $("dial-form").addEventListener("submit", function (e) {
    e.preventDefault();
    $("btn-dial").disabled = true;
    send("manual_dial", { number: $("dial-number").value }).then(function (r) {
      $("btn-dial").disabled = false;
      dialed($("dial-status"), r);
      if (r.ok) $("dial-number").value = "";
    });
  });
  function dialCustomer(customerId, which, status) {
    return send("dial_customer", { customer_id: customerId, which: which }).then(function (r) { return dialed(status, r); });
  }

  /* --- lead search and the customer card ------------------------------------------- */
  $("search-form").addEventListener("submit", function (e) {
    e.preventDefault();
    send("lead_search", { query: $("search-query").value }).then(function (r) {
      var list = $("search-results");
      clear(list);
      $("found").hidden = true;
      if (!r.ok) { say($("search-status"), r.message || r.error, "error"); return; }
      say($("search-status"), r.results.length ? "" : W.text.no_results);
      r.results.forEach(function (row) {
        var item = el("li", "result");
        item.tabIndex = 0;
        item.dataset.customerId = row.customer_id;
        item.appendChild(el("strong", null, row.name));
        var phone = el("span", "ltr", row.phone_display);
        item.appendChild(phone);
        if (row.phone2_display) item.appendChild(el("span", "ltr muted", row.phone2_display));
        item.appendChild(el("span", "muted", row.campaign + W.text.separator + (W.lead_states[row.state] || row.state)));
        item.addEventListener("click", function () { openCustomer(row.customer_id); });
        item.addEventListener("keydown", function (k) { if (k.key === "Enter") openCustomer(row.customer_id); });
        list.appendChild(item);
      });
    });
  });
  function openCustomer(customerId) {
    send("customer_open", { customer_id: customerId }).then(function (r) {
      if (!r.ok) { say($("search-status"), r.message || r.error, "error"); return; }
      work.found = r;
      showFound();
      renderHistory($("found-history"), r.history);
    });
  }
  function showFound() {
    var d = work.found.details;
    $("found").hidden = false;
    $("found-name").textContent = [d.title, d.first_name, d.last_name].filter(Boolean).join(" ") || d.phone_display;
    $("found-company").textContent = work.found.customer.company || "";
    $("found-phone").textContent = d.phone_display;
    $("found-phone2").textContent = d.phone2_display ? fmt(W.text.other_number, { number: d.phone2_display }) : "";
    $("found-email").textContent = d.email;
    $("btn-found-call2").hidden = !d.phone2;
  }
  function renderHistory(box, h) {
    clear(box);
    (h.calls || []).slice(0, 10).forEach(function (call) {
      var item = el("div", "h-item");
      item.appendChild(el("span", "muted", call.when + W.text.separator + call.campaign + W.text.separator));
      item.appendChild(el("span", null, call.disposition_label || L.dispositions[call.disposition] || L.outcomes[call.outcome] || call.outcome));
      box.appendChild(item);
    });
    if (!h.calls || !h.calls.length) box.appendChild(el("p", "muted", L.text.no_history));
  }
  $("btn-found-call").addEventListener("click", function () {
    dialCustomer(work.found.details.id, "first", $("search-status"));
  });
  $("btn-found-call2").addEventListener("click", function () {
    dialCustomer(work.found.details.id, "second", $("search-status"));
  });
  $("btn-found-edit").addEventListener("click", function () { editCustomer(work.found.details.id); });

  /* --- editing a customer (from the card, or the call's customer panel) ------------- */
  var FIELDS = ["title", "first_name", "last_name", "email", "phone2"];
  function editCustomer(customerId) {
    send("customer_open", { customer_id: customerId }).then(function (r) {
      if (!r.ok) return;
      work.editing = r.details;
      FIELDS.forEach(function (f) { $("ce-" + f).value = r.details[f] || ""; $("ce-" + f).removeAttribute("aria-invalid"); });
      $("ce-error").hidden = true;
      $("customer-edit").showModal();
      $("ce-first_name").focus();
    });
  }
  $("customer-edit-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var changes = {};
    FIELDS.forEach(function (f) { changes[f] = $("ce-" + f).value; });
    send("customer_update", { customer_id: work.editing.id, changes: changes }).then(function (r) {
      if (!r.ok) {
        $("ce-error").textContent = r.message || r.error;
        $("ce-error").hidden = false;
        var field = r.details && r.details.field;
        if (field && $("ce-" + field)) { $("ce-" + field).setAttribute("aria-invalid", "true"); $("ce-" + field).focus(); }
        return;
      }
      $("customer-edit").close();
      if (work.found && work.found.details.id === r.details.id) { work.found.details = r.details; showFound(); }
      var call = agent.state.call;
      // The call on screen redrawn from the server: the script reads the new name.
      if (call && call.customer.id === r.details.id) {
        send("resume").then(function (view) { if (view.ok) agent.applyView(view); });
      }
    });
  });
  $("btn-ce-cancel").addEventListener("click", function () { $("customer-edit").close(); });
  var onCallEdit = el("button", "btn link cust-edit-btn", W.text.edit);
  onCallEdit.type = "button";
  onCallEdit.id = "btn-call-edit";
  onCallEdit.addEventListener("click", function () { if (agent.state.call) editCustomer(agent.state.call.customer.id); });
  document.querySelector("#customer-panel .cust-head").appendChild(onCallEdit);

  /* --- my callbacks ------------------------------------------------------------------ */
  // A refresh (the tab opened, a callback falling due) of the same callbacks
  // updates their rows in place, so a new time being typed into one (and the
  // field's focus) stays; a changed list is drawn again, keeping typed times.
  function loadCallbacks() {
    return send("callbacks_mine").then(function (r) { if (r.ok) renderCallbacks(r.callbacks, true); });
  }
  function typedTimes() {
    var typed = {};
    $("callbacks-list").querySelectorAll("li[data-callback-id]").forEach(function (row) {
      var value = row.querySelector(".cb-new-time").value;
      if (value) typed[row.dataset.callbackId] = value;
    });
    return typed;
  }
  function renderCallbacks(items, keepTyped) {
    work.callbacks = items;
    var list = $("callbacks-list");
    list.dataset.drawn = String(Number(list.dataset.drawn || 0) + 1);
    say($("callbacks-status"), items.length ? "" : W.text.no_callbacks);
    var due = items.filter(function (c) { return c.is_due; }).length;
    $("callbacks-due-count").hidden = !due;
    $("callbacks-due-count").textContent = fa ? String(due).replace(/\d/g, function (d) { return "۰۱۲۳۴۵۶۷۸۹"[d]; }) : String(due);
    var rows = list.querySelectorAll("li[data-callback-id]");
    var same = keepTyped && rows.length === items.length && items.every(function (cb, i) {
      return rows[i].dataset.callbackId === String(cb.id);
    });
    if (same) {
      items.forEach(function (cb, i) { showCallback(rows[i], cb); });
      return;
    }
    var typed = keepTyped ? typedTimes() : {};
    clear(list);
    items.forEach(function (cb) {
      var row = callbackRow();
      row.dataset.callbackId = cb.id;
      showCallback(row, cb);
      if (typed[cb.id]) { row.querySelector(".cb-new-time").value = typed[cb.id]; row.showJalali(); }
      list.appendChild(row);
    });
  }
  function showCallback(row, cb) {
    row.callback = cb;
    row.classList.toggle("due", cb.is_due);
    row.querySelector(".cb-name").textContent = cb.name;
    row.querySelector(".cb-due-now").hidden = !cb.is_due;
    row.querySelector(".cb-due").textContent = cb.due;
    row.querySelector(".cb-campaign").textContent = cb.campaign;
    row.querySelector(".cb-phone").textContent = cb.phone_display;
  }
  function callbackRow() {
    var row = $("callback-row").content.firstElementChild.cloneNode(true);
    var input = row.querySelector(".cb-new-time");
    row.showJalali = function () {
      var d = input.value ? new Date(input.value) : null;
      row.querySelector(".cb-new-jalali").textContent = d && !isNaN(d) ? fmt(W.text.jalali, { date: jalali(d) }) : "";
    };
    input.addEventListener("input", row.showJalali);
    row.querySelector(".cb-call").addEventListener("click", function () {
      send("dial_callback", { callback_id: row.callback.id }).then(function (r) { dialed($("callbacks-status"), r); });
    });
    row.querySelector(".cb-reschedule").addEventListener("click", function () {
      var d = input.value ? new Date(input.value) : null;
      send("callback_reschedule", { callback_id: row.callback.id, due_at: d && !isNaN(d) ? d.toISOString() : "" }).then(function (r) {
        if (!r.ok) { say($("callbacks-status"), r.message || r.error, "error"); return; }
        renderCallbacks(r.callbacks);
        say($("callbacks-status"), W.text.rescheduled, "ok");
      });
    });
    row.querySelector(".cb-cancel").addEventListener("click", function () {
      if (!window.confirm(fmt(W.text.confirm_cancel, { name: row.callback.name }))) return;
      send("callback_cancel", { callback_id: row.callback.id }).then(function (r) {
        if (!r.ok) { say($("callbacks-status"), r.message || r.error, "error"); return; }
        renderCallbacks(r.callbacks);
        say($("callbacks-status"), W.text.cancelled, "ok");
      });
    });
    return row;
  }
  socket.on("callback_due", function (data) {
    agent.events.push(["callback_due", data]);
    $("callback-due-text").textContent = fmt(W.text.callback_due, { name: data.name, campaign: data.campaign });
    $("callback-due-alert").hidden = false;
    loadCallbacks();
  });
  $("btn-callback-due-show").addEventListener("click", function () {
    $("callback-due-alert").hidden = true;
    openTab("callbacks");
  });
  $("btn-callback-due-close").addEventListener("click", function () { $("callback-due-alert").hidden = true; });
  socket.on("connect", loadCallbacks);
  if (socket.connected) loadCallbacks();  // connected before this script ran
  socket.on("call_ended", function () {
    if (work.dialStatus && !agent.state.call) say(work.dialStatus, L.text.no_answer_preview, "error");
  });

  /* --- save and pause ------------------------------------------------------------------ */
  // One event: the server sets the disposition and the pause together, so a
  // refused disposition (or a connection lost) leaves no pause waiting. A
  // pause pressed on the call (F3) still waits for the wrap-up's end: said here.
  // agent.js's state, not the push: it drops a push older than what it shows.
  function showPausePending() {
    var pending = $("pause-pending");
    var shown = agent.state.agent;
    if (pending) pending.hidden = !(shown && shown.pause_after_call && agent.state.call);
  }
  socket.on("agent.state_changed", showPausePending);
  var savePause = $("btn-dispose-pause");
  if (savePause) {
    savePause.addEventListener("click", function () {
      if ($("btn-dispose").disabled) return;
      agent.dispose({ reason: $("pause-reason").value });
    });
  }
})();
