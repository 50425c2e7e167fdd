"""PostgreSQL unavailable for 10 seconds (stopped with `pg_ctl stop -m
immediate`, started again) in the middle of a busy period, with gunicorn
serving the web, `callcenter consume` and `callcenter dialer` (simulated
carrier) running on a private cluster and a private Redis.

What must hold:
- meanwhile the web answers 503 with a clear message (an HTML page for a
  browser, a JSON body for a script), never a 500 or a traceback; readiness
  says the database is unreachable; the first request after it is back works;
- the consumers keep the events the dialer publishes meanwhile (calls in
  flight end during the outage) and apply them once PostgreSQL is back;
- no event is lost: every call.* event on the stream is applied (it has its
  processed_events row), none went to the dead letters, every call the
  dialer placed has its row and the outcome its call.ended event gave.
"""

from __future__ import annotations

import html
import json
import re
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from callcenter import migrate
from callcenter.db import Database, utcnow
from callcenter.models import ProcessedEvent
from callcenter.services.calls import HANDLER
from tests.integration.dialer.topology import (
    SupervisorFeed,
    environment,
    start_dialer,
    start_process,
    start_web,
)
from tests.integration.faults.call_floor import (
    FinishingAgents,
    build_site,
    calls_rows,
    dead_letters,
    ended_calls,
    stop_dialer_once_settled,
    stream_events,
)
from tests.integration.faults.servers import PrivatePostgres, PrivateRedis
from tests.support import wait_until

OUTAGE_S = 10.0


def _answers(http: requests.Session, url: str, **headers: str) -> tuple[int, str]:
    reply = http.get(url, headers=headers, timeout=10, allow_redirects=False)
    return reply.status_code, reply.text


@pytest.mark.timeout(240)
def test_postgresql_down_for_ten_seconds_loses_no_event(
    tmp_path: Path, private_postgres: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    url = private_postgres.create_database("callcenter")
    migrate.upgrade(url)
    database = Database(url)
    site = build_site(database, agents_count=4, leads_count=80)
    env = environment(url, private_redis.url, tmp_path / "instance", env="test")
    consume = start_process(
        "consume", [sys.executable, "-m", "callcenter.cli", "consume"], env, tmp_path
    )
    web, base_url = start_web(env, tmp_path)
    supervisor = SupervisorFeed(base_url, site.supervisor)
    agents = FinishingAgents(database)
    agents.start()
    dialer = start_dialer(env, tmp_path, "--tick", "0.2", "--sim-time-scale", "0.05")
    processes = (consume, web, dialer)
    floor_page = f"{base_url}/supervisor/"
    try:
        wait_until(lambda: ended_calls(database) >= 6, 90, "calls to end before the outage")

        private_postgres.stop_now()
        down_at, down = utcnow(), time.monotonic()
        page = _answers(supervisor.http, floor_page)
        api = _answers(supervisor.http, floor_page, Accept="application/json")
        ready = _answers(requests.Session(), f"{base_url}/readyz")  # as a load balancer asks
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down)))
        private_postgres.start()
        up_at = utcnow()

        assert _answers(supervisor.http, floor_page)[0] == 200, (
            "the first request after PostgreSQL is back failed"
        )
        wait_until(
            lambda: ended_calls(database, dialed_after=up_at) >= 6,
            90,
            "the dialer to place (and the consumers to record) calls again",
        )
        assert all(process.alive() for process in processes), "a process gave up"

        redis_client = private_redis.client()
        placed = stop_dialer_once_settled(dialer, database, redis_client)
    finally:
        agents.stop()
        supervisor.close()
        for process in processes:
            process.stop()
        for process in processes:  # shown by pytest when the test fails
            print(f"--- {process.name}\n{process.output}")

    assert api[0] == 503, api
    answer = json.loads(api[1])
    assert answer["error"] == "database-unavailable" and answer["message"], answer
    assert page[0] == 503 and "Traceback" not in page[1], page
    shown = re.search(r'<p id="error-message">([^<]*)</p>', page[1])
    assert shown and html.unescape(shown.group(1)) == answer["message"], page
    assert ready[0] == 503 and json.loads(ready[1])["checks"]["database"] is False, ready

    events = [event for event in stream_events(redis_client) if event.type.startswith("call.")]
    during = [event for event in events if down_at <= _occurred(event.data) < up_at]
    assert during, "no call event was published while PostgreSQL was down"
    with database.sessions() as session:
        applied = set(
            session.scalars(
                select(ProcessedEvent.event_id).where(ProcessedEvent.handler == HANDLER)
            )
        )
    lost = [event for event in events if event.data["event_id"] not in applied]
    assert not lost, f"{len(lost)} of {len(events)} call events never applied: {lost[:3]}"
    assert dead_letters(redis_client) == 0

    calls = {call.id: call for call in calls_rows(database)}
    assert len(calls) == placed, f"the dialer placed {placed} calls, {len(calls)} were recorded"
    for event in events:
        if event.type == "call.ended":
            call = calls[event.data["call_id"]]
            assert call.outcome is not None and call.outcome.value == event.data["outcome"]
    assert not agents.errors, agents.errors


def _occurred(data: dict[str, str]) -> datetime:
    return datetime.fromisoformat(data["occurred_at"])
