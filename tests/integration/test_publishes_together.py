"""A commit's Socket.IO publishes go to the Redis message queue together, an
outlet's at its end (`realtime.managers.publishes_together`): all of them,
in the order they were made, as python-socketio's RedisManager writes them,
and none of a rolled-back SAVEPOINT."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from callcenter import after_commit
from callcenter.db import Database
from callcenter.realtime import (
    BROADCASTER,
    emit_after_commit,
    push_after_commit,
    redis_emitter,
)
from callcenter.realtime.managers import publishes_together
from tests.factories import make_team
from tests.integration.socketio_queue import heard_within, subscribed_queue
from tests.support import free_port


@pytest.fixture
def queue(redis_url: str) -> Iterator[Any]:
    """What the web servers hear: the deployment's Socket.IO channel."""
    with subscribed_queue(redis_url) as pubsub:
        yield pubsub


class Watching:
    """The emitter, and what the queue had heard when the last emit of the
    outlet was made (`last`)."""

    def __init__(self, emitter: Any, queue: Any, last: Any) -> None:
        self.emitter, self.queue, self.last = emitter, queue, last
        self.heard_before_the_last: list[dict[str, Any]] | None = None

    def emit(self, event: str, data: Any, *, to: str, namespace: str = "/") -> None:
        self.emitter.emit(event, data, to=to, namespace=namespace)
        if data == self.last:
            self.heard_before_the_last = heard_within(self.queue, 0.3)


@pytest.mark.redis
def test_an_outlets_pushes_are_published_together_in_order_at_its_end(
    sqlite_database: Database, redis_url: str, queue: Any
) -> None:
    """The browser emits of a commit, then its floor deltas, each outlet's
    publishes in one round trip when the outlet is done; none of a rolled
    back SAVEPOINT."""
    heard_before_the_domain_events: list[dict[str, Any]] = []

    def last_outlet(_domain_events: Sequence[Any]) -> None:
        heard_before_the_domain_events.extend(heard_within(queue, 0.5))

    after_commit.subscribe(sqlite_database.sessions, last_outlet)
    emitter = redis_emitter(redis_url)
    watching = Watching(emitter, queue, last=3)
    with sqlite_database.sessions(info={BROADCASTER: watching}) as session:
        for number in range(3):
            emit_after_commit(session, "changed", number, room="agent:1")
        push_after_commit(session, "supervisor:campaign:1", "agents", {"agent_id": 7})
        savepoint = session.begin_nested()
        make_team(session)
        emit_after_commit(session, "rolled_back", 9, room="agent:1")
        savepoint.rollback()
        emit_after_commit(session, "changed", 3, room="agent:2")
        after_commit.record_event(session, "the last outlet's")
        make_team(session)
        session.commit()
    assert watching.heard_before_the_last == []
    heard = heard_before_the_domain_events + heard_within(queue, 0.3)
    assert [(m["event"], m["data"], m["room"]) for m in heard] == [
        ("changed", [0], "agent:1"),
        ("changed", [1], "agent:1"),
        ("changed", [2], "agent:1"),
        ("changed", [3], "agent:2"),
        ("floor_delta", [{"calls": [], "agents": [{"agent_id": 7}]}], "supervisor:campaign:1"),
    ]
    assert len(heard_before_the_domain_events) == 5  # not held back by the last outlet
    # python-socketio's own message, from the emitter's host
    assert heard[0]["method"] == "emit" and heard[0]["namespace"] == "/"
    assert {m["host_id"] for m in heard} == {emitter.server.manager.host_id}


@pytest.mark.redis
def test_a_message_is_published_as_it_was_when_emitted(redis_url: str, queue: Any) -> None:
    emitter = redis_emitter(redis_url)
    row = {"state": "ringing"}
    with publishes_together():
        emitter.emit("call", row, to="agent:1")
        row["state"] = "ended"
        emitter.emit("call", row, to="agent:1")
    published = [m["data"] for m in heard_within(queue, 1.0)]
    assert published == [[{"state": "ringing"}], [{"state": "ended"}]]


def test_a_redis_that_is_down_is_logged_as_before_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    emitter = redis_emitter(f"redis://127.0.0.1:{free_port()}/0")
    with caplog.at_level(logging.ERROR), publishes_together():
        emitter.emit("one", 1, to="agent:1")
        emitter.emit("two", 2, to="agent:1")
    assert "Cannot publish to redis... giving up" in caplog.text
