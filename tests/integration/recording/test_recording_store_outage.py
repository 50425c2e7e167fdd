"""The recordings' S3 store (a real SeaweedFS) goes away during a recorded
call: the call goes on to its hang-up, the recording ends failed with the
reason; the store comes back and the next call is recorded."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dialer.carrier import AgentLegRequest, OriginateRequest
from dialer.recordings import CallRecorder, RecordingOutcome
from dialer.sip.recorder import RecordingWriter
from tests.integration.recording.seaweed import Seaweed
from tests.integration.sip.helpers import Recorder, trunk_for
from tests.integration.sip.tone import write_tone_pcap

pytestmark = pytest.mark.sipp


class Outcomes:
    def __init__(self) -> None:
        self.got: dict[str, RecordingOutcome] = {}
        self.changed = threading.Condition()

    def __call__(self, outcome: RecordingOutcome) -> None:
        with self.changed:
            self.got[outcome.call_id] = outcome
            self.changed.notify_all()

    def wait_for(self, call_id: str, timeout: float = 20.0) -> RecordingOutcome:
        with self.changed:
            assert self.changed.wait_for(lambda: call_id in self.got, timeout), call_id
            return self.got[call_id]


def test_a_dead_store_fails_the_recording_never_the_call(sipp, seaweed: Seaweed, tmp_path: Path):
    tone = tmp_path / "tone.pcap"
    write_tone_pcap(tone, 700.0, seconds=20.0)
    # SeaweedFS takes a while to come back on a busy machine: sipp waits as long.
    patient = ["-timeout", "180s"]
    agent = sipp("uas_answer_play.xml", keys={"pcap": str(tone)}, extra=patient, name="agent")
    customer = sipp(
        "uas_answer_play.xml",
        keys={"pcap": str(tone)},
        extra=["-m", "2", *patient],
        name="customer",
    )
    store = seaweed.store(timeout_s=2.0)
    recorder = CallRecorder(RecordingWriter(tmp_path / "spool", min_free_bytes=0), store)
    outcomes = Outcomes()

    async def recorded_call(trunk, call_id: str, during) -> tuple[Recorder, dict[str, int]]:
        rec = Recorder()
        await trunk.originate(OriginateRequest(call_id, "+989121234567", "+982100000000", 5), rec)
        await asyncio.wait_for(rec.answered.wait(), 5)
        await trunk.bridge(call_id, "agent-1")
        trunk.record(call_id, recorder.open(call_id, 3, datetime.now(UTC), outcomes))
        await asyncio.sleep(1.0)
        relayed_before = trunk.media_stats("agent-1")["relayed_in"]
        await asyncio.to_thread(during)
        await asyncio.sleep(1.5)
        relayed_after = trunk.media_stats("agent-1")["relayed_in"]
        await trunk.hang_up(call_id)
        await asyncio.wait_for(rec.ended.wait(), 5)
        return rec, {"relayed_while_store_gone": relayed_after - relayed_before}

    async def go():
        trunk = trunk_for(customer.uri)
        await trunk.start()
        recorder.start()
        agent_rec = Recorder()
        try:
            await trunk.connect_agent(AgentLegRequest("agent-1", agent.uri), agent_rec)
            await asyncio.wait_for(agent_rec.answered.wait(), 5)
            first = await recorded_call(trunk, "call-1", seaweed.stop)
            await asyncio.to_thread(outcomes.wait_for, "call-1")
            await asyncio.to_thread(seaweed.start)
            second = await recorded_call(trunk, "call-2", lambda: None)
            await trunk.disconnect_agent("agent-1")
        finally:
            await trunk.stop()
            await asyncio.to_thread(recorder.stop)
        return first, second

    (first_rec, first_media), (second_rec, _) = asyncio.run(go())
    # The call went on while the store was gone, and ended when we hung up.
    assert first_media["relayed_while_store_gone"] >= 60  # 1.5 s of 20 ms frames, some slack
    assert (first_rec.final.outcome, first_rec.final.sip_reason) == ("answered", "local hangup")
    failed = outcomes.got["call-1"]
    assert not failed.stored
    assert failed.failure_reason is not None and failed.failure_reason.startswith("store: ")
    assert seaweed.endpoint in failed.failure_reason
    stored = outcomes.wait_for("call-2")
    assert stored.stored, stored.failure_reason
    assert second_rec.final.outcome == "answered"
    assert stored.storage_key is not None
    assert store.size(stored.storage_key) == stored.size_bytes
    assert not list((tmp_path / "spool").iterdir())
