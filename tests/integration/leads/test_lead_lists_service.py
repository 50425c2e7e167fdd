"""Working a lead list: disable, recycle, reset, move, penetration (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.errors import Conflict, InvalidInput
from callcenter.models import (
    AuditEntry,
    Call,
    Callback,
    Campaign,
    Disposition,
    DispositionCode,
    Lead,
    LeadList,
    LeadStateChange,
)
from callcenter.services import hopper_feed, lead_lifecycle, lead_lists
from callcenter.states import CallOutcome, DispositionCategory, LeadState, Role
from tests.factories import make_campaign, make_customer, make_lead, make_user

NOW = datetime(2025, 1, 4, 8, 0, tzinfo=UTC)  # Saturday 11:30 in Tehran


def _list(session: Session, campaign: Campaign, name: str = "march.csv") -> LeadList:
    lead_list = LeadList(campaign_id=campaign.id, name=name)
    session.add(lead_list)
    session.flush()
    return lead_list


def _exhausted(
    session: Session, lead_list: LeadList, outcome: str, *, tried: datetime, attempts: int = 5
) -> Lead:
    campaign = session.get(Campaign, lead_list.campaign_id)
    assert campaign is not None
    return make_lead(
        session,
        campaign,
        lead_list_id=lead_list.id,
        state=LeadState.EXHAUSTED,
        attempts=attempts,
        last_outcome=outcome,
        last_attempt_at=tried,
    )


def _call(session: Session, lead: Lead, number: int, **fields: object) -> Call:
    call = Call(
        id=f"l{lead.id}a{number}",
        campaign_id=lead.campaign_id,
        lead_id=lead.id,
        customer_id=lead.customer_id,
        attempt=number,
        phone_e164=lead.customer.phone_e164,
        dialed_at=NOW,
        **fields,
    )
    session.add(call)
    session.flush()
    return call


def _audited(session: Session, action: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_a_disabled_list_is_neither_offered_nor_claimed(session: Session) -> None:
    campaign = make_campaign(session)
    manager = make_user(session, Role.MANAGER)
    lead_list = _list(session, campaign)
    on_list = make_lead(session, campaign, lead_list_id=lead_list.id)
    elsewhere = make_lead(session, campaign)
    lead_lists.set_enabled(session, lead_list, False, actor=manager)

    offered = {o.lead_id for o in hopper_feed.select_dialable(session, campaign.id, now=NOW)}
    assert offered == {elsewhere.id}
    assert hopper_feed.count_dialable(session, campaign.id, now=NOW) == 1
    with pytest.raises(Conflict):
        lead_lifecycle.claim_attempt(session, on_list.id, now=NOW)
    assert session.get(Lead, on_list.id).state is LeadState.NEW  # type: ignore[union-attr]

    lead_lists.set_enabled(session, lead_list, True, actor=manager)
    assert lead_lifecycle.claim_attempt(session, on_list.id, now=NOW).state is LeadState.DIALING
    entries = [(e.action, e.actor_id, e.target_id) for e in session.scalars(select(AuditEntry))]
    assert ("lead_list.disabled", manager.id, str(lead_list.id)) in entries
    assert ("lead_list.enabled", manager.id, str(lead_list.id)) in entries


def test_recycle_gives_only_the_chosen_outcome_past_the_hours_a_fresh_round(
    session: Session,
) -> None:
    campaign = make_campaign(session, max_attempts=5)
    lead_list = _list(session, campaign)
    busy_old = _exhausted(session, lead_list, "busy", tried=NOW - timedelta(hours=30))
    busy_recent = _exhausted(session, lead_list, "busy", tried=NOW - timedelta(hours=2))
    no_answer_old = _exhausted(session, lead_list, "no_answer", tried=NOW - timedelta(hours=30))
    other_list = _exhausted(
        session, _list(session, campaign, "other"), "busy", tried=NOW - timedelta(hours=30)
    )

    count = lead_lists.recycle(
        session, lead_list, outcome="busy", older_than_hours=24, actor=None, now=NOW
    )

    assert count == 1
    states = {
        lead.id: lead.state
        for lead in session.scalars(
            select(Lead).where(
                Lead.id.in_([busy_old.id, busy_recent.id, no_answer_old.id, other_list.id])
            )
        )
    }
    assert states == {
        busy_old.id: LeadState.RETRY,
        busy_recent.id: LeadState.EXHAUSTED,
        no_answer_old.id: LeadState.EXHAUSTED,
        other_list.id: LeadState.EXHAUSTED,
    }
    recycled = session.get(Lead, busy_old.id)
    assert recycled is not None
    assert (recycled.attempts, recycled.attempts_before_reset) == (5, 5)
    assert recycled.next_attempt_at == NOW
    change = session.scalars(
        select(LeadStateChange).where(LeadStateChange.lead_id == busy_old.id)
    ).one()
    assert (change.from_state, change.to_state) == (LeadState.EXHAUSTED, LeadState.RETRY)
    assert [o.lead_id for o in hopper_feed.select_dialable(session, campaign.id, now=NOW)] == [
        busy_old.id
    ]
    claimed = lead_lifecycle.claim_attempt(session, busy_old.id, now=NOW)
    assert claimed.attempts == 6  # the calls keep their numbers
    (entry,) = _audited(session, "lead_list.recycled")
    assert entry.details["outcome"] == "busy"
    assert entry.details["older_than_hours"] == 24
    assert entry.details["leads"] == 1


def test_a_recycled_lead_is_exhausted_again_after_a_full_round(session: Session) -> None:
    campaign = make_campaign(session, max_attempts=2)
    lead_list = _list(session, campaign)
    lead = _exhausted(session, lead_list, "busy", tried=NOW - timedelta(days=3), attempts=2)
    lead_lists.reset_exhausted(session, lead_list, actor=None, now=NOW)
    for attempt in (3, 4):
        lead_lifecycle.claim_attempt(session, lead.id, now=NOW)
        _call(session, lead, attempt)
        settled = lead_lifecycle.settle_attempt(
            session,
            lead_id=lead.id,
            call_id=f"l{lead.id}a{attempt}",
            outcome=CallOutcome.BUSY,
            now=NOW,
        )
        session.execute(  # due again at once
            Lead.__table__.update().where(Lead.id == lead.id).values(next_attempt_at=NOW)
        )
    assert settled.state is LeadState.EXHAUSTED
    assert settled.attempts == 4


def test_recycle_refuses_an_unknown_outcome_and_bad_hours(session: Session) -> None:
    lead_list = _list(session, make_campaign(session))
    with pytest.raises(InvalidInput) as refused:
        lead_lists.recycle(
            session, lead_list, outcome="sale", older_than_hours=1, actor=None, now=NOW
        )
    assert refused.value.details == {"field": "outcome"}
    with pytest.raises(InvalidInput):
        lead_lists.recycle(
            session, lead_list, outcome="busy", older_than_hours=-1, actor=None, now=NOW
        )
    assert _audited(session, "lead_list.recycled") == []


def test_reset_exhausted_leaves_the_others_alone(session: Session) -> None:
    campaign = make_campaign(session)
    lead_list = _list(session, campaign)
    tired = [
        _exhausted(session, lead_list, outcome, tried=NOW - timedelta(minutes=5))
        for outcome in ("busy", "no_answer", "no_decision")
    ]
    sold = make_lead(session, campaign, lead_list_id=lead_list.id, state=LeadState.SALE)
    fresh = make_lead(session, campaign, lead_list_id=lead_list.id)

    assert lead_lists.reset_exhausted(session, lead_list, actor=None, now=NOW) == 3

    states = dict(session.execute(select(Lead.id, Lead.state)).tuples().all())
    assert {states[lead.id] for lead in tired} == {LeadState.RETRY}
    assert states[sold.id] is LeadState.SALE
    assert states[fresh.id] is LeadState.NEW
    assert _audited(session, "lead_list.reset")[0].details["leads"] == 3


def test_move_takes_the_list_its_leads_and_pending_callbacks(session: Session) -> None:
    source, target = make_campaign(session), make_campaign(session)
    agent = make_user(session, Role.AGENT)
    lead_list = _list(session, source)
    moving = make_lead(session, source, lead_list_id=lead_list.id)
    callback_lead = make_lead(
        session,
        source,
        lead_list_id=lead_list.id,
        state=LeadState.CALLBACK,
        next_attempt_at=NOW,
    )
    session.add(
        Callback(
            lead_id=callback_lead.id,
            customer_id=callback_lead.customer_id,
            campaign_id=source.id,
            due_at=NOW,
            created_by_id=agent.id,
        )
    )
    customer = make_customer(session)
    stays = make_lead(session, source, customer, lead_list_id=lead_list.id)
    make_lead(session, target, customer)  # that customer is already in the target

    result = lead_lists.move_to_campaign(session, lead_list, target, actor=agent)

    assert (result.moved, result.kept) == (2, 1)
    assert session.get(LeadList, lead_list.id).campaign_id == target.id  # type: ignore[union-attr]
    campaigns = dict(session.execute(select(Lead.id, Lead.campaign_id)).tuples().all())
    assert campaigns[moving.id] == campaigns[callback_lead.id] == target.id
    assert campaigns[stays.id] == source.id
    assert session.scalars(select(Callback.campaign_id)).one() == target.id
    with pytest.raises(Conflict):  # the old campaign's hopper may still offer it
        lead_lifecycle.claim_attempt(session, moving.id, now=NOW, campaign_id=source.id)
    claimed = lead_lifecycle.claim_attempt(session, moving.id, now=NOW, campaign_id=target.id)
    assert claimed.state is LeadState.DIALING
    (entry,) = _audited(session, "lead_list.moved")
    assert entry.details["from_campaign_id"] == source.id
    assert entry.details["to_campaign_id"] == target.id


def test_move_is_refused_while_a_lead_of_the_list_is_on_a_call(session: Session) -> None:
    source, target = make_campaign(session), make_campaign(session)
    lead_list = _list(session, source)
    make_lead(session, source, lead_list_id=lead_list.id, state=LeadState.DIALING)
    with pytest.raises(Conflict) as refused:
        lead_lists.move_to_campaign(session, lead_list, target, actor=None)
    assert "1 leads of list march.csv" in refused.value.message
    with pytest.raises(InvalidInput):
        lead_lists.move_to_campaign(session, lead_list, source, actor=None)
    assert _audited(session, "lead_list.moved") == []


def test_penetration_counts_leads_not_calls(session: Session) -> None:
    campaign = make_campaign(session)
    agent = make_user(session, Role.AGENT)
    lead_list = _list(session, campaign)
    empty = _list(session, campaign, "empty")
    never = make_lead(session, campaign, lead_list_id=lead_list.id)
    twice_no_answer = make_lead(session, campaign, lead_list_id=lead_list.id, attempts=2)
    contacted = make_lead(session, campaign, lead_list_id=lead_list.id, attempts=2)
    machine = make_lead(session, campaign, lead_list_id=lead_list.id, attempts=1)
    sold = make_lead(session, campaign, lead_list_id=lead_list.id, attempts=1)
    for number in (1, 2):
        _call(session, twice_no_answer, number, outcome=CallOutcome.NO_ANSWER)
    _call(session, contacted, 1, outcome=CallOutcome.BUSY)
    _call(
        session,
        contacted,
        2,
        outcome=CallOutcome.ANSWERED,
        answered_at=NOW,
        connected_at=NOW,
        agent_id=agent.id,
    )
    # a machine an agent took is handled, never a contact (metrics.CONTACT)
    _call(
        session,
        machine,
        1,
        outcome=CallOutcome.MACHINE,
        answered_at=NOW,
        connected_at=NOW,
        agent_id=agent.id,
    )
    sale_call = _call(
        session,
        sold,
        1,
        outcome=CallOutcome.ANSWERED,
        answered_at=NOW,
        connected_at=NOW,
        agent_id=agent.id,
    )
    session.add(
        Disposition(
            call_id=sale_call.id,
            agent_id=agent.id,
            code=DispositionCode.SALE,
            category=DispositionCategory.SALE,
        )
    )
    session.flush()
    assert never.attempts == 0

    figures = lead_lists.penetration(session, [lead_list.id, empty.id])

    assert figures[lead_list.id] == lead_lists.Penetration(
        leads=5, dialed=4, contacted=2, converted=1, exhausted=0
    )
    assert figures[lead_list.id].percent(4) == 80.0
    assert figures[empty.id] == lead_lists.Penetration()
    assert figures[empty.id].percent(0) is None
