"""`callcenter dialer` and `callcenter consume` as real processes on PostgreSQL
and Redis, with their health ports: /healthz (the main loop runs), /readyz
(database, Redis, carrier), /metrics (hopper depth, pacer level, event
backlog, calls by outcome), and JSON logs that name calls by id and never a
customer's number or name."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, text

from callcenter.db import Database
from callcenter.models import Customer, DialMode
from tests.integration.dialer.floor import AgentsFinishing, build_floor
from tests.support import free_port
from tests.support import wait_until as wait_for

pytestmark = [pytest.mark.redis, pytest.mark.timeout(240)]


class Process:
    """A `callcenter` subcommand with its health port; output kept in files
    (a full pipe would block it)."""

    def __init__(
        self, args: list[str], env: dict[str, str], tmp_path: Path, name: str, port: int
    ) -> None:
        self.port = port
        self.stdout_path = tmp_path / f"{name}.out"
        self.stderr_path = tmp_path / f"{name}.err"
        self._files: list[IO[str]] = [
            self.stdout_path.open("w"),
            self.stderr_path.open("w"),
        ]
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "callcenter.cli", *args, "--health-port", str(port)],
            env=env,
            stdout=self._files[0],
            stderr=self._files[1],
            text=True,
        )

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def json(self, path: str) -> tuple[int, Any]:
        status, body = self.get(path)
        return status, json.loads(body)

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.popen.poll() is not None:
                pytest.fail(f"{what}: the process exited {self.popen.returncode}: {self.output()}")
            try:
                if condition():
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass  # not listening yet
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.output()}"
            time.sleep(0.1)

    def stop(self) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            code = self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            code = self.popen.wait()
        for file in self._files:
            file.close()
        return code

    def output(self) -> str:
        return self.stdout_path.read_text() + self.stderr_path.read_text()

    def log_records(self) -> list[dict[str, Any]]:
        lines = self.stderr_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


def _environment(database_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("CC_")}
    env.update(
        CC_ENV="test",
        CC_DATABASE_URL=database_url,
        CC_REDIS_URL=redis_url,
        CC_LOG_FORMAT="json",
        CC_INSTANCE_PATH=str(tmp_path / "instance"),
    )
    return env


@contextmanager
def running(*args: str, env: dict[str, str], tmp_path: Path, name: str) -> Iterator[Process]:
    process = Process(list(args), env, tmp_path, name, free_port())
    try:
        yield process
    finally:
        process.stop()


def _samples(body: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def _database_url(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=False)


def test_dialer_and_consumer_report_health_metrics_and_log_ids_not_numbers(
    tmp_path: Path, postgres_database: Database, redis_url: str
) -> None:
    floor = build_floor(
        postgres_database, agents_count=2, leads_count=6, dial_mode=DialMode.PROGRESSIVE
    )
    floor.bus.stop()  # the processes below carry the events, through Redis
    campaign = (("campaign_id", str(floor.campaign_id)),)
    env = _environment(_database_url(postgres_database), redis_url, tmp_path)
    finishing = AgentsFinishing(postgres_database)
    with (
        running(
            "consume", "--heartbeat", "0.2", env=env, tmp_path=tmp_path, name="consume"
        ) as consume,
        running(
            "dialer", "--tick", "0.2", "--sim-time-scale", "0.05",
            env=env, tmp_path=tmp_path, name="dialer",
        ) as dialer,
    ):  # fmt: skip
        dialer.wait_until(lambda: dialer.get("/healthz")[0] == 200, 60, "dialer /healthz")
        dialer.wait_until(lambda: dialer.get("/readyz")[0] == 200, 60, "dialer /readyz")
        assert dialer.json("/readyz")[1] == {
            "status": "ready",
            "checks": {"database": True, "redis": True, "carrier": True},
        }
        assert dialer.json("/healthz")[1]["status"] == "alive"
        frozen = _samples(dialer.get("/metrics")[1], "callcenter_gc_frozen_objects")
        assert frozen[()] > 10_000  # what it built at start, out of the collector's reach

        def gauges_set() -> bool:
            body = dialer.get("/metrics")[1]
            return (
                campaign in _samples(body, "callcenter_hopper_depth")
                and _samples(body, "callcenter_pacer_dial_level").get(campaign) == 1.0
            )

        dialer.wait_until(gauges_set, 30, "hopper depth and pacer level on the dialer's /metrics")

        finishing.start()
        try:
            wait_for(floor.settled, 120, "the dialer process to dial every lead")
        finally:
            finishing.stop()
        assert finishing.errors == []
        calls, _leads = floor.rows()
        assert len(calls) == 6

        consume.wait_until(lambda: consume.get("/readyz")[0] == 200, 30, "consume /readyz")
        assert consume.json("/readyz")[1]["checks"] == {"database": True, "redis": True}
        assert consume.json("/healthz")[1]["status"] == "alive"
        assert _samples(consume.get("/metrics")[1], "callcenter_gc_frozen_objects")[()] > 10_000

        def consumer_caught_up() -> bool:
            body = consume.get("/metrics")[1]
            ended = sum(_samples(body, "callcenter_calls_ended_total").values())
            backlog = _samples(body, "callcenter_event_bus_backlog")
            caught_up = backlog.get((("group", "callcenter"), ("state", "pending"))) == 0
            return ended == 6 and caught_up

        consume.wait_until(consumer_caught_up, 30, "the consumer to count the 6 ended calls")
        dialer.wait_until(
            lambda: _samples(dialer.get("/metrics")[1], "callcenter_hopper_depth")[campaign] == 0,
            30,
            "the hopper depth gauge to fall to 0",
        )
        assert (("group", "dialer"),) in _samples(
            dialer.get("/metrics")[1], "callcenter_event_bus_oldest_unacked_seconds"
        )

    assert dialer.popen.returncode == 0, dialer.output()
    assert consume.popen.returncode == 0, consume.output()

    records = dialer.log_records()
    ended = [record for record in records if " ended: " in record["message"]]
    assert {record["call_id"] for record in ended} == {call.id for call in calls}
    assert {record["lead_id"] for record in ended} == {call.lead_id for call in calls}
    assert all(record["campaign_id"] == floor.campaign_id for record in ended)

    with postgres_database.sessions() as session:
        customers = list(session.scalars(select(Customer)))
    output = dialer.output() + consume.output()
    assert "Traceback" not in output
    assert "[phone" not in output, "a phone number reached a log call (masked, but logged)"
    for customer in customers:
        digits = customer.phone_e164.removeprefix("+98")
        assert digits not in output, f"{customer.phone_e164} in the logs"
        assert customer.last_name not in output


def test_dialer_liveness_fails_while_its_tick_is_stuck_and_recovers(
    tmp_path: Path, postgres_database: Database, redis_url: str
) -> None:
    """The tick blocks on a locked table: the process still answers, but is
    no longer alive (a supervisor would restart it), while the database
    itself still answers readiness."""
    floor = build_floor(
        postgres_database, agents_count=1, leads_count=1, dial_mode=DialMode.PROGRESSIVE
    )
    floor.bus.stop()
    env = _environment(_database_url(postgres_database), redis_url, tmp_path)
    with running(
        "dialer", "--tick", "0.2", "--stale-after", "1.5",
        env=env, tmp_path=tmp_path, name="dialer",
    ) as dialer:  # fmt: skip
        dialer.wait_until(lambda: dialer.get("/readyz")[0] == 200, 60, "dialer /readyz")
        with postgres_database.engine.connect() as connection:
            connection.execute(text("LOCK TABLE campaigns IN ACCESS EXCLUSIVE MODE"))
            dialer.wait_until(lambda: dialer.get("/healthz")[0] == 503, 30, "liveness to fail")
            body = dialer.json("/healthz")[1]
            assert body["status"] == "stalled" and "main loop has not run" in body["reason"]
            assert dialer.json("/readyz")[1]["checks"]["database"] is True
            connection.rollback()
        dialer.wait_until(lambda: dialer.get("/healthz")[0] == 200, 30, "liveness to recover")
    assert dialer.popen.returncode == 0, dialer.output()


def test_consumer_is_alive_but_not_ready_without_redis(
    tmp_path: Path, postgres_database: Database
) -> None:
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    env = _environment(_database_url(postgres_database), unreachable, tmp_path)
    with running(
        "consume", "--heartbeat", "0.2", env=env, tmp_path=tmp_path, name="consume"
    ) as consume:
        consume.wait_until(lambda: consume.get("/healthz")[0] == 200, 60, "consume /healthz")
        status, body = consume.json("/readyz")
        assert status == 503
        assert body == {
            "status": "unavailable",
            "checks": {"database": True, "redis": False},
            "reason": "Redis unreachable",
        }
