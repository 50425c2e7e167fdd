"""The web tier as deploy/ starts it (gunicorn with callcenter.gunicorn_conf),
on a temp SQLite file, and the clients the tests drive it with: a login over
HTTP from a chosen loopback address, and raw Engine.IO/Socket.IO websockets
(asyncio, so one test can hold hundreds of them)."""

from __future__ import annotations

import asyncio
import functools
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from callcenter import migrate
from tests.support import free_port

BIN = Path(sys.executable).parent
AS_DEPLOYED = [str(BIN / "gunicorn"), "-c", "python:callcenter.gunicorn_conf"]
USER_AGENT = "callcenter-tests"


@functools.cache
def _migrated_template() -> Path:
    """Migrated once per test process, copied for each web tier."""
    path = Path(tempfile.mkdtemp(prefix="cc-web-tier-")) / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def environment(tmp_path: Path, redis_url: str, **settings: str) -> dict[str, str]:
    """The process environment: no CC_* of the caller's, a migrated SQLite file."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CC_")}
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    database = instance / "callcenter.db"
    if not database.exists():
        shutil.copy(_migrated_template(), database)
    env.update(CC_INSTANCE_PATH=str(instance), CC_REDIS_URL=redis_url, CC_LOG_FORMAT="json")
    env.update(settings)
    return env


def get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for(url: str, process: subprocess.Popen[str], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args} exited {process.returncode}: {process.communicate()[1]}")
        try:
            get(url)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {seconds}s")


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _out, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        _out, err = process.communicate()
    return process.returncode, err


@contextmanager
def web_tier(env: Mapping[str, str], cwd: Path, *extra: str) -> Iterator[str]:
    """gunicorn as deployed on a free loopback port; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [*AS_DEPLOYED, "-b", f"127.0.0.1:{port}", *extra, "callcenter.wsgi:app"],
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/healthz", process)
        yield base
    except BaseException as failure:
        _status, err = stop(process)
        failure.add_note(f"gunicorn's log:\n{err[-6000:]}")
        raise
    stop(process)


def log_in(base: str, username: str, password: str, *, source: str = "127.0.0.1") -> str:
    """Log in through the form from `source`; returns the Cookie header value.
    (Flask-Login's strong session protection ties the session to the
    client's address and User-Agent: use the cookie from the same source.)"""
    host, port = base.removeprefix("http://").split(":")
    cookies: dict[str, str] = {}

    def request(method: str, body: str | None = None) -> tuple[int, str]:
        connection = http.client.HTTPConnection(
            host, int(port), timeout=10, source_address=(source, 0)
        )
        headers = {
            "User-Agent": USER_AGENT,
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
        }
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, "/login", body=body, headers=headers)
        response = connection.getresponse()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                cookies[name] = morsel.value
        text = response.read().decode()
        connection.close()
        return response.status, text

    _status, page = request("GET")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token, "the login page has no CSRF token"
    form = urllib.parse.urlencode(
        {"csrf_token": token.group(1), "username": username, "password": password}
    )
    status, _ = request("POST", form)
    assert status == 302, f"login of {username} answered {status}"
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


@dataclass
class Refused:
    status: int


async def open_socket(
    base: str, cookie: str | None = None, *, source: str = "127.0.0.1", origin: str | None = None
) -> ClientConnection | Refused:
    """A Socket.IO connection over the websocket transport (as the agent
    screen opens it): the upgrade, Engine.IO's open packet, Socket.IO's
    connect. Refused: the HTTP status that answered the upgrade instead."""
    url = base.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    headers = {"User-Agent": USER_AGENT}
    if cookie:
        headers["Cookie"] = cookie
    try:
        connection = await websockets.connect(
            url,
            additional_headers=headers,
            origin=origin,  # type: ignore[arg-type]
            user_agent_header=None,
            local_addr=(source, 0),
            open_timeout=20,
            ping_interval=None,
        )
    except websockets.InvalidStatus as exc:
        return Refused(exc.response.status_code)
    opened = await asyncio.wait_for(connection.recv(), 20)
    assert isinstance(opened, str) and opened.startswith("0{"), opened
    await connection.send("40")
    answer = await asyncio.wait_for(connection.recv(), 20)
    assert answer.startswith("40"), f"Socket.IO refused the connect: {answer!r}"
    return connection


async def still_open(connection: ClientConnection) -> bool:
    """Answer the server's pings waiting meanwhile; True if it is still up."""
    try:
        while True:
            message: Any = await asyncio.wait_for(connection.recv(), 0.05)
            if message == "2":
                await connection.send("3")
    except TimeoutError:
        return True
    except websockets.ConnectionClosed:
        return False
