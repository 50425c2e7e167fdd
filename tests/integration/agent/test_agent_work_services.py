"""The agent's own work on SQLite and PostgreSQL: search (names, numbers,
wildcards typed as text), the customer edit, the callbacks' alert taken once
under concurrent sweeps, and the manual dial's lead rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter.bus import InProcessEventBus
from callcenter.db import Database, utcnow
from callcenter.errors import Conflict
from callcenter.events import ManualDialRequested
from callcenter.models import AuditEntry, Call, Callback, Campaign, Lead, LeadList
from callcenter.services import (
    agents,
    customer_details,
    lead_lifecycle,
    lead_search,
    manual_dial,
    my_callbacks,
    phone_legs,
)
from callcenter.states import LeadState
from dialer.hopper.memory import MemoryHopper
from dialer.leads import HopperLeadSource
from tests.factories import make_customer, make_lead
from tests.integration.agent.agent_floor import Floor, build_floor
from tests.integration.dialer.floor import ALWAYS_OPEN


@pytest.fixture
def work_floor(database: Database) -> Floor:
    with database.sessions() as session:
        return build_floor(session)


def test_search_by_name_number_and_text_that_looks_like_a_wildcard(
    database: Database, work_floor: Floor
) -> None:
    with database.unit_of_work() as session:
        campaign = session.get(Campaign, work_floor.campaign_id)
        assert campaign is not None
        make_lead(session, campaign, make_customer(session, last_name="100%_Sure"))
    with database.sessions() as session:
        names = lead_search.search(session, work_floor.agent_id, "SARA AHM")
        assert {row["customer_id"] for row in names} == {work_floor.customer_id}
        literal = lead_search.search(session, work_floor.agent_id, "0%_s")
        assert [row["name"] for row in literal] == ["Ms Sara 100%_Sure"]
        assert lead_search.search(session, work_floor.agent_id, "%%") == []


def test_editing_keeps_what_was_not_sent_and_audits_only_changes(
    database: Database, work_floor: Floor
) -> None:
    with database.unit_of_work() as session:
        customer = customer_details.update(
            session, work_floor.agent_id, work_floor.customer_id, {"last_name": "Ahmadi-Rad"}
        )
        assert (customer.first_name, customer.last_name) == ("Sara", "Ahmadi-Rad")
        assert customer.email == "sara.ahmadi@example.com"
        unchanged = customer_details.update(
            session, work_floor.agent_id, work_floor.customer_id, {"last_name": "Ahmadi-Rad"}
        )
        assert unchanged.last_name == "Ahmadi-Rad"
    with database.sessions() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "customer.updated")
        ).all()
        assert len(rows) == 1


def test_a_due_callback_is_announced_once(database: Database, work_floor: Floor) -> None:
    with database.unit_of_work() as session:
        lead = session.get(Lead, work_floor.lead_id)
        assert lead is not None
        session.add(
            Callback(
                lead_id=lead.id,
                customer_id=lead.customer_id,
                campaign_id=lead.campaign_id,
                due_at=utcnow() - timedelta(seconds=5),
                assigned_agent_id=work_floor.agent_id,
                created_by_id=work_floor.agent_id,
            )
        )
    with database.unit_of_work() as first, database.unit_of_work() as second:
        told = my_callbacks.alert_due(first)
        told += my_callbacks.alert_due(second) if database.url.startswith("postgresql") else 0
    assert told == 1
    with database.unit_of_work() as session:
        assert my_callbacks.alert_due(session) == 0


def _ready_with_phone_and_lead_in(database: Database, floor: Floor, state: LeadState) -> None:
    with database.unit_of_work() as session:
        lead = session.get(Lead, floor.lead_id)
        assert lead is not None
        lead.state = state
        campaign = session.get(Campaign, floor.campaign_id)
        assert campaign is not None
        campaign.calling_windows = ALWAYS_OPEN
        agents.join_campaign(session, floor.agent_id, floor.campaign_id, "1001")
        agents.go_ready(session, floor.agent_id)
        assert phone_legs.calling(session, floor.agent_id, "leg-1")
        phone_legs.answered(session, floor.agent_id, "leg-1")


def _hopper_takes(database: Database, campaign_id: int) -> list[int]:
    """The leads the predictive dialer would claim for the campaign now."""
    source = HopperLeadSource(database, MemoryHopper())
    now = utcnow()
    source.refill([campaign_id], now=now)
    return [claimed.lead_id for claimed in source.next_leads(campaign_id, 10, now=now)]


@pytest.mark.parametrize(
    ("state", "refused"),
    [
        (LeadState.APPOINTMENT, "meeting or a sale"),
        (LeadState.DIALING, "being called"),
        (LeadState.INVALID, "closed"),
    ],
)
def test_a_closed_or_busy_lead_is_not_dialed_by_hand(
    database: Database, work_floor: Floor, state: LeadState, refused: str
) -> None:
    _ready_with_phone_and_lead_in(database, work_floor, state)
    with database.unit_of_work() as session, pytest.raises(Conflict) as caught:
        manual_dial.dial_customer(session, work_floor.agent_id, work_floor.customer_id, bus=None)
    assert refused in caught.value.message
    with database.sessions() as session:
        assert str(agents.status_of(session, work_floor.agent_id).state) == "ready"


@pytest.mark.parametrize("state", [LeadState.NEW, LeadState.RETRY, LeadState.EXHAUSTED])
def test_a_lead_dialed_by_hand_is_claimed_with_the_request_and_given_back_if_never_placed(
    database: Database, work_floor: Floor, state: LeadState
) -> None:
    """Claimed in the agent's own transaction, the predictive dialer cannot
    take the lead before the dialer places the manual call (it used to, and
    the customer got an abandoned call). A call no dialer could place gives
    the claim back: the lead is as it was, its attempt not counted."""
    _ready_with_phone_and_lead_in(database, work_floor, state)
    requested: list[ManualDialRequested] = []
    bus = InProcessEventBus()
    bus.subscribe(ManualDialRequested.TYPE, requested.append)
    bus.start()
    with database.unit_of_work() as session:
        attempts_before = session.get_one(Lead, work_floor.lead_id).attempts
        manual_dial.dial_customer(session, work_floor.agent_id, work_floor.customer_id, bus=bus)
    assert bus.wait_until_idle()
    bus.stop()
    (request,) = requested
    with database.sessions() as session:
        lead = session.get_one(Lead, work_floor.lead_id)
        assert (lead.state, lead.attempts) == (LeadState.DIALING, attempts_before + 1)
        assert request.attempt == lead.attempts
    assert work_floor.lead_id not in _hopper_takes(database, work_floor.campaign_id)

    def give_back() -> bool:
        with database.unit_of_work() as session:
            return lead_lifecycle.give_back_unplaced(
                session,
                work_floor.lead_id,
                attempt=request.attempt,
                claim_id=request.claim_id,
                reason="not placed",
                now=utcnow(),
            )

    assert give_back()
    with database.sessions() as session:
        lead = session.get_one(Lead, work_floor.lead_id)
        assert (lead.state, lead.attempts) == (state, attempts_before)
    predictive = _hopper_takes(database, work_floor.campaign_id)
    assert (work_floor.lead_id in predictive) is (state is not LeadState.EXHAUSTED)
    # Given back once: delivered again, the request must not undo the
    # predictive dialer's own claim of the same attempt number.
    assert not give_back()
    with database.sessions() as session:
        lead = session.get_one(Lead, work_floor.lead_id)
        expected = LeadState.DIALING if predictive else state
        assert lead.state is expected


def test_a_claim_whose_call_was_placed_no_longer_stands_and_is_not_given_back(
    database: Database, work_floor: Floor
) -> None:
    _ready_with_phone_and_lead_in(database, work_floor, LeadState.NEW)
    with database.unit_of_work() as session:
        claim = lead_lifecycle.claim_by_hand(
            session, work_floor.lead_id, phone="+989120000001", now=utcnow()
        )
    stands = {"lead_id": work_floor.lead_id, "attempt": claim.attempt, "claim_id": claim.claim_id}
    with database.sessions() as session:
        assert lead_lifecycle.claim_stands(session, **stands)
    with database.unit_of_work() as session:
        lead = session.get_one(Lead, work_floor.lead_id)
        session.add(
            Call(
                id="placed-1",
                campaign_id=work_floor.campaign_id,
                lead_id=lead.id,
                customer_id=lead.customer_id,
                attempt=claim.attempt,
                phone_e164="+989120000001",
                dialed_at=utcnow(),
            )
        )
    with database.unit_of_work() as session:
        assert not lead_lifecycle.claim_stands(session, **stands)
        assert not lead_lifecycle.give_back_unplaced(
            session, **stands, reason="not placed", now=utcnow()
        )
    with database.sessions() as session:
        assert session.get_one(Lead, work_floor.lead_id).state is LeadState.DIALING


def test_a_lead_in_a_switched_off_list_is_refused_with_the_reason(
    database: Database, work_floor: Floor
) -> None:
    _ready_with_phone_and_lead_in(database, work_floor, LeadState.NEW)
    with database.unit_of_work() as session:
        lead = session.get_one(Lead, work_floor.lead_id)
        lead_list = LeadList(campaign_id=lead.campaign_id, name="spring", is_enabled=False)
        session.add(lead_list)
        session.flush()
        lead.lead_list_id = lead_list.id
    with database.unit_of_work() as session, pytest.raises(Conflict) as caught:
        manual_dial.dial_customer(session, work_floor.agent_id, work_floor.customer_id, bus=None)
    assert "list is switched off" in caught.value.message
    with database.sessions() as session:
        assert session.get_one(Lead, work_floor.lead_id).state is LeadState.NEW
        assert str(agents.status_of(session, work_floor.agent_id).state) == "ready"
