"""The supervisor's live floor: counters fed by bus events, call changes in
one coalesced delta per campaign room per second (`realtime.managers`; an
abandon is pushed at once), and a metrics snapshot every second per room.

Where each number comes from:
- call events (`call.dialing` ... `call.ended`) as the calls service commits
  them, each the first time it is applied (a domain event of its commit,
  `callcenter.after_commit`): an event the bus delivers again (a retry, a
  replay after Redis lost its data) was counted already or is in the rebuilt
  numbers;
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
expressions after a restart (and the tests hold the two equal).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter import after_commit, metrics
from callcenter.bus import EventBus
from callcenter.db import Database, utcnow
from callcenter.domain_events import (
    AppointmentBooked,
    CallMarkedMachine,
    RecordingChanged,
    ScriptStepEntered,
    WrapUpEnded,
)
from callcenter.errors import N_, Forbidden, InvalidInput, NotFound
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
from callcenter.live_counters import LiveCounters, Totals, make_counters
from callcenter.models import (
    AgentStateChange,
    AgentStatus,
    Call,
    Campaign,
    CampaignStatus,
    Customer,
    DialLevelChange,
    DialMode,
    Lead,
    PauseReason,
    StepOutcome,
    User,
    campaign_teams,
)
from callcenter.realtime import emit_after_commit
from callcenter.realtime.coalesce import CALLS, DELTA_EVENT, single_delta
from callcenter.realtime.rooms import agent_room, campaign_supervisors_room, supervised_campaign_ids
from callcenter.services import agents as agent_service
from callcenter.services import audit, callback_desk, hopper_feed, trunk_status, wrap_ups
from callcenter.services import campaigns as campaign_service
from callcenter.services import recordings as recording_service
from callcenter.services.recent_calls import recent_calls
from callcenter.states import AgentState, CallDirection, CallOutcome, CallState, Role

log = logging.getLogger(__name__)

SNAPSHOT_EVENT = "floor_snapshot"
ABANDON_EVENT = "floor_abandon"
CAMPAIGN_EVENT = "floor_campaign"
MESSAGE_EVENT = "supervisor_message"
PAUSE_AFTER_CALL_EVENT = "pause_after_call"
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
MAX_ABANDON_CAP = 3.0
_LIVE_ANSWER_OUTCOMES = (CallOutcome.ANSWERED, CallOutcome.ABANDONED)
MAX_MESSAGE_LENGTH = 500
# The share of the cap at which the floor starts warning.
NEAR_CAP_SHARE = 0.8
# Agent time counted per state (occupancy uses on_call, wrap_up and ready).
STATE_SECONDS = {state: f"t_{state.value}" for state in AgentState}
CALL_STATES_SHOWN = ("dialing", "ringing", "answered", "connected")

Emit = Callable[[str, Any, str], None]


# --- the counting --------------------------------------------------------------------------


@dataclass
class CampaignMeta:
    id: int
    name: str
    status: str
    dial_mode: str
    abandon_cap: float
    window_days: int
    dial_level: float | None = None
    pacer_reason: str | None = None
    dialable_leads: int | None = None


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
    _dialable_at: float = -DIALABLE_SECONDS
    _dialable: dict[int, int] = field(default_factory=dict)
    _loop_lock: threading.Lock = field(default_factory=threading.Lock)
    _running: bool = False
    _stale: bool = False  # a count was lost (Redis unreachable): rebuild when it is back
    _callbacks_at: float = -CALLBACKS_SECONDS
    _recent_seen: dict[int, Any] = field(default_factory=dict)

    # -- days

    def local_day(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        start = datetime.combine(day, datetime.min.time(), self.tz).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), self.tz)
        return start, end.astimezone(UTC)

    def ensure_built(self, day: date) -> bool:
        """At the first event of a new day, and whenever the counters are new
        (a restart, Redis restarted empty), they start from the database; the
        first process to ask does it. True if this call rebuilt them: what was
        committed before is in the rebuilt numbers."""
        live = self.counters.first_live_build() or self._stale
        totals = self.counters.first_build(day) or self._stale
        if not (live or totals):
            return False
        with self.database.read_sessions() as session:
            if totals:
                rebuild_counters_from_db(
                    session, day, counters=self.counters, tz=self.tz, live=live
                )
            else:
                self.counters.replace_live(*live_maps_from_db(session, day, tz=self.tz))
        self._stale = False
        log.info("live floor: counters rebuilt from the database (%s)", day.isoformat())
        return True

    # -- bus events

    def apply(self, event: Event) -> None:
        """Count a committed event (its rows are in the database already)."""
        if not self.ensure_built(self.local_day(event.occurred_at)):
            self._count(event)

    def _count(self, event: Event) -> None:
        handler = self._handlers().get(event.TYPE)
        if handler is None or not self.counters.claim(event.event_id):
            return
        handler(event)

    def _handlers(self) -> dict[str, Callable[[Any], None]]:
        return {
            CallDialing.TYPE: self._dialing,
            CallRinging.TYPE: self._ringing,
            CallAnswered.TYPE: self._answered,
            CallConnected.TYPE: self._connected,
            CallEnded.TYPE: self._ended,
            AgentStateChanged.TYPE: self._agent_state,
        }

    def dialer_held(self, event: Event) -> None:
        """The dialer held or resumed dialing (e.g. the trunk stopped answering):
        every supervisor sees the reason at once and in later snapshots."""
        assert isinstance(event, DialingHeld)
        self.counters.set_status(
            f"{HELD_STATUS}{event.trunk}", event.reason if event.held else None
        )
        held = dialing_held(self.counters.statuses())
        for campaign_id in self._meta:
            self.emit(HELD_EVENT, {"dialing_held": held}, _room(campaign_id))

    def trunk_reported(self, event: Event) -> None:
        assert isinstance(event, TrunkStatusReported)
        self.counters.set_status(*trunk_status.counter_entry(event))

    def hopper_depth(self, event: Event) -> None:
        assert isinstance(event, HopperDepth)
        self.counters.set_status(f"{HOPPER_STATUS}{event.campaign_id}", event.depth)

    def _dialing(self, event: CallDialing) -> None:
        if self.counters.get_call(event.call_id) is not None:
            # Live already: the rebuild found the row the dialer wrote before
            # dialing, and counted its dial with the day's calls rows.
            return
        day = self.local_day(event.occurred_at)
        inbound = event.direction == CallDirection.INBOUND
        self.counters.add(day, event.campaign_id, {"inbound" if inbound else "dials": 1})
        if not self.counters.claim(_dialing_or_ended_mark(event.call_id)):
            return  # its call.ended was applied first (another consumer): not live
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
        self.counters.set_call(event.call_id, call)
        self._emit_call(call)

    def _ringing(self, event: CallRinging) -> None:
        self._move(event.call_id, CallState.RINGING, "ringing_at", event.occurred_at)

    def _answered(self, event: CallAnswered) -> None:
        call = self.counters.get_call(event.call_id)
        if call is None:
            return
        # Counted already: by a rebuild that read the committed answer, or at
        # a connect applied first.
        counted = bool(call.get("answered_at"))
        call.update(amd_result=event.amd_result, amd_decision_ms=event.amd_decision_ms)
        self._move(event.call_id, CallState.ANSWERED, "answered_at", event.occurred_at, call)
        if not counted and not call.get("inbound"):  # metrics.LIVE_ANSWER: dials only
            self.counters.add(_day(call), call["campaign_id"], {"live_answers": 1})

    def _connected(self, event: CallConnected) -> None:
        call = self.counters.get_call(event.call_id)
        if call is None or call.get("connected_at"):
            return  # not live, or a rebuild that read the committed connect counted it
        call["agent_id"] = event.agent_id
        call = self._move(
            event.call_id, CallState.CONNECTED, "connected_at", event.occurred_at, call
        )
        assert call is not None
        if call.get("inbound"):  # metrics.INBOUND_ANSWERED, not a contact
            self.counters.add(
                _day(call), call["campaign_id"], {"inbound_answered": 1, "handled": 1}
            )
            return
        deltas: Totals = {"contacts": 1, "handled": 1}
        if not call.get("answered_at"):
            # connected with no answer event (preview): answered at the connect,
            # as the call service records it
            call["answered_at"] = call["connected_at"]
            deltas["live_answers"] = 1
        wait = (event.occurred_at - _at(call["answered_at"])).total_seconds()
        deltas.update(connect_wait_s=wait, connect_wait_n=1)
        if wait <= metrics.SERVICE_LEVEL_SECONDS:
            deltas["connected_sl"] = 1
            call["in_sl"] = True
        self.counters.set_call(event.call_id, call)
        self.counters.add(
            _day(call),
            call["campaign_id"],
            deltas,
            agent_id=event.agent_id,
            agent_deltas={"calls": 1},
        )

    def _ended(self, event: CallEnded) -> None:
        """Consumers in several processes may apply a call's events in any
        order: an answer or connect not counted yet is counted here (its late
        event finds no live call and counts nothing), and a call.dialing
        applied after this one finds the mark and shows no call."""
        self.counters.claim(_dialing_or_ended_mark(event.call_id))
        call = self.counters.get_call(event.call_id) or self._ended_unseen(event)
        if call is None:
            return
        deltas: Totals = {}
        agent_deltas: Totals = {}
        inbound = bool(call.get("inbound"))
        if not call.get("answered_at") and event.outcome in _LIVE_ANSWER_OUTCOMES:
            call["answered_at"] = event.occurred_at.isoformat()
            if not inbound:
                deltas["live_answers"] = 1
        if event.agent_id is not None and not call.get("connected_at"):
            call["agent_id"] = event.agent_id
            talk = timedelta(seconds=event.talk_seconds or 0)
            call["connected_at"] = (event.occurred_at - talk).isoformat()
            if inbound:
                deltas.update(inbound_answered=1, handled=1)
            else:
                deltas.update(contacts=1, handled=1)
                agent_deltas["calls"] = 1
        abandoned = event.outcome == CallOutcome.ABANDONED
        if abandoned:  # an inbound caller nobody took is missed, not abandoned (a dial's)
            deltas["inbound_missed" if inbound else "abandoned"] = 1
        if event.outcome == CallOutcome.MACHINE:
            machine, agent_machine = machine_deltas(call)
            deltas, agent_deltas = _summed(deltas, machine), _summed(agent_deltas, agent_machine)
        if call.get("connected_at"):
            deltas["talk_s"] = (event.occurred_at - _at(call["connected_at"])).total_seconds()
        if deltas:
            self.counters.add(
                _day(call),
                call["campaign_id"],
                deltas,
                agent_id=call["agent_id"] if agent_deltas else None,
                agent_deltas=agent_deltas or None,
            )
        self.counters.drop_call(event.call_id)
        call.update(state=CallState.ENDED.value, ended_at=event.occurred_at.isoformat())
        call["outcome"] = event.outcome
        if event.amd_result is not None:
            call.update(amd_result=event.amd_result, amd_decision_ms=event.amd_decision_ms)
        self._emit_call(call)
        self._recent_calls_changed(call["campaign_id"])
        if abandoned and not inbound:
            self.emit(ABANDON_EVENT, _abandon_row(call), _room(call["campaign_id"]))

    def _ended_unseen(self, event: CallEnded) -> dict[str, Any] | None:
        """The live record of a call whose call.dialing is not applied yet."""
        with self.database.read_sessions() as session:
            row = session.execute(
                select(Call.campaign_id, Call.lead_id, Call.dialed_at, Call.direction).where(
                    Call.id == event.call_id
                )
            ).first()
        if row is None:
            return None
        campaign_id, lead_id, dialed_at, direction = row
        return {
            "call_id": event.call_id,
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
        call: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        call = call or self.counters.get_call(call_id)
        if call is None:
            return None
        call["state"] = state.value
        call[stamp] = at.isoformat()
        if call.get("customer") is None and state in (CallState.ANSWERED, CallState.CONNECTED):
            call["customer"] = self._customer_name(call["lead_id"])
        self.counters.set_call(call_id, call)
        self._emit_call(call)
        return call

    def _agent_state(self, event: AgentStateChanged) -> None:
        previous = self.counters.get_agent(event.agent_id) or {}
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
        start = _at(agent["since"])
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
        """The domain events of one commit, in the order they were recorded."""
        days = sorted(
            {self.local_day(item.occurred_at) for item in items if isinstance(item, Event)}
        )
        try:
            if any([self.ensure_built(day) for day in days]):
                return  # rebuilt after this commit: its rows are in the numbers
        except redis.RedisError:
            self._stale = True
            log.warning("live floor: Redis unavailable; counters rebuilt when it is back")
            return
        for item in items:
            try:
                self._apply_committed(item)
            except redis.RedisError:
                self._stale = True
                log.warning("live floor: Redis unavailable; counters rebuilt when it is back")
            except Exception:
                log.exception("live floor could not count %r", item)

    def _apply_committed(self, item: Any) -> None:
        if isinstance(item, Event):
            self._count(item)
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
        if not self.counters.claim(f"appointment-call:{call_id}"):
            return  # metrics.APPOINTMENT_SET counts calls with an appointment
        with self.database.read_sessions() as session:
            row = session.execute(
                select(Call.campaign_id, Call.dialed_at, Call.agent_id).where(Call.id == call_id)
            ).first()
        if row is None:
            return
        day = self.local_day(row.dialed_at)
        if self.ensure_built(day):
            return
        self.counters.add(
            day,
            row.campaign_id,
            {"appointments": 1},
            agent_id=row.agent_id,
            agent_deltas={"appointments": 1},
        )

    def _wrap_up(self, call_id: str, campaign_id: int, dialed_at: datetime, seconds: float) -> None:
        """metrics.WRAP_UP_SECONDS: ended_at to wrap_up_ended_at, once per call."""
        if self.counters.claim(f"wrap-up:{call_id}"):
            day = self.local_day(dialed_at)
            if not self.ensure_built(day):
                self.counters.add(day, campaign_id, {"wrap_up_s": seconds})

    def _marked_machine(
        self, call_id: str, campaign_id: int, dialed_at: datetime, call: dict[str, Any]
    ) -> None:
        """An agent said the call they had was a machine: it leaves the live
        answers and contacts it was counted in (metrics.LIVE_ANSWER, CONTACT)."""
        if not self.counters.claim(f"machine-call:{call_id}"):
            return
        day = self.local_day(dialed_at)
        if self.ensure_built(day):
            return
        deltas, agent_deltas = machine_deltas(call)
        self.counters.add(
            day,
            campaign_id,
            deltas,
            agent_id=call["agent_id"] if agent_deltas else None,
            agent_deltas=agent_deltas or None,
        )

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
        call = self.counters.get_call(call_id)
        if call is None:
            return
        call["step"] = step
        self.counters.set_call(call_id, call)
        self._emit_call(call)

    # -- reads

    def _customer_name(self, lead_id: int) -> str | None:
        with self.database.read_sessions() as session:
            row = session.execute(
                select(Customer.title, Customer.first_name, Customer.last_name)
                .join(Lead, Lead.customer_id == Customer.id)
                .where(Lead.id == lead_id)
            ).first()
        return _full_name(*row) if row else None

    def _emit_call(self, call: Mapping[str, Any]) -> None:
        # Coalesced with the room's other changes where its sockets are.
        self.emit(DELTA_EVENT, single_delta(CALLS, _call_row(call)), _room(call["campaign_id"]))

    def refresh_meta(self, *, force: bool = False) -> None:
        """Campaign settings, the pacer's last word and pause limits: small
        tables, re-read every META_SECONDS (not per tick)."""
        if not force and time.monotonic() - self._meta_at < META_SECONDS:
            return
        with self.database.read_sessions() as session:
            self._meta = load_campaign_meta(session)
            if time.monotonic() - self._dialable_at >= DIALABLE_SECONDS:
                self._dialable = dialable_counts(session, self._meta, self.clock())
                self._dialable_at = time.monotonic()
            for cid, count in self._dialable.items():
                if cid in self._meta:
                    self._meta[cid].dialable_leads = count
            reasons = session.execute(select(PauseReason.code, PauseReason.limit_minutes))
            self._pause_limits = {code: limit for code, limit in reasons}
        self._meta_at = time.monotonic()

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
        for cid, meta in self._meta.items():
            days = [today - timedelta(days=back) for back in range(meta.window_days)]
            window = self.counters.window([cid], days)[cid]
            raw = dict(totals.get(cid, {}))
            mine = {aid: a for aid, a in agents.items() if a.get("campaign_id") == cid}
            _add_open_state_time(raw, mine.values(), day_start, now)
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

    # -- the loop

    def start(self, socketio: Any) -> None:
        """Start the per-second snapshot task once per process."""
        with self._loop_lock:
            if self._running:
                return
            self._running = True
        socketio.start_background_task(self._loop, socketio)

    def stop(self) -> None:
        self._running = False

    def tick(self) -> int:
        """Emit one snapshot to every campaign room; returns how many rooms."""
        self.refresh_meta()
        snapshots = self.snapshot()
        recent = self.changed_recent_calls()
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
                if self.counters.lead(TICK_SECONDS * 0.9):
                    self.tick()
            except Exception:
                log.exception("live floor snapshot failed")
            socketio.sleep(max(0.0, TICK_SECONDS - (time.monotonic() - started)))


# --- payloads ------------------------------------------------------------------------------


def campaign_payload(
    meta: CampaignMeta,
    raw: Totals,
    window: Totals,
    *,
    agents: Mapping[int, Mapping[str, Any]],
    calls: Iterable[Mapping[str, Any]],
    agent_totals: Mapping[int, Totals],
    pause_limits: Mapping[str, int | None],
    now: datetime,
) -> dict[str, Any]:
    by_state = {state.value: 0 for state in AgentState}
    over_limit = 0
    for agent in agents.values():
        by_state[agent["state"]] = by_state.get(agent["state"], 0) + 1
        if _pause_over_limit(agent, pause_limits, now):
            over_limit += 1
    call_states = {state: 0 for state in CALL_STATES_SHOWN}
    for call in calls:
        call_states[call["state"]] = call_states.get(call["state"], 0) + 1
    window_rate = metrics.ratio(window.get("abandoned", 0), window.get("live_answers", 0))
    cap = meta.abandon_cap / 100
    return {
        "campaign_id": meta.id,
        "name": meta.name,
        "status": meta.status,
        "dial_mode": meta.dial_mode,
        "abandon_cap": meta.abandon_cap,
        "window_days": meta.window_days,
        "dial_level": meta.dial_level,
        "pacer_reason": meta.pacer_reason,
        "hopper_depth": None,
        "dialable_leads": meta.dialable_leads,
        "agents": by_state,
        "paused_over_limit": over_limit,
        "calls": {
            "dialing": call_states["dialing"],
            "ringing": call_states["ringing"],
            "waiting": call_states["answered"],
            "live": call_states["connected"],
        },
        "raw": {name: round(value, 3) for name, value in raw.items()},
        "today": rates(raw),
        "window": {
            "live_answers": int(window.get("live_answers", 0)),
            "abandoned": int(window.get("abandoned", 0)),
            "abandon_rate": window_rate,
            "level": _cap_level(window_rate, cap),
        },
        "agent_totals": {
            str(aid): {
                "calls": int(t.get("calls", 0)),
                "appointments": int(t.get("appointments", 0)),
            }
            for aid, t in agent_totals.items()
        },
        "at": now.isoformat(),
    }


def rates(raw: Mapping[str, float]) -> dict[str, Any]:
    """Today's headline numbers from the raw totals, with the metrics module's
    definitions (ratio, occupancy, AHT)."""

    def count(name: str) -> int:
        return round(raw.get(name, 0))

    talk, wrap_up = raw.get("talk_s", 0.0), raw.get("wrap_up_s", 0.0)
    return {
        "dials": count("dials"),
        "live_answers": count("live_answers"),
        "contacts": count("contacts"),
        "abandoned": count("abandoned"),
        "appointments": count("appointments"),
        "machines": count("machines"),
        "inbound": count("inbound"),
        "inbound_answered": count("inbound_answered"),
        "inbound_missed": count("inbound_missed"),
        "abandon_rate": metrics.ratio(count("abandoned"), count("live_answers")),
        "contact_rate": metrics.ratio(count("live_answers"), count("dials")),
        "conversion_rate": metrics.ratio(count("appointments"), count("contacts")),
        "service_level": metrics.ratio(count("connected_sl"), count("live_answers")),
        "connect_wait": metrics.ratio(raw.get("connect_wait_s", 0.0), count("connect_wait_n")),
        "aht": metrics.average_handle_time(talk, wrap_up, count("handled")),
        "occupancy": metrics.occupancy(
            raw.get(STATE_SECONDS[AgentState.ON_CALL], 0.0),
            raw.get(STATE_SECONDS[AgentState.WRAP_UP], 0.0),
            raw.get(STATE_SECONDS[AgentState.READY], 0.0),
        ),
    }


def _cap_level(rate: float | None, cap: float) -> str:
    if rate is None or cap <= 0:
        return "over" if rate and cap <= 0 else "ok"
    if rate >= cap:
        return "over"
    return "near" if rate >= cap * NEAR_CAP_SHARE else "ok"


def _pause_over_limit(
    agent: Mapping[str, Any], limits: Mapping[str, int | None], now: datetime
) -> bool:
    if agent.get("state") != AgentState.PAUSED.value:
        return False
    limit = limits.get(agent.get("reason") or "")
    return bool(limit) and (now - _at(agent["since"])) > timedelta(minutes=limit or 0)


def _add_open_state_time(
    raw: Totals, agents: Iterable[Mapping[str, Any]], day_start: datetime, now: datetime
) -> None:
    """The time agents have spent in their current state so far today."""
    for agent in agents:
        since = max(_at(agent["since"]), day_start)
        if since < now:
            name = STATE_SECONDS[AgentState(agent["state"])]
            raw[name] = raw.get(name, 0.0) + (now - since).total_seconds()


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
        "answered_at": _iso(call.answered_at),
        "connected_at": _iso(call.connected_at),
        "in_sl": _in_service_level(call),
        "agent_id": call.agent_id,
    }


def _call_row(call: Mapping[str, Any]) -> dict[str, Any]:
    keys = (
        "call_id", "campaign_id", "state", "agent_id", "customer", "step", "dialed_at",
        "answered_at", "connected_at", "ended_at", "outcome", "amd_result", "amd_decision_ms",
    )  # fmt: skip
    return {key: call.get(key) for key in keys}


def _abandon_row(call: Mapping[str, Any]) -> dict[str, Any]:
    wait = None
    if call.get("answered_at") and call.get("ended_at"):
        wait = (_at(call["ended_at"]) - _at(call["answered_at"])).total_seconds()
    return {
        "call_id": call["call_id"],
        "campaign_id": call["campaign_id"],
        "customer": call.get("customer"),
        "at": call.get("ended_at"),
        "wait": wait,
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


def _dialing_or_ended_mark(call_id: str) -> str:
    """Claimed by whichever of the call's dialing and ended is counted first."""
    return f"dialing-or-ended:{call_id}"


def _room(campaign_id: int) -> str:
    return campaign_supervisors_room(campaign_id)


def _day(call: Mapping[str, Any]) -> date:
    return date.fromisoformat(call["day"])


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _full_name(title: str | None, first: str | None, last: str | None) -> str:
    return " ".join(part for part in (title, first, last) if part)


# --- the database side ---------------------------------------------------------------------


def load_campaign_meta(session: Session) -> dict[int, CampaignMeta]:
    rows = session.scalars(select(Campaign).where(Campaign.status != CampaignStatus.ARCHIVED))
    meta = {
        c.id: CampaignMeta(
            id=c.id,
            name=c.name,
            status=str(c.status),
            dial_mode=str(c.dial_mode),
            abandon_cap=float(c.abandon_cap_percent),
            window_days=c.abandon_window_days,
        )
        for c in rows
    }
    latest = (
        select(DialLevelChange.campaign_id, func.max(DialLevelChange.id).label("id"))
        .group_by(DialLevelChange.campaign_id)
        .subquery()
    )
    changes = session.execute(
        select(
            DialLevelChange.campaign_id, DialLevelChange.dial_level, DialLevelChange.reason
        ).join(latest, latest.c.id == DialLevelChange.id)
    )
    for cid, level, reason in changes:
        if cid in meta:
            meta[cid].dial_level = float(level)
            meta[cid].pacer_reason = reason
    return meta


def dialable_counts(
    session: Session, meta: Mapping[int, CampaignMeta], now: datetime
) -> dict[int, int]:
    """Dialable leads left per running campaign (the hopper feed's own rule).
    The hopper's depth lives in the dialer, which `callcenter` may not import:
    the floor shows it as unknown until the dialer reports it."""
    return {
        cid: hopper_feed.count_dialable(session, cid, now=now)
        for cid, campaign in meta.items()
        if campaign.status == CampaignStatus.ACTIVE.value
    }


def rebuild_counters_from_db(
    session: Session,
    day: date,
    *,
    counters: LiveCounters,
    tz: ZoneInfo | str = "Asia/Tehran",
    now: datetime | None = None,
    live: bool = True,
) -> None:
    """Recompute `day`'s counters from the rows (after a restart, or to check
    the live counting), the abandon window's earlier days, and (with `live`)
    the calls in progress and the agents' states."""
    totals, agent_totals = totals_from_db(session, day, tz=tz, now=now)
    counters.replace_day(day, totals, agent_totals)
    for earlier, values in window_totals_from_db(session, day, tz=tz).items():
        counters.replace_day(earlier, values, {})
    if live:
        counters.replace_live(*live_maps_from_db(session, day, tz=tz))


def window_totals_from_db(
    session: Session, day: date, *, tz: ZoneInfo | str = "Asia/Tehran"
) -> dict[date, dict[int, Totals]]:
    """Dials, live answers and abandons of the days before `day` that any
    campaign's abandon window covers, grouped by local date in one query."""
    zone_name = tz if isinstance(tz, str) else tz.key
    zone = ZoneInfo(zone_name)
    longest = session.scalar(select(func.max(Campaign.abandon_window_days))) or 0
    if longest <= 1:
        return {}
    first = day - timedelta(days=longest - 1)
    start = datetime.combine(first, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
    clock = metrics.LocalClock(session.get_bind().dialect.name, zone_name, (start, end))
    local_day = clock.date(Call.dialed_at).label("day")
    query = (
        select(local_day, Call.campaign_id, *metrics.CALL_COUNT_COLUMNS[:4])
        .where(Call.dialed_at >= start, Call.dialed_at < end)
        .group_by(local_day, Call.campaign_id)
    )
    found: dict[date, dict[int, Totals]] = {
        first + timedelta(days=n): {} for n in range(longest - 1)
    }
    for row in session.execute(query):
        when = row.day if isinstance(row.day, date) else date.fromisoformat(str(row.day))
        values = {
            "dials": float(row.dials),
            "live_answers": float(row.live_answers),
            "contacts": float(row.contacts),
            "abandoned": float(row.abandoned),
        }
        found.setdefault(when, {})[row.campaign_id] = values
    return found


def totals_from_db(
    session: Session, day: date, *, tz: ZoneInfo | str = "Asia/Tehran", now: datetime | None = None
) -> tuple[dict[int, Totals], dict[int, Totals]]:
    """The day's counters computed from the rows with `callcenter.metrics`.
    Agent state time counts only closed intervals (the live floor adds the
    open ones as it goes)."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    start = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    dialed = (Call.dialed_at >= start) & (Call.dialed_at < end)
    totals: dict[int, Totals] = {}
    columns = (
        *metrics.CALL_COUNT_COLUMNS,
        metrics.count_if(metrics.INBOUND_MISSED).label("inbound_missed"),
        metrics.count_if(metrics.CONNECTED_IN_SERVICE_LEVEL).label("connected_sl"),
        metrics.sum_of(metrics.CONNECT_WAIT_SECONDS).label("connect_wait_s"),
        func.count(metrics.CONNECT_WAIT_SECONDS).label("connect_wait_n"),
        metrics.sum_of(metrics.TALK_SECONDS).label("talk_s"),
        metrics.sum_of(metrics.WRAP_UP_SECONDS).label("wrap_up_s"),
    )
    names = (
        "dials", "live_answers", "contacts", "abandoned", "appointments", "machines", "handled",
        "inbound", "inbound_answered", "inbound_missed",
    )  # fmt: skip
    extra = ("connected_sl", "connect_wait_s", "connect_wait_n", "talk_s", "wrap_up_s")
    for row in session.execute(
        select(Call.campaign_id, *columns).where(dialed).group_by(Call.campaign_id)
    ):
        mapping = row._mapping
        values = {name: float(mapping[name] or 0) for name in (*names, *extra)}
        totals[row.campaign_id] = {k: v for k, v in values.items() if v}
    _state_time_from_db(session, start, min(end, now or end), totals)
    agent_totals: dict[int, Totals] = {}
    per_agent = select(
        Call.agent_id,
        metrics.count_if(metrics.CONTACT).label("calls"),
        metrics.count_if(metrics.APPOINTMENT_SET).label("appointments"),
    ).where(dialed, Call.agent_id.is_not(None))
    for agent_id, calls, appointments in session.execute(per_agent.group_by(Call.agent_id)):
        agent_totals[agent_id] = {
            k: float(v) for k, v in (("calls", calls), ("appointments", appointments)) if v
        }
    return totals, agent_totals


def _state_time_from_db(
    session: Session, start: datetime, end: datetime, totals: dict[int, Totals]
) -> None:
    """Closed state intervals clipped to [start, end), with the same rule as
    metrics.state_intervals (a row lasts until the agent's next row)."""
    rows = session.execute(
        select(
            AgentStateChange.agent_id,
            AgentStateChange.campaign_id,
            AgentStateChange.to_state,
            AgentStateChange.at,
        )
        .where(AgentStateChange.at < end)
        .order_by(AgentStateChange.agent_id, AgentStateChange.at, AgentStateChange.id)
    ).all()
    for current, following in pairwise(rows):
        if current.agent_id != following.agent_id or current.campaign_id is None:
            continue
        begin, finish = max(current.at, start), min(following.at, end)
        if begin < finish:
            name = STATE_SECONDS[AgentState(current.to_state)]
            target = totals.setdefault(current.campaign_id, {})
            target[name] = target.get(name, 0.0) + (finish - begin).total_seconds()


def live_maps_from_db(
    session: Session, day: date, *, tz: ZoneInfo | str = "Asia/Tehran"
) -> tuple[dict[str, dict[str, Any]], dict[int, dict[str, Any]]]:
    """Calls in progress and each agent's state, as the counters keep them."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    calls: dict[str, dict[str, Any]] = {}
    open_calls = (
        select(Call, Customer.title, Customer.first_name, Customer.last_name)
        .join(Customer, Customer.id == Call.customer_id)
        .where(Call.state != CallState.ENDED)
    )
    for call, title, first, last in session.execute(open_calls):
        calls[call.id] = {
            "call_id": call.id,
            "campaign_id": call.campaign_id,
            "lead_id": call.lead_id,
            "day": call.dialed_at.astimezone(zone).date().isoformat(),
            "state": str(call.state),
            "dialed_at": call.dialed_at.isoformat(),
            "ringing_at": _iso(call.ringing_at),
            "answered_at": _iso(call.answered_at),
            "connected_at": _iso(call.connected_at),
            "agent_id": call.agent_id,
            "customer": _full_name(title, first, last),
            "step": call.current_step,
            "in_sl": _in_service_level(call),
            "amd_result": str(call.amd_result) if call.amd_result is not None else None,
            "amd_decision_ms": call.amd_decision_ms,
            "inbound": call.direction == CallDirection.INBOUND,
        }
    agents: dict[int, dict[str, Any]] = {}
    for status in session.scalars(select(AgentStatus)):
        entry: dict[str, Any] = {
            "state": str(status.state),
            "since": status.since.isoformat(),
            "campaign_id": status.campaign_id,
            "reason": status.pause_reason,
            "call_id": status.current_call_id,
        }
        agents[status.agent_id] = entry
    return calls, agents


def _in_service_level(call: Call | CallMarkedMachine) -> bool:
    if call.answered_at is None or call.connected_at is None:
        return False
    return (call.connected_at - call.answered_at).total_seconds() <= metrics.SERVICE_LEVEL_SECONDS


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- what a supervisor may see and do ------------------------------------------------------


def visible_campaigns(session: Session, user: User) -> list[int]:
    return supervised_campaign_ids(session, user)


def require_campaign(session: Session, user: User, campaign_id: Any) -> Campaign:
    try:
        wanted = int(campaign_id)
    except (TypeError, ValueError):
        raise InvalidInput(N_("choose a campaign"), details={"field": "campaign_id"}) from None
    if wanted not in visible_campaigns(session, user):
        raise Forbidden(
            N_("this campaign is not supervised by you"), details={"campaign_id": wanted}
        )
    return campaign_service.get_campaign(session, wanted)


def require_agent(session: Session, user: User, agent_id: Any) -> User:
    try:
        wanted = int(agent_id)
    except (TypeError, ValueError):
        raise InvalidInput(N_("choose an agent"), details={"field": "agent_id"}) from None
    agent = agent_service.agent_user(session, wanted)
    if wanted not in _visible_agent_ids(session, user):
        raise Forbidden(N_("this agent is not on your floor"), details={"agent_id": wanted})
    return agent


def _visible_agent_ids(session: Session, user: User) -> set[int]:
    campaign_ids = visible_campaigns(session, user)
    if not campaign_ids:
        return set()
    teams = select(campaign_teams.c.team_id).where(campaign_teams.c.campaign_id.in_(campaign_ids))
    by_team = select(User.id).where(User.role == Role.AGENT, User.team_id.in_(teams))
    by_status = select(AgentStatus.agent_id).where(AgentStatus.campaign_id.in_(campaign_ids))
    return set(session.scalars(by_team)) | set(session.scalars(by_status))


def floor_state(
    session: Session, user: User, floor: LiveFloor, *, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the floor page shows at connect; deltas and snapshots follow."""
    now = now or floor.clock()
    campaign_ids = visible_campaigns(session, user)
    floor.refresh_meta()
    snapshots = floor.snapshot(now)
    today = floor.local_day(now)
    agent_totals = floor.counters.agent_totals(today)
    live_agents = floor.counters.agents()
    agent_ids = _visible_agent_ids(session, user)
    users = session.execute(
        select(User.id, User.full_name, AgentStatus.phone_leg, AgentStatus.pause_after_call)
        .outerjoin(AgentStatus, AgentStatus.agent_id == User.id)
        .where(User.id.in_(agent_ids))
        .order_by(User.full_name)
    ).all()
    agents = []
    for agent_id, name, phone_leg, pause_after_call in users:
        live = live_agents.get(agent_id, {})
        totals = agent_totals.get(agent_id, {})
        agents.append(
            {
                "agent_id": agent_id,
                "name": name,
                "state": live.get("state", AgentState.LOGGED_OUT.value),
                "since": live.get("since"),
                "campaign_id": live.get("campaign_id"),
                "pause_reason": live.get("reason"),
                "call_id": live.get("call_id"),
                "phone_leg": str(phone_leg) if phone_leg is not None else "down",
                "pause_after_call": pause_after_call,
                "calls": int(totals.get("calls", 0)),
                "appointments": int(totals.get("appointments", 0)),
            }
        )
    visible = set(campaign_ids)
    calls = [_call_row(c) for c in floor.counters.calls().values() if c["campaign_id"] in visible]
    reasons = session.scalars(select(PauseReason).order_by(PauseReason.position, PauseReason.code))
    return {
        "campaigns": [snapshots[cid] for cid in campaign_ids if cid in snapshots],
        "agents": agents,
        "calls": calls,
        "abandons": abandoned_today(session, campaign_ids, floor, now=now),
        "recent_calls": [
            row for rows in recent_calls(session, campaign_ids).values() for row in rows
        ],
        "hearing_team_ids": recording_service.hearing_team_ids(user),
        "overdue_callbacks": callback_desk.overdue(session, campaign_ids, now=now),
        "pause_reasons": [
            {
                "code": r.code,
                "label_fa": r.label_fa,
                "label_en": r.label_en,
                "limit_minutes": r.limit_minutes,
                "is_paid": r.is_paid,
                "is_active": r.is_active,
                "is_system": r.is_system,
            }
            for r in reasons
        ],
        "dial_modes": [mode.value for mode in DialMode],
        "max_abandon_cap": MAX_ABANDON_CAP,
        "at": now.isoformat(),
    }


def abandoned_today(
    session: Session, campaign_ids: list[int], floor: LiveFloor, *, now: datetime
) -> list[dict[str, Any]]:
    start, _ = floor.day_bounds(floor.local_day(now))
    query = (
        select(Call, Customer.title, Customer.first_name, Customer.last_name)
        .join(Customer, Customer.id == Call.customer_id)
        .where(Call.campaign_id.in_(campaign_ids), Call.dialed_at >= start, metrics.ABANDONED)
        .order_by(Call.ended_at.desc())
        .limit(200)
    )
    return [
        {
            "call_id": call.id,
            "campaign_id": call.campaign_id,
            "customer": _full_name(title, first, last),
            "at": _iso(call.ended_at),
            "wait": (call.ended_at - call.answered_at).total_seconds()
            if call.ended_at and call.answered_at
            else None,
        }
        for call, title, first, last in session.execute(query)
    ]


def call_path(session: Session, user: User, call_id: Any) -> dict[str, Any]:
    """The script path of a call so far (step_outcomes), for the drill-down."""
    call = session.get(Call, str(call_id or ""))
    if call is None:
        raise NotFound(N_("no such call"), details={"call_id": call_id})
    require_campaign(session, user, call.campaign_id)
    rows = session.scalars(
        select(StepOutcome).where(StepOutcome.call_id == call.id).order_by(StepOutcome.seq)
    )
    return {
        "call_id": call.id,
        "current_step": call.current_step,
        "max_step_reached": call.max_step_reached,
        "steps": [
            {
                "seq": row.seq,
                "step": row.step_number,
                "action": str(row.action),
                "via": row.via,
                "reason_code": row.reason_code,
                "reason_text": row.reason_text,
                "at": row.at.isoformat(),
            }
            for row in rows
        ],
    }


def set_campaign_running(
    session: Session, user: User, floor: LiveFloor, campaign_id: Any, *, running: bool
) -> dict[str, Any]:
    campaign = require_campaign(session, user, campaign_id)
    status = CampaignStatus.ACTIVE if running else CampaignStatus.PAUSED
    campaign_service.set_status(session, campaign, status, actor=user)  # audited there
    return _campaign_changed(session, floor, campaign)


def set_abandon_cap(
    session: Session, user: User, floor: LiveFloor, campaign_id: Any, percent: Any
) -> dict[str, Any]:
    campaign = require_campaign(session, user, campaign_id)
    try:
        value = float(percent)
    except (TypeError, ValueError):
        raise InvalidInput(
            N_("the cap is a number of percent"), details={"field": "percent"}
        ) from None
    if not 0 <= value <= MAX_ABANDON_CAP:
        raise InvalidInput(
            N_("the abandon cap must be between 0 and %(cap)s%%"),
            details={"field": "percent"},
            cap=MAX_ABANDON_CAP,
        )
    campaign_service.update_campaign(
        session, campaign, actor=user, abandon_cap_percent=f"{value:.2f}"
    )
    return _campaign_changed(session, floor, campaign)


def set_dial_mode(
    session: Session, user: User, floor: LiveFloor, campaign_id: Any, mode: Any
) -> dict[str, Any]:
    campaign = require_campaign(session, user, campaign_id)
    if str(mode) not in {m.value for m in DialMode}:
        raise InvalidInput(N_("unknown dial mode"), details={"field": "mode"})
    campaign_service.update_campaign(session, campaign, actor=user, dial_mode=str(mode))
    return _campaign_changed(session, floor, campaign)


def _campaign_changed(session: Session, floor: LiveFloor, campaign: Campaign) -> dict[str, Any]:
    data = {
        "campaign_id": campaign.id,
        "status": str(campaign.status),
        "dial_mode": str(campaign.dial_mode),
        "abandon_cap": float(campaign.abandon_cap_percent),
    }
    floor.update_meta(campaign.id, data)
    emit_after_commit(session, CAMPAIGN_EVENT, data, room=_room(campaign.id))
    return data


def force_pause(session: Session, user: User, agent_id: Any, reason: Any) -> dict[str, Any]:
    """Pause an agent now; one on a call or in a wrap-up that owes a
    disposition is paused when the wrap-up ends (`after_call`), and is told so."""
    agent = require_agent(session, user, agent_id)
    status = agent_service.pause(session, agent.id, reason, forced_by=user)
    after_call = status.state is not AgentState.PAUSED
    audit.record(
        session,
        "agent.forced_pause",
        actor=user,
        target_type="user",
        target_id=agent.id,
        details={
            "reason": status.pause_after_call if after_call else status.pause_reason,
            "after_call": after_call,
        },
    )
    if after_call:
        payload = {
            "from": user.full_name,
            "pause_after_call": status.pause_after_call,
            "at": utcnow().isoformat(),
        }
        emit_after_commit(session, PAUSE_AFTER_CALL_EVENT, payload, room=agent_room(agent.id))
    return {
        "agent_id": agent.id,
        "agent_name": agent.full_name,
        "state": str(status.state),
        "after_call": after_call,
    }


def reassign_callback(
    session: Session, user: User, callback_id: Any, agent_id: Any, *, now: datetime | None = None
) -> dict[str, Any]:
    """Give an overdue callback of one's campaign to one of one's agents (an
    empty agent: anyone on the campaign). The campaign's supervisors see the
    new list once it is committed."""
    now = now or utcnow()
    try:
        wanted = int(callback_id)
    except (TypeError, ValueError):
        raise InvalidInput(N_("choose a callback"), details={"field": "callback_id"}) from None
    callback = callback_desk.get_callback(session, wanted)
    require_campaign(session, user, callback.campaign_id)
    agent = require_agent(session, user, agent_id) if agent_id not in (None, "") else None
    if agent is not None and agent.role is not Role.AGENT:
        raise InvalidInput(N_("choose an agent"), details={"field": "agent_id"})
    callback_desk.reassign(session, callback, agent, actor=user, now=now)
    rows = callback_desk.overdue(session, [callback.campaign_id], now=now)
    emit_after_commit(
        session,
        CALLBACKS_EVENT,
        {"campaign_id": callback.campaign_id, "callbacks": rows},
        room=_room(callback.campaign_id),
    )
    return {
        "callback_id": callback.id,
        "agent_id": agent.id if agent is not None else None,
        "agent_name": agent.full_name if agent is not None else None,
    }


def force_log_out(session: Session, user: User, agent_id: Any) -> dict[str, Any]:
    agent = require_agent(session, user, agent_id)
    status = wrap_ups.end_agent_session(session, agent.id)
    audit.record(
        session, "agent.forced_log_out", actor=user, target_type="user", target_id=agent.id
    )
    return {"agent_id": agent.id, "state": str(status.state)}


def message_agent(session: Session, user: User, agent_id: Any, text: Any) -> dict[str, Any]:
    agent = require_agent(session, user, agent_id)
    body = str(text or "").strip()
    if not body:
        raise InvalidInput(N_("write a message"), details={"field": "text"})
    if len(body) > MAX_MESSAGE_LENGTH:
        raise InvalidInput(
            N_("at most %(count)s characters"), details={"field": "text"}, count=MAX_MESSAGE_LENGTH
        )
    payload = {"from": user.full_name, "text": body, "at": utcnow().isoformat()}
    emit_after_commit(session, MESSAGE_EVENT, payload, room=agent_room(agent.id))
    audit.record(
        session,
        "agent.messaged",
        actor=user,
        target_type="user",
        target_id=agent.id,
        details={"text": body},
    )
    return {"agent_id": agent.id, "sent": True}


# --- wiring --------------------------------------------------------------------------------


def register_live_floor(bus: EventBus, app: Any) -> LiveFloor:
    """Counters (Redis when settings.redis_url is set), bus subscriptions and
    the committed domain events of this app's sessions (`LiveFloor.watch`);
    the snapshot loop starts when the first supervisor asks."""
    from callcenter.extensions import socketio

    settings = app.extensions["cc_settings"]
    database: Database = app.extensions["cc_database"]

    def emit(name: str, data: Any, room: str) -> None:
        socketio.emit(name, data, to=room)

    floor = LiveFloor(
        counters=make_counters(settings.redis_url),
        database=database,
        emit=emit,
        tz=ZoneInfo(settings.locale.timezone),
    )
    bus.subscribe(DialingHeld.TYPE, floor.dialer_held)
    bus.subscribe(HopperDepth.TYPE, floor.hopper_depth)
    bus.subscribe(TrunkStatusReported.TYPE, floor.trunk_reported)
    floor.watch(database)
    app.extensions["cc_live_floor"] = floor
    return floor


def live_floor_of(app: Any) -> LiveFloor:
    floor: LiveFloor = app.extensions["cc_live_floor"]
    return floor
