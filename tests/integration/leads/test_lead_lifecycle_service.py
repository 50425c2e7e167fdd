"""claim_attempt / settle_attempt on a real SQLite file and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from callcenter.db import Database
from callcenter.errors import Conflict, InvalidInput, NotFound
from callcenter.models import (
    Call,
    Callback,
    CallbackStatus,
    DispositionCode,
    DncHit,
    Lead,
    LeadList,
    LeadStateChange,
)
from callcenter.services import disposition_codes, dnc, lead_lifecycle
from callcenter.services.lead_lifecycle import AttemptsExhausted, LeadBlocked
from callcenter.states import CallOutcome, DispositionCategory, IllegalTransition, LeadState, Role
from tests.factories import make_campaign, make_customer, make_lead, make_user

NOW = datetime(2025, 1, 4, 8, 0, tzinfo=UTC)  # Saturday 11:30 in Tehran


def _call(session: Session, lead_id: int, call_id: str = "c1") -> str:
    from callcenter.models import Lead

    lead = session.get(Lead, lead_id)
    assert lead is not None
    session.add(
        Call(
            id=call_id,
            campaign_id=lead.campaign_id,
            lead_id=lead.id,
            customer_id=lead.customer_id,
            attempt=lead.attempts,
            phone_e164=lead.customer.phone_e164,
            dialed_at=NOW,
        )
    )
    session.flush()
    return call_id


def test_claim_moves_to_dialing_and_counts_the_attempt(session: Session) -> None:
    lead = make_lead(session, make_campaign(session))
    claimed = lead_lifecycle.claim_attempt(session, lead.id, now=NOW)
    assert claimed.state is LeadState.DIALING
    assert claimed.attempts == 1
    assert claimed.last_attempt_at == NOW
    change = session.scalars(
        select(LeadStateChange).where(LeadStateChange.lead_id == lead.id)
    ).one()
    assert (change.from_state, change.to_state) == (LeadState.NEW, LeadState.DIALING)


def test_second_claim_of_the_same_attempt_is_refused(session: Session) -> None:
    lead = make_lead(session, make_campaign(session))
    lead_lifecycle.claim_attempt(session, lead.id, now=NOW)
    with pytest.raises(Conflict):
        lead_lifecycle.claim_attempt(session, lead.id, now=NOW)


def test_claim_refuses_global_and_campaign_dnc(session: Session) -> None:
    campaign, other = make_campaign(session), make_campaign(session)
    on_global = make_lead(session, campaign)
    on_campaign = make_lead(session, campaign)
    on_other = make_lead(session, campaign)
    dnc.add_number(
        session,
        on_global.customer.phone_e164,
        campaign_id=None,
        source="t",
        reason="",
        actor_id=None,
    )
    dnc.add_number(
        session,
        on_campaign.customer.phone_e164,
        campaign_id=campaign.id,
        source="t",
        reason="",
        actor_id=None,
    )
    dnc.add_number(
        session,
        on_other.customer.phone_e164,
        campaign_id=other.id,
        source="t",
        reason="",
        actor_id=None,
    )
    for lead in (on_global, on_campaign):
        with pytest.raises(LeadBlocked):
            lead_lifecycle.claim_attempt(session, lead.id, now=NOW)
        assert lead.state is LeadState.NEW
    assert lead_lifecycle.claim_attempt(session, on_other.id, now=NOW).state is LeadState.DIALING


def test_claim_refuses_at_max_attempts(session: Session) -> None:
    lead = make_lead(
        session, make_campaign(session, max_attempts=2), state=LeadState.RETRY, attempts=2
    )
    with pytest.raises(AttemptsExhausted):
        lead_lifecycle.claim_attempt(session, lead.id, now=NOW)


@pytest.mark.parametrize(
    ("outcome", "minutes"),
    [
        (CallOutcome.BUSY, 7),
        (CallOutcome.NO_ANSWER, 45),
        (CallOutcome.MACHINE, 120),
        (CallOutcome.ABANDONED, 30),
        (CallOutcome.FAILED, 10),
    ],
)
def test_unanswered_outcomes_retry_after_the_campaign_delay(
    session: Session, outcome: CallOutcome, minutes: int
) -> None:
    campaign = make_campaign(session, retry_delays_minutes={"busy": 7, "no_answer": 45})
    lead = make_lead(session, campaign)
    lead_lifecycle.claim_attempt(session, lead.id, now=NOW)
    call_id = _call(session, lead.id)
    settled = lead_lifecycle.settle_attempt(
        session, lead_id=lead.id, call_id=call_id, outcome=outcome, now=NOW
    )
    assert settled.state is LeadState.RETRY
    assert settled.next_attempt_at == NOW + timedelta(minutes=minutes)
    assert settled.last_outcome == str(outcome)
    change = session.scalars(
        select(LeadStateChange).where(LeadStateChange.to_state == LeadState.RETRY)
    ).one()
    assert change.call_id == call_id and str(outcome) in change.reason


def test_last_attempt_exhausts(session: Session) -> None:
    lead = make_lead(session, make_campaign(session, max_attempts=1))
    lead_lifecycle.claim_attempt(session, lead.id, now=NOW)
    settled = lead_lifecycle.settle_attempt(
        session, lead_id=lead.id, call_id=None, outcome=CallOutcome.BUSY, now=NOW
    )
    assert settled.state is LeadState.EXHAUSTED
    assert settled.next_attempt_at is None


@pytest.mark.parametrize(
    ("disposition", "state"),
    [
        (DispositionCode.APPOINTMENT_SET, LeadState.APPOINTMENT),
        (DispositionCode.SALE, LeadState.SALE),
        (DispositionCode.NOT_INTERESTED, LeadState.REJECTED),
        (DispositionCode.WRONG_NUMBER, LeadState.INVALID),
        (DispositionCode.NO_DECISION, LeadState.RETRY),
    ],
)
def test_dispositions_move_the_lead(
    session: Session, disposition: DispositionCode, state: LeadState
) -> None:
    lead = make_lead(session, make_campaign(session))
    lead_lifecycle.claim_attempt(session, lead.id, now=NOW)
    settled = lead_lifecycle.settle_attempt(
        session,
        lead_id=lead.id,
        call_id=None,
        outcome=CallOutcome.ANSWERED,
        disposition=disposition_codes.built_in(disposition),
        now=NOW,
    )
    assert settled.state is state


@pytest.mark.parametrize(
    ("category", "retry_minutes", "state", "next_in"),
    [
        (DispositionCategory.FINAL, None, LeadState.REJECTED, None),
        (DispositionCategory.SALE, None, LeadState.SALE, None),
        (DispositionCategory.APPOINTMENT, None, LeadState.APPOINTMENT, None),
        (DispositionCategory.DNC, None, LeadState.DNC, None),
        (DispositionCategory.RETRY, 90, LeadState.RETRY, timedelta(minutes=90)),
        (DispositionCategory.RETRY, None, LeadState.RETRY, timedelta(minutes=1440)),
    ],
)
def test_a_campaigns_own_code_moves_the_lead_by_its_category(
    session: Session,
    category: DispositionCategory,
    retry_minutes: int | None,
    state: LeadState,
    next_in: timedelta | None,
) -> None:
    lead = make_lead(session, make_campaign(session))
    lead_lifecycle.claim_attempt(session, lead.id, now=NOW)
    chosen = disposition_codes.ChosenDisposition("our_own_code", category, retry_minutes)
    settled = lead_lifecycle.settle_attempt(
        session,
        lead_id=lead.id,
        call_id=None,
        outcome=CallOutcome.ANSWERED,
        disposition=chosen,
        now=NOW,
    )
    assert settled.state is state
    assert settled.last_outcome == "our_own_code"
    assert settled.next_attempt_at == (NOW + next_in if next_in else None)


def test_invalid_number_outcome(session: Session) -> None:
    lead = make_lead(session, make_campaign(session))
    lead_lifecycle.claim_attempt(session, lead.id, now=NOW)
    settled = lead_lifecycle.settle_attempt(
        session, lead_id=lead.id, call_id=None, outcome=CallOutcome.INVALID_NUMBER, now=NOW
    )
    assert settled.state is LeadState.INVALID


def test_do_not_call_disposition_adds_the_number_at_once(session: Session) -> None:
    campaign, other = make_campaign(session), make_campaign(session)
    customer = make_customer(session)
    lead = make_lead(session, campaign, customer)
    elsewhere = make_lead(session, other, customer)
    agent = make_user(session, Role.AGENT)
    lead_lifecycle.claim_attempt(session, lead.id, now=NOW)
    settled = lead_lifecycle.settle_attempt(
        session,
        lead_id=lead.id,
        call_id=None,
        outcome=CallOutcome.ANSWERED,
        disposition=disposition_codes.built_in(DispositionCode.DO_NOT_CALL),
        actor_id=agent.id,
        now=NOW,
    )
    assert settled.state is LeadState.DNC
    assert dnc.is_blocked(session, customer.phone_e164, other.id)
    with pytest.raises(LeadBlocked):
        lead_lifecycle.claim_attempt(session, elsewhere.id, now=NOW)


def test_callback_books_a_callback_row(session: Session) -> None:
    lead = make_lead(session, make_campaign(session))
    agent = make_user(session, Role.AGENT)
    due = NOW + timedelta(days=1)
    lead_lifecycle.claim_attempt(session, lead.id, now=NOW)
    settled = lead_lifecycle.settle_attempt(
        session,
        lead_id=lead.id,
        call_id=None,
        outcome=CallOutcome.ANSWERED,
        disposition=disposition_codes.built_in(DispositionCode.CALLBACK),
        callback_at=due,
        callback_agent_id=agent.id,
        actor_id=agent.id,
        now=NOW,
    )
    assert settled.state is LeadState.CALLBACK
    assert settled.next_attempt_at == due
    callback = session.scalars(select(Callback)).one()
    assert (callback.assigned_agent_id, callback.due_at, callback.status) == (
        agent.id,
        due,
        CallbackStatus.PENDING,
    )
    lead_lifecycle.claim_attempt(session, lead.id, now=due)
    lead_lifecycle.settle_attempt(
        session, lead_id=lead.id, call_id=None, outcome=CallOutcome.NO_ANSWER, now=due
    )
    session.refresh(callback)
    assert callback.status is CallbackStatus.MISSED


def test_settling_closes_the_pending_callbacks_the_session_holds(session: Session) -> None:
    """The session's own callback rows show the close without a refresh."""
    lead = make_lead(session, make_campaign(session))
    agent = make_user(session, Role.AGENT)
    callback = Callback(
        lead_id=lead.id,
        customer_id=lead.customer_id,
        campaign_id=lead.campaign_id,
        due_at=NOW,
        created_by_id=agent.id,
    )
    session.add(callback)
    lead_lifecycle.claim_attempt(session, lead.id, now=NOW)
    lead_lifecycle.settle_attempt(
        session, lead_id=lead.id, call_id=None, outcome=CallOutcome.ANSWERED, now=NOW
    )
    assert callback.status is CallbackStatus.DONE


def test_callback_needs_a_time(session: Session) -> None:
    lead = make_lead(session, make_campaign(session))
    lead_lifecycle.claim_attempt(session, lead.id, now=NOW)
    with pytest.raises(InvalidInput):
        lead_lifecycle.settle_attempt(
            session,
            lead_id=lead.id,
            call_id=None,
            outcome=CallOutcome.ANSWERED,
            disposition=disposition_codes.built_in(DispositionCode.CALLBACK),
            actor_id=None,
            now=NOW,
        )


def test_settling_the_same_call_twice_is_a_no_op(session: Session) -> None:
    lead = make_lead(session, make_campaign(session))
    lead_lifecycle.claim_attempt(session, lead.id, now=NOW)
    call_id = _call(session, lead.id)
    for _ in range(2):
        settled = lead_lifecycle.settle_attempt(
            session, lead_id=lead.id, call_id=call_id, outcome=CallOutcome.BUSY, now=NOW
        )
    assert settled.state is LeadState.RETRY
    with pytest.raises(IllegalTransition):
        lead_lifecycle.settle_attempt(
            session, lead_id=lead.id, call_id=None, outcome=CallOutcome.BUSY, now=NOW
        )


def test_stale_dialing_leads_are_released(session: Session) -> None:
    lead = make_lead(session, make_campaign(session))
    lead_lifecycle.claim_attempt(session, lead.id, now=NOW)
    later = NOW + timedelta(hours=2)
    assert (
        lead_lifecycle.release_stale_attempts(session, older_than=timedelta(hours=1), now=later)
        == 1
    )
    session.refresh(lead)
    assert lead.state is LeadState.RETRY and lead.next_attempt_at == later
    assert lead_lifecycle.claim_attempt(session, lead.id, now=later).attempts == 2


def test_claims_of_a_batch_each_pass_or_are_refused_as_alone(database: Database) -> None:
    """`claim_many_counting_dnc` (a tick's launches in one transaction): the
    leads that pass are claimed, each refused one is refused as
    `claim_counting_dnc` would refuse it and left as it was, a DNC refusal is
    counted, and the claims of the others commit all the same."""
    with database.unit_of_work() as session:
        campaign = make_campaign(session, max_attempts=2)
        other = make_campaign(session)
        fresh = make_lead(session, campaign)
        retry = make_lead(session, campaign, state=LeadState.RETRY, attempts=1)
        blocked = make_lead(session, campaign)
        dnc.add_number(
            session, blocked.customer.phone_e164, campaign_id=None, source="t", reason="",
            actor_id=None,
        )  # fmt: skip
        exhausted = make_lead(session, campaign, state=LeadState.RETRY, attempts=2)
        dialing = make_lead(session, campaign, state=LeadState.DIALING, attempts=1)
        elsewhere = make_lead(session, other)
        disabled_list = LeadList(campaign_id=campaign.id, name="off", is_enabled=False)
        session.add(disabled_list)
        session.flush()
        on_disabled_list = make_lead(session, campaign, lead_list_id=disabled_list.id)
        ids = [
            fresh.id, retry.id, blocked.id, exhausted.id, dialing.id, elsewhere.id,
            on_disabled_list.id, 999_999,
        ]  # fmt: skip
        campaign_id = campaign.id

    claimed = lead_lifecycle.claim_many_counting_dnc(
        database, ids, now=NOW, campaign_id=campaign_id
    )

    assert claimed[fresh.id] == 1
    assert claimed[retry.id] == 2
    assert isinstance(claimed[blocked.id], LeadBlocked)
    assert isinstance(claimed[exhausted.id], AttemptsExhausted)
    for refused in (dialing.id, elsewhere.id, on_disabled_list.id):
        assert type(claimed[refused]) is Conflict
    assert isinstance(claimed[999_999], NotFound)
    with database.sessions() as session:
        leads = {lead.id: lead for lead in session.scalars(select(Lead).where(Lead.id.in_(ids)))}
        assert (leads[fresh.id].state, leads[fresh.id].attempts) == (LeadState.DIALING, 1)
        assert (leads[retry.id].state, leads[retry.id].attempts) == (LeadState.DIALING, 2)
        assert leads[fresh.id].last_attempt_at == NOW
        for refused, state, attempts in (
            (blocked.id, LeadState.NEW, 0),
            (exhausted.id, LeadState.RETRY, 2),
            (dialing.id, LeadState.DIALING, 1),
            (elsewhere.id, LeadState.NEW, 0),
            (on_disabled_list.id, LeadState.NEW, 0),
        ):
            assert (leads[refused].state, leads[refused].attempts) == (state, attempts)
        changes = session.scalars(
            select(LeadStateChange.lead_id).where(LeadStateChange.lead_id.in_(ids))
        ).all()
        assert sorted(changes) == sorted([fresh.id, retry.id])
        hits = session.scalars(select(DncHit.lead_id)).all()
        assert hits == [blocked.id]


def test_a_lead_of_a_batch_changed_after_its_checks_is_refused_as_taken(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's one guarded UPDATE claims a lead only as it was read: one
    whose attempt another claim took between the read and the update is
    refused, the others are claimed, each with its state change."""
    with database.unit_of_work() as session:
        campaign = make_campaign(session)
        first = make_lead(session, campaign)
        raced = make_lead(session, campaign, state=LeadState.RETRY, attempts=1)
        ids, campaign_id = [first.id, raced.id], campaign.id
    claim_together = lead_lifecycle._claim_together

    def rival_first(session: Session, *args: object, **kwargs: object) -> set[int]:
        session.execute(
            update(Lead).where(Lead.id == ids[1]).values(state=LeadState.DIALING, attempts=2)
        )
        session.execute(update(Lead).where(Lead.id == ids[1]).values(state=LeadState.RETRY))
        return claim_together(session, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lead_lifecycle, "_claim_together", rival_first)
    claimed = lead_lifecycle.claim_many_counting_dnc(
        database, ids, now=NOW, campaign_id=campaign_id
    )

    assert claimed[ids[0]] == 1
    assert type(claimed[ids[1]]) is Conflict
    with database.sessions() as session:
        leads = {lead.id: lead for lead in session.scalars(select(Lead).where(Lead.id.in_(ids)))}
        assert (leads[ids[0]].state, leads[ids[0]].attempts) == (LeadState.DIALING, 1)
        assert (leads[ids[1]].state, leads[ids[1]].attempts) == (LeadState.RETRY, 2)
        changes = session.execute(
            select(
                LeadStateChange.lead_id,
                LeadStateChange.from_state,
                LeadStateChange.to_state,
                LeadStateChange.reason,
                LeadStateChange.at,
            ).where(LeadStateChange.lead_id.in_(ids))
        ).all()
        assert [tuple(change) for change in changes] == [
            (ids[0], LeadState.NEW, LeadState.DIALING, "attempt 1", NOW)
        ]


def test_a_lead_asked_for_twice_in_a_batch_is_not_claimed(database: Database) -> None:
    with database.unit_of_work() as session:
        campaign = make_campaign(session)
        twice, once = make_lead(session, campaign), make_lead(session, campaign)
        ids, campaign_id = [twice.id, once.id, twice.id], campaign.id

    claimed = lead_lifecycle.claim_many_counting_dnc(
        database, ids, now=NOW, campaign_id=campaign_id
    )

    assert type(claimed[twice.id]) is Conflict
    assert claimed[once.id] == 1
    with database.sessions() as session:
        lead = session.get(Lead, twice.id)
        assert lead is not None and (lead.state, lead.attempts) == (LeadState.NEW, 0)
