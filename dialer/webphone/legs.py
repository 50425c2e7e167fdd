"""A call from the gateway to one registered browser phone: the INVITE
dialog over its WebSocket (RFC 3261 as a UAC over a reliable transport) and
the leg's WebRTC media.

    calling -> [ringing] -> answered -> ended(status, reason)

``ended`` is reported exactly once. ``answered`` waits for the media to be
connected (ICE and DTLS), so nothing played into an answered leg is lost."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from dialer.sip.message import SipMessage, build_response, header_param, new_tag, uri_of
from dialer.webphone.framing import ALLOW, VIA_HOST, new_request
from dialer.webphone.hearing import Heard
from dialer.webphone.media import MediaError, PeerMedia

log = logging.getLogger(__name__)

EventKind = Literal["ringing", "answered", "ended"]


@dataclass(frozen=True)
class LegEvent:
    kind: EventKind
    status: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class LegTimers:
    answer_s: float = 30.0  # INVITE to 200 OK
    media_s: float = 10.0  # 200 OK to media connected
    session_expires_s: int = 1800  # RFC 4028; we refresh with UPDATE at half of it
    bye_s: float = 2.0  # how long a BYE or CANCEL waits for its answer
    # When each refresh goes instead; None: at half the interval. A browser
    # (JsSIP) takes no interval under 90 s, so a test that wants to see
    # refreshes without waiting 45 s for each sets this.
    refresh_s: float | None = None

    def refresh_after_s(self, interval_s: int) -> float:
        """Seconds from the answer (or the last refresh) to the next refresh:
        ``refresh_s`` if set, else half the interval agreed (RFC 4028
        section 10) and never under 30 s."""
        if self.refresh_s is not None:
            return self.refresh_s
        return max(interval_s / 2, 30.0)


class LegState(StrEnum):
    CALLING = "calling"
    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"


_NEXT: dict[LegState, set[LegState]] = {
    LegState.CALLING: {LegState.RINGING, LegState.ANSWERED, LegState.ENDED},
    LegState.RINGING: {LegState.ANSWERED, LegState.ENDED},
    LegState.ANSWERED: {LegState.ENDED},
    LegState.ENDED: set(),
}


class IllegalTransition(RuntimeError):
    pass


Send = Callable[[SipMessage], Awaitable[None]]


class BrowserLeg:
    def __init__(
        self,
        *,
        leg_id: str,
        agent_id: int,
        domain: str,
        target: str | None,
        send: Send,
        on_event: Callable[[LegEvent], None],
        timers: LegTimers,
    ) -> None:
        self.leg_id = leg_id
        self.agent_id = agent_id
        self.call_id = f"{secrets.token_hex(12)}@{VIA_HOST}"
        self.state = LegState.CALLING
        self._target = target  # the browser's Contact URI; None: not registered
        self._send_message = send
        self._on_event = on_event
        self._timers = timers
        self._from = f"<sip:dialer@{domain}>;tag={new_tag()}"
        self._to = f"<sip:agent-{agent_id}@{domain}>"
        self._contact = f"<sip:dialer@{VIA_HOST};transport=ws>"
        self._cseq = 1
        self._invite: SipMessage | None = None
        self._pending: dict[int, asyncio.Future[SipMessage]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._dialog: asyncio.Task[None] | None = None  # from the 200 OK on: media, refreshes
        self._provisional = False
        self.media: PeerMedia | None = None

    # the public side ------------------------------------------------------------------------

    def play(self, pcm8k: bytes) -> None:
        """Queue 8 kHz 16-bit mono PCM to the browser (after anything queued)."""
        if self.media is not None:
            self.media.playout.play(pcm8k)

    def stop_playing(self) -> None:
        if self.media is not None:
            self.media.playout.stop_playing()

    @property
    def playing(self) -> bool:
        return self.media is not None and self.media.playout.playing

    def heard(self) -> Heard:
        """What the browser sent since it answered or since :meth:`reset_heard`."""
        if self.media is None:
            return Heard(0.0, -120.0, None)
        return self.media.hearing.heard()

    def reset_heard(self) -> None:
        if self.media is not None:
            self.media.hearing.reset()

    def tap(self, feed: Callable[[Any], None] | None) -> None:
        """Give ``feed`` the samples of every frame the browser sends (None: stop)."""
        if self.media is not None:
            self.media.tap = feed

    async def hang_up(self) -> None:
        """CANCEL while it rings, BYE once answered; ``ended`` follows at once."""
        if self.state is LegState.ENDED:
            return
        if self._dialog is not None:  # 200 OK came: the dialog is up, media or not
            await self._bye()
        else:
            await self._cancel()

    # driven by the gateway ------------------------------------------------------------------

    async def start(self) -> None:
        if self._target is None:
            asyncio.get_running_loop().call_soon(
                self._end, 480, "Temporarily Unavailable (browser phone not registered)"
            )
            return
        self.media = PeerMedia(on_failed=self._media_failed)
        try:
            sdp = await self.media.offer()
        except Exception as exc:  # one leg's media never takes the gateway down
            log.exception("leg %s: no SDP offer", self.leg_id)
            self._end(None, f"no media: {exc}"[:120])
            return
        if self.state is LegState.ENDED:
            return
        self._invite = self._request(
            "INVITE",
            headers=[
                ("Contact", self._contact),
                ("Allow", ALLOW),
                ("Supported", "timer"),
                ("Session-Expires", f"{self._timers.session_expires_s};refresher=uac"),
            ],
            body=sdp.encode(),
        )
        self._timer = asyncio.get_running_loop().call_later(
            self._timers.answer_s, self._answer_timed_out
        )
        await self._send(self._invite)

    def on_response(self, response: SipMessage) -> None:
        try:
            number, method = response.cseq
        except (ValueError, IndexError):
            return
        if method == "INVITE" and self._invite is not None and number == self._invite.cseq[0]:
            self._invite_response(response)
            return
        waiting = self._pending.get(number)
        if waiting is not None and not waiting.done() and (response.status or 0) >= 200:
            waiting.set_result(response)

    def on_request(self, request: SipMessage) -> SipMessage | None:
        """The response to an in-dialog request from the browser (None: none is due)."""
        method = request.method
        if method == "ACK":
            return None
        if method == "BYE":
            self._end(200, "remote hangup")
            return build_response(request, 200, "OK")
        if method == "INVITE":
            self._spawn(self._reinvite(request))
            return None
        if method == "UPDATE":
            if request.body:
                return build_response(request, 488, "Not Acceptable Here")
            return self._with_session_expires(build_response(request, 200, "OK"), request)
        if method in ("OPTIONS", "INFO"):
            return build_response(request, 200, "OK")
        if method == "CANCEL":
            return build_response(request, 481, "Call/Transaction Does Not Exist")
        response = build_response(request, 501, "Not Implemented")
        response.add("Allow", ALLOW)
        return response

    def on_peer_closed(self) -> None:
        self._end(None, "browser disconnected")

    # the INVITE transaction -----------------------------------------------------------------

    def _invite_response(self, response: SipMessage) -> None:
        status = response.status or 0
        if self.state is LegState.ENDED:
            self._late_final(response)
            return
        if status < 200:
            self._provisional = True
            if status > 100 and self.state is LegState.CALLING:
                self._to = response.get("To") or self._to
                self._transition(LegState.RINGING)
                self._on_event(LegEvent("ringing", status, response.reason))
            return
        self._cancel_timer()
        if status >= 300:
            self._spawn(self._send(self._ack(response)))
            self._end(status, response.reason)
            return
        if self._dialog is not None:  # a retransmitted 200 OK: ACK it again
            self._spawn(self._send(self._ack(response)))
            return
        self._to = response.get("To") or self._to
        contact = response.get_all("Contact")
        self._target = uri_of(contact[0]) if contact else self._target
        self._spawn(self._send(self._ack(response)))
        self._dialog = self._spawn(self._answered(response))

    def _late_final(self, response: SipMessage) -> None:
        """A final answer after we gave up: ACK it, and a 2xx gets a BYE."""
        status = response.status or 0
        if status < 200:
            return
        self._to = response.get("To") or self._to
        if 200 <= status < 300:
            contact = response.get_all("Contact")
            self._target = uri_of(contact[0]) if contact else self._target
        self._spawn(self._send(self._ack(response)))
        if 200 <= status < 300:
            self._spawn(self._send(self._request("BYE")))

    async def _answered(self, response: SipMessage) -> None:
        assert self.media is not None
        try:
            await self.media.accept_answer(response.body.decode("utf-8", "replace"))
            await self.media.wait_connected(self._timers.media_s)
        except MediaError as exc:
            reason = f"no media: {exc}"
            log.warning("leg %s: %s", self.leg_id, reason)
            await self._bye(reason=reason[:120], status=None)
            return
        if self.state is LegState.ENDED:
            return
        self._transition(LegState.ANSWERED)
        self.reset_heard()
        self._on_event(LegEvent("answered", response.status, response.reason))
        await self._refresh_session(response)

    async def _refresh_session(self, response: SipMessage) -> None:
        """RFC 4028 refresher: an UPDATE (no SDP) at half the interval agreed."""
        expires = response.get("Session-Expires")
        if expires is None or (header_param(expires, "refresher") or "uac") != "uac":
            return
        try:
            interval = int(expires.split(";", 1)[0].strip())
        except ValueError:
            return
        while self.state is LegState.ANSWERED:
            await asyncio.sleep(self._timers.refresh_after_s(interval))
            if self.state is not LegState.ANSWERED:
                return
            update = self._request(
                "UPDATE",
                headers=[
                    ("Contact", self._contact),
                    ("Supported", "timer"),
                    ("Session-Expires", f"{interval};refresher=uac"),
                ],
            )
            answer = await self._transact(update)
            if answer is not None and answer.status in (408, 481):
                await self._bye(reason=f"session refresh refused: {answer.status}")

    def _answer_timed_out(self) -> None:
        self._spawn(self._no_answer())

    async def _no_answer(self) -> None:
        if self.state in (LegState.CALLING, LegState.RINGING):
            await self._cancel(status=408, reason="Request Timeout (browser did not answer)")

    async def _cancel(self, *, status: int = 487, reason: str = "local hangup") -> None:
        invite = self._invite
        self._end(status, reason)
        if invite is None:
            return
        cancel = SipMessage(method="CANCEL", uri=invite.uri)
        for name in ("Via", "Max-Forwards", "From", "To", "Call-ID"):
            cancel.add(name, invite.get(name) or "")
        cancel.add("CSeq", f"{invite.cseq[0]} CANCEL")
        await self._send(cancel)

    async def _bye(self, *, reason: str = "local hangup", status: int | None = 200) -> None:
        bye = self._request("BYE")
        self._end(status, reason)
        await self._transact(bye)

    # in-dialog requests from the browser -------------------------------------------------------

    async def _reinvite(self, request: SipMessage) -> None:
        """Answer a re-INVITE (hold, ICE restart) if its offer can be taken;
        488 leaves the call as it was."""
        if self.state is not LegState.ANSWERED or self.media is None or not request.body:
            await self._send(build_response(request, 488, "Not Acceptable Here"))
            return
        try:
            sdp = await self.media.answer(request.body.decode("utf-8", "replace"))
        except MediaError as exc:
            log.info("leg %s: re-INVITE refused: %s", self.leg_id, exc)
            await self._send(build_response(request, 488, "Not Acceptable Here"))
            return
        response = self._with_session_expires(build_response(request, 200, "OK"), request)
        response.add("Contact", self._contact)
        response.add("Allow", ALLOW)
        response.add("Content-Type", "application/sdp")
        response.body = sdp.encode()
        await self._send(response)

    @staticmethod
    def _with_session_expires(response: SipMessage, request: SipMessage) -> SipMessage:
        expires = request.get("Session-Expires")
        if expires is not None:
            response.add("Require", "timer")
            response.add("Session-Expires", expires)
        return response

    # plumbing --------------------------------------------------------------------------------

    def _request(
        self, method: str, *, headers: list[tuple[str, str]] | None = None, body: bytes = b""
    ) -> SipMessage:
        if method not in ("ACK", "CANCEL") and self._invite is not None:
            self._cseq += 1
        assert self._target is not None
        return new_request(
            method,
            self._target,
            call_id=self.call_id,
            cseq=self._cseq,
            from_=self._from,
            to=self._to,
            headers=headers,
            body=body,
        )

    def _ack(self, response: SipMessage) -> SipMessage:
        assert self._invite is not None and self._target is not None
        status = response.status or 0
        # A non-2xx ACK belongs to the INVITE transaction (same branch and URI).
        branch = None if 200 <= status < 300 else self._invite.top_via_branch
        uri = self._target if 200 <= status < 300 else self._invite.uri or self._target
        return new_request(
            "ACK",
            uri,
            call_id=self.call_id,
            cseq=self._invite.cseq[0],
            from_=self._from,
            to=response.get("To") or self._to,
            branch=branch,
        )

    async def _transact(self, request: SipMessage) -> SipMessage | None:
        number = request.cseq[0]
        waiting: asyncio.Future[SipMessage] = asyncio.get_running_loop().create_future()
        self._pending[number] = waiting
        try:
            await self._send(request)
            return await asyncio.wait_for(waiting, self._timers.bye_s)
        except TimeoutError:
            return None
        finally:
            self._pending.pop(number, None)

    async def _send(self, message: SipMessage) -> None:
        try:
            await self._send_message(message)
        except ConnectionError:
            self.on_peer_closed()

    def _media_failed(self, reason: str) -> None:
        if self.state is LegState.ANSWERED:
            self._spawn(self._bye(reason=reason, status=None))

    def _transition(self, to: LegState) -> None:
        if to not in _NEXT[self.state]:
            raise IllegalTransition(f"leg {self.leg_id}: {self.state} -> {to}")
        self.state = to

    def _end(self, status: int | None, reason: str) -> None:
        if self.state is LegState.ENDED:
            return
        self._transition(LegState.ENDED)
        self._cancel_timer()
        if self._dialog is not None and self._dialog is not asyncio.current_task():
            self._dialog.cancel()
        if self.media is not None:
            self.media.playout.stop_playing()
            self._spawn(self.media.close())
        self._on_event(LegEvent("ended", status, reason))

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def settle(self, timeout_s: float = 5.0) -> None:
        """Wait for this leg's own background work (closing media, a last BYE)."""
        pending = [task for task in self._tasks if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)
