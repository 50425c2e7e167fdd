"""Dial-level changes are persisted with their reason; abandon tallies follow
the metric definitions (machines are not live answers)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from callcenter.db import Database, utcnow
from callcenter.models import Call
from callcenter.services import pacing_log
from callcenter.states import CallOutcome, CallState
from tests.factories import make_campaign, make_lead


def test_dial_level_history_keeps_level_and_reason(database: Database) -> None:
    now = utcnow()
    with database.unit_of_work() as session:
        campaign = make_campaign(session)
        pacing_log.record_dial_level(
            session,
            campaign_id=campaign.id,
            dial_level=1.0,
            reason="predictive pacing started",
            at=now,
        )
        pacing_log.record_dial_level(
            session,
            campaign_id=campaign.id,
            dial_level=1.8333,
            reason="agents logged in (2 -> 5)",
            at=now + timedelta(seconds=30),
        )
        campaign_id = campaign.id
    with database.sessions() as session:
        history = pacing_log.dial_level_history(session, campaign_id)
    assert [(row.dial_level, row.reason) for row in history] == [
        (Decimal("1.833"), "agents logged in (2 -> 5)"),
        (Decimal("1.000"), "predictive pacing started"),
    ]


def test_abandon_tallies_count_live_answers_and_abandons(database: Database) -> None:
    now = utcnow()
    outcomes = [CallOutcome.ANSWERED, CallOutcome.ABANDONED, CallOutcome.MACHINE, CallOutcome.BUSY]
    with database.unit_of_work() as session:
        campaign = make_campaign(session, abandon_window_days=30)
        for number, outcome in enumerate(outcomes):
            lead = make_lead(session, campaign)
            answered = outcome is not CallOutcome.BUSY
            session.add(
                Call(
                    id=f"c{number:031d}",
                    campaign_id=campaign.id,
                    lead_id=lead.id,
                    customer_id=lead.customer_id,
                    attempt=1,
                    phone_e164="+989120000000",
                    state=CallState.ENDED,
                    outcome=outcome,
                    dialed_at=now - timedelta(days=10 if number == 0 else 0, seconds=5),
                    answered_at=now if answered else None,
                )
            )
        campaign_id = campaign.id
    with database.sessions() as session:
        today, window = pacing_log.abandon_tallies(session, campaign_id, now=now)
    assert window == pacing_log.AbandonCount(live_answers=2, abandoned=1)
    assert today == pacing_log.AbandonCount(live_answers=1, abandoned=1)  # 10 days ago is not today
