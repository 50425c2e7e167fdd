from datetime import UTC, datetime

import pytest

from scripts import ScriptPath, ScriptPathError


def test_path_records_next_back_and_jump():
    path = ScriptPath.begin().next().next().back().jump(6).next()
    assert path.current == 7
    assert path.max_reached == 7
    assert [move.kind for move in path.moves] == ["start", "next", "next", "back", "jump", "next"]
    assert path.steps_walked == (1, 2, 3, 2, 6, 7)
    assert path.visited == (1, 2, 3, 6, 7)
    assert path.moves[4].from_step == 2


def test_max_reached_survives_going_back():
    path = ScriptPath.begin().jump(8).back().jump(2)
    assert (path.current, path.max_reached) == (2, 8)


def test_paths_are_values():
    start = ScriptPath.begin()
    moved = start.next()
    assert start.current == 1 and moved.current == 2
    assert ScriptPath.begin().next() == moved


def test_bounds():
    with pytest.raises(ScriptPathError):
        ScriptPath.begin().back()
    with pytest.raises(ScriptPathError):
        ScriptPath.begin().jump(9).next()
    with pytest.raises(ScriptPathError):
        ScriptPath.begin().jump(0)
    with pytest.raises(ScriptPathError):
        _ = ScriptPath().current


def test_round_trip_with_times():
    moment = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)
    path = ScriptPath.begin(at=moment).next(at=moment).jump(5)
    data = path.to_data()
    assert data["moves"][1] == {"kind": "next", "from": 1, "to": 2, "at": moment.isoformat()}
    assert ScriptPath.from_data(data) == path
