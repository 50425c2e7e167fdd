"""The door in front of Socket.IO: a WSGI middleware that answers a
connection the server would refuse anyway before Engine.IO sees it, so a
refused socket is never upgraded and never holds a worker.

It refuses, with a plain status and no upgrade:
- 403 a browser page of another origin (the same rule as Engine.IO's);
- 401 a client whose session cookie carries no login (the full check of the
  user, active and allowed, stays in `connection.on_connect`);
- 429 past `sockets_per_ip` connections held open by one client address;
- 503 past `sockets_per_process` connections held open by this process.

A websocket is one WSGI call for its whole life, and a long-poll one call
per poll, so "held open" is counted as the calls in flight."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.wsgi import ClosingIterator

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask

LOGIN_KEY = "_user_id"  # where Flask-Login keeps the user id in the session


class SocketCounts:
    """Connections in flight, per client address and in all; thread-safe
    (and greenlet-safe: the lock is gevent's once the worker patched it)."""

    def __init__(self, per_ip: int, per_process: int) -> None:
        self.per_ip = per_ip
        self.per_process = per_process
        self._lock = threading.Lock()
        self._by_ip: Counter[str] = Counter()
        self._total = 0

    def take(self, ip: str) -> int | None:
        """Count one more for `ip`; None when taken, else the refusing status."""
        with self._lock:
            if self._total >= self.per_process:
                return 503
            if self._by_ip[ip] >= self.per_ip:
                return 429
            self._by_ip[ip] += 1
            self._total += 1
            return None

    def give_back(self, ip: str) -> None:
        with self._lock:
            self._total -= 1
            self._by_ip[ip] -= 1
            if self._by_ip[ip] <= 0:
                del self._by_ip[ip]

    @property
    def total(self) -> int:
        return self._total


_REFUSALS = {
    401: ("401 Unauthorized", "login-required", "log in first"),
    403: ("403 Forbidden", "origin-refused", "not an accepted origin"),
    429: ("429 Too Many Requests", "too-many-sockets", "too many connections from this address"),
    503: ("503 Service Unavailable", "server-full", "this server holds all the sockets it may"),
}


class SocketGate:
    def __init__(
        self, app: WSGIApplication, flask_app: Flask, counts: SocketCounts, path: str
    ) -> None:
        self.app = app
        self.flask_app = flask_app
        self.counts = counts
        self.path = "/" + path.strip("/")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not environ.get("PATH_INFO", "").startswith(self.path):
            return self.app(environ, start_response)
        if not _origin_accepted(environ):
            return _refuse(403, start_response)
        if not self._logged_in(environ):
            return _refuse(401, start_response)
        ip = environ.get("REMOTE_ADDR") or "-"
        refused = self.counts.take(ip)
        if refused is not None:
            return _refuse(refused, start_response)
        try:
            answer = self.app(environ, start_response)
        except BaseException:
            # simple-websocket ends a websocket by raising (StopIteration under gunicorn)
            self.counts.give_back(ip)
            raise
        return ClosingIterator(answer, lambda: self.counts.give_back(ip))

    def _logged_in(self, environ: WSGIEnvironment) -> bool:
        """The signed session cookie names a user: checked without the database."""
        request = self.flask_app.request_class(environ)
        session = self.flask_app.session_interface.open_session(self.flask_app, request)
        return session is not None and LOGIN_KEY in session


def _origin_accepted(environ: WSGIEnvironment) -> bool:
    """No Origin (not a browser page) or the page's own: Engine.IO's default rule."""
    origin = environ.get("HTTP_ORIGIN")
    if not origin:
        return True
    scheme: str = environ.get("wsgi.url_scheme") or "http"
    host: str = environ.get("HTTP_HOST") or ""
    accepted = {f"{scheme}://{host}"}
    if "HTTP_X_FORWARDED_PROTO" in environ or "HTTP_X_FORWARDED_HOST" in environ:
        forwarded_scheme = str(environ.get("HTTP_X_FORWARDED_PROTO") or scheme)
        forwarded_host = str(environ.get("HTTP_X_FORWARDED_HOST") or host)
        accepted.add(
            f"{forwarded_scheme.split(',')[0].strip()}://{forwarded_host.split(',')[0].strip()}"
        )
    return origin in accepted


def _refuse(status: int, start_response: StartResponse) -> list[bytes]:
    line, error, message = _REFUSALS[status]
    body = json.dumps({"error": error, "message": message}).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
    ]
    if status in (429, 503):
        headers.append(("Retry-After", "10"))
    start_response(line, headers)
    return [body]


def install(flask_app: Flask, *, per_ip: int, per_process: int, path: str) -> SocketCounts:
    """Put the gate in front of the app's WSGI stack (after Flask-SocketIO's)."""
    counts = SocketCounts(per_ip, per_process)
    flask_app.wsgi_app = SocketGate(flask_app.wsgi_app, flask_app, counts, path)  # type: ignore[method-assign]
    return counts
