"""The simulated carrier honours the port contract and is repeatable with a seed."""

from __future__ import annotations

import asyncio
from collections import Counter

from dialer.carrier import (
    AgentLegRequest,
    AmdAction,
    AmdMode,
    AmdResult,
    CallProgress,
    Carrier,
    OriginateRequest,
)
from dialer.simulated_carrier import SimulatedCarrier, SimulationProfile
from dialer.sip.trunk import SipTrunk, SipTrunkConfig

FAST = SimulationProfile(time_scale=0.001)


def _run_batch(
    seed: int, n: int = 200, amd: AmdMode = AmdMode.OFF, profile: SimulationProfile = FAST
) -> list[list[CallProgress]]:
    async def go():
        carrier = SimulatedCarrier(profile, seed=seed)
        await carrier.start()
        calls: dict[str, list[CallProgress]] = {}
        for i in range(n):
            events: list[CallProgress] = []
            calls[f"c{i}"] = events
            await carrier.originate(
                OriginateRequest(f"c{i}", "+989121234567", "+9821", 30, amd=amd), events.append
            )
        while any(not e or e[-1].phase != "ended" for e in calls.values()):
            await asyncio.sleep(0.01)
        await carrier.stop()
        return list(calls.values())

    return asyncio.run(go())


def test_both_carriers_implement_the_port():
    assert isinstance(SimulatedCarrier(), Carrier)
    assert isinstance(SipTrunk(SipTrunkConfig()), Carrier)


def _outcomes(batch: list[list[CallProgress]]) -> Counter[str | None]:
    outcomes: Counter[str | None] = Counter()
    for events in batch:
        phases = [e.phase for e in events]
        assert phases[0] == "dialing" and phases[-1] == "ended" and phases.count("ended") == 1
        assert all(e.at.tzinfo is not None for e in events)
        outcomes[events[-1].outcome] += 1
    return outcomes


def test_every_call_ends_once_with_a_known_outcome():
    outcomes = _outcomes(_run_batch(seed=1, amd=AmdMode.HANGUP))
    assert set(outcomes) == {"answered", "machine", "busy", "no_answer", "failed"}
    assert 40 <= outcomes["answered"] <= 100  # 35% of 200, loosely


def test_with_amd_off_a_machine_looks_like_a_live_answer():
    def answered(batch: list[list[CallProgress]]) -> int:
        return sum("answered" in [e.phase for e in events] for events in batch)

    off, on = _run_batch(seed=1), _run_batch(seed=1, amd=AmdMode.HANGUP)  # the same fates
    assert set(_outcomes(off)) == {"answered", "busy", "no_answer", "failed"}
    assert all(e.amd is None for events in off for e in events)
    machines = _outcomes(on)["machine"]
    assert machines >= 5
    assert answered(off) == answered(on) + machines


def test_with_amd_on_machines_are_never_answered_and_people_carry_the_verdict():
    batch = _run_batch(seed=2, amd=AmdMode.HANGUP)
    machines = [events for events in batch if events[-1].outcome == "machine"]
    people = [events for events in batch if "answered" in [e.phase for e in events]]
    assert len(machines) >= 5 and len(people) >= 40
    for events in machines:
        assert [e.phase for e in events] == ["dialing", "ringing", "ended"]
        verdict = events[-1].amd
        assert verdict is not None and verdict.result is AmdResult.MACHINE
        assert verdict.action is AmdAction.HUNG_UP and verdict.decision_ms > 0
    for events in people:
        answered = next(e for e in events if e.phase == "answered")
        assert answered.amd is not None and answered.amd.result is AmdResult.HUMAN
        assert answered.amd.action is AmdAction.PASSED_TO_AGENT
        assert answered.amd.answered_at <= answered.at and events[-1].amd is None


def test_amd_message_leaves_the_message_after_the_greeting():
    machines_only = SimulationProfile(
        answer=0, machine=1, busy=0, no_answer=0, failed=0, time_scale=0.001
    )
    batch = _run_batch(seed=3, n=20, amd=AmdMode.MESSAGE, profile=machines_only)
    for events in batch:
        ended = events[-1]
        assert ended.outcome == "machine" and ended.amd is not None
        assert ended.amd.action is AmdAction.MESSAGE_PLAYED
        held = (ended.at - ended.amd.answered_at).total_seconds()
        assert held >= machines_only.voicemail_s * machines_only.time_scale


def test_seed_makes_runs_repeatable():
    first = [[(e.phase, e.outcome, e.sip_status) for e in c] for c in _run_batch(seed=7, n=50)]
    again = [[(e.phase, e.outcome, e.sip_status) for e in c] for c in _run_batch(seed=7, n=50)]
    assert first == again


def test_bridge_and_hang_up_report_the_agent():
    async def go():
        carrier = SimulatedCarrier(
            SimulationProfile(answer=1, machine=0, busy=0, no_answer=0, failed=0, time_scale=0.001),
            seed=3,
        )
        await carrier.start()
        agent: list[CallProgress] = []
        call: list[CallProgress] = []
        await carrier.connect_agent(AgentLegRequest("a1", "agent-phone"), agent.append)
        await carrier.originate(OriginateRequest("c1", "+989121234567", "+9821", 30), call.append)
        while call[-1].phase != "answered":
            await asyncio.sleep(0.001)
        await carrier.bridge("c1", "a1")
        await carrier.hang_up("c1")
        await carrier.stop()
        return agent, call

    agent, call = asyncio.run(go())
    assert [e.phase for e in agent] == ["dialing", "answered"]
    assert (call[-1].outcome, call[-1].bridged_to, call[-1].sip_reason) == (
        "answered",
        "a1",
        "local hangup",
    )
