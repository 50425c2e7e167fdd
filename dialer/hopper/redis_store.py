"""Redis hopper for several dialer processes: a sorted set per queue, the
offers in a hash, leases in a hash plus a sorted set by expiry. Claim,
complete, release and replace are Lua scripts, so each is atomic.

Queue members are `<class><priority><due ms>:<lead id>` strings, all with
score 0: ZRANGE then returns them in DialableLead.sort_key order (lexical).
All keys of a campaign share the hash tag `{campaign id}`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from callcenter.services.hopper_feed import DialableLead
from dialer.hopper.base import DEFAULT_LEASE_SECONDS, Lease

_PRIORITY_LIMIT = 9_999_999

_REAP = """
local function reap(offers, leases, expiry, queues, now)
  local expired = redis.call('ZRANGEBYSCORE', expiry, '-inf', now)
  for _, lead in ipairs(expired) do
    redis.call('ZREM', expiry, lead)
    redis.call('HDEL', leases, lead)
    local raw = redis.call('HGET', offers, lead)
    if raw then
      local offer = cjson.decode(raw)
      redis.call('ZADD', offer.queue, 0, offer.member)
      redis.call('SADD', queues, offer.queue)
    end
  end
  return #expired
end
"""

_TAKE = """
local function take(queue, offers, leases, expiry, now, lease_ms, token)
  while true do
    local first = redis.call('ZRANGE', queue, 0, 0)
    if #first == 0 then return false end
    local member = first[1]
    redis.call('ZREM', queue, member)
    local lead = string.match(member, ':0*(%d+)$')
    local raw = redis.call('HGET', offers, lead)
    if raw and redis.call('HEXISTS', leases, lead) == 0 then
      local offer = cjson.decode(raw)
      if offer.member == member then
        if offer.closes_ms <= now then
          redis.call('HDEL', offers, lead)
        else
          redis.call('HSET', leases, lead, token)
          redis.call('ZADD', expiry, now + lease_ms, lead)
          return raw
        end
      end
    end
  end
end
"""

# KEYS: agent queue ('' for none), general queue, offers, leases, expiry, queues
# ARGV: now ms, lease ms, token
_CLAIM = (
    _REAP
    + _TAKE
    + """
local now, lease_ms, token = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local offers, leases, expiry = KEYS[3], KEYS[4], KEYS[5]
reap(offers, leases, expiry, KEYS[6], now)
local got = false
if KEYS[1] ~= '' then got = take(KEYS[1], offers, leases, expiry, now, lease_ms, token) end
if not got then got = take(KEYS[2], offers, leases, expiry, now, lease_ms, token) end
return got
"""
)

# KEYS: general queue, offers, leases, expiry, queues. ARGV: now ms, lease ms, token*
# (one lease a token, as many claims one after another would take them)
_CLAIM_MANY = (
    _REAP
    + _TAKE
    + """
local now, lease_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
local offers, leases, expiry = KEYS[2], KEYS[3], KEYS[4]
reap(offers, leases, expiry, KEYS[5], now)
local taken = {}
for i = 3, #ARGV do
  local raw = take(KEYS[1], offers, leases, expiry, now, lease_ms, ARGV[i])
  if not raw then break end
  taken[#taken + 1] = raw
end
return taken
"""
)

# KEYS: offers, leases, expiry, queues. ARGV: lead id, token, mode ('complete' | 'release')
_FINISH = """
local offers, leases, expiry, queues = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local lead, token, mode = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HGET', leases, lead) ~= token then return 0 end
redis.call('HDEL', leases, lead)
redis.call('ZREM', expiry, lead)
if mode == 'complete' then
  redis.call('HDEL', offers, lead)
else
  local raw = redis.call('HGET', offers, lead)
  if raw then
    local offer = cjson.decode(raw)
    redis.call('ZADD', offer.queue, 0, offer.member)
    redis.call('SADD', queues, offer.queue)
  end
end
return 1
"""

# KEYS: offers, leases, expiry, queues. ARGV: (lead id, queue, member, offer json)*
_REPLACE = """
local offers, leases, queues = KEYS[1], KEYS[2], KEYS[4]
for _, queue in ipairs(redis.call('SMEMBERS', queues)) do redis.call('DEL', queue) end
redis.call('DEL', queues)
local keep = {}
for _, lead in ipairs(redis.call('HKEYS', leases)) do
  local raw = redis.call('HGET', offers, lead)
  if raw then keep[lead] = raw end
end
redis.call('DEL', offers)
for lead, raw in pairs(keep) do redis.call('HSET', offers, lead, raw) end
local queued = 0
for i = 1, #ARGV, 4 do
  local lead = ARGV[i]
  if redis.call('HEXISTS', leases, lead) == 0 then
    redis.call('HSET', offers, lead, ARGV[i + 3])
    redis.call('ZADD', ARGV[i + 1], 0, ARGV[i + 2])
    redis.call('SADD', queues, ARGV[i + 1])
    queued = queued + 1
  end
end
return queued
"""

# KEYS: offers, leases, expiry, queues. ARGV: now ms
_REAP_ONLY = _REAP + "return reap(KEYS[1], KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[1]))"


class RedisHopper:
    """Construct with a client (`redis.Redis.from_url(url)`) or `from_url`."""

    def __init__(self, client: redis.Redis, *, prefix: str = "cc:hopper") -> None:
        self._redis = client
        self._prefix = prefix
        self._claim = client.register_script(_CLAIM)
        self._claim_many = client.register_script(_CLAIM_MANY)
        self._finish = client.register_script(_FINISH)
        self._replace = client.register_script(_REPLACE)
        self._reap = client.register_script(_REAP_ONLY)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "cc:hopper") -> RedisHopper:
        return cls(redis.Redis.from_url(url), prefix=prefix)

    def replace(self, campaign_id: int, offers: Sequence[DialableLead]) -> int:
        args: list[Any] = []
        for offer in offers:
            queue = self._queue(campaign_id, offer.agent_id)
            member = _member(offer)
            payload = {**offer.to_dict(), "queue": queue, "member": member}
            payload["closes_ms"] = _ms(offer.closes_at)
            args.extend((offer.lead_id, queue, member, json.dumps(payload)))
        return int(self._replace(keys=self._state_keys(campaign_id), args=args))

    def claim(
        self,
        campaign_id: int,
        *,
        now: datetime,
        for_agent_id: int | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> Lease | None:
        token = uuid.uuid4().hex
        agent_queue = self._queue(campaign_id, for_agent_id) if for_agent_id is not None else ""
        keys = [agent_queue, self._queue(campaign_id, None), *self._state_keys(campaign_id)]
        raw = self._claim(keys=keys, args=[_ms(now), int(lease_seconds * 1000), token])
        if not raw:
            return None
        return _lease(raw, token, now, lease_seconds)

    def claim_many(
        self,
        campaign_id: int,
        count: int,
        *,
        now: datetime,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> list[Lease]:
        if count <= 0:
            return []
        tokens = [uuid.uuid4().hex for _ in range(count)]
        keys = [self._queue(campaign_id, None), *self._state_keys(campaign_id)]
        taken = self._claim_many(keys=keys, args=[_ms(now), int(lease_seconds * 1000), *tokens])
        return [
            _lease(raw, token, now, lease_seconds)
            for raw, token in zip(taken, tokens, strict=False)
        ]

    def complete(self, lease: Lease) -> bool:
        return self._end(lease, "complete")

    def complete_many(self, leases: Sequence[Lease]) -> list[bool]:
        pipe = self._redis.pipeline(transaction=False)
        for lease in leases:
            keys = self._state_keys(lease.lead.campaign_id)
            self._finish(keys=keys, args=[lease.lead.lead_id, lease.token, "complete"], client=pipe)
        return [bool(done) for done in pipe.execute()]

    def release(self, lease: Lease) -> bool:
        return self._end(lease, "release")

    def reap(self, campaign_id: int, *, now: datetime) -> int:
        return int(self._reap(keys=self._state_keys(campaign_id), args=[_ms(now)]))

    def size(self, campaign_id: int, *, for_agent_id: int | None = None) -> int:
        return int(self._redis.zcard(self._queue(campaign_id, for_agent_id)))  # type: ignore[arg-type]

    def agents_with_callbacks(self, campaign_id: int, agent_ids: Sequence[int]) -> set[int]:
        # Every queue that was ever filled is in the campaign's `queues` set
        # (each script that queues an offer adds it there), so only the agents'
        # queues in it are counted: one round trip when none is, two when some are.
        listed = {
            name.decode() if isinstance(name, bytes) else name
            for name in self._redis.smembers(self._key(campaign_id, "queues"))  # type: ignore[union-attr]
        }
        candidates = [
            agent_id for agent_id in agent_ids if self._queue(campaign_id, agent_id) in listed
        ]
        if not candidates:
            return set()
        pipe = self._redis.pipeline(transaction=False)
        for agent_id in candidates:
            pipe.zcard(self._queue(campaign_id, agent_id))
        sizes = pipe.execute()
        return {agent_id for agent_id, size in zip(candidates, sizes, strict=True) if size}

    def leased(self, campaign_id: int) -> int:
        return int(self._redis.hlen(self._key(campaign_id, "leases")))  # type: ignore[arg-type]

    def clear(self, campaign_id: int) -> None:
        queues: set[bytes] = self._redis.smembers(self._key(campaign_id, "queues"))  # type: ignore[assignment]
        self._redis.delete(*queues, *self._state_keys(campaign_id), self._queue(campaign_id, None))

    def _end(self, lease: Lease, mode: str) -> bool:
        keys = self._state_keys(lease.lead.campaign_id)
        return bool(self._finish(keys=keys, args=[lease.lead.lead_id, lease.token, mode]))

    def _key(self, campaign_id: int, name: str) -> str:
        return f"{self._prefix}:{{{campaign_id}}}:{name}"

    def _queue(self, campaign_id: int, agent_id: int | None) -> str:
        return self._key(campaign_id, "q:all" if agent_id is None else f"q:agent:{agent_id}")

    def _state_keys(self, campaign_id: int) -> list[str]:
        return [self._key(campaign_id, name) for name in ("offers", "leases", "expiry", "queues")]


def _lease(raw: bytes, token: str, now: datetime, lease_seconds: float) -> Lease:
    data = json.loads(raw)
    for internal in ("queue", "member", "closes_ms"):
        data.pop(internal)
    return Lease(DialableLead.from_dict(data), token, now + timedelta(seconds=lease_seconds))


def _member(offer: DialableLead) -> str:
    priority = max(-_PRIORITY_LIMIT, min(_PRIORITY_LIMIT, offer.priority))
    rank = 0 if offer.is_callback else 1
    due = max(0, _ms(offer.due_at))
    return f"{rank}{_PRIORITY_LIMIT - priority:08d}{due:015d}:{offer.lead_id:012d}"


def _ms(at: datetime) -> int:
    return int(at.astimezone(UTC).timestamp() * 1000)
