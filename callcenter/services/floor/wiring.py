"""One live floor per app: built from the settings, subscribed to the bus and
to the commits of the app's sessions."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from callcenter.bus import EventBus
from callcenter.db import Database
from callcenter.events import DialingHeld, HopperDepth, TrunkStatusReported
from callcenter.live_counters import make_counters
from callcenter.services.floor.projection import LiveFloor


def register_live_floor(bus: EventBus, app: Any) -> LiveFloor:
    """Counters (Redis when settings.redis_url is set), bus subscriptions and
    the committed domain events of this app's sessions (`LiveFloor.watch`);
    the snapshot loop starts when the first supervisor asks."""
    from callcenter.extensions import socketio

    settings = app.extensions["cc_settings"]
    database: Database = app.extensions["cc_database"]

    def emit(name: str, data: Any, room: str) -> None:
        socketio.emit(name, data, to=room)

    floor = LiveFloor(
        counters=make_counters(settings.redis_url),
        database=database,
        emit=emit,
        tz=ZoneInfo(settings.locale.timezone),
    )
    bus.subscribe(DialingHeld.TYPE, floor.dialer_held)
    bus.subscribe(HopperDepth.TYPE, floor.hopper_depth)
    bus.subscribe(TrunkStatusReported.TYPE, floor.trunk_reported)
    floor.watch(database)
    app.extensions["cc_live_floor"] = floor
    return floor


def live_floor_of(app: Any) -> LiveFloor:
    floor: LiveFloor = app.extensions["cc_live_floor"]
    return floor
