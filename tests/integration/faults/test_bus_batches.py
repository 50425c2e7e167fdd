"""Events published together (`publish_many`, a commit's bus events) against
a private redis-server, whose command counts are this test's alone: one
round trip for a batch, the order kept, and the outbox's guarantees for a
batch as for one event: Redis down, Redis back empty."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy.orm import sessionmaker

from callcenter.bus_redis import PUBLISH_AT_ONCE
from callcenter.events import CallAnswered, Event
from callcenter.services.bus_outbox import publish_after_commit
from tests.integration.faults.bus_fixtures import Recorder, stream_bus
from tests.integration.faults.servers import PrivateRedis
from tests.support import wait_until


def _answered(*names: str) -> list[Event]:
    return [CallAnswered(call_id=name) for name in names]


def _calls(server: PrivateRedis, command: str) -> int:
    stats: Any = server.client().info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def _applied(url: str, stream: str, count: int) -> list[str]:
    consumer, recorder = stream_bus(url, stream), Recorder()
    consumer.subscribe(CallAnswered.TYPE, recorder)
    consumer.start()
    try:
        wait_until(lambda: recorder.count() >= count, 20, f"{count} events applied")
    finally:
        consumer.stop()
    return recorder.applied


def test_a_batch_goes_in_one_round_trip_and_keeps_its_place(
    private_redis: PrivateRedis, stream: str
) -> None:
    publisher = stream_bus(private_redis.url, stream)
    publisher.publish(CallAnswered(call_id="first"))  # sets the publisher's marker up
    private_redis.client().config_resetstat()

    small = [f"small{number}" for number in range(5)]
    big = [f"big{number}" for number in range(2 * PUBLISH_AT_ONCE + 50)]
    publisher.publish_many(_answered(*small))
    assert _calls(private_redis, "evalsha") == 1
    assert _calls(private_redis, "xadd") == len(small)
    publisher.publish(CallAnswered(call_id="between"))
    publisher.publish_many(_answered(*big))
    assert _calls(private_redis, "evalsha") == 2 + math.ceil(len(big) / PUBLISH_AT_ONCE)
    publisher.publish_many([])
    assert _calls(private_redis, "evalsha") == 2 + math.ceil(len(big) / PUBLISH_AT_ONCE)

    expected = ["first", *small, "between", *big]
    assert private_redis.client().xlen(stream) == len(expected)
    assert _applied(private_redis.url, stream, len(expected)) == expected
    publisher.stop()


def test_a_commits_bus_events_go_in_one_round_trip(
    private_redis: PrivateRedis, stream: str
) -> None:
    publisher = stream_bus(private_redis.url, stream)
    publisher.publish(CallAnswered(call_id="first"))
    private_redis.client().config_resetstat()
    session = sessionmaker()()  # no database work: only the after-commit outlet
    names = ["a", "b", "c"]
    for event in _answered(*names):
        publish_after_commit(session, publisher, event)
    assert _calls(private_redis, "evalsha") == 0  # nothing before the commit
    session.commit()
    assert _calls(private_redis, "evalsha") == 1
    assert _applied(private_redis.url, stream, 4) == ["first", *names]
    publisher.stop()


def test_a_batch_published_while_redis_is_down_waits_and_goes_first(
    private_redis: PrivateRedis, stream: str
) -> None:
    consumer, recorder = stream_bus(private_redis.url, stream), Recorder()
    consumer.subscribe(CallAnswered.TYPE, recorder)
    consumer.start()
    publisher = stream_bus(private_redis.url, stream)
    try:
        publisher.publish_many(_answered("before0", "before1"))
        wait_until(lambda: recorder.count() == 2, 10, "the events before the outage")

        private_redis.kill()
        down = [f"down{number}" for number in range(PUBLISH_AT_ONCE + 20)]
        publisher.publish_many(_answered(*down))  # never raises
        publisher.publish(CallAnswered(call_id="alone"))
        publisher.publish_many(_answered("down-again0", "down-again1"))
        assert publisher.outbox_size() == len(down) + 3
        private_redis.start()  # empty: the stream and the group are gone
        publisher.publish_many(_answered("after0", "after1"))  # behind what waits

        expected = ["before0", "before1", *down, "alone", "down-again0", "down-again1"]
        expected += ["after0", "after1"]
        wait_until(lambda: recorder.count() == len(expected), 30, "every event after the restart")
        assert recorder.applied == expected
        assert publisher.outbox_size() == 0
    finally:
        publisher.stop()
        consumer.stop()


def test_a_batch_after_redis_lost_its_data_goes_after_the_lost_events(
    private_redis: PrivateRedis, stream: str
) -> None:
    publisher = stream_bus(private_redis.url, stream)
    lost = [f"lost{number}" for number in range(5)]
    publisher.publish_many(_answered(*lost))  # no group yet: nobody acknowledges them

    private_redis.restart()
    newer = ["new0", "new1", "new2"]
    publisher.publish_many(_answered(*newer))
    try:
        assert private_redis.client().xlen(stream) == len(lost) + len(newer)
        assert _applied(private_redis.url, stream, len(lost) + len(newer)) == [*lost, *newer]
    finally:
        publisher.stop()
