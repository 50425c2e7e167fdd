"""The coalescer: one batched push per room per window, latest payload per key."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from callcenter.realtime.coalesce import AGENTS, CALLS, DELTA_EVENT, Coalescer
from tests.support import wait_until


class Scheduler:
    """Background tasks held until the test runs them; a clock it moves."""

    def __init__(self) -> None:
        self.now = 100.0
        self.tasks: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self.slept: list[float] = []

    def start_background_task(self, target: Callable[..., Any], *args: Any) -> None:
        self.tasks.append((target, args))

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def run_tasks(self) -> None:
        tasks, self.tasks = self.tasks, []
        for target, args in tasks:
            target(*args)


def make(scheduler: Scheduler) -> tuple[Coalescer, list[tuple[str, Any, str]]]:
    sent: list[tuple[str, Any, str]] = []
    coalescer = Coalescer(
        lambda name, data, room: sent.append((name, data, room)),
        start_background_task=scheduler.start_background_task,
        sleep=scheduler.sleep,
        clock=lambda: scheduler.now,
    )
    return coalescer, sent


def test_a_change_on_a_quiet_room_goes_out_at_once() -> None:
    scheduler = Scheduler()
    coalescer, sent = make(scheduler)

    coalescer.push("campaign:1", CALLS, "c1", {"call_id": "c1", "state": "dialing"})

    assert sent == [
        (
            DELTA_EVENT,
            {"calls": [{"call_id": "c1", "state": "dialing"}], "agents": []},
            "campaign:1",
        )
    ]
    assert scheduler.tasks == []


def test_changes_within_the_window_wait_for_one_flush_where_the_latest_wins() -> None:
    scheduler = Scheduler()
    coalescer, sent = make(scheduler)
    coalescer.push("campaign:1", CALLS, "c1", {"call_id": "c1", "state": "dialing"})
    scheduler.now += 0.3

    coalescer.push("campaign:1", CALLS, "c1", {"call_id": "c1", "state": "ringing"})
    coalescer.push("campaign:1", AGENTS, 7, {"agent_id": 7, "state": "reserved"})
    coalescer.push("campaign:1", CALLS, "c1", {"call_id": "c1", "state": "answered"})
    coalescer.push("campaign:1", AGENTS, 7, {"agent_id": 7, "state": "on_call"})
    coalescer.push("campaign:1", CALLS, "c2", {"call_id": "c2", "state": "dialing"})

    assert len(sent) == 1  # only the leading push so far
    assert len(scheduler.tasks) == 1  # one flush scheduled, not one per change
    scheduler.run_tasks()

    assert scheduler.slept == [pytest.approx(0.7)]  # the rest of the window
    assert sent[1] == (
        DELTA_EVENT,
        {
            "calls": [
                {"call_id": "c1", "state": "answered"},
                {"call_id": "c2", "state": "dialing"},
            ],
            "agents": [{"agent_id": 7, "state": "on_call"}],
        },
        "campaign:1",
    )


def test_after_a_flush_the_next_change_waits_a_window_again() -> None:
    scheduler = Scheduler()
    coalescer, sent = make(scheduler)
    coalescer.push("r", CALLS, "c1", {"n": 1})
    scheduler.now += 0.5
    coalescer.push("r", CALLS, "c1", {"n": 2})
    scheduler.run_tasks()  # flushed at 101.0

    scheduler.now += 0.2
    coalescer.push("r", CALLS, "c1", {"n": 3})

    assert [d["calls"] for _, d, _ in sent] == [[{"n": 1}], [{"n": 2}]]
    scheduler.run_tasks()
    assert scheduler.slept[-1] == pytest.approx(0.8)
    assert [d["calls"] for _, d, _ in sent] == [[{"n": 1}], [{"n": 2}], [{"n": 3}]]


def test_a_room_quiet_for_a_window_gets_its_next_change_at_once() -> None:
    scheduler = Scheduler()
    coalescer, sent = make(scheduler)
    coalescer.push("r", AGENTS, 1, {"n": 1})
    scheduler.now += 1.0

    coalescer.push("r", AGENTS, 1, {"n": 2})

    assert len(sent) == 2
    assert scheduler.tasks == []


def test_immediate_events_bypass_the_window() -> None:
    scheduler = Scheduler()
    coalescer, sent = make(scheduler)
    coalescer.push("r", CALLS, "c1", {"n": 1})
    coalescer.push("r", CALLS, "c1", {"n": 2})  # waits

    coalescer.emit_now("floor_abandon", {"call_id": "c1"}, "r")

    assert sent[-1] == ("floor_abandon", {"call_id": "c1"}, "r")
    assert len(sent) == 2
    assert len(scheduler.tasks) == 1


def test_rooms_are_independent() -> None:
    scheduler = Scheduler()
    coalescer, sent = make(scheduler)
    coalescer.push("campaign:1", CALLS, "a", {"n": 1})
    coalescer.push("campaign:1", CALLS, "a", {"n": 2})  # campaign:1 waits

    coalescer.push("campaign:2", CALLS, "a", {"n": 9})  # campaign:2 is quiet: at once

    assert [(room, d["calls"]) for _, d, room in sent] == [
        ("campaign:1", [{"n": 1}]),
        ("campaign:2", [{"n": 9}]),
    ]
    scheduler.run_tasks()
    assert [(room, d["calls"]) for _, d, room in sent][2] == ("campaign:1", [{"n": 2}])


def test_threads_pushing_at_once_lose_nothing_and_the_latest_wins() -> None:
    sent: list[tuple[str, Any, str]] = []
    lock = threading.Lock()

    def emit(name: str, data: Any, room: str) -> None:
        with lock:
            sent.append((name, data, room))

    def start(target: Callable[..., Any], *args: Any) -> None:
        threading.Thread(target=target, args=args, daemon=True).start()

    coalescer = Coalescer(emit, start_background_task=start, sleep=time.sleep, window=0.05)
    writers, keys, rounds = 4, 25, 20

    def write(writer: int) -> None:
        for n in range(rounds):
            for key in range(keys):
                coalescer.push("r", CALLS, (writer, key), {"key": [writer, key], "n": n})

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    def latest() -> dict[tuple[int, int], int]:
        with lock:
            seen: dict[tuple[int, int], int] = {}
            for _, data, _ in sent:
                for row in data["calls"]:
                    seen[tuple(row["key"])] = row["n"]  # type: ignore[index]
            return seen

    wait_until(
        lambda: latest() == {(w, k): rounds - 1 for w in range(writers) for k in range(keys)},
        10,
        "every key's last payload to be flushed",
    )
    with lock:
        assert len(sent) < writers * keys * rounds


def test_a_late_row_of_an_ended_call_does_not_replace_its_end_in_the_window() -> None:
    """The agent's script step, read before the call ended and published by
    another process after the end, must not bring the call back."""
    scheduler = Scheduler()
    coalescer, sent = make(scheduler)
    coalescer.push("campaign:1", CALLS, "c0", {"call_id": "c0", "state": "dialing"})
    sent.clear()

    coalescer.push("campaign:1", CALLS, "c1", {"call_id": "c1", "state": "ended"})
    coalescer.push("campaign:1", CALLS, "c1", {"call_id": "c1", "state": "connected", "step": 4})
    scheduler.run_tasks()

    assert [data["calls"] for _name, data, _room in sent] == [[{"call_id": "c1", "state": "ended"}]]
