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

from sqlalchemy import and_, exists, func, or_, select, union_all
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
    """Up to `limit` leads to dial now, best first (see DialableLead.sort_key).

    Read in that order and no further than needed, so a refill costs about
    the same in a campaign of a thousand leads or of a million: a group of
    one kind (callback or not) and one priority at a time, best first, each
    read along the dial-order indexes (`ix_leads_dial_fresh`,
    `ix_leads_dial_due`) and stopped at the leads still wanted."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.status is not CampaignStatus.ACTIVE:
        return []
    windows = windows_of(campaign)
    if windows.is_never_open:
        return []
    closes_by_zone = _open_zones(session, windows, now)
    if not closes_by_zone:
        return []
    zones = list(closes_by_zone)
    rows: list[Any] = []
    for group in _groups(session, campaign.id):
        rows += _best_of_group(session, campaign, group, zones, now, limit - len(rows))
        if len(rows) >= limit:
            break
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


# Callbacks come before every other lead.
_KINDS = (
    (LeadState.CALLBACK,),
    tuple(sorted(DIALABLE_LEAD_STATES - {LeadState.CALLBACK})),
)
_Group = tuple[tuple[LeadState, ...], int]


def _groups(session: Session, campaign_id: int) -> Iterator[_Group]:
    """The campaign's groups of leads (states of one kind, a priority) in
    dial order: callbacks first, then by priority, highest first."""
    for states in _KINDS:
        for priority in _priorities(session, campaign_id, states):
            yield states, priority


def _priorities(session: Session, campaign_id: int, states: tuple[LeadState, ...]) -> Iterator[int]:
    """The priorities of the campaign's leads in these states, highest
    first, each found by one step down an index."""
    below: int | None = None
    while True:
        highest: int | None = None
        for state in states:
            query = select(func.max(Lead.priority)).where(
                Lead.campaign_id == campaign_id, Lead.state == state
            )
            if below is not None:
                query = query.where(Lead.priority < below)
            found = session.scalar(query)
            if found is not None and (highest is None or found > highest):
                highest = found
        if highest is None:
            return
        yield highest
        below = highest


def _best_of_group(
    session: Session,
    campaign: Campaign,
    group: _Group,
    zones: list[str],
    now: datetime,
    limit: int,
) -> list[Any]:
    """The best `limit` dialable leads of one group (states, priority), in
    dial order: per state, the never-scheduled ones by creation and the due
    ones by due time, each read in index order up to `limit`, then merged."""
    states, priority = group
    streams = []
    for state in states:
        offerable = (
            select(*_OFFER_COLUMNS)
            .join(Customer, Customer.id == Lead.customer_id)
            .where(*_offerable(campaign, state, zones), Lead.priority == priority)
        )
        fresh = offerable.where(Lead.next_attempt_at.is_(None))
        due = offerable.where(Lead.next_attempt_at <= now)
        streams += [
            fresh.order_by(Lead.created_at, Lead.id).limit(limit).subquery(),
            due.order_by(Lead.next_attempt_at, Lead.id).limit(limit).subquery(),
        ]
    merged = union_all(*(select(stream) for stream in streams)).subquery()
    query = (
        select(merged)
        .order_by(func.coalesce(merged.c.next_attempt_at, merged.c.created_at), merged.c.id)
        .limit(limit)
    )
    # Tuples unpacked, not rows read by name: a refill makes up to 500 offers.
    return list(session.execute(query).tuples().all())


_OFFER_COLUMNS = (
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


def _offerable(campaign: Campaign, state: LeadState, zones: list[str]) -> list[Any]:
    """`_dialable_now` for one state, in open zones, but for the due time."""
    conditions = [
        Lead.campaign_id == campaign.id,
        Lead.state == state,
        Customer.timezone.in_(zones),
        ~_on_a_dnc_list(campaign),
        ~ON_A_DISABLED_LIST,
    ]
    if state is not LeadState.CALLBACK:
        conditions.append(Lead.attempts - Lead.attempts_before_reset < campaign.max_attempts)
    return conditions


def count_dialable(session: Session, campaign_id: int, *, now: datetime) -> int:
    """How many leads are dialable now (a figure for the campaign page)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.status is not CampaignStatus.ACTIVE:
        return 0
    windows = windows_of(campaign)
    zones = list(_open_zones(session, windows, now)) if not windows.is_never_open else []
    if not zones:
        return 0
    query = (
        select(func.count(Lead.id))
        .join(Customer, Customer.id == Lead.customer_id)
        .where(*_dialable_now(campaign, now), Customer.timezone.in_(zones))
    )
    return session.scalar(query) or 0


def _on_a_dnc_list(campaign: Campaign) -> Any:
    return exists().where(
        DncEntry.phone_e164 == Customer.phone_e164,
        or_(DncEntry.campaign_id.is_(None), DncEntry.campaign_id == campaign.id),
    )


def _dialable_now(campaign: Campaign, now: datetime) -> list[Any]:
    return [
        Lead.campaign_id == campaign.id,
        Lead.state.in_(DIALABLE_LEAD_STATES),
        or_(Lead.next_attempt_at.is_(None), Lead.next_attempt_at <= now),
        or_(
            Lead.state == LeadState.CALLBACK,
            Lead.attempts - Lead.attempts_before_reset < campaign.max_attempts,
        ),
        ~_on_a_dnc_list(campaign),
        ~ON_A_DISABLED_LIST,
    ]


def _open_zones(session: Session, windows: CallingWindows, now: datetime) -> dict[str, datetime]:
    """The customers' time zones whose window is open now, with when it
    closes. Every customer's zone, not only the campaign's: a zone none of
    its leads is in changes nothing, and these are found in a few index
    steps where the campaign's would take a join of all its leads."""
    zones = session.scalars(_EVERY_ZONE)
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


_zone = select(func.min(Customer.timezone).label("zone")).cte("zones", recursive=True)
_zones = _zone.union_all(
    select(
        select(func.min(Customer.timezone))
        .where(Customer.timezone > _zone.c.zone)
        .scalar_subquery()
    ).where(_zone.c.zone.is_not(None))
)
# One step down ix_customers_timezone a zone (a skip scan).
_EVERY_ZONE = select(_zones.c.zone).where(_zones.c.zone.is_not(None))


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
