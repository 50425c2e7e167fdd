"""The thread that runs queued lead imports (callcenter.services.lead_import_jobs),
one at a time, a chunk per transaction.

Which process runs it: `callcenter consume` in production (it exists to do
the work no request should wait for; a web process under the gevent worker
must not spend seconds of CPU parsing a file between its sockets), and in
the embedded default (no Redis, so no consumer process) the web process
itself: `callcenter run`, `callcenter web` and callcenter.wsgi start it
there. Several workers may run (several consumers): each import is claimed
by one, and taken over when its worker stops beating.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from callcenter.db import Database
from callcenter.services import lead_import_jobs

log = logging.getLogger(__name__)

# A pause after each chunk's commit: SQLite hands its write lock to whoever
# asks first, and the dialer's writers wait on a busy handler that sleeps
# between tries, so without a gap the importer would win it chunk after chunk.
# Under gevent the pause also lets the other greenlets run.
PAUSE_BETWEEN_CHUNKS = 0.02


class LeadImportWorker:
    def __init__(self, database: Database, *, poll_seconds: float = 2.0) -> None:
        self.database = database
        self.poll_seconds = poll_seconds
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LeadImportWorker:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="lead-import", daemon=True)
            self._thread.start()
        return self

    def wake(self) -> None:
        """An import was queued: look now rather than at the next poll."""
        self._wakeup.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the chunk in hand; the import is given back to the queue."""
        self._stopping.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_pending(self) -> int:
        """Run every import that can be claimed now; how many were run."""
        ran = 0
        while not self._stopping.is_set():
            import_id = lead_import_jobs.claim_next(self.database, self.name)
            if import_id is None:
                return ran
            self.run(import_id)
            ran += 1
        return ran

    def run(self, import_id: int) -> None:
        log.info("lead import %s: started by %s", import_id, self.name)
        try:
            state = lead_import_jobs.run_import(
                self.database,
                import_id,
                self.name,
                after_chunk=lambda _rows: time.sleep(PAUSE_BETWEEN_CHUNKS),
                should_stop=self._stopping.is_set,
            )
        except lead_import_jobs.ImportLost:
            log.warning("lead import %s was taken over by another worker", import_id)
            return
        log.info("lead import %s: %s", import_id, state)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()
            try:
                self.run_pending()
            except Exception:
                # The database unreachable, or a bug in one import: the import
                # stays claimed, stops beating, and is tried again when stale.
                log.exception("lead import worker: a run failed; trying again shortly")
            self._wakeup.wait(self.poll_seconds)
