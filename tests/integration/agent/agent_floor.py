"""Shared by the workstation tests (integration and browser): a small call
floor (a team, an agent, a campaign with the built-in script, a customer with
history) and helpers that inject calls through the bus events the dialer
publishes."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from callcenter.db import utcnow
from callcenter.events import CallAnswered, CallConnected, CallDialing, CallEnded
from callcenter.models import (
    Call,
    Campaign,
    DialMode,
    Lead,
    Note,
    PauseReason,
    StepAction,
    StepOutcome,
)
from callcenter.services import scripts_catalog
from callcenter.states import CallOutcome, CallState, Role
from tests.factories import log_in, make_campaign, make_customer, make_lead, make_team, make_user

_numbers = itertools.count(1)
PAUSE_REASONS = [("break", "استراحت", "Break", 15), ("lunch", "ناهار", "Lunch", 45)]


@dataclass
class Floor:
    agent_id: int
    agent_username: str
    other_agent_id: int
    other_username: str
    supervisor_username: str
    campaign_id: int
    other_campaign_id: int
    customer_id: int
    lead_id: int
    earlier_call_id: str


def build_floor(
    session: Session,
    *,
    locale: str = "en",
    customer_locale: str = "en",
    email: str | None = "sara.ahmadi@example.com",
    auto_ready: bool = True,
    dial_mode: DialMode = DialMode.PROGRESSIVE,
) -> Floor:
    for code, label_fa, label_en, limit in PAUSE_REASONS:
        if session.get(PauseReason, code) is None:
            session.add(
                PauseReason(code=code, label_fa=label_fa, label_en=label_en, limit_minutes=limit)
            )
    versions = {v.locale: v for v in scripts_catalog.ensure_builtin_scripts(session)}
    team = make_team(session)
    agent = make_user(session, Role.AGENT, team=team, locale=locale, full_name="Nina Karimi")
    agent.direct_number = "+982188776655"
    other = make_user(session, Role.AGENT, team=team, locale=locale)
    supervisor = make_user(session, Role.SUPERVISOR)
    supervisor.supervised.append(team)
    campaign = make_campaign(
        session,
        company_name="Contoso Software",
        product="accounting software",
        description="close your books in half the time",
        script_version_id=versions[locale].id,
        teams=[team],
        auto_ready_after_wrap_up=auto_ready,
        dial_mode=dial_mode,
        wrap_up_limit_seconds=60,
    )
    other_campaign = make_campaign(session, script_version_id=versions[locale].id, teams=[team])
    customer = make_customer(
        session,
        email=email,
        company="Northwind Ltd",
        locale=customer_locale,
        title="Ms" if customer_locale == "en" else "خانم",
        first_name="Sara" if customer_locale == "en" else "سارا",
        last_name="Ahmadi" if customer_locale == "en" else "احمدی",
    )
    lead = make_lead(session, campaign, customer, fields={"segment": "SME", "source": "expo"})
    earlier_lead = make_lead(session, other_campaign, customer)
    earlier = Call(
        id=uuid.uuid4().hex,
        campaign_id=other_campaign.id,
        lead_id=earlier_lead.id,
        customer_id=customer.id,
        agent_id=other.id,
        attempt=1,
        phone_e164=customer.phone_e164,
        state=CallState.ENDED,
        outcome=CallOutcome.ANSWERED,
        dialed_at=utcnow() - timedelta(days=20),
        connected_at=utcnow() - timedelta(days=20),
        ended_at=utcnow() - timedelta(days=20),
        script_version_id=versions[locale].id,
        max_step_reached=4,
    )
    session.add(earlier)
    session.flush()
    session.add(
        StepOutcome(
            call_id=earlier.id,
            seq=1,
            step_number=4,
            action=StepAction.REJECT,
            via="reject",
            reason_code="no_budget",
        )
    )
    session.add(
        Note(customer_id=customer.id, call_id=earlier.id, author_id=other.id, text="Budget in Q3")
    )
    session.commit()
    return Floor(
        agent_id=agent.id,
        agent_username=agent.username,
        other_agent_id=other.id,
        other_username=other.username,
        supervisor_username=supervisor.username,
        campaign_id=campaign.id,
        other_campaign_id=other_campaign.id,
        customer_id=customer.id,
        lead_id=lead.id,
        earlier_call_id=earlier.id,
    )


def new_lead(session: Session, floor: Floor, **customer: Any) -> int:
    campaign = session.get(Campaign, floor.campaign_id)
    assert campaign is not None
    lead = make_lead(session, campaign, make_customer(session, **customer))
    session.commit()
    return lead.id


def connected_call_row(
    session: Session, floor: Floor, lead_id: int | None = None, *, agent_id: int | None = None
) -> Call:
    """A call of the agent's, connected now, written straight to the database
    (for services that take a call row; the screen needs inject_connected_call)."""
    lead = session.get(Lead, lead_id or floor.lead_id)
    assert lead is not None
    now = utcnow()
    call = Call(
        id=uuid.uuid4().hex,
        campaign_id=lead.campaign_id,
        lead_id=lead.id,
        customer_id=lead.customer_id,
        agent_id=agent_id or floor.agent_id,
        attempt=lead.attempts + 1,
        phone_e164=lead.customer.phone_e164,
        state=CallState.CONNECTED,
        outcome=CallOutcome.ANSWERED,
        dialed_at=now,
        answered_at=now,
        connected_at=now,
    )
    lead.attempts += 1
    session.add(call)
    session.flush()
    return call


def inject_connected_call(
    app: Flask, floor: Floor, lead_id: int | None = None, *, attempt: int = 1
) -> str:
    """What the dialer publishes for an answered call given to the agent."""
    bus = app.extensions["cc_bus"]
    call_id = uuid.uuid4().hex
    lead_id = lead_id or floor.lead_id
    bus.publish(
        CallDialing(
            call_id=call_id, campaign_id=floor.campaign_id, lead_id=lead_id, attempt=attempt
        )
    )
    bus.publish(CallAnswered(call_id=call_id))
    bus.publish(CallConnected(call_id=call_id, agent_id=floor.agent_id))
    assert bus.wait_until_idle()
    return call_id


def end_call(app: Flask, call_id: str, outcome: str = "answered") -> None:
    bus = app.extensions["cc_bus"]
    bus.publish(CallEnded(call_id=call_id, outcome=outcome, sip_status=200))
    assert bus.wait_until_idle()


def received(socket: Any, name: str) -> list[Any]:
    return [item["args"][0] for item in socket.get_received() if item["name"] == name]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def connect_as(app: Flask, username: str) -> Any:
    from callcenter.extensions import socketio

    client = app.test_client()
    log_in(client, username)
    socket = socketio.test_client(app, flask_test_client=client)
    assert socket.is_connected()
    return socket


def lead_state(session: Session, lead_id: int) -> str:
    session.expire_all()
    lead = session.get(Lead, lead_id)
    assert lead is not None
    return str(lead.state)
