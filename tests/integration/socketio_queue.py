"""What the web servers hear: the deployment's Socket.IO channel on Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from callcenter.realtime import message_queue_options


@contextmanager
def subscribed_queue(redis_url: str) -> Iterator[Any]:
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(message_queue_options(redis_url)["channel"])
    pubsub.get_message(timeout=1)  # the subscription's own reply
    try:
        yield pubsub
    finally:
        pubsub.close()
        client.close()


def heard_within(queue: Any, seconds: float) -> list[dict[str, Any]]:
    """The messages published within `seconds` (and before)."""
    found = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = queue.get_message(timeout=0.05)
        if message is not None:
            found.append(json.loads(message["data"]))
    return found
