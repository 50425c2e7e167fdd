"""An agent dials by hand: a number typed on the dial pad, or a customer's
first or other number from a search or the screen. The number is checked
here (a number we can dial, not on a do-not-call list, inside the
campaign's calling window for the customer) and the agent is held for the
call; the dialer places it (`manual_dial.requested`) as a call for that
agent, which then pops the screen and ends in a wrap-up like any other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callcenter.bus import EventBus
from callcenter.calling_windows import is_callable, next_open
from callcenter.dates import format_datetime
from callcenter.db import utcnow
from callcenter.errors import N_, Conflict, InvalidInput, NotFound
from callcenter.events import ManualDialRequested
from callcenter.leadfiles.phones import InvalidPhone, normalize_phone
from callcenter.models import (
    AgentStatus,
    Campaign,
    CampaignStatus,
    Customer,
    Lead,
    User,
)
from callcenter.scheduling import format_phone
from callcenter.services import agents, audit, dnc, lead_lifecycle, my_callbacks
from callcenter.services.bus_outbox import publish_after_commit
from callcenter.services.campaigns import windows_of
from callcenter.states import (
    MANUAL_DIAL_FROM,
    MANUALLY_DIALABLE_LEAD_STATES,
    AgentState,
    LeadState,
    PhoneLegState,
)

MAX_TYPED = 40
NUMBERS = ("first", "second")


class NumberRefused(Conflict):
    """The number must not be called now (DNC, calling hours)."""

    error_id = "number-refused"


@dataclass(frozen=True)
class ManualDial:
    lead_id: int
    customer_id: int
    phone_e164: str
    phone_display: str
    customer_name: str


def dial_number(
    session: Session,
    agent_id: int,
    typed: Any,
    *,
    bus: EventBus | None,
    now: datetime | None = None,
) -> ManualDial:
    """The dial pad: the number's customer (found by either of their numbers,
    or added) gets a lead in the agent's campaign if they had none."""
    now = now or utcnow()
    agent, status, campaign = _dialing_agent(session, agent_id)
    phone = normalized(typed)
    customer = session.scalar(
        select(Customer).where(or_(Customer.phone_e164 == phone, Customer.phone2_e164 == phone))
    )
    if customer is None:
        customer = Customer(phone_e164=phone, locale=agent.locale or "fa")
        customer.timezone = campaign.timezone
        session.add(customer)
        session.flush()
    lead = lead_lifecycle.lead_for_customer(
        session, campaign, customer, reason=f"added by agent {agent.id} to dial by hand", now=now
    )
    return _request(session, agent, status, campaign, lead, phone, bus=bus, now=now)


def dial_customer(
    session: Session,
    agent_id: int,
    customer_id: Any,
    which: Any = "first",
    *,
    bus: EventBus | None,
    now: datetime | None = None,
) -> ManualDial:
    """A customer the agent may see (a lead of theirs in one of the agent's
    campaigns), at their first or other number, in the agent's campaign."""
    now = now or utcnow()
    agent, status, campaign = _dialing_agent(session, agent_id)
    customer = visible_customer(session, agent, customer_id)
    if which not in NUMBERS:
        raise InvalidInput(N_("Choose which number to call."), details={"field": "which"})
    phone = customer.phone_e164 if which == "first" else customer.phone2_e164
    if not phone:
        raise InvalidInput(
            N_("This customer has no other number. Add one with Edit details."),
            details={"field": "which"},
        )
    lead = lead_lifecycle.lead_for_customer(
        session, campaign, customer, reason=f"added by agent {agent.id} to dial by hand", now=now
    )
    return _request(session, agent, status, campaign, lead, phone, bus=bus, now=now)


def dial_callback(
    session: Session,
    agent_id: int,
    callback_id: Any,
    *,
    bus: EventBus | None,
    now: datetime | None = None,
) -> ManualDial:
    """One of the agent's own pending callbacks, now: its lead, at the
    customer's first number, in the campaign it was booked in."""
    now = now or utcnow()
    agent, status, campaign = _dialing_agent(session, agent_id)
    callback = my_callbacks.own_pending(session, agent_id, callback_id)
    if callback.campaign_id != campaign.id:
        booked_in = session.get(Campaign, callback.campaign_id)
        raise Conflict(
            N_("This callback is for campaign %(name)s: switch to it to call."),
            details={"campaign_id": callback.campaign_id},
            name=booked_in.name if booked_in else "",
        )
    lead = session.get(Lead, callback.lead_id)
    assert lead is not None
    return _request(
        session, agent, status, campaign, lead, lead.customer.phone_e164, bus=bus, now=now
    )


def normalized(typed: Any) -> str:
    """The typed number in E.164 (Persian and Arabic digits, spaces, dashes,
    a leading 0 or +98 all accepted), or InvalidInput saying so."""
    text = str(typed or "").strip()[:MAX_TYPED]
    if not text:
        raise InvalidInput(N_("Type the number to call."), details={"field": "number"})
    try:
        return normalize_phone(text).e164
    except InvalidPhone:
        raise InvalidInput(
            N_("%(number)s is not a phone number that can be dialed."),
            details={"field": "number"},
            number=text,
        ) from None


def visible_customer(session: Session, agent: User, customer_id: Any) -> Customer:
    """A customer is the agent's to see and call when one of their leads is
    in a campaign of the agent's team."""
    try:
        wanted = int(customer_id)
    except (TypeError, ValueError):
        raise NotFound(N_("No such customer."), details={"customer_id": customer_id}) from None
    campaign_ids = [campaign.id for campaign in agents.assigned_campaigns(session, agent)]
    found = session.scalar(
        select(Customer)
        .join(Lead, Lead.customer_id == Customer.id)
        .where(Customer.id == wanted, Lead.campaign_id.in_(campaign_ids))
        .limit(1)
    )
    if found is None:
        raise NotFound(N_("No such customer."), details={"customer_id": wanted})
    return found


def _dialing_agent(session: Session, agent_id: int) -> tuple[User, AgentStatus, Campaign]:
    agent = agents.agent_user(session, agent_id)
    status = agents.status_of(session, agent_id, lock=True)
    campaign = session.get(Campaign, status.campaign_id) if status.campaign_id else None
    if campaign is None or status.state is AgentState.LOGGED_OUT:
        raise InvalidInput(N_("Choose a campaign and register your phone first."))
    if status.state not in MANUAL_DIAL_FROM:
        raise Conflict(
            N_("Finish the call on your screen first, then dial."),
            details={"state": str(status.state)},
        )
    if status.phone_leg is not PhoneLegState.UP:
        raise Conflict(
            N_("Your phone is not connected yet: press Ready once so it is called, then dial."),
            details={"phone_leg": str(status.phone_leg)},
        )
    if campaign.status is not CampaignStatus.ACTIVE:
        raise Conflict(
            N_("Campaign %(name)s is paused: no calls can be placed."), name=campaign.name
        )
    return agent, status, campaign


def _request(
    session: Session,
    agent: User,
    status: AgentStatus,
    campaign: Campaign,
    lead: Lead,
    phone: str,
    *,
    bus: EventBus | None,
    now: datetime,
) -> ManualDial:
    locale = agent.locale if agent.locale in ("fa", "en") else "fa"
    shown = format_phone(phone, locale)
    _refuse_closed_lead(lead)
    refuse_unless_callable(
        session, campaign, phone, lead.customer.timezone or campaign.timezone, locale, now=now
    )
    claim = _claimed_for_the_agent(session, lead, phone, now=now)
    paused_for = status.pause_reason if status.state is AgentState.PAUSED else None
    agents.change_state(session, agent.id, AgentState.RESERVED, reason="manual_dial", now=now)
    if paused_for is not None:
        status.pause_after_call = paused_for  # back to the pause once this call is done
    audit.record(
        session,
        "manual_dial.requested",
        actor=agent,
        target_type="lead",
        target_id=lead.id,
        details={"campaign_id": campaign.id, "second_number": phone != lead.customer.phone_e164},
    )
    publish_after_commit(
        session,
        bus,
        ManualDialRequested(
            agent_id=agent.id,
            campaign_id=campaign.id,
            lead_id=lead.id,
            phone_e164=phone,
            attempt=claim.attempt,
            claim_id=claim.claim_id,
        ),
    )
    customer = lead.customer
    return ManualDial(
        lead_id=lead.id,
        customer_id=customer.id,
        phone_e164=phone,
        phone_display=shown,
        customer_name=" ".join(
            part for part in (customer.title, customer.first_name, customer.last_name) if part
        ),
    )


def refuse_unless_callable(
    session: Session,
    campaign: Campaign,
    phone: str,
    customer_tz: str,
    locale: str,
    *,
    now: datetime,
) -> None:
    """NumberRefused when the number is on a do-not-call list or it is
    outside the campaign's calling hours for the customer (a manual dial, a
    transfer to an outside number)."""
    shown = format_phone(phone, locale)
    if dnc.is_blocked(session, phone, campaign.id):
        raise NumberRefused(
            N_("%(number)s is on the do-not-call list: it must not be called."),
            details={"reason": "dnc"},
            number=shown,
        )
    windows = windows_of(campaign)
    if not is_callable(now, customer_tz, windows):
        opens = next_open(now, customer_tz, windows)
        if opens is None:
            raise NumberRefused(
                N_("Campaign %(name)s has no calling hours: %(number)s cannot be called."),
                details={"reason": "window"},
                name=campaign.name,
                number=shown,
            )
        raise NumberRefused(
            N_("It is outside calling hours for %(number)s; calls may start again %(when)s."),
            details={"reason": "window", "opens_at": opens.isoformat()},
            number=shown,
            when=format_datetime(opens, locale, tz=ZoneInfo(customer_tz), style="short"),
        )


def _claimed_for_the_agent(
    session: Session, lead: Lead, phone: str, *, now: datetime
) -> lead_lifecycle.ClaimByHand:
    """The lead's attempt, claimed now with the agent's request: from here
    the predictive dialer cannot take it, and the dialer that places the
    call (or gives the claim back) is told which claim it is."""
    try:
        return lead_lifecycle.claim_by_hand(session, lead.id, phone=phone, now=now)
    except lead_lifecycle.LeadBlocked:
        raise NumberRefused(
            N_("This customer asked not to be called: they are on the do-not-call list."),
            details={"reason": "dnc"},
        ) from None
    except Conflict:
        session.refresh(lead, ["state"])
        _refuse_closed_lead(lead)  # claimed or closed meanwhile
        raise Conflict(
            N_("This customer's list is switched off in this campaign: it cannot be dialed."),
            details={"lead_id": lead.id},
        ) from None


def _refuse_closed_lead(lead: Lead) -> None:
    if lead.state in MANUALLY_DIALABLE_LEAD_STATES:
        return
    if lead.state is LeadState.DIALING:
        raise Conflict(N_("This customer is being called right now."))
    if lead.state is LeadState.DNC:
        raise NumberRefused(
            N_("This customer asked not to be called: they are on the do-not-call list."),
            details={"reason": "dnc"},
        )
    if lead.state in (LeadState.APPOINTMENT, LeadState.SALE):
        raise Conflict(N_("This customer already has a meeting or a sale in this campaign."))
    raise Conflict(
        N_("This customer's lead is closed in this campaign."), details={"state": str(lead.state)}
    )
