"""The simulated carrier honours the port contract and is repeatable with a seed."""

from __future__ import annotations

import asyncio
from collections import Counter

from dialer.carrier import AgentLegRequest, CallProgress, Carrier, OriginateRequest
from dialer.simulated_carrier import SimulatedCarrier, SimulationProfile
from dialer.sip.trunk import SipTrunk, SipTrunkConfig

FAST = SimulationProfile(time_scale=0.001)


def _run_batch(seed: int, n: int = 200) -> list[list[CallProgress]]:
    async def go():
        carrier = SimulatedCarrier(FAST, seed=seed)
        await carrier.start()
        calls: dict[str, list[CallProgress]] = {}
        for i in range(n):
            events: list[CallProgress] = []
            calls[f"c{i}"] = events
            await carrier.originate(
                OriginateRequest(f"c{i}", "+989121234567", "+9821", 30), events.append
            )
        while any(not e or e[-1].phase != "ended" for e in calls.values()):
            await asyncio.sleep(0.01)
        await carrier.stop()
        return list(calls.values())

    return asyncio.run(go())


def test_both_carriers_implement_the_port():
    assert isinstance(SimulatedCarrier(), Carrier)
    assert isinstance(SipTrunk(SipTrunkConfig()), Carrier)


def test_every_call_ends_once_with_a_known_outcome():
    batch = _run_batch(seed=1)
    outcomes = Counter()
    for events in batch:
        phases = [e.phase for e in events]
        assert phases[0] == "dialing" and phases[-1] == "ended" and phases.count("ended") == 1
        assert all(e.at.tzinfo is not None for e in events)
        outcomes[events[-1].outcome] += 1
    assert set(outcomes) == {"answered", "machine", "busy", "no_answer", "failed"}
    assert 40 <= outcomes["answered"] <= 100  # 35% of 200, loosely


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
