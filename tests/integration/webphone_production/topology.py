"""The production media path for the browser phone, on a real network:
Kamailio and rtpengine (and coturn when asked) with deploy/webphone/'s
configuration in one network namespace, the customer's phone (baresip) in
another, and the dialer (a real SipTrunk) and Chromium in this one.

    browser ──ws──► Kamailio 10.231.50.2 ◄──SIP── dialer ──SIP──► customer 10.231.51.2
    browser ◄─DTLS-SRTP─► rtpengine 10.231.50.2 ◄─RTP─► dialer ◄─RTP─► customer

The dialer advertises the address it has toward the customer (10.231.51.1);
the relay's namespace routes to it through this host. Each daemon runs in
a process group of its own and is stopped with all its children.
"""

from __future__ import annotations

import math
import shutil
import struct
import subprocess
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.sip.kamailio import Kamailio, modules_dir, start_kamailio
from tests.integration.sip.netns import Netns
from tests.support import stop_process_group

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "webphone"
RELAY_SUBNET = "10.231.50"
CUSTOMER_SUBNET = "10.231.51"
SIP_PORT = 5060
WS_PORT = 8080
WSS_PORT = 8443
TURN_PORT = 3478
RTPENGINE_NG_PORT = 2223
# The dialer's SIP port and RTP range: below the kernel's ephemeral ports, so
# the relay's firewall can tell the dialer's packets from the browser's.
DIALER_RTP_PORTS = (21000, 21099)
DIALER_SIP_PORT = 21100
CUSTOMER_NUMBER = "+989121234567"


@dataclass
class Daemon:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        stop_process_group(self.process)


def start_daemon(name: str, cmd: Sequence[str], workdir: Path, ns: Netns) -> Daemon:
    binary = shutil.which(cmd[0])
    if binary is None:
        pytest.fail(f"{cmd[0]} is not installed (see docs/deployment.md for the Debian packages)")
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            ns.command([binary, *cmd[1:]]),
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            start_new_session=True,
        )
    return Daemon(name, process, log)


def wait_listening(daemon: Daemon, ns: Netns, port: int, protocol: str = "udp") -> None:
    deadline = time.monotonic() + 10
    while not ns.listening(port, protocol):
        if daemon.process.poll() is not None:
            pytest.fail(f"{daemon.name} exited ({daemon.process.returncode}): {daemon.output()}")
        if time.monotonic() > deadline:
            daemon.stop()
            pytest.fail(f"{daemon.name} does not listen on {port}/{protocol}: {daemon.output()}")
        time.sleep(0.05)


def start_rtpengine(ns: Netns, workdir: Path) -> Daemon:
    """deploy/webphone/rtpengine.conf, on the namespace's address."""
    daemon = start_daemon(
        "rtpengine",
        [
            "rtpengine",
            f"--config-file={DEPLOY / 'rtpengine.conf'}",
            f"--interface={ns.peer_address}",
            f"--listen-ng=127.0.0.1:{RTPENGINE_NG_PORT}",
            "--foreground",
            "--log-stderr",
        ],
        workdir,
        ns,
    )
    wait_listening(daemon, ns, RTPENGINE_NG_PORT)
    return daemon


def kamailio_defines(ns: Netns, dialer_net: str, secret: str, tls: TlsFiles) -> list[str]:
    """The -A defines an operator sets, here for the namespace's address."""
    defines = {
        "LISTEN_SIP": f"udp:{ns.peer_address}:{SIP_PORT}",
        "LISTEN_WS": f"tcp:{ns.peer_address}:{WS_PORT}",
        "DIALER_NET": f'"{dialer_net}"',
        "RTPENGINE_SOCK": f'"udp:127.0.0.1:{RTPENGINE_NG_PORT}"',
        "WEBPHONE_SECRET": f'"{secret}"',
        "MODULES": f'"{modules_dir()}"',
        "WITH_TLS": "",
        "LISTEN_WSS": f"tls:{ns.peer_address}:{WSS_PORT}",
        "TLS_CERT": f'"{tls.certificate}"',
        "TLS_KEY": f'"{tls.key}"',
    }
    return [
        arg
        for name, value in defines.items()
        for arg in ("-A", f"{name}={value}" if value else name)
    ]


@dataclass(frozen=True)
class TlsFiles:
    certificate: Path
    key: Path


def self_signed_certificate(workdir: Path, address: str) -> TlsFiles:
    """A certificate for ``address`` (browsers are told to accept it)."""
    files = TlsFiles(workdir / "cert.pem", workdir / "key.pem")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(files.key), "-out", str(files.certificate),
            "-subj", f"/CN={address}", "-addext", f"subjectAltName=IP:{address}",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return files


def start_relay_kamailio(ns: Netns, workdir: Path, dialer_net: str, secret: str) -> Kamailio:
    """deploy/webphone/kamailio.cfg as shipped, with the operator's defines
    (ws:// and wss://)."""
    workdir.mkdir(parents=True, exist_ok=True)
    tls = self_signed_certificate(workdir, ns.peer_address)
    return start_kamailio(
        (DEPLOY / "kamailio.cfg").read_text(),
        workdir,
        ns.peer_address,
        SIP_PORT,
        wrapper=ns.command([]),
        args=kamailio_defines(ns, dialer_net, secret, tls),
    )


TURN_EXAMPLE_ADDRESS = "203.0.113.10"
RTPENGINE_EXAMPLE_ADDRESS = "10.0.0.5"
TURN_EXAMPLE_SECRET = "change-me-to-the-webphone-secret"


def turn_config(listen: str, peer: str, secret: str) -> str:
    """deploy/webphone/turnserver.conf with the lines an operator edits filled
    in (coturn adds command-line addresses to the file's instead of
    replacing them)."""
    text = (DEPLOY / "turnserver.conf").read_text()
    for example, value in (
        (TURN_EXAMPLE_ADDRESS, listen),
        (RTPENGINE_EXAMPLE_ADDRESS, peer),
        (TURN_EXAMPLE_SECRET, secret),
    ):
        assert example in text, f"turnserver.conf no longer says {example}"
        text = text.replace(example, value)
    return text


def start_coturn(ns: Netns, workdir: Path, secret: str, peer: str) -> Daemon:
    """deploy/webphone/turnserver.conf, relaying only to ``peer`` (rtpengine)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "turnserver.conf"
    config.write_text(turn_config(ns.peer_address, peer, secret))
    daemon = start_daemon(
        "turnserver",
        [
            "turnserver",
            "-c",
            str(config),
            "--log-file=stdout",
            "--simple-log",
            f"--pidfile={workdir / 'turnserver.pid'}",
            f"--userdb={workdir / 'turndb'}",
        ],
        workdir,
        ns,
    )
    wait_listening(daemon, ns, TURN_PORT)
    return daemon


BARESIP_CONFIG = """poll_method epoll
sip_listen {host}:{port}
audio_player aubridge,customer
audio_source ausine,{tone_hz}
ausrc_srate 48000
ausrc_channels 2
module_path /usr/lib/baresip/modules
module g711.so
module aubridge.so
module ausine.so
module sndfile.so
module_app account.so
module_app menu.so
snd_path {recordings}
rtp_ports {rtp_low}-{rtp_high}
"""


@dataclass
class Customer:
    """baresip answering by itself, saying a tone, recording what it hears."""

    daemon: Daemon
    uri: str
    recordings: Path

    def heard(self) -> Path | None:
        """The newest recording of what the customer decoded."""
        found = sorted(self.recordings.glob("dump-*-dec.wav"), key=lambda p: p.stat().st_mtime)
        return found[-1] if found else None


def start_customer(ns: Netns, workdir: Path, tone_hz: int) -> Customer:
    config_dir, recordings = workdir / "baresip", workdir / "recordings"
    config_dir.mkdir(parents=True)
    recordings.mkdir()
    (config_dir / "config").write_text(
        BARESIP_CONFIG.format(
            host=ns.peer_address,
            port=SIP_PORT,
            tone_hz=tone_hz,
            recordings=recordings,
            rtp_low=30000,
            rtp_high=30100,
        )
    )
    (config_dir / "accounts").write_text(
        f"<sip:{CUSTOMER_NUMBER}@{ns.peer_address}>;regint=0;answermode=auto\n"
    )
    (config_dir / "contacts").write_text("")
    daemon = start_daemon("baresip", ["baresip", "-f", str(config_dir)], workdir, ns)
    deadline = time.monotonic() + 10
    while "baresip is ready" not in daemon.output():
        if daemon.process.poll() is not None or time.monotonic() > deadline:
            daemon.stop()
            pytest.fail(f"baresip did not start: {daemon.output()}")
        time.sleep(0.05)
    return Customer(daemon, f"sip:{ns.peer_address}:{SIP_PORT}", recordings)


def write_tone_wav(path: Path, frequency: float, seconds: float = 4.0, rate: int = 48000) -> Path:
    """A 16-bit mono sine, a whole number of cycles so it loops cleanly."""
    count = int(rate * seconds)
    samples = (int(10000 * math.sin(2 * math.pi * frequency * n / rate)) for n in range(count))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return path


def cut_browser_off(ns: Netns) -> None:
    """The relay's firewall drops every packet but the dialer's (its SIP port
    and RTP range) and its own loopback: the browser's WebSocket and media
    stop, whichever of this host's addresses they use."""
    low, high = DIALER_RTP_PORTS[0], DIALER_SIP_PORT
    rules = [
        ["-A", "INPUT", "-i", "lo", "-j", "ACCEPT"],
        ["-A", "INPUT", "-p", "udp", "--sport", f"{low}:{high}", "-j", "ACCEPT"],
        ["-A", "INPUT", "-j", "DROP"],
        ["-A", "OUTPUT", "-o", "lo", "-j", "ACCEPT"],
        ["-A", "OUTPUT", "-p", "udp", "--dport", f"{low}:{high}", "-j", "ACCEPT"],
        ["-A", "OUTPUT", "-j", "DROP"],
    ]
    for rule in rules:
        ns.run(["iptables", *rule], check=True, capture_output=True)


def reconnect_browser(ns: Netns) -> None:
    ns.run(["iptables", "-F"], check=True, capture_output=True)
