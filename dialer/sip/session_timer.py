"""Session timers (RFC 4028): agreeing on the interval and keeping to it.

Each 2xx to an INVITE or UPDATE carrying ``Session-Expires`` sets the
dialog's session interval and who refreshes it; the ``refresher`` parameter
names the UAC or UAS *of that transaction*. The refresher sends a refresh
at half the interval; the other side ends the session when no refresh has
come by expiry minus min(32, interval/3) seconds (section 10).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from dialer.sip.message import SipMessage

log = logging.getLogger(__name__)

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


class TimedDialog(Protocol):
    """What the session timer needs from the dialog it keeps alive."""

    call_id: str
    peer_allows_update: bool

    async def send_refresh(self, method: str, headers: list[tuple[str, str]]) -> SipMessage | None:
        """UPDATE without SDP or re-INVITE with our SDP; the final response, None on timeout."""

    async def take_answer(self, body: bytes) -> str | None:
        """Apply an SDP answer; why it is unusable, or None."""

    async def end_session(self, reason: str) -> None:
        """BYE and end the call."""


class SessionTimer:
    """One dialog's session timer: what we ask for, what was agreed, and its clock."""

    def __init__(self, dialog: TimedDialog, session_expires_s: int, min_se_s: int) -> None:
        self.dialog = dialog
        self.requested_s = session_expires_s  # 0: we do not ask for a timer
        self.min_se_s = min_se_s
        self.interval: SessionInterval | None = None
        self._expires_at = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()

    # our INVITE ----------------------------------------------------------------
    def invite_headers(self) -> list[tuple[str, str]]:
        if self.requested_s <= 0:
            return []
        return request_headers(self.requested_s, self.min_se_s)

    def accept_422(self, resp: SipMessage) -> bool:
        """Ask again with at least the 422's Min-SE (section 7.4); False if we cannot."""
        min_se = min_se_of(resp)
        if self.requested_s <= 0 or min_se is None:
            return False
        self.min_se_s = max(self.min_se_s, min_se)
        self.requested_s = max(self.requested_s, min_se)
        return True

    def answered(self, resp: SipMessage) -> None:
        """Our INVITE was answered with ``resp``: run the timer it agreed, if any."""
        if self.requested_s > 0:
            self.start(interval_from_2xx(resp))

    # the clock -----------------------------------------------------------------
    def start(self, interval: SessionInterval | None) -> None:
        """(Re)start the session interval now, as just agreed; None: no timer any more."""
        self._cancel_deadline()
        self.interval = interval
        if interval is None or self._closed:
            return
        loop = asyncio.get_running_loop()
        self._expires_at = loop.time() + interval.seconds
        if interval.we_refresh:
            self._handle = loop.call_later(interval.seconds / 2, self._refresh_due)
        else:
            guard = min(32.0, interval.seconds / 3)
            self._handle = loop.call_later(interval.seconds - guard, self._expired)

    def close(self) -> None:
        """The call ended: no refresh and no expiry any more."""
        self._closed = True
        self._cancel_deadline()

    def _cancel_deadline(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _retry_refresh(self) -> None:
        """Our refresh failed without ending the session: try again halfway to expiry."""
        if self._closed or self.interval is None:
            return
        loop = asyncio.get_running_loop()
        remaining = self._expires_at - loop.time()
        if remaining > 2 * min(RETRY_FLOOR_S, self.interval.seconds / 8):
            self._handle = loop.call_later(remaining / 2, self._refresh_due)
        else:
            self._handle = loop.call_later(max(0.0, remaining), self._expired)

    def _refresh_due(self) -> None:
        self._spawn(self._refresh(), "the session refresh")

    def _expired(self) -> None:
        self._spawn(self.dialog.end_session("session timer expired"), "ending an expired session")

    def _spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        # Not cancelled by a restart: an in-flight re-INVITE must still get its ACK.
        task = asyncio.get_running_loop().create_task(self._guarded(work, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, work: Coroutine[Any, Any, None], what: str) -> None:
        try:
            await work
        except Exception:
            call_id = self.dialog.call_id
            log.exception("call %s: error in %s", call_id, what, extra={"call_id": call_id})
            await self.dialog.end_session(f"internal error in {what}")

    async def _refresh(self) -> None:
        """Refresh as the refresher: UPDATE if the peer allows it, else a re-INVITE."""
        if self.interval is None or self._closed:
            return
        method = "UPDATE" if self.dialog.peer_allows_update else "INVITE"
        expires = self.interval.seconds
        headers = request_headers(expires, self.min_se_s, refresher="uac")
        resp = await self.dialog.send_refresh(method, headers)
        min_se = min_se_of(resp) if resp is not None and resp.status == 422 else None
        if min_se is not None:
            self.min_se_s = max(self.min_se_s, min_se)
            headers = request_headers(max(expires, min_se), self.min_se_s, refresher="uac")
            resp = await self.dialog.send_refresh(method, headers)
        if self._closed:
            return
        status = resp.status if resp is not None else None
        if resp is None or status in REFRESH_FAILURES_THAT_END:
            await self.dialog.end_session(f"session refresh failed: {status or 'no response'}")
        elif status is not None and 200 <= status < 300:
            if method == "INVITE" and resp.body:
                problem = await self.dialog.take_answer(resp.body)
                if problem is not None:
                    await self.dialog.end_session(f"unusable SDP answer: {problem}")
                    return
            self.start(interval_from_2xx(resp))
        else:
            self._retry_refresh()
