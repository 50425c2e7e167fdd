"""The worker end to end on the simulated carrier: the in-process bus, the
calls service writing the rows, agents made ready through the agents service
and finishing their calls through the disposition service."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import select

from callcenter import metrics
from callcenter.db import Database, utcnow
from callcenter.events import CallConnected, CallEnded
from callcenter.models import AgentStateChange, AmdMode, Call, DialLevelChange, DialMode
from callcenter.services import pacing_log
from callcenter.states import AmdAction, AmdResult, CallOutcome, CallState, LeadState
from dialer.embedded import DialerThread
from dialer.simulated_carrier import Distribution, SimulatedCarrier, SimulationProfile
from tests.integration.dialer.floor import AgentsFinishing, Floor, build_floor
from tests.support import wait_until as wait_for

FAST_WORLD = SimulationProfile(
    answer=0.5,
    machine=0.1,
    busy=0.15,
    no_answer=0.15,
    failed=0.1,
    ring_time=Distribution(3.0, 0.5, 1.0, 10.0),
    talk_time=Distribution(20.0, 0.5, 5.0, 60.0),
    machine_message=Distribution(10.0, 0.3, 5.0),
    setup_delay_s=0.5,
    time_scale=0.05,
)
NOT_FINAL = (LeadState.NEW, LeadState.DIALING)
# Enough leads for several rounds per agent and every kind of outcome the seeds draw.
LEADS = 12


def run_floor(floor: Floor, seed: int, **config: object) -> tuple[int, AgentsFinishing]:
    worker = floor.worker(SimulatedCarrier(FAST_WORLD, seed=seed), tick_s=0.2, **config)
    finishing = AgentsFinishing(floor.database)
    finishing.start()
    thread = DialerThread(worker).start()
    try:
        wait_for(floor.settled, 120, "every lead dialed and every call finished")
    finally:
        thread.stop()
        finishing.stop()
        floor.bus.wait_until_idle()
        floor.bus.stop()
    assert finishing.errors == []
    return worker.placed, finishing


def check_rows(floor: Floor, placed: int) -> dict[str, int]:
    calls, leads = floor.rows()
    assert len(calls) == placed
    assert all(lead.state not in NOT_FINAL for lead in leads)
    assert {lead.id for lead in leads} == {call.lead_id for call in calls}
    assert len({(call.lead_id, call.attempt) for call in calls}) == len(calls)
    for call in calls:
        assert call.state is CallState.ENDED and call.ended_at is not None, call.id
        if call.outcome is CallOutcome.ABANDONED:
            assert call.answered_at is not None and call.connected_at is None
        if call.connected_at is not None:
            assert call.agent_id in floor.agent_ids
            assert call.wrap_up_ended_at is not None  # the agent's disposition closed it
        else:
            assert call.agent_id is None
            assert call.outcome is not CallOutcome.ANSWERED
    ended = [e for e in floor.published if isinstance(e, CallEnded)]
    connected = [e for e in floor.published if isinstance(e, CallConnected)]
    assert len(ended) == placed
    assert {e.call_id for e in connected} == {c.id for c in calls if c.connected_at}
    return Counter(str(call.outcome) for call in calls)


@pytest.mark.parametrize("mode", [DialMode.PREDICTIVE, DialMode.PROGRESSIVE])
def test_every_lead_dialed_and_recorded(database: Database, mode: DialMode) -> None:
    floor = build_floor(database, agents_count=3, leads_count=LEADS, dial_mode=mode)
    placed, finishing = run_floor(floor, seed=7)

    outcomes = check_rows(floor, placed)
    assert placed == LEADS  # one attempt per lead: the retries are not due yet
    assert finishing.done == sum(1 for call in floor.rows()[0] if call.connected_at)
    live = sum(n for name, n in outcomes.items() if name in ("answered", "abandoned"))
    print(f"{mode}: {dict(outcomes)}; abandoned {outcomes['abandoned']}/{live} live answers")
    with database.sessions() as session:
        _, window = pacing_log.abandon_tallies(session, floor.campaign_id, now=utcnow())
        assert window == pacing_log.AbandonCount(live, outcomes["abandoned"])
        levels = list(session.scalars(select(DialLevelChange)))
        reasons = {row.reason for row in levels}
    assert levels and all(row.campaign_id == floor.campaign_id for row in levels)
    assert all(reasons)


def test_a_live_answer_no_agent_takes_is_abandoned(database: Database) -> None:
    """One agent, two answered calls at once: one is connected, the other gets
    the abandon message after the window and is recorded as abandoned."""
    floor = build_floor(database, agents_count=1, leads_count=2, dial_mode=DialMode.PREDICTIVE)
    everyone_answers = SimulationProfile.every_call("answer", talk_s=600.0)
    worker = floor.worker(SimulatedCarrier(everyone_answers, seed=1), abandon_after_s=0.5)

    async def scenario() -> None:
        await worker.start()
        (campaign,) = await worker.load_campaigns()
        worker.leads.refill([campaign.id], now=worker.clock())
        await worker.refresh_agents()
        first, second = await asyncio.to_thread(
            worker.leads.next_leads, campaign.id, 2, now=worker.clock()
        )
        calls = [
            await worker.place_call(campaign, first),
            await worker.place_call(campaign, second),
        ]
        while not any(c.connected_at for c in calls) or any(
            c.answered_at is None or (c.waiting and not c.abandoning) for c in calls
        ):
            await asyncio.sleep(0.05)
        taken = next(c for c in calls if c.connected_at)
        while any(not c.ended for c in calls if c is not taken):
            await asyncio.sleep(0.05)
        await worker.carrier.hang_up(taken.call_id)
        await worker.shutdown()

    finishing = AgentsFinishing(database)
    finishing.start()
    try:
        asyncio.run(scenario())
        wait_for(floor.settled, 30, "both calls recorded")
    finally:
        finishing.stop()
        floor.bus.wait_until_idle()
        floor.bus.stop()
    calls, leads = floor.rows()
    outcomes = sorted(str(call.outcome) for call in calls)
    assert outcomes == ["abandoned", "answered"]
    abandoned = next(c for c in calls if c.outcome is CallOutcome.ABANDONED)
    assert abandoned.answered_at is not None and abandoned.connected_at is None
    lead = next(lead for lead in leads if lead.id == abandoned.lead_id)
    assert lead.state is LeadState.RETRY and lead.last_outcome == "abandoned"
    with database.sessions() as session:
        changes = list(session.scalars(select(AgentStateChange).order_by(AgentStateChange.id)))
    assert [str(c.to_state) for c in changes][-4:] == ["reserved", "on_call", "wrap_up", "ready"]


def test_with_amd_on_machines_never_reach_an_agent(database: Database) -> None:
    floor = build_floor(
        database,
        agents_count=3,
        leads_count=LEADS,
        dial_mode=DialMode.PREDICTIVE,
        amd_mode=AmdMode.HANGUP,
    )
    placed, _ = run_floor(floor, seed=11)

    outcomes = check_rows(floor, placed)
    calls, _ = floor.rows()
    machines = [call for call in calls if call.outcome is CallOutcome.MACHINE]
    assert len(machines) == outcomes["machine"] >= 1
    for call in machines:
        assert (call.amd_result, call.amd_action) == (AmdResult.MACHINE, AmdAction.HUNG_UP)
        assert call.connected_at is None and call.agent_id is None
        assert call.answered_at is not None and call.amd_decision_ms
    for call in calls:
        if call.answered_at is not None and call.outcome is not CallOutcome.MACHINE:
            assert (call.amd_result, call.amd_action) == (
                AmdResult.HUMAN,
                AmdAction.PASSED_TO_AGENT,
            )
    live = outcomes["answered"] + outcomes["abandoned"]
    with database.sessions() as session:
        _, window = pacing_log.abandon_tallies(session, floor.campaign_id, now=utcnow())
    assert window == pacing_log.AbandonCount(live, outcomes["abandoned"])


def test_with_amd_off_the_agent_marks_a_machine_and_it_is_no_contact(database: Database) -> None:
    floor = build_floor(database, agents_count=2, leads_count=6, dial_mode=DialMode.PROGRESSIVE)
    worker = floor.worker(SimulatedCarrier(FAST_WORLD, seed=5), tick_s=0.2)
    finishing = AgentsFinishing(floor.database, code="answering_machine")
    finishing.start()
    thread = DialerThread(worker).start()
    try:
        wait_for(floor.settled, 120, "every lead dialed and every call finished")
    finally:
        thread.stop()
        finishing.stop()
        floor.bus.wait_until_idle()
        floor.bus.stop()
    assert finishing.errors == [] and finishing.done >= 1, finishing.done
    calls, leads = floor.rows()
    taken = [call for call in calls if call.connected_at is not None]
    assert len(taken) == finishing.done
    assert all(call.outcome is CallOutcome.MACHINE for call in taken)
    assert all(call.amd_result is None for call in calls)  # nothing was detected
    with database.sessions() as session:
        counts = metrics.call_counts(
            session.execute(
                select(*metrics.CALL_COUNT_COLUMNS).where(Call.campaign_id == floor.campaign_id)
            ).one()
        )
    assert (counts.contacts, counts.handled, counts.machines) == (0, len(taken), len(taken))
    marked = {call.lead_id for call in taken}
    assert all(
        lead.state is LeadState.RETRY and lead.last_outcome == "answering_machine"
        for lead in leads
        if lead.id in marked
    )
