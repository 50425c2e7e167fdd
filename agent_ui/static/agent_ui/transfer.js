/* Transferring the live call: the Transfer control (to whom, blind or warm),
   the hold indicator while the agents consult, and hand over / join / back
   to the customer. It shares agent.js's connection (window.ccAgent); the
   server checks every request and pushes `transfer_changed` to both agents. */
(function () {
  "use strict";

  var agent = window.ccAgent;
  if (!agent || !agent.send) return;
  var send = agent.send, socket = agent.socket, fmt = agent.dom.fmt, el = agent.dom.el, clear = agent.dom.clear;
  var T = JSON.parse(document.getElementById("cc-transfer-labels").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var current = null;  // the open transfer of this agent's call, as the server last said
  agent.transfer = { current: function () { return current; } };

  function liveCall() {
    var pop = agent.state.call;
    return pop && pop.call.state !== "ended" && agent.state.agent && agent.state.agent.state === "on_call" ? pop : null;
  }
  function choice(name) {
    var checked = document.querySelector('input[name="' + name + '"]:checked');
    return checked ? checked.value : null;
  }
  function say(text) { $("transfer-status").textContent = text || ""; }

  function refresh() {
    var pop = liveCall();
    $("transfer").hidden = !pop;
    var consulting = current && (current.state === "consulting" || current.state === "joined");
    $("transfer-consult").hidden = !consulting;
    $("btn-transfer-join").hidden = !!(current && current.state === "joined");
    $("transfer-hold").hidden = !(current && current.state === "consulting");
    $("btn-transfer").disabled = !!current;
    if (current) $("transfer-form").hidden = true;
  }

  function fill(select, items) {
    clear(select);
    items.forEach(function (item) {
      var option = el("option", null, item.name);
      option.value = item.id;
      select.appendChild(option);
    });
  }

  $("btn-transfer").addEventListener("click", function () {
    var form = $("transfer-form");
    if (!form.hidden) { form.hidden = true; $("btn-transfer").setAttribute("aria-expanded", "false"); return; }
    send("transfer_targets").then(function (r) {
      if (!r.ok) return;
      fill($("transfer-agent"), r.agents);
      fill($("transfer-team"), r.teams);
      say(r.agents.length ? "" : T.text.no_targets);
      form.hidden = false;
      $("btn-transfer").setAttribute("aria-expanded", "true");
    });
  });

  $("transfer-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var pop = liveCall();
    if (!pop) return;
    var target = choice("transfer_target");
    var data = { call_id: pop.call.id, kind: choice("transfer_kind"), target: target };
    if (target === "agent") data.to_agent_id = $("transfer-agent").value;
    if (target === "team") data.to_team_id = $("transfer-team").value;
    if (target === "number") data.to_number = $("transfer-number").value;
    send("transfer_start", data).then(function (r) { if (r.ok) show(r.transfer); });
  });

  function action(name) {
    if (!current) return;
    send("transfer_action", { transfer_id: current.id, action: name });
  }
  $("btn-transfer-hand-over").addEventListener("click", function () { action("hand_over"); });
  $("btn-transfer-join").addEventListener("click", function () { action("join"); });
  $("btn-transfer-cancel").addEventListener("click", function () { action("cancel"); });

  function show(transfer) {
    var mine = agent.state.call && agent.state.call.call.id === transfer.call_id;
    var open = ["requested", "consulting", "joined"].indexOf(transfer.state) >= 0;
    var name = transfer.to_agent || transfer.to_number || "";
    current = open && mine ? transfer : null;
    if (!mine) {
      if (transfer.state === "requested" || transfer.state === "consulting") {
        say(fmt(T.text.incoming, { name: transfer.from_agent }));
      }
      refresh();
      return;
    }
    if (transfer.state === "completed") {
      say(transfer.to_number ? fmt(T.text.completed_number, { number: transfer.to_number })
                             : fmt(T.text.completed, { name: name }));
    } else if (transfer.state === "failed") {
      say(fmt(T.text.failed, { reason: transfer.reason || "" }));
    } else {
      say(fmt(T.text[transfer.state], { name: name }));
    }
    refresh();
  }

  socket.on("transfer_changed", function (transfer) {
    agent.events.push(["transfer_changed", transfer]);
    show(transfer);
  });
  socket.on("screen_pop", function (pop) {
    if (!current || current.call_id !== pop.call.id) current = null;
    $("transfer-form").hidden = true;
    say(pop.call.direction === "inbound" ? T.text.inbound : "");
    setTimeout(refresh, 0);
  });
  socket.on("agent.state_changed", function () { setTimeout(refresh, 0); });
  socket.on("call_ended", function () { current = null; setTimeout(refresh, 0); });
  refresh();
})();
