"""A consumer applies one read of the stream in one transaction
(`CallEventConsumer.apply_together`), or, when any event of it fails, none of
it, and then each event on its own as before."""

from __future__ import annotations

import threading

from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select

from callcenter import after_commit
from callcenter.bus import Subscriptions
from callcenter.consumers import CALL_EVENTS, CallEventConsumer
from callcenter.db import Database
from callcenter.events import (
    CallAnswered,
    CallConnected,
    CallDialing,
    CallEnded,
    CallRinging,
    Event,
)
from callcenter.models import Call, ProcessedEvent
from callcenter.services import agents, scripts_catalog
from callcenter.states import AgentState, CallOutcome, CallState
from tests.factories import SmallFloor, make_small_floor
from tests.support import statements


def _answered_call(floor: SmallFloor, call_id: str, lead_id: int) -> list[Event]:
    return [
        CallDialing(call_id=call_id, campaign_id=floor.campaign_id, lead_id=lead_id, attempt=1),
        CallRinging(call_id=call_id),
        CallAnswered(call_id=call_id),
        CallConnected(call_id=call_id, agent_id=floor.agent_id),
        CallEnded(call_id=call_id, outcome="answered", agent_id=floor.agent_id, talk_seconds=40),
    ]


def _unanswered_call(floor: SmallFloor, call_id: str, lead_id: int) -> list[Event]:
    return [
        CallDialing(call_id=call_id, campaign_id=floor.campaign_id, lead_id=lead_id, attempt=1),
        CallRinging(call_id=call_id),
        CallEnded(call_id=call_id, outcome="no_answer", sip_status=487),
    ]


class Commits:
    def __init__(self, database: Database) -> None:
        self.count = 0
        sqlalchemy_event.listen(database.engine, "commit", self._seen)

    def _seen(self, *_args: object) -> None:
        self.count += 1


def _hear_bus_events(database: Database) -> list[list[str]]:
    """The call events among each commit's domain events, as the live floor hears them."""
    heard: list[list[str]] = []

    def hear(domain_events: list[object]) -> None:
        heard.append([e.TYPE for e in domain_events if isinstance(e, CALL_EVENTS)])

    after_commit.subscribe(database.sessions, hear)
    return heard


def _states(database: Database, floor: SmallFloor) -> tuple[dict[str, tuple], AgentState]:
    with database.sessions() as session:
        calls = {
            call.id: (call.state, call.outcome, call.agent_id)
            for call in session.scalars(select(Call).where(Call.campaign_id == floor.campaign_id))
        }
        return calls, agents.status_of(session, floor.agent_id).state


def test_a_read_of_two_calls_is_applied_in_one_transaction_and_heard_after_it(
    database: Database,
) -> None:
    floor = make_small_floor(database, leads=2)
    events = [
        *_answered_call(floor, "together-1", floor.lead_ids[0]),
        *_unanswered_call(floor, "together-2", floor.lead_ids[1]),
    ]
    heard = _hear_bus_events(database)
    commits = Commits(database)

    assert CallEventConsumer(database).apply_together(events)

    assert commits.count == 1
    assert heard == [[event.TYPE for event in events]]
    calls, agent_state = _states(database, floor)
    assert calls == {
        "together-1": (CallState.ENDED, CallOutcome.ANSWERED, floor.agent_id),
        "together-2": (CallState.ENDED, CallOutcome.NO_ANSWER, None),
    }
    assert agent_state is AgentState.WRAP_UP
    with database.sessions() as session:
        marked = session.scalar(
            select(func.count())
            .select_from(ProcessedEvent)
            .where(ProcessedEvent.event_id.in_([event.event_id for event in events]))
        )
    assert marked == len(events)


def test_a_read_with_an_event_before_its_call_is_applied_event_by_event(
    database: Database,
) -> None:
    """call.ringing of a call whose call.dialing another member holds: nothing
    of the read is kept from the try together; then every other event is
    applied on its own, in order, and the early one waits its turn."""
    floor = make_small_floor(database, leads=2)
    early = CallRinging(call_id="dialing-elsewhere")
    events = [*_answered_call(floor, "mine", floor.lead_ids[0]), early]
    consumer = CallEventConsumer(database)
    heard = _hear_bus_events(database)

    assert not consumer.apply_together(events)
    assert heard == []
    assert _states(database, floor) == ({}, AgentState.READY)

    subscriptions = Subscriptions()
    for event_type in {event.TYPE for event in events}:
        subscriptions.add(event_type, consumer)
    delivered = subscriptions.dispatch_all_until_reachable(
        events, stopping=threading.Event(), retry_for_s=0.3
    )

    assert delivered == [True] * 5 + [False]  # left pending, for the member that has its call
    assert heard == [[event.TYPE] for event in events[:5]]
    calls, agent_state = _states(database, floor)
    assert calls == {"mine": (CallState.ENDED, CallOutcome.ANSWERED, floor.agent_id)}
    assert agent_state is AgentState.WRAP_UP


def test_a_read_is_marked_applied_in_one_statement_and_what_was_applied_is_skipped(
    database: Database,
) -> None:
    """A redelivered read: its first events were applied on their own before.
    The read's events are marked in one statement; those marked before change
    nothing and are not heard again."""
    floor = make_small_floor(database, leads=1)
    events = _answered_call(floor, "redelivered", floor.lead_ids[0])
    consumer = CallEventConsumer(database)
    for event in events[:2]:
        consumer(event)
    heard = _hear_bus_events(database)
    with statements(database) as seen:
        assert consumer.apply_together(events)

    assert len([s for s in seen if s.startswith("INSERT INTO processed_events")]) == 1
    assert heard == [[event.TYPE for event in events[2:]]]
    calls, agent_state = _states(database, floor)
    assert calls == {"redelivered": (CallState.ENDED, CallOutcome.ANSWERED, floor.agent_id)}
    assert agent_state is AgentState.WRAP_UP


def test_a_read_locks_each_call_row_once(postgres_database: Database) -> None:
    """Locked by its first event; the read's later events of the call find it
    in the session (a savepoint ended in between would forget the lock: the
    built-in scripts are stored before, as on a floor that has called)."""
    database = postgres_database
    floor = make_small_floor(database, leads=1)
    with database.unit_of_work() as session:
        scripts_catalog.ensure_builtin_scripts(session)
    events = _answered_call(floor, "locked-once", floor.lead_ids[0])

    with statements(database) as seen:
        assert CallEventConsumer(database).apply_together(events)

    locking = [
        s for s in seen if s.startswith("SELECT") and "FROM calls" in s and "FOR UPDATE" in s
    ]
    assert len(locking) == 1
    calls, _ = _states(database, floor)
    assert calls == {"locked-once": (CallState.ENDED, CallOutcome.ANSWERED, floor.agent_id)}
