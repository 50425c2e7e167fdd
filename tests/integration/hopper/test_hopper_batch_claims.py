"""Leads claimed a batch at a time (`HopperFeeder.next_leads`: one transaction
per batch, not one per lead), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import select

from callcenter.db import Database
from callcenter.models import DncHit, DncHitSource, Lead
from callcenter.services import dnc, lead_lifecycle
from callcenter.states import LeadState
from dialer.hopper import HopperFeeder, MemoryHopper
from tests.factories import make_campaign, make_lead

# Saturday 2025-01-04 11:30 in Tehran (open 09:00-21:00).
NOW = datetime(2025, 1, 4, 8, 0, tzinfo=UTC)
LEADS = 60
BATCH = 7


def _campaign_with_leads(
    database: Database, count: int, *, rising_priority: bool = False
) -> tuple[int, list[int]]:
    """The campaign and its leads' ids, in the order the hopper serves them
    (`rising_priority`: each lead made has a higher priority than the last,
    so the hopper serves them newest first)."""
    with database.unit_of_work() as session:
        campaign = make_campaign(session)
        lead_ids = [
            make_lead(session, campaign, priority=n if rising_priority else 0).id
            for n in range(count)
        ]
        return campaign.id, lead_ids[::-1] if rising_priority else lead_ids


def test_two_dialers_claiming_batches_in_parallel_never_get_the_same_lead(
    database: Database,
) -> None:
    """Both hoppers were filled from the same rows, so every batch the one
    leases overlaps what the other leases: the database decides."""
    campaign_id, lead_ids = _campaign_with_leads(database, LEADS)
    feeders = [HopperFeeder(database, MemoryHopper()) for _ in range(2)]
    for feeder in feeders:
        assert feeder.refill(campaign_id, now=NOW) == LEADS
    taken: list[list[int]] = [[], []]
    errors: list[BaseException] = []
    start = threading.Barrier(len(feeders))

    def work(index: int) -> None:
        start.wait()
        try:
            while batch := feeders[index].next_leads(campaign_id, BATCH, now=NOW):
                assert len(batch) <= BATCH
                taken[index].extend(lead.lead_id for lead in batch)
        except BaseException as exc:
            errors.append(exc)
            raise

    threads = [threading.Thread(target=work, args=(index,)) for index in range(len(feeders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert set(taken[0]).isdisjoint(taken[1])
    everyone = taken[0] + taken[1]
    assert max(Counter(everyone).values()) == 1 and sorted(everyone) == sorted(lead_ids)
    with database.unit_of_work() as session:
        rows = session.execute(
            select(Lead.state, Lead.attempts).where(Lead.campaign_id == campaign_id)
        ).all()
    assert set(rows) == {(LeadState.DIALING, 1)}


def test_a_batch_drops_the_refused_leads_and_fills_up_from_the_hopper(
    database: Database,
) -> None:
    campaign_id, lead_ids = _campaign_with_leads(database, 6, rising_priority=True)
    blocked, already_taken = lead_ids[1], lead_ids[2]
    feeder = HopperFeeder(database, MemoryHopper())
    feeder.refill(campaign_id, now=NOW)
    # After this hopper was filled: another dialer claims one, one number is blocked.
    lead_lifecycle.claim_counting_dnc(database, already_taken, now=NOW, campaign_id=campaign_id)
    with database.unit_of_work() as session:
        phone = session.get(Lead, blocked).customer.phone_e164  # type: ignore[union-attr]
        dnc.add_number(
            session, phone, campaign_id=campaign_id, source="t", reason="", actor_id=None
        )

    batch = feeder.next_leads(campaign_id, 4, now=NOW)

    # In the hopper's order, not the order the rows were claimed in (by id).
    expected = [lead for lead in lead_ids if lead not in (blocked, already_taken)]
    assert [lead.lead_id for lead in batch] == expected
    assert [lead.attempt for lead in batch] == [1, 1, 1, 1]
    assert feeder.next_leads(campaign_id, 4, now=NOW) == []
    with database.unit_of_work() as session:
        hits = session.scalars(select(DncHit).where(DncHit.lead_id == blocked)).all()
        assert [hit.source for hit in hits] == [DncHitSource.CLAIM]
        assert session.get(Lead, blocked).attempts == 0  # type: ignore[union-attr]
