"""Seeded discrete-event simulation of one outbound campaign day.

The pacing policy under test only ever sees a `PacerState` built from what a
real dialer observes; every hidden draw (a call's fate, a talk's length) stays
in here. Customers and agents draw from their own random streams, a fixed
number of uniforms per call and per contact, so two policies run on the same
seed face the same sequence of called parties and conversations.
"""

from __future__ import annotations

import heapq
import random
import zlib
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from bench.pacing.model import CallModel, LogNormal, Scenario
from dialer.pacing.state import (
    AbandonTally,
    AgentStatus,
    AgentView,
    CallOutcome,
    CallResult,
    DialMode,
    PacerDecision,
    PacerState,
    ServiceRecord,
)


class Policy(Protocol):
    def decide(self, state: PacerState) -> PacerDecision: ...


@dataclass(frozen=True, slots=True)
class RunResult:
    scenario: str
    policy: str
    seed: int
    occupancy: float
    talk_minutes_per_agent_hour: float
    abandon_rate: float
    dials_per_agent_hour: float
    contacts_per_agent_hour: float
    mean_connect_wait: float
    live_answers: int
    abandoned: int
    level_changes: int


_LIVE, _RELEASE, _ABANDON, _TALK_END, _WRAP_END = range(5)


class _Agent:
    __slots__ = ("logged_out_at", "logging_out", "since", "status", "talk_started")

    def __init__(self) -> None:
        self.status = AgentStatus.READY
        self.since = 0.0
        self.talk_started = 0.0
        self.logging_out = False
        self.logged_out_at: float | None = None


class Simulation:
    def __init__(
        self,
        model: CallModel,
        scenario: Scenario,
        policy: Policy,
        mode: DialMode,
        seed: int,
    ) -> None:
        self.model = model
        self.scenario = scenario
        self.policy = policy
        self.mode = mode
        stream = zlib.crc32(f"{scenario.name}:{seed}".encode())
        self._customers = random.Random(stream * 2 + 1)
        self._contacts = random.Random(stream * 2 + 2)
        self._answer = LogNormal.from_moments(model.answer_mean, model.answer_sd)
        self._answer_cap = self._answer.cdf(model.ring_timeout)
        self._talk = LogNormal.from_moments(model.talk_mean, model.talk_sd)
        self._wrap = LogNormal.from_moments(model.wrap_mean, model.wrap_sd)
        self._events: list[tuple[float, int, int, int]] = []
        self._seq = 0
        self._agents = [_Agent() for _ in range(scenario.agents)]
        self._ready: deque[int] = deque(range(scenario.agents))
        self._ringing: dict[int, float] = {}
        self._waiting: deque[tuple[int, float]] = deque()
        self._waiting_ids: set[int] = set()
        self._outcomes: list[CallOutcome] = []
        self._services: list[ServiceRecord] = []
        self._talk_of: dict[int, float] = {}
        self._pending_wrap: dict[int, float] = {}
        self._next_call = 0
        self._live = 0
        self._abandoned = 0
        self._dials = 0
        self._connects = 0
        self._wait_total = 0.0
        self._talk_total = 0.0
        self._wrap_total = 0.0
        self._level_changes = 0
        self._logout_done = False

    def _push(self, when: float, kind: int, ident: int) -> None:
        self._seq += 1
        heapq.heappush(self._events, (when, self._seq, kind, ident))

    def run(self, policy_name: str, seed: int) -> RunResult:
        model = self.model
        end = model.hours * 3600.0
        ticks = int(end / model.tick)
        for tick in range(ticks):
            now = tick * model.tick
            self._advance(now)
            self._apply_scenario(now)
            decision = self.policy.decide(self._observe(now))
            self._level_changes += decision.changed
            for _ in range(decision.calls_to_launch):
                self._launch(now)
        self._advance(end)
        return self._result(end, policy_name, seed)

    def _apply_scenario(self, now: float) -> None:
        scenario = self.scenario
        if self._logout_done or not scenario.logout_agents or scenario.change_hour is None:
            return
        if now < scenario.change_hour * 3600.0:
            return
        self._logout_done = True
        for agent_id in range(scenario.logout_agents):
            agent = self._agents[agent_id]
            agent.logging_out = True
            if agent.status is AgentStatus.READY:
                self._log_out(agent_id, now)

    def _log_out(self, agent_id: int, now: float) -> None:
        agent = self._agents[agent_id]
        agent.status = AgentStatus.PAUSED
        agent.logged_out_at = now
        if agent_id in self._ready:
            self._ready.remove(agent_id)

    def _observe(self, now: float) -> PacerState:
        agents = [
            AgentView(a.status, now - a.since, a.logging_out)
            for a in self._agents
            if a.logged_out_at is None
        ]
        outcomes, self._outcomes = self._outcomes, []
        services, self._services = self._services, []
        tally = AbandonTally(self._live, self._abandoned)
        model = self.model
        return PacerState(
            mode=self.mode,
            agents=agents,
            calls_in_flight=[now - started for started in self._ringing.values()],
            waiting_calls=len(self._waiting),
            outcomes=outcomes,
            services=services,
            today=tally,
            last_30_days=tally,
            abandon_cap=model.abandon_cap,
            max_lines_per_agent=model.lines_per_agent,
            trunk_limit=model.trunk_limit or None,
        )

    def _launch(self, now: float) -> None:
        model = self.model
        rng = self._customers
        kind, fail, timing = rng.random(), rng.random(), rng.random()
        call_id = self._next_call
        self._next_call += 1
        self._dials += 1
        self._ringing[call_id] = now
        live_rate = self.scenario.answer_rate_at(now / 3600.0)
        if kind < live_rate + model.machine_rate:
            answer = self._answer.quantile(timing * self._answer_cap)
            if kind < live_rate:
                self._push(now + answer, _LIVE, call_id)
            else:
                self._push(now + answer + model.amd_seconds, _RELEASE, call_id)
        elif fail < model.fail_share:
            delay = model.fail_min + timing * (model.fail_max - model.fail_min)
            self._push(now + delay, _RELEASE, -call_id - 1)
        else:
            self._push(now + model.ring_timeout, _RELEASE, -call_id - 1)

    def _advance(self, until: float) -> None:
        events = self._events
        while events and events[0][0] <= until:
            when, _, kind, ident = heapq.heappop(events)
            if kind == _LIVE:
                self._on_live(when, ident)
            elif kind == _RELEASE:
                self._on_release(when, ident)
            elif kind == _ABANDON:
                if ident in self._waiting_ids:
                    self._waiting_ids.discard(ident)
                    self._waiting = deque(c for c in self._waiting if c[0] != ident)
                    self._abandoned += 1
            elif kind == _TALK_END:
                agent = self._agents[ident]
                self._talk_of[ident] = when - agent.since
                self._talk_total += when - agent.since
                agent.status = AgentStatus.WRAPUP
                agent.since = when
                self._push(when + self._pending_wrap.pop(ident), _WRAP_END, ident)
            else:
                self._on_wrap_end(when, ident)

    def _on_live(self, when: float, call_id: int) -> None:
        started = self._ringing.pop(call_id)
        self._outcomes.append(CallOutcome(CallResult.LIVE, when - started))
        self._live += 1
        if self._ready:
            self._connect(self._ready.popleft(), when, 0.0)
        else:
            self._waiting.append((call_id, when))
            self._waiting_ids.add(call_id)
            self._push(when + self.model.abandon_window, _ABANDON, call_id)

    def _on_release(self, when: float, ident: int) -> None:
        # Negative ids mark calls nobody answered; the rest met a machine.
        call_id = -ident - 1 if ident < 0 else ident
        started = self._ringing.pop(call_id)
        if ident >= 0:
            result = CallResult.MACHINE
        elif when - started >= self.model.ring_timeout - 1e-9:
            result = CallResult.NO_ANSWER
        else:
            result = CallResult.FAILED
        self._outcomes.append(CallOutcome(result, when - started))

    def _connect(self, agent_id: int, when: float, waited: float) -> None:
        rng = self._contacts
        talk = self._talk.quantile(rng.random())
        wrap = self._wrap.quantile(rng.random())
        agent = self._agents[agent_id]
        agent.status = AgentStatus.TALKING
        agent.since = when
        self._connects += 1
        self._wait_total += waited
        self._pending_wrap[agent_id] = wrap
        self._push(when + talk, _TALK_END, agent_id)

    def _on_wrap_end(self, when: float, agent_id: int) -> None:
        agent = self._agents[agent_id]
        self._wrap_total += when - agent.since
        self._services.append(ServiceRecord(self._talk_of.pop(agent_id), when - agent.since))
        if agent.logging_out:
            self._log_out(agent_id, when)
            return
        if self._waiting:
            call_id, answered = self._waiting.popleft()
            self._waiting_ids.discard(call_id)
            self._connect(agent_id, when, when - answered)
        else:
            agent.status = AgentStatus.READY
            agent.since = when
            self._ready.append(agent_id)

    def _result(self, end: float, policy_name: str, seed: int) -> RunResult:
        talk, wrap, logged_in = self._talk_total, self._wrap_total, 0.0
        for agent in self._agents:
            logged_in += agent.logged_out_at if agent.logged_out_at is not None else end
            if agent.logged_out_at is None and agent.status is AgentStatus.TALKING:
                talk += end - agent.since
            elif agent.logged_out_at is None and agent.status is AgentStatus.WRAPUP:
                wrap += end - agent.since
        hours = logged_in / 3600.0
        return RunResult(
            scenario=self.scenario.name,
            policy=policy_name,
            seed=seed,
            occupancy=(talk + wrap) / logged_in,
            talk_minutes_per_agent_hour=talk / 60.0 / hours,
            abandon_rate=self._abandoned / self._live if self._live else 0.0,
            dials_per_agent_hour=self._dials / hours,
            contacts_per_agent_hour=self._connects / hours,
            mean_connect_wait=self._wait_total / self._connects if self._connects else 0.0,
            live_answers=self._live,
            abandoned=self._abandoned,
            level_changes=self._level_changes,
        )
