"""The thread that sends webhook deliveries from the outbox
(callcenter.services.webhooks), off the path that applies events: a slow or
dead receiver costs a sender thread its timeout, never a call event.

Which process runs it: `callcenter consume` in production; in the embedded
default (no Redis, no consumer process) the web process itself, as for lead
imports (callcenter.lead_import_worker). Several may run: each delivery is
leased to one sender at a time.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from callcenter.db import Database, utcnow
from callcenter.services import webhooks
from callcenter.settings import WebhookSettings

log = logging.getLogger(__name__)


class WebhookWorker:
    def __init__(
        self, database: Database, settings: WebhookSettings, *, poll_seconds: float = 1.0
    ) -> None:
        self.database = database
        self.settings = settings
        self.poll_seconds = poll_seconds
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> WebhookWorker:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
            self._thread.start()
        return self

    def wake(self, _event: object = None) -> None:
        self._wakeup.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the attempts in flight (each ends by its timeout)."""
        self._stopping.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def send_due(self, pool: ThreadPoolExecutor, http: requests.Session) -> int:
        """Send every delivery due now, `senders` at a time; how many were tried."""
        sent = 0
        while not self._stopping.is_set():
            claimed = webhooks.claim_due(self.database, self.settings, limit=self.settings.senders)
            if not claimed:
                return sent
            for _ in pool.map(lambda c: self._send(c, http), claimed):
                sent += 1
        return sent

    def _send(self, claimed: webhooks.Claimed, http: requests.Session) -> None:
        outcome = webhooks.post(claimed, self.settings, http)
        status = webhooks.record(self.database, self.settings, claimed.delivery_id, outcome)
        log.info(
            "webhook %s %s to %s: %s (%s)",
            claimed.event_type,
            claimed.event_id,
            claimed.url,
            outcome.status_code or outcome.error,
            status,
        )

    def _run(self) -> None:
        with (
            ThreadPoolExecutor(self.settings.senders, thread_name_prefix="webhook") as pool,
            requests.Session() as http,
        ):
            while not self._stopping.is_set():
                self._wakeup.clear()
                try:
                    self.send_due(pool, http)
                    due = webhooks.next_due(self.database)
                except Exception:
                    log.exception("webhook sender: a round failed; trying again shortly")
                    due = None
                wait = self.poll_seconds
                if due is not None:
                    wait = min(wait, max((due - utcnow()).total_seconds(), 0.05))
                self._wakeup.wait(wait)
