"""What supervisors and operators see of each dialer's trunk: registration,
the last OPTIONS answer and its round trip, calls and agent legs up.

Each dialer reports its own trunk (several dialers may share one trunk, each
with its own registration); a report older than `STALE_AFTER` is from a
dialer that is gone and is not shown as current."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from callcenter.events import TrunkStatusReported

COUNTER_PREFIX = "trunk:"
STALE_AFTER = timedelta(seconds=30)


def counter_entry(event: TrunkStatusReported) -> tuple[str, dict[str, Any]]:
    """The live counters' key and value for one report."""
    value = dict(event.status) | {
        "trunk": event.trunk,
        "dialer_id": event.dialer_id,
        "reported_at": event.occurred_at.isoformat(),
    }
    return f"{COUNTER_PREFIX}{event.dialer_id}", value


def floor_rows(statuses: Mapping[str, Any], *, now: datetime) -> list[dict[str, Any]]:
    """The current reports, trunk by trunk."""
    rows = [
        value
        for key, value in statuses.items()
        if key.startswith(COUNTER_PREFIX)
        and value
        and now - datetime.fromisoformat(value["reported_at"]) <= STALE_AFTER
    ]
    return sorted(rows, key=lambda row: (row["trunk"], row["dialer_id"]))


def describe(status: Mapping[str, Any]) -> list[str]:
    """One report as the lines `callcenter trunk status` prints."""
    registration = status.get("registration", "off")
    if status.get("registration_detail"):
        registration += f" ({status['registration_detail']})"
    if status.get("registered_until"):
        registration += f", until {status['registered_until']}"
    options = status.get("options", "off")
    if status.get("options_status"):
        options += f": {status['options_status']}"
    if status.get("options_rtt_ms") is not None:
        options += f", RTT {status['options_rtt_ms']} ms"
    if status.get("options_at"):
        options += f", at {status['options_at']}"
    return [
        f"  state:        {'healthy' if status.get('healthy') else 'HELD'}"
        f" ({status.get('reason', '')})",
        f"  address:      {status.get('address', '')}",
        f"  registration: {registration}",
        f"  OPTIONS:      {options}",
        f"  calls up:     {status.get('calls_in_flight', 0)}"
        f", agent legs up: {status.get('agent_legs', 0)}",
    ]
