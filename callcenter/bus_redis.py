"""The event bus over Redis Streams, for processes that run apart (web,
dialer, consumer). Every event is appended to one stream; each service reads
it through a consumer group, acknowledges what its handlers applied, and
claims what a crashed member of its group left pending. A message that keeps
failing is moved to a dead-letter stream after `max_deliveries` tries, so one
poison event cannot stall the rest."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

import redis

from callcenter.bus import Handler, Subscriptions
from callcenter.events import Event, event_from_dict

log = logging.getLogger(__name__)

STREAM = "cc:events"
DEAD_LETTERS = "cc:events:dead"


class RedisStreamsEventBus:
    def __init__(
        self,
        redis_url: str,
        *,
        group: str = "callcenter",
        stream: str = STREAM,
        max_length: int = 1_000_000,
        block_ms: int = 1000,
        claim_idle_ms: int = 30_000,
        max_deliveries: int = 5,
    ) -> None:
        # Any: redis-py types every reply as "sync or awaitable"; this client is sync.
        self._redis: Any = redis.Redis.from_url(redis_url, socket_timeout=block_ms / 1000 + 5)
        self.group = group
        self.stream = stream
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._max_length = max_length
        self._block_ms = block_ms
        self._claim_idle_ms = claim_idle_ms
        self._max_deliveries = max_deliveries
        self._subscriptions = Subscriptions()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None

    # --- the EventBus interface ---------------------------------------------------------

    def publish(self, event: Event) -> None:
        fields: dict[Any, Any] = {"type": event.TYPE, "data": json.dumps(event.to_dict())}
        self._redis.xadd(self.stream, fields, maxlen=self._max_length, approximate=True)

    def subscribe(self, event_type: str, handler: Handler) -> None:
        self._subscriptions.add(event_type, handler)

    def start(self) -> None:
        """Start consuming; a process that only publishes never needs to."""
        if self._worker is not None or not self._subscriptions:
            return
        self._stopping.clear()
        self._worker = threading.Thread(target=self._run, name="event-bus-redis", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._worker is not None:
            self._worker.join(timeout=self._block_ms / 1000 + 10)
            self._worker = None

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False

    def wait_until_idle(self, timeout: float = 10.0) -> bool:
        """True once the group has read and acknowledged everything (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._group_is_idle():
                return True
            time.sleep(0.05)
        return False

    # --- consuming ----------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                self._ensure_group()
                self._claim_abandoned()
                self._read_new()
                backoff = 0.5
            except redis.RedisError as exc:
                log.warning("event bus: Redis unavailable (%s); retrying in %.1fs", exc, backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _ensure_group(self) -> None:
        try:
            # From the start of the stream: events published before this group
            # existed are applied too (handlers are idempotent).
            self._redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _read_new(self) -> None:
        replies = self._redis.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=100, block=self._block_ms
        )
        for _stream, messages in replies or ():
            for message_id, fields in messages:
                self._handle(message_id, fields)

    def _claim_abandoned(self) -> None:
        """Take over what a dead member of the group read and never acknowledged."""
        _next, messages, *_ = self._redis.xautoclaim(
            self.stream, self.group, self.consumer, self._claim_idle_ms, "0-0", count=100
        )
        for message_id, fields in messages:
            if fields is None:
                continue  # trimmed from the stream meanwhile
            if self._deliveries(message_id) > self._max_deliveries:
                self._dead_letter(message_id, fields)
            else:
                self._handle(message_id, fields)

    def _handle(self, message_id: bytes, fields: dict[bytes, bytes]) -> None:
        try:
            event = event_from_dict(json.loads(fields[b"data"]))
        except (KeyError, ValueError, TypeError):
            log.error("event bus: unreadable message %s", message_id)
            self._dead_letter(message_id, fields)
            return
        if self._subscriptions.dispatch(event):
            self._redis.xack(self.stream, self.group, message_id)
        # else: left pending; claimed again after claim_idle_ms, dead-lettered eventually

    def _deliveries(self, message_id: bytes) -> int:
        entries = self._redis.xpending_range(
            self.stream, self.group, min=message_id, max=message_id, count=1
        )
        return int(entries[0]["times_delivered"]) if entries else 0

    def _dead_letter(self, message_id: bytes, fields: dict[bytes, bytes]) -> None:
        log.error("event bus: moving %s to %s", message_id, DEAD_LETTERS)
        self._redis.xadd(DEAD_LETTERS, {**fields, b"id": message_id, b"group": self.group})
        self._redis.xack(self.stream, self.group, message_id)

    def _group_is_idle(self) -> bool:
        try:
            groups = self._redis.xinfo_groups(self.stream)
        except redis.ResponseError:
            return True  # no stream yet: nothing published
        for group in groups:
            if group["name"].decode() == self.group:
                return int(group["pending"]) == 0 and int(group.get("lag") or 0) == 0
        return False
