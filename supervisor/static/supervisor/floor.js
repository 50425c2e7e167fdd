/* The supervisor's live floor. The server puts this socket in its campaign
   rooms; we ask for the whole floor once (floor_state), then apply deltas
   (floor_delta: calls and agent states, coalesced; floor_abandon, floor_campaign) and the
   per-second metrics (floor_snapshot). Times in state tick here. */
(function () {
  "use strict";

  const root = document.getElementById("floor");
  const L = JSON.parse(document.getElementById("floor-labels").textContent);
  const locale = root.dataset.locale === "fa" ? "fa-IR" : "en-GB";
  const num = new Intl.NumberFormat(locale);
  const dec = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
  const pct = new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 1 });
  const clock = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" });
  const STATE_ORDER = ["on_call", "wrap_up", "reserved", "ready", "paused", "logged_out"];

  const floor = {
    campaigns: new Map(),
    agents: new Map(),
    calls: new Map(),
    abandons: [],
    recent: new Map(),  // campaign_id -> its last ended calls, newest first
    hearingTeams: [],  // null: every call's recording may be heard
    callbacks: new Map(),  // campaign_id -> its overdue callbacks
    pauseReasons: new Map(),
    skew: 0,
    pick: "all",
  };

  // WebSocket only, as the agent's screen: any worker can take a reconnect.
  const socket = io({ transports: ["websocket"] });
  window.ccWatchLogin(socket);

  // --- helpers -----------------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);
  const now = () => Date.now() + floor.skew;
  const ms = (iso) => (iso ? Date.parse(iso) : null);

  function duration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "—";
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const pad = (v) => num.format(v).padStart(2, num.format(0));
    return (h ? num.format(h) + ":" + pad(m) : num.format(m)) + ":" + pad(s % 60);
  }

  function format(value, kind) {
    if (value === null || value === undefined || value === "") return "—";
    if (kind === "pct") return pct.format(value);
    if (kind === "secs") return dec.format(value) + (locale === "fa-IR" ? " ث" : " s");
    if (kind === "dur") return duration(value);
    if (kind === "cap") return dec.format(value) + "%";
    if (kind === "pacer") return pacerReason(value);
    if (typeof value === "number") return Number.isInteger(value) ? num.format(value) : dec.format(value);
    return String(value);
  }

  // The pacer writes its reason in English clauses joined by "; ", the
  // dialer its trunk's state in English; each is matched to its translated
  // text here (callcenter/pacer_reasons.py, callcenter/dialer_reasons.py).
  const patterns = (table) => table.map(([source, text]) => [new RegExp("^(?:" + source + ")$"), text]);
  const PACER = patterns(L.pacer);
  const TRUNK = patterns(L.trunk_reasons);

  function localNumber(text) {
    if (locale !== "fa-IR") return text;
    return text.replace(/[0-9]/g, (d) => "۰۱۲۳۴۵۶۷۸۹"[d]).replace(/\./g, "٫").replace(/%/g, "٪");
  }

  // A value that is a number is written in the reader's digits; a nested
  // reason is translated in turn; anything else (an address) is kept.
  function translated(table, text) {
    for (const [pattern, message] of table) {
      const match = pattern.exec(text);
      if (!match) continue;
      return message.replace(/%\((\w+)\)s/g, (_, name) => {
        const value = match.groups[name];
        if (name === "reason") return translated(table, value);
        return /^-?[\d.]+%?$/.test(value) ? localNumber(value) : value;
      });
    }
    return text;
  }

  function pacerReason(reason) {
    return reason.split("; ").map((clause) => translated(PACER, clause)).join(locale === "fa-IR" ? "؛ " : "; ");
  }

  const trunkText = (text) => (text ? translated(TRUNK, text) : "");

  // "trunk: reason" per held trunk, joined by "; " (a trunk's name may hold
  // ": " itself, as in sip:10.0.0.1, so each split is tried).
  function heldText(text) {
    if (!text) return "";
    return text.split("; ").map((part) => {
      for (let at = part.indexOf(": "); at !== -1; at = part.indexOf(": ", at + 1)) {
        const reason = part.slice(at + 2);
        const shown = translated(TRUNK, reason);
        if (shown !== reason) return part.slice(0, at) + ": " + shown;
      }
      return part;
    }).join(locale === "fa-IR" ? "؛ " : "; ");
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function visibleCampaign(campaignId) {
    return floor.pick === "all" || String(campaignId) === floor.pick;
  }

  function ratio(a, b) {
    return b ? a / b : null;
  }

  // --- the numbers (one campaign, or all summed from their raw counts) -----------------------

  function shown() {
    const list = [...floor.campaigns.values()].filter((c) => visibleCampaign(c.campaign_id));
    if (floor.pick !== "all") return list[0] || null;
    if (!list.length) return null;
    const sum = (path) => list.reduce((acc, c) => acc + (path(c) || 0), 0);
    const raw = {};
    for (const c of list) for (const [k, v] of Object.entries(c.raw)) raw[k] = (raw[k] || 0) + v;
    const agents = {};
    const calls = {};
    for (const c of list) {
      for (const [k, v] of Object.entries(c.agents)) agents[k] = (agents[k] || 0) + v;
      for (const [k, v] of Object.entries(c.calls)) calls[k] = (calls[k] || 0) + v;
    }
    const count = (k) => Math.round(raw[k] || 0);
    const windowLive = sum((c) => c.window.live_answers);
    const windowAbandoned = sum((c) => c.window.abandoned);
    const cap = Math.min(...list.map((c) => c.abandon_cap));
    const windowRate = ratio(windowAbandoned, windowLive);
    return {
      agents, calls,
      paused_over_limit: sum((c) => c.paused_over_limit),
      dial_level: null, pacer_reason: null, hopper_depth: null,
      dialable_leads: list.every((c) => c.dialable_leads === null) ? null : sum((c) => c.dialable_leads),
      abandon_cap: cap,
      window_days: Math.max(...list.map((c) => c.window_days)),
      today: {
        // the same ratios as callcenter.metrics, over the summed counts
        dials: count("dials"), live_answers: count("live_answers"), contacts: count("contacts"),
        abandoned: count("abandoned"), appointments: count("appointments"),
        machines: count("machines"),
        inbound: count("inbound"), inbound_answered: count("inbound_answered"),
        inbound_missed: count("inbound_missed"),
        abandon_rate: ratio(count("abandoned"), count("live_answers")),
        conversion_rate: ratio(count("appointments"), count("contacts")),
        service_level: ratio(count("connected_sl"), count("live_answers")),
        connect_wait: ratio(raw.connect_wait_s || 0, count("connect_wait_n")),
        aht: ratio((raw.talk_s || 0) + (raw.wrap_up_s || 0), count("handled")),
        occupancy: ratio((raw.t_on_call || 0) + (raw.t_wrap_up || 0),
          (raw.t_on_call || 0) + (raw.t_wrap_up || 0) + (raw.t_ready || 0)),
      },
      window: {
        live_answers: windowLive, abandoned: windowAbandoned, abandon_rate: windowRate,
        level: list.some((c) => c.window.level === "over") ? "over"
          : list.some((c) => c.window.level === "near") ? "near" : "ok",
      },
    };
  }

  function renderNumbers() {
    const data = shown();
    for (const el of root.querySelectorAll("[data-k]")) {
      const value = data ? el.dataset.k.split(".").reduce((o, k) => (o ? o[k] : undefined), data) : null;
      el.textContent = format(value, el.dataset.fmt);
    }
    const tile = $("cap-tile");
    const level = data ? data.window.level : "ok";
    tile.dataset.level = level;
    tile.title = level === "over" ? L.over_cap : level === "near" ? L.near_cap : "";
    const share = data && data.abandon_cap ? (data.window.abandon_rate || 0) * 100 / data.abandon_cap : 0;
    $("cap-fill").style.inlineSize = Math.min(100, share * 80) + "%";
    const over = data ? data.paused_over_limit : 0;
    $("over-limit").hidden = !over;
    $("over-limit").textContent = L.over_limit.replace("{n}", num.format(over));
    renderClosedHours();
    renderControls();
  }

  // Running campaigns whose calling hours are closed: why the dialer places nothing.
  function renderClosedHours() {
    const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, k) => values[k] ?? "");
    const lines = [...floor.campaigns.values()]
      .filter((c) => visibleCampaign(c.campaign_id) && c.status === "active")
      .filter((c) => c.calling_hours && !c.calling_hours.open)
      .map((c) => c.calling_hours.opens_at
        ? fill(L.hours_closed, { name: c.name, when: fill(L.opening_time,
            window.ccMoment(c.calling_hours.opens_at, c.calling_hours.timezone, document.documentElement.lang)) })
        : fill(L.hours_never, { name: c.name }));
    $("hours-closed").hidden = !lines.length;
    $("hours-closed").textContent = lines.join(" ");
  }

  // --- controls -------------------------------------------------------------------------------

  function renderControls() {
    const campaign = floor.pick === "all" ? null : floor.campaigns.get(Number(floor.pick));
    $("controls").hidden = !campaign;
    if (!campaign) return;
    $("campaign-status").textContent = L.status[campaign.status] || campaign.status;
    $("campaign-status").dataset.status = campaign.status;
    $("toggle-running").textContent = campaign.status === "active" ? L.pause_campaign : L.resume_campaign;
    if (document.activeElement !== $("cap-input")) $("cap-input").value = campaign.abandon_cap;
    if (document.activeElement !== $("mode-input")) $("mode-input").value = campaign.dial_mode;
  }

  function act(name, payload) {
    socket.emit(name, payload, (reply) => {
      const saved = reply && reply.after_call ? L.pause_after_call.replace("{name}", reply.agent_name) : L.saved;
      const text = reply && reply.ok ? saved : (reply && reply.message) || "";
      for (const notice of [$("control-notice"), $("floor-notice")]) {
        notice.textContent = text;
        notice.dataset.ok = reply && reply.ok ? "1" : "0";
      }
      if (reply && reply.ok && reply.campaign_id) applyCampaign(reply);
    });
  }

  $("toggle-running").addEventListener("click", () => {
    const campaign = floor.campaigns.get(Number(floor.pick));
    act("floor_campaign_running", { campaign_id: campaign.campaign_id, running: campaign.status !== "active" });
  });
  $("cap-save").addEventListener("click", () => {
    act("floor_abandon_cap", { campaign_id: Number(floor.pick), percent: $("cap-input").value });
  });
  $("mode-input").addEventListener("change", () => {
    act("floor_dial_mode", { campaign_id: Number(floor.pick), mode: $("mode-input").value });
  });
  $("campaign-pick").addEventListener("change", (e) => {
    floor.pick = e.target.value;
    renderAll();
  });

  // --- tables --------------------------------------------------------------------------------

  function pauseOverLimit(agent) {
    if (agent.state !== "paused" || !agent.pause_reason) return false;
    const reason = floor.pauseReasons.get(agent.pause_reason);
    const limit = reason && reason.limit_minutes;
    return !!limit && now() - ms(agent.since) > limit * 60000;
  }

  function agentRow(agent) {
    const tr = document.createElement("tr");
    tr.className = "st-row st-" + agent.state + (pauseOverLimit(agent) ? " over" : "");
    tr.dataset.agentId = agent.agent_id;
    const call = agent.call_id ? floor.calls.get(agent.call_id) : null;
    tr.append(cell(agent.name, "name"));
    const state = cell("", "state");
    const badge = document.createElement("span");
    badge.className = "pill st-" + agent.state;
    badge.textContent = L.states[agent.state] || agent.state;
    state.append(badge);
    if (agent.state === "ready" && agent.phone_leg && agent.phone_leg !== "up") {
      const small = document.createElement("small");
      small.className = "phone-leg";
      small.textContent = " " + L.phone_calling;
      state.append(small);
    }
    if (agent.state !== "paused" && agent.pause_after_call) {
      const small = document.createElement("small");
      small.className = "pause-after-call";
      small.textContent = " " + L.pause_pending;
      state.append(small);
    }
    if (agent.state === "paused" && agent.pause_reason) {
      const reason = floor.pauseReasons.get(agent.pause_reason);
      const small = document.createElement("small");
      small.textContent = " " + (reason ? (locale === "fa-IR" ? reason.label_fa : reason.label_en) : agent.pause_reason);
      if (reason && reason.limit_minutes) {
        small.textContent += " (" + L.pause_limit.replace("{n}", num.format(reason.limit_minutes)) + ")";
      }
      state.append(small);
    }
    tr.append(state);
    tr.append(cell("", "tick num"));
    tr.lastChild.dataset.since = agent.since || "";
    tr.append(cell(call && call.customer ? call.customer : "—"));
    tr.append(cell(call && call.step ? format(call.step) : "—", "num"));
    tr.append(cell("", "tick num"));
    tr.lastChild.dataset.since = call && call.connected_at ? call.connected_at : "";
    tr.append(cell(format(agent.calls || 0), "num"));
    tr.append(cell(format(agent.appointments || 0), "num"));
    const actions = cell("", "actions");
    if (agent.state !== "logged_out") {
      const select = document.createElement("select");
      select.setAttribute("aria-label", L.pause_reason);
      select.append(new Option(L.force_pause, ""));
      for (const reason of floor.pauseReasons.values()) {
        if (reason.is_system || !reason.is_active) continue;  // phone_lost is set by the product; a retired code by no one
        select.append(new Option(locale === "fa-IR" ? reason.label_fa : reason.label_en, reason.code));
      }
      select.addEventListener("change", () => {
        if (select.value) act("floor_force_pause", { agent_id: agent.agent_id, reason: select.value });
      });
      const out = document.createElement("button");
      out.type = "button";
      out.className = "link";
      out.textContent = L.force_logout;
      out.addEventListener("click", () => {
        if (confirm(L.confirm_logout)) act("floor_force_logout", { agent_id: agent.agent_id });
      });
      actions.append(select, out);
    }
    const msg = document.createElement("button");
    msg.type = "button";
    msg.className = "link";
    msg.textContent = L.message;
    msg.addEventListener("click", () => openMessage(agent));
    actions.append(msg);
    tr.append(actions);
    return tr;
  }

  function renderAgents() {
    const rows = [...floor.agents.values()].filter(
      (a) => floor.pick === "all" || a.campaign_id === null || String(a.campaign_id) === floor.pick || a.state === "logged_out",
    );
    rows.sort((a, b) =>
      STATE_ORDER.indexOf(a.state) - STATE_ORDER.indexOf(b.state) ||
      (ms(a.since) || 0) - (ms(b.since) || 0) || a.name.localeCompare(b.name));
    const body = $("agents-table").querySelector("tbody");
    body.replaceChildren(...rows.map(agentRow));
    $("agents-empty").hidden = rows.length > 0;
    tick();
  }

  function agentName(id) {
    const agent = floor.agents.get(id);
    return agent ? agent.name : "—";
  }

  function renderCalls() {
    const rows = [...floor.calls.values()].filter((c) => visibleCampaign(c.campaign_id));
    rows.sort((a, b) => (ms(a.dialed_at) || 0) - (ms(b.dialed_at) || 0));
    const body = $("calls-table").querySelector("tbody");
    body.replaceChildren(...rows.map((call) => {
      const tr = document.createElement("tr");
      tr.className = "call-" + call.state + " clickable";
      tr.dataset.callId = call.call_id;
      tr.append(cell(call.customer || "—"));
      const state = cell("");
      const pill = document.createElement("span");
      pill.className = "pill call-" + call.state;
      pill.textContent = L.calls[call.state] || call.state;
      state.append(pill);
      tr.append(state);
      const badges = monitorBadges(call);
      tr.append(cell((call.agent_id ? agentName(call.agent_id) : "—") + (badges ? L.separator + badges : "")));
      tr.append(cell(call.step ? format(call.step) : "—", "num"));
      tr.append(cell("", "tick num"));
      tr.lastChild.dataset.since = call.connected_at || call.answered_at || call.dialed_at || "";
      tr.append(cell(amdText(call)));
      tr.addEventListener("click", () => showPath(call));
      return tr;
    }));
    $("calls-empty").hidden = rows.length > 0;
    tick();
  }

  function amdText(call) {
    if (!call.amd_result) return "—";
    const label = L.amd[call.amd_result] || call.amd_result;
    return call.amd_decision_ms == null ? label : label + L.separator + format(call.amd_decision_ms / 1000, "secs");
  }

  function renderAbandons() {
    const rows = floor.abandons.filter((a) => visibleCampaign(a.campaign_id)).slice(0, 50);
    const body = $("abandons-table").querySelector("tbody");
    body.replaceChildren(...rows.map((a) => {
      const tr = document.createElement("tr");
      tr.append(cell(a.customer || "—"));
      tr.append(cell(a.at ? clock.format(new Date(a.at)) : "—", "num"));
      tr.append(cell(format(a.wait, "secs"), "num"));
      return tr;
    }));
    $("abandons-empty").hidden = rows.length > 0;
  }

  // The player checks the scope again; this only spares a link that would be refused.
  function mayHear(row) {
    return floor.hearingTeams === null ||
      (row.agent_team_id !== null && floor.hearingTeams.includes(row.agent_team_id));
  }

  const RECENT_SHOWN = 20;
  function renderRecent() {
    const rows = [...floor.recent.entries()]
      .filter(([campaignId]) => visibleCampaign(campaignId))
      .flatMap(([, list]) => list);
    rows.sort((a, b) => (ms(b.ended_at) || 0) - (ms(a.ended_at) || 0));
    const table = $("recent-table");
    table.querySelector("tbody").replaceChildren(...rows.slice(0, RECENT_SHOWN).map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.call = row.call_id;
      tr.append(cell(row.ended_at ? clock.format(new Date(row.ended_at)) : "—", "num"));
      tr.append(cell(row.agent || "—"));
      tr.append(cell(row.customer || "—"));
      tr.append(cell(format(row.talk_seconds, "dur"), "num"));
      tr.append(cell(row.outcome ? (L.outcomes[row.outcome] || row.outcome) : "—"));
      const play = cell("");
      if (row.recorded && mayHear(row)) {
        const link = document.createElement("a");
        link.className = "play-recording";
        link.href = table.dataset.playerUrl.replace("CALL_ID", encodeURIComponent(row.call_id));
        link.textContent = L.play;
        play.append(link);
      }
      tr.append(play);
      return tr;
    }));
    $("recent-empty").hidden = rows.length > 0;
  }

  function setRecent(list) {
    floor.recent = new Map();
    for (const row of list) {
      if (!floor.recent.has(row.campaign_id)) floor.recent.set(row.campaign_id, []);
      floor.recent.get(row.campaign_id).push(row);
    }
  }

  function agentChoices(campaignId) {
    const choices = [new Option(L.anyone, "")];
    const agents = [...floor.agents.values()].filter(
      (a) => a.campaign_id === null || a.campaign_id === campaignId || a.state === "logged_out",
    );
    agents.sort((a, b) => a.name.localeCompare(b.name));
    for (const agent of agents) choices.push(new Option(agent.name, String(agent.agent_id)));
    return choices;
  }

  function renderCallbacks() {
    const rows = [...floor.callbacks.entries()]
      .filter(([campaignId]) => visibleCampaign(campaignId))
      .flatMap(([, list]) => list);
    rows.sort((a, b) => ms(a.due_at) - ms(b.due_at));
    const body = $("callbacks-table").querySelector("tbody");
    body.replaceChildren(...rows.map((cb) => {
      const tr = document.createElement("tr");
      tr.dataset.callbackId = cb.callback_id;
      tr.append(cell(cb.customer || "—"));
      tr.append(cell(clock.format(new Date(cb.due_at)), "num"));
      tr.append(cell("", "tick num"));
      tr.lastChild.dataset.since = cb.due_at;
      tr.append(cell(cb.agent_id ? (cb.agent_name || agentName(cb.agent_id)) : L.anyone, "assigned"));
      const actions = cell("", "actions");
      const select = document.createElement("select");
      select.setAttribute("aria-label", L.reassign);
      select.append(...agentChoices(cb.campaign_id));
      select.value = cb.agent_id ? String(cb.agent_id) : "";
      const go = document.createElement("button");
      go.type = "button";
      go.className = "link reassign";
      go.textContent = L.reassign;
      go.addEventListener("click", () => {
        socket.emit("floor_reassign_callback", { callback_id: cb.callback_id, agent_id: select.value }, (reply) => {
          const ok = reply && reply.ok;
          $("callbacks-notice").dataset.ok = ok ? "1" : "0";
          $("callbacks-notice").textContent = ok
            ? L.reassigned.replace("{name}", reply.agent_name || L.anyone) : (reply && reply.message) || "";
        });
      });
      actions.append(select, go);
      tr.append(actions);
      return tr;
    }));
    $("callbacks-empty").hidden = rows.length > 0;
    tick();
  }

  function setCallbacks(list) {
    floor.callbacks = new Map();
    for (const cb of list) {
      if (!floor.callbacks.has(cb.campaign_id)) floor.callbacks.set(cb.campaign_id, []);
      floor.callbacks.get(cb.campaign_id).push(cb);
    }
  }

  function renderPicker() {
    const pick = $("campaign-pick");
    const keep = pick.value;
    const options = [pick.options[0]];
    for (const c of [...floor.campaigns.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      options.push(new Option(c.name, String(c.campaign_id)));
    }
    pick.replaceChildren(...options);
    pick.value = [...pick.options].some((o) => o.value === keep) ? keep : "all";
    floor.pick = pick.value;
  }

  function renderAll() {
    renderNumbers();
    renderAgents();
    renderCalls();
    renderAbandons();
    renderCallbacks();
    renderRecent();
  }

  function tick() {
    for (const el of root.querySelectorAll(".tick")) {
      const since = ms(el.dataset.since);
      el.textContent = since ? duration((now() - since) / 1000) : "—";
    }
    for (const tr of $("agents-table").querySelectorAll("tr.st-paused")) {
      const agent = floor.agents.get(Number(tr.dataset.agentId));
      if (agent) tr.classList.toggle("over", pauseOverLimit(agent));
    }
  }

  // --- drill-down and messages --------------------------------------------------------------

  let pathCall = null;
  $("path-record").addEventListener("click", () => {
    if (!pathCall) return;
    socket.emit("floor_record_call", { call_id: pathCall }, (reply) => {
      $("path-record").hidden = true;
      $("path-record-said").textContent = reply && reply.ok ? L.recording_asked : (reply && reply.message) || "";
    });
  });

  // --- listen, whisper, barge ----------------------------------------------------------------

  let monitor = null;  // this supervisor's open session: {session_id, call_id, mode, state}

  function showMonitor() {
    const box = $("monitor-box");
    const call = pathCall ? floor.calls.get(pathCall) : null;
    box.hidden = !call || call.state !== "connected";
    const mine = monitor && monitor.call_id === pathCall;
    for (const button of box.querySelectorAll("[data-mode]")) {
      button.setAttribute("aria-pressed", String(Boolean(mine && monitor.mode === button.dataset.mode)));
      button.disabled = Boolean(monitor && !mine);
    }
    $("monitor-stop").hidden = !mine;
    $("monitor-phone").disabled = Boolean(monitor);
    if (monitor && !mine) $("monitor-said").textContent = L.monitor.other_call;
    else if (mine) $("monitor-said").textContent = monitor.state === "calling" ? L.monitor.calling : L.monitor[monitor.mode];
  }

  function monitorReply(reply) {
    if (reply && reply.ok) {
      monitor = reply.monitor.state === "ended" ? null : reply.monitor;
    } else {
      $("monitor-said").textContent = (reply && reply.message) || "";
    }
    showMonitor();
  }

  for (const button of $("monitor-box").querySelectorAll("[data-mode]")) {
    button.addEventListener("click", () => {
      const mode = button.dataset.mode;
      if (monitor) {
        socket.emit("floor_monitor_mode", { session_id: monitor.session_id, mode }, monitorReply);
      } else if (pathCall) {
        const callId = pathCall;
        let phone = $("monitor-phone").value.trim();
        if (!phone && window.ccWebPhone) phone = "browser";
        const go = () => socket.emit("floor_monitor_start", { call_id: callId, mode, phone }, monitorReply);
        if (phone === "browser" && window.ccWebPhone) browserPhoneReady().then(go, (text) => {
          $("monitor-said").textContent = text;
        });
        else go();
      }
    });
  }
  // The dialer calls the browser phone only once it is registered: start it
  // (microphone, registration) on first use and wait for it.
  function browserPhoneReady() {
    const phone = window.ccWebPhone;
    $("webphone").hidden = false;
    if (phone.isReady()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let settled = false;
      phone.onChange((state, error) => {
        if (settled) return;
        if (phone.isReady()) { settled = true; resolve(); }
        else if (state === "failed") { settled = true; reject(error || L.monitor.phone_failed); }
      });
      if (phone.state() === "off" || phone.state() === "failed") phone.start();
    });
  }

  $("monitor-stop").addEventListener("click", () => {
    if (!monitor) return;
    socket.emit("floor_monitor_stop", { session_id: monitor.session_id }, (reply) => {
      monitorReply(reply);
      if (reply && reply.ok) $("monitor-said").textContent = L.monitor.ended;
    });
  });

  socket.on("floor_monitor", (data) => {
    const call = floor.calls.get(data.call_id);
    if (call) {
      call.monitors = (call.monitors || []).filter((m) => m.session_id !== data.session_id);
      if (data.state !== "ended") call.monitors.push(data);
      renderCalls();
    }
    if (!monitor || data.session_id !== monitor.session_id) return;
    if (data.state === "ended") {
      monitor = null;
      showMonitor();
      const reason = L.monitor.reasons[data.end_reason] || data.end_reason || "";
      $("monitor-said").textContent = L.monitor.ended + (reason ? L.separator + reason : "");
      return;
    }
    monitor = data;
    showMonitor();
  });

  function monitorBadges(call) {
    return (call.monitors || []).map((m) =>
      L.monitor.badge.replace("{name}", m.supervisor).replace("{mode}", L.monitor.modes[m.mode] || m.mode)
    ).join(L.separator);
  }

  function showPath(call) {
    socket.emit("floor_call_path", { call_id: call.call_id }, (reply) => {
      if (!reply || !reply.ok) return;
      pathCall = call.call_id;
      showMonitor();
      $("path-record").hidden = call.state !== "connected";
      $("path-record-said").textContent = "";
      $("path-panel").hidden = false;
      $("path-customer").textContent = call.customer || "";
      $("path-steps").replaceChildren(...reply.steps.map((s) => {
        const li = document.createElement("li");
        li.className = s.action === "reject" ? "reject" : "";
        li.textContent = L.step + " " + format(s.step) + L.separator + s.via +
          (s.action === "reject" ? L.separator + L.rejected + ": " + (s.reason_code || "") : "") +
          L.separator + clock.format(new Date(s.at));
        return li;
      }));
    });
  }

  let messageTo = null;
  function openMessage(agent) {
    messageTo = agent.agent_id;
    $("message-to").textContent = agent.name;
    $("message-text").value = "";
    $("message-dialog").showModal();
  }
  $("message-cancel").addEventListener("click", () => $("message-dialog").close());
  $("message-form").addEventListener("submit", () => {
    act("floor_message", { agent_id: messageTo, text: $("message-text").value });
  });

  // --- the socket ---------------------------------------------------------------------------

  function applyCampaign(data) {
    const campaign = floor.campaigns.get(data.campaign_id);
    if (!campaign) return;
    Object.assign(campaign, {
      status: data.status, dial_mode: data.dial_mode, abandon_cap: data.abandon_cap,
    });
    renderNumbers();
  }

  function setConnection(state) {
    $("conn").dataset.state = state;
    $("conn").textContent = state === "up" ? L.connected : L.disconnected;
  }

  socket.on("connect", () => {
    setConnection("up");
    socket.emit("floor_monitor_mine", {}, (reply) => {
      if (reply && reply.ok) {
        monitor = reply.monitor;
        if (monitor) $("monitor-phone").value = "";
        showMonitor();
      }
    });
    socket.emit("floor_state", {}, (state) => {
      if (!state || !state.ok) return;
      floor.skew = Date.parse(state.at) - Date.now();
      floor.campaigns = new Map(state.campaigns.map((c) => [c.campaign_id, c]));
      floor.agents = new Map(state.agents.map((a) => [a.agent_id, a]));
      floor.calls = new Map(state.calls.map((c) => [c.call_id, c]));
      floor.abandons = state.abandons;
      setCallbacks(state.overdue_callbacks || []);
      setRecent(state.recent_calls || []);
      floor.hearingTeams = state.hearing_team_ids;
      floor.pauseReasons = new Map(state.pause_reasons.map((r) => [r.code, r]));
      renderPicker();
      renderAll();
    });
  });
  socket.on("disconnect", () => setConnection("down"));

  function showDialingHeld(reason) {
    $("dialing-held").hidden = !reason;
    $("dialing-held-reason").textContent = heldText(reason);
  }

  socket.on("floor_dialing_held", (data) => showDialingHeld(data.dialing_held));

  socket.on("floor_callbacks", (data) => {
    floor.callbacks.set(data.campaign_id, data.callbacks);
    renderCallbacks();
  });

  function showTrunks(trunks) {
    $("trunks-panel").hidden = !trunks || trunks.length === 0;
    const body = $("trunks-table").querySelector("tbody");
    body.replaceChildren();
    for (const trunk of trunks || []) {
      const tr = document.createElement("tr");
      tr.dataset.dialerId = trunk.dialer_id;
      const state = cell(trunk.healthy ? L.trunk.healthy : L.trunk.held, trunk.healthy ? "" : "bad");
      state.title = trunkText(trunk.reason);
      const registration = cell(L.trunk[trunk.registration] || trunk.registration);
      registration.title = trunkText(trunk.registration_detail);
      let options = L.trunk[trunk.options] || trunk.options;
      if (trunk.options_rtt_ms !== null && trunk.options_rtt_ms !== undefined) {
        options += L.separator + dec.format(trunk.options_rtt_ms) + " " + L.trunk.ms;
      }
      const optionsCell = cell(options);
      optionsCell.title = trunkText(trunk.options_status);
      tr.append(cell(trunk.trunk), state, registration, optionsCell, cell(format(trunk.calls_in_flight)));
      body.append(tr);
    }
  }

  socket.on("floor_snapshot", (snap) => {
    showDialingHeld(snap.dialing_held);
    showTrunks(snap.trunks);
    floor.skew = Date.parse(snap.at) - Date.now();
    const known = floor.campaigns.has(snap.campaign_id);
    floor.campaigns.set(snap.campaign_id, snap);
    for (const [id, totals] of Object.entries(snap.agent_totals)) {
      const agent = floor.agents.get(Number(id));
      if (agent) Object.assign(agent, totals);
    }
    if (!known) renderPicker();
    renderNumbers();
    if (snap.recent_calls !== undefined) {
      floor.recent.set(snap.campaign_id, snap.recent_calls);
      renderRecent();
    }
    for (const [id, totals] of Object.entries(snap.agent_totals)) {
      const tr = $("agents-table").querySelector(`tr[data-agent-id="${id}"]`);
      if (tr) {
        tr.children[6].textContent = format(totals.calls);
        tr.children[7].textContent = format(totals.appointments);
      }
    }
  });

  function applyAgentState(data) {
    const agent = floor.agents.get(data.agent_id) || { agent_id: data.agent_id, name: "#" + data.agent_id, calls: 0, appointments: 0 };
    Object.assign(agent, {
      state: data.state, since: data.since, campaign_id: data.campaign_id,
      pause_reason: data.pause_reason, call_id: data.call_id, phone_leg: data.phone_leg,
      pause_after_call: data.pause_after_call,
    });
    floor.agents.set(data.agent_id, agent);
  }

  // Calls seen ending: a row of one sent by another server before it ended
  // can arrive after the end, and must not bring it back.
  const endedCalls = new Set();
  const ENDED_KEPT = 5000;

  function applyCall(call) {
    const before = floor.calls.get(call.call_id);
    if (call.state === "ended") {
      floor.calls.delete(call.call_id);
      endedCalls.add(call.call_id);
      if (endedCalls.size > ENDED_KEPT) endedCalls.delete(endedCalls.values().next().value);
    } else if (!endedCalls.has(call.call_id)) {
      floor.calls.set(call.call_id, { ...call, monitors: before ? before.monitors : [] });
    }
  }

  // At most one per second per campaign: the latest state of every call and
  // agent that changed since the last one. Rendered once.
  socket.on("floor_delta", (delta) => {
    for (const data of delta.agents) applyAgentState(data);
    for (const call of delta.calls) applyCall(call);
    if (delta.calls.length) renderCalls();
    renderAgents();
    if (pathCall && delta.calls.some((call) => call.call_id === pathCall)) showMonitor();
  });

  socket.on("floor_abandon", (row) => {
    floor.abandons.unshift(row);
    renderAbandons();
  });

  socket.on("floor_campaign", applyCampaign);

  setInterval(tick, 1000);
})();
