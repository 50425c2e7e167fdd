"""The WebSocket side of the gateway: browsers connect with subprotocol
"sip" (RFC 7118), within limits: so many connections, so large a frame, and
a connection that has not registered a phone soon is closed. A browser page
may connect only from the host it asks for (the agent screen's own host, as
`callcenter.webphone.browser_config` builds the address) or from an origin
configured as allowed: another site's page cannot open connections in an
agent's browser."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from dialer.sip.message import SipMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    max_connections: int = 500
    max_message_bytes: int = 64 * 1024  # an SDP from Chrome is 3-6 kB
    register_within_s: float = 10.0
    ping_interval_s: float = 10.0  # a browser gone without a close is noticed within ~20 s


class SipSocket:
    """One browser's connection; what the registrar and the legs send through."""

    _serial = itertools.count(1)

    def __init__(self, connection: ServerConnection) -> None:
        self._connection = connection
        self.number = next(self._serial)
        self.open = True
        address = connection.remote_address
        self.label = f"ws#{self.number} from {address[0]}" if address else f"ws#{self.number}"

    async def send(self, message: SipMessage) -> None:
        if not self.open:
            raise ConnectionError(f"{self.label} is closed")
        try:
            await self._connection.send(message.to_bytes().decode("utf-8", "replace"))
        except ConnectionClosed as exc:
            raise ConnectionError(f"{self.label} closed") from exc

    async def close(self, reason: str) -> None:
        await self._connection.close(code=1008, reason=reason[:120])


FrameHandler = Callable[[SipSocket, str | bytes], None]


class WebSocketServer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        on_frame: FrameHandler,
        on_closed: Callable[[SipSocket], None],
        is_registered: Callable[[SipSocket], bool],
        limits: Limits,
        allowed_origins: Collection[str] = (),
    ) -> None:
        self.host, self.port = host, port
        self._on_frame = on_frame
        self._on_closed = on_closed
        self._is_registered = is_registered
        self.limits = limits
        self.allowed_origins = frozenset(origin.rstrip("/").lower() for origin in allowed_origins)
        self._server: Server | None = None
        self.sockets: set[SipSocket] = set()

    async def start(self) -> None:
        if self._server is not None:
            return
        self._server = await serve(
            self._serve,
            self.host,
            self.port,
            subprotocols=[Subprotocol("sip")],
            process_request=self._admit,
            max_size=self.limits.max_message_bytes,
            max_queue=32,
            compression=None,
            ping_interval=self.limits.ping_interval_s,
            ping_timeout=self.limits.ping_interval_s,
            open_timeout=10,
            server_header=None,
        )
        sockname = next(iter(self._server.sockets)).getsockname()
        self.port = int(sockname[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        origin = request.headers.get("Origin")
        if origin is not None and not self._origin_allowed(origin, request.headers.get("Host", "")):
            log.warning("browser phone refused: a page from %s", origin[:120])
            return connection.respond(HTTPStatus.FORBIDDEN, "Origin not allowed\n")
        if len(self.sockets) >= self.limits.max_connections:
            log.warning("browser phone refused: %d connections already", len(self.sockets))
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Too many connections\n")
        return None

    def _origin_allowed(self, origin: str, host: str) -> bool:
        return origin.lower() in self.allowed_origins or same_host(origin, host)

    async def _serve(self, connection: ServerConnection) -> None:
        sock = SipSocket(connection)
        self.sockets.add(sock)
        deadline = asyncio.get_running_loop().call_later(
            self.limits.register_within_s, self._unregistered, sock
        )
        try:
            async for frame in connection:
                self._on_frame(sock, frame)
        except ConnectionClosed:
            pass
        finally:
            deadline.cancel()
            sock.open = False
            self.sockets.discard(sock)
            self._on_closed(sock)

    def _unregistered(self, sock: SipSocket) -> None:
        if sock.open and not self._is_registered(sock):
            log.info("%s closed: no phone registered in time", sock.label)
            task = asyncio.get_running_loop().create_task(sock.close("register first"))
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)


def same_host(origin: str, host: str) -> bool:
    """Whether a page at `origin` asks for its own host (any port: the screen
    and the gateway listen on different ones). Clients that are not browsers
    send no Origin and are not asked."""
    try:
        return urlsplit(origin).hostname == urlsplit(f"//{host}").hostname is not None
    except ValueError:
        return False
