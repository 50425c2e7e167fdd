"""A call's ringing, answer and unconnected end are applied in guarded
statements when the session holds no copy of its row, and through the locked
read of the row otherwise; either way the row, its state changes, the lead,
the webhooks and the agent's state changes come out the same."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from callcenter import after_commit
from callcenter.consumers import CallEventConsumer
from callcenter.db import Database
from callcenter.domain_events import AgentStateRecorded
from callcenter.errors import NotFound
from callcenter.events import (
    CallAnswered,
    CallConnected,
    CallDialing,
    CallEnded,
    CallRinging,
    Event,
)
from callcenter.models import (
    AgentStateChange,
    Call,
    CallStateChange,
    Campaign,
    Lead,
    LeadStateChange,
    WebhookDelivery,
)
from callcenter.realtime import BROADCASTER
from callcenter.services import agents, calls, webhooks
from callcenter.states import (
    AgentState,
    AmdAction,
    AmdResult,
    CallOutcome,
    CallState,
    LeadState,
    Role,
)
from tests.factories import SmallFloor, make_small_floor, make_user
from tests.support import statements


def _dialed(database: Database, floor: SmallFloor, call_id: str, lead_index: int = 0) -> None:
    lead_id = floor.lead_ids[lead_index]
    CallEventConsumer(database)(
        CallDialing(call_id=call_id, campaign_id=floor.campaign_id, lead_id=lead_id, attempt=1)
    )


def _moves(database: Database, call_id: str) -> list[tuple[CallState | None, CallState]]:
    with database.sessions() as session:
        query = (
            select(CallStateChange.from_state, CallStateChange.to_state)
            .where(CallStateChange.call_id == call_id)
            .order_by(CallStateChange.id)
        )
        return [(row.from_state, row.to_state) for row in session.execute(query)]


def _call(database: Database, call_id: str) -> Call:
    with database.sessions() as session:
        call = session.get(Call, call_id)
        assert call is not None
        return call


def test_ringing_and_answer_with_its_verdict_read_no_call_row(database: Database) -> None:
    floor = make_small_floor(database)
    _dialed(database, floor, "rung")
    consumer = CallEventConsumer(database)
    ringing = CallRinging(call_id="rung")
    answered = CallAnswered(
        call_id="rung", amd_result="human", amd_decision_ms=900, amd_action="passed_to_agent"
    )

    with statements(database) as seen:
        consumer(ringing)
        consumer(answered)

    assert not [s for s in seen if s.startswith("SELECT") and "FROM calls" in s]
    call = _call(database, "rung")
    assert (call.state, call.ringing_at, call.answered_at) == (
        CallState.ANSWERED,
        ringing.occurred_at,
        answered.occurred_at,
    )
    assert (call.amd_result, call.amd_action, call.amd_decision_ms) == (
        AmdResult.HUMAN,
        AmdAction.PASSED_TO_AGENT,
        900,
    )
    assert _moves(database, "rung") == [
        (None, CallState.DIALING),
        (CallState.DIALING, CallState.RINGING),
        (CallState.RINGING, CallState.ANSWERED),
    ]


def test_an_answer_with_an_unknown_verdict_leaves_the_verdict_out(database: Database) -> None:
    floor = make_small_floor(database)
    _dialed(database, floor, "odd-verdict")
    consumer = CallEventConsumer(database)
    consumer(CallRinging(call_id="odd-verdict"))
    consumer(CallAnswered(call_id="odd-verdict", amd_result="dolphin", amd_decision_ms=5))

    call = _call(database, "odd-verdict")
    assert (call.state, call.amd_result, call.amd_decision_ms) == (CallState.ANSWERED, None, None)


def test_an_answer_without_ringing_and_a_late_ringing_take_the_locked_read(
    database: Database,
) -> None:
    floor = make_small_floor(database)
    _dialed(database, floor, "no-ring")
    consumer = CallEventConsumer(database)
    answered = CallAnswered(call_id="no-ring", amd_result="human", amd_decision_ms=700)
    consumer(answered)
    consumer(CallRinging(call_id="no-ring"))  # came late: changes nothing

    call = _call(database, "no-ring")
    assert (call.state, call.answered_at, call.ringing_at, call.amd_result) == (
        CallState.ANSWERED,
        answered.occurred_at,
        None,
        AmdResult.HUMAN,
    )
    assert _moves(database, "no-ring") == [
        (None, CallState.DIALING),
        (CallState.DIALING, CallState.ANSWERED),
    ]


def test_ringing_of_a_call_not_written_is_not_found(database: Database) -> None:
    with database.unit_of_work() as session, pytest.raises(NotFound):
        calls.apply_event(session, CallRinging(call_id="never-dialed"))


def test_the_sessions_copy_of_the_call_is_moved_with_the_row(database: Database) -> None:
    """A session that read the call (without locking it) sees the ringing it
    applies: the move goes through its copy, not around it."""
    floor = make_small_floor(database)
    _dialed(database, floor, "read-first")
    with database.unit_of_work() as session:
        copy = session.get(Call, "read-first")
        assert copy is not None and copy.state is CallState.DIALING
        calls.apply_event(session, CallRinging(call_id="read-first"))
        calls.apply_event(session, CallAnswered(call_id="read-first"))
        assert session.get(Call, "read-first") is copy
        assert copy.state is CallState.ANSWERED

    assert _call(database, "read-first").state is CallState.ANSWERED


def test_the_agents_changes_are_recorded_with_their_rows_ids(database: Database) -> None:
    floor = make_small_floor(database)
    _dialed(database, floor, "to-agent")
    recorded: list[AgentStateRecorded] = []
    after_commit.subscribe(
        database.sessions,
        lambda items: recorded.extend(i for i in items if isinstance(i, AgentStateRecorded)),
    )
    consumer = CallEventConsumer(database)
    consumer(CallRinging(call_id="to-agent"))
    consumer(CallAnswered(call_id="to-agent"))
    connected = CallConnected(call_id="to-agent", agent_id=floor.agent_id)
    consumer(connected)

    with database.sessions() as session:
        rows = session.scalars(
            select(AgentStateChange)
            .where(AgentStateChange.call_id == "to-agent")
            .order_by(AgentStateChange.id)
        ).all()
        assert [(r.from_state, r.to_state, r.campaign_id, r.at) for r in rows] == [
            (AgentState.READY, AgentState.RESERVED, floor.campaign_id, connected.occurred_at),
            (AgentState.RESERVED, AgentState.ON_CALL, floor.campaign_id, connected.occurred_at),
        ]
        assert [e.event_id for e in recorded] == [f"agent-state-change:{r.id}" for r in rows]
        assert [(e.from_state, e.to_state, e.call_id) for e in recorded] == [
            ("ready", "reserved", "to-agent"),
            ("reserved", "on_call", "to-agent"),
        ]
        assert agents.status_of(session, floor.agent_id).state is AgentState.ON_CALL


def _subscribed_to_call_ended(database: Database) -> None:
    with database.unit_of_work() as session:
        admin = make_user(session, Role.ADMIN)
        webhooks.create_subscription(
            session, name="CRM", url="https://crm.example/hook", events=["call.ended"], actor=admin
        )


def _outcome_of(database: Database, call_id: str) -> dict[str, Any]:
    """What applying a call's events left: its row, its moves, its lead, the webhook."""
    moves = _moves(database, call_id)
    with database.sessions() as session:
        call = session.get(Call, call_id)
        assert call is not None
        lead = session.get(Lead, call.lead_id)
        assert lead is not None
        lead_moves = session.execute(
            select(LeadStateChange.from_state, LeadStateChange.to_state, LeadStateChange.reason)
            .where(LeadStateChange.call_id == call_id)
            .order_by(LeadStateChange.id)
        ).all()
        sent = [
            d.payload["data"]
            for d in session.scalars(select(WebhookDelivery)).all()
            if d.payload["data"]["call_id"] == call_id
        ]
        return {
            "call": (
                call.state,
                call.outcome,
                call.ringing_at,
                call.answered_at,
                call.ended_at,
                call.sip_status,
                call.sip_reason,
            ),
            "moves": moves,
            "lead": (lead.state, lead.last_outcome, lead.next_attempt_at is not None),
            "lead_moves": [tuple(m) for m in lead_moves],
            "webhook": sent,
            "webhook_is_the_rows": sent == [_jsonable(webhooks.call_data(call))],
        }


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in data.items()}


def _with_the_row_held(database: Database, events: list[Event]) -> None:
    """Each event in a unit of work that read the call first: the locked read's way."""
    for event in events:
        with database.unit_of_work() as session:
            assert session.get(Call, event.call_id) is not None  # type: ignore[attr-defined]
            calls.apply_event(session, event)


@pytest.mark.parametrize(
    ("outcome", "answered_after", "rings"),
    [
        ("no_answer", None, True),  # ends ringing
        ("busy", None, False),  # ends dialing
        ("abandoned", 3.0, True),  # answered, nobody free: ends answered
    ],
)
def test_an_unconnected_end_is_the_same_in_two_statements_as_through_the_row(
    database: Database, outcome: str, answered_after: float | None, rings: bool
) -> None:
    floor = make_small_floor(database, leads=2)
    _subscribed_to_call_ended(database)
    applied: dict[str, dict[str, Any]] = {}
    seen_by_way: dict[str, list[str]] = {}
    for index, way in enumerate(("statements", "row")):
        call_id = f"end-{way}"
        _dialed(database, floor, call_id, lead_index=index)
        events: list[Event] = [CallRinging(call_id=call_id)] if rings else []
        if answered_after is not None:
            events.append(CallAnswered(call_id=call_id))
        ended = CallEnded(
            call_id=call_id,
            outcome=outcome,
            sip_status=486 if outcome == "busy" else 487,
            sip_reason="x" * 200,
            answered_seconds=answered_after,
        )
        consumer = CallEventConsumer(database)
        for event in events:
            consumer(event)
        with statements(database) as seen:
            if way == "statements":
                consumer(ended)
            else:
                _with_the_row_held(database, [ended])
        seen_by_way[way] = seen
        applied[way] = _outcome_of(database, call_id)

    assert not [
        s for s in seen_by_way["statements"] if s.startswith("SELECT") and "FROM calls" in s
    ]
    fast, slow = applied["statements"], applied["row"]
    assert fast["webhook"] and fast["webhook_is_the_rows"] and slow["webhook_is_the_rows"]
    for part in ("call", "lead", "lead_moves"):
        assert _without_times(fast[part]) == _without_times(slow[part])
    assert fast["moves"] == slow["moves"]
    assert fast["moves"][-1][1] is CallState.ENDED
    assert fast["call"][1] is CallOutcome(outcome)
    assert fast["call"][6] == "x" * 120
    assert fast["lead"][0] is not LeadState.DIALING
    if answered_after is not None:  # the answer event's stamp stands
        assert fast["call"][3] is not None and fast["call"][3] != fast["call"][4] - timedelta(
            seconds=answered_after
        )


@pytest.mark.parametrize("subscribed", [False, True], ids=["no webhook", "a webhook"])
def test_an_unconnected_end_asks_for_webhooks_in_its_update(
    database: Database, subscribed: bool
) -> None:
    """Whether a webhook is active comes back with the calls row's UPDATE;
    the subscriptions are read only when one is."""
    floor = make_small_floor(database)
    if subscribed:
        _subscribed_to_call_ended(database)
    _dialed(database, floor, "quiet")
    with statements(database) as seen:
        CallEventConsumer(database)(CallEnded(call_id="quiet", outcome="busy", sip_status=486))
    asked = [s.split()[0] for s in seen if "webhook_subscriptions" in s]
    assert asked == (["UPDATE", "SELECT"] if subscribed else ["UPDATE"])
    assert len(_outcome_of(database, "quiet")["webhook"]) == subscribed


class _Broadcaster:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def emit(self, event: str, data: Any, *, to: str, namespace: str = "/") -> None:
        self.sent.append((event, data))


@pytest.mark.parametrize("subscribed", [False, True], ids=["no webhook", "a webhook"])
def test_a_connected_end_reads_the_webhooks_and_the_wrap_up_limit_with_its_call(
    database: Database, subscribed: bool
) -> None:
    """The end of a call an agent talked on reads whether a webhook is active
    and the campaign's wrap-up limit in its locked read of the call; the
    subscriptions are read only when one is active."""
    floor = make_small_floor(database)
    if subscribed:
        _subscribed_to_call_ended(database)
    with database.unit_of_work() as session:
        campaign = session.get(Campaign, floor.campaign_id)
        assert campaign is not None
        campaign.wrap_up_limit_seconds = 45
    _dialed(database, floor, "talked")
    consumer = CallEventConsumer(database)
    for event in (
        CallRinging(call_id="talked"),
        CallAnswered(call_id="talked"),
        CallConnected(call_id="talked", agent_id=floor.agent_id),
    ):
        consumer(event)
    broadcaster = _Broadcaster()
    database.sessions.configure(info={BROADCASTER: broadcaster})
    ended = CallEnded(
        call_id="talked",
        outcome="answered",
        sip_status=200,
        agent_id=floor.agent_id,
        talk_seconds=30,
    )
    with statements(database) as seen:
        consumer(ended)

    assert not [s for s in seen if s.startswith("SELECT campaigns.wrap_up_limit_seconds")]
    asked = [s.split()[0] for s in seen if "webhook_subscriptions" in s]
    assert asked == (["SELECT", "SELECT"] if subscribed else ["SELECT"])
    (call_read,) = [s for s in seen if "FROM calls" in s and "webhook_subscriptions" in s]
    assert "FOR UPDATE OF calls" in call_read or database.engine.name == "sqlite"
    assert len(_outcome_of(database, "talked")["webhook"]) == subscribed
    pushed = [data for event, data in broadcaster.sent if event == "call_ended"]
    assert [data["wrap_up_limit_seconds"] for data in pushed] == [45]
    with database.sessions() as session:
        assert agents.status_of(session, floor.agent_id).state is AgentState.WRAP_UP


def _without_times(value: Any) -> Any:
    """The two calls' events were made at different moments."""
    if isinstance(value, tuple | list):
        return type(value)(_without_times(v) for v in value)
    return "a time" if hasattr(value, "isoformat") and not isinstance(value, str) else value


def test_an_end_applied_again_changes_nothing(database: Database) -> None:
    floor = make_small_floor(database)
    _dialed(database, floor, "twice")
    consumer = CallEventConsumer(database)
    consumer(CallRinging(call_id="twice"))
    consumer(CallEnded(call_id="twice", outcome="no_answer", sip_status=487))
    before = _outcome_of(database, "twice")

    consumer(CallEnded(call_id="twice", outcome="busy", sip_status=486))  # another event id

    assert _outcome_of(database, "twice") == before


def test_the_end_of_an_unknown_call_is_not_found(database: Database) -> None:
    with database.unit_of_work() as session, pytest.raises(NotFound):
        calls.apply_event(session, CallEnded(call_id="never-dialed", outcome="no_answer"))
