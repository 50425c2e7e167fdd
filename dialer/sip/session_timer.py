"""Session timers (RFC 4028): agreeing on the interval and keeping to it.

Each 2xx to an INVITE or UPDATE carrying ``Session-Expires`` sets the
dialog's session interval and who refreshes it; the ``refresher`` parameter
names the UAC or UAS *of that transaction*. The refresher sends a refresh
at half the interval; the other side ends the session when no refresh has
come by expiry minus min(32, interval/3) seconds (section 10).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from dialer.sip.message import SipMessage

REFRESH_FAILURES_THAT_END = (408, 481)  # and a timeout (section 10)
RETRY_FLOOR_S = 1.0


@dataclass(frozen=True)
class SessionInterval:
    seconds: int
    we_refresh: bool


def parse_session_expires(value: str | None) -> tuple[int, str | None] | None:
    """``(seconds, refresher)`` of a Session-Expires value; None if absent or unusable."""
    if not value:
        return None
    delta, *params = value.split(";")
    delta = delta.strip()
    if not delta.isdigit() or len(delta) > 10 or int(delta) == 0:
        return None
    refresher = None
    for param in params:
        key, _, val = param.partition("=")
        if key.strip().lower() == "refresher" and val.strip().lower() in ("uac", "uas"):
            refresher = val.strip().lower()
    return int(delta), refresher


def min_se_of(resp: SipMessage) -> int | None:
    """The Min-SE of a 422 response."""
    value = (resp.get("Min-SE") or "").split(";", 1)[0].strip()
    if not value.isdigit() or len(value) > 10 or int(value) == 0:
        return None
    return int(value)


def request_headers(
    expires: int, min_se: int, refresher: str | None = None
) -> list[tuple[str, str]]:
    """Headers asking for a session timer in a request we send."""
    session_expires = f"{expires};refresher={refresher}" if refresher else str(expires)
    return [("Supported", "timer"), ("Session-Expires", session_expires), ("Min-SE", str(min_se))]


def interval_from_2xx(resp: SipMessage) -> SessionInterval | None:
    """What a 2xx to our request agreed; no ``refresher`` means the UAC (we) refresh."""
    parsed = parse_session_expires(resp.get("Session-Expires"))
    if parsed is None:
        return None
    seconds, refresher = parsed
    return SessionInterval(seconds, we_refresh=refresher != "uas")


@dataclass(frozen=True)
class TimerAnswer:
    """How we answer a peer's INVITE/UPDATE as far as session timers go (section 9)."""

    interval: SessionInterval | None
    headers: list[tuple[str, str]] = field(default_factory=list)
    too_small: bool = False  # answer 422 with ``headers`` (our Min-SE)


def answer_request(req: SipMessage, min_se: int) -> TimerAnswer:
    parsed = parse_session_expires(req.get("Session-Expires"))
    if parsed is None:
        return TimerAnswer(None)
    seconds, refresher = parsed
    if seconds < min_se:
        return TimerAnswer(None, [("Min-SE", str(min_se))], too_small=True)
    peer_supports = "timer" in {v.lower() for v in req.get_all("Supported")}
    if refresher is None:
        # A peer without timer support cannot be made to refresh: then we do.
        refresher = "uac" if peer_supports else "uas"
    headers = [("Session-Expires", f"{seconds};refresher={refresher}")]
    if peer_supports:
        headers.append(("Require", "timer"))
    return TimerAnswer(SessionInterval(seconds, we_refresh=refresher == "uas"), headers)


class SessionTimer:
    """The clock of one dialog's session: calls ``on_refresh_due`` or ``on_expired``."""

    def __init__(self, on_refresh_due: Callable[[], None], on_expired: Callable[[], None]) -> None:
        self._on_refresh_due = on_refresh_due
        self._on_expired = on_expired
        self.interval: SessionInterval | None = None
        self._expires_at = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self, interval: SessionInterval | None) -> None:
        """(Re)start the session interval now, as just agreed; None: no timer any more."""
        self.stop()
        self.interval = interval
        if interval is None:
            return
        loop = asyncio.get_running_loop()
        self._expires_at = loop.time() + interval.seconds
        if interval.we_refresh:
            self._handle = loop.call_later(interval.seconds / 2, self._on_refresh_due)
        else:
            guard = min(32.0, interval.seconds / 3)
            self._handle = loop.call_later(interval.seconds - guard, self._on_expired)

    def retry_refresh(self) -> None:
        """Our refresh failed without ending the session: try again halfway to expiry."""
        loop = asyncio.get_running_loop()
        remaining = self._expires_at - loop.time()
        if remaining > 2 * RETRY_FLOOR_S:
            self._handle = loop.call_later(remaining / 2, self._on_refresh_due)
        else:
            self._handle = loop.call_later(max(0.0, remaining), self._on_expired)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
