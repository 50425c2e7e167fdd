"""The kept abandon tallies equal the plain full counts of `pacing_log`
tick after tick: across minutes, the campaign's midnight, the window's edge
moving over old calls, calls that settle late (ended, marked a machine in
wrap-up, closed by the recovery after a restart), and in a fresh process."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import count

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.db import Database
from callcenter.models import Call, Campaign
from callcenter.services import abandon_tallies, call_recovery, pacing_log
from callcenter.services.abandon_tallies import SETTLE_AFTER, RollingTallies
from callcenter.states import CallDirection, CallOutcome, CallState
from tests.factories import make_campaign, make_lead, make_user

# 10 s before midnight in Tehran (UTC+03:30), where the campaign's today starts.
BEFORE_MIDNIGHT = datetime(2026, 3, 10, 20, 29, 50, tzinfo=UTC)
_ids = count()


def _call(
    session: Session,
    campaign: Campaign,
    dialed_at: datetime,
    outcome: CallOutcome | None,
    *,
    answered: bool = True,
    agent_id: int | None = None,
    wrapped_up: bool = True,
    direction: CallDirection = CallDirection.OUTBOUND,
) -> Call:
    lead = make_lead(session, campaign)
    call = Call(
        id=f"k{next(_ids):031d}",
        campaign_id=campaign.id,
        lead_id=lead.id,
        customer_id=lead.customer_id,
        agent_id=agent_id,
        attempt=1,
        phone_e164="+989120000000",
        direction=direction,
        state=CallState.ENDED if outcome is not None else CallState.ANSWERED,
        outcome=outcome,
        dialed_at=dialed_at,
        answered_at=dialed_at + timedelta(seconds=8) if answered else None,
        connected_at=dialed_at + timedelta(seconds=9) if agent_id else None,
        wrap_up_ended_at=dialed_at + timedelta(seconds=90) if agent_id and wrapped_up else None,
    )
    session.add(call)
    session.flush()
    return call


def _agrees(database: Database, tallies: RollingTallies, campaign_id: int, now: datetime) -> None:
    with database.unit_of_work() as session:
        kept = tallies.abandon_tallies(session, campaign_id, now=now)
    with database.sessions() as session:
        assert kept == pacing_log.abandon_tallies(session, campaign_id, now=now), now


def test_a_campaign_with_no_calls_counts_nothing(database: Database) -> None:
    with database.unit_of_work() as session:
        campaign_id = make_campaign(session).id
    with database.unit_of_work() as session:
        today, window = RollingTallies().abandon_tallies(session, campaign_id, now=BEFORE_MIDNIGHT)
    assert today == window == pacing_log.AbandonCount(live_answers=0, abandoned=0)


def test_kept_tallies_follow_the_clock_across_minutes_midnight_and_the_window_edge(
    database: Database,
) -> None:
    now = BEFORE_MIDNIGHT
    outcomes = [CallOutcome.ANSWERED, CallOutcome.ABANDONED, CallOutcome.MACHINE, None]
    with database.unit_of_work() as session:
        campaign = make_campaign(session, abandon_window_days=2, timezone="Asia/Tehran")
        rng = random.Random(32)
        for _ in range(160):
            dialed = now - timedelta(seconds=rng.uniform(-200, 2 * 86400 + 600))
            outcome = rng.choice([*outcomes[:3], CallOutcome.NO_ANSWER])
            _call(session, campaign, dialed, outcome, answered=outcome is not CallOutcome.NO_ANSWER)
        # On the window's edge and on midnight, to the microsecond.
        for edge in (now - timedelta(days=2, seconds=-20), now + timedelta(seconds=10)):
            _call(session, campaign, edge, CallOutcome.ABANDONED)
            _call(session, campaign, edge - timedelta(microseconds=1), CallOutcome.ANSWERED)
        _call(session, campaign, now - timedelta(hours=3), CallOutcome.ABANDONED,
              direction=CallDirection.INBOUND)  # fmt: skip
        campaign_id = campaign.id
    tallies = RollingTallies()
    for step in [0, 1, 9, 10, 11, 30, 59, 60, 61, 200, 400, 1000, 3600, 7300]:
        _agrees(database, tallies, campaign_id, now + timedelta(seconds=step))
    # A new day's calls, then a fresh process.
    with database.unit_of_work() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        _call(session, campaign, now + timedelta(seconds=7400), CallOutcome.ABANDONED)
    _agrees(database, tallies, campaign_id, now + timedelta(seconds=7500))
    _agrees(database, RollingTallies(), campaign_id, now + timedelta(seconds=7500))


def test_calls_that_settle_late_are_counted_as_they_end_up(database: Database) -> None:
    now = BEFORE_MIDNIGHT
    old = now - timedelta(hours=2)
    with database.unit_of_work() as session:
        campaign = make_campaign(session, abandon_window_days=30)
        agent = make_user(session)
        waiting = _call(session, campaign, old, None)  # answered, no agent yet
        in_wrap_up = _call(session, campaign, old, CallOutcome.ANSWERED, agent_id=agent.id,
                           wrapped_up=False)  # fmt: skip
        left_open = _call(session, campaign, old - timedelta(hours=5), None)
        _call(session, campaign, old, CallOutcome.ANSWERED, agent_id=agent.id)
        campaign_id, ids = campaign.id, (waiting.id, in_wrap_up.id, left_open.id)
        agent_id = agent.id
    tallies = RollingTallies()
    _agrees(database, tallies, campaign_id, now)
    with database.unit_of_work() as session:
        waiting = session.get_one(Call, ids[0])
        waiting.state, waiting.outcome = CallState.ENDED, CallOutcome.ABANDONED
    _agrees(database, tallies, campaign_id, now + timedelta(seconds=1))
    with database.unit_of_work() as session:  # the agent's disposition: a machine
        in_wrap_up = session.get_one(Call, ids[1])
        in_wrap_up.outcome = CallOutcome.MACHINE
        in_wrap_up.wrap_up_ended_at = now + timedelta(seconds=2)
        assert in_wrap_up.agent_id == agent_id
    _agrees(database, tallies, campaign_id, now + timedelta(seconds=2))
    with database.unit_of_work() as session:  # a dialer starts and closes what was left open
        closed = call_recovery.close_stale_calls(
            session, now=now + timedelta(seconds=3), older_than=timedelta(hours=6)
        )
        assert closed == [ids[2]]
    _agrees(database, tallies, campaign_id, now + timedelta(seconds=3))
    _agrees(database, RollingTallies(), campaign_id, now + timedelta(seconds=4))


def test_a_call_written_late_but_within_the_settling_time_counts(database: Database) -> None:
    now = BEFORE_MIDNIGHT
    with database.unit_of_work() as session:
        campaign = make_campaign(session)
        _call(session, campaign, now - timedelta(hours=1), CallOutcome.ANSWERED)
        campaign_id = campaign.id
    tallies = RollingTallies()
    _agrees(database, tallies, campaign_id, now)
    late = timedelta(minutes=4)
    assert late < SETTLE_AFTER
    with database.unit_of_work() as session:  # the consumer writes the row of a failed write
        campaign = session.get_one(Campaign, campaign_id)
        _call(session, campaign, now - late, CallOutcome.ABANDONED)
    _agrees(database, tallies, campaign_id, now + timedelta(seconds=1))


def test_a_longer_window_or_another_zone_counts_afresh(database: Database) -> None:
    now = BEFORE_MIDNIGHT
    with database.unit_of_work() as session:
        campaign = make_campaign(session, abandon_window_days=1, timezone="Asia/Tehran")
        for hours in (3, 20, 30, 50):
            _call(session, campaign, now - timedelta(hours=hours), CallOutcome.ABANDONED)
        campaign_id = campaign.id
    tallies = RollingTallies()
    _agrees(database, tallies, campaign_id, now)
    with database.unit_of_work() as session:
        campaign = session.get_one(Campaign, campaign_id)
        campaign.abandon_window_days, campaign.timezone = 3, "America/New_York"
    _agrees(database, tallies, campaign_id, now + timedelta(seconds=1))
    _agrees(database, tallies, campaign_id, now - timedelta(minutes=30))  # a clock set back


def test_random_floor_tick_by_tick(database: Database) -> None:
    """Calls placed each tick, some open for minutes, the window's edge over
    old ones, ticks a second to minutes apart: every tick agrees."""
    rng = random.Random(7)
    now = BEFORE_MIDNIGHT - timedelta(minutes=20)
    with database.unit_of_work() as session:
        campaign = make_campaign(session, abandon_window_days=1, timezone="Asia/Tehran")
        agent_id = make_user(session).id
        other = make_campaign(session)  # its open calls are not this campaign's
        _call(session, other, now - timedelta(hours=3), None)
        for _ in range(120):
            dialed = now - timedelta(seconds=rng.uniform(0, 86400 + 1800))
            _call(session, campaign, dialed, rng.choice(list(CallOutcome)))
        campaign_id = campaign.id
    tallies = RollingTallies()
    for _ in range(40):
        now += timedelta(seconds=rng.choice([1, 1, 2, 17, 60, 300, 900]))
        with database.unit_of_work() as session:
            campaign = session.get_one(Campaign, campaign_id)
            for _ in range(rng.randint(0, 3)):
                _call(session, campaign, now - timedelta(seconds=rng.uniform(0, 2)),
                      None, agent_id=agent_id, wrapped_up=False)  # fmt: skip
            still_open = session.scalars(
                select(Call).where(Call.campaign_id == campaign_id, abandon_tallies.OPEN)
            ).all()
            for call in still_open:
                if rng.random() < 0.3:
                    call.state = CallState.ENDED
                    call.outcome = call.outcome or rng.choice(
                        [CallOutcome.ANSWERED, CallOutcome.ABANDONED, CallOutcome.MACHINE]
                    )
                elif call.state is CallState.ENDED and rng.random() < 0.5:
                    if rng.random() < 0.5:
                        call.outcome = CallOutcome.MACHINE
                    call.wrap_up_ended_at = now
        _agrees(database, tallies, campaign_id, now)
