"""What a phone's user hears: the test owns the phone's RTP receive socket
(the phone's SDP points there) and keeps the decoded audio, window by window."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable

from dialer.sip import g711
from tests.integration.sip.conftest import HOST, free_udp_port
from tests.integration.sip.tone import tone_levels

HEARD = 1e6  # Goertzel level of a tone played at -8 dBFS, well above leaks
SILENT = 1e4


class Ear:
    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_udp_port()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((HOST, self.port))
        self._sock.settimeout(0.1)
        self._lock = threading.Lock()
        self._samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"ear-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(2048)
            except TimeoutError:
                continue
            if len(data) > 12 and data[1] & 0x7F == 0:
                with self._lock:
                    self._samples.extend(g711.decode(data[12:], 0))

    def clear(self) -> None:
        with self._lock:
            self._samples.clear()

    def levels(self, frequencies: Iterable[float]) -> dict[float, float]:
        with self._lock:
            samples = list(self._samples)
        return tone_levels(samples, frequencies)

    def samples(self) -> list[int]:
        with self._lock:
            return list(self._samples)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()


def heard(levels: dict[float, float]) -> set[float]:
    """The tones heard clearly."""
    return {frequency for frequency, level in levels.items() if level >= HEARD}
