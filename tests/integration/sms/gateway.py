"""A local SMS gateway the tests start: Kavenegar's REST contract (send.json,
status.json) and a generic GET gateway (/send?to=&text=&from=)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.support import free_port, serve_in_thread

API_KEY = "test-key"


@dataclass
class Gateway:
    base: str
    failures: list[int] = field(default_factory=list)  # statuses to answer sends with first
    sent: list[dict[str, str]] = field(default_factory=list)
    delivered: set[str] = field(default_factory=set)


@contextmanager
def gateway(*failures: int) -> Iterator[Gateway]:
    port = free_port()
    state = Gateway(f"http://127.0.0.1:{port}", list(failures))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: object) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _send(self, fields: dict[str, str]) -> None:
            with lock:
                if state.failures:
                    status = state.failures.pop(0)
                    self._answer(status, {"return": {"status": status, "message": "busy"}})
                    return
                state.sent.append(fields)
                message_id = str(1000 + len(state.sent))
            self._answer(
                200,
                {
                    "return": {"status": 200, "message": "تایید شد"},
                    "entries": [
                        {"messageid": int(message_id), "status": 1, "receptor": fields["receptor"]}
                    ],
                },
            )

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            length = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if path == f"/v1/{API_KEY}/sms/send.json":
                self._send(form)
            else:
                self._answer(404, {"return": {"status": 404, "message": "no such method"}})

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == f"/v1/{API_KEY}/sms/status.json":
                ids = query.get("messageid", "").split(",")
                entries = [
                    {"messageid": int(i), "status": 10 if i in state.delivered else 4}
                    for i in ids
                    if i
                ]
                self._answer(200, {"return": {"status": 200, "message": ""}, "entries": entries})
            elif parts.path == "/send":
                with lock:
                    state.sent.append(query)
                self._answer(200, {"id": f"g{len(state.sent)}"})
            else:
                self._answer(404, {})

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = serve_in_thread(server)
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
