"""The Redis Streams bus riding out its faults, against a real redis-server:
Redis down while events are published, Redis back empty, a handler whose
database is unreachable, an event that overtakes the one it follows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from callcenter.bus import NotYet
from callcenter.bus_redis import RedisStreamsEventBus
from callcenter.events import CallAnswered, Event
from tests.integration.faults.bus_fixtures import Recorder, stream_bus
from tests.integration.faults.servers import PrivateRedis
from tests.support import wait_until


@pytest.fixture
def consumer_and_recorder(
    private_redis: PrivateRedis, stream: str
) -> Iterator[tuple[RedisStreamsEventBus, Recorder]]:
    consumer, recorder = stream_bus(private_redis.url, stream), Recorder()
    consumer.subscribe(CallAnswered.TYPE, recorder)
    consumer.start()
    yield consumer, recorder
    consumer.stop()


def test_events_published_while_redis_is_down_wait_and_arrive_in_order(
    private_redis: PrivateRedis,
    stream: str,
    consumer_and_recorder: tuple[RedisStreamsEventBus, Recorder],
) -> None:
    _consumer, recorder = consumer_and_recorder
    publisher = stream_bus(private_redis.url, stream)
    names = [f"c{number}" for number in range(15)]
    for name in names[:5]:
        publisher.publish(CallAnswered(call_id=name))
    wait_until(lambda: recorder.count() == 5, 10, "the first events")

    private_redis.kill()
    for name in names[5:]:
        publisher.publish(CallAnswered(call_id=name))  # never raises
    assert publisher.outbox_size() == 10
    private_redis.start()  # empty: the stream and the group are gone

    wait_until(lambda: recorder.count() == 15, 30, "every event after the restart")
    assert recorder.applied == names
    assert publisher.outbox_size() == 0
    publisher.stop()


def test_events_redis_lost_before_anyone_read_them_are_sent_again(
    private_redis: PrivateRedis, stream: str
) -> None:
    group_member = stream_bus(private_redis.url, stream)
    group_member.subscribe(CallAnswered.TYPE, Recorder())
    group_member.start()  # the group exists, then its only member stops
    wait_until(lambda: bool(private_redis.client().exists(stream)), 10, "the group")
    group_member.stop()
    publisher = stream_bus(private_redis.url, stream)
    names = [f"lost{number}" for number in range(10)]
    for name in names:
        publisher.publish(CallAnswered(call_id=name))

    private_redis.restart()  # nothing is published after it: the publisher notices by itself
    wait_until(
        lambda: private_redis.client().xlen(stream) == 10, 20, "the publisher to send them again"
    )
    consumer, recorder = stream_bus(private_redis.url, stream), Recorder()
    consumer.subscribe(CallAnswered.TYPE, recorder)
    consumer.start()
    try:
        wait_until(lambda: recorder.count() == 10, 20, "the events sent again")
    finally:
        consumer.stop()
        publisher.stop()
    assert recorder.applied == names


def test_a_handler_that_cannot_reach_its_database_gets_the_event_again_in_order(
    private_redis: PrivateRedis, stream: str
) -> None:
    """Only the failing handler runs again, and the events behind wait their turn."""
    tries: dict[str, int] = {}
    applied: list[str] = []

    def database_handler(event: Event) -> None:
        name = event.call_id  # type: ignore[attr-defined]
        tries[name] = tries.get(name, 0) + 1
        if name == "c1" and tries[name] <= 3:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("server closed"))
        if name == "c3" and tries[name] <= 2:
            raise NotYet("c3 came before the event it follows")
        applied.append(name)

    other = Recorder()
    consumer = stream_bus(private_redis.url, stream)
    consumer.subscribe(CallAnswered.TYPE, database_handler)
    consumer.subscribe(CallAnswered.TYPE, other)
    publisher = stream_bus(private_redis.url, stream)
    names = [f"c{number}" for number in range(5)]
    for name in names:
        publisher.publish(CallAnswered(call_id=name))
    consumer.start()
    try:
        assert consumer.wait_until_idle(timeout=30)
    finally:
        consumer.stop()
        publisher.stop()
    assert applied == names
    assert tries == {"c0": 1, "c1": 4, "c2": 1, "c3": 3, "c4": 1}
    assert other.deliveries == 5  # it had applied them: not run again
    assert private_redis.client().xlen("cc:events:dead") == 0


def test_a_handler_out_of_time_leaves_the_event_pending(
    private_redis: PrivateRedis, stream: str
) -> None:
    """Past `retry_for_s` the event stays unacknowledged (claimed again later,
    dead-lettered in the end) and the rest flow."""
    applied: list[str] = []

    def handler(event: Event) -> None:
        name = event.call_id  # type: ignore[attr-defined]
        if name == "stuck":
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("server closed"))
        applied.append(name)

    consumer = stream_bus(private_redis.url, stream, retry_for_s=0.5)
    consumer.subscribe(CallAnswered.TYPE, handler)
    publisher = stream_bus(private_redis.url, stream)
    for name in ("a", "stuck", "b"):
        publisher.publish(CallAnswered(call_id=name))
    consumer.start()
    try:
        wait_until(lambda: applied == ["a", "b"], 20, "the events after the stuck one")
    finally:
        consumer.stop()
        publisher.stop()
    groups: Any = private_redis.client().xinfo_groups(stream)
    assert [group["pending"] for group in groups] == [1]
