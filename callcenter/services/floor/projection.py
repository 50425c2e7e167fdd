"""The supervisor's live floor: counters fed by bus events, call changes in
one coalesced delta per campaign room per second (`realtime.managers`; an
abandon is pushed at once), and a metrics snapshot every second per room.

Where each number comes from:
- call events (`call.dialing` ... `call.ended`) as the calls service commits
  them, each the first time it is applied (a domain event of its commit,
  `callcenter.after_commit`): an event the bus delivers again (a retry, a
  replay after Redis lost its data) was counted already or is in the rebuilt
  numbers. Each fact about a call (dialed, answered, connected, ended, an
  appointment, its wrap-up, marked a machine) is counted once per call and
  day: `LiveCounters.count_once` skips one that a rebuild read from the rows
  (another process may rebuild between an event's commit and its count);
- agent state changes, appointments, wrap-ups, script steps, calls marked
  as machines and recordings as the services that write them record them
  with their commit (`callcenter.domain_events`); `agent.state_changed` on
  the bus is an input the call services apply (counting it too would count
  it twice).

All of these reach `LiveFloor._committed` once per commit of this app's
sessions, through `callcenter.after_commit`.

The counters never scan the database per tick. Each metric is the one
definition in docs/data-model.md / `callcenter.metrics`, counted forward;
`rebuild_counters_from_db` recomputes the same totals with those SQL
expressions after a restart (and the tests hold the two equal)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter import after_commit, metrics
from callcenter.db import Database, utcnow
from callcenter.domain_events import (
    AppointmentBooked,
    CallMarkedMachine,
    CustomerOnCall,
    RecordingChanged,
    ScriptStepEntered,
    WrapUpEnded,
)
from callcenter.events import (
    AgentStateChanged,
    CallAnswered,
    CallConnected,
    CallDialing,
    CallEnded,
    CallRinging,
    DialingHeld,
    Event,
    HopperDepth,
    TrunkStatusReported,
)
from callcenter.live_counters import (
    LIVE_AGENTS,
    LIVE_CALLS,
    Claim,
    Claimed,
    Count,
    Fact,
    LiveCounters,
    Totals,
)
from callcenter.models import Call, CampaignStatus, Customer, Lead, PauseReason
from callcenter.realtime.coalesce import CALLS, DELTA_EVENT, single_delta
from callcenter.realtime.managers import publishes_together
from callcenter.realtime.rooms import campaign_supervisors_room
from callcenter.services import callback_desk, trunk_status
from callcenter.services.floor.campaign_meta import (
    CampaignMeta,
    dialable_counts,
    dialable_status,
    load_campaign_meta,
    shared_dialable,
)
from callcenter.services.floor.payloads import (
    STATE_SECONDS,
    abandon_row,
    add_open_state_time,
    call_row,
    campaign_payload,
    from_iso,
    full_name,
    to_iso,
)
from callcenter.services.floor.rebuild import (
    in_service_level,
    rebuild_counters_from_db,
    rebuild_live_from_db,
)
from callcenter.services.floor.sent_totals import SentAgentTotals
from callcenter.services.recent_calls import recent_calls
from callcenter.states import (
    CALL_TRANSITIONS,
    AgentState,
    CallDirection,
    CallOutcome,
    CallState,
)

log = logging.getLogger(__name__)

SNAPSHOT_EVENT = "floor_snapshot"
ABANDON_EVENT = "floor_abandon"
HELD_EVENT = "floor_dialing_held"
CALLBACKS_EVENT = "floor_callbacks"
CALLBACKS_SECONDS = 15.0  # overdue callbacks are re-read and pushed this often
HELD_STATUS = "dialing_held:"  # one per trunk: several dialers, each with its trunk
HOPPER_STATUS = "hopper:"
RECENT_STATUS = "recent_calls:"  # per campaign: changes when a call ends or its recording is stored

TICK_SECONDS = 1.0
META_SECONDS = 10.0
# Counting dialable leads reads the leads table: twice a minute, not per tick.
DIALABLE_SECONDS = 30.0
_LIVE_ANSWER_OUTCOMES = (CallOutcome.ANSWERED, CallOutcome.ABANDONED)
_CALL_EVENTS = (CallDialing, CallRinging, CallAnswered, CallConnected, CallEnded)

Emit = Callable[[str, Any, str], None]


@dataclass
class LiveFloor:
    """Applies events to the counters and answers what the floor shows."""

    counters: LiveCounters
    database: Database
    emit: Emit
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Tehran"))
    clock: Callable[[], datetime] = utcnow
    _meta: dict[int, CampaignMeta] = field(default_factory=dict)
    _pause_limits: dict[str, int | None] = field(default_factory=dict)
    _meta_at: float = 0.0
    _loop_lock: threading.Lock = field(default_factory=threading.Lock)
    _tick_lock: threading.Lock = field(default_factory=threading.Lock)
    _running: bool = False
    _stale: bool = False  # a count was lost (Redis unreachable): rebuild when it is back
    _callbacks_at: float = -CALLBACKS_SECONDS
    _recent_seen: dict[int, Any] = field(default_factory=dict)
    _totals_sent: SentAgentTotals = field(default_factory=SentAgentTotals)
    # a commit's pushes, held until its counts are written (`_committed`)
    _held: threading.local = field(default_factory=threading.local)

    # -- days

    def local_day(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        start = datetime.combine(day, datetime.min.time(), self.tz).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), self.tz)
        return start, end.astimezone(UTC)

    def ensure_built(self, day: date, firsts: tuple[bool, bool] | None = None) -> bool:
        """At the first event of a new day, and whenever the counters are new
        (a restart, Redis restarted empty), they start from the database; the
        first process to ask does it. True if this call rebuilt them: what was
        committed before is in the rebuilt numbers. `firsts`: what
        `first_builds(day)` answered, when it was asked already."""
        first_live, first_day = firsts if firsts is not None else self.counters.first_builds(day)
        live = first_live or self._stale
        totals = first_day or self._stale
        if not (live or totals):
            return False
        with self.database.read_sessions() as session:
            if totals:
                written = rebuild_counters_from_db(
                    session, day, counters=self.counters, tz=self.tz, live=live
                )
            else:
                written = rebuild_live_from_db(session, day, counters=self.counters, tz=self.tz)
        if not written:
            self._stale = True
            log.warning(
                "live floor: Redis lost the counters during a rebuild; rebuilt at the next count"
            )
            return False
        self._stale = False
        log.info("live floor: counters rebuilt from the database (%s)", day.isoformat())
        return True

    # -- bus events

    def _count(self, event: Event, names: Mapping[str, str], claim: Claimed | None) -> None:
        """Each event once (`claim`); the claim reads the live row the event
        changes in the same round trip. `names`: customers' names by call,
        read in the event's transaction (`CustomerOnCall`). `claim`: the
        event's claim when the commit's events were claimed together."""
        if event.TYPE == AgentStateChanged.TYPE:
            assert isinstance(event, AgentStateChanged)
            claimed, agent = claim or self.counters.claim_agent(event.event_id, event.agent_id)
            if claimed:
                self._agent_state(event, agent)
            return
        if not isinstance(event, _CALL_EVENTS):
            return
        # call.ended claims the mark before it reads the call (see _ended)
        mark = _dialing_or_ended_mark(event.call_id) if isinstance(event, CallEnded) else None
        claimed, call = claim or self.counters.claim_call(event.event_id, event.call_id, mark=mark)
        if not claimed:
            return
        # The name `_moved` would read at the answer or the connect.
        named = (
            names.get(event.call_id) if isinstance(event, CallAnswered | CallConnected) else None
        )
        if named is not None and call is not None and call.get("customer") is None:
            call["customer"] = named
        self._call_handlers()[event.TYPE](event, call)

    def _call_handlers(self) -> dict[str, Callable[[Any, dict[str, Any] | None], None]]:
        return {
            CallDialing.TYPE: self._dialing,
            CallRinging.TYPE: self._ringing,
            CallAnswered.TYPE: self._answered,
            CallConnected.TYPE: self._connected,
            CallEnded.TYPE: self._ended,
        }

    def dialer_held(self, event: Event) -> None:
        """The dialer held or resumed dialing (e.g. the trunk stopped answering):
        every supervisor sees the reason at once and in later snapshots."""
        assert isinstance(event, DialingHeld)
        self.counters.set_status(
            f"{HELD_STATUS}{event.trunk}", event.reason if event.held else None
        )
        held = dialing_held(self.counters.statuses())
        with publishes_together():
            for campaign_id in self._meta:
                self.emit(HELD_EVENT, {"dialing_held": held}, _room(campaign_id))

    def trunk_reported(self, event: Event) -> None:
        assert isinstance(event, TrunkStatusReported)
        self.counters.set_status(*trunk_status.counter_entry(event))

    def hopper_depth(self, event: Event) -> None:
        assert isinstance(event, HopperDepth)
        self.counters.set_status(f"{HOPPER_STATUS}{event.campaign_id}", event.depth)

    def _dialing(self, event: CallDialing, live: dict[str, Any] | None) -> None:
        if live is not None:
            # Live already: the rebuild found the row the dialer wrote before
            # dialing, and counted its dial with the day's calls rows.
            return
        day = self.local_day(event.occurred_at)
        inbound = event.direction == CallDirection.INBOUND
        self.counters.count_once(day, event.campaign_id, event.call_id, [_dial(inbound)])
        call = {
            "call_id": event.call_id,
            "campaign_id": event.campaign_id,
            "lead_id": event.lead_id,
            "day": self.local_day(event.occurred_at).isoformat(),
            "state": CallState.DIALING.value,
            "dialed_at": event.occurred_at.isoformat(),
            "agent_id": event.agent_id,
            "customer": None,
            "step": None,
            "inbound": inbound,
        }
        if not self.counters.claim_and_set_call(
            _dialing_or_ended_mark(event.call_id), event.call_id, call
        ):
            return  # its call.ended was applied first (another consumer): not live
        self._emit_call(call)

    def _before_its_dialing(self, call_id: str) -> dict[str, Any] | None:
        """The live row for a ringing, answer or connect applied before its
        call.dialing (consumers in several processes apply a call's events in
        any order): from the row the dialer wrote before dialing, with the dial
        counted, and made live under the mark the dialing claims, so the late
        dialing neither writes over it nor counts the dial again. None when
        the call ended meanwhile."""
        call = self._unseen(call_id)
        if call is None:
            return None
        inbound = bool(call["inbound"])
        self.counters.count_once(_day(call), call["campaign_id"], call_id, [_dial(inbound)])
        if self.counters.claim_and_set_call(_dialing_or_ended_mark(call_id), call_id, call):
            return call
        return self.counters.get_call(call_id)  # the dialing came first, or the end

    def _ringing(self, event: CallRinging, call: dict[str, Any] | None) -> None:
        call = call or self._before_its_dialing(event.call_id)
        if call is not None:
            self._move(event.call_id, CallState.RINGING, "ringing_at", event.occurred_at, call)

    def _answered(self, event: CallAnswered, call: dict[str, Any] | None) -> None:
        call = call or self._before_its_dialing(event.call_id)
        if call is None:
            return
        # Counted already: by a rebuild that read the committed answer, or at
        # a connect applied first.
        counted = bool(call.get("answered_at"))
        call.update(amd_result=event.amd_result, amd_decision_ms=event.amd_decision_ms)
        self._move(event.call_id, CallState.ANSWERED, "answered_at", event.occurred_at, call)
        if not counted and not call.get("inbound"):  # metrics.LIVE_ANSWER: dials only
            answer = Count(Fact.ANSWERED, {"live_answers": 1})
            self.counters.count_once(_day(call), call["campaign_id"], event.call_id, [answer])

    def _connected(self, event: CallConnected, call: dict[str, Any] | None) -> None:
        call = call or self._before_its_dialing(event.call_id)
        if call is None or call.get("connected_at"):
            return  # not live, or a rebuild that read the committed connect counted it
        call["agent_id"] = event.agent_id
        day, campaign_id = _day(call), call["campaign_id"]
        if call.get("inbound"):  # metrics.INBOUND_ANSWERED, not a contact
            self._move(event.call_id, CallState.CONNECTED, "connected_at", event.occurred_at, call)
            taken = Count(Fact.CONNECTED, {"inbound_answered": 1, "handled": 1})
            self.counters.count_once(day, campaign_id, event.call_id, [taken])
            return
        self._moved(call, CallState.CONNECTED, "connected_at", event.occurred_at)
        shown = dict(call)  # the row supervisors get: the connect, before what it counts
        counts = []
        if not call.get("answered_at"):
            # connected with no answer event (preview): answered at the connect,
            # as the call service records it
            call["answered_at"] = call["connected_at"]
            counts.append(Count(Fact.ANSWERED, {"live_answers": 1}))
        deltas: Totals = {"contacts": 1, "handled": 1}
        wait = (event.occurred_at - from_iso(call["answered_at"])).total_seconds()
        deltas.update(connect_wait_s=wait, connect_wait_n=1)
        if wait <= metrics.SERVICE_LEVEL_SECONDS:
            deltas["connected_sl"] = 1
            call["in_sl"] = True
        counts.append(Count(Fact.CONNECTED, deltas, {"calls": 1}))
        self.counters.set_call(event.call_id, call)
        self._emit_call(shown)
        self.counters.count_once(day, campaign_id, event.call_id, counts, agent_id=event.agent_id)

    def _ended(self, event: CallEnded, live: dict[str, Any] | None) -> None:
        """Consumers in several processes may apply a call's events in any
        order: an answer or connect not counted yet is counted here (its late
        event finds no live call and counts nothing), and a call.dialing
        applied after this one finds the mark (claimed with the event, before
        `live` was read) and shows no call."""
        call = live or self._unseen(event.call_id)
        if call is None:
            return
        counts = self._end_counts(event, call)
        self.counters.count_once(
            _day(call),
            call["campaign_id"],
            event.call_id,
            counts,
            agent_id=call["agent_id"],
            drop_call=True,
        )
        call.update(state=CallState.ENDED.value, ended_at=event.occurred_at.isoformat())
        call["outcome"] = event.outcome
        if event.amd_result is not None:
            call.update(amd_result=event.amd_result, amd_decision_ms=event.amd_decision_ms)
        self._emit_call(call)
        self._recent_calls_changed(call["campaign_id"])
        if event.outcome == CallOutcome.ABANDONED and not call.get("inbound"):
            self._push(ABANDON_EVENT, abandon_row(call), _room(call["campaign_id"]))

    def _end_counts(self, event: CallEnded, call: dict[str, Any]) -> list[Count]:
        """What the end adds: an answer or a connect whose own event was not
        counted (`call` gets their stamps), then the end itself. A fact a
        rebuild read from the database is skipped by `count_once`."""
        counts: list[Count] = []
        inbound = bool(call.get("inbound"))
        if not call.get("answered_at") and event.outcome in _LIVE_ANSWER_OUTCOMES:
            call["answered_at"] = event.occurred_at.isoformat()
            if not inbound:
                counts.append(Count(Fact.ANSWERED, {"live_answers": 1}))
        if event.agent_id is not None and not call.get("connected_at"):
            call["agent_id"] = event.agent_id
            talk = timedelta(seconds=event.talk_seconds or 0)
            call["connected_at"] = (event.occurred_at - talk).isoformat()
            if inbound:
                counts.append(Count(Fact.CONNECTED, {"inbound_answered": 1, "handled": 1}))
            else:
                counts.append(Count(Fact.CONNECTED, {"contacts": 1, "handled": 1}, {"calls": 1}))
        deltas: Totals = {}
        agent_deltas: Totals = {}
        if event.outcome == CallOutcome.ABANDONED:
            # an inbound caller nobody took is missed, not abandoned (a dial's)
            deltas["inbound_missed" if inbound else "abandoned"] = 1
        if event.outcome == CallOutcome.MACHINE:
            deltas, agent_deltas = machine_deltas(call)
        if call.get("connected_at"):
            deltas["talk_s"] = (event.occurred_at - from_iso(call["connected_at"])).total_seconds()
        counts.append(Count(Fact.ENDED, deltas, agent_deltas))
        return counts

    def _unseen(self, call_id: str) -> dict[str, Any] | None:
        """The live record of a call whose call.dialing is not applied yet."""
        with self.database.read_sessions() as session:
            row = session.execute(
                select(Call.campaign_id, Call.lead_id, Call.dialed_at, Call.direction).where(
                    Call.id == call_id
                )
            ).first()
        if row is None:
            return None
        campaign_id, lead_id, dialed_at, direction = row
        return {
            "call_id": call_id,
            "campaign_id": campaign_id,
            "lead_id": lead_id,
            "day": self.local_day(dialed_at).isoformat(),
            "state": CallState.DIALING.value,
            "dialed_at": dialed_at.isoformat(),
            "agent_id": None,
            "customer": None,
            "step": None,
            "inbound": direction == CallDirection.INBOUND,
        }

    def _move(
        self,
        call_id: str,
        state: CallState,
        stamp: str,
        at: datetime,
        call: dict[str, Any],
    ) -> None:
        self._moved(call, state, stamp, at)
        self.counters.set_call(call_id, call)
        self._emit_call(call)

    def _moved(self, call: dict[str, Any], state: CallState, stamp: str, at: datetime) -> None:
        """Forward only, as the calls row moves: consumers in several
        processes apply a call's events in any order, and a late ringing must
        not show a connected call as ringing again."""
        if state in CALL_TRANSITIONS[CallState(call["state"])]:
            call["state"] = state.value
        call[stamp] = at.isoformat()
        if call.get("customer") is None and state in (CallState.ANSWERED, CallState.CONNECTED):
            call["customer"] = self._customer_name(call["lead_id"])

    def _agent_state(self, event: AgentStateChanged, previous: dict[str, Any] | None) -> None:
        previous = previous or {}
        at = event.occurred_at
        if previous.get("state") and previous.get("since"):
            self._count_state_time(previous, at)
        idle = event.to_state in (AgentState.READY, AgentState.PAUSED, AgentState.LOGGED_OUT)
        call_id = getattr(event, "call_id", None) or previous.get("call_id")
        previous.update(
            state=event.to_state,
            since=at.isoformat(),
            campaign_id=event.campaign_id,
            reason=event.reason if event.to_state == AgentState.PAUSED else None,
            call_id=None if idle else call_id,
        )
        self.counters.set_agent(event.agent_id, previous)

    def _count_state_time(self, agent: Mapping[str, Any], until: datetime) -> None:
        """Close the agent's previous state: its seconds go to each local day
        it spans, for the campaign it was in (as metrics.state_intervals)."""
        if agent.get("campaign_id") is None:
            return
        name = STATE_SECONDS[AgentState(agent["state"])]
        start = from_iso(agent["since"])
        while start < until:
            day = self.local_day(start)
            _, day_end = self.day_bounds(day)
            end = min(until, day_end)
            self.counters.add(day, agent["campaign_id"], {name: (end - start).total_seconds()})
            start = end

    # -- what a commit changed (`callcenter.after_commit`)

    def watch(self, database: Database) -> None:
        after_commit.subscribe(database.sessions, self._committed)

    def _committed(self, items: Sequence[Any]) -> None:
        """The domain events of one commit, in the order they were recorded.
        Their writes to the counters go together at the end, or with the next
        read (`LiveCounters.batch`), and their pushes after that; when Redis
        fails on the way, the pushes are dropped with the counts (rebuilt)."""
        outer: list[tuple[str, Any, str]] | None = getattr(self._held, "pushes", None)
        pushes = outer if outer is not None else []
        self._held.pushes = pushes
        try:
            with self.counters.batch():
                self._count_commit(items)
        except redis.RedisError:
            self._stale = True
            log.warning("live floor: Redis unavailable; counters rebuilt when it is back")
            pushes.clear()
        finally:
            self._held.pushes = outer
        if outer is None:
            for push in pushes:
                self.emit(*push)

    def _count_commit(self, items: Sequence[Any]) -> None:
        days = sorted(
            {self.local_day(item.occurred_at) for item in items if isinstance(item, Event)}
        )
        together = None if self._stale else _claims(items)
        claimed: list[Claimed] | None = None
        try:
            if together:
                builds, claimed = self.counters.claim_events(days, list(together.values()))
                built = [self.ensure_built(*asked) for asked in zip(days, builds, strict=True)]
            else:
                built = [self.ensure_built(day) for day in days]
        except redis.RedisError:
            self._stale = True
            log.warning("live floor: Redis unavailable; counters rebuilt when it is back")
            return
        if any(built):
            # Rebuilt after this commit: its rows are in the numbers. Its ends
            # are applied all the same (counted once, by the facts the rebuild
            # read): another process may have applied a late event of such a
            # call meanwhile and shown it live again, and the end's claim
            # keeps any later one from doing so.
            items = [item for item in items if isinstance(item, CallEnded)]
        # None: a build was due (nothing claimed), each event claims its own
        claims = dict(zip(together, claimed, strict=True)) if together and claimed else {}
        names = {
            item.call_id: full_name(item.title, item.first_name, item.last_name)
            for item in items
            if isinstance(item, CustomerOnCall)
        }
        for index, item in enumerate(items):
            try:
                self._apply_committed(item, names, claims.get(index))
            except redis.RedisError:
                self._stale = True
                log.warning("live floor: Redis unavailable; counters rebuilt when it is back")
            except Exception:
                log.exception("live floor could not count %r", item)

    def _apply_committed(self, item: Any, names: Mapping[str, str], claim: Claimed | None) -> None:
        if isinstance(item, Event):
            self._count(item, names, claim)
        elif isinstance(item, AppointmentBooked):
            self._appointment(item.call_id)
        elif isinstance(item, ScriptStepEntered):
            self._step(item.call_id, item.step_number)
        elif isinstance(item, WrapUpEnded):
            self._wrap_up(item.call_id, item.campaign_id, item.dialed_at, item.seconds)
        elif isinstance(item, CallMarkedMachine):
            self._marked_machine(item.call_id, item.campaign_id, item.dialed_at, _counted_as(item))
        elif isinstance(item, RecordingChanged):
            self._recent_calls_changed(item.campaign_id)

    def _appointment(self, call_id: str) -> None:
        """metrics.APPOINTMENT_SET counts calls with an appointment: once per call."""
        with self.database.read_sessions() as session:
            row = session.execute(
                select(Call.campaign_id, Call.dialed_at, Call.agent_id).where(Call.id == call_id)
            ).first()
        if row is None:
            return
        day = self.local_day(row.dialed_at)
        if self.ensure_built(day):
            return
        booked = Count(Fact.APPOINTMENT, {"appointments": 1}, {"appointments": 1})
        self.counters.count_once(day, row.campaign_id, call_id, [booked], agent_id=row.agent_id)

    def _wrap_up(self, call_id: str, campaign_id: int, dialed_at: datetime, seconds: float) -> None:
        """metrics.WRAP_UP_SECONDS: ended_at to wrap_up_ended_at, once per call."""
        day = self.local_day(dialed_at)
        if not self.ensure_built(day):
            wrap_up = Count(Fact.WRAP_UP, {"wrap_up_s": seconds})
            self.counters.count_once(day, campaign_id, call_id, [wrap_up])

    def _marked_machine(
        self, call_id: str, campaign_id: int, dialed_at: datetime, call: dict[str, Any]
    ) -> None:
        """An agent said the call they had was a machine: it leaves the live
        answers and contacts it was counted in (metrics.LIVE_ANSWER, CONTACT)."""
        day = self.local_day(dialed_at)
        if self.ensure_built(day):
            return
        machine = Count(Fact.MACHINE, *machine_deltas(call))
        self.counters.count_once(day, campaign_id, call_id, [machine], agent_id=call["agent_id"])

    def _recent_calls_changed(self, campaign_id: int) -> None:
        self.counters.set_status(f"{RECENT_STATUS}{campaign_id}", time.time_ns())

    def changed_recent_calls(self) -> dict[int, list[dict[str, Any]]]:
        """The recent calls of each campaign whose list changed since this
        process last pushed it (a call ended, a recording was stored)."""
        markers = {
            int(key.removeprefix(RECENT_STATUS)): marker
            for key, marker in self.counters.statuses().items()
            if key.startswith(RECENT_STATUS)
        }
        changed = [
            cid
            for cid, marker in markers.items()
            if cid in self._meta and self._recent_seen.get(cid) != marker
        ]
        if not changed:
            return {}
        with self.database.read_sessions() as session:
            found = recent_calls(session, changed)
        self._recent_seen.update({cid: markers[cid] for cid in changed})
        return found

    def _step(self, call_id: str, step: int) -> None:
        call = self.counters.step_call(call_id, step)
        if call is not None:  # live: not ended (and dropped) before the move was applied
            self._emit_call(call)

    # -- reads

    def _customer_name(self, lead_id: int) -> str | None:
        with self.database.read_sessions() as session:
            row = session.execute(
                select(Customer.title, Customer.first_name, Customer.last_name)
                .join(Lead, Lead.customer_id == Customer.id)
                .where(Lead.id == lead_id)
            ).first()
        return full_name(*row) if row else None

    def _emit_call(self, call: Mapping[str, Any]) -> None:
        # Coalesced with the room's other changes where its sockets are.
        self._push(DELTA_EVENT, single_delta(CALLS, call_row(call)), _room(call["campaign_id"]))

    def _push(self, name: str, data: Any, room: str) -> None:
        """Emitted at once, or, while a commit is counted, once its counts
        are written (as each count was written before its push)."""
        held: list[tuple[str, Any, str]] | None = getattr(self._held, "pushes", None)
        if held is None:
            self.emit(name, data, room)
        else:
            held.append((name, data, room))

    def refresh_meta(self, *, force: bool = False) -> None:
        """Campaign settings, the pacer's last word and pause limits: small
        tables, re-read every META_SECONDS (not per tick)."""
        if not force and time.monotonic() - self._meta_at < META_SECONDS:
            return
        with self.database.read_sessions() as session:
            self._meta = load_campaign_meta(session)
            for cid, count in self._dialable_counts(session).items():
                self._meta[cid].dialable_leads = count
            reasons = session.execute(select(PauseReason.code, PauseReason.limit_minutes))
            self._pause_limits = {code: limit for code, limit in reasons}
        self._meta_at = time.monotonic()

    def _dialable_counts(self, session: Session) -> dict[int, int]:
        """Dialable leads per running campaign: counted by the first web
        process to find the shared count older than DIALABLE_SECONDS (the
        one ticking, as a rule), read from the counters by the others."""
        now = self.clock()
        running = [cid for cid, m in self._meta.items() if m.status == CampaignStatus.ACTIVE]
        shared = shared_dialable(self.counters.statuses(), now=now, max_age_s=DIALABLE_SECONDS)
        counted = dialable_counts(session, [cid for cid in running if cid not in shared], now)
        for cid, count in counted.items():
            self.counters.set_status(*dialable_status(cid, count, now=now))
        return {cid: shared[cid] if cid in shared else counted[cid] for cid in running}

    def update_meta(self, campaign_id: int, data: Mapping[str, Any]) -> None:
        """A supervisor changed the campaign: show it from the next tick."""
        meta = self._meta.get(campaign_id)
        if meta is not None:
            meta.status = data["status"]
            meta.dial_mode = data["dial_mode"]
            meta.abandon_cap = data["abandon_cap"]

    def snapshot(self, now: datetime | None = None) -> dict[int, dict[str, Any]]:
        """Every campaign's metrics now, from the counters alone."""
        now = now or self.clock()
        today = self.local_day(now)
        self.ensure_built(today)
        totals = self.counters.totals(today)
        agents = self.counters.agents()
        calls = self.counters.calls()
        agent_totals = self.counters.agent_totals(today)
        day_start, _ = self.day_bounds(today)
        result = {}
        statuses = self.counters.statuses()
        trunks = trunk_status.floor_rows(statuses, now=now)
        windows = self._windows(today)
        for cid, meta in self._meta.items():
            window = windows[cid]
            raw = dict(totals.get(cid, {}))
            mine = {aid: a for aid, a in agents.items() if a.get("campaign_id") == cid}
            add_open_state_time(raw, mine.values(), day_start, now)
            result[cid] = campaign_payload(
                meta,
                raw,
                window,
                agents=mine,
                calls=[c for c in calls.values() if c["campaign_id"] == cid],
                agent_totals={aid: agent_totals.get(aid, {}) for aid in mine},
                pause_limits=self._pause_limits,
                now=now,
            ) | {
                "hopper_depth": statuses.get(f"{HOPPER_STATUS}{cid}"),
                "dialing_held": dialing_held(statuses),
                "trunks": trunks,
            }
        return result

    def _windows(self, today: date) -> dict[int, Totals]:
        """Each campaign's totals over its window of days, in one read for the
        campaigns with the same window."""
        by_length: dict[int, list[int]] = {}
        for cid, meta in self._meta.items():
            by_length.setdefault(meta.window_days, []).append(cid)
        windows: dict[int, Totals] = {}
        for length, ids in by_length.items():
            days = [today - timedelta(days=back) for back in range(length)]
            windows.update(self.counters.window(ids, days))
        return windows

    # -- the loop

    def start(self, socketio: Any) -> None:
        """Start the per-second snapshot task once per process."""
        with self._loop_lock:
            if self._running:
                return
            self._running = True
        socketio.start_background_task(self._loop, socketio)

    def stop(self) -> None:
        """The loop emits nothing once this returns: a tick in progress (its
        first one rebuilds the counters, which takes a while) ends first."""
        self._running = False
        with self._tick_lock:
            pass

    def tick(self) -> int:
        """Emit one snapshot to every campaign room; returns how many rooms.
        The rooms' pushes go to the other web processes in one round trip (in
        the order they were made), as do the overdue callbacks'."""
        self.refresh_meta()
        snapshots = self.snapshot()
        self._totals_sent.keep_changed(snapshots)
        recent = self.changed_recent_calls()
        with publishes_together():
            for cid, payload in snapshots.items():
                if cid in recent:
                    payload = payload | {"recent_calls": recent[cid]}
                self.emit(SNAPSHOT_EVENT, payload, _room(cid))
        if time.monotonic() - self._callbacks_at >= CALLBACKS_SECONDS:
            self._callbacks_at = time.monotonic()
            self.push_overdue_callbacks(list(snapshots))
        return len(snapshots)

    def push_overdue_callbacks(self, campaign_ids: list[int]) -> None:
        """Each campaign room gets its overdue callbacks (callbacks become
        overdue with time alone, so no event says so)."""
        with self.database.read_sessions() as session:
            found = callback_desk.overdue(session, campaign_ids, now=self.clock())
        with publishes_together():
            for cid in campaign_ids:
                rows = [row for row in found if row["campaign_id"] == cid]
                self.emit(CALLBACKS_EVENT, {"campaign_id": cid, "callbacks": rows}, _room(cid))

    def _loop(self, socketio: Any) -> None:
        # A new create_app re-binds the shared SocketIO to a new server (tests
        # make many apps); this app's loop ends with its server.
        server = socketio.server
        while self._running and socketio.server is server:
            started = time.monotonic()
            try:
                with self._tick_lock:
                    if self._running and self.counters.lead(TICK_SECONDS * 0.9):
                        self.tick()
                    else:
                        self._totals_sent.forget()
            except Exception:
                log.exception("live floor snapshot failed")
            socketio.sleep(max(0.0, TICK_SECONDS - (time.monotonic() - started)))


def machine_deltas(call: Mapping[str, Any]) -> tuple[Totals, Totals]:
    """What a call found to be a machine adds to the campaign's and its
    agent's counters: one machine, and out of what it counted in as live."""
    deltas: Totals = {"machines": 1}
    agent_deltas: Totals = {}
    if call.get("answered_at"):
        deltas["live_answers"] = -1
    if call.get("connected_at"):
        deltas["contacts"] = -1
        agent_deltas["calls"] = -1
    if call.get("in_sl"):
        deltas["connected_sl"] = -1
    return deltas, agent_deltas


def _summed(first: Totals, second: Totals) -> Totals:
    total = dict(first)
    for name, value in second.items():
        total[name] = total.get(name, 0) + value
    return {name: value for name, value in total.items() if value}


def _counted_as(call: CallMarkedMachine) -> dict[str, Any]:
    """What the live floor counted a call as, from its row."""
    return {
        "answered_at": to_iso(call.answered_at),
        "connected_at": to_iso(call.connected_at),
        "in_sl": in_service_level(call),
        "agent_id": call.agent_id,
    }


def dialing_held(statuses: Mapping[str, Any]) -> str | None:
    """Why dialing is held, trunk by trunk ("trunk: reason; ..."); None while
    every trunk dials."""
    held = [
        f"{key.removeprefix(HELD_STATUS)}: {reason}"
        for key, reason in sorted(statuses.items())
        if key.startswith(HELD_STATUS) and reason
    ]
    return "; ".join(held) or None


def _claims(items: Sequence[Any]) -> dict[int, Claim] | None:
    """The claims of a commit's events by their place, to make together
    before any is applied: only when nothing else in the commit reads or
    writes the live rows (its events' other reads come after their own
    claim) and each event changes a row of its own. None otherwise."""
    claims: dict[int, Claim] = {}
    for index, item in enumerate(items):
        if isinstance(item, AgentStateChanged):
            claims[index] = Claim(item.event_id, LIVE_AGENTS, item.agent_id)
        elif isinstance(item, _CALL_EVENTS):
            mark = _dialing_or_ended_mark(item.call_id) if isinstance(item, CallEnded) else None
            claims[index] = Claim(item.event_id, LIVE_CALLS, item.call_id, mark)
        elif not isinstance(item, Event | CustomerOnCall):
            return None
    rows = {(claim.live, claim.key) for claim in claims.values()}
    return claims if claims and len(rows) == len(claims) else None


def _dial(inbound: bool) -> Count:
    return Count(Fact.DIALED, {"inbound" if inbound else "dials": 1})


def _dialing_or_ended_mark(call_id: str) -> str:
    """Claimed by whichever of the call's dialing and ended is counted first."""
    return f"dialing-or-ended:{call_id}"


def _room(campaign_id: int) -> str:
    return campaign_supervisors_room(campaign_id)


def _day(call: Mapping[str, Any]) -> date:
    return date.fromisoformat(call["day"])
