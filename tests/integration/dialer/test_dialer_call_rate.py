"""The trunk's calls a second against the real hopper and database: a floor
that goes ready at once has claimed (lead 'dialing') only the leads a tick
dialed; the others wait in the hopper for the next ticks."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from callcenter.db import Database
from callcenter.models import Call, DialMode, Lead
from callcenter.states import LeadState
from dialer.call_rate import CallRate
from dialer.simulated_carrier import Distribution, SimulatedCarrier, SimulationProfile
from tests.integration.dialer.floor import build_floor

# Every call rings for a minute: none ends while the test looks.
LONG_RING = SimulationProfile(
    answer=0,
    machine=0,
    busy=0,
    no_answer=1,
    failed=0,
    ring_time=Distribution(60.0, 0.0, 60.0, 60.0),
    setup_delay_s=0.0,
)


@pytest.mark.parametrize("mode", [DialMode.PREDICTIVE, DialMode.PROGRESSIVE])
def test_a_tick_claims_only_the_leads_the_calls_a_second_lets_it_dial(
    database: Database, mode: DialMode
) -> None:
    floor = build_floor(database, agents_count=12, leads_count=40, dial_mode=mode)
    seconds = [0.0]
    worker = floor.worker(
        SimulatedCarrier(LONG_RING, seed=1),
        call_rate=CallRate(4, clock=lambda: seconds[0]),
    )

    def claimed_and_calls() -> tuple[int, int]:
        with database.sessions() as session:
            dialing = session.scalar(
                select(func.count(Lead.id)).where(Lead.state == LeadState.DIALING)
            )
            calls = session.scalar(select(func.count(Call.id)))
        return dialing or 0, calls or 0

    async def scenario() -> list[tuple[int, int, int]]:
        seen = []
        await worker.start()
        try:
            for _ in range(3):
                await worker.tick()
                seen.append((worker.placed, *claimed_and_calls()))
                seconds[0] += 1.0
        finally:
            await worker.shutdown()
        return seen

    try:
        seen = asyncio.run(scenario())
    finally:
        floor.bus.wait_until_idle()
        floor.bus.stop()
    # (placed, leads claimed, calls rows) after each tick, one second apart.
    assert seen == [(4, 4, 4), (8, 8, 8), (12, 12, 12)]


def test_two_campaigns_share_a_scarce_calls_a_second_in_turn(database: Database) -> None:
    """One call a second, two predictive campaigns on one dialer both wanting
    calls: over four seconds each has dialed two (not four and none)."""
    first = build_floor(database, agents_count=4, leads_count=10, dial_mode=DialMode.PREDICTIVE)
    second = build_floor(database, agents_count=4, leads_count=10, dial_mode=DialMode.PREDICTIVE)
    seconds = [0.0]
    worker = first.worker(
        SimulatedCarrier(LONG_RING, seed=1), call_rate=CallRate(1, clock=lambda: seconds[0])
    )

    async def scenario() -> None:
        await worker.start()
        try:
            for _ in range(4):
                await worker.tick()
                seconds[0] += 1.0
        finally:
            await worker.shutdown()

    try:
        asyncio.run(scenario())
    finally:
        for floor in (first, second):
            floor.bus.wait_until_idle()
            floor.bus.stop()
    with database.sessions() as session:
        dialed = dict(
            session.execute(
                select(Call.campaign_id, func.count(Call.id)).group_by(Call.campaign_id)
            ).all()
        )
    assert dialed == {first.campaign_id: 2, second.campaign_id: 2}
