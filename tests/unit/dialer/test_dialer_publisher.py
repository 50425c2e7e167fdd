"""Events published from the dialer's loop through `OffLoopPublisher`: sent
by a thread of its own, in the order they were published."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from callcenter.events import Event, HopperDepth
from dialer.publisher import OffLoopPublisher
from tests.unit.dialer.fakes import RecordingBus


class SlowBus(RecordingBus):
    """A bus whose publish takes a while now and then, noting the thread it ran on."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[str] = set()
        self.slow = threading.Event()

    def publish(self, event: Event) -> None:
        self.threads.add(threading.current_thread().name)
        if isinstance(event, HopperDepth) and event.depth % 50 == 0:
            self.slow.wait(0.01)
        super().publish(event)


def test_events_leave_in_the_order_published_and_not_from_the_loop() -> None:
    inner = SlowBus()
    publisher = OffLoopPublisher(inner)
    published = [HopperDepth(campaign_id=1, depth=depth) for depth in range(500)]

    async def publish_all() -> str:
        for event in published:
            publisher.publish(event)
        await publisher.drain()
        return threading.current_thread().name

    loop_thread = asyncio.run(publish_all())
    assert inner.events == published  # all sent once drain() returned, in order
    assert loop_thread not in inner.threads and len(inner.threads) == 1
    publisher.stop()


def test_a_publish_that_fails_is_logged_and_the_next_ones_go_out() -> None:
    class FailingOnce(RecordingBus):
        def publish(self, event: Event) -> None:
            if isinstance(event, HopperDepth) and event.depth == 0:
                raise ValueError("cannot encode")
            super().publish(event)

    inner = FailingOnce()
    publisher = OffLoopPublisher(inner)

    async def publish_all() -> None:
        for depth in range(3):
            publisher.publish(HopperDepth(campaign_id=1, depth=depth))
        await publisher.drain()

    asyncio.run(publish_all())
    assert [event.depth for event in inner.of(HopperDepth)] == [1, 2]
    publisher.stop()


class HeldBus(RecordingBus):
    """A bus whose first `publish_many` waits until released, noting each batch."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[int]] = []
        self.sending = threading.Event()
        self.release = threading.Event()

    def publish_many(self, events: Sequence[Event]) -> None:
        self.batches.append([event.depth for event in events])  # type: ignore[attr-defined]
        self.sending.set()
        assert self.release.wait(10)
        super().publish_many(events)


def test_events_that_wait_for_the_sender_together_go_in_one_batch() -> None:
    inner = HeldBus()
    publisher = OffLoopPublisher(inner)

    async def publish_all() -> None:
        publisher.publish(HopperDepth(campaign_id=1, depth=0))
        assert inner.sending.wait(10)  # the sender is busy with the first one
        for depth in range(1, 6):
            publisher.publish(HopperDepth(campaign_id=1, depth=depth))
        publisher.publish_many([HopperDepth(campaign_id=1, depth=depth) for depth in (6, 7)])
        inner.release.set()
        await publisher.drain()

    asyncio.run(publish_all())
    assert inner.batches == [[0], [1, 2, 3, 4, 5, 6, 7]]
    assert [event.depth for event in inner.of(HopperDepth)] == list(range(8))
    publisher.stop()
