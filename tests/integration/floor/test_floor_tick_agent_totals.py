"""A tick sends the agents' day totals that changed since the last one, not
every agent's every second; all of them every FULL_EVERY ticks and at the
first tick after this process takes the lead. The supervisor's page keeps
the totals it is not sent (floor.js applies the entries a snapshot has)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.db import Database
from callcenter.live_counters import InProcessCounters
from callcenter.services.floor.projection import SNAPSHOT_EVENT, LiveFloor
from callcenter.services.floor.sent_totals import FULL_EVERY
from tests.factories import make_campaign

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
AGENTS = (7001, 7002, 7003)


def test_a_tick_sends_the_agents_totals_that_changed(sqlite_database: Database) -> None:
    with sqlite_database.unit_of_work() as session:
        campaign_id = make_campaign(session).id
    sent: list[dict[str, Any]] = []
    counters = InProcessCounters()
    floor = LiveFloor(
        counters=counters,
        database=sqlite_database,
        emit=lambda name, data, _room: sent.append(data) if name == SNAPSHOT_EVENT else None,
        tz=ZoneInfo("Asia/Tehran"),
        clock=lambda: NOW,
    )
    day = floor.local_day(NOW)
    floor.ensure_built(day)  # today's numbers from the (empty) database, before these
    for agent_id in AGENTS:
        counters.set_agent(
            agent_id, {"state": "ready", "since": NOW.isoformat(), "campaign_id": campaign_id}
        )

    def call_for(agent_id: int, appointments: int = 0) -> None:
        counters.add(
            day,
            campaign_id,
            {"dials": 1},
            agent_id=agent_id,
            agent_deltas={"calls": 1, "appointments": appointments},
        )

    def tick() -> dict[str, Any]:
        floor.tick()
        totals: dict[str, Any] = sent[-1]["agent_totals"]
        return totals

    call_for(7001)
    every = {
        "7001": {"calls": 1, "appointments": 0},
        "7002": {"calls": 0, "appointments": 0},
        "7003": {"calls": 0, "appointments": 0},
    }
    assert tick() == every
    assert tick() == {}
    call_for(7002, appointments=1)
    assert tick() == {"7002": {"calls": 1, "appointments": 1}}
    assert tick() == {}

    # every FULL_EVERY ticks, all of them, changed or not
    for _ in range(FULL_EVERY - 4):
        assert tick() == {}
    everyone_now = every | {"7002": {"calls": 1, "appointments": 1}}
    assert tick() == everyone_now
    assert tick() == {}

    # an agent joining the campaign is sent; so is everyone once this process
    # has not led the floor for a tick (another process sent what changed)
    counters.set_agent(
        7004, {"state": "ready", "since": NOW.isoformat(), "campaign_id": campaign_id}
    )
    assert tick() == {"7004": {"calls": 0, "appointments": 0}}
    floor._totals_sent.forget()
    assert tick() == everyone_now | {"7004": {"calls": 0, "appointments": 0}}

    # what floor_state reads at a supervisor's connect is every agent's
    assert floor.snapshot()[campaign_id]["agent_totals"].keys() == {
        "7001",
        "7002",
        "7003",
        "7004",
    }
