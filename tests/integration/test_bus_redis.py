"""The Redis Streams bus against a real Redis server."""

from __future__ import annotations

import threading
import time
import uuid

import redis

from callcenter.bus_redis import DEAD_LETTERS, READ_BATCH, RedisStreamsEventBus
from callcenter.events import CallAnswered, CallConnected, Event


def _bus(redis_url: str, stream: str, group: str = "g", **options: int) -> RedisStreamsEventBus:
    return RedisStreamsEventBus(redis_url, group=group, stream=stream, block_ms=100, **options)


class Recorder:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self.lock:
            self.seen.append(event.call_id)  # type: ignore[attr-defined]


def test_events_published_before_the_consumer_starts_are_delivered_in_order(
    redis_url: str,
) -> None:
    stream = f"t:{uuid.uuid4().hex}"
    publisher = _bus(redis_url, stream)
    for number in range(30):
        publisher.publish(CallAnswered(call_id=f"c{number}"))
    consumer, recorder = _bus(redis_url, stream), Recorder()
    consumer.subscribe("call.answered", recorder)
    consumer.start()
    try:
        assert consumer.wait_until_idle(timeout=10)
    finally:
        consumer.stop()
    assert recorder.seen == [f"c{number}" for number in range(30)]


def test_members_of_one_group_share_the_work_and_groups_each_see_everything(
    redis_url: str,
) -> None:
    stream = f"t:{uuid.uuid4().hex}"
    shared, other = Recorder(), Recorder()
    buses = [
        _bus(redis_url, stream, "web"),
        _bus(redis_url, stream, "web"),
        _bus(redis_url, stream, "reports"),
    ]
    buses[0].subscribe("call.answered", shared)
    buses[1].subscribe("call.answered", shared)
    buses[2].subscribe("call.answered", other)
    for bus in buses:
        bus.start()
    try:
        for number in range(200):
            buses[0].publish(CallAnswered(call_id=f"c{number}"))
        assert all(bus.wait_until_idle(timeout=15) for bus in buses)
    finally:
        for bus in buses:
            bus.stop()
    expected = sorted(f"c{number}" for number in range(200))
    assert sorted(shared.seen) == expected  # exactly once across the group
    assert sorted(other.seen) == expected


def _left_by_a_crashed_member(redis_url: str, stream: str, count: int) -> list[bytes]:
    """`count` events read by a member of group g that died before acknowledging them."""
    publisher = _bus(redis_url, stream)
    for number in range(count):
        publisher.publish(CallAnswered(call_id=f"c{number}"))
    client = redis.Redis.from_url(redis_url)
    client.xgroup_create(stream, "g", id="0")
    read = client.xreadgroup("g", "crashed-worker", {stream: ">"}, count=count + 10)
    assert len(read[0][1]) == count
    return [message_id for message_id, _ in read[0][1]]


def _applied_by_a_survivor(redis_url: str, stream: str, claim_idle_ms: int) -> list[str]:
    survivor, recorder = _bus(redis_url, stream, claim_idle_ms=claim_idle_ms), Recorder()
    survivor.subscribe("call.answered", recorder)
    survivor.start()
    try:
        assert survivor.wait_until_idle(timeout=10)
    finally:
        survivor.stop()
    return sorted(recorder.seen)


def test_what_a_crashed_consumer_read_is_claimed_by_another(redis_url: str) -> None:
    stream = f"t:{uuid.uuid4().hex}"
    _left_by_a_crashed_member(redis_url, stream, 5)

    seen = _applied_by_a_survivor(redis_url, stream, claim_idle_ms=0)

    assert seen == [f"c{number}" for number in range(5)]


def test_a_crashed_consumers_many_events_are_claimed_page_after_page(redis_url: str) -> None:
    """The claim is asked a quarter of `claim_idle_ms` apart, except that a
    page that was not the last is followed at once: 250 events left by a
    dead member are all applied long before the next quarter (15 s)."""
    stream = f"t:{uuid.uuid4().hex}"
    ids = _left_by_a_crashed_member(redis_url, stream, 250)
    client = redis.Redis.from_url(redis_url)
    client.xclaim(stream, "g", "crashed-worker", 0, ids, idle=120_000)  # read 2 min ago

    seen = _applied_by_a_survivor(redis_url, stream, claim_idle_ms=60_000)

    assert seen == sorted(f"c{number}" for number in range(250))


def test_a_poison_event_goes_to_dead_letters_and_the_rest_flow(redis_url: str) -> None:
    stream = f"t:{uuid.uuid4().hex}"
    bus, recorder = _bus(redis_url, stream, claim_idle_ms=0, max_deliveries=2), Recorder()

    def fails_on_poison(event: Event) -> None:
        if event.call_id == "poison":  # type: ignore[attr-defined]
            raise RuntimeError("cannot apply")
        recorder(event)

    bus.subscribe("call.answered", fails_on_poison)
    bus.publish(CallAnswered(call_id="poison"))
    bus.publish(CallAnswered(call_id="fine"))
    bus.start()
    try:
        assert bus.wait_until_idle(timeout=15)
    finally:
        bus.stop()
    assert recorder.seen == ["fine"]
    dead = redis.Redis.from_url(redis_url).xrange(DEAD_LETTERS)
    assert [fields[b"type"] for _id, fields in dead] == [b"call.answered"]


def test_ping_reports_an_unreachable_server() -> None:
    assert not RedisStreamsEventBus("redis://127.0.0.1:1/0").ping()


def test_members_left_by_restarts_are_removed_once_they_hold_nothing(redis_url: str) -> None:
    stream = f"t:{uuid.uuid4().hex}"
    publisher = _bus(redis_url, stream)
    publisher.publish(CallAnswered(call_id="c1"))
    client = redis.Redis.from_url(redis_url)
    client.xgroup_create(stream, "g", id="0")
    client.xgroup_createconsumer(stream, "g", "restarted-long-ago")  # holds nothing
    client.xreadgroup("g", "holding-work", {stream: ">"}, count=1)  # holds c1, unacknowledged
    live = _bus(redis_url, stream, claim_idle_ms=0, forget_members_after_ms=0)
    live.consumer = "live-member"
    client.xgroup_createconsumer(stream, "g", "live-member")
    assert live.forget_dead_members() == ["restarted-long-ago"]
    members = {m["name"].decode() for m in client.xinfo_consumers(stream, "g")}
    assert members == {"holding-work", "live-member"}


def test_a_member_busy_with_one_event_leaves_the_rest_to_the_others(redis_url: str) -> None:
    """A member takes a few events per read (READ_BATCH), not the whole stream:
    while one is stuck on an event, the others apply what is behind it
    (taking 100 a read, the stuck member held all 50)."""
    stream = f"t:{uuid.uuid4().hex}"
    stuck, release = threading.Event(), threading.Event()
    busy, free = Recorder(), Recorder()

    def slow(event: Event) -> None:
        stuck.set()
        release.wait(timeout=20)
        busy(event)

    slow_member, other_member = _bus(redis_url, stream), _bus(redis_url, stream)
    slow_member.subscribe("call.answered", slow)
    other_member.subscribe("call.answered", free)
    publisher = _bus(redis_url, stream)
    for number in range(50):
        publisher.publish(CallAnswered(call_id=f"c{number}"))
    slow_member.start()
    try:
        assert stuck.wait(timeout=10)
        other_member.start()
        try:
            deadline = time.monotonic() + 15
            while len(free.seen) < 40 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(free.seen) >= 40, free.seen
        finally:
            release.set()
            assert slow_member.wait_until_idle(timeout=15)
            other_member.stop()
    finally:
        release.set()
        slow_member.stop()
    assert len(busy.seen) <= READ_BATCH
    assert sorted(busy.seen + free.seen) == sorted(f"c{n}" for n in range(50))


class AppliesReads(Recorder):
    """A handler that applies a read together, except a read holding `refused`."""

    def __init__(self, refused: str = "") -> None:
        super().__init__()
        self.refused = refused
        self.reads: list[list[str]] = []

    def apply_together(self, events: list[Event]) -> bool:
        call_ids = [event.call_id for event in events]  # type: ignore[attr-defined]
        if self.refused in call_ids:
            return False
        with self.lock:
            self.reads.append(call_ids)
            self.seen.extend(call_ids)
        return True


def test_a_read_is_applied_together_and_acknowledged(redis_url: str) -> None:
    stream = f"t:{uuid.uuid4().hex}"
    publisher = _bus(redis_url, stream)
    for number in range(READ_BATCH + 3):
        publisher.publish(CallAnswered(call_id=f"c{number}"))
    publisher.publish(CallAnswered(call_id="poison"))  # a read that cannot go together
    consumer, handler = _bus(redis_url, stream), AppliesReads(refused="poison")
    consumer.subscribe("call.answered", handler)
    consumer.start()
    try:
        assert consumer.wait_until_idle(timeout=10)  # every event acknowledged
    finally:
        consumer.stop()
    first_read = [f"c{number}" for number in range(READ_BATCH)]
    assert handler.reads == [first_read]
    assert handler.seen == [*first_read, "c10", "c11", "c12", "poison"]


def _lingering_consumer(
    redis_url: str, stream: str, linger_ms: int
) -> tuple[RedisStreamsEventBus, AppliesReads]:
    consumer, handler = _bus(redis_url, stream, linger_ms=linger_ms), AppliesReads()
    for kind in ("call.answered", "call.connected"):
        consumer.subscribe(kind, handler)
    consumer.start()
    return consumer, handler


def test_events_no_screen_waits_on_are_applied_with_those_that_follow_them(
    redis_url: str,
) -> None:
    stream = f"t:{uuid.uuid4().hex}"
    consumer, handler = _lingering_consumer(redis_url, stream, linger_ms=3000)
    publisher = _bus(redis_url, stream)
    try:
        publisher.publish(CallAnswered(call_id="first"))
        time.sleep(0.3)  # read alone by now: only the linger keeps it for the next
        publisher.publish(CallAnswered(call_id="second"))
        assert consumer.wait_until_idle(timeout=10)
    finally:
        consumer.stop()
    assert handler.reads == [["first", "second"]]
    assert handler.seen == ["first", "second"]


def test_a_connect_is_applied_at_once_with_what_waited_before_it(redis_url: str) -> None:
    """The agent waits on a connect's screen pop: it ends the linger (10 s
    here) as it comes, and a read that starts with one does not linger."""
    stream = f"t:{uuid.uuid4().hex}"
    consumer, handler = _lingering_consumer(redis_url, stream, linger_ms=10_000)
    publisher = _bus(redis_url, stream)
    try:
        publisher.publish(CallAnswered(call_id="answered"))
        time.sleep(0.3)
        publisher.publish(CallConnected(call_id="connected", agent_id=1))
        assert consumer.wait_until_idle(timeout=5)
        publisher.publish(CallConnected(call_id="alone", agent_id=1))
        assert consumer.wait_until_idle(timeout=5)
    finally:
        consumer.stop()
    assert handler.reads == [["answered", "connected"]]
    assert handler.seen == ["answered", "connected", "alone"]
