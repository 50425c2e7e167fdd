// The browser phone: JsSIP over WebSocket to the phone server (the built-in
// gateway, or Kamailio + rtpengine in production). It asks for the microphone
// once, registers with credentials the web app mints, and answers the dialer's
// nailed-up leg by itself; the agent sees its state, a level meter, mute and
// the audio devices. The server decides everything else: a leg that fails here
// reaches the agent as "phone lost" from the dialer.
(function () {
  "use strict";
  var panel = document.getElementById("webphone");
  if (!panel) { window.ccWebPhone = null; return; }
  var $ = function (id) { return document.getElementById(id); };
  var L = JSON.parse($("cc-labels").textContent).webphone;
  var fmt = function (text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (_, k) { return values[k] !== undefined ? values[k] : ""; });
  };

  var LIVE = { registered: true, in_call: true, reconnecting: true };
  var ICE_RESTART_AFTER_MS = 2500;
  var REFRESH_BEFORE_EXPIRY_S = 600;

  var phone = {
    state: "off", ua: null, config: null, session: null, mic: null, muted: false,
    listeners: [], refreshTimer: null, iceTimer: null, meter: null, wanted: false
  };

  function setState(state, error) {
    phone.state = state;
    var badge = $("wp-state");
    badge.dataset.state = state;
    badge.textContent = L[state] || state;
    $("wp-error").textContent = error || "";
    $("wp-error").hidden = !error;
    $("wp-mute").disabled = !phone.mic;
    phone.listeners.forEach(function (fn) { fn(state, error || ""); });
  }

  function fail(key, values) { setState("failed", fmt(L[key], values || {})); }

  function micConstraints() {
    var chosen = $("wp-mic").value;
    var audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
    if (chosen) audio.deviceId = { exact: chosen };
    return { audio: audio, video: false };
  }

  function openMic() {
    return navigator.mediaDevices.getUserMedia(micConstraints()).then(function (stream) {
      if (phone.mic) phone.mic.getTracks().forEach(function (t) { t.stop(); });
      phone.mic = stream;
      stream.getAudioTracks().forEach(function (t) { t.enabled = !phone.muted; });
      watchLevel(stream);
      return stream;
    });
  }

  function micProblem(error) {
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError") return "mic_denied";
    if (name === "NotFoundError" || name === "OverconstrainedError") return "no_mic";
    return "unsupported";
  }

  function start() {
    phone.wanted = true;
    if (phone.ua || phone.state === "asking" || phone.state === "connecting") return;
    panel.hidden = false;
    if (!window.isSecureContext) return fail("insecure");
    if (!navigator.mediaDevices || !window.RTCPeerConnection || !window.JsSIP) return fail("unsupported");
    setState("asking");
    openMic()
      .then(function () { listDevices(); setState("connecting"); return fetchConfig(); })
      .then(function (config) { if (phone.wanted) connect(config); })
      .catch(function (error) {
        if (error && error.configStatus) return fail("refused", { reason: error.configStatus });
        fail(micProblem(error));
      });
  }

  function fetchConfig() {
    return fetch(panel.dataset.configUrl, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) { var e = new Error("config"); e.configStatus = "HTTP " + r.status; throw e; }
      return r.json();
    });
  }

  function connect(config) {
    phone.config = config;
    var ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(config.ws_url)],
      uri: config.uri,
      authorization_user: config.authorization_user,
      password: config.password,
      register: true,
      register_expires: 300,
      session_timers: false,
      user_agent: "callcenter browser phone",
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 30
    });
    phone.ua = ua;
    ua.on("disconnected", function (e) {
      if (phone.ua !== ua) return;
      var reason = (e && e.reason) || (e && e.code ? "code " + e.code : "no answer");
      setState("connecting", fmt(L.server_down, { reason: reason }));
    });
    ua.on("registered", function () { if (phone.ua === ua) setState(phone.session ? "in_call" : "registered"); });
    ua.on("unregistered", function () { if (phone.ua === ua && phone.wanted) setState("connecting"); });
    ua.on("registrationFailed", function (e) {
      if (phone.ua !== ua) return;
      var status = e.response ? e.response.status_code + " " + e.response.reason_phrase : e.cause;
      fail("refused", { reason: status });
    });
    ua.on("newRTCSession", function (e) { if (e.originator === "remote") answer(e.session); });
    ua.start();
    scheduleRefresh(config);
  }

  // Credentials expire: a fresh set is fetched before they do, between calls.
  function scheduleRefresh(config) {
    clearTimeout(phone.refreshTimer);
    var wait = Math.max(60, config.expires_at - Date.now() / 1000 - REFRESH_BEFORE_EXPIRY_S);
    phone.refreshTimer = setTimeout(refresh, wait * 1000);
  }

  function refresh() {
    if (phone.session) { phone.refreshTimer = setTimeout(refresh, 60000); return; }
    fetchConfig().then(function (config) {
      if (!phone.wanted || phone.session) return scheduleRefresh(phone.config);
      disconnectUa();
      connect(config);
    }).catch(function () { phone.refreshTimer = setTimeout(refresh, 60000); });
  }

  function answer(session) {
    if (phone.session || !phone.mic) {
      session.terminate({ status_code: 486, reason_phrase: "Busy Here" });
      return;
    }
    phone.session = session;
    session.on("peerconnection", function (e) { watchConnection(e.peerconnection); });
    session.on("confirmed", function () { setState("in_call"); });
    var over = function () {
      if (phone.session !== session) return;
      phone.session = null;
      clearTimeout(phone.iceTimer);
      $("wp-audio").srcObject = null;
      setState(phone.ua && phone.ua.isRegistered() ? "registered" : "connecting");
    };
    session.on("ended", over);
    session.on("failed", over);
    session.answer({
      mediaStream: phone.mic,
      pcConfig: { iceServers: (phone.config && phone.config.ice_servers) || [] }
    });
  }

  function watchConnection(pc) {
    pc.addEventListener("track", function (e) {
      $("wp-audio").srcObject = e.streams && e.streams[0] ? e.streams[0] : new MediaStream([e.track]);
    });
    // A short network blip: ICE restart where the far end supports it. If it
    // cannot recover, the dialer notices the silent leg and the agent is told.
    pc.addEventListener("iceconnectionstatechange", function () {
      var ice = pc.iceConnectionState;
      clearTimeout(phone.iceTimer);
      if (ice === "disconnected" || ice === "failed") {
        setState("reconnecting");
        phone.iceTimer = setTimeout(restartIce, ice === "failed" ? 0 : ICE_RESTART_AFTER_MS);
      } else if ((ice === "connected" || ice === "completed") && phone.session) {
        setState("in_call");
      }
    });
  }

  function restartIce() {
    var session = phone.session;
    if (!session || !session.isEstablished()) return;
    session.renegotiate({ rtcOfferConstraints: { iceRestart: true } });
  }

  function disconnectUa() {
    clearTimeout(phone.refreshTimer);
    if (phone.ua) { var ua = phone.ua; phone.ua = null; ua.stop(); }
  }

  function stop() {
    phone.wanted = false;
    disconnectUa();
    if (phone.mic) phone.mic.getTracks().forEach(function (t) { t.stop(); });
    phone.mic = null;
    stopMeter();
    panel.hidden = true;
    setState("off");
  }

  function setMuted(muted) {
    phone.muted = muted;
    if (phone.mic) phone.mic.getAudioTracks().forEach(function (t) { t.enabled = !muted; });
    var button = $("wp-mute");
    button.textContent = muted ? L.unmute : L.mute;
    button.setAttribute("aria-pressed", muted ? "true" : "false");
    panel.classList.toggle("muted", muted);
  }

  // --- level meter ---
  function watchLevel(stream) {
    stopMeter();
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    var context = new Context();
    var analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(stream).connect(analyser);
    var samples = new Float32Array(analyser.fftSize);
    var meter = { context: context, frame: 0 };
    var draw = function () {
      analyser.getFloatTimeDomainData(samples);
      var sum = 0;
      for (var i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
      $("wp-level").value = phone.muted ? 0 : Math.min(1, Math.sqrt(sum / samples.length) * 4);
      meter.frame = requestAnimationFrame(draw);
    };
    meter.frame = requestAnimationFrame(draw);
    phone.meter = meter;
  }

  function stopMeter() {
    if (!phone.meter) return;
    cancelAnimationFrame(phone.meter.frame);
    phone.meter.context.close();
    phone.meter = null;
    $("wp-level").value = 0;
  }

  // The meter's AudioContext may start suspended until the agent clicks.
  document.addEventListener("click", function () {
    if (phone.meter && phone.meter.context.state === "suspended") phone.meter.context.resume();
  });

  // --- devices ---
  function listDevices() {
    return navigator.mediaDevices.enumerateDevices().then(function (devices) {
      fill($("wp-mic"), devices, "audioinput");
      var audio = $("wp-audio");
      $("wp-speaker-field").hidden = typeof audio.setSinkId !== "function";
      fill($("wp-speaker"), devices, "audiooutput");
    });
  }

  function fill(select, devices, kind) {
    var chosen = select.value;
    while (select.firstChild) select.removeChild(select.firstChild);
    var first = document.createElement("option");
    first.value = "";
    first.textContent = L.default_device;
    select.appendChild(first);
    devices.filter(function (d) { return d.kind === kind && d.deviceId && d.deviceId !== "default"; })
      .forEach(function (d, i) {
        var option = document.createElement("option");
        option.value = d.deviceId;
        option.textContent = d.label || kind + " " + (i + 1);
        select.appendChild(option);
      });
    select.value = chosen;
    if (select.value !== chosen) select.value = "";
  }

  $("wp-mic").addEventListener("change", function () {
    openMic().then(function (stream) {
      var pc = phone.session && phone.session.connection;
      if (!pc) return;
      var track = stream.getAudioTracks()[0];
      pc.getSenders().forEach(function (sender) {
        if (sender.track && sender.track.kind === "audio") sender.replaceTrack(track);
      });
    }).catch(function (error) { fail(micProblem(error)); });
  });
  $("wp-speaker").addEventListener("change", function () {
    var audio = $("wp-audio");
    if (typeof audio.setSinkId === "function") audio.setSinkId(this.value);
  });
  $("wp-mute").addEventListener("click", function () { setMuted(!phone.muted); });
  if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
    navigator.mediaDevices.addEventListener("devicechange", function () { if (phone.mic) listDevices(); });
  }
  window.addEventListener("pagehide", function () { if (phone.ua) phone.ua.stop(); });

  // What the audio looks like from here: for the agent's own troubleshooting
  // (and the end-to-end tests), from the peer connection's statistics.
  function stats() {
    var pc = phone.session && phone.session.connection;
    if (!pc) return Promise.resolve(null);
    return pc.getStats().then(function (report) {
      var out = { packetsReceived: 0, packetsLost: 0, jitter: 0, audioLevel: 0, packetsSent: 0 };
      report.forEach(function (s) {
        if (s.type === "inbound-rtp" && s.kind === "audio") {
          out.packetsReceived = s.packetsReceived || 0;
          out.packetsLost = s.packetsLost || 0;
          out.jitter = s.jitter || 0;
          out.audioLevel = s.audioLevel || 0;
        }
        if (s.type === "outbound-rtp" && s.kind === "audio") out.packetsSent = s.packetsSent || 0;
      });
      return out;
    });
  }

  setMuted(false);
  setState("off");
  window.ccWebPhone = {
    start: start,
    stop: stop,
    isReady: function () { return LIVE[phone.state] === true; },
    state: function () { return phone.state; },
    onChange: function (fn) { phone.listeners.push(fn); },
    stats: stats
  };
})();
