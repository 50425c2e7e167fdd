"""Wiring: which services consume which bus events. One unit of work per
read of the bus (per event when the read fails); what the services queued
for browsers is sent after it commits."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from flask import Flask
from sqlalchemy.orm import Session

from callcenter.bus import EventBus, NotYet
from callcenter.db import Database, utcnow
from callcenter.errors import NotFound
from callcenter.events import (
    CallAnswered,
    CallConnected,
    CallDialing,
    CallEnded,
    CallRinging,
    Event,
    FollowUpQueued,
    MonitorEnded,
    MonitorStarted,
    PreviewOffered,
    RecordingFinished,
    RecordingStarted,
    TransferProgressed,
)
from callcenter.services import applied_events, call_monitoring, calls, recordings
from callcenter.services.follow_up import FollowUpSender

log = logging.getLogger(__name__)

CALL_EVENTS = (
    CallDialing,
    CallRinging,
    CallAnswered,
    CallConnected,
    CallEnded,
    PreviewOffered,
    TransferProgressed,
)


# How long an event may wait for its call's row: call.dialing may be applied
# by another consumer a moment later (or after the database is back).
CALL_ROW_WAIT = timedelta(seconds=30)


class CallEventConsumer:
    def __init__(self, database: Database) -> None:
        self.database = database

    def __call__(self, event: Event) -> None:
        # Each try is a fresh unit of work, so nothing from a lost try is kept.
        try:
            self._apply(event)
        except NotFound as exc:
            if "call_id" in exc.details and utcnow() - event.occurred_at < CALL_ROW_WAIT:
                raise NotYet(f"{event.TYPE} came before its call.dialing") from exc
            raise

    def apply_together(self, events: Sequence[Event]) -> bool:
        """All of `events` in one transaction, or none: one that fails (one
        that came before its call.dialing, a lost connection, a deadlock with
        another member's transaction) rolls back the rest, and they all go to
        `__call__` one by one, where each failure is handled as it always is.
        A commit a read instead of one an event, and the events marked
        applied in one statement (bench/call_events/stream.py)."""
        try:
            with self.database.unit_of_work() as session:
                applied_events.mark_together(
                    session, [(event.event_id, _handler_of(event)) for event in events]
                )
                for event in events:
                    _apply_in(session, event)
        except Exception as exc:
            log.debug("%d events applied one by one: %r", len(events), exc)
            return False
        return True

    def _apply(self, event: Event) -> None:
        with self.database.unit_of_work() as session:
            _apply_in(session, event)


def _apply_in(session: Session, event: Event) -> None:
    if isinstance(event, RecordingStarted | RecordingFinished):
        recordings.apply_event(session, event)
    elif isinstance(event, MonitorStarted | MonitorEnded):
        call_monitoring.apply_event(session, event)
    else:
        calls.apply_event(session, event)


def _handler_of(event: Event) -> str:
    """The handler name `_apply_in`'s service marks the event applied under."""
    if isinstance(event, RecordingStarted | RecordingFinished):
        return recordings.HANDLER
    if isinstance(event, MonitorStarted | MonitorEnded):
        return call_monitoring.HANDLER
    return calls.HANDLER


def subscribe(bus: EventBus, database: Database, sender: FollowUpSender) -> None:
    consumer = CallEventConsumer(database)
    for event_class in (
        *CALL_EVENTS,
        RecordingStarted,
        RecordingFinished,
        MonitorStarted,
        MonitorEnded,
    ):
        bus.subscribe(event_class.TYPE, consumer)
    bus.subscribe(FollowUpQueued.TYPE, sender.wake)


def init_app(app: Flask) -> None:
    database: Database = app.extensions["cc_database"]
    sender = FollowUpSender(database, app.extensions["cc_settings"].smtp)
    app.extensions["cc_follow_up_sender"] = sender
    subscribe(app.extensions["cc_bus"], database, sender)
