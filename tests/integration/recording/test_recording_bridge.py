"""A real bridged call through sipp, recorded: a known tone on each side lands
in its own channel of the file, which is as long as the bridge was up."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import soundfile

from callcenter.recording_store import FolderStore
from dialer.carrier import AgentLegRequest, OriginateRequest
from dialer.recordings import CallRecorder, RecordingOutcome
from dialer.sip.recorder import RecordingWriter
from tests.integration.sip.helpers import Recorder, trunk_for
from tests.integration.sip.tone import tone_levels, write_tone_pcap

pytestmark = pytest.mark.sipp

CUSTOMER_HZ, AGENT_HZ = 440.0, 1200.0


def _levels(channel: np.ndarray) -> dict[float, float]:
    return tone_levels([int(v) for v in channel], (CUSTOMER_HZ, AGENT_HZ))


def test_each_side_in_its_own_channel_from_bridge_to_hang_up(sipp, tmp_path: Path):
    customer_pcap, agent_pcap = tmp_path / "customer.pcap", tmp_path / "agent.pcap"
    write_tone_pcap(customer_pcap, CUSTOMER_HZ, seconds=8.0)
    write_tone_pcap(agent_pcap, AGENT_HZ, seconds=8.0)
    customer = sipp("uas_answer_play.xml", keys={"pcap": str(customer_pcap)}, name="customer")
    agent = sipp("uas_answer_play.xml", keys={"pcap": str(agent_pcap)}, name="agent")
    store = FolderStore(tmp_path / "store")
    recorder = CallRecorder(RecordingWriter(tmp_path / "spool", min_free_bytes=0), store)
    outcomes: list[RecordingOutcome] = []
    done = threading.Event()

    def finished(outcome: RecordingOutcome) -> None:
        outcomes.append(outcome)
        done.set()

    async def go() -> float:
        trunk = trunk_for(customer.uri)
        await trunk.start()
        recorder.start()
        agent_rec, cust_rec = Recorder(), Recorder()
        try:
            await trunk.connect_agent(AgentLegRequest("agent-1", agent.uri), agent_rec)
            await asyncio.wait_for(agent_rec.answered.wait(), 5)
            await trunk.originate(
                OriginateRequest("cust-1", "+989121234567", "+982100000000", 5), cust_rec
            )
            await asyncio.wait_for(cust_rec.answered.wait(), 5)
            await asyncio.sleep(0.5)  # both tones flowing
            await trunk.bridge("cust-1", "agent-1")
            bridged_at = time.monotonic()
            trunk.record("cust-1", recorder.open("cust-1", 7, datetime.now(UTC), finished))
            await asyncio.sleep(3.0)
            await trunk.hang_up("cust-1")
            await asyncio.wait_for(cust_rec.ended.wait(), 5)
            bridge_seconds = time.monotonic() - bridged_at
            await trunk.disconnect_agent("agent-1")
            await asyncio.wait_for(agent_rec.ended.wait(), 5)
        finally:
            await trunk.stop()
            await asyncio.to_thread(recorder.stop)
        return bridge_seconds

    bridge_seconds = asyncio.run(go())
    assert done.wait(10)
    [outcome] = outcomes
    assert outcome.stored, outcome.failure_reason
    assert outcome.storage_key is not None and outcome.storage_key.startswith("7/")
    path = store.root / outcome.storage_key
    audio, rate = soundfile.read(path, dtype="int16")
    info = soundfile.info(str(path))
    assert (info.format, info.channels, rate) == ("FLAC", 2, 8000)
    assert abs(len(audio) / rate - bridge_seconds) <= 0.1, (len(audio) / rate, bridge_seconds)
    assert outcome.duration_ms == round(1000 * len(audio) / rate)
    assert outcome.size_bytes == path.stat().st_size
    assert outcome.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    middle = slice(rate // 2, len(audio) - rate // 2)
    left, right = _levels(audio[middle, 0]), _levels(audio[middle, 1])
    print(
        f"left {left}, right {right}, file {len(audio) / rate:.3f} s, bridge {bridge_seconds:.3f} s"
    )
    assert left[CUSTOMER_HZ] > 100 * left[AGENT_HZ]
    assert right[AGENT_HZ] > 100 * right[CUSTOMER_HZ]
    assert not list((tmp_path / "spool").iterdir())  # uploaded, then gone from the spool
