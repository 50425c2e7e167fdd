"""Customers who ring a campaign's number (its caller ID) back.

The dialer answers the call and asks here who is calling: the caller's
number, in E.164, finds the customer by either of their numbers (or adds
them, an unknown number pops as a new customer) and their lead in the
campaign (or a new one). The lead's attempt is claimed as an agent's manual
dial is, so the call goes through the same screen pop, disposition and
wrap-up as an outbound one; a closed lead (a sale, a meeting, DNC) is not
reopened: the call is recorded against it and its disposition leaves it be.

When no agent was free within the campaign's wait, the caller heard the
message and `missed_ringbacks.book_callback` books a callback for anyone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callcenter.errors import N_, Conflict, InvalidInput
from callcenter.leadfiles.phones import InvalidPhone, normalize_phone
from callcenter.models import (
    Campaign,
    CampaignStatus,
    Customer,
    Lead,
)
from callcenter.services import audit, calls, lead_lifecycle
from callcenter.states import (
    MANUALLY_DIALABLE_LEAD_STATES,
    CallDirection,
)

RANG_BACK = "call.rang_back"


@dataclass(frozen=True)
class RingBack:
    """The customer a call to our number is from, and the attempt it is."""

    call_id: str
    campaign_id: int
    lead_id: int
    customer_id: int
    attempt: int
    phone_e164: str
    new_customer: bool


def caller_e164(caller: str) -> str:
    """The caller's number as E.164 (a national 0912..., 98912... or +98912...)."""
    try:
        return normalize_phone(caller).e164
    except InvalidPhone:
        raise InvalidInput(
            N_("%(number)s is not a phone number that can be dialed."),
            details={"field": "caller"},
            number=caller[:40],
        ) from None


def campaign_for_number(session: Session, dialed: str) -> Campaign | None:
    """The active campaign whose caller ID is the number that was called."""
    try:
        wanted = normalize_phone(dialed).e164
    except InvalidPhone:
        return None
    active = session.scalars(select(Campaign).where(Campaign.status == CampaignStatus.ACTIVE))
    for campaign in active:
        try:
            if campaign.caller_id and normalize_phone(campaign.caller_id).e164 == wanted:
                return campaign
        except InvalidPhone:
            continue
    return None


def open_inbound_call(
    session: Session,
    *,
    call_id: str,
    campaign_id: int,
    caller: str,
    dialer_id: str | None,
    now: datetime,
) -> RingBack:
    """Find (or add) the caller and their lead, and write the calls row of
    the inbound call (ANSWERED follows from the dialer's events)."""
    phone = caller_e164(caller)
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise InvalidInput(N_("No such campaign."), details={"campaign_id": campaign_id})
    customer = session.scalar(
        select(Customer).where(or_(Customer.phone_e164 == phone, Customer.phone2_e164 == phone))
    )
    new_customer = customer is None
    if customer is None:
        customer = Customer(phone_e164=phone, timezone=campaign.timezone)
        session.add(customer)
        session.flush()
    lead = lead_lifecycle.lead_for_customer(
        session, campaign, customer, reason="the customer rang the campaign's number", now=now
    )
    attempt = _take_attempt(session, lead, phone, now=now)
    calls.open_call(
        session,
        call_id=call_id,
        campaign_id=campaign.id,
        lead_id=lead.id,
        attempt=attempt,
        agent_id=None,
        dialer_id=dialer_id,
        at=now,
        phone_e164=phone,
        direction=CallDirection.INBOUND,
    )
    audit.record(
        session,
        RANG_BACK,
        actor=None,
        target_type="call",
        target_id=call_id,
        details={"campaign_id": campaign.id, "lead_id": lead.id, "new_customer": new_customer},
    )
    return RingBack(
        call_id=call_id,
        campaign_id=campaign.id,
        lead_id=lead.id,
        customer_id=customer.id,
        attempt=attempt,
        phone_e164=phone,
        new_customer=new_customer,
    )


def _take_attempt(session: Session, lead: Lead, phone: str, *, now: datetime) -> int:
    """Claim the lead's attempt as a manual dial does; a lead that cannot be
    claimed (closed, on DNC, being dialed) only counts the attempt."""
    if lead.state in MANUALLY_DIALABLE_LEAD_STATES:
        try:
            with session.begin_nested():
                claimed = lead_lifecycle.claim_attempt(
                    session, lead.id, now=now, campaign_id=lead.campaign_id, manual_phone=phone
                )
            return claimed.attempts
        except Conflict:
            session.refresh(lead)
    lead.attempts += 1
    lead.updated_at = now
    session.flush()
    return lead.attempts
