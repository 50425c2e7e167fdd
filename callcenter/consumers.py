"""Wiring: which services consume which bus events. One unit of work per
event; what the services queued for browsers is sent after it commits."""

from __future__ import annotations

import logging

from flask import Flask

from callcenter.bus import EventBus
from callcenter.db import Database
from callcenter.events import (
    CallAnswered,
    CallConnected,
    CallDialing,
    CallEnded,
    CallRinging,
    Event,
    FollowUpQueued,
    PreviewOffered,
)
from callcenter.services import calls
from callcenter.services.follow_up import FollowUpSender

log = logging.getLogger(__name__)

CALL_EVENTS = (CallDialing, CallRinging, CallAnswered, CallConnected, CallEnded, PreviewOffered)


class CallEventConsumer:
    def __init__(self, database: Database) -> None:
        self.database = database

    def __call__(self, event: Event) -> None:
        # Each try is a fresh unit of work, so nothing from a lost try is kept.
        self._apply(event)

    def _apply(self, event: Event) -> None:
        with self.database.unit_of_work() as session:
            calls.apply_event(session, event)


def subscribe(bus: EventBus, database: Database, sender: FollowUpSender) -> None:
    consumer = CallEventConsumer(database)
    for event_class in CALL_EVENTS:
        bus.subscribe(event_class.TYPE, consumer)
    bus.subscribe(FollowUpQueued.TYPE, sender.wake)


def init_app(app: Flask) -> None:
    database: Database = app.extensions["cc_database"]
    sender = FollowUpSender(database, app.extensions["cc_settings"].smtp)
    app.extensions["cc_follow_up_sender"] = sender
    subscribe(app.extensions["cc_bus"], database, sender)
