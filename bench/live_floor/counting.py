"""What the live floor costs a `callcenter consume` process to count each
call attempt after its commits, with the Redis counters production uses:

    PYTHONPATH=. .venv/bin/python -m bench.live_floor.counting \
        [--attempts 2000] [--answered 0.45] [--rounds 3] [--redis-url redis://127.0.0.1:6379/4] \
        [--publish]

Each attempt's commits reach `LiveFloor._committed` one at a time, as a
consume process applying events as they come (a read of one event) hands
them on: dialing, ringing, then for an answered attempt answered, connected
with the agent's state change, and ended with the agent's wrap-up; an
unanswered one ends at once. Calls overlap 20 at a time. Emits go to a
function that drops them, or with `--publish` to the Socket.IO message
queue of the same Redis, each commit's inside `publishes_together` as a
commit's delivery sends them (code without it publishes each at once).
Prints this process's CPU and the Redis round trips per attempt. The floor's
database (for the customer's name) is a SQLite file; the Redis database
given is flushed."""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import redis
from redis.connection import Connection

from callcenter import migrate
from callcenter.db import Database
from callcenter.events import (
    AgentStateChanged,
    CallAnswered,
    CallConnected,
    CallDialing,
    CallEnded,
    CallRinging,
    Event,
)
from callcenter.live_counters import RedisCounters
from callcenter.services.floor.projection import LiveFloor
from callcenter.states import AgentState
from tests.factories import make_campaign, make_lead

OVERLAP = 20

round_trips = 0
_send = Connection.send_packed_command


def _counted_send(self: Connection, *args: Any, **kwargs: Any) -> None:
    global round_trips
    round_trips += 1
    _send(self, *args, **kwargs)


def commits(campaign_id: int, leads: list[int], answered: float, seed: int) -> list[list[Event]]:
    """Each commit's domain events, calls overlapping OVERLAP at a time."""
    rng = random.Random(seed)
    found: list[list[Event]] = []
    for first in range(0, len(leads), OVERLAP):
        group = [(uuid.uuid4().hex, lead_id) for lead_id in leads[first : first + OVERLAP]]
        found += [
            [CallDialing(call_id=c, campaign_id=campaign_id, lead_id=lead, attempt=1)]
            for c, lead in group
        ]
        found += [[CallRinging(call_id=c)] for c, _ in group]
        for number, (call_id, _lead) in enumerate(group):
            if rng.random() >= answered:
                found.append([CallEnded(call_id=call_id, outcome="no_answer", sip_status=487)])
                continue
            agent_id = 1000 + number

            def state(before: AgentState, after: AgentState, agent: int = agent_id) -> Event:
                return AgentStateChanged(
                    agent_id=agent, campaign_id=campaign_id, from_state=before, to_state=after
                )

            found += [
                [CallAnswered(call_id=call_id)],
                [
                    state(AgentState.READY, AgentState.ON_CALL),
                    CallConnected(call_id=call_id, agent_id=agent_id),
                ],
                [
                    state(AgentState.ON_CALL, AgentState.WRAP_UP),
                    CallEnded(
                        call_id=call_id, outcome="answered", agent_id=agent_id, talk_seconds=30
                    ),
                ],
            ]
    return found


def _publishing(redis_url: str) -> tuple[Any, Callable[[], AbstractContextManager[object]]]:
    """An emitter to the message queue, and what a commit's delivery sends
    its publishes inside (nothing, before `publishes_together`)."""
    try:
        from callcenter.realtime import redis_emitter
        from callcenter.realtime.managers import publishes_together
    except ImportError:
        from flask_socketio import SocketIO

        from callcenter.realtime import message_queue_options, wire_json

        return SocketIO(json=wire_json, **message_queue_options(redis_url)), nullcontext
    return redis_emitter(redis_url), publishes_together


def main() -> None:
    global round_trips
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--attempts", type=int, default=2000, help="a round")
    parser.add_argument("--answered", type=float, default=0.45)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/4")
    parser.add_argument("--publish", action="store_true", help="emits to the message queue")
    args = parser.parse_args()
    redis.Redis.from_url(args.redis_url).flushdb()
    Connection.send_packed_command = _counted_send  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        database = Database(url)
        with database.unit_of_work() as session:
            campaign = make_campaign(session)
            leads = [make_lead(session, campaign).id for _ in range(args.attempts)]
            campaign_id = campaign.id
        emitted = 0
        emitter, together = _publishing(args.redis_url) if args.publish else (None, nullcontext)

        def emit(name: str, data: Any, room: str) -> None:
            nonlocal emitted
            emitted += 1
            if emitter is not None:
                emitter.emit(name, data, to=room)

        floor = LiveFloor(
            counters=RedisCounters(args.redis_url),
            database=database,
            emit=emit,
            tz=ZoneInfo("Asia/Tehran"),
        )
        floor.ensure_built(floor.local_day(floor.clock()))
        for number in range(args.rounds):
            batch = commits(campaign_id, leads, args.answered, number)
            round_trips, emitted = 0, 0
            cpu = time.process_time()
            for items in batch:
                with together():
                    floor._committed(items)
            cpu = time.process_time() - cpu
            print(
                f"round {number + 1}: {cpu * 1000 / args.attempts:.3f} ms/attempt CPU, "
                f"{round_trips / args.attempts:.1f} Redis round trips/attempt, "
                f"{emitted / args.attempts:.1f} emits/attempt, {len(floor.counters.calls())} live"
            )
        database.dispose()


if __name__ == "__main__":
    main()
