"""The event bus over Redis Streams, for processes that run apart (web,
dialer, consumer). Every event is appended to one stream; each service reads
it through a consumer group, acknowledges what its handlers applied, and
claims what a crashed member of its group left pending. A message that keeps
failing is moved to a dead-letter stream after `max_deliveries` tries, so one
poison event cannot stall the rest.

Redis going away is a fault to ride out, not an error to report:
- publishing never raises: an event Redis does not take waits in this
  process's outbox and a relay thread sends it, in order, once Redis is back;
- Redis may come back empty (restarted without persistence). Each publisher
  keeps what it sent until every consumer group has acknowledged it, notices
  the loss (its marker key is gone) and sends those events again; handlers
  dedupe on the event id, so one that was applied already changes nothing;
- the reader reconnects with backoff and recreates its group when the stream
  is gone;
- a handler whose database (or Redis) is unreachable, or that got the event
  before the one it follows (`bus.NotYet`), gets it again with backoff
  before the events behind it (for up to `retry_for_s`); an event is
  acknowledged only once every handler has applied it.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Sequence
from typing import Any

import redis
from redis.backoff import ConstantBackoff
from redis.retry import Retry

from callcenter.bus import Handler, Subscriptions
from callcenter.events import (
    CallAnswered,
    CallDialing,
    CallEnded,
    CallRinging,
    Event,
    event_from_dict,
)

log = logging.getLogger(__name__)

STREAM = "cc:events"
DEAD_LETTERS = "cc:events:dead"

Fields = dict[str, str]
StreamId = tuple[int, int]

# XADD only while this publisher's marker exists: a missing marker means a new
# (or emptied) Redis, and what was sent before may never have been delivered.
# ARGV: the stream's max length, the marker's TTL, then for each entry its
# number of field and value items followed by them: one round trip for a
# batch, its entries next to each other in the stream.
_PUBLISH = """
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local ids, at = {}, 3
while at <= #ARGV do
  local items = tonumber(ARGV[at])
  ids[#ids + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
                             unpack(ARGV, at + 1, at + items))
  at = at + items + 1
end
return ids
"""
MARKER_TTL_MS = 24 * 3600 * 1000
# Entries per script call: a backlog the relay sends, or a dialer's burst,
# goes in calls of this size, so no one call holds Redis long.
PUBLISH_AT_ONCE = 100

# Events a member takes per read. A member applies a read in one transaction
# where it can, but an event at the back of a big read still waits behind the
# rest while other members idle; small reads keep the group's events in order
# of arrival.
READ_BATCH = 10

# The events a read may hold back for company (`linger_ms`): none of them is
# waited on by a screen. A read with any other event (a connect, whose pop
# the agent waits for; a preview; a transfer) is applied at once.
MAY_WAIT = frozenset({CallDialing.TYPE, CallRinging.TYPE, CallAnswered.TYPE, CallEnded.TYPE})


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
        retry_for_s: float = 120.0,
        keep_unacknowledged: int = 50_000,
        keep_for_s: float = 600.0,
        forget_members_after_ms: int = 600_000,
        linger_ms: int = 0,
    ) -> None:
        # Any: redis-py types every reply as "sync or awaitable"; this client is sync.
        # One quick retry (a pooled connection may be dead after a restart), no
        # long backoff; short timeouts for publishing, which runs on the dialer's
        # event loop and inside requests.
        retry = Retry(ConstantBackoff(0.05), 1)
        self._redis: Any = redis.Redis.from_url(
            redis_url, socket_timeout=block_ms / 1000 + 5, socket_connect_timeout=2, retry=retry
        )
        publishing = redis.Redis.from_url(
            redis_url, socket_timeout=2, socket_connect_timeout=2, retry=retry
        )
        self.group = group
        self.stream = stream
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._max_length = max_length
        self._block_ms = block_ms
        self._linger_ms = linger_ms
        self._claim_idle_ms = claim_idle_ms
        self._max_deliveries = max_deliveries
        self._retry_for_s = retry_for_s
        self._forget_after_ms = max(forget_members_after_ms, 10 * claim_idle_ms)
        self._members_checked_at = 0.0
        self._claim_due_at = 0.0
        self._subscriptions = Subscriptions()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self._group_ready = False
        self._outbox = Outbox(
            publishing,
            stream=stream,
            marker=f"{stream}:publisher:{self.consumer}",
            max_length=max_length,
            keep=keep_unacknowledged,
            keep_for_s=keep_for_s,
        )

    # --- the EventBus interface ---------------------------------------------------------

    def publish(self, event: Event) -> None:
        self._outbox.publish_many([_fields_of(event)])

    def publish_many(self, events: Sequence[Event]) -> None:
        """`events` in order, to Redis in one round trip."""
        self._outbox.publish_many([_fields_of(event) for event in events])

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
        self._outbox.close()

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False

    def wait_until_idle(self, timeout: float = 10.0) -> bool:
        """True once the outbox is empty and the group has read and
        acknowledged everything (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._outbox.waiting() == 0 and self._group_is_idle():
                return True
            time.sleep(0.05)
        return False

    def outbox_size(self) -> int:
        """Events published here that Redis has not taken yet."""
        return self._outbox.waiting()

    # --- consuming ----------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.2
        while not self._stopping.is_set():
            try:
                self._ensure_group()
                self._claim_abandoned()
                self._forget_dead_members()
                self._read_new()
                backoff = 0.2
            except redis.RedisError as exc:
                self._group_ready = False  # the stream may be gone with the server's data
                log.warning("event bus: Redis unavailable (%s); retrying in %.1fs", exc, backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            # From the start of the stream: events published before this group
            # existed are applied too (handlers are idempotent).
            self._redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
            log.info("event bus: created group %s on %s", self.group, self.stream)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def _read_new(self) -> None:
        if messages := self._read(READ_BATCH, self._block_ms):
            self._handle_read(self._with_company(messages))

    def _read(self, count: int, block_ms: int) -> list[tuple[bytes, dict[bytes, bytes]]]:
        replies = self._redis.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=count, block=block_ms
        )
        return [message for _stream, messages in replies or () for message in messages]

    def _with_company(
        self, messages: list[tuple[bytes, dict[bytes, bytes]]]
    ) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """A read of events that may wait takes in what follows within
        `linger_ms`, so they are applied in one transaction, not one each.
        A later read returns as soon as anything comes, so an event that may
        not wait ends the lingering at once instead of waiting behind it."""
        if not self._linger_ms:
            return messages
        until = time.monotonic() + self._linger_ms / 1000
        while len(messages) < READ_BATCH and all(_may_wait(fields) for _id, fields in messages):
            left_ms = int((until - time.monotonic()) * 1000)
            if left_ms < 1:  # BLOCK 0 would wait for ever
                break
            more = self._read(READ_BATCH - len(messages), left_ms)
            if not more:
                break
            messages.extend(more)
        return messages

    def _handle_read(self, messages: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        """One read's events, applied together where a handler can; those
        every handler applied are acknowledged in one go, the rest stay
        pending (claimed again after claim_idle_ms, dead-lettered eventually)."""
        ids, events = [], []
        for message_id, fields in messages:
            try:
                event = event_from_dict(json.loads(fields[b"data"]))
            except (KeyError, ValueError, TypeError):
                log.error("event bus: unreadable message %s", message_id)
                self._dead_letter(message_id, fields)
                continue
            ids.append(message_id)
            events.append(event)
        delivered = self._subscriptions.dispatch_all_until_reachable(
            events, stopping=self._stopping, retry_for_s=self._retry_for_s
        )
        if done := [message_id for message_id, ok in zip(ids, delivered, strict=True) if ok]:
            self._redis.xack(self.stream, self.group, *done)

    def _claim_abandoned(self) -> None:
        """Take over what a dead member of the group read and never
        acknowledged. Nothing is claimable before it has been idle for
        `claim_idle_ms`, so asking every read (a round trip each, several an
        attempt on a busy floor) finds it no sooner than asking four times
        in that span; a page that was not the last is followed at once."""
        if time.monotonic() < self._claim_due_at:
            return
        scanned_to, messages, *_ = self._redis.xautoclaim(
            self.stream, self.group, self.consumer, self._claim_idle_ms, "0-0", count=100
        )
        every_page_seen = scanned_to in (b"0-0", "0-0")
        self._claim_due_at = time.monotonic() + self._claim_idle_ms / 4000 if every_page_seen else 0
        for message_id, fields in messages:
            if fields is None:
                continue  # trimmed from the stream meanwhile
            if self._deliveries(message_id) > self._max_deliveries:
                self._dead_letter(message_id, fields)
            else:
                self._handle_read([(message_id, fields)])

    def forget_dead_members(self) -> list[str]:
        """Members of the group (processes restarted long ago) that hold
        nothing and have not read for a long while are removed, so the group
        does not pile up a member per restart. A live member reads every
        `block_ms`; what a dead one held was claimed by `_claim_abandoned`."""
        gone = []
        for member in self._redis.xinfo_consumers(self.stream, self.group):
            name = member["name"].decode() if isinstance(member["name"], bytes) else member["name"]
            if name == self.consumer or int(member["pending"]) > 0:
                continue
            if int(member["idle"]) >= self._forget_after_ms:
                self._redis.xgroup_delconsumer(self.stream, self.group, name)
                gone.append(name)
        if gone:
            log.info("event bus: removed %d dead member(s) of group %s", len(gone), self.group)
        return gone

    def _forget_dead_members(self) -> None:
        if time.monotonic() - self._members_checked_at < 60:
            return
        self._members_checked_at = time.monotonic()
        self.forget_dead_members()

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
        except redis.RedisError:
            return False
        for group in groups:
            if group["name"].decode() == self.group:
                return int(group["pending"]) == 0 and int(group.get("lag") or 0) == 0
        return False


def _fields_of(event: Event) -> Fields:
    return {"type": event.TYPE, "data": json.dumps(event.to_dict())}


def _may_wait(fields: dict[bytes, bytes]) -> bool:
    kind = fields.get(b"type")
    return kind is not None and kind.decode() in MAY_WAIT


class Outbox:
    """The publishing half: events Redis has not taken yet (sent in order by
    a relay thread once it is back), and events sent that some consumer
    group has not acknowledged yet (sent again if Redis comes back empty)."""

    def __init__(
        self,
        client: Any,
        *,
        stream: str,
        marker: str,
        max_length: int,
        keep: int,
        keep_for_s: float,
        check_every_s: float = 1.0,
    ) -> None:
        self._redis = client
        self._stream = stream
        self._marker = marker
        self._max_length = max_length
        self._keep = keep
        self._keep_for_s = keep_for_s
        self._check_every_s = check_every_s
        self._script = client.register_script(_PUBLISH)
        self._lock = threading.Lock()
        self._waiting: deque[Fields] = deque()
        self._sent: deque[tuple[StreamId, Fields, float]] = deque()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._relay: threading.Thread | None = None
        self._backoff = 0.1

    def publish_many(self, entries: Sequence[Fields]) -> None:
        """Append `entries`, in order, after everything published before;
        what Redis does not take waits for the relay."""
        if not entries:
            return
        with self._lock:
            sent = 0
            if not self._waiting:
                try:
                    while sent < len(entries):
                        batch = entries[sent : sent + PUBLISH_AT_ONCE]
                        self._send(batch)
                        sent += len(batch)
                except redis.RedisError as exc:
                    log.warning(
                        "event bus: Redis unavailable (%s); %d events wait in the outbox, from %s",
                        exc.__class__.__name__,
                        len(entries) - sent,
                        entries[sent]["type"],
                    )
            self._start_relay()  # keeps watch over what was sent
            if sent == len(entries):
                return
            self._waiting.extend(entries[sent:])
        self._wake.set()

    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the relay after a last try to send what still waits."""
        if self._relay is None:
            return
        deadline = time.monotonic() + timeout
        while self.waiting() and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.05)
        self._closing.set()
        self._wake.set()
        self._relay.join(timeout=5)
        self._relay = None
        self._closing.clear()
        if left := self.waiting():
            log.error("event bus: stopped with %d events Redis never took", left)

    # -- sending (under the lock)

    def _send(self, entries: Sequence[Fields]) -> None:
        """`entries` in one script call. When it raises, none of them counts as
        sent: they are sent again, even one that went through (handlers dedupe)."""
        args: list[str | int] = [self._max_length, MARKER_TTL_MS]
        for fields in entries:
            args.append(2 * len(fields))
            args.extend(item for pair in fields.items() for item in pair)
        entry_ids = self._script(keys=[self._stream, self._marker], args=args)
        if entry_ids is None:
            self._resend_after_loss()
            entry_ids = self._script(keys=[self._stream, self._marker], args=args)
            if entry_ids is None:
                raise redis.ConnectionError("the publisher marker vanished again")
        now = time.monotonic()
        self._sent.extend(
            (_stream_id(entry_id), fields, now)
            for entry_id, fields in zip(entry_ids, entries, strict=True)
        )

    def _resend_after_loss(self) -> None:
        """Redis is new or lost its data: what some group had not acknowledged
        may be gone; send it again, in order, before anything newer."""
        before, self._sent = list(self._sent), deque()
        if before:
            log.warning(
                "event bus: Redis came back empty; sending again %d events not yet "
                "acknowledged by every consumer group",
                len(before),
            )
        for position, (_old_id, fields, sent_at) in enumerate(before):
            try:
                entry_id = self._redis.xadd(
                    self._stream, fields, maxlen=self._max_length, approximate=True
                )
            except redis.RedisError:
                self._sent.extend(before[position:])
                raise
            self._sent.append((_stream_id(entry_id), fields, sent_at))
        self._redis.set(self._marker, 1, px=MARKER_TTL_MS)

    # -- the relay thread

    def _start_relay(self) -> None:
        if self._relay is None or not self._relay.is_alive():
            self._relay = threading.Thread(
                target=_relay,
                args=(weakref.ref(self), self._wake, self._closing),
                name="event-bus-outbox",
                daemon=True,
            )
            self._relay.start()

    def relay_once(self) -> float:
        """Send what waits, keep watch over what was sent; the seconds to the next try."""
        try:
            self._flush()
            self._check_sent()
        except redis.RedisError as exc:
            log.debug("event bus outbox: Redis still unavailable (%s)", exc)
            pause, self._backoff = self._backoff, min(self._backoff * 2, 2.0)
            return pause
        except Exception:
            log.exception("event bus outbox: relay failed; trying again")
        self._backoff = 0.1
        return self._check_every_s

    def _flush(self) -> None:
        with self._lock:
            sent = 0
            while self._waiting:
                batch = list(itertools.islice(self._waiting, PUBLISH_AT_ONCE))
                self._send(batch)
                for _ in batch:
                    self._waiting.popleft()
                sent += len(batch)
        if sent:
            log.warning("event bus: Redis is back; relayed %d events from the outbox", sent)

    def _check_sent(self) -> None:
        """Forget what every group has acknowledged; notice an emptied Redis
        even when nothing is being published."""
        with self._lock:
            if not self._sent:
                return
        with self._lock:
            if not self._redis.exists(self._marker):
                self._resend_after_loss()
        below = self._acknowledged_below()
        now = time.monotonic()
        with self._lock:
            while self._sent and (
                (below is not None and self._sent[0][0] < below)
                or now - self._sent[0][2] > self._keep_for_s
                or len(self._sent) > self._keep
            ):
                self._sent.popleft()

    def _acknowledged_below(self) -> StreamId | None:
        """Every group has acknowledged every entry below this id (None: no group yet)."""
        try:
            groups = self._redis.xinfo_groups(self._stream)
        except redis.ResponseError:
            return None  # no stream
        marks = []
        for group in groups:
            oldest = None
            if int(group["pending"]):
                oldest = self._redis.xpending(self._stream, group["name"])["min"]
            if oldest is not None:
                marks.append(_stream_id(oldest))
            else:  # acknowledged all it read
                ms, seq = _stream_id(group["last-delivered-id"])
                marks.append((ms, seq + 1))
        return min(marks) if marks else None


def _relay(
    outbox_ref: weakref.ref[Outbox], wake: threading.Event, closing: threading.Event
) -> None:
    """The relay thread holds its outbox weakly: a publisher its owner dropped
    without stopping it (tests make many) stops relaying."""
    while not closing.is_set():
        outbox = outbox_ref()
        if outbox is None:
            return
        pause = outbox.relay_once()
        del outbox
        wake.wait(pause)
        wake.clear()


def _stream_id(entry_id: bytes | str) -> StreamId:
    raw = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = raw.partition("-")
    return int(ms), int(seq or 0)
