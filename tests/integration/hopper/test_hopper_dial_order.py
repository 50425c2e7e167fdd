"""`select_dialable` reads a campaign's leads group by group along the
dial-order indexes and stops at the leads it needs; here it is held to the
single query it replaced (one join of every dialable lead to its customer,
sorted, then cut), over generated campaigns: the same leads, in the same
order, for every limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.orm import Session

from callcenter.calling_windows import WEEKDAYS, is_callable, window_closes_at
from callcenter.db import Database
from callcenter.models import (
    Campaign,
    CampaignStatus,
    Customer,
    DncEntry,
    Lead,
    LeadList,
    LeadStateChange,
)
from callcenter.services import hopper_feed
from callcenter.services.campaigns import windows_of
from callcenter.states import LeadState
from tests.integration.hopper.test_hopper_properties import EDGES, ZONES, windows

NOW = datetime(2025, 1, 6, 15, 0, tzinfo=UTC)
# A few instants, so that due times and creation times tie (the lead's id decides).
MINUTES = (-600, -90, -5, -1, 0, 1, 30)

leads = st.lists(
    st.fixed_dictionaries(
        {
            "zone": st.sampled_from((*ZONES, "Mars/Olympus")),
            "state": st.sampled_from(
                [LeadState.NEW, LeadState.RETRY, LeadState.CALLBACK, LeadState.SALE]
            ),
            "priority": st.sampled_from([0, 0, 1, -1]),
            "attempts": st.integers(min_value=0, max_value=5),
            "before_reset": st.integers(min_value=0, max_value=2),
            "due_in_minutes": st.one_of(st.none(), st.sampled_from(MINUTES)),
            "created_minutes_ago": st.sampled_from(MINUTES),
            "dnc": st.sampled_from([None, None, None, None, "global", "campaign", "other"]),
            "list": st.sampled_from([None, "enabled", "enabled", "disabled"]),
            "campaign": st.sampled_from(["this"] * 5 + ["other"]),
        }
    ),
    min_size=15,
    max_size=50,
)
# Mostly open: a lead in a closed zone is left out before any order applies.
ALWAYS_OPEN = {"weekly": {day: [{"start": "00:00", "end": "24:00"}] for day in WEEKDAYS}}


def _reset(db: Database) -> None:
    with db.unit_of_work() as session:
        for model in (LeadStateChange, Lead, LeadList, DncEntry, Customer, Campaign):
            session.execute(delete(model))


def chosen_before(session: Session, campaign_id: int, *, now: datetime, limit: int) -> list[int]:
    """The leads the single query chose, in its order (the code before
    the dial-order indexes, kept as it was)."""
    campaign = session.get(Campaign, campaign_id)
    assert campaign is not None
    windows = windows_of(campaign)
    zones = [
        zone
        for zone in session.scalars(
            select(Customer.timezone)
            .join(Lead, Lead.customer_id == Customer.id)
            .where(
                Lead.campaign_id == campaign.id,
                Lead.state.in_([LeadState.NEW, LeadState.RETRY, LeadState.CALLBACK]),
            )
            .distinct()
        )
        if _open(now, zone, windows)
    ]
    blocked = exists().where(
        DncEntry.phone_e164 == Customer.phone_e164,
        or_(DncEntry.campaign_id.is_(None), DncEntry.campaign_id == campaign.id),
    )
    disabled = exists().where(LeadList.id == Lead.lead_list_id, LeadList.is_enabled.is_(False))
    query = (
        select(Lead.id)
        .join(Customer, Customer.id == Lead.customer_id)
        .where(
            Lead.campaign_id == campaign.id,
            Lead.state.in_([LeadState.NEW, LeadState.RETRY, LeadState.CALLBACK]),
            or_(Lead.next_attempt_at.is_(None), Lead.next_attempt_at <= now),
            or_(
                Lead.state == LeadState.CALLBACK,
                Lead.attempts - Lead.attempts_before_reset < campaign.max_attempts,
            ),
            ~blocked,
            ~disabled,
            Customer.timezone.in_(zones),
        )
        .order_by(
            (Lead.state == LeadState.CALLBACK).desc(),
            Lead.priority.desc(),
            func.coalesce(Lead.next_attempt_at, Lead.created_at),
            Lead.id,
        )
        .limit(limit)
    )
    return list(session.scalars(query))


def _open(now: datetime, zone: str, windows: object) -> bool:
    try:
        return is_callable(now, zone, windows) and (  # type: ignore[arg-type]
            window_closes_at(now, zone, windows) is not None  # type: ignore[arg-type]
        )
    except ValueError:
        return False


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    config=st.one_of(st.just(ALWAYS_OPEN), windows()),
    rows=leads,
    edge=st.sampled_from((NOW, *EDGES)),
    shift=st.integers(min_value=-180, max_value=180),
    max_attempts=st.integers(min_value=1, max_value=4),
    limit=st.one_of(st.integers(min_value=0, max_value=8), st.just(500)),
)
def test_the_same_leads_in_the_same_order_as_the_single_query(
    database: Database,
    config: dict[str, object],
    rows: list[dict[str, object]],
    edge: datetime,
    shift: int,
    max_attempts: int,
    limit: int,
) -> None:
    _reset(database)
    now = edge + timedelta(minutes=shift)
    with database.unit_of_work() as session:
        campaign = Campaign(
            name="p",
            status=CampaignStatus.ACTIVE,
            calling_windows=config,
            max_attempts=max_attempts,
        )
        other = Campaign(name="other", status=CampaignStatus.ACTIVE, calling_windows=config)
        session.add_all([campaign, other])
        session.flush()
        lists = {
            "enabled": LeadList(campaign_id=campaign.id, name="a.csv"),
            "disabled": LeadList(campaign_id=campaign.id, name="b.csv", is_enabled=False),
        }
        session.add_all(lists.values())
        session.flush()
        for index, row in enumerate(rows):
            customer = Customer(phone_e164=f"+98912{index:07d}", timezone=row["zone"])
            session.add(customer)
            session.flush()
            due = row["due_in_minutes"]
            session.add(
                Lead(
                    campaign_id=(campaign if row["campaign"] == "this" else other).id,
                    customer_id=customer.id,
                    lead_list_id=lists[row["list"]].id if row["list"] else None,  # type: ignore[index]
                    state=row["state"],
                    priority=row["priority"],
                    attempts=row["attempts"],
                    attempts_before_reset=row["before_reset"],
                    next_attempt_at=None if due is None else now + timedelta(minutes=due),  # type: ignore[arg-type]
                    created_at=now - timedelta(minutes=row["created_minutes_ago"]),  # type: ignore[arg-type]
                )
            )
            if row["dnc"] is not None:
                scope = {"global": None, "campaign": campaign.id, "other": other.id}[row["dnc"]]  # type: ignore[index]
                session.add(DncEntry(phone_e164=customer.phone_e164, campaign_id=scope))
        campaign_id = campaign.id

    with database.unit_of_work() as session:
        before = chosen_before(session, campaign_id, now=now, limit=limit)
        offers = hopper_feed.select_dialable(session, campaign_id, now=now, limit=limit)

    assert [offer.lead_id for offer in offers] == before


def test_ties_in_due_time_go_by_lead_id_at_every_cut(database: Database) -> None:
    with database.unit_of_work() as session:
        campaign = Campaign(name="p", status=CampaignStatus.ACTIVE, calling_windows=ALWAYS_OPEN)
        session.add(campaign)
        session.flush()
        five_ago = NOW - timedelta(minutes=5)
        for index in range(12):
            customer = Customer(phone_e164=f"+98912{index:07d}", timezone="Asia/Tehran")
            session.add(customer)
            session.flush()
            retry = index % 2 == 0
            session.add(
                Lead(
                    campaign_id=campaign.id,
                    customer_id=customer.id,
                    state=LeadState.RETRY if retry else LeadState.NEW,
                    next_attempt_at=five_ago if retry else None,
                    created_at=five_ago,
                )
            )
        campaign_id = campaign.id

    with database.unit_of_work() as session:
        every = chosen_before(session, campaign_id, now=NOW, limit=500)
        assert every == sorted(every) and len(every) == 12
        for limit in range(1, 13):
            offers = hopper_feed.select_dialable(session, campaign_id, now=NOW, limit=limit)
            assert [offer.lead_id for offer in offers] == every[:limit]
