"""The recordings' S3 store (a real SeaweedFS) goes away during a recorded
call: the call goes on to its hang-up, the recording waits in the spool with
the reason; the store comes back, the next call is recorded and the retry
uploads the first. A store that never comes back: failed after the attempts."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcenter.recording_store import S3Store
from dialer.carrier import AgentLegRequest, OriginateRequest
from dialer.recordings import RETRY_FOLDER, CallRecorder, RecordingOutcome, UploadRetries
from dialer.sip.recorder import RecordingWriter
from tests.integration.recording.seaweed import BUCKET, Seaweed
from tests.integration.sip.helpers import Recorder, trunk_for
from tests.integration.sip.tone import write_tone_pcap
from tests.support import free_port

pytestmark = pytest.mark.sipp


class Outcomes:
    def __init__(self) -> None:
        self.got: dict[str, RecordingOutcome] = {}
        self.all: list[RecordingOutcome] = []
        self.changed = threading.Condition()

    def __call__(self, outcome: RecordingOutcome) -> None:
        with self.changed:
            self.got[outcome.call_id] = outcome
            self.all.append(outcome)
            self.changed.notify_all()

    def wait_for(self, call_id: str, timeout: float = 20.0) -> RecordingOutcome:
        with self.changed:
            assert self.changed.wait_for(lambda: call_id in self.got, timeout), call_id
            return self.got[call_id]


class Clock:
    """The retries' wall clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


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
    clock = Clock()
    retries = UploadRetries(tmp_path / "spool" / RETRY_FOLDER, first_wait_s=30, clock=clock)
    recorder = CallRecorder(
        RecordingWriter(tmp_path / "spool", min_free_bytes=0), store, retries=retries
    )
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
            clock.now += 31  # the first wait is over; the store is still down
            assert await asyncio.to_thread(recorder.retry_uploads, outcomes) == 1
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
    [waiting] = [
        o for o in outcomes.all if o.call_id == "call-1"
    ]  # the retry in the outage said nothing
    assert not waiting.stored and waiting.retrying
    assert waiting.failure_reason is not None and waiting.failure_reason.startswith("store: ")
    assert seaweed.endpoint in waiting.failure_reason
    [pending] = retries.pending()
    assert (pending.call_id, pending.attempts) == ("call-1", 2)
    assert pending.next_at == clock.now + 60  # the wait doubled
    stored = outcomes.wait_for("call-2")
    assert stored.stored, stored.failure_reason
    assert second_rec.final.outcome == "answered"
    assert stored.storage_key is not None
    assert store.size(stored.storage_key) == stored.size_bytes

    assert recorder.retry_uploads(outcomes) == 0  # not due yet
    clock.now += 61
    assert recorder.retry_uploads(outcomes) == 1
    uploaded = outcomes.got["call-1"]
    assert uploaded.stored and not uploaded.retrying
    assert uploaded.storage_key is not None and uploaded.storage_key.endswith("/call-1.flac")
    assert uploaded.sha256 == waiting.sha256 and uploaded.size_bytes == waiting.size_bytes
    assert store.size(uploaded.storage_key) == uploaded.size_bytes
    assert b"".join(store.read(uploaded.storage_key, 0, 3)) == b"fLaC"
    assert retries.pending() == []
    assert not [path for path in (tmp_path / "spool").rglob("*") if path.is_file()]


def test_a_store_that_never_comes_back_fails_the_recording_after_its_attempts(
    tmp_path: Path,
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = S3Store(nobody, BUCKET, access_key="test", secret_key="test", timeout_s=1.0)
    clock = Clock()
    retries = UploadRetries(
        tmp_path / "spool" / RETRY_FOLDER, first_wait_s=10, attempts=3, clock=clock
    )
    recorder = CallRecorder(
        RecordingWriter(tmp_path / "spool", min_free_bytes=0), store, retries=retries
    )
    outcomes = Outcomes()
    recorder.start()
    try:
        recording = recorder.open("call-y", 3, datetime.now(UTC), outcomes)
        recording.finish()
        first = outcomes.wait_for("call-y")
    finally:
        recorder.stop()
    assert first.retrying and nobody in (first.failure_reason or "")
    clock.now += 10
    assert recorder.retry_uploads(outcomes) == 1
    assert outcomes.got["call-y"] is first  # still waiting: attempt 2 of 3
    clock.now += 20
    assert recorder.retry_uploads(outcomes) == 1
    given_up = outcomes.got["call-y"]
    assert not given_up.stored and not given_up.retrying
    assert given_up.failure_reason is not None
    assert given_up.failure_reason.startswith("store: ") and nobody in given_up.failure_reason
    assert given_up.failure_reason.endswith("(gave up after 3 uploads)")
    assert retries.pending() == []
    assert not list((tmp_path / "spool" / RETRY_FOLDER).iterdir())
