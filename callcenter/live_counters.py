"""Live floor counters: one interface, kept in-process (embedded default) or in
Redis (several web workers and dialer processes share the same numbers).

The counters are dumb storage. `callcenter.services.floor.projection` decides
what to count from the bus events; this module only adds, reads and replaces:

- day totals per campaign (`dials`, `live_answers`, ... as floats), keyed by
  the local date the call was dialed on;
- day totals per agent (`calls`, `appointments`);
- the live maps: calls in progress and each agent's current state, as small
  JSON-able dicts;
- `claim(event_id)` so a redelivered bus event is counted once;
- per call and day, which facts about the call (`Fact`) are in the totals:
  `count_once` adds a call's deltas only for facts not counted yet, and
  `replace_day` writes the rebuild's facts with its totals, so an event the
  rebuild already read from the database is not counted again, in whichever
  process and order the two come;
- while a rebuild runs (`begin_rebuild` to `end_rebuild`), every
  `count_once` is also recorded, and the rebuild's `replace_day` counts the
  recorded ones again on top of the totals it writes: a count made between
  the rebuild's read and its write (by any process) is not lost, and one the
  read already held is skipped by its facts. Every write to the live maps is
  recorded too, and the rebuild's `replace_live` writes them again, in order,
  on top of the maps it read: each is a whole row (or its removal), so the
  maps end as the last write to each row left them.

Redis may lose all of this (a restart without persistence): `first_build`
and `first_live_build` then answer True again, and the live floor rebuilds
the numbers from the database. The Redis client fails fast (short timeouts,
one retry) since counting runs on commit, inside requests.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import itertools
import json
import threading
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import date, timedelta
from typing import Any, Protocol, TypeVar

from redis.exceptions import NoScriptError

Totals = dict[str, float]
_T = TypeVar("_T")
_CALLS, _AGENTS = "calls", "agents"  # the live maps
SEEN_LIMIT = 200_000
SEEN_TTL_SECONDS = 2 * 24 * 3600
DAY_TTL_SECONDS = 40 * 24 * 3600
# A call's facts matter while its events can still come: a call spans a
# midnight at most, and its wrap-up follows its end within the hour.
FACTS_TTL_SECONDS = 2 * 24 * 3600
# A rebuild still writing this long after it began (or whose process died)
# is given up: the counts recorded for it are dropped and its write refused.
REBUILD_TTL_SECONDS = 600
# A day's totals read this many days back are kept by their version: an older
# day's totals may expire (DAY_TTL_SECONDS after their last write) while the
# day's version lives on by another campaign's later write.
CACHED_DAYS = DAY_TTL_SECONDS // 86400 - 2


class Fact(enum.IntFlag):
    """What about a call the day's totals hold (one bit each)."""

    DIALED = 1
    ANSWERED = 2
    CONNECTED = 4
    ENDED = 8
    APPOINTMENT = 16
    WRAP_UP = 32
    MACHINE = 64


@dataclasses.dataclass(frozen=True)
class Count:
    """What counting one fact about a call adds to its campaign and agent."""

    fact: Fact
    deltas: Mapping[str, float]
    agent_deltas: Mapping[str, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Claim:
    """An event to claim and the live row it changes (`claim_call`, `claim_agent`)."""

    event_id: str
    live: str  # LIVE_CALLS or LIVE_AGENTS
    key: str | int
    mark: str | None = None  # claimed with the event (`claim_call`'s mark)


LIVE_CALLS, LIVE_AGENTS = _CALLS, _AGENTS
# What `first_builds` answered for each day asked, in order.
Builds = list[tuple[bool, bool]]
Claimed = tuple[bool, dict[str, Any] | None]


class LiveCounters(Protocol):
    def batch(self) -> AbstractContextManager[None]:
        """Writes made inside (`set_call`, `set_agent`, `drop_call`,
        `count_once`, `add`, `set_status`) wait, in order, and go to the
        store in the round trip of the next read, or at the end; a read
        inside sees them. `count_once` returns None for a write that waits."""

    def claim_events(
        self, days: Sequence[date], claims: Sequence[Claim]
    ) -> tuple[Builds, list[Claimed] | None]:
        """`first_builds` of each day, in order, and only when none of them
        answers True, every `claim_call` / `claim_agent` of `claims` (rows
        distinct): one round trip. None for the claims when a build is due
        (nothing was claimed)."""

    def claim(self, event_id: str) -> bool:
        """True the first time an event id is seen, False on a redelivery."""

    def claim_call(
        self, event_id: str, call_id: str, *, mark: str | None = None
    ) -> tuple[bool, dict[str, Any] | None]:
        """`claim(event_id)`, then (when it is claimed) `claim(mark)` and the
        call's live row, in one step; (False, None) on a redelivery."""

    def claim_agent(self, event_id: str, agent_id: int) -> tuple[bool, dict[str, Any] | None]:
        """`claim(event_id)` and (when it is claimed) the agent's live row."""

    def claim_and_set_call(self, mark: str, call_id: str, data: Mapping[str, Any]) -> bool:
        """`claim(mark)`, and only if this claimed it, `set_call`."""

    def add(
        self,
        day: date,
        campaign_id: int,
        deltas: Mapping[str, float],
        *,
        agent_id: int | None = None,
        agent_deltas: Mapping[str, float] | None = None,
    ) -> None: ...

    def count_once(
        self,
        day: date,
        campaign_id: int,
        call_id: str,
        counts: Sequence[Count],
        *,
        agent_id: int | None = None,
        drop_call: bool = False,
    ) -> Fact | None:
        """Add each count whose fact about the call is not in `day`'s totals
        yet (counted by an event or read by a rebuild), atomically with the
        check; returns the facts counted now. With `drop_call`, then
        `drop_call(call_id)` in the same step."""

    def facts(self, day: date, call_id: str) -> Fact: ...

    def begin_rebuild(self) -> str:
        """Record every `count_once` and every write to the live maps from now
        on, for the rebuild this returns the mark of; call it before the
        rebuild's first read of the rows."""

    def end_rebuild(self, mark: str) -> None: ...

    def totals(self, day: date) -> dict[int, Totals]: ...

    def window(self, campaign_ids: Iterable[int], days: list[date]) -> dict[int, Totals]:
        """Totals summed over `days`, per campaign."""

    def agent_totals(self, day: date) -> dict[int, Totals]: ...

    def set_call(self, call_id: str, data: Mapping[str, Any]) -> None: ...

    def step_call(self, call_id: str, step: int) -> dict[str, Any] | None:
        """The live call's row with its script step set to `step`, read and
        written in one step (one round trip): a row another process wrote
        meanwhile keeps its change, and a call that ended (dropped) is not
        brought back. None when the call is not live."""

    def get_call(self, call_id: str) -> dict[str, Any] | None: ...

    def drop_call(self, call_id: str) -> None: ...

    def calls(self) -> dict[str, dict[str, Any]]: ...

    def set_agent(self, agent_id: int, data: Mapping[str, Any]) -> None: ...

    def get_agent(self, agent_id: int) -> dict[str, Any] | None: ...

    def agents(self) -> dict[int, dict[str, Any]]: ...

    def replace_day(
        self,
        day: date,
        totals: Mapping[int, Totals],
        agent_totals: Mapping[int, Totals],
        facts: Mapping[str, Fact] | None = None,
        *,
        since: str | None = None,
    ) -> bool:
        """The day's totals and the facts about each call they hold, at once;
        with `since` (a `begin_rebuild` mark), then the `day`'s counts recorded
        since the mark, each fact once. False, and nothing written, when the
        mark is gone (the counters were lost, or the rebuild took too long):
        the counts since the rebuild's read are not all known. True, and
        nothing written, when a rebuild that began after this one wrote the
        day already: its read holds all this one's does."""

    def replace_live(
        self,
        calls: Mapping[str, Mapping[str, Any]],
        agents: Mapping[int, Mapping[str, Any]],
        *,
        since: str | None = None,
    ) -> bool:
        """Both live maps at once; with `since` (a `begin_rebuild` mark), then
        the writes to them recorded since the mark, in order. False, and
        nothing written, when the mark is gone; True, and nothing written,
        when a rebuild that began after this one wrote them already."""

    def first_build(self, day: date) -> bool:
        """True once per day (per deployment): whoever gets it rebuilds from the DB."""

    def first_live_build(self) -> bool:
        """True once per lifetime of the counters (a new Redis, or Redis that
        came back empty): whoever gets it rebuilds the live maps from the DB."""

    def first_builds(self, day: date) -> tuple[bool, bool]:
        """`first_live_build()` and `first_build(day)`, asked together."""

    def set_status(self, key: str, value: Any) -> None:
        """Operational state the dialer reports (hopper depth, held trunk)."""

    def statuses(self) -> dict[str, Any]: ...

    def lead(self, seconds: float) -> bool:
        """True if this process should emit the snapshot for the next `seconds`."""


class InProcessCounters:
    """Dicts under one lock: the embedded default, one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._days: dict[date, dict[int, Totals]] = defaultdict(dict)
        self._agent_days: dict[date, dict[int, Totals]] = defaultdict(dict)
        self._facts: dict[date, dict[str, Fact]] = defaultdict(dict)
        self._calls: dict[str, dict[str, Any]] = {}
        self._agents: dict[int, dict[str, Any]] = {}
        self._built: set[date] = set()
        self._live_built = False
        self._statuses: dict[str, Any] = {}
        # mark -> where its counts and its live writes begin in the journals
        self._rebuilds: dict[str, tuple[int, int]] = {}
        self._rebuilds_begun = 0
        # a day's totals, or the live maps (None): the order of the rebuild
        # that wrote them last (see _SUPERSEDED)
        self._rebuilt: dict[date | None, int] = {}
        self._journal: list[tuple[date, int, str, Sequence[Count], int | None]] = []
        # (map, key, the row or None when dropped)
        self._live_journal: list[tuple[str, Any, dict[str, Any] | None]] = []

    def set_status(self, key: str, value: Any) -> None:
        with self._lock:
            self._statuses[key] = value

    def statuses(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._statuses)

    def claim(self, event_id: str) -> bool:
        with self._lock:
            if event_id in self._seen:
                return False
            self._seen[event_id] = None
            if len(self._seen) > SEEN_LIMIT:
                self._seen.popitem(last=False)
            return True

    def claim_call(
        self, event_id: str, call_id: str, *, mark: str | None = None
    ) -> tuple[bool, dict[str, Any] | None]:
        if not self.claim(event_id):
            return False, None
        if mark is not None:
            self.claim(mark)
        return True, self.get_call(call_id)

    def claim_agent(self, event_id: str, agent_id: int) -> tuple[bool, dict[str, Any] | None]:
        if not self.claim(event_id):
            return False, None
        return True, self.get_agent(agent_id)

    def claim_and_set_call(self, mark: str, call_id: str, data: Mapping[str, Any]) -> bool:
        if not self.claim(mark):
            return False
        self.set_call(call_id, data)
        return True

    def batch(self) -> AbstractContextManager[None]:
        return nullcontext()  # every write is done at once, in this process

    def claim_events(
        self, days: Sequence[date], claims: Sequence[Claim]
    ) -> tuple[Builds, list[Claimed] | None]:
        builds = [self.first_builds(day) for day in days]
        if any(live or totals for live, totals in builds):
            return builds, None
        return builds, [
            self.claim_call(claim.event_id, str(claim.key), mark=claim.mark)
            if claim.live == _CALLS
            else self.claim_agent(claim.event_id, int(claim.key))
            for claim in claims
        ]

    def add(
        self,
        day: date,
        campaign_id: int,
        deltas: Mapping[str, float],
        *,
        agent_id: int | None = None,
        agent_deltas: Mapping[str, float] | None = None,
    ) -> None:
        with self._lock:
            _add_into(self._days[day].setdefault(campaign_id, {}), deltas)
            if agent_id is not None and agent_deltas:
                _add_into(self._agent_days[day].setdefault(agent_id, {}), agent_deltas)

    def count_once(
        self,
        day: date,
        campaign_id: int,
        call_id: str,
        counts: Sequence[Count],
        *,
        agent_id: int | None = None,
        drop_call: bool = False,
    ) -> Fact:
        with self._lock:
            if self._rebuilds:
                self._journal.append((day, campaign_id, call_id, tuple(counts), agent_id))
            counted = self._count_once(day, campaign_id, call_id, counts, agent_id)
            if drop_call:
                self._write_live(_CALLS, call_id, None)
            return counted

    def _count_once(
        self,
        day: date,
        campaign_id: int,
        call_id: str,
        counts: Sequence[Count],
        agent_id: int | None,
    ) -> Fact:
        known = self._facts[day].get(call_id, Fact(0))
        counted, deltas, agent_deltas = _new_counts(known, counts)
        if not counted:
            return counted
        self._facts[day][call_id] = known | counted
        if deltas:
            _add_into(self._days[day].setdefault(campaign_id, {}), deltas)
        if agent_id is not None and agent_deltas:
            _add_into(self._agent_days[day].setdefault(agent_id, {}), agent_deltas)
        return counted

    def facts(self, day: date, call_id: str) -> Fact:
        with self._lock:
            return self._facts.get(day, {}).get(call_id, Fact(0))

    def begin_rebuild(self) -> str:
        with self._lock:
            if not self._rebuilds:
                self._journal.clear()
                self._live_journal.clear()
            self._rebuilds_begun += 1
            mark = f"{self._rebuilds_begun}:{uuid.uuid4().hex}"
            self._rebuilds[mark] = (len(self._journal), len(self._live_journal))
        return mark

    def _superseded(self, mark: str, written: date | None) -> bool:
        order = int(mark.split(":", 1)[0])
        if order < self._rebuilt.get(written, 0):
            return True
        self._rebuilt[written] = order
        return False

    def end_rebuild(self, mark: str) -> None:
        with self._lock:
            self._rebuilds.pop(mark, None)
            if not self._rebuilds:
                self._journal.clear()
                self._live_journal.clear()

    def totals(self, day: date) -> dict[int, Totals]:
        with self._lock:
            return {cid: dict(values) for cid, values in self._days.get(day, {}).items()}

    def window(self, campaign_ids: Iterable[int], days: list[date]) -> dict[int, Totals]:
        with self._lock:
            summed: dict[int, Totals] = {}
            for cid in campaign_ids:
                total: Totals = {}
                for day in days:
                    _add_into(total, self._days.get(day, {}).get(cid, {}))
                summed[cid] = total
            return summed

    def agent_totals(self, day: date) -> dict[int, Totals]:
        with self._lock:
            return {aid: dict(values) for aid, values in self._agent_days.get(day, {}).items()}

    def set_call(self, call_id: str, data: Mapping[str, Any]) -> None:
        with self._lock:
            self._write_live(_CALLS, call_id, data)

    def step_call(self, call_id: str, step: int) -> dict[str, Any] | None:
        with self._lock:
            found = self._calls.get(call_id)
            if found is None:
                return None
            stepped = {**found, "step": step}
            self._write_live(_CALLS, call_id, stepped)
            return stepped

    def _write_live(self, which: str, key: Any, row: Mapping[str, Any] | None) -> None:
        """Under the lock: a live map's row written (None: dropped), and
        recorded while a rebuild runs."""
        copied = None if row is None else dict(row)
        if self._rebuilds:
            self._live_journal.append((which, key, copied))
        self._apply_live(which, key, copied)

    def _apply_live(self, which: str, key: Any, row: Mapping[str, Any] | None) -> None:
        live: dict[Any, dict[str, Any]] = self._calls if which == _CALLS else self._agents
        if row is None:
            live.pop(key, None)
        else:
            live[key] = dict(row)

    def get_call(self, call_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._calls.get(call_id)
            return dict(found) if found is not None else None

    def drop_call(self, call_id: str) -> None:
        with self._lock:
            self._write_live(_CALLS, call_id, None)

    def calls(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {key: dict(value) for key, value in self._calls.items()}

    def set_agent(self, agent_id: int, data: Mapping[str, Any]) -> None:
        with self._lock:
            self._write_live(_AGENTS, agent_id, data)

    def get_agent(self, agent_id: int) -> dict[str, Any] | None:
        with self._lock:
            found = self._agents.get(agent_id)
            return dict(found) if found is not None else None

    def agents(self) -> dict[int, dict[str, Any]]:
        with self._lock:
            return {key: dict(value) for key, value in self._agents.items()}

    def replace_day(
        self,
        day: date,
        totals: Mapping[int, Totals],
        agent_totals: Mapping[int, Totals],
        facts: Mapping[str, Fact] | None = None,
        *,
        since: str | None = None,
    ) -> bool:
        with self._lock:
            if since is not None and since not in self._rebuilds:
                return False
            if since is not None and self._superseded(since, day):
                return True
            self._days[day] = {cid: dict(values) for cid, values in totals.items()}
            self._agent_days[day] = {aid: dict(values) for aid, values in agent_totals.items()}
            self._facts[day] = dict(facts or {})
            if since is not None:
                for entry in self._journal[self._rebuilds[since][0] :]:
                    if entry[0] == day:
                        self._count_once(*entry)
        return True

    def replace_live(
        self,
        calls: Mapping[str, Mapping[str, Any]],
        agents: Mapping[int, Mapping[str, Any]],
        *,
        since: str | None = None,
    ) -> bool:
        with self._lock:
            if since is not None and since not in self._rebuilds:
                return False
            if since is not None and self._superseded(since, None):
                return True
            self._calls = {key: dict(value) for key, value in calls.items()}
            self._agents = {key: dict(value) for key, value in agents.items()}
            if since is not None:
                for entry in self._live_journal[self._rebuilds[since][1] :]:
                    self._apply_live(*entry)
        return True

    def first_build(self, day: date) -> bool:
        with self._lock:
            if day in self._built:
                return False
            self._built.add(day)
            return True

    def first_live_build(self) -> bool:
        with self._lock:
            built, self._live_built = self._live_built, True
            return not built

    def first_builds(self, day: date) -> tuple[bool, bool]:
        return self.first_live_build(), self.first_build(day)

    def lead(self, seconds: float) -> bool:
        return True


# One write to a live map in one round trip: a row (or, with an empty row, its
# removal); while a rebuild runs (its marks hash exists) it also goes to the
# journal, for the rebuild's replace_live to write again.
# KEYS: the map, rebuild marks, journal; ARGV: field, JSON row or "",
#       rebuild TTL
_WRITE_LIVE_ROW = """
local function write_live(map, field, row, marks, journal, ttl)
  if row == '' then
    redis.call('HDEL', map, field)
  else
    redis.call('HSET', map, field, row)
  end
  if redis.call('EXISTS', marks) == 1 then
    redis.call('RPUSH', journal, cjson.encode({'live', map, field, row}))
    redis.call('EXPIRE', journal, ttl)
  end
end
"""
_WRITE_LIVE = (
    _WRITE_LIVE_ROW
    + """
write_live(KEYS[1], ARGV[1], ARGV[2], KEYS[2], KEYS[3], ARGV[3])
return 1
"""
)

# step_call: the live call's row read, its step set and written as _WRITE_LIVE
# writes it, in one step; the row as it was before (nil: not live, nothing
# written). The rows are flat JSON objects of strings, integers (ids and
# milliseconds, below the 10^14 cjson writes in full), booleans and nulls:
# cjson writes them back as they were.
# KEYS: the calls hash, rebuild marks, journal; ARGV: call id, step, rebuild TTL
_STEP_CALL = (
    _WRITE_LIVE_ROW
    + """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local row = cjson.decode(raw)
row['step'] = tonumber(ARGV[2])
write_live(KEYS[1], ARGV[1], cjson.encode(row), KEYS[2], KEYS[3], ARGV[3])
return raw
"""
)

# Whether a rebuild writes after one that began later (its write is then
# refused: that later read holds everything this one's does); otherwise the
# keys are recorded as written by this rebuild. Each rebuild reads after its
# mark, and a commit whose process left its counts to its own rebuild
# (`LiveFloor._count_commit`) was made before that mark, its counts and live
# writes never journaled: only a rebuild that began later is sure to hold it.
# wrote: the key holding the order of the rebuild that last wrote the keys
_SUPERSEDED = """
local function superseded(mark, wrote, ttl)
  local order = tonumber(string.match(mark, '^(%d+):'))
  if order < tonumber(redis.call('GET', wrote) or '0') then return true end
  if ttl then
    redis.call('SET', wrote, order, 'EX', ttl)
  else
    redis.call('SET', wrote, order)
  end
  return false
end
"""

# Both live maps at once, then (with a mark) the writes to them journaled since
# the mark, in order: each is a whole row or its removal, so every row written
# since the mark ends as its last write left it.
# KEYS: rebuild marks, journal, calls, agents, the live maps' last rebuild
# ARGV: mark or "", JSON {call: JSON row}, JSON {agent: JSON row}
_REPLACE_LIVE = (
    _SUPERSEDED
    + """
local start = 0
if ARGV[1] ~= '' then
  start = redis.call('HGET', KEYS[1], ARGV[1])
  if not start then return 0 end
  if superseded(ARGV[1], KEYS[5], nil) then return 2 end
end
redis.call('DEL', KEYS[3], KEYS[4])
for side, key in ipairs({KEYS[3], KEYS[4]}) do
  local fields = {}
  for field, row in pairs(cjson.decode(ARGV[side + 1])) do
    fields[#fields + 1] = field
    fields[#fields + 1] = row
    if #fields >= 1000 then
      redis.call('HSET', key, unpack(fields))
      fields = {}
    end
  end
  if #fields > 0 then redis.call('HSET', key, unpack(fields)) end
end
if ARGV[1] == '' then return 1 end
for _, raw in ipairs(redis.call('LRANGE', KEYS[2], start, -1)) do
  local entry = cjson.decode(raw)
  if entry[1] == 'live' then
    if entry[4] == '' then
      redis.call('HDEL', entry[2], entry[3])
    else
      redis.call('HSET', entry[2], entry[3], entry[4])
    end
  end
end
return 1
"""
)

# claim_call / claim_agent in one round trip.
# KEYS: the event's seen mark, the live hash, the other mark (claim_call's, or
# none); ARGV: the field, seen TTL
_CLAIM_READ = """
if not redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[2]) then return {0} end
if KEYS[3] then redis.call('SET', KEYS[3], 1, 'NX', 'EX', ARGV[2]) end
return {1, redis.call('HGET', KEYS[2], ARGV[1])}
"""

# claim_events: first_builds of each day, then, only when no build is due,
# each claim as _CLAIM_READ does. One round trip for a commit's events.
# KEYS: built:live, built:{day} for each day, then per claim its seen mark,
#       the live hash and (with ARGV's '1') the other mark
# ARGV: number of days, seen TTL, totals TTL, then per claim: field, '1' or ''
_CLAIM_EVENTS = """
local days = tonumber(ARGV[1])
local built = {0}
local due = false
if redis.call('SET', KEYS[1], 1, 'NX') then built[1] = 1; due = true end
for day = 1, days do
  built[day + 1] = 0
  if redis.call('SET', KEYS[day + 1], 1, 'NX', 'EX', ARGV[3]) then
    built[day + 1] = 1
    due = true
  end
end
if due then return {built} end
local key = days + 2
local claimed = {}
for i = 4, #ARGV, 2 do
  local seen, live = KEYS[key], KEYS[key + 1]
  key = key + 2
  local mark = nil
  if ARGV[i + 1] == '1' then
    mark = KEYS[key]
    key = key + 1
  end
  if redis.call('SET', seen, 1, 'NX', 'EX', ARGV[2]) then
    if mark then redis.call('SET', mark, 1, 'NX', 'EX', ARGV[2]) end
    claimed[#claimed + 1] = {1, redis.call('HGET', live, ARGV[i])}
  else
    claimed[#claimed + 1] = {0}
  end
end
return {built, claimed}
"""

# The write journaled as _WRITE_LIVE does while a rebuild runs.
# KEYS: the mark, the calls hash, rebuild marks, journal
# ARGV: call id, JSON row, seen TTL, rebuild TTL
_CLAIM_AND_SET = (
    _WRITE_LIVE_ROW
    + """
if not redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[3]) then return 0 end
write_live(KEYS[2], ARGV[1], ARGV[2], KEYS[3], KEYS[4], ARGV[4])
return 1
"""
)

# One call's counts, each fact once: the call's facts and the totals change
# together, and the day's versions say which totals changed (`RedisCounters`
# keeps what it read of a day's totals until its version changes).
# keys: facts hash, campaign totals, campaigns index, agent totals, agents
# index, the day's campaign totals version, the day's agent versions;
# counts: [[fact bit, {name: delta}, {name: agent delta}], ...]
_COUNT = """
local function count(keys, call_id, campaign, agent, day_ttl, facts_ttl, counts, version)
  local known = tonumber(redis.call('HGET', keys[1], call_id) or '0')
  local counted = 0
  local sums = {{}, {}}
  for _, count in ipairs(counts) do
    if bit.band(bit.bor(known, counted), count[1]) == 0 then
      counted = bit.bor(counted, count[1])
      for side = 1, 2 do
        for name, value in pairs(count[side + 1]) do
          sums[side][name] = (sums[side][name] or 0) + tonumber(value)
        end
      end
    end
  end
  if counted == 0 then return 0 end
  redis.call('HSET', keys[1], call_id, bit.bor(known, counted))
  redis.call('EXPIRE', keys[1], facts_ttl)
  local targets = {{keys[2], keys[3], campaign}, {keys[4], keys[5], agent}}
  for side = 1, 2 do
    local key, index, member = unpack(targets[side])
    local added = false
    for name, value in pairs(sums[side]) do
      if member ~= '' and value ~= 0 then
        redis.call('HINCRBYFLOAT', key, name, string.format('%.17g', value))
        added = true
      end
    end
    if added then
      redis.call('SADD', index, member)
      redis.call('EXPIRE', key, day_ttl)
      redis.call('EXPIRE', index, day_ttl)
      if side == 1 then
        redis.call('SET', keys[6], version, 'EX', day_ttl)
      else
        redis.call('HSET', keys[7], member, version)
        redis.call('EXPIRE', keys[7], day_ttl)
      end
    end
  end
  return counted
end
"""

# count_once in one round trip; while a rebuild runs (its marks hash exists)
# the count also goes to the journal the rebuild's write counts again.
# KEYS: facts hash, campaign totals, campaigns index, agent totals, agents
#       index, rebuild marks, journal, the day's campaign totals version, the
#       day's agent versions, the live calls hash (drop_call only)
# ARGV: call id, campaign id, agent id or "", totals TTL, facts TTL,
#       JSON counts, day, rebuild TTL, version
_COUNT_ONCE = (
    _COUNT
    + _WRITE_LIVE_ROW
    + """
if redis.call('EXISTS', KEYS[6]) == 1 then
  redis.call('RPUSH', KEYS[7], cjson.encode({ARGV[7], ARGV[1], ARGV[2], ARGV[3], ARGV[6]}))
  redis.call('EXPIRE', KEYS[7], ARGV[8])
end
local counted = count(
  {KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[8], KEYS[9]},
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], cjson.decode(ARGV[6]), ARGV[9])
if KEYS[10] then write_live(KEYS[10], ARGV[1], '', KEYS[6], KEYS[7], ARGV[8]) end
return counted
"""
)

# A rebuild's mark: where its counts begin in the journal, after its order
# among rebuilds ("{order}:{id}", `_SUPERSEDED`). The journal is emptied when
# no rebuild runs; it outlives the marks (its TTL is renewed).
# KEYS: rebuild marks, journal, rebuilds begun; ARGV: id, rebuild TTL
_BEGIN_REBUILD = """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
local mark = redis.call('INCR', KEYS[3]) .. ':' .. ARGV[1]
redis.call('HSET', KEYS[1], mark, redis.call('LLEN', KEYS[2]))
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return mark
"""

_END_REBUILD = """
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
"""

# replace_day in one step, then (with a mark) the day's counts journaled since
# the mark counted again on top: nothing counted in between is lost. (The
# journal's live map writes begin with "live", never a day: they are skipped.)
# Every total of the day is new: the campaigns' version is new, and the agents'
# versions are those of the agents written (an agent with none is read anew).
# KEYS: rebuild marks, journal, facts hash, campaigns index, agents index,
#       the day's campaign totals version, the day's agent versions, the
#       day's last rebuild
# ARGV: mark or "", key prefix, day, totals TTL, facts TTL,
#       JSON {campaign: {name: value}}, JSON {agent: {name: value}}, JSON {call: facts},
#       version
_REPLACE_DAY = (
    _COUNT
    + _SUPERSEDED
    + """
local start = 0
if ARGV[1] ~= '' then
  start = redis.call('HGET', KEYS[1], ARGV[1])
  if not start then return 0 end
  if superseded(ARGV[1], KEYS[8], ARGV[4]) then return 2 end
end
local totals, agents = ARGV[2] .. 't:' .. ARGV[3] .. ':', ARGV[2] .. 'a:' .. ARGV[3] .. ':'
for _, id in ipairs(redis.call('SMEMBERS', KEYS[4])) do redis.call('DEL', totals .. id) end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[5])) do redis.call('DEL', agents .. id) end
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5], KEYS[7])
redis.call('SET', KEYS[6], ARGV[9], 'EX', ARGV[4])
local fields = {}
for call_id, facts in pairs(cjson.decode(ARGV[8])) do
  fields[#fields + 1] = call_id
  fields[#fields + 1] = facts
  if #fields >= 1000 then
    redis.call('HSET', KEYS[3], unpack(fields))
    fields = {}
  end
end
if #fields > 0 then redis.call('HSET', KEYS[3], unpack(fields)) end
redis.call('EXPIRE', KEYS[3], ARGV[5])
for _, side in ipairs({{ARGV[6], totals, KEYS[4]}, {ARGV[7], agents, KEYS[5]}}) do
  for id, values in pairs(cjson.decode(side[1])) do
    fields = {}
    for name, value in pairs(values) do
      fields[#fields + 1] = name
      fields[#fields + 1] = value
    end
    if #fields > 0 then
      redis.call('HSET', side[2] .. id, unpack(fields))
      redis.call('EXPIRE', side[2] .. id, ARGV[4])
      redis.call('SADD', side[3], id)
      if side[2] == agents then redis.call('HSET', KEYS[7], id, ARGV[9]) end
    end
  end
  redis.call('EXPIRE', side[3], ARGV[4])
end
redis.call('EXPIRE', KEYS[7], ARGV[4])
if ARGV[1] == '' then return 1 end
for _, raw in ipairs(redis.call('LRANGE', KEYS[2], start, -1)) do
  local entry = cjson.decode(raw)
  if entry[1] == ARGV[3] then
    count(
      {KEYS[3], totals .. entry[3], KEYS[4], agents .. entry[4], KEYS[5], KEYS[6], KEYS[7]},
      entry[2], entry[3], entry[4], ARGV[4], ARGV[5], cjson.decode(entry[5]), ARGV[9])
  end
end
return 1
"""
)


# A command for `RedisCounters._now` / `_later`: (a registered script, its
# keys, its args), or (None, a command's words, ()).
_Command = tuple[Any, tuple[Any, ...], tuple[Any, ...]]


def _writes_sent_first(method: Callable[..., _T]) -> Callable[..., _T]:
    """A `RedisCounters` method that sends the writes its thread's batch holds
    before it runs (the rebuild, the floor's reads)."""

    @functools.wraps(method)
    def sent_first(self: RedisCounters, *args: Any, **kwargs: Any) -> _T:
        self._now()
        return method(self, *args, **kwargs)

    return sent_first


class RedisCounters:
    """The same counters in Redis hashes, shared by every process.

    Keys (prefix `cc:live:`): `t:{day}:{campaign}` day totals, `tc:{day}`
    the campaigns with totals that day, `a:{day}:{agent}` agent totals,
    `ta:{day}` the agents with totals, `f:{day}` each call's facts in the
    day's totals (call id -> `Fact` bits), `calls` and `agents` the live maps
    (field -> JSON), `seen:{event_id}` the dedupe marks, `built:{day}` and
    `built:live` who rebuilt what from the database, `rebuilds` the running
    rebuilds' marks (mark -> journal position) and `journal` the counts and
    the live maps' writes made while one runs; `tv:{day}` a version of the
    day's campaign totals and `av:{day}` one per agent (agent -> version), new
    with every write to them.

    The floor reads every second what changes little: a day's totals are read
    again only when their version changed (or is missing), and a live row is
    decoded again only when its JSON changed. What this process kept is
    never handed out, only copies of it.

    In a `batch` (one per thread or greenlet: the counters are shared) the
    writes wait in order and go in the pipeline of the next read, or at the
    batch's end; `add`'s commands, atomic on their own, make that pipeline a
    MULTI. A script Redis no longer knows (it restarted) is loaded and sent
    again, in order."""

    def __init__(self, url: str, *, prefix: str = "cc:live:") -> None:
        import redis
        from redis.backoff import ConstantBackoff
        from redis.retry import Retry

        # Any: redis-py's sync/async union types get in the way of a sync client
        self._redis: Any = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=2,
            socket_connect_timeout=2,
            retry=Retry(ConstantBackoff(0.05), 1),
        )
        self._prefix = prefix
        self._write_live = self._redis.register_script(_WRITE_LIVE)
        self._step_call = self._redis.register_script(_STEP_CALL)
        self._replace_live = self._redis.register_script(_REPLACE_LIVE)
        self._count_once = self._redis.register_script(_COUNT_ONCE)
        self._claim_read = self._redis.register_script(_CLAIM_READ)
        self._claim_and_set = self._redis.register_script(_CLAIM_AND_SET)
        self._claim_events = self._redis.register_script(_CLAIM_EVENTS)
        self._begin_rebuild = self._redis.register_script(_BEGIN_REBUILD)
        self._end_rebuild = self._redis.register_script(_END_REBUILD)
        self._replace_day = self._redis.register_script(_REPLACE_DAY)
        self._token = uuid.uuid4().hex
        self._writes = itertools.count()
        # (campaign or agent, day) -> (version, totals) as last read
        self._window_read: dict[tuple[int, date], tuple[str, Totals]] = {}
        self._agent_totals_read: dict[tuple[int, date], tuple[str, Totals]] = {}
        # live map -> field -> (JSON, row) as last read
        self._rows_read: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
        # this thread's batch: .waiting (None outside one) and .atomic
        self._batch = threading.local()

    @property
    def prefix(self) -> str:
        return self._prefix

    # -- batches

    @contextmanager
    def batch(self) -> Iterator[None]:
        if getattr(self._batch, "waiting", None) is not None:
            yield  # inside a batch already: its end sends them
            return
        self._batch.waiting, self._batch.atomic = [], False
        try:
            yield
        finally:
            waiting, atomic = self._batch.waiting, self._batch.atomic
            self._batch.waiting = None
            if waiting:
                self._send(waiting, atomic=atomic)

    def _later(self, *commands: _Command, atomic: bool = False) -> bool:
        """`commands` wait in this thread's batch; False outside one (send them)."""
        waiting = getattr(self._batch, "waiting", None)
        if waiting is None:
            return False
        waiting.extend(commands)
        self._batch.atomic = self._batch.atomic or atomic
        return True

    def _now(self, *commands: _Command) -> list[Any]:
        """`commands`' replies, sent in one round trip after the writes this
        thread's batch holds."""
        waiting = getattr(self._batch, "waiting", None)
        if waiting:
            atomic = self._batch.atomic
            self._batch.waiting, self._batch.atomic = [], False
            return self._send([*waiting, *commands], atomic=atomic)[len(waiting) :]
        if len(commands) == 1:
            script, words, args = commands[0]
            if script is None:
                return [self._redis.execute_command(*words)]
            return [script(keys=words, args=args)]
        return self._send(list(commands), atomic=False) if commands else []

    def _send(self, commands: list[_Command], *, atomic: bool) -> list[Any]:
        pipe = self._redis.pipeline(transaction=atomic)
        for script, words, args in commands:
            if script is None:
                pipe.execute_command(*words)
            else:
                pipe.evalsha(script.sha, len(words), *words, *args)
        replies = list(pipe.execute(raise_on_error=False))
        for index, (script, words, args) in enumerate(commands):
            if script is not None and isinstance(replies[index], NoScriptError):
                replies[index] = script(keys=words, args=args)  # loads it
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    def _key(self, *parts: object) -> str:
        return self._prefix + ":".join(str(part) for part in parts)

    def _version(self) -> str:
        """New for every write, in every process and Redis lifetime: a day
        rebuilt after Redis lost it never looks like the one read before."""
        return f"{self._token}.{next(self._writes)}"

    def claim(self, event_id: str) -> bool:
        words = ("SET", self._key("seen", event_id), 1, "NX", "EX", SEEN_TTL_SECONDS)
        return bool(self._now((None, words, ()))[0])

    def claim_call(
        self, event_id: str, call_id: str, *, mark: str | None = None
    ) -> tuple[bool, dict[str, Any] | None]:
        keys = [self._key("seen", event_id), self._key(_CALLS)]
        if mark is not None:
            keys.append(self._key("seen", mark))
        return self._claimed(
            self._now((self._claim_read, tuple(keys), (call_id, SEEN_TTL_SECONDS)))[0]
        )

    def claim_agent(self, event_id: str, agent_id: int) -> tuple[bool, dict[str, Any] | None]:
        keys = [self._key("seen", event_id), self._key(_AGENTS)]
        return self._claimed(
            self._now((self._claim_read, tuple(keys), (agent_id, SEEN_TTL_SECONDS)))[0]
        )

    def claim_events(
        self, days: Sequence[date], claims: Sequence[Claim]
    ) -> tuple[Builds, list[Claimed] | None]:
        keys = [self._key("built", "live"), *(self._key("built", day.isoformat()) for day in days)]
        args: list[Any] = [len(days), SEEN_TTL_SECONDS, DAY_TTL_SECONDS]
        for claim in claims:
            keys += [self._key("seen", claim.event_id), self._key(claim.live)]
            if claim.mark is not None:
                keys.append(self._key("seen", claim.mark))
            args += [claim.key, "" if claim.mark is None else "1"]
        reply = self._now((self._claim_events, tuple(keys), tuple(args)))[0]
        built = [bool(flag) for flag in reply[0]]
        builds = [(built[0] and index == 0, built[index + 1]) for index in range(len(days))]
        if len(reply) == 1:
            return builds, None
        return builds, [self._claimed(claimed) for claimed in reply[1]]

    @staticmethod
    def _claimed(reply: list[Any]) -> tuple[bool, dict[str, Any] | None]:
        if not reply[0]:
            return False, None
        raw = reply[1] if len(reply) > 1 else None
        return True, json.loads(raw) if raw else None

    def claim_and_set_call(self, mark: str, call_id: str, data: Mapping[str, Any]) -> bool:
        keys = (
            self._key("seen", mark),
            self._key(_CALLS),
            self._key("rebuilds"),
            self._key("journal"),
        )
        args = (call_id, json.dumps(data), SEEN_TTL_SECONDS, REBUILD_TTL_SECONDS)
        return bool(self._now((self._claim_and_set, keys, args))[0])

    def set_status(self, key: str, value: Any) -> None:
        write: _Command = (None, ("HSET", self._key("status"), key, json.dumps(value)), ())
        if not self._later(write):
            self._now(write)

    @_writes_sent_first
    def statuses(self) -> dict[str, Any]:
        raw = self._redis.hgetall(self._key("status"))
        return {key: json.loads(value) for key, value in raw.items()}

    def add(
        self,
        day: date,
        campaign_id: int,
        deltas: Mapping[str, float],
        *,
        agent_id: int | None = None,
        agent_deltas: Mapping[str, float] | None = None,
    ) -> None:
        iso = day.isoformat()
        totals_key = self._key("t", iso, campaign_id)
        words: list[tuple[Any, ...]] = [
            ("HINCRBYFLOAT", totals_key, name, repr(float(value))) for name, value in deltas.items()
        ]
        words += [
            ("EXPIRE", totals_key, DAY_TTL_SECONDS),
            ("SADD", self._key("tc", iso), campaign_id),
            ("EXPIRE", self._key("tc", iso), DAY_TTL_SECONDS),
        ]
        version = self._version()
        words.append(("SET", self._key("tv", iso), version, "EX", DAY_TTL_SECONDS))
        if agent_id is not None and agent_deltas:
            agent_key = self._key("a", iso, agent_id)
            words += [
                ("HINCRBYFLOAT", agent_key, name, repr(float(value)))
                for name, value in agent_deltas.items()
            ]
            words += [
                ("EXPIRE", agent_key, DAY_TTL_SECONDS),
                ("SADD", self._key("ta", iso), agent_id),
                ("EXPIRE", self._key("ta", iso), DAY_TTL_SECONDS),
                ("HSET", self._key("av", iso), str(agent_id), version),
                ("EXPIRE", self._key("av", iso), DAY_TTL_SECONDS),
            ]
        commands: list[_Command] = [(None, command, ()) for command in words]
        if not self._later(*commands, atomic=True):
            self._send(commands, atomic=True)

    def count_once(
        self,
        day: date,
        campaign_id: int,
        call_id: str,
        counts: Sequence[Count],
        *,
        agent_id: int | None = None,
        drop_call: bool = False,
    ) -> Fact | None:
        iso = day.isoformat()
        agent = "" if agent_id is None else str(agent_id)
        encoded = json.dumps(
            [
                [int(count.fact), _strings(count.deltas), _strings(count.agent_deltas)]
                for count in counts
            ]
        )
        write: _Command = (
            self._count_once,
            (
                self._key("f", iso),
                self._key("t", iso, campaign_id),
                self._key("tc", iso),
                self._key("a", iso, agent),
                self._key("ta", iso),
                self._key("rebuilds"),
                self._key("journal"),
                self._key("tv", iso),
                self._key("av", iso),
                *([self._key(_CALLS)] if drop_call else []),
            ),
            (
                call_id,
                campaign_id,
                agent,
                DAY_TTL_SECONDS,
                FACTS_TTL_SECONDS,
                encoded,
                iso,
                REBUILD_TTL_SECONDS,
                self._version(),
            ),
        )
        if self._later(write):
            return None
        return Fact(int(self._now(write)[0]))

    @_writes_sent_first
    def begin_rebuild(self) -> str:
        keys = [self._key("rebuilds"), self._key("journal"), self._key("rebuilds", "begun")]
        mark: str = self._begin_rebuild(keys=keys, args=[uuid.uuid4().hex, REBUILD_TTL_SECONDS])
        return mark

    @_writes_sent_first
    def end_rebuild(self, mark: str) -> None:
        self._end_rebuild(keys=[self._key("rebuilds"), self._key("journal")], args=[mark])

    @_writes_sent_first
    def facts(self, day: date, call_id: str) -> Fact:
        return Fact(int(self._redis.hget(self._key("f", day.isoformat()), call_id) or 0))

    def _hashes(self, day: date, kind: str, index: str) -> dict[int, Totals]:
        ids = sorted(
            int(value) for value in self._redis.smembers(self._key(index, day.isoformat()))
        )
        pipe = self._redis.pipeline(transaction=False)
        for item in ids:
            pipe.hgetall(self._key(kind, day.isoformat(), item))
        return {item: _floats(values) for item, values in zip(ids, pipe.execute(), strict=True)}

    @_writes_sent_first
    def totals(self, day: date) -> dict[int, Totals]:
        return self._hashes(day, "t", "tc")

    @_writes_sent_first
    def window(self, campaign_ids: Iterable[int], days: list[date]) -> dict[int, Totals]:
        """The days' versions first, then the totals of those whose version
        changed since this process read them: a write in between gives a
        newer version, read again at the next call."""
        ids = list(campaign_ids)
        if not days:
            return {cid: {} for cid in ids}
        versions = self._redis.mget([self._key("tv", day.isoformat()) for day in days])
        newest = max(days)
        wanted = {
            (cid, day): version
            for cid in ids
            for day, version in zip(days, versions, strict=True)
            if (newest - day).days < CACHED_DAYS
        }
        needed = [(cid, day) for cid in ids for day in days]
        oldest_kept = newest - timedelta(days=CACHED_DAYS)
        found = self._changed_totals(self._window_read, wanted, needed, "t", oldest_kept)
        summed: dict[int, Totals] = {}
        for cid in ids:
            total: Totals = {}
            for day in days:
                _add_into(total, found[(cid, day)])
            summed[cid] = total
        return summed

    @_writes_sent_first
    def agent_totals(self, day: date) -> dict[int, Totals]:
        iso = day.isoformat()
        pipe = self._redis.pipeline(transaction=False)
        pipe.smembers(self._key("ta", iso))
        pipe.hgetall(self._key("av", iso))
        members, versions = pipe.execute()
        ids = sorted(int(member) for member in members)
        wanted = {(aid, day): versions.get(str(aid)) for aid in ids}
        found = self._changed_totals(self._agent_totals_read, wanted, list(wanted), "a", day)
        return {aid: dict(found[(aid, day)]) for aid in ids}

    def _changed_totals(
        self,
        kept: dict[tuple[int, date], tuple[str, Totals]],
        versions: Mapping[tuple[int, date], str | None],
        needed: list[tuple[int, date]],
        kind: str,
        oldest_kept: date,
    ) -> dict[tuple[int, date], Totals]:
        """Each needed (id, day)'s totals: what `kept` holds at the version
        in `versions`, else read now (and kept when it has a version). Days
        before `oldest_kept` leave `kept`; the rest stays for other callers
        (campaigns with another window, the floor's first read)."""
        found: dict[tuple[int, date], Totals] = {}
        stale = []
        for item in needed:
            version = versions.get(item)
            hit = kept.get(item)
            if version is not None and hit is not None and hit[0] == version:
                found[item] = hit[1]
            else:
                stale.append(item)
        fresh: dict[tuple[int, date], tuple[str, Totals]] = {}
        if stale:
            pipe = self._redis.pipeline(transaction=False)
            for item_id, day in stale:
                pipe.hgetall(self._key(kind, day.isoformat(), item_id))
            for item, values in zip(stale, pipe.execute(), strict=True):
                found[item] = _floats(values)
                version = versions.get(item)
                if version is not None:
                    fresh[item] = (version, found[item])
        for item in [item for item in list(kept) if item[1] < oldest_kept]:
            kept.pop(item, None)
        kept.update(fresh)
        return found

    def set_call(self, call_id: str, data: Mapping[str, Any]) -> None:
        self._write(self._live(_CALLS, call_id, json.dumps(data)))

    def step_call(self, call_id: str, step: int) -> dict[str, Any] | None:
        keys = (self._key(_CALLS), self._key("rebuilds"), self._key("journal"))
        raw = self._now((self._step_call, keys, (call_id, step, REBUILD_TTL_SECONDS)))[0]
        if not raw:
            return None
        row: dict[str, Any] = json.loads(raw)
        row["step"] = step
        return row

    def _live(self, which: str, field: str | int, row: str) -> _Command:
        """A live map's row written (an empty `row`: dropped), journaled
        while a rebuild runs."""
        return (
            self._write_live,
            (self._key(which), self._key("rebuilds"), self._key("journal")),
            (field, row, REBUILD_TTL_SECONDS),
        )

    def _write(self, write: _Command) -> None:
        if not self._later(write):
            self._now(write)

    def get_call(self, call_id: str) -> dict[str, Any] | None:
        raw = self._now((None, ("HGET", self._key(_CALLS), call_id), ()))[0]
        return json.loads(raw) if raw else None

    def drop_call(self, call_id: str) -> None:
        self._write(self._live(_CALLS, call_id, ""))

    @_writes_sent_first
    def calls(self) -> dict[str, dict[str, Any]]:
        return self._decoded(_CALLS, self._redis.hgetall(self._key(_CALLS)))

    def _decoded(self, which: str, found: Mapping[str, str]) -> dict[str, dict[str, Any]]:
        """A live map's rows, decoded again only where their JSON changed
        since the last read (the rows are flat: a copy is a whole copy)."""
        before = self._rows_read.get(which, {})
        now: dict[str, tuple[str, dict[str, Any]]] = {}
        for field, raw in found.items():
            hit = before.get(field)
            now[field] = hit if hit is not None and hit[0] == raw else (raw, json.loads(raw))
        self._rows_read[which] = now
        return {field: dict(row) for field, (_raw, row) in now.items()}

    def set_agent(self, agent_id: int, data: Mapping[str, Any]) -> None:
        self._write(self._live(_AGENTS, agent_id, json.dumps(data)))

    @_writes_sent_first
    def get_agent(self, agent_id: int) -> dict[str, Any] | None:
        raw = self._redis.hget(self._key(_AGENTS), str(agent_id))
        return json.loads(raw) if raw else None

    @_writes_sent_first
    def agents(self) -> dict[int, dict[str, Any]]:
        found = self._decoded(_AGENTS, self._redis.hgetall(self._key(_AGENTS)))
        return {int(key): row for key, row in found.items()}

    @_writes_sent_first
    def replace_day(
        self,
        day: date,
        totals: Mapping[int, Totals],
        agent_totals: Mapping[int, Totals],
        facts: Mapping[str, Fact] | None = None,
        *,
        since: str | None = None,
    ) -> bool:
        iso = day.isoformat()
        written = self._replace_day(
            keys=[
                self._key("rebuilds"),
                self._key("journal"),
                self._key("f", iso),
                self._key("tc", iso),
                self._key("ta", iso),
                self._key("tv", iso),
                self._key("av", iso),
                self._key("rebuilt", iso),
            ],
            args=[
                since or "",
                self._prefix,
                iso,
                DAY_TTL_SECONDS,
                FACTS_TTL_SECONDS,
                json.dumps({cid: _strings(values) for cid, values in totals.items()}),
                json.dumps({aid: _strings(values) for aid, values in agent_totals.items()}),
                json.dumps({call_id: int(bits) for call_id, bits in (facts or {}).items()}),
                self._version(),
            ],
        )
        return bool(written)

    @_writes_sent_first
    def replace_live(
        self,
        calls: Mapping[str, Mapping[str, Any]],
        agents: Mapping[int, Mapping[str, Any]],
        *,
        since: str | None = None,
    ) -> bool:
        written = self._replace_live(
            keys=[
                self._key("rebuilds"),
                self._key("journal"),
                self._key(_CALLS),
                self._key(_AGENTS),
                self._key("rebuilt", "live"),
            ],
            args=[
                since or "",
                json.dumps({key: json.dumps(row) for key, row in calls.items()}),
                json.dumps({str(key): json.dumps(row) for key, row in agents.items()}),
            ],
        )
        return bool(written)

    @_writes_sent_first
    def first_build(self, day: date) -> bool:
        key = self._key("built", day.isoformat())
        return bool(self._redis.set(key, 1, nx=True, ex=DAY_TTL_SECONDS))

    @_writes_sent_first
    def first_live_build(self) -> bool:
        return bool(self._redis.set(self._key("built", "live"), 1, nx=True))

    def first_builds(self, day: date) -> tuple[bool, bool]:
        live, totals = self._now(
            (None, ("SET", self._key("built", "live"), 1, "NX"), ()),
            (
                None,
                ("SET", self._key("built", day.isoformat()), 1, "NX", "EX", DAY_TTL_SECONDS),
                (),
            ),
        )
        return bool(live), bool(totals)

    @_writes_sent_first
    def lead(self, seconds: float) -> bool:
        """A lease renewed by its holder: with several web workers one of them
        emits the snapshots; another takes over when it stops renewing."""
        key, lease_ms = self._key("lead"), int(seconds * 3000)
        if self._redis.set(key, self._token, nx=True, px=lease_ms):
            return True
        if self._redis.get(key) == self._token:
            self._redis.pexpire(key, lease_ms)
            return True
        return False


def make_counters(redis_url: str) -> LiveCounters:
    return RedisCounters(redis_url) if redis_url else InProcessCounters()


def _add_into(target: Totals, deltas: Mapping[str, float]) -> None:
    for name, value in deltas.items():
        target[name] = target.get(name, 0.0) + float(value)


def _new_counts(known: Fact, counts: Sequence[Count]) -> tuple[Fact, Totals, Totals]:
    """The facts not known yet among `counts`, and what they add (summed,
    zeros left out: a machine's answer and its withdrawal add nothing)."""
    counted = Fact(0)
    deltas: Totals = {}
    agent_deltas: Totals = {}
    for count in counts:
        if count.fact & (known | counted):
            continue
        counted |= count.fact
        _add_into(deltas, count.deltas)
        _add_into(agent_deltas, count.agent_deltas)
    return (
        counted,
        {name: value for name, value in deltas.items() if value},
        {name: value for name, value in agent_deltas.items() if value},
    )


def _strings(values: Mapping[str, float]) -> dict[str, str]:
    """Deltas as HINCRBYFLOAT reads them (a Lua number would lose digits)."""
    return {name: repr(float(value)) for name, value in values.items()}


def _floats(values: Mapping[str, str]) -> Totals:
    return {name: float(value) for name, value in values.items()}
