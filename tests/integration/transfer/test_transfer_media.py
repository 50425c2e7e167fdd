"""A warm transfer's media on the real SIP trunk, with three sipp phones each
playing its own tone and the test listening on each phone's receive socket:
who hears what while the customer is on hold and the agents consult, when
all three are joined (the mixer's barge mode), and after the hand-over."""

from __future__ import annotations

import asyncio
import math

import pytest

from dialer.carrier import AgentLegRequest, OriginateRequest
from dialer.sip.trunk import SipTrunk
from dialer.voices import hold_wav
from tests.integration.sip.helpers import Recorder, trunk_for
from tests.integration.transfer.conftest import CLOSER_HZ, CUSTOMER_HZ, OPENER_HZ, TONES, Phone
from tests.integration.transfer.ears import SILENT, heard

pytestmark = pytest.mark.sipp

LISTEN_S = 1.0


async def listen(phones: dict[str, Phone]) -> dict[str, set[float]]:
    """What each phone's user hears over the next LISTEN_S, by tone."""
    for phone in phones.values():
        phone.ear.clear()
    await asyncio.sleep(LISTEN_S)
    return {name: heard(phone.ear.levels(TONES)) for name, phone in phones.items()}


def quiet_except(phone: Phone, *allowed: float) -> bool:
    levels = phone.ear.levels(TONES)
    return all(level < SILENT for tone, level in levels.items() if tone not in allowed)


def test_consult_join_and_hand_over_each_side_hears_the_right_people(
    phones: dict[str, Phone],
) -> None:
    async def go() -> list[dict[str, set[float]]]:
        trunk: SipTrunk = trunk_for(phones["customer"].uri)
        await trunk.start()
        heard_at: list[dict[str, set[float]]] = []
        recorders = {"customer": Recorder(), "opener": Recorder(), "closer": Recorder()}
        try:
            for name in ("opener", "closer"):
                await trunk.connect_agent(AgentLegRequest(name, phones[name].uri), recorders[name])
            await trunk.originate(
                OriginateRequest("customer", "+989121234567", "+982100000000", 5),
                recorders["customer"],
            )
            for recorder in recorders.values():
                await asyncio.wait_for(recorder.answered.wait(), 10)
            await trunk.bridge("customer", "opener")
            heard_at.append(await listen(phones))  # 0: talking

            await trunk.hold("customer", hold_wav())
            await trunk.bridge_agents("opener", "closer")
            heard_at.append(await listen(phones))  # 1: consult, customer on hold
            hold_samples = phones["customer"].ear.samples()
            assert quiet_except(phones["customer"])
            rms = math.sqrt(sum(s * s for s in hold_samples) / max(1, len(hold_samples)))
            assert rms > 300, "the customer hears the hold chime"

            await trunk.unbridge_agents("opener", "closer")
            await trunk.unhold("customer")
            await trunk.bridge("customer", "opener")
            await trunk.monitor("customer", "closer", "barge")
            heard_at.append(await listen(phones))  # 2: all three joined

            await trunk.end_monitor("customer", "closer")
            await trunk.unbridge("customer")
            await trunk.bridge("customer", "closer")
            heard_at.append(await listen(phones))  # 3: handed over
            assert quiet_except(phones["opener"])
        finally:
            await trunk.stop()
        return heard_at

    talking, consult, joined, handed_over = asyncio.run(go())
    assert talking == {"customer": {OPENER_HZ}, "opener": {CUSTOMER_HZ}, "closer": set()}
    assert consult == {"customer": set(), "opener": {CLOSER_HZ}, "closer": {OPENER_HZ}}
    assert joined == {
        "customer": {OPENER_HZ, CLOSER_HZ},
        "opener": {CUSTOMER_HZ, CLOSER_HZ},
        "closer": {CUSTOMER_HZ, OPENER_HZ},
    }
    assert handed_over == {"customer": {CLOSER_HZ}, "opener": set(), "closer": {CUSTOMER_HZ}}
