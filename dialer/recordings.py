"""The dialer's call recorder: the writer thread and the upload to the store.

A recording is written into the spool while the call is up
(:mod:`dialer.sip.recorder`); once it is cut at hang-up the file goes to the
store (a folder, or S3 shared by every dialer) from a small pool of upload
threads, so a slow or dead store never touches the event loop or a call.
Each outcome, stored or failed with its reason, goes to ``on_done``.

A file the store refused is not lost: it waits in the spool's
``upload-retry`` folder (the file and a JSON note beside it, so a restarted
dialer carries on) and :meth:`CallRecorder.retry_uploads`, called
periodically by the dialer, tries again with a doubling wait until the store
takes it or the attempts run out.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
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
    retrying: bool = False
    """Not stored yet: the file waits in the spool and its upload is tried again."""


DoneCallback = Callable[[RecordingOutcome], None]

RETRY_FOLDER = "upload-retry"
MAX_RETRY_WAIT_S = 3600.0


@dataclass
class PendingUpload:
    call_id: str
    key: str
    duration_ms: int
    size_bytes: int | None
    sha256: str | None
    attempts: int
    next_at: float
    """Wall-clock seconds (time.time), so the wait survives a restart."""
    reason: str


class UploadRetries:
    """The spool's recordings waiting for the store, one file and one note each."""

    def __init__(
        self,
        folder: Path,
        *,
        first_wait_s: float = 30.0,
        attempts: int = 12,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.folder = folder
        self.first_wait_s = first_wait_s
        self.attempts = attempts
        self.clock = clock
        self._lock = threading.Lock()  # one retry pass at a time

    def wait_after(self, attempts: int) -> float:
        return float(min(self.first_wait_s * 2 ** (attempts - 1), MAX_RETRY_WAIT_S))

    def _file(self, call_id: str) -> Path:
        return self.folder / f"{call_id}.{SUFFIX}"

    def _note(self, call_id: str) -> Path:
        return self.folder / f"{call_id}.json"

    def keep(self, path: Path, upload: PendingUpload) -> None:
        """Move the refused file here; the note is written last, so a note
        always has its file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        os.replace(path, self._file(upload.call_id))
        self._save(upload)

    def _save(self, upload: PendingUpload) -> None:
        partial = self._note(upload.call_id).with_suffix(".json.part")
        partial.write_text(json.dumps(asdict(upload)))
        os.replace(partial, self._note(upload.call_id))

    def _drop(self, call_id: str) -> None:
        self._note(call_id).unlink(missing_ok=True)
        self._file(call_id).unlink(missing_ok=True)

    def pending(self) -> list[PendingUpload]:
        if not self.folder.is_dir():
            return []
        found = []
        for note in sorted(self.folder.glob("*.json")):
            try:
                found.append(PendingUpload(**json.loads(note.read_text())))
            except (OSError, ValueError, TypeError) as exc:
                log.warning("recording upload note %s unreadable: %s", note.name, exc)
        return found

    def retry_due(self, store: RecordingStore, on_done: DoneCallback) -> int:
        """Upload each recording whose wait is over; returns how many were tried."""
        with self._lock:
            due = [upload for upload in self.pending() if upload.next_at <= self.clock()]
            for upload in due:
                self._retry(store, upload, on_done)
            return len(due)

    def _retry(self, store: RecordingStore, upload: PendingUpload, on_done: DoneCallback) -> None:
        path = self._file(upload.call_id)
        extra = {"call_id": upload.call_id}
        try:
            store.put(upload.key, path, MEDIA_TYPE)
        except StoreError as exc:
            upload.attempts += 1
            upload.reason = f"store: {exc}"
            if upload.attempts < self.attempts:
                upload.next_at = self.clock() + self.wait_after(upload.attempts)
                self._save(upload)
                log.info(
                    "recording of %s: upload %d failed, tried again later: %s",
                    upload.call_id,
                    upload.attempts,
                    exc,
                    extra=extra,
                )
                return
            self._drop(upload.call_id)
            log.warning(
                "recording of %s: given up after %d uploads: %s",
                upload.call_id,
                upload.attempts,
                exc,
                extra=extra,
            )
            reason = f"{upload.reason} (gave up after {upload.attempts} uploads)"
            on_done(
                RecordingOutcome(
                    upload.call_id, False, upload.duration_ms, failure_reason=_short(reason)
                )
            )
            return
        self._drop(upload.call_id)
        log.info(
            "recording of %s stored on upload %d",
            upload.call_id,
            upload.attempts + 1,
            extra=extra,
        )
        on_done(
            RecordingOutcome(
                upload.call_id,
                True,
                upload.duration_ms,
                size_bytes=upload.size_bytes,
                sha256=upload.sha256,
                storage_key=upload.key,
            )
        )


def _short(reason: str) -> str:
    """The reason as the recording row holds it (255 characters), its end kept."""
    return reason if len(reason) <= 255 else reason[:200] + " … " + reason[-52:]


class CallRecorder:
    def __init__(
        self,
        writer: RecordingWriter,
        store: RecordingStore,
        *,
        uploaders: int = 2,
        retries: UploadRetries | None = None,
    ):
        self.writer = writer
        self.store = store
        self.retries = retries or UploadRetries(writer.spool / RETRY_FOLDER)
        self._uploads = ThreadPoolExecutor(uploaders, thread_name_prefix="recording-upload")

    @classmethod
    def from_settings(cls, settings: Settings, store: RecordingStore) -> CallRecorder:
        recording = settings.recording
        writer = RecordingWriter(
            settings.recording_spool,
            queue_frames=recording.queue_frames,
            min_free_bytes=recording.min_free_mb * 1024 * 1024,
        )
        retries = UploadRetries(
            settings.recording_spool / RETRY_FOLDER,
            first_wait_s=recording.upload_retry_seconds,
            attempts=recording.upload_attempts,
        )
        return cls(writer, store, retries=retries)

    def retry_uploads(self, on_done: DoneCallback) -> int:
        """Try again the uploads whose wait is over (from a thread: it blocks)."""
        return self.retries.retry_due(self.store, on_done)

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
            outcome = self._keep_for_retry(call_id, key, result, f"store: {exc}")
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

    def _keep_for_retry(
        self, call_id: str, key: str, result: RecordingResult, reason: str
    ) -> RecordingOutcome:
        failed = RecordingOutcome(call_id, False, result.duration_ms, failure_reason=_short(reason))
        if self.retries.attempts <= 1:
            return failed
        upload = PendingUpload(
            call_id=call_id,
            key=key,
            duration_ms=result.duration_ms,
            size_bytes=result.size_bytes,
            sha256=result.sha256,
            attempts=1,
            next_at=self.retries.clock() + self.retries.wait_after(1),
            reason=reason,
        )
        assert result.path is not None
        try:
            self.retries.keep(result.path, upload)
        except OSError as exc:
            log.warning("recording of %s cannot wait for the store: %s", call_id, exc)
            return failed
        return RecordingOutcome(
            call_id,
            False,
            result.duration_ms,
            size_bytes=result.size_bytes,
            sha256=result.sha256,
            failure_reason=_short(reason),
            retrying=True,
        )
