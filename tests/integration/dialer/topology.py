"""The production topology as real processes, for fault tests: a long-running
sipp peer, `callcenter dialer`, gunicorn serving the web (which consumes the
events), and a supervisor logged in to the live floor over Socket.IO."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from tests.conftest import csrf_token_from
from tests.factories import TEST_PASSWORD
from tests.integration.sip.conftest import HOST, Sipp, free_udp_port

BIN = Path(sys.executable).parent


def environment(
    database_url: str, redis_url: str, instance: Path, **settings: str
) -> dict[str, str]:
    """The processes' environment: only this test's CC_* settings."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CC_")}
    instance.mkdir(exist_ok=True)
    env.update(
        CC_DATABASE_URL=database_url,
        CC_REDIS_URL=redis_url,
        CC_INSTANCE_PATH=str(instance),
        CC_SECRET_KEY="fault-test-secret",
        **{f"CC_{name.upper()}": value for name, value in settings.items()},
    )
    return env


def start_sipp_peer(scenario: Path, workdir: Path, *extra: str, port: int | None = None) -> Sipp:
    """A sipp UAS that keeps serving until stopped (no call limit, no global timeout)."""
    binary = shutil.which("sipp")
    if binary is None:
        pytest.fail("sipp is not installed (Debian package sip-tester); this test needs it")
    port = port or free_udp_port()
    media_port = free_udp_port(pair=True)
    workdir.mkdir(exist_ok=True)
    message_log = workdir / "messages.log"
    command = [
        binary, "-sf", str(scenario), "-i", HOST, "-p", str(port), "-mi", HOST,
        "-mp", str(media_port), "-nostdin", "-trace_msg", "-message_file", str(message_log),
        "-trace_err", *extra,
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peer = Sipp(process, port, media_port, message_log, workdir / "errors.log")
    deadline = time.monotonic() + 5
    while not _udp_bound(port):
        if process.poll() is not None or time.monotonic() > deadline:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            process.kill()
            pytest.fail(f"sipp did not start: {err}")
        time.sleep(0.01)
    return peer


def _udp_bound(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
    return False


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """A child process whose combined output is collected as it runs."""

    name: str
    popen: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._collect, name=f"{self.name}-output", daemon=True).start()

    def _collect(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then the exit status (killed if it does not stop in time)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise AssertionError(f"{self.name} did not stop on SIGTERM:\n{self.output}") from None


def start_process(name: str, command: list[str], env: dict[str, str], cwd: Path) -> Process:
    popen = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    return Process(name, popen)


def start_dialer(env: dict[str, str], cwd: Path, *args: str) -> Process:
    command = [sys.executable, "-m", "callcenter.cli", "dialer", *args]
    return start_process("dialer", command, env, cwd)


def run_cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """One `callcenter` command to its end (bounded), its output captured."""
    command = [sys.executable, "-m", "callcenter.cli", *args]
    return subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def start_web(env: dict[str, str], cwd: Path) -> tuple[Process, str]:
    """gunicorn as docs/deployment.md runs it; returns the process and its base URL."""
    port = free_tcp_port()
    command = [
        str(BIN / "gunicorn"), "-k", "gthread", "--threads", "8", "-w", "1",
        "-b", f"{HOST}:{port}", "callcenter.wsgi:app",
    ]  # fmt: skip
    web = start_process("web", command, env, cwd)
    base = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 30
    while True:
        if not web.alive():
            pytest.fail(f"gunicorn exited {web.popen.returncode}:\n{web.output}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=5):
                return web, base
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not answer within 30 s:\n{web.output}")
            time.sleep(0.2)


def logged_in_socket(
    base_url: str, username: str, handlers: dict[str, Callable[[Any], None]]
) -> tuple[requests.Session, socketio.Client]:
    """Log in as the page does, then open its Socket.IO connection (WebSocket
    only) with `handlers` for the events it records."""
    http = requests.Session()
    page = http.get(f"{base_url}/login", timeout=10)
    reply = http.post(
        f"{base_url}/login",
        data={
            "username": username,
            "password": TEST_PASSWORD,
            "csrf_token": csrf_token_from(page.text),
        },
        timeout=10,
    )
    assert reply.ok and "/login" not in reply.url, f"login failed: {reply.status_code}"
    client = socketio.Client(reconnection=False)
    for event, handler in handlers.items():
        client.on(event, handler)
    cookie = "; ".join(f"{name}={value}" for name, value in http.cookies.items())
    client.connect(base_url, headers={"Cookie": cookie}, transports=["websocket"])
    return http, client


class SupervisorFeed:
    """A logged-in supervisor's live floor: the page's Socket.IO connection,
    recording every `floor_dialing_held` push."""

    def __init__(self, base_url: str, username: str) -> None:
        self.held_pushes: list[str | None] = []
        self.http, self.client = logged_in_socket(
            base_url, username, {"floor_dialing_held": self._on_held}
        )

    def _on_held(self, data: dict[str, Any]) -> None:
        self.held_pushes.append(data.get("dialing_held"))

    def floor_state(self) -> dict[str, Any]:
        """What the floor page loads on connect (and on every reconnect)."""
        state: dict[str, Any] = self.client.call("floor_state", {}, timeout=20)
        assert state.get("ok"), state
        return state

    def dialing_held(self, campaign_id: int) -> str | None:
        (campaign,) = [
            c for c in self.floor_state()["campaigns"] if c["campaign_id"] == campaign_id
        ]
        held: str | None = campaign["dialing_held"]
        return held

    def trunks(self, campaign_id: int) -> list[dict[str, Any]]:
        """The trunks' status rows the floor shows (each dialer's last report)."""
        (campaign,) = [
            c for c in self.floor_state()["campaigns"] if c["campaign_id"] == campaign_id
        ]
        trunks: list[dict[str, Any]] = campaign["trunks"]
        return trunks

    def close(self) -> None:
        self.client.disconnect()
        self.http.close()
