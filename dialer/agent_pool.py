"""The ready-agent pool: who may take the next live answer, longest idle first.

Claiming must be atomic and fast (a live answer has 2 s to reach an agent),
so it never waits on the database: the in-process pool is a dict under a
lock, the Redis pool a sorted set per campaign scored by ready-since with
ZPOPMIN (atomic across dialer processes). The database row follows through
the agents service once a claim is made; a claim the database refuses (the
agent paused meanwhile) is simply dropped by the worker.

The pool is refreshed from the database every tick (`sync`): agents ready
there and not claimed are offered, everyone else is withdrawn."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class AgentPool(Protocol):
    def sync(self, campaign_id: int, ready: Iterable[tuple[int, datetime]]) -> None:
        """Make the campaign's pool exactly these (agent id, ready since)."""

    def claim(self, campaign_id: int) -> int | None:
        """Take the longest-idle ready agent out of the pool, or None."""

    def size(self, campaign_id: int) -> int: ...

    def campaigns(self) -> set[int]: ...


class InProcessAgentPool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: dict[int, dict[int, float]] = {}

    def sync(self, campaign_id: int, ready: Iterable[tuple[int, datetime]]) -> None:
        fresh = {agent_id: since.timestamp() for agent_id, since in ready}
        with self._lock:
            if fresh:
                self._ready[campaign_id] = fresh
            else:
                self._ready.pop(campaign_id, None)

    def claim(self, campaign_id: int) -> int | None:
        with self._lock:
            agents = self._ready.get(campaign_id)
            if not agents:
                return None
            agent_id = min(agents, key=lambda a: (agents[a], a))
            del agents[agent_id]
            return agent_id

    def size(self, campaign_id: int) -> int:
        with self._lock:
            return len(self._ready.get(campaign_id, {}))

    def campaigns(self) -> set[int]:
        with self._lock:
            return set(self._ready)


@dataclass
class _Written:
    """What this pool last left in a campaign's sorted set, and when it last
    wrote the set whole."""

    members: dict[str, float]
    whole_at: float


class RedisAgentPool:
    """One sorted set per campaign, `{prefix}:{campaign_id}`, score = ready since.

    `sync` sends only what changed since its last write (the agents gone,
    the agents new or ready since another time), nothing when nothing did; it
    rewrites the set whole at least every `rewrite_every_s`, which puts back
    what this process does not see (a Redis restart, another dialer's write).
    It is asked every tick and every `agent_poll_s` while answers wait: on
    the load floor ~13 times a second, 200 members rewritten each time."""

    def __init__(
        self,
        client: Any,
        prefix: str = "cc:ready_agents",
        *,
        rewrite_every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._rewrite_every_s = rewrite_every_s
        self._clock = clock
        self._written: dict[int, _Written] = {}
        self._lock = threading.Lock()

    def _key(self, campaign_id: int) -> str:
        return f"{self._prefix}:{campaign_id}"

    def sync(self, campaign_id: int, ready: Iterable[tuple[int, datetime]]) -> None:
        fresh = {str(agent_id): since.timestamp() for agent_id, since in ready}
        key = self._key(campaign_id)
        with self._lock:  # a claim meanwhile must not be lost from `_written`
            written = self._written.get(campaign_id)
            now = self._clock()
            pipe = self._redis.pipeline(transaction=True)
            if written is None or now - written.whole_at >= self._rewrite_every_s:
                pipe.delete(key)
                if fresh:
                    pipe.zadd(key, fresh)
                written = None
            else:
                gone = written.members.keys() - fresh.keys()
                changed = {m: at for m, at in fresh.items() if written.members.get(m) != at}
                if not gone and not changed:
                    return
                if gone:
                    pipe.zrem(key, *gone)
                if changed:
                    pipe.zadd(key, changed)
            if fresh:
                pipe.sadd(f"{self._prefix}:campaigns", campaign_id)
            else:
                pipe.srem(f"{self._prefix}:campaigns", campaign_id)
            pipe.execute()  # kept only once written: a failed write goes out again
            if written is None:
                self._written[campaign_id] = _Written(fresh, now)
            else:
                written.members = fresh

    def claim(self, campaign_id: int) -> int | None:
        popped = self._redis.zpopmin(self._key(campaign_id), 1)
        if not popped:
            return None
        member, _score = popped[0]
        with self._lock:
            written = self._written.get(campaign_id)
            if written is not None:
                written.members.pop(member.decode() if isinstance(member, bytes) else member, None)
        return int(member)

    def size(self, campaign_id: int) -> int:
        return int(self._redis.zcard(self._key(campaign_id)))

    def campaigns(self) -> set[int]:
        return {int(m) for m in self._redis.smembers(f"{self._prefix}:campaigns")}
