"""What the hopper may offer: the dialable leads of a campaign right now,
read from the database (the source of truth), so a hopper can be refilled or
rebuilt from scratch (after a Redis restart) at any time.

A lead is offered when its campaign is active, its list is enabled, it is
in NEW, RETRY or CALLBACK with next_attempt_at due, under max_attempts
since its last reset (a callback the customer asked for is exempt), its
number is on no DNC list that applies, and it is inside its calling window
now, judged in the customer's time zone. Each offer carries `closes_at`, the
end of that open stretch, so a hopper can drop an offer whose window has
closed without knowing about windows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from callcenter.calling_windows import CallingWindows, is_callable, window_closes_at
from callcenter.models import (
    Callback,
    CallbackStatus,
    Campaign,
    CampaignStatus,
    Customer,
    DncEntry,
    Lead,
    LeadList,
)
from callcenter.services.campaigns import windows_of
from callcenter.states import DIALABLE_LEAD_STATES, LeadState

DEFAULT_LIMIT = 500
_CHUNK = 1000

ON_A_DISABLED_LIST = exists().where(
    LeadList.id == Lead.lead_list_id, LeadList.is_enabled.is_(False)
)


@dataclass(frozen=True, slots=True)
class DialableLead:
    lead_id: int
    campaign_id: int
    customer_id: int
    phone_e164: str
    timezone: str
    priority: int
    attempts: int
    due_at: datetime  # next_attempt_at, or the lead's creation for a new lead
    closes_at: datetime  # the lead's calling window closes then (UTC)
    is_callback: bool = False
    agent_id: int | None = None  # a callback only this agent may take

    def sort_key(self) -> tuple[int, int, float, int]:
        """Due callbacks first, then higher priority, then the oldest due."""
        return (0 if self.is_callback else 1, -self.priority, self.due_at.timestamp(), self.lead_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lead_id": self.lead_id,
            "campaign_id": self.campaign_id,
            "customer_id": self.customer_id,
            "phone_e164": self.phone_e164,
            "timezone": self.timezone,
            "priority": self.priority,
            "attempts": self.attempts,
            "due_at": self.due_at.isoformat(),
            "closes_at": self.closes_at.isoformat(),
            "is_callback": self.is_callback,
            "agent_id": self.agent_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DialableLead:
        return cls(
            **{
                **data,
                "due_at": datetime.fromisoformat(data["due_at"]),
                "closes_at": datetime.fromisoformat(data["closes_at"]),
            }
        )


def select_dialable(
    session: Session, campaign_id: int, *, now: datetime, limit: int = DEFAULT_LIMIT
) -> list[DialableLead]:
    """Up to `limit` leads to dial now, best first (see DialableLead.sort_key)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.status is not CampaignStatus.ACTIVE:
        return []
    windows = windows_of(campaign)
    if windows.is_never_open:
        return []
    closes_by_zone = _open_zones(session, campaign, windows, now)
    if not closes_by_zone:
        return []
    is_callback = Lead.state == LeadState.CALLBACK
    query = (
        select(
            Lead.id,
            Lead.customer_id,
            Customer.phone_e164,
            Customer.timezone,
            Lead.priority,
            Lead.attempts,
            Lead.next_attempt_at,
            Lead.created_at,
            Lead.state,
        )
        .join(Customer, Customer.id == Lead.customer_id)
        .where(*_dialable_now(campaign, now), Customer.timezone.in_(list(closes_by_zone)))
        .order_by(
            is_callback.desc(),
            Lead.priority.desc(),
            func.coalesce(Lead.next_attempt_at, Lead.created_at),
            Lead.id,
        )
        .limit(limit)
    )
    # Tuples unpacked, not rows read by name: a refill makes up to 500 offers.
    rows = session.execute(query).tuples().all()
    callback = LeadState.CALLBACK
    agents = _callback_agents(
        session,
        [row[0] for row in rows if row[8] is callback],
        open_from=now - timedelta(minutes=campaign.callback_open_after_minutes),
    )
    offers = [
        DialableLead(
            lead_id=lead_id,
            campaign_id=campaign_id,
            customer_id=customer_id,
            phone_e164=phone_e164,
            timezone=timezone,
            priority=priority,
            attempts=attempts,
            due_at=next_attempt_at or created_at,
            closes_at=closes_by_zone[timezone],
            is_callback=state is callback,
            agent_id=agents.get(lead_id) if agents else None,
        )
        for (
            lead_id,
            customer_id,
            phone_e164,
            timezone,
            priority,
            attempts,
            next_attempt_at,
            created_at,
            state,
        ) in rows
    ]
    return sorted(offers, key=DialableLead.sort_key)


def count_dialable(session: Session, campaign_id: int, *, now: datetime) -> int:
    """How many leads are dialable now (a figure for the campaign page)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.status is not CampaignStatus.ACTIVE:
        return 0
    windows = windows_of(campaign)
    zones = list(_open_zones(session, campaign, windows, now)) if not windows.is_never_open else []
    if not zones:
        return 0
    query = (
        select(func.count(Lead.id))
        .join(Customer, Customer.id == Lead.customer_id)
        .where(*_dialable_now(campaign, now), Customer.timezone.in_(zones))
    )
    return session.scalar(query) or 0


def _dialable_now(campaign: Campaign, now: datetime) -> list[Any]:
    blocked = exists().where(
        DncEntry.phone_e164 == Customer.phone_e164,
        or_(DncEntry.campaign_id.is_(None), DncEntry.campaign_id == campaign.id),
    )
    return [
        Lead.campaign_id == campaign.id,
        Lead.state.in_(DIALABLE_LEAD_STATES),
        or_(Lead.next_attempt_at.is_(None), Lead.next_attempt_at <= now),
        or_(
            Lead.state == LeadState.CALLBACK,
            Lead.attempts - Lead.attempts_before_reset < campaign.max_attempts,
        ),
        ~blocked,
        ~ON_A_DISABLED_LIST,
    ]


def _open_zones(
    session: Session, campaign: Campaign, windows: CallingWindows, now: datetime
) -> dict[str, datetime]:
    """The customers' time zones whose window is open now, with when it closes."""
    zones = session.scalars(
        select(Customer.timezone)
        .join(Lead, Lead.customer_id == Customer.id)
        .where(
            Lead.campaign_id == campaign.id,
            Lead.state.in_(DIALABLE_LEAD_STATES),
        )
        .distinct()
    )
    open_zones: dict[str, datetime] = {}
    for zone in zones:
        try:
            if not is_callable(now, zone, windows):
                continue
            closes = window_closes_at(now, zone, windows)
        except ValueError:  # an unknown zone in the data: never callable
            continue
        if closes is not None:
            open_zones[zone] = closes
    return open_zones


def _callback_agents(
    session: Session, lead_ids: list[int], *, open_from: datetime
) -> dict[int, int | None]:
    """The agent each callback is kept for; None (anyone) once it was due
    before `open_from`: its agent had the campaign's wait to take it."""
    agents: dict[int, int | None] = {}
    for chunk in _chunks(lead_ids):
        query = (
            select(Callback.lead_id, Callback.assigned_agent_id, Callback.due_at)
            .where(and_(Callback.lead_id.in_(chunk), Callback.status == CallbackStatus.PENDING))
            .order_by(Callback.due_at)
        )
        for lead_id, agent_id, due_at in session.execute(query):
            agents.setdefault(lead_id, agent_id if due_at > open_from else None)
    return agents


def _chunks(items: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
