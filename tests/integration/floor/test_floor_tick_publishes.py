"""The tick's snapshots, one a campaign room, go to the Redis message queue
together at the end of the tick (`realtime.managers.publishes_together`), in
the rooms' order, as the overdue callbacks' pushes do; none is held back
past the tick."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callcenter.db import Database
from callcenter.live_counters import InProcessCounters
from callcenter.realtime import redis_emitter
from callcenter.services.floor.projection import CALLBACKS_EVENT, SNAPSHOT_EVENT, LiveFloor
from tests.factories import make_campaign
from tests.integration.socketio_queue import heard_within, subscribed_queue

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
def queue(redis_url: str) -> Iterator[Any]:
    """What the web servers hear: the deployment's Socket.IO channel."""
    with subscribed_queue(redis_url) as pubsub:
        yield pubsub


@pytest.mark.redis
def test_a_ticks_snapshots_are_published_together_in_the_rooms_order(
    sqlite_database: Database, redis_url: str, queue: Any
) -> None:
    with sqlite_database.unit_of_work() as session:
        # ids no other test's campaigns have: an app an earlier test in this
        # worker left ticking publishes on the same channel
        campaign_ids = [make_campaign(session, id=91_001 + n).id for n in range(3)]
    rooms = [f"supervisor:campaign:{cid}" for cid in campaign_ids]
    emitter = redis_emitter(redis_url)
    batches: list[int] = []  # the messages each round trip to Redis carried
    manager = emitter.server.manager
    publish_encoded = manager.publish_encoded

    def counted(messages: list[str]) -> None:
        batches.append(len(messages))
        publish_encoded(messages)

    manager.publish_encoded = counted
    heard: list[dict[str, Any]] = []
    heard_during: list[tuple[str, list[str]]] = []  # each emit, the events heard by its end

    def ours(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [message for message in messages if message.get("room") in rooms]

    def emit(name: str, data: Any, room: str) -> None:
        emitter.emit(name, data, to=room)
        heard.extend(ours(heard_within(queue, 0.1)))
        heard_during.append((name, [m["event"] for m in heard]))

    floor = LiveFloor(
        counters=InProcessCounters(),
        database=sqlite_database,
        emit=emit,
        tz=ZoneInfo("Asia/Tehran"),
        clock=lambda: NOW,
    )
    assert floor.tick() == 3
    snapshots = [SNAPSHOT_EVENT] * 3
    assert heard_during == [
        *[(SNAPSHOT_EVENT, [])] * 3,  # held until the last room's
        *[(CALLBACKS_EVENT, snapshots)] * 3,
    ]
    heard.extend(ours(heard_within(queue, 0.5)))
    assert [(m["event"], m["room"]) for m in heard] == [
        *((SNAPSHOT_EVENT, room) for room in rooms),
        *((CALLBACKS_EVENT, room) for room in rooms),
    ]
    assert [m["data"][0]["campaign_id"] for m in heard] == campaign_ids * 2
    assert batches == [3, 3]  # the snapshots' round trip, then the callbacks'
