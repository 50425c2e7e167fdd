"""The dialer's call recorder: the writer thread and the upload to the store.

A recording is written into the spool while the call is up
(:mod:`dialer.sip.recorder`); once it is cut at hang-up the file goes to the
store (a folder, or S3 shared by every dialer) from a small pool of upload
threads, so a slow or dead store never touches the event loop or a call.
Each outcome, stored or failed with its reason, goes to ``on_done``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from callcenter.recording_store import RecordingStore, StoreError, recording_key
from callcenter.settings import Settings
from dialer.sip.recorder import (
    MEDIA_TYPE,
    SUFFIX,
    Recording,
    RecordingResult,
    RecordingWriter,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordingOutcome:
    call_id: str
    stored: bool
    duration_ms: int
    size_bytes: int | None = None
    sha256: str | None = None
    storage_key: str | None = None
    media_type: str = MEDIA_TYPE
    failure_reason: str | None = None


DoneCallback = Callable[[RecordingOutcome], None]


class CallRecorder:
    def __init__(self, writer: RecordingWriter, store: RecordingStore, *, uploaders: int = 2):
        self.writer = writer
        self.store = store
        self._uploads = ThreadPoolExecutor(uploaders, thread_name_prefix="recording-upload")

    @classmethod
    def from_settings(cls, settings: Settings, store: RecordingStore) -> CallRecorder:
        recording = settings.recording
        writer = RecordingWriter(
            settings.recording_spool,
            queue_frames=recording.queue_frames,
            min_free_bytes=recording.min_free_mb * 1024 * 1024,
        )
        return cls(writer, store)

    def start(self) -> None:
        self.writer.start()

    def stop(self) -> None:
        """Finish what is written and uploading (the calls have ended by now)."""
        self.writer.stop()
        self._uploads.shutdown(wait=True)

    def open(
        self, call_id: str, campaign_id: int, started_at: datetime, on_done: DoneCallback
    ) -> Recording:
        key = recording_key(campaign_id, call_id, started_at, SUFFIX)

        def written(result: RecordingResult) -> None:
            if not result.ok or result.path is None:
                on_done(
                    RecordingOutcome(
                        call_id, False, result.duration_ms, failure_reason=result.reason
                    )
                )
                return
            self._uploads.submit(self._upload, call_id, key, result, on_done)

        return self.writer.open(call_id, written)

    def _upload(
        self, call_id: str, key: str, result: RecordingResult, on_done: DoneCallback
    ) -> None:
        path = result.path
        assert path is not None
        try:
            self.store.put(key, path, MEDIA_TYPE)
        except StoreError as exc:
            log.warning("recording of %s not stored: %s", call_id, exc, extra={"call_id": call_id})
            outcome = RecordingOutcome(
                call_id, False, result.duration_ms, failure_reason=f"store: {exc}"[:255]
            )
        else:
            outcome = RecordingOutcome(
                call_id,
                True,
                result.duration_ms,
                size_bytes=result.size_bytes,
                sha256=result.sha256,
                storage_key=key,
            )
        finally:
            Path(path).unlink(missing_ok=True)
        on_done(outcome)
