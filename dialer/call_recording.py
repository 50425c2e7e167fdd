"""Recording connected calls: started by the campaign or a user, cut and
uploaded by the recorder's threads, refused uploads tried again now and then."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from callcenter.bus import EventBus
from callcenter.events import RecordingFinished, RecordingRequested, RecordingStarted
from dialer.carrier import Carrier, CarrierError
from dialer.live_calls import LiveCall, LiveCalls
from dialer.recordings import CallRecorder, RecordingOutcome

log = logging.getLogger(__name__)


class RecordingDesk:
    def __init__(
        self,
        *,
        recorder: CallRecorder | None,
        carrier: Carrier,
        bus: EventBus,
        calls: LiveCalls,
        spawn: Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]],
        clock: Callable[[], datetime],
        monotonic: Callable[[], float],
    ) -> None:
        self.recorder = recorder
        self.carrier = carrier
        self.bus = bus
        self.calls = calls
        self._spawn = spawn
        self.clock = clock
        self._now = monotonic
        self._loop: asyncio.AbstractEventLoop | None = None
        self._checked_at: float | None = None
        self._retrying: asyncio.Task[Any] | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.recorder is not None:
            self.recorder.start()

    async def stop(self) -> None:
        if self.recorder is not None:
            await asyncio.to_thread(self.recorder.stop)  # the last files cut and uploaded
            await asyncio.sleep(0)  # their recording.finished events go out

    def record(self, call: LiveCall, trigger: str) -> None:
        """Record the bridged call from now to its hang-up. Whatever goes wrong
        here (no recorder, disk full, no media) is the recording's failure,
        never the call's."""
        if call.recording is not None or call.ended:
            return
        if self.recorder is None:
            log.warning(
                "call %s: recording asked for, no recorder", call.call_id, extra=call.log_ids
            )
            return
        self.bus.publish(
            RecordingStarted(
                call_id=call.call_id,
                campaign_id=call.plan.id,
                trigger=trigger,
                consent_played=call.consent_played,
            )
        )
        recording = self.recorder.open(call.call_id, call.plan.id, self.clock(), self._done)
        call.recording = recording
        try:
            self.carrier.record(call.call_id, recording)
        except CarrierError as exc:
            recording.fail(f"no call audio: {exc}")
            recording.finish()

    def on_request(self, event: RecordingRequested) -> None:
        call = self.calls.get(event.call_id)
        if call is None or call.connected_at is None or call.plan.recording == "off":
            log.info(
                "recording of %s asked for by user %s: no connected call that may be recorded",
                event.call_id,
                event.requested_by,
                extra={"call_id": event.call_id},
            )
            return
        self.record(call, event.trigger)

    def retry_uploads_when_due(self, every_s: float) -> None:
        """Every `every_s`, in a thread, one pass at a time."""
        if self.recorder is None:
            return
        mono = self._now()
        if self._checked_at is not None and mono - self._checked_at < every_s:
            return
        if self._retrying is not None and not self._retrying.done():
            return
        self._checked_at = mono
        self._retrying = self._spawn(asyncio.to_thread(self.recorder.retry_uploads, self._done))

    def _done(self, outcome: RecordingOutcome) -> None:
        """From the recorder's threads: recording.finished goes out from the loop."""
        event = RecordingFinished(**vars(outcome))
        loop = self._loop
        if loop is None or loop.is_closed():
            self.bus.publish(event)
        else:
            loop.call_soon_threadsafe(self.bus.publish, event)
