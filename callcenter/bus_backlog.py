"""How far behind the event consumers run: per consumer group on the Redis
stream (what Redis says in XINFO GROUPS and XPENDING), or the queue of the
in-process bus. Read at scrape time by callcenter.prometheus."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import redis

from callcenter.bus import EventBus, InProcessEventBus
from callcenter.bus_redis import RedisStreamsEventBus

log = logging.getLogger(__name__)

IN_PROCESS_GROUP = "in-process"


@dataclass(frozen=True)
class GroupBacklog:
    group: str
    undelivered: int | None  # not yet read by any member; None when Redis cannot tell
    pending: int  # read by a member, not yet acknowledged
    oldest_age_s: float  # how long the oldest unacknowledged event has waited; 0 when caught up


class BacklogSource(Protocol):
    def backlog(self) -> list[GroupBacklog]: ...


class InProcessBacklog:
    def __init__(self, bus: InProcessEventBus) -> None:
        self._bus = bus

    def backlog(self) -> list[GroupBacklog]:
        waiting, oldest_age_s = self._bus.backlog()
        return [GroupBacklog(IN_PROCESS_GROUP, waiting, 0, oldest_age_s)]


class RedisStreamBacklog:
    """Every consumer group of the stream (the web/consume group, the
    dialers' group); the same figures from every process that reports them."""

    def __init__(self, redis_url: str, stream: str) -> None:
        # Any: redis-py types every reply as "sync or awaitable"; this client is sync.
        self._redis: Any = redis.Redis.from_url(
            redis_url, socket_timeout=2, socket_connect_timeout=2
        )
        self.stream = stream

    def backlog(self) -> list[GroupBacklog]:
        try:
            groups = self._redis.xinfo_groups(self.stream)
        except redis.ResponseError:
            return []  # no stream yet: nothing published, no group
        except redis.RedisError as exc:
            log.warning("event backlog unknown: Redis unavailable (%s)", exc.__class__.__name__)
            return []
        seconds, microseconds = self._redis.time()
        now_ms = seconds * 1000 + microseconds // 1000
        return [self._group(group, now_ms) for group in groups]

    def _group(self, info: dict[str, Any], now_ms: int) -> GroupBacklog:
        name = info["name"].decode()
        pending = int(info["pending"])
        lag = info.get("lag")
        oldest = self._oldest_unacknowledged(name, pending, info["last-delivered-id"])
        age_ms = 0 if oldest is None else max(0, now_ms - _stream_id_ms(oldest))
        return GroupBacklog(
            group=name,
            undelivered=None if lag is None else int(lag),
            pending=pending,
            oldest_age_s=age_ms / 1000,
        )

    def _oldest_unacknowledged(
        self, group: str, pending: int, last_delivered: bytes
    ) -> bytes | None:
        """Pending entries were all delivered, so they are older than any
        undelivered one; with none pending, the first entry after the last
        delivered is the oldest still to handle."""
        if pending:
            oldest: bytes | None = self._redis.xpending(self.stream, group)["min"]
            return oldest
        following = self._redis.xrange(self.stream, min=b"(" + last_delivered, count=1)
        return following[0][0] if following else None


def _stream_id_ms(entry_id: bytes) -> int:
    """A stream entry id is `<milliseconds>-<sequence>`, the time Redis added it."""
    return int(entry_id.split(b"-", 1)[0])


def backlog_source(bus: EventBus, redis_url: str) -> BacklogSource | None:
    """What can tell the backlog of this bus (None for a bus that cannot)."""
    if isinstance(bus, InProcessEventBus):
        return InProcessBacklog(bus)
    if isinstance(bus, RedisStreamsEventBus):
        return RedisStreamBacklog(redis_url, bus.stream)
    return None
