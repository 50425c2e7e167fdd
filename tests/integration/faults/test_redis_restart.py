"""Redis restarted in the middle of a busy period, its data gone (no
persistence): gunicorn serving the web, `callcenter consume` and
`callcenter dialer` (simulated carrier) run on through it.

What must hold, and what this test checks:
- every process reconnects by itself: none is restarted; the dialer places
  calls again, the consumer and the web apply the events again, and the
  supervisor's page (its Socket.IO connection was never dropped) gets the
  live floor's pushes again, sent by the other processes through the
  Socket.IO message queue on the new Redis;
- the hopper is rebuilt from the database (the dialer dials again, and
  reports its depth again);
- nothing recorded is lost: every call the dialer placed has its row and its
  outcome, events published while Redis was down waited in the publisher's
  outbox, events Redis lost before they were consumed were sent again; no
  lead is dialed twice and none is left in an attempt;
- the counters recover: once the floor is quiet, the supervisor's floor
  shows today's dials, live answers, contacts and abandons equal to what
  the database says, every agent in the state of their agent_status row,
  and no call in progress that is not.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callcenter.db import Database, utcnow
from callcenter.live_counters import RedisCounters
from callcenter.services.floor.projection import HOPPER_STATUS, LiveFloor
from callcenter.services.floor.rebuild import totals_from_db
from callcenter.settings import load_settings
from callcenter.states import LeadState
from tests.integration.dialer.topology import (
    SupervisorFeed,
    environment,
    start_dialer,
    start_process,
    start_web,
)
from tests.integration.faults.call_floor import (
    FinishingAgents,
    agent_states,
    build_site,
    calls_rows,
    ended_calls,
    leads_rows,
    stop_dialer_once_settled,
)
from tests.integration.faults.servers import PrivateRedis
from tests.support import wait_until

OUTAGE_S = 2.0  # Redis down this long: calls in flight end meanwhile
COUNTS = ("dials", "live_answers", "contacts", "abandoned")


class FloorPushes:
    """The `floor_delta` pushes with call changes a supervisor's page
    receives, with their time."""

    def __init__(self, feed: SupervisorFeed) -> None:
        self._lock = threading.Lock()
        self.arrivals: list[float] = []
        feed.client.on("floor_delta", self._on_delta)

    def _on_delta(self, data: dict[str, Any]) -> None:
        if not data["calls"]:
            return
        with self._lock:
            self.arrivals.append(time.monotonic())

    def since(self, moment: float) -> int:
        with self._lock:
            return sum(1 for at in self.arrivals if at > moment)


def count_agents_as_the_web_does(database: Database, redis_url: str) -> LiveFloor:
    """The agents' dispositions are committed by this test (standing in for
    their browsers' requests); a web worker counts such commits into the
    shared counters with this same ORM hook."""
    floor = LiveFloor(
        counters=RedisCounters(redis_url),
        database=database,
        emit=lambda _name, _data, _room: None,
        tz=ZoneInfo(load_settings(environ={}).locale.timezone),
    )
    floor.watch(database)
    return floor


@pytest.mark.postgres
@pytest.mark.timeout(240)
def test_a_redis_restart_loses_nothing_and_every_process_recovers(
    tmp_path: Path, postgres_database: Database, private_redis: PrivateRedis
) -> None:
    database = postgres_database
    site = build_site(database, agents_count=4, leads_count=60)
    env = environment(database.url, private_redis.url, tmp_path / "instance", env="test")
    floor = count_agents_as_the_web_does(database, private_redis.url)
    consume = start_process(
        "consume", [sys.executable, "-m", "callcenter.cli", "consume"], env, tmp_path
    )
    web, base_url = start_web(env, tmp_path)
    supervisor = SupervisorFeed(base_url, site.supervisor)
    pushes = FloorPushes(supervisor)
    agents = FinishingAgents(database)
    agents.start()
    dialer = start_dialer(env, tmp_path, "--tick", "0.2", "--sim-time-scale", "0.05")
    processes = (consume, web, dialer)
    try:
        wait_until(lambda: ended_calls(database) >= 8, 90, "calls to end before the restart")

        private_redis.kill()
        time.sleep(OUTAGE_S)
        restarted_at, restarted = utcnow(), time.monotonic()
        private_redis.start()

        wait_until(
            lambda: ended_calls(database, dialed_after=restarted_at) >= 8,
            90,
            "the dialer to place (and the consumers to record) calls again after the restart",
        )
        wait_until(
            lambda: pushes.since(restarted) > 0,
            30,
            "the supervisor's page to get live floor pushes through the new Redis",
        )
        counters = RedisCounters(private_redis.url)
        wait_until(
            lambda: f"{HOPPER_STATUS}{site.campaign_id}" in counters.statuses(),
            30,
            "the dialer to report the rebuilt hopper's depth",
        )
        assert all(process.alive() for process in processes), "a process gave up on Redis"

        redis_client = private_redis.client()
        placed = stop_dialer_once_settled(dialer, database, redis_client)
        state = supervisor.floor_state()
    finally:
        agents.stop()
        supervisor.close()
        for process in processes:
            process.stop()
        for process in processes:  # shown by pytest when the test fails
            print(f"--- {process.name}\n{process.output}")

    calls = calls_rows(database)
    assert len(calls) == placed, f"the dialer placed {placed} calls, {len(calls)} were recorded"
    assert all(call.outcome is not None for call in calls)
    attempts = Counter((call.lead_id, call.attempt) for call in calls)
    assert max(attempts.values()) == 1, "a lead was dialed twice for one attempt"
    per_lead = Counter(call.lead_id for call in calls)
    for lead in leads_rows(database):
        assert lead.state is not LeadState.DIALING, f"lead {lead.id} left in an attempt"
        assert lead.attempts == per_lead[lead.id], f"lead {lead.id}: attempts != calls"
    assert not agents.errors, agents.errors

    today = floor.local_day(utcnow())
    with database.read_sessions() as session:
        db_totals, _ = totals_from_db(session, today, tz=floor.tz)
    (campaign,) = [c for c in state["campaigns"] if c["campaign_id"] == site.campaign_id]
    live = {name: campaign["today"][name] for name in COUNTS}
    recorded = {name: round(db_totals[site.campaign_id].get(name, 0)) for name in COUNTS}
    assert live == recorded, "the live floor's figures differ from the database's"
    shown = {agent["agent_id"]: agent["state"] for agent in state["agents"]}
    assert shown == agent_states(database, site.agent_ids)
    assert state["calls"] == []
