"""The built-in browser-phone gateway: what the embedded dialer uses instead
of Kamailio and rtpengine. Browsers register over WebSocket; the dialer
calls a registered browser and gets a :class:`BrowserLeg` with WebRTC audio
it can play into and hear from.

    gateway = BrowserPhoneGateway.from_settings(settings)
    await gateway.start()
    if gateway.handles("sip:agent-7@webphone.invalid"):
        leg = await gateway.call("sip:agent-7@webphone.invalid", on_event)
        leg.play(pcm8k); ...; leg.heard(); await leg.hang_up()
    await gateway.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Collection
from typing import Any

from callcenter import webphone
from callcenter.settings import Settings
from dialer.sip.message import SipMessage, SipParseError, build_response, new_tag
from dialer.webphone.digest import Nonces
from dialer.webphone.framing import ALLOW, parse_frame
from dialer.webphone.legs import BrowserLeg, LegEvent, LegTimers
from dialer.webphone.registrar import Registrar, user_and_host
from dialer.webphone.server import Limits, SipSocket, WebSocketServer

log = logging.getLogger(__name__)

_ENDED_LEG_KEPT_S = 32.0  # late responses to an ended leg still find it (RFC 3261 timer B)


class BrowserPhoneGateway:
    def __init__(
        self,
        *,
        domain: str,
        secret: bytes,
        host: str = "127.0.0.1",
        port: int = 5066,
        limits: Limits | None = None,
        allowed_origins: Collection[str] = (),
        timers: LegTimers | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.domain = domain.lower()
        self.timers = timers or LegTimers()
        self.registrar = Registrar(domain=domain, secret=secret, clock=clock, nonces=Nonces())
        self.server = WebSocketServer(
            host,
            port,
            on_frame=self._on_frame,
            on_closed=self._on_closed,
            is_registered=lambda sock: bool(self.registrar.bindings_of(sock)),
            limits=limits or Limits(),
            allowed_origins=allowed_origins,
        )
        self._legs: dict[str, tuple[BrowserLeg, SipSocket | None]] = {}  # by Call-ID
        self._tasks: set[asyncio.Task[Any]] = set()

    @classmethod
    def from_settings(cls, settings: Settings) -> BrowserPhoneGateway:
        phone = settings.webphone
        return cls(
            domain=phone.domain,
            secret=webphone.shared_secret(settings),
            host=phone.gateway_host,
            port=phone.gateway_port,
            allowed_origins=phone.gateway_origins,
        )

    @property
    def port(self) -> int:
        return self.server.port

    async def start(self) -> None:
        await self.server.start()
        log.info("browser phone gateway on ws://%s:%s", self.server.host, self.server.port)

    async def stop(self) -> None:
        """Hang up every leg, then close every connection."""
        legs = [leg for leg, _ in self._legs.values()]
        await asyncio.gather(*(leg.hang_up() for leg in legs), return_exceptions=True)
        await asyncio.gather(*(leg.settle() for leg in legs), return_exceptions=True)
        await self.server.stop()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    def handles(self, uri: str) -> bool:
        """Whether ``uri`` names a browser phone of this gateway (agent-<id>@domain)."""
        return self._agent_of(uri) is not None

    def registered(self, agent_id: int) -> bool:
        return self.registrar.binding(agent_id) is not None

    async def call(
        self, uri: str, on_event: Callable[[LegEvent], None], *, leg_id: str | None = None
    ) -> BrowserLeg:
        """Call the browser phone at ``uri``. Every later step arrives through
        ``on_event`` (ringing, answered, ended); a phone that is not registered
        ends at once with 480."""
        agent_id = self._agent_of(uri)
        if agent_id is None:
            raise ValueError(f"not a browser phone of {self.domain}: {uri!r}")
        binding = self.registrar.binding(agent_id)
        sock = binding.peer if binding is not None else None
        assert sock is None or isinstance(sock, SipSocket)

        def ended_aware(event: LegEvent) -> None:
            if event.kind == "ended":
                asyncio.get_running_loop().call_later(
                    _ENDED_LEG_KEPT_S, self._legs.pop, leg.call_id, None
                )
            on_event(event)

        leg = BrowserLeg(
            leg_id=leg_id or uuid.uuid4().hex[:12],
            agent_id=agent_id,
            domain=self.domain,
            target=binding.contact if binding is not None else None,
            send=sock.send if sock is not None else _nowhere,
            on_event=ended_aware,
            timers=self.timers,
        )
        self._legs[leg.call_id] = (leg, sock)
        await leg.start()
        return leg

    def _agent_of(self, uri: str) -> int | None:
        parts = user_and_host(uri)
        if parts is None or parts[1] != self.domain:
            return None
        return webphone.agent_id_of(parts[0])

    # frames from the browsers ---------------------------------------------------------------

    def _on_frame(self, sock: SipSocket, frame: str | bytes) -> None:
        try:
            message = parse_frame(frame)
        except SipParseError as exc:
            log.info("%s: not a SIP message (%s); dropped", sock.label, exc)
            return
        if message is None:
            return
        if not message.is_request:
            entry = self._legs.get(message.call_id)
            if entry is not None and entry[1] is sock:
                entry[0].on_response(message)
            return
        response = self._answer(sock, message)
        if response is not None:
            self._spawn(_send_quietly(sock, response))

    def _answer(self, sock: SipSocket, request: SipMessage) -> SipMessage | None:
        entry = self._legs.get(request.call_id)
        if entry is not None and entry[1] is sock:
            return entry[0].on_request(request)
        method = request.method
        if method == "REGISTER":
            return self.registrar.register(request, sock)
        if method == "OPTIONS":
            response = build_response(request, 200, "OK", new_tag())
            response.add("Allow", ALLOW)
            response.add("Accept", "application/sdp")
            return response
        if method == "ACK":
            return None
        if method in ("BYE", "CANCEL", "UPDATE", "INFO"):
            return build_response(request, 481, "Call/Transaction Does Not Exist", new_tag())
        if method == "INVITE":
            return build_response(request, 403, "Browser Phones Only Answer", new_tag())
        response = build_response(request, 405, "Method Not Allowed", new_tag())
        response.add("Allow", ALLOW)
        return response

    def _on_closed(self, sock: SipSocket) -> None:
        self.registrar.forget(sock)
        for leg, leg_sock in list(self._legs.values()):
            if leg_sock is sock:
                leg.on_peer_closed()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _send_quietly(sock: SipSocket, message: SipMessage) -> None:
    with contextlib.suppress(ConnectionError):  # its close ends what was on it
        await sock.send(message)


async def _nowhere(message: SipMessage) -> None:
    raise ConnectionError("browser phone not registered")
