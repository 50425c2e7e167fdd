"""A small HTTP server for processes with no web app of their own (the
dialer, the consumer): /healthz, /readyz and /metrics on a port of their own,
served from daemon threads so a busy or stuck main loop cannot silence it."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from callcenter.health import HealthAnswer, MainLoopHealth

log = logging.getLogger(__name__)


class HealthServer:
    def __init__(self, health: MainLoopHealth, host: str, port: int) -> None:
        handler = type("HealthHandler", (_HealthHandler,), {"health": health})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health-server", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("health and metrics on port %d: /healthz /readyz /metrics", self.port)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _HealthHandler(BaseHTTPRequestHandler):
    health: MainLoopHealth

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._send_answer(self.health.liveness())
        elif path == "/readyz":
            self._send_answer(self.health.readiness())
        elif path == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY))
        else:
            self._send_answer(HealthAnswer(False, {"error": "not-found"}), status=404)

    def _send_answer(self, answer: HealthAnswer, *, status: int | None = None) -> None:
        body = json.dumps(answer.body).encode()
        self._send(status or answer.status_code, "application/json", body)

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("health server: " + format, *args)
