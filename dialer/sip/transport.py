"""The transports SIP messages go through: what the user agent needs of one,
the UDP socket, and the wording of a send the OS refused.

A large UDP receive buffer (4 MiB) matters: with the kernel default an earlier
measurement dropped 34 of 200 BYE answers at 200 concurrent calls. As root
``SO_RCVBUFFORCE`` passes ``net.core.rmem_max``; otherwise the kernel caps
``SO_RCVBUF`` and :attr:`UdpTransport.rcvbuf` tells what we got.

TCP lives in :mod:`dialer.sip.tcp`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable
from typing import Protocol, cast

from dialer.sip.message import SipMessage, SipParseError, parse_message

log = logging.getLogger(__name__)

RCVBUF_BYTES = 4 * 1024 * 1024
Address = tuple[str, int]
MessageHandler = Callable[[SipMessage, Address], None]
# (direction "->" or "<-", message, peer address, is a retransmission of ours)
TraceHook = Callable[[str, SipMessage, Address, bool], None]

_HINTS = {
    errno.EINVAL: "the bind address cannot reach {dest}; set dialer.sip.bind_host / public_host",
    errno.EADDRNOTAVAIL: "the bind address cannot reach {dest}; "
    "set dialer.sip.bind_host / public_host",
    errno.ENETUNREACH: "this host has no route to {dest}",
    errno.EHOSTUNREACH: "{dest} is unreachable from this host",
    errno.EACCES: "a local firewall or a broadcast address refused it",
    errno.EPERM: "a local firewall refused it",
    errno.EMSGSIZE: "the message is too large for UDP; set dialer.sip.transport = tcp",
    errno.ECONNREFUSED: "nothing accepts SIP over TCP there (connection refused)",
    errno.ETIMEDOUT: "the TCP connection timed out",
}


def describe_send_error(exc: BaseException, source: str, dest: Address, what: str = "") -> str:
    """One line naming a refused send: the OS error, both ends and what to do, e.g.
    "transport error: [Errno 22] Invalid argument sending from 127.0.0.1 to
    192.0.2.10:5060: the bind address cannot reach 192.0.2.10:5060; set ..."."""
    where = f"{dest[0]}:{dest[1]}"
    code = exc.errno if isinstance(exc, OSError) else None
    if isinstance(exc, TimeoutError) and code is None:
        code = errno.ETIMEDOUT
    cause = str(exc) or "timed out"
    line = f"transport error: {cause} {what or 'sending'} from {source} to {where}"
    hint = _HINTS.get(code or 0)
    return f"{line}: {hint.format(dest=where)}" if hint else line


class SipTransport(Protocol):
    """What :class:`dialer.sip.ua.UserAgent` needs of a transport.

    ``send``/``send_raw`` return ``None`` once the message is handed to the OS
    (or queued on a connection being opened) and the reason, one line, when the
    OS refused it. Failures found later (a TCP connection that could not be
    opened) reach the user agent through its ``on_unreachable`` callback.
    """

    name: str  # "UDP" | "TCP", as written in Via
    reliable: bool  # no Timer A/E retransmissions over it (RFC 3261 17.1.1.2, 17.1.2.2)
    malformed: int
    send_errors: int

    @property
    def local_address(self) -> Address: ...

    def send(self, msg: SipMessage, addr: Address) -> str | None: ...

    def send_raw(
        self,
        data: bytes,
        addr: Address,
        msg: SipMessage | None = None,
        retransmission: bool = False,
    ) -> str | None: ...

    def close(self) -> None: ...


def _bound_socket(host: str, port: int, rcvbuf: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    force = getattr(socket, "SO_RCVBUFFORCE", None)
    try:
        if force is None:
            raise PermissionError
        sock.setsockopt(socket.SOL_SOCKET, force, rcvbuf)
    except PermissionError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1024 * 1024)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class UdpTransport(asyncio.DatagramProtocol):
    """The one UDP socket: datagrams parsed into :class:`SipMessage`, malformed
    ones logged and dropped."""

    name = "UDP"
    reliable = False

    def __init__(self, on_message: MessageHandler, trace: TraceHook | None = None) -> None:
        self._on_message = on_message
        self._trace = trace
        self._transport: asyncio.DatagramTransport | None = None
        self._source = ""
        self._sending = False
        self._refused: OSError | None = None
        self.malformed = 0
        self.send_errors = 0
        self.rcvbuf = 0

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        on_message: MessageHandler,
        trace: TraceHook | None = None,
        rcvbuf: int = RCVBUF_BYTES,
    ) -> UdpTransport:
        sock = _bound_socket(host, port, rcvbuf)
        protocol = cls(on_message, trace)
        protocol.rcvbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        protocol._source = host
        await asyncio.get_running_loop().create_datagram_endpoint(lambda: protocol, sock=sock)
        return protocol

    @property
    def local_address(self) -> Address:
        assert self._transport is not None
        host, port = self._transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        if not data.strip():
            return  # CRLF keepalive (RFC 5626)
        try:
            msg = parse_message(data)
        except SipParseError as exc:
            self.malformed += 1
            log.warning("dropped malformed SIP from %s:%s: %s (%r)", *addr, exc, data[:80])
            return
        if self._trace is not None:
            self._trace("<-", msg, addr, False)
        self._on_message(msg, addr)

    def error_received(self, exc: Exception) -> None:
        # asyncio reports a refused sendto() here, from inside sendto(): send_raw
        # picks it up at once. Anything else (a queued datagram refused later,
        # an ICMP error) is only logged.
        self.send_errors += 1
        if self._sending and isinstance(exc, OSError):
            self._refused = exc
        else:
            log.warning("SIP socket error: %s", exc)

    def send(self, msg: SipMessage, addr: Address) -> str | None:
        return self.send_raw(msg.to_bytes(), addr, msg)

    def send_raw(
        self,
        data: bytes,
        addr: Address,
        msg: SipMessage | None = None,
        retransmission: bool = False,
    ) -> str | None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return "transport error: the SIP socket is closed"
        self._sending = True
        try:
            transport.sendto(data, addr)
        except OSError as exc:  # e.g. an address sendto() cannot take at all
            self.send_errors += 1
            self._refused = exc
        finally:
            self._sending = False
        if self._refused is not None:
            refused, self._refused = self._refused, None
            reason = describe_send_error(refused, self._source, addr)
            log.warning("SIP %s", reason)
            return reason
        if self._trace is not None and msg is not None:
            self._trace("->", msg, addr, retransmission)
        return None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
