"""The booking panel of the agent's screen (steps 5-7): the two slots to
offer, more free times, the salespeople, and the meeting read back once
booked, with the script re-filled to match."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from callcenter.dates import format_datetime
from callcenter.db import utcnow
from callcenter.models import Appointment, Call, Campaign
from callcenter.scheduling import slot_label
from callcenter.services import appointments, scripts_catalog
from callcenter.services.call_access import open_call
from callcenter.services.call_script import (
    agent_locale,
    rendered_script,
    script_context,
    script_version_of,
)
from callcenter.services.customer_history import appointment_data


def booking_data(
    session: Session,
    call: Call,
    locale: str,
    tz: ZoneInfo,
    *,
    slots: Iterable[Any],
    appointment: Appointment | None,
    now: datetime | None = None,
    team: Sequence[appointments.Salesperson] | None = None,
) -> dict[str, Any]:
    """`team`: the campaign's salespeople, when the caller read them already."""
    now = now or utcnow()
    script = scripts_catalog.script_of(script_version_of(session, call, locale))
    if team is None:
        team = appointments.salespeople(session, call.campaign_id)
    data: dict[str, Any] = {
        "slots": [slot_data(slot, now, script.locale, tz) for slot in slots],
        "salespeople": [{"id": person.id, "name": person.full_name} for person in team],
        "appointment": None,
        "read_back": None,
    }
    if appointment is not None:
        data["appointment"] = appointment_data(session, appointment, locale, tz)
        data["read_back"] = appointments.read_back_for(appointment, script.locale, tz).text
    return data


def slot_data(slot: Any, now: datetime, locale: str, tz: ZoneInfo) -> dict[str, str]:
    return {
        "start": slot.start.isoformat(),
        "label": slot_label(slot.start, now, locale, tz=tz),
        "full": format_datetime(slot.start, locale, tz=tz),
    }


def free_slots_view(
    session: Session,
    agent_id: int,
    call_id: Any,
    *,
    salesperson_id: int | None = None,
    now: datetime | None = None,
) -> list[dict[str, str]]:
    """More free times when neither offered slot suits the customer."""
    now = now or utcnow()
    call = open_call(session, agent_id, call_id)
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    script = scripts_catalog.script_of(script_version_of(session, call))
    tz = ZoneInfo(campaign.timezone)
    return [
        slot_data(slot, now, script.locale, tz)
        for slot in appointments.list_free(session, call, salesperson_id=salesperson_id, now=now)
    ]


def slots_for_salesperson(
    session: Session,
    agent_id: int,
    call_id: Any,
    *,
    salesperson_id: int | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The two slots to offer in the chosen salesperson's calendar (or the
    whole team's), and the script re-filled with them (step 6 reads them)."""
    now = now or utcnow()
    call = open_call(session, agent_id, call_id)
    assert call.agent_id is not None
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    locale = agent_locale(session, call.agent_id)
    script = scripts_catalog.script_of(script_version_of(session, call, locale))
    slots = appointments.propose(session, call, salesperson_id=salesperson_id, now=now)
    context = script_context(session, call, script, now=now, slots=slots)
    tz = ZoneInfo(campaign.timezone)
    return {
        "call_id": call.id,
        "script": rendered_script(script, context),
        "slots": [slot_data(slot, now, script.locale, tz) for slot in slots],
    }


def after_booking(
    session: Session, call: Call, appointment: Appointment, *, now: datetime | None = None
) -> dict[str, Any]:
    """The booking panel and the re-filled script (step 7 reads the meeting back)."""
    now = now or utcnow()
    assert call.agent_id is not None
    locale = agent_locale(session, call.agent_id)
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    script = scripts_catalog.script_of(script_version_of(session, call, locale))
    context = script_context(session, call, script, now=now, appointment=appointment)
    return {
        "call_id": call.id,
        "script": rendered_script(script, context),
        "booking": booking_data(
            session, call, locale, ZoneInfo(campaign.timezone), slots=(), appointment=appointment
        ),
    }
