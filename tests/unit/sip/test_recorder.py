"""The recorder's file: stereo FLAC cut at the bridge and the hang-up, each
packet placed by its arrival (a lost stretch is silence, not a shift), and
a recording that cannot go on ends failed with the reason."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import soundfile

from dialer.sip import g711
from dialer.sip.recorder import AGENT, CUSTOMER, RecordingResult, RecordingWriter
from dialer.sip.sdp import PCMA, PCMU

FRAME = 160
LOUD = 8000


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _frame(codec: int, value: int = LOUD) -> bytes:
    return g711.encode(np.full(FRAME, value, dtype="<i2").tobytes(), codec)


def _finished(writer: RecordingWriter, record) -> RecordingResult:  # type: ignore[no-untyped-def]
    results: list[RecordingResult] = []
    done = threading.Event()

    def finished(result: RecordingResult) -> None:
        results.append(result)
        done.set()

    recording = writer.open("call-1", finished)
    record(recording)
    assert done.wait(10)
    return results[0]


def test_each_side_placed_by_arrival_and_the_file_as_long_as_the_bridge(tmp_path: Path) -> None:
    clock = Clock()
    writer = RecordingWriter(tmp_path, min_free_bytes=0, clock=clock)
    writer.start()

    def call(recording) -> None:  # type: ignore[no-untyped-def]
        for index in range(50):  # 1 s of the customer, with 0.3-0.6 s lost on the way
            clock.now = 100.0 + (index + 1) * 0.02
            if not 15 <= index < 30:
                recording.feed(CUSTOMER, PCMU, _frame(PCMU))
            if index >= 25:  # the agent speaks from 0.5 s, in A-law
                recording.feed(AGENT, PCMA, _frame(PCMA, -LOUD))
        clock.now = 101.5
        recording.finish()

    result = _finished(writer, call)
    writer.stop()
    assert result.ok, result.reason
    assert result.path is not None
    audio, rate = soundfile.read(result.path, dtype="int16")
    assert (rate, audio.shape) == (8000, (12000, 2))  # 1.5 s: the bridge, not the audio
    assert result.duration_ms == 1500
    left, right = audio[:, 0], audio[:, 1]
    assert np.all(np.abs(left[: 15 * FRAME] - LOUD) < 200)
    assert np.all(left[15 * FRAME : 30 * FRAME] == 0)  # the lost stretch: silence in its place
    assert np.all(np.abs(left[30 * FRAME : 50 * FRAME] - LOUD) < 200)
    assert np.all(left[50 * FRAME :] == 0)  # after the last packet, to the hang-up
    assert np.all(right[: 25 * FRAME] == 0)
    assert np.all(np.abs(right[25 * FRAME : 50 * FRAME] + LOUD) < 200)


def test_a_nearly_full_disk_fails_the_recording_at_once(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path, min_free_bytes=1 << 60)
    writer.start()
    result = _finished(writer, lambda recording: recording.finish())
    writer.stop()
    assert not result.ok
    assert result.reason is not None and result.reason.startswith("disk nearly full: ")
    assert list(tmp_path.iterdir()) == []


def test_a_writer_behind_sheds_the_newest_recording_and_keeps_the_older(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path, min_free_bytes=0, queue_frames=100)  # not started yet
    results: dict[str, RecordingResult] = {}
    done = threading.Event()

    def finished(result: RecordingResult) -> None:
        results[result.recording_id] = result
        if len(results) == 2:
            done.set()

    older, newer = writer.open("older", finished), writer.open("newer", finished)
    for _ in range(60):  # 120 frames for a queue of 100: one recording must go
        older.feed(CUSTOMER, PCMU, _frame(PCMU))
        newer.feed(AGENT, PCMU, _frame(PCMU))
    older.finish()
    newer.finish()
    writer.start()
    assert done.wait(10)
    writer.stop()
    assert results["older"].ok, results["older"].reason
    assert not results["newer"].ok
    assert results["newer"].reason == "the recording writer fell behind (its queue was full)"
    assert writer.refused_frames == 1


def test_a_writer_behind_drops_that_recording_only(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path, min_free_bytes=0, queue_frames=100)  # not started yet

    def flood(recording) -> None:  # type: ignore[no-untyped-def]
        for _ in range(150):
            recording.feed(CUSTOMER, PCMU, _frame(PCMU))
        recording.finish()
        writer.start()

    result = _finished(writer, flood)
    writer.stop()
    assert not result.ok
    assert result.reason == "the recording writer fell behind (its queue was full)"
    assert writer.refused_frames == 1  # refused once; the recording took no more after that
    assert list(tmp_path.iterdir()) == []
