"""sipp as a real SIP peer: one process per test, on free loopback ports."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration.sip.kamailio import Kamailio, proxy_config, start_kamailio

SCENARIOS = Path(__file__).parent / "scenarios"
HOST = "127.0.0.1"


def free_udp_port(pair: bool = False) -> int:
    """A free UDP port on loopback (with port+2 free too when ``pair``, for RTP echo)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
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


@dataclass
class Sipp:
    process: subprocess.Popen[bytes]
    port: int
    media_port: int
    message_log: Path
    error_log: Path
    uri: str = field(init=False)

    def __post_init__(self) -> None:
        self.uri = f"sip:{HOST}:{self.port}"

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

    def errors(self) -> str:
        logs = list(self.error_log.parent.glob("*_errors.log"))
        return "\n".join(p.read_text(errors="replace") for p in logs)


@pytest.fixture
def sipp(tmp_path: Path) -> Iterator[Callable[..., Sipp]]:
    """Start a sipp UAS: ``sipp("uas_final.xml", keys={"status": "486"})`` fills ``[status]``."""
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
    ) -> Sipp:
        port = port or free_udp_port()
        media_port = free_udp_port(pair=True)
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
            HOST,
            "-p",
            str(port),
            "-mi",
            HOST,
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
        cmd += extra or []
        proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        peer = Sipp(proc, port, media_port, message_log, workdir / "errors.log")
        started.append(peer)
        deadline = time.monotonic() + 5
        while _udp_free(port):
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
