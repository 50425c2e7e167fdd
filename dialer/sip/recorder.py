"""Call recording at the bridge: one stereo FLAC per call, customer left, agent right.

The right channel is what the customer is given from the agents' side
(:attr:`dialer.sip.rtp.RtpEndpoint.sent_tap`): the agent, the agent they were
handed over to, or the mix of a three-way join; silence while on hold. The
file runs from the bridge to the customer's hang-up.

The event loop only timestamps each received audio packet and appends it to
a bounded queue (:meth:`Recording.feed`, a few microseconds); one writer
thread per dialer drains it ten times a second, decodes G.711 (the frames
of a channel that follow each other as one run), places the samples by
arrival time and encodes with libsndfile (``soundfile``).
Nothing here can hold or drop a packet of the call: when the writer falls
behind (the queue is full: the newest recording is shed), the disk is full
or a write fails, that recording ends ``failed`` with the reason and the
relay goes on untouched.

Placement: each channel keeps a cursor; a packet goes at the cursor unless
its arrival says the stream jumped (loss, hold, silence suppression) by more
than 60 ms, when the cursor resyncs to the arrival time. The file is cut at
the bridge and at hang-up; a silent channel is silence, never a shorter file.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from dialer.sip import g711
from dialer.sip.sdp import PCMA, PCMU

log = logging.getLogger(__name__)

RATE = 8000
CUSTOMER, AGENT = 0, 1  # left, right
RESYNC_SAMPLES = 480  # 60 ms
WINDOW_SAMPLES = 2 * RATE  # samples held before they are encoded (late packets land in it)
MEDIA_TYPE = "audio/flac"
FELL_BEHIND = "the recording writer fell behind (its queue was full)"
SUFFIX = "flac"
_DECODE = {codec: np.array(g711.decode_table(codec), dtype=np.int16) for codec in (PCMU, PCMA)}


@dataclass(frozen=True)
class RecordingResult:
    recording_id: str
    ok: bool
    path: Path | None
    duration_ms: int
    size_bytes: int | None = None
    sha256: str | None = None
    reason: str | None = None


FinishedCallback = Callable[[RecordingResult], None]


class Recording:
    """The loop's handle on one call's recording."""

    def __init__(self, writer: RecordingWriter, recording_id: str, path: Path) -> None:
        self.recording_id = recording_id
        self.path = path
        self._writer = writer
        self._clock = writer.clock
        self._started = self._clock()
        self._cursor = [0, 0]
        self.failed: str | None = None
        self.finished = False

    def feed(self, channel: int, payload_type: int, payload: bytes) -> None:
        if self.finished or self.failed is not None or payload_type not in _DECODE:
            return
        arrived_end = round((self._clock() - self._started) * RATE)
        start = self._cursor[channel]
        if abs(arrived_end - len(payload) - start) > RESYNC_SAMPLES:
            start = max(0, arrived_end - len(payload))
        self._cursor[channel] = start + len(payload)
        self._writer.enqueue(self, (channel, start, payload_type, payload))

    def fail(self, reason: str) -> None:
        if self.failed is None and not self.finished:
            self.failed = reason
            self._writer.retire(self)
            self._writer.enqueue(self, None, force=True)

    def finish(self) -> None:
        """The bridge is over (hang-up or unbridge): cut the file here."""
        if self.finished:
            return
        self.finished = True
        if self.failed is not None:
            return  # the writer has been told already
        self._writer.retire(self)
        total = round((self._clock() - self._started) * RATE)
        self._writer.enqueue(self, total, force=True)


class _Open:
    """The writer thread's side of one recording."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.file: soundfile.SoundFile | None = None
        self.window = np.zeros((WINDOW_SAMPLES, 2), dtype=np.int16)
        self.base = 0  # sample index of window[0]; everything before it is in the file
        self.reason: str | None = None
        self.runs: dict[int, list[Any]] = {}  # channel -> [start, payload type, samples, payloads]

    def add(self, channel: int, start: int, payload_type: int, payload: bytes) -> None:
        """Collect a frame; frames that follow each other are decoded and placed as one."""
        run = self.runs.get(channel)
        if run is not None and run[0] + run[2] == start and run[1] == payload_type:
            run[3].append(payload)
            run[2] += len(payload)
            return
        self.settle_channel(channel)
        self.runs[channel] = [start, payload_type, len(payload), [payload]]

    def settle(self) -> None:
        for channel in list(self.runs):
            self.settle_channel(channel)

    def settle_channel(self, channel: int) -> None:
        run = self.runs.pop(channel, None)
        if run is None:
            return
        start, payload_type, _, payloads = run
        samples = _DECODE[payload_type][np.frombuffer(b"".join(payloads), dtype=np.uint8)]
        step = WINDOW_SAMPLES // 2
        for offset in range(0, len(samples), step):
            self.place(channel, start + offset, samples[offset : offset + step])

    def place(self, channel: int, start: int, samples: np.ndarray) -> None:
        end = start + len(samples)
        if end - self.base > WINDOW_SAMPLES:
            self._flush(end - self.base - WINDOW_SAMPLES // 2)
        if start < self.base:  # later than the window: the part before it is lost
            samples = samples[self.base - start :]
            start = self.base
        if len(samples):
            self.window[start - self.base : start - self.base + len(samples), channel] = samples

    def _flush(self, count: int) -> None:
        assert self.file is not None
        whole = min(count, WINDOW_SAMPLES)
        self.file.write(self.window[:whole])
        if count > whole:  # a gap longer than the window: silence
            self.file.write(np.zeros((count - whole, 2), dtype=np.int16))
        self.window = np.roll(self.window, -whole, axis=0)
        self.window[WINDOW_SAMPLES - whole :] = 0
        self.base += count

    def close(self, total: int) -> None:
        self.settle()
        if total > self.base:
            self._flush(total - self.base)
        assert self.file is not None
        self.file.close()


class RecordingWriter:
    """The dialer's one writer thread, shared by every recording.

    The loop appends to a deque (no lock, no wake-up per packet: a
    ``queue.Queue`` woke the writer 10,000 times a second at 100 calls and
    the two threads fought over the GIL until the relay lost packets); the
    writer drains it every ``DRAIN_S`` and does its work in batches.
    """

    DRAIN_S = 0.1

    def __init__(
        self,
        spool: Path,
        *,
        queue_frames: int = 30000,
        min_free_bytes: int = 200 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spool = spool
        self.clock = clock
        self.min_free_bytes = min_free_bytes
        self.queue_frames = queue_frames
        self._pending: collections.deque[tuple[Recording, object]] = collections.deque()
        self._callbacks: dict[str, FinishedCallback] = {}
        self._live: dict[str, Recording] = {}  # being recorded, oldest first (loop side)
        self._drains = 0  # how many times the writer has drained the queue
        self._shed_at = -1  # the drain count when a recording was last shed
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.refused_frames = 0

    def start(self) -> None:
        self.spool.mkdir(parents=True, exist_ok=True)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="recording-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stopping.set()
            self._thread.join(timeout=30)
            self._thread = None

    def open(self, recording_id: str, on_finished: FinishedCallback) -> Recording:
        """A new recording; its result comes to ``on_finished`` on the writer thread."""
        path = self.spool / f"{recording_id}.{SUFFIX}"
        recording = Recording(self, recording_id, path)
        self._callbacks[recording_id] = on_finished
        self._live[recording_id] = recording
        free = shutil.disk_usage(self.spool).free
        if free < self.min_free_bytes:
            recording.fail(f"disk nearly full: {free // (1024 * 1024)} MB free in {self.spool}")
        else:
            self.enqueue(recording, "open", force=True)
        return recording

    def retire(self, recording: Recording) -> None:
        self._live.pop(recording.recording_id, None)

    def enqueue(self, recording: Recording, item: object, *, force: bool = False) -> None:
        """From the loop: a frame, or (``force``) a control item that must arrive.

        A full queue sheds the newest recording, one per drain of the writer,
        so an overload costs the fewest recordings and the oldest are kept;
        past twice the limit a recording that offers a frame is dropped."""
        waiting = len(self._pending)
        if not force and waiting >= self.queue_frames:
            if self._shed_at != self._drains and self._live:
                self._shed_at = self._drains
                self.refused_frames += 1
                next(reversed(self._live.values())).fail(FELL_BEHIND)
            if recording.failed is not None:
                return
            if waiting >= 2 * self.queue_frames:
                self.refused_frames += 1
                recording.fail(FELL_BEHIND)
                return
        self._pending.append((recording, item))

    # the writer thread ------------------------------------------------------------------
    def _run(self) -> None:
        open_files: dict[str, _Open] = {}
        while True:
            stopping = self._stopping.wait(self.DRAIN_S)
            self._drain(open_files)
            if stopping:
                break
        for state in open_files.values():
            self._end(state.recording, state, None, "the dialer stopped")

    def _drain(self, open_files: dict[str, _Open]) -> None:
        self._drains += 1
        pending = self._pending
        for _ in range(len(pending)):
            recording, item = pending.popleft()
            state = open_files.get(recording.recording_id)
            try:
                if isinstance(item, tuple):
                    if state is not None and state.reason is None:
                        state.add(*item)
                elif item == "open":
                    state = _Open(recording)
                    open_files[recording.recording_id] = state
                    state.file = soundfile.SoundFile(
                        recording.path, "w", RATE, 2, "PCM_16", format="FLAC"
                    )
                else:  # None: failed, int: finished with this many samples
                    open_files.pop(recording.recording_id, None)
                    self._end(recording, state, item if isinstance(item, int) else None)
            except (OSError, RuntimeError, soundfile.SoundFileError) as exc:
                reason = f"writing {recording.path.name} failed: {exc}"
                log.warning("recording %s: %s", recording.recording_id, reason)
                if state is not None:
                    state.reason = reason
                recording.failed = recording.failed or reason
        for state in open_files.values():
            if state.reason is None:
                try:
                    state.settle()
                except (OSError, RuntimeError, soundfile.SoundFileError) as exc:
                    state.reason = f"writing {state.recording.path.name} failed: {exc}"
                    state.recording.failed = state.recording.failed or state.reason

    def _end(
        self,
        recording: Recording,
        state: _Open | None,
        total: int | None,
        reason: str | None = None,
    ) -> None:
        callback = self._callbacks.pop(recording.recording_id, None)
        reason = reason or recording.failed or (state.reason if state is not None else None)
        result: RecordingResult
        if reason is None and state is not None and total is not None:
            try:
                state.close(total)
                result = self._result(recording, total)
            except (OSError, RuntimeError, soundfile.SoundFileError) as exc:
                reason = f"finishing {recording.path.name} failed: {exc}"
        if reason is not None:
            if state is not None and state.file is not None and not state.file.closed:
                state.file.close()
            recording.path.unlink(missing_ok=True)
            duration = round(1000 * (total or 0) / RATE)
            result = RecordingResult(recording.recording_id, False, None, duration, reason=reason)
            log.warning("recording %s failed: %s", recording.recording_id, reason)
        if callback is not None:
            try:
                callback(result)
            except Exception:
                log.exception("recording %s: the finished callback failed", recording.recording_id)

    @staticmethod
    def _result(recording: Recording, total: int) -> RecordingResult:
        digest = hashlib.sha256()
        with recording.path.open("rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
        return RecordingResult(
            recording.recording_id,
            True,
            recording.path,
            round(1000 * total / RATE),
            size_bytes=os.path.getsize(recording.path),
            sha256=digest.hexdigest(),
        )
