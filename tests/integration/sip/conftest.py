"""sipp as a real SIP peer: one process per test, on free loopback ports or
inside a network namespace (another host, see netns.py); kamailio as a proxy."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.sip.kamailio import Kamailio, proxy_config, start_kamailio
from tests.integration.sip.netns import Netns, NetnsError

SCENARIOS = Path(__file__).parent / "scenarios"
HOST = "127.0.0.1"


def free_udp_port(pair: bool = False, tcp: bool = False, tls: bool = False) -> int:
    """A free UDP port on loopback (with port+2 free too when ``pair``, for RTP
    echo; free for TCP too when ``tcp``; with TCP port+1 free too when
    ``tls``: baresip's ``sip_listen`` opens UDP, TCP and TLS one above)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        if tcp and not _tcp_free(port):
            continue
        if tls and not (port + 1 < 65535 and _tcp_free(port + 1)):
            continue
        if not pair:
            return port
        if port % 2 == 0 and port + 2 < 65535 and _udp_free(port + 2):
            return port
    raise RuntimeError("no free UDP port")


def _udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _tcp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _listening(port: int, transport: str, netns: Netns | None) -> bool:
    if netns is not None:
        return netns.listening(port, transport)
    return not (_udp_free(port) if transport == "udp" else _tcp_free(port))


@dataclass
class Sipp:
    process: subprocess.Popen[bytes]
    port: int
    media_port: int
    message_log: Path
    error_log: Path
    host: str = HOST
    uri: str = field(init=False)

    def __post_init__(self) -> None:
        self.uri = f"sip:{self.host}:{self.port}"

    def wait(self, timeout: float = 20.0) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def messages(self) -> str:
        return self.message_log.read_text(errors="replace") if self.message_log.exists() else ""

    def sent_and_received(self) -> list[str]:
        """First lines of each message in the log, prefixed with 'sent'/'received'."""
        out: list[str] = []
        blocks = self.messages().split("----------------------------------------------")
        for block in blocks:
            lines = [ln for ln in block.strip().splitlines() if ln.strip()]
            if len(lines) < 3:
                continue
            direction = "sent" if "message sent" in lines[1] else "received"
            out.append(f"{direction} {lines[2].strip()}")
        return out

    def received(self) -> list[str]:
        """The full text of each message sipp received, in order."""
        blocks = self.messages().split("----------------------------------------------")
        return [
            block.split("bytes :", 1)[1].strip()
            for block in blocks
            if "message received" in block and "bytes :" in block
        ]

    def errors(self) -> str:
        logs = list(self.error_log.parent.glob("*_errors.log"))
        return "\n".join(p.read_text(errors="replace") for p in logs)


@pytest.fixture
def netns() -> Iterator[Callable[..., Netns]]:
    """Make network namespaces, each a peer host on a veth pair:
    ``ns = netns()`` is 10.231.12.2 seen from this host's 10.231.12.1
    (``netns("10.231.13")`` for a second one). Removed at teardown, also when
    the test fails; processes started with ``ns.popen`` are stopped first."""
    made: list[Netns] = []

    def make(subnet: str = "10.231.12", prefix: str = "ccn") -> Netns:
        try:
            ns = Netns.create(subnet, prefix)
        except NetnsError as exc:
            pytest.fail(f"cannot make a network namespace: {exc}")
        made.append(ns)
        return ns

    yield make
    for ns in reversed(made):
        ns.close()


@pytest.fixture
def sipp(tmp_path: Path) -> Iterator[Callable[..., Sipp]]:
    """Start a sipp UAS: ``sipp("uas_final.xml", keys={"status": "486"})`` fills ``[status]``.

    ``netns=ns`` runs it inside that namespace on ``ns.peer_address`` (port
    5060 unless given, media 1000 above it); ``transport="tcp"`` runs it over TCP (``-t t1``).
    """
    binary = shutil.which("sipp")
    if binary is None:
        pytest.fail("sipp is not installed (Debian package sip-tester); SIP tests need it")
    started: list[Sipp] = []

    def start(
        scenario: str,
        keys: dict[str, str] | None = None,
        extra: list[str] | None = None,
        name: str = "peer",
        port: int | None = None,
        netns: Netns | None = None,
        transport: str = "udp",
    ) -> Sipp:
        host = HOST if netns is None else netns.peer_address
        if netns is None:
            port = port or free_udp_port(tcp=transport == "tcp")
            media_port = free_udp_port(pair=True)
        else:
            port = port or 5060
            media_port = port + 1000
        workdir = tmp_path / f"{name}-{port}"
        workdir.mkdir()
        message_log = workdir / "messages.log"
        # sipp checks status codes when it loads the file, so keys are filled in here.
        text = (SCENARIOS / scenario).read_text()
        for key, value in (keys or {}).items():
            text = text.replace(f"[{key}]", value)
        scenario_file = workdir / scenario
        scenario_file.write_text(text)
        cmd = [
            binary,
            "-sf",
            str(scenario_file),
            "-i",
            host,
            "-p",
            str(port),
            "-mi",
            host,
            "-mp",
            str(media_port),
            "-m",
            "1",
            "-nostdin",
            "-trace_msg",
            "-message_file",
            str(message_log),
            "-trace_err",
            "-timeout",
            "25s",
            "-timeout_error",
        ]
        if transport == "tcp":
            cmd += ["-t", "t1"]
        cmd += extra or []
        options: dict[str, Any] = dict(
            cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        proc = subprocess.Popen(cmd, **options) if netns is None else netns.popen(cmd, **options)
        peer = Sipp(proc, port, media_port, message_log, workdir / "errors.log", host)
        started.append(peer)
        deadline = time.monotonic() + 5
        while not _listening(port, transport, netns):
            if proc.poll() == 0:
                break  # a peer already waited for may have served its scenario by now
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                pytest.fail(f"sipp exited early ({proc.returncode}): {err}")
            if time.monotonic() > deadline:
                pytest.fail("sipp did not bind its port")
            time.sleep(0.01)
        return peer

    yield start
    for peer in started:
        if peer.process.poll() is None:
            peer.process.kill()
            peer.process.wait()


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[Kamailio]:
    """Debian's kamailio as a record-routing proxy on a free loopback port."""
    port = free_udp_port()
    proxy = start_kamailio(proxy_config(HOST, port), tmp_path / "kamailio", HOST, port)
    try:
        yield proxy
    finally:
        proxy.stop()
