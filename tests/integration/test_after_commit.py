"""What leaves a transaction (browser emits and deltas, bus events, domain
events) leaves once the outermost transaction commits, and SAVEPOINTs keep
their own: released, their work waits for the commit; rolled back, only
their work is dropped."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter import after_commit
from callcenter.bus import InProcessEventBus
from callcenter.db import Database
from callcenter.events import Event, FollowUpQueued
from callcenter.models import Team
from callcenter.realtime import BROADCASTER, emit_after_commit, push_after_commit
from callcenter.services.bus_outbox import publish_after_commit
from tests.factories import make_team


class Outside:
    """Everything that can hear of a commit, in the order it heard."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, int]] = []
        self.bus = InProcessEventBus()
        self.bus.subscribe(FollowUpQueued.TYPE, self._bus_event)

    def emit(self, event: str, data: Any, *, to: str, namespace: str = "/") -> None:
        kind = "delta" if event == "floor_delta" else "emit"
        number = data["agents"][0]["n"] if kind == "delta" else data
        self.heard.append((kind, number))

    def _bus_event(self, published: Event) -> None:
        assert isinstance(published, FollowUpQueued)
        self.heard.append(("bus", published.follow_up_id))

    def domain_events(self, events: Sequence[Any]) -> None:
        self.heard.extend(("domain", number) for number in events)

    def numbers(self) -> dict[str, list[int]]:
        assert self.bus.wait_until_idle()
        found: dict[str, list[int]] = {"emit": [], "delta": [], "bus": [], "domain": []}
        for kind, number in self.heard:
            found[kind].append(number)
        return found


@pytest.fixture
def outside(database: Database) -> Iterator[Outside]:
    heard = Outside()
    heard.bus.start()
    after_commit.subscribe(database.sessions, heard.domain_events)
    yield heard
    heard.bus.stop()


def queue_all(session: Session, outside: Outside, number: int) -> None:
    emit_after_commit(session, "changed", number, room="agent:1")
    push_after_commit(session, "supervisor:campaign:1", "agents", {"agent_id": 1, "n": number})
    publish_after_commit(session, outside.bus, FollowUpQueued(follow_up_id=number))
    after_commit.record_event(session, number)


def each(*numbers: int) -> dict[str, list[int]]:
    return {kind: list(numbers) for kind in ("emit", "delta", "bus", "domain")}


def test_a_commit_sends_each_kind_in_order(database: Database, outside: Outside) -> None:
    with database.sessions(info={BROADCASTER: outside}) as session:
        queue_all(session, outside, 1)
        queue_all(session, outside, 2)
        make_team(session)
        assert outside.numbers() == each()
        session.commit()
    assert outside.numbers() == each(1, 2)
    browser_and_domain = [kind for kind, _number in outside.heard if kind != "bus"]
    assert browser_and_domain == ["emit", "emit", "delta", "delta", "domain", "domain"]


def test_a_rollback_drops_everything(database: Database, outside: Outside) -> None:
    with database.sessions(info={BROADCASTER: outside}) as session:
        queue_all(session, outside, 1)
        with session.begin_nested():
            queue_all(session, outside, 2)
        make_team(session)
        session.rollback()
        queue_all(session, outside, 3)
        session.commit()
    assert outside.numbers() == each(3)


def test_a_released_savepoint_waits_for_the_commit(database: Database, outside: Outside) -> None:
    with database.sessions(info={BROADCASTER: outside}) as session:
        queue_all(session, outside, 1)
        with session.begin_nested():
            make_team(session)
            queue_all(session, outside, 2)
        assert outside.numbers() == each()
        queue_all(session, outside, 3)
        session.commit()
    assert outside.numbers() == each(1, 2, 3)


def test_a_rolled_back_savepoint_drops_only_its_own(database: Database, outside: Outside) -> None:
    with database.sessions(info={BROADCASTER: outside}) as session:
        queue_all(session, outside, 1)
        savepoint = session.begin_nested()
        make_team(session)
        queue_all(session, outside, 2)
        savepoint.rollback()
        queue_all(session, outside, 3)
        session.commit()
    assert outside.numbers() == each(1, 3)


def test_a_savepoint_whose_flush_failed_drops_only_its_own(
    database: Database, outside: Outside
) -> None:
    with database.sessions(info={BROADCASTER: outside}) as session:
        taken = make_team(session).name
        queue_all(session, outside, 1)
        with pytest.raises(IntegrityError), session.begin_nested():
            queue_all(session, outside, 2)
            session.add(Team(name=taken))
            session.flush()
        session.commit()
    assert outside.numbers() == each(1)
    with database.read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Team)) == 1


def test_savepoints_nested_twice(database: Database, outside: Outside) -> None:
    with database.sessions(info={BROADCASTER: outside}) as session:
        with session.begin_nested():
            queue_all(session, outside, 1)
            with session.begin_nested():
                make_team(session)
                queue_all(session, outside, 2)
            lost = session.begin_nested()
            queue_all(session, outside, 3)
            lost.rollback()
            queue_all(session, outside, 4)
        assert outside.numbers() == each()
        outer = session.begin_nested()
        with session.begin_nested():
            queue_all(session, outside, 5)
        outer.rollback()
        outer = session.begin_nested()
        session.begin_nested()
        queue_all(session, outside, 6)
        outer.rollback()  # the SAVEPOINT still open inside it goes with it
        session.commit()
    assert outside.numbers() == each(1, 2, 4)


def test_a_commit_with_savepoints_still_open_sends_them(
    database: Database, outside: Outside
) -> None:
    with database.sessions(info={BROADCASTER: outside}) as session:
        session.begin_nested()
        queue_all(session, outside, 1)
        session.begin_nested()
        queue_all(session, outside, 2)
        session.commit()
    assert outside.numbers() == each(1, 2)


def test_domain_events_reach_only_the_consumers_of_their_sessions(
    database: Database, outside: Outside
) -> None:
    other = Database(database.url)
    try:
        with other.sessions() as session:
            after_commit.record_event(session, 1)
            session.commit()
        with database.sessions() as session:
            after_commit.record_event(session, 2)
            session.commit()
    finally:
        other.dispose()
    assert outside.numbers()["domain"] == [2]
