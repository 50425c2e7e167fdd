"""Properties over generated campaigns, time zones and instants near
daylight-saving changes: the hopper never hands out a DNC number, a lead
outside its calling window, or a lead at max attempts; and it hands out every
lead that is dialable (nothing lost)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from callcenter import migrate
from callcenter.calling_windows import WEEKDAYS, CallingWindows, is_callable
from callcenter.db import Database
from callcenter.models import Campaign, CampaignStatus, Customer, DncEntry, Lead, LeadStateChange
from callcenter.services.campaigns import windows_of
from callcenter.states import LeadState
from dialer.hopper import HopperFeeder, MemoryHopper

ZONES = (
    "Asia/Tehran",
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "America/Santiago",
    "UTC",
)
# Instants at or near daylight-saving changes in those zones.
EDGES = (
    datetime(2024, 3, 10, 7, 0, tzinfo=UTC),  # New York springs forward (02:00 local)
    datetime(2024, 11, 3, 6, 0, tzinfo=UTC),  # New York falls back (02:00 EDT)
    datetime(2024, 3, 31, 1, 0, tzinfo=UTC),  # London springs forward
    datetime(2024, 10, 27, 1, 0, tzinfo=UTC),  # London falls back
    datetime(2024, 4, 6, 16, 0, tzinfo=UTC),  # Sydney falls back (03:00 AEDT)
    datetime(2024, 9, 7, 4, 0, tzinfo=UTC),  # Santiago springs forward (00:00 local)
    datetime(2022, 3, 21, 20, 30, tzinfo=UTC),  # Tehran's last spring-forward
    datetime(2025, 1, 4, 8, 0, tzinfo=UTC),  # an ordinary Saturday
)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    path: Path = tmp_path_factory.mktemp("hopper-properties") / "db.sqlite"
    migrate.upgrade(f"sqlite:///{path}")
    db = Database(f"sqlite:///{path}")
    yield db
    db.dispose()


clock = st.integers(min_value=0, max_value=23 * 60 + 30).map(
    lambda m: f"{m // 60:02d}:{m % 60:02d}"
)


@st.composite
def windows(draw: st.DrawFn) -> dict[str, object]:
    weekly = {}
    for day in WEEKDAYS:
        spans = []
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            start = draw(st.integers(min_value=0, max_value=23 * 60))
            length = draw(st.integers(min_value=15, max_value=24 * 60 - start))
            end = start + length
            spans.append([f"{start // 60:02d}:{start % 60:02d}", f"{end // 60:02d}:{end % 60:02d}"])
        weekly[day] = spans
    return {"weekly": weekly}


leads = st.lists(
    st.fixed_dictionaries(
        {
            "zone": st.sampled_from(ZONES),
            "state": st.sampled_from(
                [LeadState.NEW, LeadState.RETRY, LeadState.CALLBACK, LeadState.SALE]
            ),
            "attempts": st.integers(min_value=0, max_value=4),
            "due_in_minutes": st.integers(min_value=-600, max_value=120),
            "dnc": st.sampled_from([None, "global", "campaign", "other"]),
            "priority": st.integers(min_value=-2, max_value=2),
        }
    ),
    min_size=1,
    max_size=12,
)


def _reset(db: Database) -> None:
    with db.unit_of_work() as session:
        for model in (LeadStateChange, Lead, DncEntry, Customer, Campaign):
            session.execute(delete(model))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    config=windows(),
    rows=leads,
    edge=st.sampled_from(EDGES),
    shift=st.integers(min_value=-180, max_value=180),
    later=st.one_of(st.just(0), st.integers(min_value=1, max_value=240)),
    max_attempts=st.integers(min_value=1, max_value=4),
)
def test_claims_respect_dnc_windows_and_attempts(
    database: Database,
    config: dict[str, object],
    rows: list[dict[str, object]],
    edge: datetime,
    shift: int,
    later: int,
    max_attempts: int,
) -> None:
    _reset(database)
    now = edge + timedelta(minutes=shift)
    blocked: set[int] = set()
    with database.unit_of_work() as session:
        campaign = Campaign(
            name="p",
            status=CampaignStatus.ACTIVE,
            calling_windows=config,
            max_attempts=max_attempts,
        )
        other = Campaign(name="other")
        session.add_all([campaign, other])
        session.flush()
        for index, row in enumerate(rows):
            customer = Customer(phone_e164=f"+98912{index:07d}", timezone=row["zone"])
            session.add(customer)
            session.flush()
            lead = Lead(
                campaign_id=campaign.id,
                customer_id=customer.id,
                state=row["state"],
                attempts=row["attempts"],
                priority=row["priority"],
                next_attempt_at=now + timedelta(minutes=row["due_in_minutes"]),  # type: ignore[operator]
            )
            session.add(lead)
            session.flush()
            if row["dnc"] is not None:
                scope = {"global": None, "campaign": campaign.id, "other": other.id}[row["dnc"]]  # type: ignore[index]
                session.add(DncEntry(phone_e164=customer.phone_e164, campaign_id=scope))
                if row["dnc"] != "other":
                    blocked.add(lead.id)
        campaign_id = campaign.id
        rules = windows_of(campaign)
    assert isinstance(rules, CallingWindows)

    def dialable_at(at: datetime, row: dict[str, object]) -> bool:
        return (
            row["state"] in (LeadState.NEW, LeadState.RETRY, LeadState.CALLBACK)
            and (row["state"] is LeadState.CALLBACK or row["attempts"] < max_attempts)  # type: ignore[operator]
            and now + timedelta(minutes=row["due_in_minutes"]) <= at  # type: ignore[arg-type]
            and is_callable(at, row["zone"], rules)  # type: ignore[arg-type]
        )

    feeder = HopperFeeder(database, MemoryHopper())
    feeder.refill(campaign_id, now=now)
    # A while later, without a refill: offers whose window closed must not come out.
    at = now + timedelta(minutes=later)
    claimed = []
    while (lead := feeder.next_lead(campaign_id, now=at)) is not None:
        claimed.append(lead)
    with database.unit_of_work() as session:
        by_id = {
            lead.id: index
            for index, lead in enumerate(session.scalars(select(Lead).order_by(Lead.id)))
        }
    for lead in claimed:
        row = rows[by_id[lead.lead_id]]
        assert lead.lead_id not in blocked
        assert is_callable(at, row["zone"], rules), (row, at)  # type: ignore[arg-type]
        assert row["state"] is LeadState.CALLBACK or lead.attempt <= max_attempts
    if later == 0:
        expected = {
            lead_id
            for lead_id, index in by_id.items()
            if lead_id not in blocked and dialable_at(now, rows[index])
        }
        assert {lead.lead_id for lead in claimed} == expected
