// A screen's socket whose login ended (a logout elsewhere, deactivation, a
// role change, a password reset): the server closes it, or refuses it on
// reconnect, or refuses an event with "not-logged-in". The page is loaded
// again and the server sends the user where they now belong (the login, or
// choosing a password). At most once a minute: a socket refused while its
// page loads (a proxy that drops the cookie) is left offline, not reloaded
// in a loop.
window.ccLoginEnded = function () {
  var key = "cc-login-ended-reload";
  var last = Number(window.sessionStorage.getItem(key) || 0);
  if (Date.now() - last < 60000) return;
  window.sessionStorage.setItem(key, String(Date.now()));
  window.location.reload();
};
window.ccWatchLogin = function (socket) {
  socket.on("disconnect", function (reason) {
    if (reason === "io server disconnect") window.ccLoginEnded();
  });
  socket.on("connect_error", function (err) {
    if (err && err.message === "Connection rejected by server") window.ccLoginEnded();
  });
};
