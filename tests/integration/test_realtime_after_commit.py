"""Browsers hear of a change only once the outermost transaction commits."""

from __future__ import annotations

from typing import Any

from callcenter.db import Database
from callcenter.realtime import BROADCASTER, emit_after_commit
from tests.factories import make_team


class RecordingBroadcaster:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any, str]] = []

    def emit(self, event: str, data: Any, *, to: str, namespace: str = "/") -> None:
        self.sent.append((event, data, to))


def test_emits_wait_for_the_outer_commit_not_a_savepoint(database: Database) -> None:
    broadcaster = RecordingBroadcaster()
    with database.sessions(info={BROADCASTER: broadcaster}) as session:
        emit_after_commit(session, "before", 1, room="r")
        with session.begin_nested():
            make_team(session)
            emit_after_commit(session, "inside", 2, room="r")
        assert broadcaster.sent == []  # the SAVEPOINT was released, nothing committed yet
        session.commit()
    assert [event for event, _data, _room in broadcaster.sent] == ["before", "inside"]


def test_a_rolled_back_transaction_sends_nothing(database: Database) -> None:
    broadcaster = RecordingBroadcaster()
    with database.sessions(info={BROADCASTER: broadcaster}) as session:
        emit_after_commit(session, "lost", 1, room="r")
        make_team(session)
        session.rollback()
        session.commit()
    assert broadcaster.sent == []
