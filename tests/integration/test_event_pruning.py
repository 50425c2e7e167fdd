"""processed_events is pruned past a horizon longer than any redelivery:
what may still come again stays deduplicated, what cannot is forgotten."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from callcenter.db import Database, utcnow
from callcenter.events import CallDialing
from callcenter.models import Call, CallStateChange, ProcessedEvent
from callcenter.services import calls, event_pruning
from tests.factories import make_campaign, make_lead


def test_pruning_forgets_old_events_and_still_dedupes_a_redelivery_within_the_horizon(
    database: Database,
) -> None:
    with database.unit_of_work() as session:
        campaign = make_campaign(session)
        lead_id = make_lead(session, campaign).id
        campaign_id = campaign.id
    dialing = CallDialing(call_id="p1", campaign_id=campaign_id, lead_id=lead_id, attempt=1)
    with database.unit_of_work() as session:
        assert calls.apply_event(session, dialing) is True
    now = utcnow()
    old_ids = [f"old{n}" for n in range(5)]
    with database.unit_of_work() as session:
        # Applied five minutes before the horizon runs out: still inside it.
        session.execute(
            update(ProcessedEvent)
            .where(ProcessedEvent.event_id == dialing.event_id)
            .values(processed_at=now - event_pruning.HORIZON + timedelta(minutes=5))
        )
        for number, event_id in enumerate(old_ids):
            session.add(
                ProcessedEvent(
                    event_id=event_id,
                    handler="calls",
                    processed_at=now - event_pruning.HORIZON - timedelta(minutes=number + 1),
                )
            )
    with database.sessions() as session:
        transitions_before = len(
            session.scalars(select(CallStateChange).where(CallStateChange.call_id == "p1")).all()
        )

    # Batches of two: three transactions for five rows.
    assert event_pruning.prune(database, now=now, batch=2) == len(old_ids)
    assert event_pruning.prune(database, now=now, batch=2) == 0

    with database.sessions() as session:
        kept = session.scalars(select(ProcessedEvent.event_id)).all()
    assert kept == [dialing.event_id]

    # The bus delivers the kept event again: nothing is applied twice.
    with database.unit_of_work() as session:
        assert calls.apply_event(session, dialing) is False
    with database.sessions() as session:
        call = session.get(Call, "p1")
        assert call is not None and call.attempt == 1
        transitions = session.scalars(
            select(CallStateChange).where(CallStateChange.call_id == "p1")
        ).all()
        assert len(transitions) == transitions_before


def test_pruning_stops_after_its_batches(database: Database) -> None:
    now = utcnow()
    with database.unit_of_work() as session:
        for number in range(7):
            session.add(
                ProcessedEvent(
                    event_id=f"e{number}",
                    handler="calls",
                    processed_at=now - timedelta(days=30, minutes=number),
                )
            )
    assert event_pruning.prune(database, now=now, batch=3, max_batches=2) == 6
    with database.sessions() as session:
        # The oldest go first.
        assert session.scalars(select(ProcessedEvent.event_id)).all() == ["e0"]
