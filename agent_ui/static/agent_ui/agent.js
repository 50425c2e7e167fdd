/* The agent workstation: one Socket.IO connection, the server decides what is
   on screen (resume on every connect), every action is an acknowledged event. */
(function () {
  "use strict";

  var L = JSON.parse(document.getElementById("cc-labels").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var ws = $("ws");
  // Between items on one line; a middle dot beside Persian digits reads as a zero (۰).
  var SEP = ws.dataset.locale === "fa" ? " – " : " · ";
  var state = { agent: null, call: null, preview: null, slots: [], chosenSlot: null,
                wrapDeadline: null, draftTimer: null, stateSince: null };
  // Read by the browser tests and the screen-pop benchmark.
  window.ccAgent = { pops: [], events: [], state: state };

  function fmt(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (_, k) { return values[k] !== undefined ? values[k] : ""; });
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function show(node, visible) { node.hidden = !visible; }
  function toast(text, kind) {
    var box = $("toast");
    box.textContent = text; box.className = "toast " + (kind || ""); box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { box.hidden = true; }, 4000);
  }
  function digits(text) {
    if (ws.dataset.locale !== "fa") return String(text);
    return String(text).replace(/\d/g, function (d) { return "۰۱۲۳۴۵۶۷۸۹"[d]; });
  }

  // WebSocket only: each connection stays on the one worker that accepted it,
  // so any worker can take a reconnect with no sticky proxy (long-polling
  // would spread one session's requests over several workers).
  var socket = io({ transports: ["websocket"] });
  window.ccWatchLogin(socket);

  function send(name, data) {
    return new Promise(function (resolve) {
      socket.timeout(10000).emit(name, data || {}, function (err, reply) {
        if (err) { toast(L.text.offline, "error"); resolve({ ok: false }); return; }
        if (reply && reply.error === "not-logged-in") window.ccLoginEnded();
        if (reply && reply.ok === false) toast(reply.message || reply.error, "error");
        resolve(reply || { ok: false });
      });
    });
  }
  // The agent's own work (work.js) shares this connection.
  window.ccAgent.socket = socket; window.ccAgent.send = send; window.ccAgent.applyView = applyView;
  window.ccAgent.dom = { fmt: fmt, el: el, clear: clear };

  /* --- connection and resume -------------------------------------------------------- */
  socket.on("connect", function () {
    $("conn").className = "conn on"; $("conn").title = L.text.connected;
    send("resume").then(function (view) { if (view.ok) applyView(view); });
  });
  socket.on("disconnect", function () { $("conn").className = "conn off"; $("conn").title = L.text.offline; });

  // A reconnect is not a page load: the server's view replaces ours, but the
  // same call keeps what the agent picked and has not sent yet. A view older
  // than what the screen shows (its reply came after a newer push: the call
  // popped meanwhile) is dropped whole: its call and preview are as old.
  function applyView(view) {
    if (!setAgent(view.agent)) return;
    if (view.call && state.call && state.call.call.id === view.call.call.id) {
      keepingChoices(function () { renderPop(view.call); });
    } else if (view.call) {
      renderPop(view.call);
    } else if (state.call) {
      closeCall(state.call.call.id);
    }
    if (view.preview) renderPreview(view.preview); else state.preview = null;
    showMonitoring(view.monitoring || null);
    layout();
  }

  /* --- a supervisor on the call (listen is hidden where the campaign says so) -------- */
  function showMonitoring(view) {
    var shown = Boolean(view && L.monitoring[view.mode]);
    if (shown) $("monitor-notice-text").textContent = fmt(L.monitoring[view.mode], { name: view.supervisor });
    $("monitor-notice").dataset.mode = shown ? view.mode : "";
    show($("monitor-notice"), shown);
  }
  socket.on("monitoring", function (data) {
    window.ccAgent.events.push(["monitoring", data]);
    showMonitoring(data.view);
  });

  function keepingChoices(render) {
    var code = selectedDisposition(), slot = state.chosenSlot, reason = $("reject-reason").value;
    render();
    document.querySelectorAll('input[name="dispo"]').forEach(function (r) { r.checked = r.value === code && !r.disabled; });
    if (code) syncDisposition();
    var option = Array.prototype.find.call($("reject-reason").options, function (o) { return o.value === reason; });
    if (option) { $("reject-reason").value = reason; syncRejectText(); }
    if (slot && !state.call.booking.appointment) {
      var button = Array.prototype.find.call(document.querySelectorAll(".slot"), function (b) { return b.dataset.start === slot; });
      if (button) chooseSlot(slot, button);
    }
  }

  function closeCall(callId) {
    clearTimeout(state.draftTimer);
    localStorage.removeItem("cc-notes-" + callId);
    localStorage.removeItem("cc-dispo-" + callId);
    state.call = null;
    state.wrapDeadline = null;
    ws.classList.remove("wrapping");
    show($("reject-box"), false);
  }

  /* --- agent state ------------------------------------------------------------------ */
  // A reply says the state as of its request and may come after a newer push
  // (the dialer calling the phone just after Ready); pushes from two processes
  // may cross too. Every state payload carries the server's version of the
  // agent's state, which only goes up: the screen never takes an older one.
  // (A payload with no version, from a server not yet updated, is taken as before.)
  function isCurrent(agent) {
    return !state.agent || !(agent.version < state.agent.version);
  }
  function act(name, data) {
    return send(name, data).then(function (r) {
      if (r.ok && r.agent && setAgent(r.agent)) layout();
      return r;
    });
  }

  socket.on("agent.state_changed", function (data) {
    if (!setAgent(data)) return;
    if (data.state !== "reserved") state.preview = null;
    layout();
  });

  // Ready counts once the phone answers: until then the badge says the phone is being called.
  function waitingForPhone(agent) {
    return agent.state === "ready" && agent.phone_leg !== "up";
  }

  // False (and nothing changes) for a state older than the one on screen.
  function setAgent(agent) {
    if (!isCurrent(agent)) return false;
    state.agent = agent;
    state.stateSince = agent.since ? Date.parse(agent.since) : Date.now();
    var badge = $("agent-state");
    badge.dataset.state = agent.state;
    badge.dataset.phone = agent.phone_leg || "";
    var label = L.states[agent.state] || agent.state;
    if (waitingForPhone(agent)) label = L.phone[agent.phone_leg === "calling" ? "calling" : "down"];
    if (agent.state === "paused" && agent.pause_reason === "phone_lost") {
      label += SEP + L.phone.lost_reason;
    } else if (agent.state === "paused" && agent.pause_reason) {
      var option = Array.prototype.find.call($("pause-reason").options, function (o) { return o.value === agent.pause_reason; });
      if (option) label += SEP + option.textContent;
    }
    badge.textContent = label;
    ws.dataset.state = agent.state;
    if (agent.campaign_id) $("campaign").value = String(agent.campaign_id);
    var campaignOption = $("campaign").selectedOptions[0];
    showCampaignNotice(agent, campaignOption ? campaignOption.textContent : "");
    showPhoneAlert(agent);
    return true;
  }

  // The dialer says why the phone was lost in English: matched here to its
  // translated text (callcenter/dialer_reasons.py); a SIP phrase stays as sent.
  var LOST = L.phone_lost_reasons.map(function (pair) { return [new RegExp("^(?:" + pair[0] + ")$"), pair[1]]; });
  function lostReason(text) {
    for (var i = 0; i < LOST.length; i++) {
      var match = LOST[i][0].exec(text);
      if (!match) continue;
      return LOST[i][1].replace(/%\((\w+)\)s/g, function (_, name) {
        var value = match.groups[name];
        return name === "reason" ? lostReason(value) : value;
      });
    }
    return text;
  }

  function showPhoneAlert(agent) {
    var lost = agent.phone_leg === "lost" && agent.state !== "logged_out";
    show($("phone-alert"), lost);
    if (!lost) return;
    var duringCall = agent.state === "on_call" || agent.state === "wrap_up";
    var reason = agent.phone_leg_detail ? lostReason(agent.phone_leg_detail) : L.phone.lost_reason;
    $("phone-alert-text").textContent = fmt(duringCall ? L.phone.lost_on_call : L.phone.lost_text, { reason: reason });
    show($("btn-phone-retry"), !duringCall);
  }

  setInterval(function () {
    if (!state.agent) return;
    var s = Math.max(0, Math.floor((Date.now() - state.stateSince) / 1000));
    var text = String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
    var limit = state.agent.pause_limit_minutes;
    $("state-timer").textContent = digits(text);
    $("state-timer").classList.toggle("over", !!limit && s > limit * 60);
    tickWrapUp();
  }, 500);

  function layout() {
    var onCall = !!state.call;
    show($("call"), onCall);
    show($("preview"), !onCall && !!state.preview);
    show($("idle"), !onCall && !state.preview);
    var idle = $("idle-text");
    if (idle) idle.textContent = idleText(state.agent, idle);
  }

  function idleText(agent, idle) {
    if (!agent || agent.state !== "ready") return idle.dataset.other;
    if (agent.phone_leg === "up") return idle.dataset.ready;
    return agent.phone_leg === "calling" ? L.phone.calling_text : L.phone.down_text;
  }

  // The browser phone (phone.js) or a desk phone / extension typed in.
  var phone = window.ccWebPhone;
  function browserPhoneChosen() {
    var chosen = document.querySelector('input[name="phone_kind"]:checked');
    return !!phone && !!chosen && chosen.value === "browser";
  }
  function showPhoneKind() {
    var browser = browserPhoneChosen();
    show($("phone-field"), !browser);
    if (!phone) return;
    if (browser) phone.start(); else phone.stop();
    readyAllowed();
  }
  // Ready is offered only once the browser phone can take the dialer's leg.
  function readyAllowed() {
    var blocked = browserPhoneChosen() && !phone.isReady();
    $("btn-ready").disabled = blocked;
    $("btn-ready").title = blocked ? L.webphone.not_ready : "";
  }
  if (phone) phone.onChange(readyAllowed);
  document.querySelectorAll('input[name="phone_kind"]').forEach(function (radio) {
    radio.addEventListener("change", function () { formChanged = true; showPhoneKind(); });
  });

  // A refused phone address is said next to the field as well as in the toast.
  var formChanged = false;
  $("join-form").addEventListener("input", function () { formChanged = true; });
  function join() {
    var address = browserPhoneChosen() ? "browser" : $("phone").value;
    return act("join_campaign", { campaign_id: $("campaign").value, phone: address })
      .then(function (r) {
        var field = r.details && r.details.field === "phone";
        $("phone-error").textContent = field ? r.message : "";
        show($("phone-error"), field);
        $("phone").setAttribute("aria-invalid", field ? "true" : "false");
        if (r.ok) formChanged = false;
        return r;
      });
  }
  $("join-form").addEventListener("submit", function (e) {
    e.preventDefault();
    join().then(function (r) { if (r.ok) toast(L.text.saved); });
  });
  function goReady() {
    if (browserPhoneChosen() && !phone.isReady()) { toast(L.webphone.not_ready, "error"); return; }
    var joined = state.agent && state.agent.campaign_id && !formChanged ? Promise.resolve({ ok: true }) : join();
    joined.then(function (r) {
      if (!r.ok) return;
      act("go_ready");
    });
  }
  showPhoneKind();
  function pause() {
    act("pause", { reason: $("pause-reason").value });
  }
  function leaveQueue() {
    act("agent_logout");
  }
  $("btn-ready").addEventListener("click", goReady);
  $("btn-phone-retry").addEventListener("click", goReady);
  $("btn-pause").addEventListener("click", pause);
  $("btn-agent-logout").addEventListener("click", leaveQueue);

  /* --- screen pop ------------------------------------------------------------------- */
  socket.on("screen_pop", function (pop) {
    renderPop(pop);
    layout();
    var id = pop.call.id;
    requestAnimationFrame(function () {
      setTimeout(function () { window.ccAgent.pops.push({ call_id: id, drawn_at: performance.timeOrigin + performance.now() }); }, 0);
    });
  });

  function renderPop(pop) {
    var another = !state.call || state.call.call.id !== pop.call.id;
    if (another) forgetLastCall();
    state.call = pop;
    state.preview = null;
    state.chosenSlot = null;
    var c = pop.customer;
    $("cust-name").textContent = c.name;
    $("cust-company").textContent = c.company || "";
    $("cust-phone").textContent = pop.call.phone_display;
    $("cust-email").textContent = c.email || "";
    $("cust-campaign").textContent = pop.call.campaign;
    renderFields($("lead-fields"), pop.lead.fields);
    renderHistory($("history"), pop.history);
    $("script-title").textContent = pop.script.title;
    $("script-panel").setAttribute("dir", pop.script.dir);
    renderStepsNav();
    renderStep();
    renderBooking(pop.booking);
    var local = localStorage.getItem("cc-notes-" + pop.call.id);
    $("notes").value = local !== null && local.length >= (pop.notes || "").length ? local : (pop.notes || "");
    showCampaignDispositions();
    var chosen = localStorage.getItem("cc-dispo-" + pop.call.id);
    document.querySelectorAll('input[name="dispo"]').forEach(function (r) { r.checked = r.value === chosen && !r.disabled; });
    if (chosen) syncDisposition();
    $("dispo-status").textContent = "";
    showRejection(pop.rejection);
    updateCallPhase();
  }

  // What the last call left on screen is not the next call's.
  function forgetLastCall() {
    $("notes-saved").textContent = "";
    $("callback-at").value = "";
    $("callback-jalali").textContent = "";
    show($("callback-box"), false);
    $("reject-text").value = "";
  }

  function renderFields(box, fields) {
    clear(box);
    (fields || []).forEach(function (pair) {
      box.appendChild(el("dt", null, pair[0]));
      box.appendChild(el("dd", null, pair[1]));
    });
  }

  function renderHistory(box, h) {
    clear(box);
    if (!h.calls.length && !h.appointments.length && !h.callbacks.length && !h.notes.length) {
      box.appendChild(el("p", "muted", L.text.no_history));
      return;
    }
    h.appointments.forEach(function (a) {
      var item = el("div", "h-item h-appt");
      item.appendChild(el("div", "h-when", a.when));
      var line = (L.kinds[a.kind] || a.kind) + SEP + (L.appointment_status[a.status] || a.status);
      if (a.place) line += SEP + a.place;
      item.appendChild(el("div", null, line));
      a.follow_ups.forEach(function (f) {
        item.appendChild(el("div", "muted", (L.kinds[f.kind] || f.kind) + ": " + (L.delivery[f.status] || f.status) + (f.sent ? SEP + f.sent : "")));
      });
      box.appendChild(item);
    });
    h.callbacks.forEach(function (cb) {
      var item = el("div", "h-item h-cb");
      item.appendChild(el("div", "h-when", cb.due));
      item.appendChild(el("div", null, L.dispositions.callback + SEP + (cb.for || L.text.for_anyone) + SEP + (L.callback_status[cb.status] || cb.status)));
      box.appendChild(item);
    });
    h.calls.forEach(function (call) {
      var item = el("div", "h-item");
      item.appendChild(el("div", "h-when", call.when + SEP + call.campaign));
      var line = (call.agent ? call.agent + SEP : "") + (L.outcomes[call.outcome] || call.outcome);
      if (call.disposition) line += SEP + (call.disposition_label || L.dispositions[call.disposition] || call.disposition);
      if (call.max_step) line += SEP + fmt(L.text.reached_step, { n: digits(call.max_step) });
      item.appendChild(el("div", null, line));
      if (call.rejection) {
        var reason = call.rejection.label + (call.rejection.reason_text ? " – " + call.rejection.reason_text : "");
        item.appendChild(el("div", "h-reject", fmt(L.text.rejected_at, { n: digits(call.rejection.step), reason: reason })));
      }
      call.notes.forEach(function (n) { item.appendChild(el("div", "h-note", n)); });
      if (call.recorded) {
        var listen = el("a", "h-listen", L.text.listen);
        listen.href = "/recordings/" + encodeURIComponent(call.id);
        listen.target = "_blank";
        item.appendChild(listen);
      }
      box.appendChild(item);
    });
    h.notes.forEach(function (n) {
      var item = el("div", "h-item");
      item.appendChild(el("div", "h-when", n.when + SEP + n.by));
      item.appendChild(el("div", "h-note", n.text));
      box.appendChild(item);
    });
  }

  /* --- script ----------------------------------------------------------------------- */
  function currentStep() {
    return state.call.script.steps[state.call.call.current_step - 1];
  }
  function renderStepsNav() {
    var nav = $("steps-nav");
    clear(nav);
    state.call.script.steps.forEach(function (step) {
      var b = el("button", "step-dot", digits(step.number));
      b.type = "button";
      b.title = step.title;
      b.dataset.step = step.number;
      b.addEventListener("click", function () { move("jump", step.number); });
      nav.appendChild(b);
    });
  }
  function renderStep() {
    var step = currentStep();
    var total = state.call.script.steps.length;
    $("step-counter").textContent = fmt(L.text.step, { n: digits(step.number), total: digits(total) });
    $("step-title").textContent = step.title;
    renderPrompt(step);
    var tips = $("step-tips");
    clear(tips);
    step.tips.forEach(function (t) { tips.appendChild(el("li", null, t)); });
    document.querySelectorAll(".step-dot").forEach(function (dot) {
      var n = Number(dot.dataset.step);
      dot.classList.toggle("current", n === step.number);
      dot.classList.toggle("visited", n <= state.call.call.max_step);
    });
    show($("booking"), step.booking);
    $("btn-back").disabled = step.number === 1;
    $("btn-next").disabled = step.number === total;
    var select = $("reject-reason");
    clear(select);
    step.rejections.forEach(function (r) {
      var o = el("option", null, r.label); o.value = r.code; o.dataset.free = r.free_text ? "1" : "";
      select.appendChild(o);
    });
    syncRejectText();
  }
  // A placeholder with no value is a marked gap, never text to read out; the
  // server says what is missing and who fixes it.
  function renderPrompt(step) {
    var prompt = $("step-prompt");
    clear(prompt);
    (step.prompt_parts || [{ text: step.prompt }]).forEach(function (part) {
      if (part.text !== undefined) { prompt.appendChild(document.createTextNode(part.text)); return; }
      var gap = el("mark", part.pending ? "gap pending" : "gap", part.label);
      gap.dataset.gap = part.gap;
      prompt.appendChild(gap);
    });
    $("step-notice").textContent = step.notice || "";
    show($("step-notice"), !!step.notice);
    var gaps = $("step-gaps");
    clear(gaps);
    (step.gaps || []).forEach(function (g) {
      var item = el("li", null, g.hint || g.label);
      item.dataset.gap = g.name;
      gaps.appendChild(item);
    });
    show(gaps, !!(step.gaps && step.gaps.length));
  }
  function move(kind, to) {
    if (!state.call) return;
    var call = state.call.call;
    var target = kind === "next" ? call.current_step + 1 : kind === "back" ? call.current_step - 1 : to;
    if (target < 1 || target > state.call.script.steps.length || target === call.current_step) return;
    // Show the step at once; the server records the move (and corrects us if it refuses).
    var before = call.current_step;
    call.current_step = target;
    call.max_step = Math.max(call.max_step, target);
    renderStep();
    // Moves go one at a time, in order, so the recorded path is the one walked.
    state.moves = (state.moves || Promise.resolve()).then(function () {
      return send("script_move", { call_id: call.id, kind: kind, step: target }).then(function (r) {
        if (!r.ok && state.call && state.call.call.id === call.id) { call.current_step = before; renderStep(); }
      });
    });
  }
  $("btn-next").addEventListener("click", function () { move("next"); });
  $("btn-back").addEventListener("click", function () { move("back"); });

  function syncRejectText() {
    var option = $("reject-reason").selectedOptions[0];
    show($("reject-text"), !!(option && option.dataset.free));
  }
  $("reject-reason").addEventListener("change", syncRejectText);
  $("btn-reject").addEventListener("click", function () {
    show($("reject-box"), $("reject-box").hidden);
    if (!$("reject-box").hidden) $("reject-reason").focus();
  });
  $("btn-reject-save").addEventListener("click", function () {
    var step = currentStep().number;
    send("script_reject", { call_id: state.call.call.id, step: step,
                            reason_code: $("reject-reason").value, reason_text: $("reject-text").value })
      .then(function (r) {
        if (!r.ok) return;
        state.call.rejection = { step: r.step, reason_code: r.reason_code, reason_text: r.reason_text };
        showRejection(state.call.rejection);
        show($("reject-box"), false);
      });
  });
  function showRejection(rej) {
    var p = $("dispo-rejection");
    if (!rej) { $("reject-saved").textContent = ""; show(p, false); return; }
    var step = state.call.script.steps[rej.step - 1];
    var label = rej.reason_code;
    step.rejections.forEach(function (r) { if (r.code === rej.reason_code) label = r.label; });
    var text = fmt(L.text.rejected_at, { n: digits(rej.step), reason: label + (rej.reason_text ? " – " + rej.reason_text : "") });
    $("reject-saved").textContent = text;
    p.textContent = text;
    show(p, true);
  }

  /* --- booking ---------------------------------------------------------------------- */
  function renderSalespeople(booking) {
    var select = $("salesperson"), people = booking.salespeople || [];
    var chosen = state.call.salespersonId || "";
    while (select.options.length > 1) select.remove(1);
    people.forEach(function (p) { var o = el("option", null, p.name); o.value = String(p.id); select.appendChild(o); });
    select.value = chosen;
    show($("salesperson-row"), people.length > 0 && !booking.appointment);
  }
  function renderBooking(booking) {
    renderSalespeople(booking);
    renderSlots(booking);
  }
  function renderSlots(booking) {
    state.slots = booking.slots || [];
    [1, 2].forEach(function (n) {
      var b = $("slot-" + n), slot = state.slots[n - 1];
      show(b, !!slot && !booking.appointment);
      b.classList.remove("chosen");
      if (!slot) return;
      b.textContent = slot.label; b.title = slot.full; b.dataset.start = slot.start;
      b.insertBefore(el("kbd", null, n === 1 ? "Alt+Q" : "Alt+W"), b.firstChild);
    });
    show($("slot-other"), false);
    show($("btn-more-slots"), !booking.appointment);
    $("btn-book").disabled = true;
    // An ended call is offered no times (wrap-up books from "more times"): not "none free".
    if (!state.slots.length && !booking.appointment && state.call && state.call.call.state !== "ended") {
      toast(L.text.no_slots);
    }
    var a = booking.appointment;
    show($("booked"), !!a);
    if (a) {
      $("booked-when").textContent = a.when;
      $("booked-with").textContent = a.salesperson ? fmt(L.text.meeting_with, { name: a.salesperson }) : "";
      $("read-back").textContent = booking.read_back || "";
      renderFollowUps(a.follow_ups);
    }
  }
  function renderFollowUps(items) {
    var parts = [];
    (items || []).forEach(function (f) {
      if (f.kind === "letter") parts.push(L.text.letter);
      else if (f.status === "sent") parts.push(fmt(L.text.email_sent, { to: f.to }));
      else if (f.attempts > 0) parts.push(fmt(L.text.email_retry, { n: digits(f.attempts) }));
      else parts.push(L.text.email_queued);
    });
    $("follow-up-status").textContent = parts.join(" ");
  }
  function chooseSlot(start, button) {
    state.chosenSlot = start;
    document.querySelectorAll(".slot").forEach(function (s) { s.classList.remove("chosen"); });
    if (button) button.classList.add("chosen");
    $("btn-book").disabled = !start;
  }
  [1, 2].forEach(function (n) {
    $("slot-" + n).addEventListener("click", function () { chooseSlot(this.dataset.start, this); });
  });
  $("salesperson").addEventListener("change", function () {
    var chosen = this.value;
    state.call.salespersonId = chosen;
    state.chosenSlot = null;
    send("booking_slots", { call_id: state.call.call.id, salesperson_id: chosen }).then(function (r) {
      if (!r.ok || !state.call || state.call.call.id !== r.call_id) return;
      state.call.script = r.script;
      state.call.booking.slots = r.slots;
      renderSlots(state.call.booking);
      renderStep();
    });
  });
  $("btn-more-slots").addEventListener("click", function () {
    send("slots_free", { call_id: state.call.call.id, salesperson_id: state.call.salespersonId || "" }).then(function (r) {
      if (!r.ok) return;
      var select = $("slot-other");
      clear(select);
      select.appendChild(el("option", null, "—"));
      r.slots.forEach(function (s) { var o = el("option", null, s.full); o.value = s.start; select.appendChild(o); });
      show(select, true);
      select.focus();
    });
  });
  $("slot-other").addEventListener("change", function () { chooseSlot(this.value || null, null); });
  document.querySelectorAll('input[name="kind"]').forEach(function (radio) {
    radio.addEventListener("change", function () {
      var online = this.value === "online" && this.checked;
      show($("meet-link"), online); show($("meet-address"), !online);
    });
  });
  function book() {
    if (!state.call || !state.chosenSlot) return;
    var kind = document.querySelector('input[name="kind"]:checked').value;
    $("btn-book").disabled = true;
    send("appointment_book", { call_id: state.call.call.id, starts_at: state.chosenSlot, kind: kind,
                               address: $("meet-address").value, link: $("meet-link").value,
                               salesperson_id: state.call.salespersonId || "" })
      .then(function (r) {
        if (!r.ok) { $("btn-book").disabled = false; if (r.error === "slot-taken") refreshSlots(); return; }
        state.call.script = r.script;
        state.call.booking = r.booking;
        renderBooking(r.booking);
        renderStep();
        toast(L.text.booked, "ok");
        var code = document.querySelector('input[name="dispo"][data-category="appointment"]:not(:disabled)');
        if (code) { code.checked = true; syncDisposition(); }
      });
  }
  function refreshSlots() {
    if (state.call.salespersonId) { $("salesperson").dispatchEvent(new Event("change")); return; }
    send("resume").then(function (view) { if (view.ok && view.call) renderBooking(view.call.booking); });
  }
  $("btn-book").addEventListener("click", book);
  socket.on("follow_up_sent", function (data) {
    window.ccAgent.events.push(["follow_up_sent", data]);
    if (!state.call || state.call.call.id !== data.call_id || !state.call.booking.appointment) return;
    state.call.booking.appointment.follow_ups.forEach(function (f) {
      if (f.id === data.follow_up_id) { f.status = data.status; f.attempts = data.attempts; }
    });
    renderFollowUps(state.call.booking.appointment.follow_ups);
  });

  /* --- notes (saved as typed: a closed tab or a blip loses nothing) ------------------ */
  $("notes").addEventListener("input", function () {
    if (!state.call) return;
    var id = state.call.call.id, text = this.value;
    localStorage.setItem("cc-notes-" + id, text);
    clearTimeout(state.draftTimer);
    state.draftTimer = setTimeout(function () { saveDraft(id, text); }, 600);
  });
  function saveDraft(id, text) {
    return send("notes_save", { call_id: id, text: text }).then(function (r) {
      if (r.ok) $("notes-saved").textContent = L.text.draft_saved;
    });
  }

  /* --- hang-up, wrap-up and disposition ---------------------------------------------- */
  $("btn-hangup").addEventListener("click", function () {
    if (state.call) send("hangup", { call_id: state.call.call.id });
  });
  $("btn-record").addEventListener("click", function () {
    if (!state.call) return;
    send("record_call", { call_id: state.call.call.id }).then(function (r) {
      if (!r.ok) return;
      state.call.call.recording_asked = true;
      show($("btn-record"), false);
      toast(L.text.recording_started);
    });
  });
  socket.on("call_ended", function (data) {
    window.ccAgent.events.push(["call_ended", data]);
    showMonitoring(null);
    if (!state.call || state.call.call.id !== data.call_id) {
      if (state.preview || (state.agent && state.agent.state !== "on_call")) {
        $("pv-status").textContent = L.text.no_answer_preview;
      }
      return;
    }
    state.call.call.state = "ended";
    state.call.call.ended_at = data.ended_at;
    state.call.call.outcome = data.outcome;
    updateCallPhase();
    toast(L.text.call_ended);
  });
  // Leaving the page drops the browser phone, and with it the customer on the
  // line: the browser asks first (a reload by mistake is the common case).
  window.addEventListener("beforeunload", function (event) {
    var live = state.call && state.call.call.state !== "ended";
    if (live && window.ccWebPhone && window.ccWebPhone.state() === "in_call") {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  function updateCallPhase() {
    var call = state.call.call;
    var ended = call.state === "ended";
    show($("btn-hangup"), !ended);
    show($("btn-record"), !ended && call.recording === "on_demand" && !call.recording_asked);
    $("btn-dispose").disabled = !ended || !selectedDisposition();
    ws.classList.toggle("wrapping", ended);
    state.wrapDeadline = ended && call.ended_at ? Date.parse(call.ended_at) + call.wrap_up_limit_seconds * 1000 : null;
    show($("countdown"), ended);
    tickWrapUp();
  }
  function tickWrapUp() {
    if (!state.call || !state.wrapDeadline) return;
    var left = Math.ceil((state.wrapDeadline - Date.now()) / 1000);
    var box = $("countdown");
    box.textContent = left > 0 ? fmt(L.text.wrap_left, { s: digits(left) }) : L.text.wrap_over;
    box.classList.toggle("urgent", left <= 10);
    if (left <= 0 && !state.expiring) {
      state.expiring = true;
      var id = state.call.call.id;
      send("wrap_up_expired", { call_id: id, notes: $("notes").value }).then(function () { state.expiring = false; });
    }
  }
  /* Only the codes of the call's campaign (the page holds those of each campaign). */
  function showCampaignDispositions() {
    var campaign = state.call ? String(state.call.call.campaign_id) : "";
    document.querySelectorAll("#dispo-codes label.dispo").forEach(function (label) {
      var mine = label.dataset.campaign === campaign;
      show(label, mine);
      label.querySelector("input").disabled = !mine;
    });
  }
  function selectedDisposition() {
    var r = document.querySelector('input[name="dispo"]:checked');
    return r ? r.value : null;
  }
  function selectedCategory() {
    var r = document.querySelector('input[name="dispo"]:checked');
    return r ? r.dataset.category : null;
  }
  function syncDisposition() {
    var code = selectedDisposition();
    show($("callback-box"), selectedCategory() === "callback");
    if (code === "not_interested" && !state.call.rejection) show($("reject-box"), true);
    $("btn-dispose").disabled = !code || !state.call || state.call.call.state !== "ended";
  }
  document.querySelectorAll('input[name="dispo"]').forEach(function (r) {
    r.addEventListener("change", function () {
      if (state.call) localStorage.setItem("cc-dispo-" + state.call.call.id, selectedDisposition() || "");
      syncDisposition();
    });
  });
  $("callback-at").addEventListener("input", function () {
    var d = this.value ? new Date(this.value) : null;
    $("callback-jalali").textContent = d && !isNaN(d) ? new Intl.DateTimeFormat(
      ws.dataset.locale === "fa" ? "fa-IR-u-ca-persian" : "en-GB-u-ca-persian",
      { dateStyle: "full", timeStyle: "short" }).format(d) : "";
  });
  /* With `pause` ({ reason }) it is "save and pause": the server sets the
     disposition and the pause in one transaction, both or neither. */
  function dispose(pause) {
    if (!state.call || $("btn-dispose").disabled) return Promise.resolve({ ok: false });
    var code = selectedDisposition();
    var data = { call_id: state.call.call.id, code: code, notes: $("notes").value };
    if (pause) data.reason = pause.reason;
    if (selectedCategory() === "callback") {
      var v = $("callback-at").value;
      data.callback_at = v ? new Date(v).toISOString() : "";
      data.callback_for = document.querySelector('input[name="callback_for"]:checked').value;
    }
    if (code === "not_interested" && !state.call.rejection && !$("reject-box").hidden) {
      data.rejection = { step: currentStep().number, reason_code: $("reject-reason").value, reason_text: $("reject-text").value };
    }
    $("btn-dispose").disabled = true;
    return send(pause ? "disposition_set_and_pause" : "disposition_set", data).then(function (r) {
      if (!r.ok) $("btn-dispose").disabled = false;
      return r;
    });
  }
  $("btn-dispose").addEventListener("click", function () { dispose(); });
  window.ccAgent.dispose = dispose;
  socket.on("wrap_up_done", function (data) {
    window.ccAgent.events.push(["wrap_up_done", data]);
    if (state.call && state.call.call.id === data.call_id) {
      closeCall(data.call_id);
      layout();
      toast(data.ready ? L.text.ready_again : L.text.press_ready, "ok");
    }
  });

  /* --- the campaign paused, resumed, or outside its calling hours -------------------- */
  var hoursTimer = null;
  function showCampaignNotice(agent, name) {
    var hours = agent.calling_hours;
    var text = "";
    if (agent.campaign_status === "paused") {
      text = fmt(L.text.campaign_paused, { name: name });
    } else if (hours && !hours.open && agent.state !== "logged_out") {
      text = hours.opens_at ? fmt(L.text.campaign_closed, { name: name, when: openingTime(hours) })
                            : fmt(L.text.campaign_never_open, { name: name });
    }
    show($("campaign-notice"), !!text);
    $("campaign-notice-text").textContent = text;
    // The hours open or close with time alone: ask again then (no call on screen
    // then; a call's own state changes bring the news).
    clearTimeout(hoursTimer);
    var next = hours && Date.parse(hours.open ? hours.closes_at : hours.opens_at);
    if (next) {
      hoursTimer = setTimeout(function () {
        if (!state.call) send("resume").then(function (view) { if (view.ok) applyView(view); });
      }, Math.min(Math.max(next - Date.now(), 0) + 1000, 6 * 3600 * 1000));
    }
  }
  function openingTime(hours) {
    return fmt(L.text.opening_time, window.ccMoment(hours.opens_at, hours.timezone, ws.dataset.locale));
  }
  socket.on("campaign_status", function (data) {
    window.ccAgent.events.push(["campaign_status", data]);
    if (!state.agent || state.agent.campaign_id !== data.campaign_id) return;
    state.agent.campaign_status = data.status;
    showCampaignNotice(state.agent, data.name);
    if (data.status === "active") toast(fmt(L.text.campaign_resumed, { name: data.name }), "ok");
  });

  /* --- a message from a supervisor -------------------------------------------------- */
  socket.on("supervisor_message", function (data) {
    window.ccAgent.events.push(["supervisor_message", data]);
    $("supervisor-message-from").textContent = fmt(L.text.message_from, { name: data.from });
    $("supervisor-message-text").textContent = data.text;
    show($("supervisor-message"), true);
  });
  socket.on("pause_after_call", function (data) {
    window.ccAgent.events.push(["pause_after_call", data]);
    $("supervisor-message-from").textContent = fmt(L.text.message_from, { name: data.from });
    $("supervisor-message-text").textContent = fmt(L.text.paused_after_call, { name: data.from });
    show($("supervisor-message"), true);
  });
  $("supervisor-message-close").addEventListener("click", function () { show($("supervisor-message"), false); });

  /* --- preview mode ----------------------------------------------------------------- */
  socket.on("preview_offer", function (data) { renderPreview(data); layout(); });
  function renderPreview(data) {
    if (state.preview && state.preview.lead.id !== data.lead.id) {
      toast(fmt(L.text.preview_changed, { name: data.customer.name }));
    }
    state.preview = data;
    var c = data.customer;
    $("pv-name").textContent = c.name;
    $("pv-company").textContent = [c.company, data.campaign].filter(Boolean).join(SEP);
    $("pv-phone").textContent = c.phone_display;
    $("pv-status").textContent = "";
    renderFields($("pv-fields"), data.lead.fields);
    renderHistory($("pv-history"), data.history);
  }
  function previewStart() {
    if (!state.preview) return;
    send("preview_start", { lead_id: state.preview.lead.id }).then(function (r) {
      if (r.ok) $("pv-status").textContent = L.text.dialing_preview;
    });
  }
  function previewSkip() {
    if (!state.preview) return;
    send("preview_skip", { lead_id: state.preview.lead.id, reason: $("pv-skip-reason").value, text: $("pv-skip-text").value })
      .then(function (r) {
        if (!r.ok) return;
        // The next lead may be offered before this reply comes: only the skipped one goes.
        if (state.preview && state.preview.lead.id === r.lead_id) state.preview = null;
        setAgent(r.agent);
        layout();
      });
  }
  $("btn-preview-start").addEventListener("click", previewStart);
  $("btn-preview-skip").addEventListener("click", previewSkip);

  /* --- keyboard --------------------------------------------------------------------- */
  document.addEventListener("keydown", function (e) {
    if (e.key === "F2") { e.preventDefault(); goReady(); return; }
    if (e.key === "F3") { e.preventDefault(); pause(); return; }
    if (e.key === "F4") { e.preventDefault(); leaveQueue(); return; }
    if (!e.altKey || e.ctrlKey || e.metaKey) return;
    // e.code is the physical key, so shortcuts work with a Persian layout too.
    var code = e.code, handled = true;
    if (state.preview && !state.call) {
      if (code === "Enter") previewStart();
      else if (code === "KeyX") previewSkip();
      else handled = false;
    } else if (state.call) {
      if (code === "KeyN") move("next");
      else if (code === "KeyB") move("back");
      else if (/^Digit[1-9]$/.test(code)) move("jump", Number(code.slice(5)));
      else if (code === "KeyJ") $("btn-reject").click();
      else if (code === "KeyQ") $("slot-1").click();
      else if (code === "KeyW") $("slot-2").click();
      else if (code === "KeyK") book();
      else if (code === "KeyO") $("notes").focus();
      else if (code === "KeyH") $("btn-hangup").click();
      else if (code === "KeyD") { var first = document.querySelector('input[name="dispo"]:not(:disabled)'); if (first) first.focus(); }
      else if (code === "KeyS") dispose();
      else handled = false;
    } else handled = false;
    if (handled) e.preventDefault();
  });

  layout();
})();
