"""A script move as the service writes it: one `enter` row per move,
numbered after every row of the call's path under the call's lock, the
script read from the parse cache (its definition only when the parse is not
cached), and a cached parse never used for another script stored under the
same id. The move by statements (`call_script._move_by_statements`) answers,
writes, refuses and records what the move through the call's ORM object
does, and keeps its guarantees while it waits for another writer's lock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from callcenter import after_commit
from callcenter.db import Database, utcnow
from callcenter.errors import Conflict, DomainError
from callcenter.models import Call, StepAction, StepOutcome
from callcenter.services import call_script, dispositions, scripts_catalog
from callcenter.states import CallState, LeadState
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

    def first_move(session: Any) -> None:  # holds the call's lock
        call_script.move_step(session, agent_id, call_id, "next")

    errors = _while_locked(database, first_move, agent_id, call_id)
    assert not errors, errors
    assert [row[:2] for row in _path(database, call_id)] == [(1, 1), (2, 2), (3, 3)]
    assert {action for *_, action, _via in _path(database, call_id)} == {StepAction.ENTER.value}


# The statements' move beside the ORM's: `move_step` moves a call the session
# holds through its object, so holding it (`session.get`) takes the old way.

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
WALK: list[tuple[str, object]] = [
    ("next", None),
    ("next", None),
    ("back", None),
    ("jump", 7),
    ("next", None),
    ("jump", 99),  # refused: no such step
    ("jump", "x"),  # refused: not a number
    ("skip", None),  # refused: no such move
    ("jump", 9),
    ("next", None),  # refused: the last step
    ("reject", 4),  # the prospect's no, between the moves
    ("jump", 1),
    ("back", None),  # refused: the first step
    ("jump", "4"),
]


def _walk(database: Database, agent_id: int, call_id: str, *, hold: bool) -> list[object]:
    """What each step of WALK answers (the acknowledgement, or the refusal)
    and the domain events it records, the call's id left out."""
    answers: list[object] = []
    for number, (kind, step) in enumerate(WALK):
        now = NOW + timedelta(seconds=number)
        with database.unit_of_work() as session, statements(database) as seen:
            if hold:
                session.get(Call, call_id)
            try:
                if kind == "reject":
                    answer = call_script.record_rejection(
                        session, agent_id, call_id, step, "no_budget", now=now
                    )
                else:
                    answer = call_script.move_step(session, agent_id, call_id, kind, step, now=now)
                answers.append({**answer, "call_id": "x"})
            except DomainError as exc:
                answers.append((type(exc).__name__, exc.to_dict()))
                session.rollback()
            events = [work for _, _, work in session.info.get(after_commit.QUEUE, [])]
            answers.append([(type(e).__name__, e.step_number) for e in events])
        whole_row_reads = [s for s in seen if "calls.lead_id" in s]
        if kind != "reject":
            assert bool(whole_row_reads) is hold, (kind, step, seen)
    return answers


def _rows(database: Database, call_id: str) -> list[tuple[object, ...]]:
    with database.sessions() as session:
        path = session.execute(
            select(
                StepOutcome.seq,
                StepOutcome.step_number,
                StepOutcome.action,
                StepOutcome.via,
                StepOutcome.agent_id,
                StepOutcome.at,
                StepOutcome.reason_code,
            )
            .where(StepOutcome.call_id == call_id)
            .order_by(StepOutcome.seq)
        )
        call = session.get(Call, call_id)
        assert call is not None
        return [*map(tuple, path), (call.current_step, call.max_step_reached)]


def test_a_move_by_statements_answers_writes_and_refuses_as_the_orm_move(
    database: Database,
) -> None:
    with database.unit_of_work() as session:
        floor = build_floor(session, email=None)
        twins = [connected_call_row(session, floor) for _ in range(2)]
        for call in twins:
            call_script.start_script(session, call)
        scripts_catalog.script_of(call_script.script_version_of(session, call))  # parsed, cached
        agent_id, (by_statements, by_object) = floor.agent_id, [call.id for call in twins]
    with database.sessions() as session:  # both started at the same instant
        session.execute(update(StepOutcome).values(at=NOW - timedelta(minutes=1)))
        session.commit()
    answers = _walk(database, agent_id, by_statements, hold=False)
    assert answers == _walk(database, agent_id, by_object, hold=True)
    assert answers[-2:] == [{"call_id": "x", "step": 4, "max_step": 9}, [("ScriptStepEntered", 4)]]
    assert _rows(database, by_statements) == _rows(database, by_object)
    assert _rows(database, by_statements)[-4:] == [
        (8, 4, StepAction.REJECT, "reject", agent_id, NOW + timedelta(seconds=10), "no_budget"),
        (9, 1, StepAction.ENTER, "jump", agent_id, NOW + timedelta(seconds=11), None),
        (10, 4, StepAction.ENTER, "jump", agent_id, NOW + timedelta(seconds=13), None),
        (4, 9),
    ]


@pytest.mark.parametrize("hold", [False, True], ids=["by statements", "by object"])
def test_a_move_on_a_call_not_open_to_the_agent_is_refused_alike(
    database: Database, hold: bool
) -> None:
    agent_id, call_id = _call_on_step_one(database)
    with database.unit_of_work() as session:
        wrapped_up = connected_call_row(session, build_floor(session, email=None))
        wrapped_up.agent_id, wrapped_up.wrap_up_ended_at = agent_id, utcnow()
        wrapped_up_id = wrapped_up.id
    refusals = []
    for who, which in [(agent_id + 1000, call_id), (agent_id, "no-such-call"), (agent_id, None)]:
        refusals.append(_refusal(database, who, which, hold=hold))
    refusals.append(_refusal(database, agent_id, wrapped_up_id, hold=hold))
    assert refusals == [
        ("Forbidden", {"call_id": call_id}),
        ("NotFound", {"call_id": "no-such-call"}),
        ("NotFound", {"call_id": None}),
        ("Conflict", {"call_id": wrapped_up_id}),
    ]
    assert [row[:4] for row in _path(database, call_id)] == [(1, 1, "enter", "start")]


def _refusal(database: Database, agent_id: int, call_id: str | None, *, hold: bool) -> object:
    with database.unit_of_work() as session:
        if hold and call_id is not None:
            session.get(Call, call_id)
        with pytest.raises(DomainError) as refused:
            call_script.move_step(session, agent_id, call_id, "next")
        return type(refused.value).__name__, refused.value.details


def test_a_call_whose_row_says_another_step_than_its_path_moves_from_its_path(
    database: Database,
) -> None:
    """The path is the record; the row's step is only trusted when they agree."""
    agent_id, call_id = _call_on_step_one(database)
    with database.sessions() as session:
        session.execute(update(Call).where(Call.id == call_id).values(current_step=5))
        session.commit()
    with database.unit_of_work() as session:
        moved = call_script.move_step(session, agent_id, call_id, "next")
    assert moved == {"call_id": call_id, "step": 2, "max_step": 2}
    assert [row[:2] for row in _path(database, call_id)] == [(1, 1), (2, 2)]


def _while_locked(database: Database, lock_holder: Any, agent_id: int, call_id: str) -> list[Any]:
    """`lock_holder(session)` locks the call, then a move of the call starts in
    another thread and must wait until the holder commits; the move's error, if any."""
    first = database.sessions()
    try:
        lock_holder(first)
    except BaseException:
        first.close()
        raise
    done = threading.Event()
    errors: list[BaseException] = []

    def move() -> None:
        try:
            with database.unit_of_work() as session:
                call_script.move_step(session, agent_id, call_id, "next")
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=move)
    thread.start()
    try:
        assert not done.wait(0.5), "the move did not wait for the lock"
    finally:
        first.commit()
        first.close()
        thread.join(10)
    return errors


def test_a_move_waiting_for_a_rejection_writes_the_row_after_it(
    postgres_database: Database,
) -> None:
    """The rejection locks the call and adds a row without touching the call's
    row: the waiting move still numbers its row after the rejection's."""
    database = postgres_database
    agent_id, call_id = _call_on_step_one(database)
    with database.unit_of_work() as session:
        call_script.move_step(session, agent_id, call_id, "jump", 4)
    errors = _while_locked(
        database,
        lambda session: call_script.record_rejection(session, agent_id, call_id, 4, "no_budget"),
        agent_id,
        call_id,
    )
    assert not errors, errors
    assert _path(database, call_id) == [
        (1, 1, "enter", "start"),
        (2, 4, "enter", "jump"),
        (3, 4, "reject", "reject"),
        (4, 5, "enter", "next"),
    ]


def test_a_move_waiting_for_the_disposition_is_refused(postgres_database: Database) -> None:
    database = postgres_database
    agent_id, call_id = _call_on_step_one(database)
    with database.unit_of_work() as session:
        call = session.get(Call, call_id)
        assert call is not None
        call.state, call.ended_at, call.lead.state = CallState.ENDED, utcnow(), LeadState.DIALING
    errors = _while_locked(
        database,
        lambda session: dispositions.set_disposition(session, agent_id, call_id, "no_decision"),
        agent_id,
        call_id,
    )
    assert [type(error) for error in errors] == [Conflict]
    assert _path(database, call_id) == [(1, 1, "enter", "start")]
