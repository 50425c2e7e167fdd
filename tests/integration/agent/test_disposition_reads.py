"""What a disposition reads (`dispositions.set_disposition`): the chosen code
of the call's campaign and whether any webhook is active come with the call's
one read; the note the agent sent is not read back once saved. The same
refusals in the same order, the same rows, and a `disposition.set` delivery
for each active subscriber of it, none for the others."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from callcenter.db import Database, utcnow
from callcenter.errors import DomainError
from callcenter.models import (
    Call,
    CampaignDisposition,
    Disposition,
    Note,
    WebhookDelivery,
    WebhookSubscription,
)
from callcenter.services import call_notes, dispositions
from callcenter.states import CallState, LeadState
from tests.integration.agent.agent_floor import build_floor, connected_call_row
from tests.support import statements


def _ended_call(database: Database) -> tuple[int, str]:
    with database.unit_of_work() as session:
        floor = build_floor(session, email=None)
        call = connected_call_row(session, floor)
        call.state, call.ended_at, call.lead.state = CallState.ENDED, utcnow(), LeadState.DIALING
        return floor.agent_id, call.id


def _reads_of(table: str, seen: list[str]) -> list[str]:
    return [s for s in seen if re.search(rf"\b(FROM|JOIN) {table}\b", s)]


def test_the_code_and_the_webhooks_come_with_the_calls_read(database: Database) -> None:
    agent_id, call_id = _ended_call(database)
    with database.unit_of_work() as session, statements(database) as seen:
        dispositions.set_disposition(session, agent_id, call_id, "no_decision", notes="call me")
    call_reads = [s for s in seen if s.startswith("SELECT calls.id")]
    assert len(call_reads) == 1
    assert _reads_of("campaign_dispositions", seen) == call_reads
    assert _reads_of("webhook_subscriptions", seen) == call_reads
    assert len(_reads_of("notes", seen)) == 1  # before the note is written, not after
    with database.sessions() as session:
        disposition = session.scalar(select(Disposition).where(Disposition.call_id == call_id))
        assert disposition is not None
        assert (disposition.code, disposition.notes) == ("no_decision", "call me")
        note = session.scalar(select(Note).where(Note.call_id == call_id))
        assert note is not None and note.text == "call me"
        assert session.scalars(select(WebhookDelivery)).all() == []


@pytest.mark.parametrize(
    ("events", "active", "delivered"),
    [
        (["disposition.set"], True, True),
        (["call.ended", "disposition.set"], True, True),
        (["call.ended"], True, False),
        (["disposition.set"], False, False),
    ],
    ids=["subscribed", "among others", "another event", "inactive"],
)
def test_a_subscriber_of_the_disposition_gets_it(
    database: Database, events: list[str], active: bool, delivered: bool
) -> None:
    agent_id, call_id = _ended_call(database)
    with database.unit_of_work() as session:
        subscription = WebhookSubscription(
            name="crm",
            url="https://crm.example/hook",
            secret="s" * 64,
            events=events,
            is_active=active,
            created_by_id=agent_id,
        )
        session.add(subscription)
    with database.unit_of_work() as session:
        dispositions.set_disposition(session, agent_id, call_id, "no_decision", notes="")
    with database.sessions() as session:
        found = [
            (
                d.subscription_id,
                d.event_type,
                d.payload["data"]["call_id"],
                d.payload["data"]["code"],
            )
            for d in session.scalars(select(WebhookDelivery))
        ]
    assert found == ([(subscription.id, "disposition.set", call_id, "no_decision")] * delivered)


def _refusal(database: Database, agent_id: int, call_id: str, code: str) -> tuple[str, str]:
    with database.unit_of_work() as session:
        with pytest.raises(DomainError) as refused:
            dispositions.set_disposition(session, agent_id, call_id, code)
        session.rollback()
    return type(refused.value).__name__, refused.value.error_id


def test_a_code_the_campaign_does_not_offer_is_refused_after_the_calls_own_refusals(
    database: Database,
) -> None:
    agent_id, call_id = _ended_call(database)
    with database.unit_of_work() as session:
        call = session.get(Call, call_id)
        assert call is not None
        code = session.scalar(
            select(CampaignDisposition).where(
                CampaignDisposition.campaign_id == call.campaign_id,
                CampaignDisposition.code == "no_decision",
            )
        )
        assert code is not None
        code.is_active = False
    choose = ("InvalidInput", "invalid-input")
    assert _refusal(database, agent_id, call_id, "no_decision") == choose  # inactive
    assert _refusal(database, agent_id, call_id, "no_such_code") == choose
    assert _refusal(database, agent_id, "no-such-call", "no_such_code")[0] == "NotFound"
    assert _refusal(database, agent_id + 1000, call_id, "no_such_code")[0] == "Forbidden"
    with database.sessions() as session:
        assert session.scalars(select(Disposition)).all() == []
        call = session.get(Call, call_id)
        assert call is not None and call.wrap_up_ended_at is None


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("new words", "new words"), ("", ""), (None, "typed before")],
    ids=["replaced", "cleared", "kept"],
)
def test_the_disposition_keeps_the_note_the_agent_ends_with(
    database: Database, sent: str | None, kept: str
) -> None:
    agent_id, call_id = _ended_call(database)
    with database.unit_of_work() as session:
        call_notes.save_notes(session, agent_id, call_id, "typed before")
    with database.unit_of_work() as session:
        dispositions.set_disposition(session, agent_id, call_id, "no_decision", notes=sent)
    with database.sessions() as session:
        disposition = session.scalar(select(Disposition).where(Disposition.call_id == call_id))
        assert disposition is not None and disposition.notes == kept
        notes = session.scalars(select(Note.text).where(Note.call_id == call_id)).all()
        assert notes == ([kept] if kept else [])
