"""The production topology's processes, started the way docs/deployment.md
starts them: gunicorn (gthread) serving callcenter.wsgi:app, and
`callcenter consume` beside it, on a temp SQLite file and the test Redis."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from callcenter import migrate
from callcenter.bus_redis import RedisStreamsEventBus
from callcenter.events import CallEnded

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(tmp_path: Path, redis_url: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("CC_")}
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    migrate.upgrade(f"sqlite:///{instance / 'callcenter.db'}")
    env.update(CC_INSTANCE_PATH=str(instance), CC_REDIS_URL=redis_url, CC_LOG_FORMAT="json")
    return env


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _wait_for(url: str, process: subprocess.Popen[str], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args} exited {process.returncode}: {process.communicate()[1]}")
        try:
            _get(url)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {seconds}s")


def _stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _out, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        _out, err = process.communicate()
    return process.returncode, err


@pytest.fixture
def gunicorn(tmp_path: Path, redis_url: str) -> Iterator[str]:
    assert (BIN / "gunicorn").exists(), "gunicorn is not installed in this environment"
    port = _free_port()
    command = [
        str(BIN / "gunicorn"),
        "-k", "gthread", "--threads", "8", "-w", "1",
        "-b", f"127.0.0.1:{port}",
        "callcenter.wsgi:app",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        env=_environment(tmp_path, redis_url),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/healthz", process)
        yield base
    finally:
        _stop(process)


@pytest.mark.redis
@pytest.mark.timeout(90)
def test_gunicorn_serves_health_login_and_socketio(gunicorn: str) -> None:
    status, body = _get(f"{gunicorn}/healthz")
    assert status == 200 and json.loads(body) == {"status": "alive"}
    status, body = _get(f"{gunicorn}/readyz")
    assert status == 200
    assert json.loads(body) == {"status": "ready", "checks": {"database": True, "redis": True}}

    status, body = _get(f"{gunicorn}/login")
    assert status == 200 and 'name="csrf_token"' in body

    status, body = _get(f"{gunicorn}/socket.io/?EIO=4&transport=polling")
    assert status == 200 and body.startswith("0{")
    assert json.loads(body[1:])["upgrades"] == ["websocket"]

    status, body = _get(f"{gunicorn}/metrics")
    assert status == 200 and "callcenter_calls_ended_total" in body


@pytest.mark.redis
@pytest.mark.timeout(90)
def test_consume_applies_events_and_keeps_a_heartbeat(tmp_path: Path, redis_url: str) -> None:
    health = tmp_path / "consume.alive"
    port = _free_port()
    process = subprocess.Popen(
        [str(BIN / "callcenter"), "consume", "--health-file", str(health),
         "--heartbeat", "0.2", "--metrics-port", str(port)],
        env=_environment(tmp_path, redis_url),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        _wait_for(f"http://127.0.0.1:{port}/metrics", process)
        deadline = time.monotonic() + 10
        while not health.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert abs(float(health.read_text()) - time.time()) < 5

        RedisStreamsEventBus(redis_url).publish(
            CallEnded(call_id="no-such-call", outcome="no_answer", sip_status=480)
        )
        sample = 'callcenter_calls_ended_total{outcome="no_answer"} 1.0'
        deadline = time.monotonic() + 15
        while sample not in _get(f"http://127.0.0.1:{port}/metrics")[1]:
            assert time.monotonic() < deadline, "the consumer did not count call.ended"
            time.sleep(0.2)
    finally:
        code, err = _stop(process)
    assert code == 0, err
    assert not health.exists()


def test_consume_without_redis_says_so(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("CC_")}
    env["CC_INSTANCE_PATH"] = str(tmp_path / "instance")
    done = subprocess.run(
        [str(BIN / "callcenter"), "consume"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "callcenter consume needs CC_REDIS_URL" in done.stderr
