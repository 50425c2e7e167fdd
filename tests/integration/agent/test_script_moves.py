"""A script move as the service writes it: one `enter` row per move after a
fresh read of the call's path under the call's lock, the script read from
the parse cache (its definition only when the parse is not cached), and a
cached parse never used for another script stored under the same id."""

from __future__ import annotations

import threading

from sqlalchemy import select

from callcenter.db import Database
from callcenter.models import Call, StepAction, StepOutcome
from callcenter.services import call_script, scripts_catalog
from tests.integration.agent.agent_floor import build_floor, connected_call_row
from tests.support import statements


def _call_on_step_one(database: Database) -> tuple[int, str]:
    with database.unit_of_work() as session:
        floor = build_floor(session, email=None)
        call = connected_call_row(session, floor)
        call_script.start_script(session, call)
        return floor.agent_id, call.id


def _path(database: Database, call_id: str) -> list[tuple[int, int, str, str]]:
    with database.sessions() as session:
        rows = session.execute(
            select(StepOutcome.seq, StepOutcome.step_number, StepOutcome.action, StepOutcome.via)
            .where(StepOutcome.call_id == call_id)
            .order_by(StepOutcome.seq)
        )
        return [(seq, step, str(action), via) for seq, step, action, via in rows]


def test_every_move_is_an_enter_row_after_the_rejection_too(database: Database) -> None:
    agent_id, call_id = _call_on_step_one(database)
    for kind, step in [("next", None), ("jump", 4)]:
        with database.unit_of_work() as session:
            call_script.move_step(session, agent_id, call_id, kind, step)
    with database.unit_of_work() as session:
        call_script.record_rejection(session, agent_id, call_id, 4, "no_budget")
    with database.unit_of_work() as session:
        moved = call_script.move_step(session, agent_id, call_id, "back")
    assert moved == {"call_id": call_id, "step": 3, "max_step": 4}
    assert _path(database, call_id) == [
        (1, 1, "enter", "start"),
        (2, 2, "enter", "next"),
        (3, 4, "enter", "jump"),
        (4, 4, "reject", "reject"),
        (5, 3, "enter", "back"),
    ]
    with database.sessions() as session:
        call = session.get(Call, call_id)
        assert call is not None and (call.current_step, call.max_step_reached) == (3, 4)


def test_a_move_reads_the_script_definition_only_while_its_parse_is_not_cached(
    database: Database,
) -> None:
    agent_id, call_id = _call_on_step_one(database)
    with database.unit_of_work() as session:
        call_script.move_step(session, agent_id, call_id, "next")
    with database.unit_of_work() as session, statements(database) as seen:
        call_script.move_step(session, agent_id, call_id, "next")
    assert not [s for s in seen if "definition" in s]
    call_reads = [s for s in seen if s.startswith("SELECT") and "FROM calls" in s]
    assert len(call_reads) == 1
    if database.engine.dialect.name == "postgresql":
        assert call_reads[0].endswith("FOR UPDATE OF calls")


def test_a_cached_parse_is_not_used_for_another_script_under_the_same_id(
    database: Database,
) -> None:
    with database.unit_of_work() as session:
        version = scripts_catalog.builtin_version(session, "en")
        script = scripts_catalog.script_of(version)
        key, number, version_id = version.key, version.version, version.id
    assert scripts_catalog.cached_script(version_id, key, number) is script
    assert scripts_catalog.cached_script(version_id, "another-script", number) is None
    assert scripts_catalog.cached_script(version_id, key, number + 1) is None


def test_two_moves_of_one_call_at_once_take_turns(postgres_database: Database) -> None:
    """The second waits for the first's lock, then reads the path afresh: two
    rows, one after the other, never the same seq."""
    database = postgres_database
    agent_id, call_id = _call_on_step_one(database)
    first = database.sessions()
    call_script.move_step(first, agent_id, call_id, "next")  # holds the call's lock
    second_done = threading.Event()
    errors: list[BaseException] = []

    def second_move() -> None:
        try:
            with database.unit_of_work() as session:
                call_script.move_step(session, agent_id, call_id, "next")
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            second_done.set()

    thread = threading.Thread(target=second_move)
    thread.start()
    try:
        assert not second_done.wait(0.5), "the second move did not wait for the lock"
    finally:
        first.commit()
        first.close()
        thread.join(10)
    assert not errors, errors
    assert [row[:2] for row in _path(database, call_id)] == [(1, 1), (2, 2), (3, 3)]
    assert {action for *_, action, _via in _path(database, call_id)} == {StepAction.ENTER.value}
