"""SIP over TCP (RFC 3261 section 18): connections opened on demand and
reopened after a loss, a listening socket for peers that open their own, and
messages cut out of the byte stream by their Content-Length.

A response or in-dialog request from a peer goes back over the connection it
came on (the connections are keyed by peer address). A stream that cannot be
framed closes that connection only; a well-framed message that does not
parse is dropped like a bad UDP datagram.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import Callable
from typing import cast

from dialer.sip.message import SipMessage, SipParseError, parse_message
from dialer.sip.transport import Address, MessageHandler, TraceHook, describe_send_error

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 32 * 1024
MAX_BODY_BYTES = 64 * 1024
_CONTENT_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*\r?$", re.I | re.M)

UnreachableHandler = Callable[[Address, str], None]


class StreamFramer:
    """Cuts a byte stream into whole SIP messages, whatever the read sizes.

    :meth:`feed` returns the messages completed so far; once the stream cannot
    be framed any more (no Content-Length, oversized headers or body)
    :attr:`broken` says why and nothing more is returned.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.broken: str | None = None

    def feed(self, data: bytes) -> list[bytes]:
        if self.broken is not None:
            return []
        buf = self._buffer
        buf += data
        messages: list[bytes] = []
        while True:
            # CRLFs between messages are keepalives (RFC 5626 section 3.5.1).
            start = 0
            while start < len(buf) and buf[start] in b"\r\n":
                start += 1
            if start:
                del buf[:start]
            end = buf.find(b"\r\n\r\n")
            if end < 0 or end > MAX_HEADER_BYTES:
                if len(buf) > MAX_HEADER_BYTES:
                    self.broken = f"no end of headers in {MAX_HEADER_BYTES} bytes"
                return messages
            match = _CONTENT_LENGTH.search(buf, 0, end + 2)
            if match is None:
                self.broken = "a message without Content-Length on a stream"
                return messages
            length = int(match.group(1))
            if length > MAX_BODY_BYTES:
                self.broken = f"Content-Length {length} is over {MAX_BODY_BYTES}"
                return messages
            total = end + 4 + length
            if len(buf) < total:
                return messages
            messages.append(bytes(buf[:total]))
            del buf[:total]


class _Connection(asyncio.Protocol):
    def __init__(self, owner: TcpTransport) -> None:
        self._owner = owner
        self._framer = StreamFramer()
        self.transport: asyncio.Transport | None = None
        self.peer: Address = ("", 0)

    @property
    def closing(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        host, port = transport.get_extra_info("peername")[:2]
        self.peer = (str(host), int(port))
        self._owner.attach(self, self.peer)

    def data_received(self, data: bytes) -> None:
        for raw in self._framer.feed(data):
            self._owner.deliver(raw, self.peer)
        if self._framer.broken is not None and not self.closing:
            self._owner.malformed += 1
            log.warning(
                "closing the SIP/TCP connection with %s:%s: %s", *self.peer, self._framer.broken
            )
            assert self.transport is not None
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner.detach(self)

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)


def is_wildcard(host: str) -> bool:
    return host in ("", "0.0.0.0")


class TcpTransport:
    """SIP over TCP on one listening socket plus the connections to peers."""

    name = "TCP"
    reliable = True

    def __init__(
        self,
        on_message: MessageHandler,
        on_unreachable: UnreachableHandler,
        trace: TraceHook | None,
        bind_host: str,
        connect_timeout_s: float,
    ) -> None:
        self._on_message = on_message
        self._on_unreachable = on_unreachable
        self._trace = trace
        self._bind_host = bind_host
        self._connect_timeout_s = connect_timeout_s
        self._server: asyncio.Server | None = None
        self._connections: dict[Address, _Connection] = {}
        self._pending: dict[Address, list[bytes]] = {}
        self._connecting: set[asyncio.Task[None]] = set()
        self.malformed = 0
        self.send_errors = 0

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        on_message: MessageHandler,
        on_unreachable: UnreachableHandler,
        trace: TraceHook | None = None,
        connect_timeout_s: float = 16.0,
    ) -> TcpTransport:
        transport = cls(on_message, on_unreachable, trace, host, connect_timeout_s)
        transport._server = await asyncio.get_running_loop().create_server(
            lambda: _Connection(transport), host or "0.0.0.0", port, family=socket.AF_INET
        )
        return transport

    @property
    def local_address(self) -> Address:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    # connections --------------------------------------------------------------
    def attach(self, conn: _Connection, key: Address) -> None:
        self._connections[key] = conn

    def detach(self, conn: _Connection) -> None:
        for key in [k for k, c in self._connections.items() if c is conn]:
            del self._connections[key]

    def deliver(self, raw: bytes, peer: Address) -> None:
        try:
            msg = parse_message(raw)
        except SipParseError as exc:
            self.malformed += 1
            log.warning("dropped malformed SIP from %s:%s over TCP: %s (%r)", *peer, exc, raw[:80])
            return
        if self._trace is not None:
            self._trace("<-", msg, peer, False)
        self._on_message(msg, peer)

    # sending ------------------------------------------------------------------
    def send(self, msg: SipMessage, addr: Address) -> str | None:
        return self.send_raw(msg.to_bytes(), addr, msg)

    def send_raw(
        self,
        data: bytes,
        addr: Address,
        msg: SipMessage | None = None,
        retransmission: bool = False,
    ) -> str | None:
        if self._server is None:
            return "transport error: the SIP/TCP transport is closed"
        conn = self._connections.get(addr)
        if conn is not None and not conn.closing:
            conn.write(data)
        elif addr in self._pending:
            self._pending[addr].append(data)
        else:
            self._pending[addr] = [data]
            task = asyncio.get_running_loop().create_task(self._connect(addr))
            self._connecting.add(task)
            task.add_done_callback(self._connecting.discard)
        if self._trace is not None and msg is not None:
            self._trace("->", msg, addr, retransmission)
        return None

    async def _connect(self, addr: Address) -> None:
        loop = asyncio.get_running_loop()
        local = None if is_wildcard(self._bind_host) else (self._bind_host, 0)
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(self), addr[0], addr[1], local_addr=local
                ),
                self._connect_timeout_s,
            )
        except OSError as exc:  # TimeoutError included
            self._pending.pop(addr, None)
            self.send_errors += 1
            reason = describe_send_error(exc, self._bind_host, addr, "connecting over TCP")
            log.warning("SIP %s", reason)
            self._on_unreachable(addr, reason)
            return
        # The peer may be named differently from its peername (a host name in a
        # Record-Route): reach it by both.
        self.attach(conn, addr)
        for data in self._pending.pop(addr, []):
            conn.write(data)

    def close(self) -> None:
        for task in self._connecting:
            task.cancel()
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in set(self._connections.values()):
            if conn.transport is not None:
                conn.transport.close()
        self._connections.clear()
        self._pending.clear()
