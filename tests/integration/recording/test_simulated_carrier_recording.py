"""The simulated carrier's calls record: a customer bridged to a simulated
agent phone, recorded by the real writer, gives a FLAC from the bridge to the
hang-up with the customer's recorded "hello" on the left, their goodbye at
the end, and silence on the right (a simulated phone sends nothing)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import soundfile

from dialer.carrier import AgentLegRequest, CallProgress, CarrierError, OriginateRequest
from dialer.simulated_carrier import SimulatedCarrier, SimulationProfile
from dialer.sip.recorder import RecordingResult, RecordingWriter
from dialer.voices import Line, pcm8k

TALK_S = 9.0


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def test_a_bridged_simulated_call_records_the_customers_lines(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path / "spool", min_free_bytes=0)
    results: list[RecordingResult] = []

    async def go() -> list[CallProgress]:
        carrier = SimulatedCarrier(SimulationProfile.every_call("answer", talk_s=TALK_S))
        await carrier.start()
        events: list[CallProgress] = []
        agent_events: list[CallProgress] = []
        await carrier.connect_agent(AgentLegRequest("leg-1", "sip:1001@pbx"), agent_events.append)
        await carrier.originate(
            OriginateRequest("c1", "+989121234567", "+9821", 30, locale="en"), events.append
        )
        while events[-1].phase != "answered":
            await asyncio.sleep(0.01)
        early = writer.open("early", results.append)
        with pytest.raises(CarrierError):
            carrier.record("c1", early)  # not bridged yet
        early.finish()
        await carrier.bridge("c1", "leg-1")
        carrier.record("c1", writer.open("c1", results.append))
        while events[-1].phase != "ended":
            await asyncio.sleep(0.05)
        await carrier.stop()
        return events

    writer.start()
    try:
        events = asyncio.run(go())
    finally:
        writer.stop()
    assert events[-1].outcome == "answered"
    [result] = [r for r in results if r.recording_id == "c1"]
    assert result.ok, result.reason
    assert result.path is not None
    audio, rate = soundfile.read(result.path, dtype="int16")
    seconds = len(audio) / rate
    assert abs(seconds - TALK_S) < 0.5, seconds
    customer, agent = audio[:, 0], audio[:, 1]
    assert _rms(customer[: 2 * rate]) > 300  # "Hello? ... Yes, who is calling?"
    assert _rms(customer[-rate:]) > 300  # the goodbye before hanging up
    hello_ends = len(pcm8k("en", Line.HELLO)) / 2 / rate
    goodbye_starts = TALK_S - len(pcm8k("en", Line.GOODBYE)) / 2 / rate - 0.5
    between = customer[round((hello_ends + 0.3) * rate) : round((goodbye_starts - 0.3) * rate)]
    assert len(between) > rate and _rms(between) < 50  # silence between the lines
    assert not agent.any()


def test_a_simulated_call_stays_recorded_through_hold_and_hand_over(tmp_path: Path) -> None:
    """Put on hold, then handed over to another agent: still one recording,
    from the bridge to the customer's hang-up, their goodbye at its end."""
    writer = RecordingWriter(tmp_path / "spool", min_free_bytes=0)
    results: list[RecordingResult] = []

    async def go() -> tuple[list[CallProgress], int]:
        carrier = SimulatedCarrier(SimulationProfile.every_call("answer", talk_s=TALK_S))
        await carrier.start()
        events: list[CallProgress] = []
        for leg in ("leg-1", "leg-2"):
            await carrier.connect_agent(AgentLegRequest(leg, f"sip:{leg}@pbx"), lambda _: None)
        await carrier.originate(
            OriginateRequest("c1", "+989121234567", "+9821", 30, locale="en"), events.append
        )
        while events[-1].phase != "answered":
            await asyncio.sleep(0.01)
        await carrier.bridge("c1", "leg-1")
        carrier.record("c1", writer.open("c1", results.append))
        await asyncio.sleep(2.0)
        await carrier.hold("c1", "hold.wav")
        await asyncio.sleep(1.0)
        finished_while_held = len(results)
        await carrier.unhold("c1")
        await carrier.bridge("c1", "leg-2")
        while events[-1].phase != "ended":
            await asyncio.sleep(0.05)
        await carrier.stop()
        return events, finished_while_held

    writer.start()
    try:
        events, finished_while_held = asyncio.run(go())
    finally:
        writer.stop()
    assert finished_while_held == 0, "the hold ended the recording"
    assert events[-1].outcome == "answered"
    [result] = results
    assert result.ok, result.reason
    assert result.path is not None
    audio, rate = soundfile.read(result.path, dtype="int16")
    assert abs(len(audio) / rate - TALK_S) < 0.5, len(audio) / rate
    assert _rms(audio[-rate:, 0]) > 300  # the goodbye, said to the second agent
