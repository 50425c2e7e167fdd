"""The production topology's processes, started the way docs/deployment.md
starts them: gunicorn (callcenter.gunicorn_conf: gevent) serving callcenter.wsgi:app, and
`callcenter consume` beside it, on a temp SQLite file and the test Redis."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from callcenter.bus_redis import STREAM, RedisStreamsEventBus
from callcenter.db import Database
from callcenter.events import CallEnded
from callcenter.services import lead_import_jobs
from callcenter.states import ImportState
from tests.factories import make_campaign
from tests.integration.leads.test_lead_import_jobs import lead_file
from tests.integration.web_tier import environment, get, stop, wait_for, web_tier
from tests.support import free_port

BIN = Path(sys.executable).parent


@pytest.fixture
def gunicorn(tmp_path: Path, redis_url: str) -> Iterator[str]:
    assert (BIN / "gunicorn").exists(), "gunicorn is not installed in this environment"
    with web_tier(environment(tmp_path, redis_url), tmp_path) as base:
        yield base


@pytest.mark.redis
@pytest.mark.timeout(90)
def test_gunicorn_serves_health_login_and_socketio(gunicorn: str) -> None:
    status, body = get(f"{gunicorn}/healthz")
    assert status == 200 and json.loads(body) == {"status": "alive"}
    status, body = get(f"{gunicorn}/readyz")
    assert status == 200
    assert json.loads(body) == {"status": "ready", "checks": {"database": True, "redis": True}}

    status, body = get(f"{gunicorn}/login")
    assert status == 200 and 'name="csrf_token"' in body

    status, body = get(f"{gunicorn}/socket.io/?EIO=4&transport=polling")
    assert status == 401 and json.loads(body)["error"] == "login-required"

    status, body = get(f"{gunicorn}/metrics")
    assert status == 200 and "callcenter_calls_ended_total" in body
    # What the worker built at start is frozen out of the collector's reach.
    (frozen,) = [
        sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == "callcenter_gc_frozen_objects"
    ]
    assert frozen > 10_000


def _answer_after_a_pause(base: str, pause_s: float, requests: int) -> list[bytes]:
    """Over one connection: wait `pause_s` before each request, as a slow
    client does before its first and nginx's idle upstream connection does
    before its next; the status line of each answer ('' once it is closed)."""
    host, port = base.removeprefix("http://").split(":")
    lines: list[bytes] = []
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        reader = connection.makefile("rb")
        for _ in range(requests):
            time.sleep(pause_s)
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: cc\r\n\r\n")
            status = reader.readline()
            lines.append(status)
            if not status:
                break
            length = 0
            while (header := reader.readline()) not in (b"\r\n", b""):
                name, _, value = header.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            reader.read(length)
    return lines


@pytest.mark.redis
@pytest.mark.timeout(90)
def test_a_connection_quiet_for_seconds_is_still_answered(gunicorn: str) -> None:
    # gunicorn times the wait for a connection's first request, and for each
    # next one, with `keepalive` (2 s by default), and closes it without a
    # word: a client slowed down past that got no answer at all (under load,
    # test_socket_flood's sockets did), and nginx's idle upstream connection
    # (kept 60 s by default) got a 502 when it was reused.
    lines = _answer_after_a_pause(gunicorn, 3.0, requests=2)
    assert lines == [b"HTTP/1.1 200 OK\r\n"] * 2


@pytest.mark.redis
@pytest.mark.timeout(90)
def test_consume_applies_events_and_keeps_a_heartbeat(tmp_path: Path, redis_url: str) -> None:
    health = tmp_path / "consume.alive"
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "callcenter"), "consume", "--health-file", str(health),
         "--heartbeat", "0.2", "--metrics-port", str(port)],
        env=environment(tmp_path, redis_url),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{port}/metrics", process)
        deadline = time.monotonic() + 10
        while not health.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert abs(float(health.read_text()) - time.time()) < 5

        RedisStreamsEventBus(redis_url).publish(
            CallEnded(call_id="no-such-call", outcome="no_answer", sip_status=480)
        )
        sample = 'callcenter_calls_ended_total{outcome="no_answer"} 1.0'
        deadline = time.monotonic() + 15
        while sample not in get(f"http://127.0.0.1:{port}/metrics")[1]:
            assert time.monotonic() < deadline, "the consumer did not count call.ended"
            time.sleep(0.2)
    finally:
        code, err = stop(process)
    assert code == 0, err
    assert not health.exists()


@pytest.mark.redis
@pytest.mark.timeout(90)
def test_consume_runs_the_lead_imports_the_web_queued(tmp_path: Path, redis_url: str) -> None:
    env = environment(tmp_path, redis_url)
    database = Database(f"sqlite:///{env['CC_INSTANCE_PATH']}/callcenter.db")
    with database.unit_of_work() as session:
        campaign = make_campaign(session)
        lead_list_id = lead_import_jobs.queue_import(
            session, lead_file(3000), campaign_id=campaign.id, filename="leads.csv"
        ).id
    process = subprocess.Popen(
        [str(BIN / "callcenter"), "consume"], env=env, cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            with database.read_sessions() as session:
                progress = lead_import_jobs.progress(session, lead_list_id)
            if progress.finished:
                break
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, f"consume did not import: {progress}"
            time.sleep(0.2)
        assert progress.state is ImportState.DONE and progress.rows_read == 3000
    finally:
        code, err = stop(process)
        database.dispose()
    assert code == 0, err


def test_consume_without_redis_says_so(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("CC_")}
    env["CC_INSTANCE_PATH"] = str(tmp_path / "instance")
    done = subprocess.run(
        [str(BIN / "callcenter"), "consume"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "callcenter consume needs CC_REDIS_URL" in done.stderr


def _events_the_group_has_read(redis_url: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        groups = client.xinfo_groups(STREAM)
    except redis.ResponseError:  # no stream yet
        return 0
    finally:
        client.close()
    return sum(int(group["entries-read"] or 0) for group in groups)


@pytest.mark.redis
@pytest.mark.timeout(90)
@pytest.mark.parametrize("applies_events", ["true", "false"])
def test_a_web_process_reads_the_event_stream_only_when_it_applies_events(
    tmp_path: Path, redis_url: str, applies_events: str
) -> None:
    env = environment(tmp_path, redis_url, CC_WEB__APPLIES_EVENTS=applies_events)
    with web_tier(env, tmp_path) as base:
        assert get(f"{base}/readyz")[0] == 200
        RedisStreamsEventBus(redis_url).publish(
            CallEnded(call_id="no-such-call", outcome="no_answer", sip_status=480)
        )
        deadline = time.monotonic() + 3
        while not _events_the_group_has_read(redis_url) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _events_the_group_has_read(redis_url) == (1 if applies_events == "true" else 0)
