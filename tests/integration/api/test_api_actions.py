"""Callbacks, campaign pause/resume, a call's outcome and the appointments
through /api/v1/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.db import utcnow
from callcenter.models import (
    Appointment,
    AuditEntry,
    Callback,
    Campaign,
    CampaignStatus,
    Disposition,
    Lead,
    MeetingKind,
    StepAction,
    StepOutcome,
)
from callcenter.states import DispositionCategory, LeadState, Role
from tests.factories import make_campaign, make_lead, make_user
from tests.integration.api.conftest import Api, new_token
from tests.integration.recording.recorded_calls import make_call, record_call


def test_a_callback_is_scheduled_for_an_agent_and_the_lead_waits_for_it(
    api: Api, app_session: Session
) -> None:
    campaign = make_campaign(app_session)
    agent = make_user(app_session, Role.AGENT)
    lead = make_lead(app_session, campaign, state=LeadState.RETRY)
    fresh = make_lead(app_session, campaign)
    client = api.with_token(new_token(app_session, Role.SUPERVISOR, [campaign]))
    due = (utcnow() + timedelta(hours=3)).replace(microsecond=0)

    made = client.call(
        "POST",
        f"/api/v1/leads/{lead.id}/callbacks",
        json={"due_at": due.isoformat(), "agent_id": agent.id, "note": "after lunch"},
    )

    assert made.status_code == 201
    assert made.json()["agent_id"] == agent.id
    app_session.commit()
    app_session.expire_all()
    waiting = app_session.get(Lead, lead.id)
    assert waiting is not None and waiting.state is LeadState.CALLBACK
    assert waiting.next_attempt_at == due
    callback = app_session.get(Callback, made.json()["id"])
    assert callback is not None and callback.due_at == due and callback.note == "after lunch"

    path = f"/api/v1/leads/{lead.id}/callbacks"
    past = {"due_at": (utcnow() - timedelta(minutes=1)).isoformat()}
    assert client.call("POST", path, json=past).status_code == 422
    naive = {"due_at": "2030-01-01T10:00:00"}
    assert client.call("POST", path, json=naive).status_code == 422
    not_agent = {"due_at": due.isoformat(), "agent_id": 999}
    assert client.call("POST", path, json=not_agent).status_code == 422
    never_called = client.call(
        "POST", f"/api/v1/leads/{fresh.id}/callbacks", json={"due_at": due.isoformat()}
    )
    assert never_called.status_code == 409, "a new lead is dialed first (the lead state machine)"


def test_a_campaign_is_paused_and_resumed(api: Api, app_session: Session) -> None:
    campaign = make_campaign(app_session)
    client = api.with_token(new_token(app_session, Role.MANAGER, [campaign]))

    paused = client.call("POST", f"/api/v1/campaigns/{campaign.id}/pause")
    assert paused.json() == {"id": campaign.id, "status": "paused"}
    app_session.commit()
    app_session.expire_all()
    assert app_session.get(Campaign, campaign.id).status is CampaignStatus.PAUSED  # type: ignore[union-attr]
    resumed = client.call("POST", f"/api/v1/campaigns/{campaign.id}/resume")
    assert resumed.json()["status"] == "active"
    assert client.call("POST", "/api/v1/campaigns/999/pause").status_code == 404
    app_session.commit()
    app_session.expire_all()
    actions = app_session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.target_type == "campaign")
        .order_by(AuditEntry.id)
    ).all()
    assert actions == [
        "campaign.paused", "api.campaign.paused", "campaign.resumed", "api.campaign.resumed",
    ]  # fmt: skip


def test_a_call_is_read_with_its_outcome_path_rejection_and_recording(
    app: Flask, api: Api, app_session: Session, tmp_path: Path
) -> None:
    campaign = make_campaign(app_session)
    agent = make_user(app_session, Role.AGENT)
    call = make_call(app_session, campaign, agent)
    for seq, (step, action) in enumerate([(1, "enter"), (2, "enter"), (4, "enter"), (4, "reject")]):
        app_session.add(
            StepOutcome(
                call_id=call.id,
                seq=seq,
                step_number=step,
                action=StepAction(action),
                via="jump" if step == 4 and action == "enter" else "next",
                reason_code="no_budget" if action == "reject" else None,
                reason_text="No budget this year" if action == "reject" else None,
                agent_id=agent.id,
            )
        )
    app_session.add(
        Disposition(
            call_id=call.id,
            code="not_interested",
            category=DispositionCategory.FINAL,
            notes="polite",
            agent_id=agent.id,
        )
    )
    record_call(app_session, app.extensions["cc_recording_store"], call, tmp_path)
    bare = make_call(app_session, campaign, None)
    app_session.commit()
    client = api.with_token(new_token(app_session, Role.SUPERVISOR, [campaign]))

    read = client.call("GET", f"/api/v1/calls/{call.id}").json()

    assert read["disposition"]["code"] == "not_interested"
    assert [(s["step"], s["via"]) for s in read["script_path"]] == [
        (1, "next"), (2, "next"), (4, "jump"),
    ]  # fmt: skip
    assert read["rejection"] == {
        "step": 4,
        "reason_code": "no_budget",
        "reason": "No budget this year",
    }
    assert read["recording"]["url"].endswith(f"/recordings/{call.id}")
    assert len(read["recording"]["sha256"]) == 64
    empty = client.call("GET", f"/api/v1/calls/{bare.id}").json()
    assert (empty["disposition"], empty["rejection"], empty["recording"]) == (None, None, None)
    assert client.call("GET", "/api/v1/calls/nope").status_code == 404


def test_appointments_are_listed_by_time_within_the_tokens_campaigns(
    api: Api, app_session: Session
) -> None:
    mine, other = make_campaign(app_session), make_campaign(app_session)
    agent = make_user(app_session, Role.AGENT)
    start = datetime(2026, 12, 20, 6, 30, tzinfo=UTC)
    for campaign, hours in ((mine, 2), (mine, 0), (other, 1), (mine, 48)):
        lead = make_lead(app_session, campaign)
        app_session.add(
            Appointment(
                customer_id=lead.customer_id,
                lead_id=lead.id,
                campaign_id=campaign.id,
                booked_by_id=agent.id,
                owner_id=agent.id,
                starts_at=start + timedelta(hours=hours),
                ends_at=start + timedelta(hours=hours, minutes=30),
                kind=MeetingKind.IN_PERSON,
                location="Tehran, Valiasr St.",
            )
        )
    app_session.commit()
    client = api.with_token(new_token(app_session, Role.MANAGER, [mine]))

    listed = client.call(
        "GET",
        "/api/v1/appointments",
        params={"since": start.isoformat(), "until": (start + timedelta(days=1)).isoformat()},
    ).json()["appointments"]

    assert [row["starts_at"] for row in listed] == [
        start.isoformat(), (start + timedelta(hours=2)).isoformat(),
    ]  # fmt: skip
    assert {row["campaign_id"] for row in listed} == {mine.id}
    bad = client.call("GET", "/api/v1/appointments", params={"since": "tomorrow"})
    assert bad.status_code == 422 and bad.json()["details"] == {"field": "since"}
