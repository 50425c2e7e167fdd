"""The thread that sends the queued SMS (callcenter.services.sms) and follows
their delivery, off the path that applies events; in `callcenter consume`
(or the web process in the embedded default), like the webhook sender."""

from __future__ import annotations

import logging
import threading
from zoneinfo import ZoneInfo

import requests

from callcenter.db import Database, utcnow
from callcenter.services import sms
from callcenter.settings import SmsSettings
from callcenter.sms_providers import provider_from

log = logging.getLogger(__name__)


class SmsWorker:
    def __init__(
        self, database: Database, settings: SmsSettings, timezone: str, *, poll_seconds: float = 5
    ) -> None:
        self.database = database
        self.settings = settings
        self.tz = ZoneInfo(timezone)
        self.poll_seconds = poll_seconds
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> SmsWorker:
        if self._thread is None and self.settings.provider != "none":
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="sms", daemon=True)
            self._thread.start()
        return self

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        with requests.Session() as http:
            provider = provider_from(self.settings, http)
            if provider is None:
                log.error("sms: provider %s is not configured; not sending", self.settings.provider)
                return
            while not self._stopping.is_set():
                self._wakeup.clear()
                due = None
                try:
                    sms.send_due(self.database, provider, self.settings, self.tz)
                    sms.check_delivery(self.database, provider)
                    due = sms.next_due(self.database)
                except Exception:
                    log.exception("sms sender: a round failed; trying again shortly")
                wait = self.poll_seconds
                if due is not None:
                    wait = min(wait, max((due - utcnow()).total_seconds(), 0.05))
                self._wakeup.wait(wait)
