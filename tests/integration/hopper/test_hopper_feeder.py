"""The hopper fed from a real database (SQLite and PostgreSQL), with both stores."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import select

from callcenter.db import Database
from callcenter.models import CampaignStatus, DispositionCode, DncHit, DncHitSource, Lead
from callcenter.services import disposition_codes, dnc, hopper_feed, lead_lifecycle
from callcenter.services.reports import compliance_report
from callcenter.services.reports.filters import ReportFilters
from callcenter.states import CallOutcome, LeadState, Role
from dialer.hopper import Hopper, HopperFeeder, MemoryHopper, RedisHopper
from tests.factories import make_campaign, make_customer, make_lead, make_user

# Saturday 2025-01-04 11:30 in Tehran (open 09:00-21:00), 03:00 in New York.
NOW = datetime(2025, 1, 4, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "redis"])
def hopper(request: pytest.FixtureRequest) -> Iterator[Hopper]:
    if request.param == "memory":
        yield MemoryHopper()
    else:
        yield RedisHopper.from_url(request.getfixturevalue("redis_url"))


def _seed(database: Database, **campaign_fields: object) -> dict[str, int]:
    with database.unit_of_work() as session:
        campaign = make_campaign(session, **campaign_fields)
        agent = make_user(session, Role.AGENT)
        ids = {"campaign": campaign.id, "agent": agent.id}
        ids["new"] = make_lead(session, campaign).id
        ids["high"] = make_lead(session, campaign, priority=5).id
        ids["retry_due"] = make_lead(
            session,
            campaign,
            state=LeadState.RETRY,
            attempts=1,
            next_attempt_at=NOW - timedelta(minutes=5),
        ).id
        ids["retry_later"] = make_lead(
            session,
            campaign,
            state=LeadState.RETRY,
            attempts=1,
            next_attempt_at=NOW + timedelta(minutes=5),
        ).id
        ids["exhausted"] = make_lead(session, campaign, state=LeadState.RETRY, attempts=5).id
        ids["done"] = make_lead(session, campaign, state=LeadState.SALE).id
        ids["new_york"] = make_lead(
            session, campaign, make_customer(session, timezone="America/New_York")
        ).id
        blocked = make_lead(session, campaign)
        dnc.add_number(
            session,
            blocked.customer.phone_e164,
            campaign_id=campaign.id,
            source="t",
            reason="",
            actor_id=None,
        )
        ids["dnc"] = blocked.id
        ids["callback"] = make_lead(
            session,
            campaign,
            state=LeadState.CALLBACK,
            attempts=5,
            next_attempt_at=NOW - timedelta(minutes=1),
        ).id
    return ids


def _drain(feeder: HopperFeeder, campaign_id: int, agent: int | None = None) -> list[int]:
    taken = []
    while (claimed := feeder.next_lead(campaign_id, now=NOW, for_agent_id=agent)) is not None:
        taken.append(claimed.lead_id)
    return taken


def test_refill_offers_only_dialable_leads_in_order(database: Database, hopper: Hopper) -> None:
    ids = _seed(database)
    feeder = HopperFeeder(database, hopper)
    assert feeder.refill(ids["campaign"], now=NOW) == 4
    assert _drain(feeder, ids["campaign"]) == [
        ids["callback"],
        ids["high"],
        ids["retry_due"],  # due 5 minutes ago, before the new lead was created
        ids["new"],
    ]
    with database.unit_of_work() as session:
        states = dict(session.execute(select(Lead.id, Lead.state)).tuples().all())
    assert states[ids["new"]] is LeadState.DIALING
    assert states[ids["dnc"]] is LeadState.NEW
    assert states[ids["new_york"]] is LeadState.NEW
    hopper.clear(ids["campaign"])


def test_a_paused_campaign_offers_nothing(database: Database, hopper: Hopper) -> None:
    ids = _seed(database, status=CampaignStatus.PAUSED)
    assert HopperFeeder(database, hopper).refill(ids["campaign"], now=NOW) == 0


def test_dnc_added_after_the_refill_is_caught_at_dialing(
    database: Database, hopper: Hopper
) -> None:
    ids = _seed(database)
    feeder = HopperFeeder(database, hopper)
    feeder.refill(ids["campaign"], now=NOW)
    with database.unit_of_work() as session:
        phone = session.get(Lead, ids["high"]).customer.phone_e164  # type: ignore[union-attr]
        dnc.add_number(session, phone, campaign_id=None, source="t", reason="", actor_id=None)
    taken = _drain(feeder, ids["campaign"])
    assert ids["high"] not in taken and len(taken) == 3
    assert hopper.size(ids["campaign"]) == 0 and hopper.leased(ids["campaign"]) == 0
    with database.sessions() as session:
        hits = session.execute(select(DncHit.lead_id, DncHit.source, DncHit.phone_e164)).all()
        assert hits == [(ids["high"], DncHitSource.CLAIM, phone)]
        prevented = compliance_report(session, ReportFilters()).campaigns
        assert [(row.campaign_id, row.dnc_prevented) for row in prevented] == [(ids["campaign"], 1)]


def test_agent_only_callback_is_offered_to_that_agent(database: Database, hopper: Hopper) -> None:
    ids = _seed(database)
    with database.unit_of_work() as session:
        lead = make_lead(session, session.get(Lead, ids["new"]).campaign)  # type: ignore[union-attr]
        lead_lifecycle.claim_attempt(session, lead.id, now=NOW - timedelta(days=1))
        lead_lifecycle.settle_attempt(
            session,
            lead_id=lead.id,
            call_id=None,
            outcome=CallOutcome.ANSWERED,
            disposition=disposition_codes.built_in(DispositionCode.CALLBACK),
            callback_at=NOW - timedelta(minutes=5),
            callback_agent_id=ids["agent"],
            actor_id=ids["agent"],
            now=NOW - timedelta(days=1),
        )
        mine = lead.id
    feeder = HopperFeeder(database, hopper)
    feeder.refill(ids["campaign"], now=NOW)
    assert mine not in _drain(feeder, ids["campaign"])
    assert _drain(feeder, ids["campaign"], agent=ids["agent"]) == [mine]


def test_agent_only_callback_goes_to_anyone_after_the_campaigns_wait(
    database: Database, hopper: Hopper
) -> None:
    ids = _seed(database)
    with database.unit_of_work() as session:
        campaign = session.get(Lead, ids["new"]).campaign  # type: ignore[union-attr]
        campaign.callback_open_after_minutes = 15
        lead = make_lead(session, campaign)
        lead_lifecycle.claim_attempt(session, lead.id, now=NOW - timedelta(days=1))
        lead_lifecycle.settle_attempt(
            session,
            lead_id=lead.id,
            call_id=None,
            outcome=CallOutcome.ANSWERED,
            disposition=disposition_codes.built_in(DispositionCode.CALLBACK),
            callback_at=NOW - timedelta(minutes=16),
            callback_agent_id=ids["agent"],
            actor_id=ids["agent"],
            now=NOW - timedelta(days=1),
        )
        late = lead.id
    feeder = HopperFeeder(database, hopper)
    feeder.refill(ids["campaign"], now=NOW)
    assert feeder.own_callback(ids["campaign"], agent_id=ids["agent"], now=NOW) is None
    assert late in _drain(feeder, ids["campaign"])


def test_own_callback_claims_only_the_agents_callbacks(database: Database, hopper: Hopper) -> None:
    ids = _seed(database)
    with database.unit_of_work() as session:
        lead = make_lead(session, session.get(Lead, ids["new"]).campaign)  # type: ignore[union-attr]
        lead_lifecycle.claim_attempt(session, lead.id, now=NOW - timedelta(days=1))
        lead_lifecycle.settle_attempt(
            session,
            lead_id=lead.id,
            call_id=None,
            outcome=CallOutcome.ANSWERED,
            disposition=disposition_codes.built_in(DispositionCode.CALLBACK),
            callback_at=NOW - timedelta(minutes=1),
            callback_agent_id=ids["agent"],
            actor_id=ids["agent"],
            now=NOW - timedelta(days=1),
        )
        mine = lead.id
    feeder = HopperFeeder(database, hopper)
    feeder.refill(ids["campaign"], now=NOW)
    claimed = feeder.own_callback(ids["campaign"], agent_id=ids["agent"], now=NOW)
    assert claimed is not None and claimed.lead_id == mine
    assert feeder.own_callback(ids["campaign"], agent_id=ids["agent"], now=NOW) is None


def test_racing_feeders_with_stale_hoppers_claim_each_attempt_once(database: Database) -> None:
    """Two dialers whose hoppers were filled from the same rows: the database
    claim is the final guard, so every lead is dialed exactly once."""
    with database.unit_of_work() as session:
        campaign = make_campaign(session)
        for _ in range(40):
            make_lead(session, campaign)
        campaign_id = campaign.id
    feeders = [HopperFeeder(database, MemoryHopper()) for _ in range(3)]
    for feeder in feeders:
        feeder.refill(campaign_id, now=NOW)
    taken: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(feeder: HopperFeeder) -> None:
        try:
            mine = _drain(feeder, campaign_id)
        except BaseException as exc:
            errors.append(exc)
            raise
        with lock:
            taken.extend(mine)

    threads = [threading.Thread(target=work, args=(feeder,)) for feeder in feeders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(taken) == 40 and max(Counter(taken).values()) == 1
    with database.unit_of_work() as session:
        attempts = session.scalars(select(Lead.attempts).where(Lead.campaign_id == campaign_id))
        assert set(attempts) == {1}


def test_redis_hopper_is_rebuilt_from_the_database_after_a_restart(
    database: Database, redis_url: str
) -> None:
    ids = _seed(database)
    feeder = HopperFeeder(database, RedisHopper.from_url(redis_url))
    feeder.refill_all(now=NOW)
    first = feeder.next_lead(ids["campaign"], now=NOW)
    assert first is not None
    redis.Redis.from_url(redis_url).flushdb()  # Redis lost everything
    assert feeder.next_lead(ids["campaign"], now=NOW) is None
    assert feeder.refill_all(now=NOW) == {ids["campaign"]: 3}
    assert first.lead_id not in _drain(feeder, ids["campaign"])


def test_count_dialable(database: Database) -> None:
    ids = _seed(database)
    with database.unit_of_work() as session:
        assert hopper_feed.count_dialable(session, ids["campaign"], now=NOW) == 4


class _HopperLostAfterTheClaim(MemoryHopper):
    """Redis going away between the database's claim and the hopper's
    `complete` (a restart, as in faults/test_redis_restart)."""

    def complete(self, lease: Any) -> bool:
        raise redis.ConnectionError("Redis went away")


def test_a_lead_claimed_in_the_database_is_dialed_when_the_hopper_fails_after(
    database: Database,
) -> None:
    ids = _seed(database)
    feeder = HopperFeeder(database, _HopperLostAfterTheClaim())
    assert feeder.refill(ids["campaign"], now=NOW) == 4
    claimed = feeder.next_lead(ids["campaign"], now=NOW)
    assert claimed is not None and claimed.lead_id == ids["callback"]
    with database.unit_of_work() as session:
        assert session.get(Lead, ids["callback"]).state is LeadState.DIALING  # type: ignore[union-attr]
    # the offer comes back when its lease ends; the database refuses it then
    again = HopperFeeder(database, MemoryHopper())
    again.refill(ids["campaign"], now=NOW)
    assert ids["callback"] not in _drain(again, ids["campaign"])
