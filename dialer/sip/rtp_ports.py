"""Where RTP sockets are bound: even ports of a configured range on one address.

The operating system is the record of which ports are taken: a bind that
fails with "address in use" moves on to the next even port, starting after
the last one handed out, so ports used by another process are skipped too.
"""

from __future__ import annotations

import errno
import secrets
import socket

from dialer.sip.rtp import RtpEndpoint


class RtpPortError(Exception):
    """No RTP socket for a call: the range is used up or the address cannot be bound."""


class RtpPortRange:
    def __init__(self, host: str, low: int, high: int) -> None:
        self.host = host
        self.low, self.high = low, high
        self._ports = range(low + low % 2, high + 1, 2)
        self._next = secrets.randbelow(len(self._ports)) if self._ports else 0

    async def open(self, label: str) -> RtpEndpoint:
        """An endpoint on a free even port; :class:`RtpPortError` if there is none."""
        return await RtpEndpoint.on_socket(self._bind(), label)

    def _bind(self) -> socket.socket:
        for step in range(len(self._ports)):
            index = (self._next + step) % len(self._ports)
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((self.host, self._ports[index]))
            except OSError as exc:
                sock.close()
                if exc.errno == errno.EADDRINUSE:
                    continue
                raise RtpPortError(f"cannot bind RTP on {self.host}: {exc.strerror}") from exc
            sock.setblocking(False)
            self._next = (index + 1) % len(self._ports)
            return sock
        raise RtpPortError(f"no free RTP port in {self.low}-{self.high} on {self.host}")
