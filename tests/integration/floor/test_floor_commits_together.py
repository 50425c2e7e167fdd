"""A commit's work on the Redis counters goes in two round trips: its events'
claims (with the first-build check) together, then their writes together
(`LiveCounters.batch`), sent before the reads that must see them. What the
floor pushes for the commit goes after its counts are written."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis

from callcenter.db import Database
from callcenter.domain_events import ScriptStepEntered
from callcenter.events import (
    AgentStateChanged,
    CallAnswered,
    CallConnected,
    CallDialing,
    CallEnded,
    CallRinging,
    Event,
)
from callcenter.live_counters import Count, Fact, RedisCounters
from callcenter.realtime.coalesce import CALLS
from callcenter.realtime.rooms import campaign_supervisors_room
from callcenter.services.floor.projection import LiveFloor
from callcenter.states import AgentState
from tests.factories import make_campaign, make_lead

pytestmark = pytest.mark.redis

AGENT = 31


@pytest.fixture
def counters(redis_url: str) -> RedisCounters:
    return RedisCounters(redis_url, prefix=f"cc:live:{uuid.uuid4().hex[:8]}:")


@pytest.fixture
def other(redis_url: str, counters: RedisCounters) -> RedisCounters:
    """The same counters as another process sees them."""
    return RedisCounters(redis_url, prefix=counters.prefix)


@pytest.fixture
def lead(sqlite_database: Database) -> tuple[int, int]:
    with sqlite_database.unit_of_work() as session:
        campaign = make_campaign(session)
        return campaign.id, make_lead(session, campaign).id


@pytest.fixture
def pushes() -> list[tuple[str, Any, str]]:
    return []


@pytest.fixture
def floor(
    sqlite_database: Database, counters: RedisCounters, pushes: list[tuple[str, Any, str]]
) -> Iterator[LiveFloor]:
    live = LiveFloor(
        counters=counters,
        database=sqlite_database,
        emit=lambda name, data, room: pushes.append((name, data, room)),
        tz=ZoneInfo("Asia/Tehran"),
    )
    live.ensure_built(live.local_day(live.clock()))
    yield live


def _state(before: AgentState, after: AgentState, campaign_id: int) -> AgentStateChanged:
    return AgentStateChanged(
        agent_id=AGENT, campaign_id=campaign_id, from_state=before, to_state=after
    )


def _answered_call(campaign_id: int, lead_id: int, call_id: str) -> list[list[Event]]:
    """An answered call's commits, as `callcenter consume` applies them."""
    return [
        [CallDialing(call_id=call_id, campaign_id=campaign_id, lead_id=lead_id, attempt=1)],
        [CallRinging(call_id=call_id)],
        [CallAnswered(call_id=call_id, amd_result="human", amd_decision_ms=800)],
        [
            _state(AgentState.READY, AgentState.ON_CALL, campaign_id),
            CallConnected(call_id=call_id, agent_id=AGENT),
        ],
        [
            _state(AgentState.ON_CALL, AgentState.WRAP_UP, campaign_id),
            CallEnded(call_id=call_id, outcome="answered", agent_id=AGENT, talk_seconds=30),
        ],
    ]


def test_each_push_of_a_commit_follows_its_counts(
    floor: LiveFloor, other: RedisCounters, lead: tuple[int, int]
) -> None:
    """Another process reading the counters when a push goes out finds what
    the push shows (the answer's count came after its push before)."""
    campaign_id, lead_id = lead
    day = floor.local_day(floor.clock())
    seen: list[tuple[str | None, dict[str, float]]] = []

    def emit(_name: str, _data: Any, _room: str) -> None:
        call = other.get_call("c1")
        seen.append((call and call["state"], other.totals(day).get(campaign_id, {})))

    floor.emit = emit
    for commit in _answered_call(campaign_id, lead_id, "c1"):
        floor._committed(commit)
    states = [state for state, _totals in seen]
    assert states == ["dialing", "ringing", "answered", "connected", None]
    counted = [
        {name for name in ("dials", "live_answers", "contacts", "talk_s") if totals.get(name)}
        for _s, totals in seen
    ]
    assert counted == [
        {"dials"},
        {"dials"},
        {"dials", "live_answers"},
        {"dials", "live_answers", "contacts"},
        {"dials", "live_answers", "contacts", "talk_s"},
    ]


def test_a_commit_applied_twice_is_counted_and_pushed_once(
    floor: LiveFloor, pushes: list[tuple[str, Any, str]], lead: tuple[int, int]
) -> None:
    campaign_id, lead_id = lead
    day = floor.local_day(floor.clock())
    commits = _answered_call(campaign_id, lead_id, "c2")
    for commit in commits[:3]:
        floor._committed(commit)
    floor._committed(commits[3])
    pushed = len(pushes)
    floor._committed(commits[3])  # the bus delivered both events again
    assert len(pushes) == pushed
    assert floor.counters.totals(day)[campaign_id]["contacts"] == 1
    assert floor.counters.agent_totals(day)[AGENT]["calls"] == 1
    assert floor.counters.get_agent(AGENT)["state"] == AgentState.ON_CALL


def test_two_events_of_one_call_in_one_commit_see_each_others_writes(
    floor: LiveFloor, lead: tuple[int, int]
) -> None:
    """Events that change one row are claimed one after the other: the
    connect reads the row the answer wrote in the same commit."""
    campaign_id, lead_id = lead
    day = floor.local_day(floor.clock())
    dialing, ringing, answered, (_agent, connected), _ended = _answered_call(
        campaign_id, lead_id, "c3"
    )
    floor._committed(dialing)
    floor._committed(ringing)
    floor._committed([*answered, connected])
    call = floor.counters.get_call("c3")
    assert call is not None
    assert (call["state"], call["amd_result"]) == ("connected", "human")
    totals = floor.counters.totals(day)[campaign_id]
    assert (totals["live_answers"], totals["contacts"]) == (1, 1)


def test_writes_in_a_batch_go_with_the_next_read_or_at_its_end(
    counters: RedisCounters, other: RedisCounters
) -> None:
    day = date(2026, 3, 1)
    with counters.batch():
        counters.set_call("c1", {"state": "ringing"})
        ended = [Count(Fact.ENDED, {"talk_s": 3.0})]
        assert counters.count_once(day, 7, "c2", ended) is None  # it waits
        assert other.calls() == {} and other.totals(day) == {}
        assert counters.get_call("c1") == {"state": "ringing"}  # sent with the read
        assert other.totals(day) == {7: {"talk_s": 3.0}}
        counters.set_agent(4, {"state": "ready"})
        counters.add(day, 7, {"dials": 1.0}, agent_id=4, agent_deltas={"calls": 1.0})
        assert other.agents() == {}
    assert other.agents() == {4: {"state": "ready"}}
    assert other.totals(day) == {7: {"talk_s": 3.0, "dials": 1.0}}
    assert other.agent_totals(day) == {4: {"calls": 1.0}}


def test_scripts_redis_forgot_are_loaded_and_sent_again_in_order(
    counters: RedisCounters, other: RedisCounters, redis_url: str
) -> None:
    """Redis restarted between two commits: its script cache is empty."""
    counters.set_call("c1", {"state": "dialing"})  # the scripts were loaded once
    redis.Redis.from_url(redis_url).script_flush()
    day = date(2026, 3, 1)
    with counters.batch():
        counters.set_call("c1", {"state": "ringing"})
        counters.add(day, 7, {"dials": 1.0})  # a MULTI: its scripts are forgotten inside it
        counters.set_call("c1", {"state": "answered"})
        counters.set_status("hopper:7", 3)
    assert other.get_call("c1") == {"state": "answered"}
    assert other.statuses() == {"hopper:7": 3}
    assert other.totals(day) == {7: {"dials": 1.0}}


def _round_trips(counters: RedisCounters, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What `counters` sends from now on, one entry per round trip: a command
    (a script's EVALSHA is one) or a pipeline."""
    sent: list[str] = []
    client = counters._redis
    execute, pipeline = client.execute_command, client.pipeline

    def command(*args: Any, **options: Any) -> Any:
        sent.append(str(args[0]))
        return execute(*args, **options)

    def piped(*args: Any, **options: Any) -> Any:
        sent.append("pipeline")
        return pipeline(*args, **options)

    monkeypatch.setattr(client, "execute_command", command)
    monkeypatch.setattr(client, "pipeline", piped)
    return sent


def test_a_script_move_is_one_round_trip_and_pushes_the_row_with_its_step(
    floor: LiveFloor,
    pushes: list[tuple[str, Any, str]],
    lead: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    campaign_id, lead_id = lead
    for commit in _answered_call(campaign_id, lead_id, "c4")[:4]:
        floor._committed(commit)
    floor._committed([ScriptStepEntered(call_id="c4", step_number=1)])  # its script loaded
    before = floor.counters.get_call("c4")
    assert before is not None
    pushes.clear()
    sent = _round_trips(floor.counters, monkeypatch)  # type: ignore[arg-type]
    floor._committed([ScriptStepEntered(call_id="c4", step_number=2)])
    assert len(sent) == 1
    assert floor.counters.get_call("c4") == {**before, "step": 2}
    [(_name, delta, room)] = pushes
    assert room == campaign_supervisors_room(campaign_id)
    assert [row["step"] for row in delta[CALLS]] == [2]


def test_a_script_move_keeps_what_another_process_wrote_to_the_row_meanwhile(
    floor: LiveFloor,
    other: RedisCounters,
    lead: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another process writes the row after the move's first round trip. The
    move used to read the row, then write it whole: that write was lost."""
    campaign_id, lead_id = lead
    for commit in _answered_call(campaign_id, lead_id, "c5")[:4]:
        floor._committed(commit)
    client = floor.counters._redis  # type: ignore[attr-defined]
    execute = client.execute_command

    def then_renamed(*args: Any, **options: Any) -> Any:
        reply = execute(*args, **options)
        monkeypatch.setattr(client, "execute_command", execute)
        row = other.get_call("c5")
        assert row is not None
        other.set_call("c5", {**row, "customer": "Renamed"})
        return reply

    monkeypatch.setattr(client, "execute_command", then_renamed)
    floor._committed([ScriptStepEntered(call_id="c5", step_number=3)])
    call = other.get_call("c5")
    assert call is not None and (call["customer"], call["step"]) == ("Renamed", 3)
