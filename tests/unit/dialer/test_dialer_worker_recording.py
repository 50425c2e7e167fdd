"""The worker and call recording: the notice before the agent, a recording
from the bridge for campaigns that record every call, on demand for the
others, and a recording that cannot start fails alone."""

from __future__ import annotations

import asyncio
import time
import wave
from dataclasses import replace
from pathlib import Path
from typing import Any

import soundfile

from callcenter.events import (
    CallConnected,
    RecordingFinished,
    RecordingRequested,
    RecordingStarted,
)
from callcenter.recording_store import FolderStore, RecordingStore
from dialer.carrier import CarrierError
from dialer.consent_prompts import ConsentPromptCache
from dialer.ports import AgentPhase, Mode
from dialer.recordings import RETRY_FOLDER, CallRecorder, DoneCallback, UploadRetries
from dialer.sip.recorder import AGENT, CUSTOMER, RecordingWriter
from dialer.voices import consent_wav
from tests.unit.dialer.test_dialer_worker_decisions import Harness, settle

READY = AgentPhase.READY


def _recording(tmp_path: Path, mode: str, consent: bool = True) -> Harness:
    h = Harness(Mode.PROGRESSIVE, [READY])
    h.plan = replace(h.plan, recording=mode, recording_consent=consent, locale="fa")
    h.services.plans = [h.plan]
    writer = RecordingWriter(tmp_path / "spool", min_free_bytes=0)
    h.worker.recorder = CallRecorder(writer, FolderStore(tmp_path / "store"))
    return h


async def _until(condition, timeout: float = 30.0, *, tick: Harness | None = None) -> None:
    """Wait for what the recorder's threads do; a loaded machine can hold a
    thread back for seconds, so the timeout is only there to end a hang.
    With `tick`, tick meanwhile, as the worker's loop does."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        if tick is not None:
            await tick.tick()
        await asyncio.sleep(0.01)


class CountedRetries(UploadRetries):
    """How many uploads each finished retry pass tried."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.passes: list[int] = []

    def retry_due(self, store: RecordingStore, on_done: DoneCallback) -> int:
        tried = super().retry_due(store, on_done)
        self.passes.append(tried)
        return tried


def test_every_call_recorded_after_the_notice(tmp_path: Path) -> None:
    h = _recording(tmp_path, "all")

    async def scenario(h: Harness) -> None:
        await h.tick()
        call_id = h.carrier.originated[0].call_id
        h.carrier.answer(call_id)
        await settle()
        assert h.carrier.prompts == [(call_id, consent_wav("fa"))]
        [(recorded_id, sink)] = h.carrier.recorded
        assert recorded_id == call_id
        for _ in range(5):
            sink.feed(CUSTOMER, 0, b"\x7f" * 160)
            sink.feed(AGENT, 0, b"\x7f" * 160)
        await asyncio.sleep(0.3)
        h.carrier.end(call_id, "answered")
        await _until(lambda: h.bus.of(RecordingFinished))
        await h.worker.shutdown()

    h.run(scenario)
    (connected,) = h.bus.of(CallConnected)
    (started,) = h.bus.of(RecordingStarted)
    assert (started.call_id, started.trigger, started.consent_played) == (
        connected.call_id,
        "campaign",
        True,
    )
    (finished,) = h.bus.of(RecordingFinished)
    assert finished.stored, finished.failure_reason
    assert finished.storage_key is not None and finished.storage_key.startswith("1/")
    audio, rate = soundfile.read(tmp_path / "store" / finished.storage_key)
    assert audio.shape[1] == 2 and abs(len(audio) / rate - finished.duration_ms / 1000) < 0.01
    assert 250 <= finished.duration_ms <= 1000


def test_on_demand_waits_for_the_agent_or_a_supervisor(tmp_path: Path) -> None:
    h = _recording(tmp_path, "on_demand", consent=False)

    async def scenario(h: Harness) -> None:
        await h.tick()
        call_id = h.carrier.originated[0].call_id
        h.carrier.answer(call_id)
        await settle()
        assert h.carrier.prompts == [] and h.carrier.recorded == []
        await h.worker.on_agent_request(
            RecordingRequested(call_id=call_id, requested_by=7, trigger="supervisor")
        )
        await h.worker.on_agent_request(
            RecordingRequested(call_id=call_id, requested_by=8, trigger="agent")
        )
        h.carrier.end(call_id, "answered")
        await _until(lambda: h.bus.of(RecordingFinished))
        await h.worker.shutdown()

    h.run(scenario)
    (started,) = h.bus.of(RecordingStarted)  # the second ask found it recording
    assert (started.trigger, started.consent_played) == ("supervisor", False)


def test_no_recording_no_notice_when_the_campaign_records_nothing(tmp_path: Path) -> None:
    h = _recording(tmp_path, "off")

    async def scenario(h: Harness) -> None:
        await h.tick()
        call_id = h.carrier.originated[0].call_id
        h.carrier.answer(call_id)
        await settle()
        await h.worker.on_agent_request(
            RecordingRequested(call_id=call_id, requested_by=8, trigger="agent")
        )
        h.carrier.end(call_id, "answered")
        await settle()

    h.run(scenario)
    assert h.carrier.prompts == [] and h.carrier.recorded == []
    assert h.bus.of(RecordingStarted) == [] and len(h.bus.of(CallConnected)) == 1


def test_a_recording_the_carrier_cannot_tap_fails_and_the_call_goes_on(tmp_path: Path) -> None:
    h = _recording(tmp_path, "all", consent=False)

    def no_media(call_id: str, sink: object) -> None:
        raise CarrierError("the simulated carrier carries no call audio to record")

    h.carrier.record = no_media  # type: ignore[method-assign]

    async def scenario(h: Harness) -> None:
        await h.tick()
        call_id = h.carrier.originated[0].call_id
        h.carrier.answer(call_id)
        await _until(lambda: h.bus.of(RecordingFinished))
        assert call_id in h.carrier.up  # not hung up
        h.carrier.end(call_id, "answered")
        await h.worker.shutdown()

    h.run(scenario)
    (finished,) = h.bus.of(RecordingFinished)
    assert not finished.stored
    assert finished.failure_reason == (
        "no call audio: the simulated carrier carries no call audio to record"
    )


def test_an_uploaded_notice_is_fetched_from_the_store_and_played(tmp_path: Path) -> None:
    h = _recording(tmp_path, "all")
    store = FolderStore(tmp_path / "store")
    notice = tmp_path / "notice.wav"
    with wave.open(str(notice), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x00\x10" * 8000)
    store.put("consent/1/abc.wav", notice, "audio/wav")
    h.plan = replace(h.plan, consent_wav_key="consent/1/abc.wav")
    h.services.plans = [h.plan]
    h.worker.consent_prompts = ConsentPromptCache(store, tmp_path / "cache")

    async def scenario(h: Harness) -> None:
        await h.tick()
        call_id = h.carrier.originated[0].call_id
        h.carrier.answer(call_id)
        await _until(lambda: bool(h.carrier.prompts))
        h.carrier.end(call_id, "answered")
        await h.worker.shutdown()

    h.run(scenario)
    [(_, played)] = h.carrier.prompts
    assert played == str(tmp_path / "cache" / "consent_1_abc.wav")
    assert Path(played).read_bytes() == notice.read_bytes()


def test_a_recording_the_store_refused_is_uploaded_by_a_later_tick(tmp_path: Path) -> None:
    h = _recording(tmp_path, "all", consent=False)
    blocker = tmp_path / "down"
    blocker.write_text("a file where the store's folder should be")
    now = [1_000_000.0]
    writer = RecordingWriter(tmp_path / "spool", min_free_bytes=0)
    retries = CountedRetries(
        tmp_path / "spool" / RETRY_FOLDER, first_wait_s=30, clock=lambda: now[0]
    )
    h.worker.recorder = CallRecorder(writer, FolderStore(blocker / "store"), retries=retries)
    h.worker.config = replace(h.worker.config, upload_retry_every_s=0.0)

    async def scenario(h: Harness) -> None:
        await h.tick()
        call_id = h.carrier.originated[0].call_id
        h.carrier.answer(call_id)
        await _until(lambda: bool(h.carrier.recorded))
        h.carrier.recorded[0][1].feed(CUSTOMER, 0, b"\x7f" * 160)
        await asyncio.sleep(0.3)
        h.carrier.end(call_id, "answered")
        await _until(lambda: bool(h.bus.of(RecordingFinished)))
        blocker.unlink()  # the store is back
        # One retry pass at a time: a tick while the last pass is still in its
        # thread starts none, so the test ticks until a pass has been made.
        passes_before = len(retries.passes)
        await _until(lambda: len(retries.passes) > passes_before, tick=h)
        assert retries.passes[passes_before] == 0  # not due yet: nothing is tried
        assert len(h.bus.of(RecordingFinished)) == 1
        now[0] += 31
        await _until(lambda: len(h.bus.of(RecordingFinished)) == 2, tick=h)
        await h.worker.shutdown()

    h.run(scenario)
    waiting, stored = h.bus.of(RecordingFinished)
    assert waiting.retrying and not waiting.stored
    assert waiting.failure_reason is not None and "folder store" in waiting.failure_reason
    assert stored.stored and not stored.retrying and stored.storage_key is not None
    audio, _ = soundfile.read(blocker / "store" / stored.storage_key)
    assert audio.shape[1] == 2 and stored.sha256 == waiting.sha256
    assert retries.pending() == []
