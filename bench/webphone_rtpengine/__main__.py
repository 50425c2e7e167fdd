"""rtpengine as the browser phone's media relay: what it adds to the audio
and what it costs. Runs deploy/webphone/rtpengine.conf (userspace, no kernel
module) on loopback and drives it over its ng control protocol as Kamailio
would; Python endpoints stand in for the dialer (plain RTP/AVP) and the
browser (SRTP, AES_CM_128_HMAC_SHA1_80: the per-packet work of a WebRTC leg,
whose keys a browser agrees with DTLS instead of SDES).

Each leg is one agent's call: 50 packets/s each way, every payload carrying
its send time. For each number of legs it prints packet loss, one-way delay
(median and 99th percentile) and RFC 3550 jitter through rtpengine, the same
for the endpoints talking directly (what the generator itself adds), and
rtpengine's CPU.

    .venv/bin/python -m bench.webphone_rtpengine --legs 25,50,100,200 --seconds 10

Needs rtpengine (Debian rtpengine-daemon). `--plain` measures plain RTP on
both sides (a desk phone's leg) instead of SRTP on the browser side.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import secrets
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from pylibsrtp import Policy, Session

from tests.support import free_port as any_free_port

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "webphone" / "rtpengine.conf"
HOST = "127.0.0.1"
FRAME_S = 0.02
PAYLOAD = 160  # 20 ms of G.711
SUITE = "AES_CM_128_HMAC_SHA1_80"


# -- ng protocol (bencode over UDP) -------------------------------------------


def bencode(value: Any) -> bytes:
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(item) for item in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value)}")


def bdecode(data: bytes, at: int = 0) -> tuple[Any, int]:
    kind = data[at : at + 1]
    if kind == b"i":
        end = data.index(b"e", at)
        return int(data[at + 1 : end]), end + 1
    if kind in (b"l", b"d"):
        items, at = [], at + 1
        while data[at : at + 1] != b"e":
            item, at = bdecode(data, at)
            items.append(item)
        if kind == b"l":
            return items, at + 1
        pairs = zip(items[::2], items[1::2], strict=True)
        return {k.decode(): v for k, v in pairs}, at + 1
    colon = data.index(b":", at)
    length = int(data[at:colon])
    return data[colon + 1 : colon + 1 + length], colon + 1 + length


class Ng:
    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(5)
        self.sock.connect((HOST, port))

    def request(self, command: dict[str, Any], expect: bytes = b"ok") -> dict[str, Any]:
        cookie = secrets.token_hex(6).encode()
        self.sock.send(cookie + b" " + bencode(command))
        while True:
            data = self.sock.recv(65535)
            if data.startswith(cookie + b" "):
                reply, _ = bdecode(data, len(cookie) + 1)
                if reply.get("result") != expect:
                    raise RuntimeError(f"rtpengine: {reply}")
                return dict(reply)

    def ping(self) -> bool:
        try:
            self.request({"command": "ping"}, expect=b"pong")
        except (OSError, RuntimeError):
            return False
        return True


# -- endpoints ------------------------------------------------------------------


@dataclass
class Received:
    packets: int = 0
    delays_ms: list[float] = field(default_factory=list)
    jitter_ms: float = 0.0
    _transit: float | None = None

    def add(self, sent_ns: int, now_ns: int, rtp_ts: int) -> None:
        self.packets += 1
        delay = (now_ns - sent_ns) / 1e6
        self.delays_ms.append(delay)
        transit = now_ns / 1e6 - rtp_ts / 8.0  # ms, RFC 3550 A.8 with an 8 kHz clock
        if self._transit is not None:
            self.jitter_ms += (abs(transit - self._transit) - self.jitter_ms) / 16
        self._transit = transit


class Endpoint(asyncio.DatagramProtocol):
    """One side of a leg: sends a timestamped packet each tick, measures what arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.remote: tuple[str, int] | None = None
        self.ssrc = secrets.randbits(32)
        self.seq = secrets.randbits(16)
        self.ts = secrets.randbits(32)
        self.sent = 0
        self.received = Received()
        self.tx: Session | None = None
        self.rx: Session | None = None
        self.errors = 0
        self.since_ns = 0  # packets sent before this are not counted

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self) -> None:
        if self.remote is None or self.transport is None:
            return
        self.seq = (self.seq + 1) & 0xFFFF
        self.ts = (self.ts + PAYLOAD) & 0xFFFFFFFF
        header = struct.pack("!BBHII", 0x80, 0, self.seq, self.ts, self.ssrc)
        payload = struct.pack("!Q", time.monotonic_ns()).ljust(PAYLOAD, b"\xff")
        packet = header + payload
        if self.tx is not None:
            packet = self.tx.protect(packet)
        self.transport.sendto(packet, self.remote)
        self.sent += 1

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        now = time.monotonic_ns()
        if self.rx is not None:
            try:
                data = self.rx.unprotect(data)
            except Exception:  # a packet libsrtp refuses counts as lost
                self.errors += 1
                return
        if len(data) < 20 or data[0] >> 6 != 2 or data[1] & 0x7F >= 72:
            return  # not RTP, or RTCP
        rtp_ts = struct.unpack_from("!I", data, 4)[0]
        sent_ns = struct.unpack_from("!Q", data, 12)[0]
        if sent_ns >= self.since_ns:
            self.received.add(sent_ns, now, rtp_ts)

    def reset(self, since_ns: int) -> None:
        self.sent = 0
        self.received = Received()
        self.since_ns = since_ns


async def open_endpoint() -> Endpoint:
    loop = asyncio.get_running_loop()
    endpoint = Endpoint()
    await loop.create_datagram_endpoint(lambda: endpoint, local_addr=(HOST, 0))
    sock = endpoint.transport.get_extra_info("socket") if endpoint.transport else None
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    return endpoint


def sdp(port: int, proto: str, crypto: str | None = None) -> str:
    lines = [
        "v=0",
        f"o=- {secrets.randbits(31)} 1 IN IP4 {HOST}",
        "s=-",
        f"c=IN IP4 {HOST}",
        "t=0 0",
        f"m=audio {port} {proto} 0",
        "a=rtpmap:0 PCMU/8000",
        "a=sendrecv",
    ]
    if crypto:
        lines.append(crypto)
    return "\r\n".join(lines) + "\r\n"


def media_port(body: bytes) -> int:
    found = re.search(rb"^m=audio (\d+) ", body, re.M)
    assert found, body
    return int(found.group(1))


def offered_crypto(body: bytes) -> tuple[str, bytes]:
    """The tag and key of rtpengine's AES_CM_128_HMAC_SHA1_80 offer."""
    pattern = rb"^a=crypto:(\d+) " + SUITE.encode() + rb" inline:([A-Za-z0-9+/=]+)"
    found = re.search(pattern, body, re.M)
    assert found, body
    return found.group(1).decode(), base64.b64decode(found.group(2))


@dataclass
class Leg:
    call_id: str
    dialer: Endpoint  # plain RTP/AVP, as the dialer speaks
    browser: Endpoint  # SRTP (or plain with --plain), as rtpengine speaks to browsers


async def open_leg(ng: Ng, index: int, srtp: bool) -> Leg:
    leg = Leg(f"bench-{index}-{secrets.token_hex(4)}", await open_endpoint(), await open_endpoint())
    offer = ng.request(
        {
            "command": "offer",
            "call-id": leg.call_id,
            "from-tag": "dialer",
            "sdp": sdp(leg.dialer.port, "RTP/AVP"),
            "ICE": "remove",
            "DTLS": "off",
            "flags": ["trust-address"],
            "replace": ["origin", "session-connection"],
            "transport-protocol": "RTP/SAVP" if srtp else "RTP/AVP",
        }
    )
    toward_browser = offer["sdp"]
    leg.browser.remote = (HOST, media_port(toward_browser))
    crypto = None
    if srtp:
        tag, theirs = offered_crypto(toward_browser)
        ours = secrets.token_bytes(30)
        leg.browser.rx = Session(Policy(theirs, Policy.SSRC_ANY_INBOUND))
        leg.browser.tx = Session(Policy(ours, Policy.SSRC_ANY_OUTBOUND))
        crypto = f"a=crypto:{tag} {SUITE} inline:{base64.b64encode(ours).decode()}"
    answer = ng.request(
        {
            "command": "answer",
            "call-id": leg.call_id,
            "from-tag": "dialer",
            "to-tag": "browser",
            "sdp": sdp(leg.browser.port, "RTP/SAVP" if srtp else "RTP/AVP", crypto),
            "ICE": "remove",
            "flags": ["trust-address"],
            "replace": ["origin", "session-connection"],
        }
    )
    leg.dialer.remote = (HOST, media_port(answer["sdp"]))
    return leg


async def open_direct_pair(index: int) -> Leg:
    leg = Leg(f"direct-{index}", await open_endpoint(), await open_endpoint())
    leg.dialer.remote = (HOST, leg.browser.port)
    leg.browser.remote = (HOST, leg.dialer.port)
    return leg


async def run_media(legs: Sequence[Leg], seconds: float) -> tuple[float, int]:
    """Send on every endpoint every 20 ms for ``seconds`` (after a 1 s warm-up);
    returns the generator's CPU over the window (% of one core) and its late ticks."""
    loop = asyncio.get_running_loop()
    endpoints = [e for leg in legs for e in (leg.dialer, leg.browser)]
    me = psutil.Process()
    late, measuring, started, cpu0 = 0, False, loop.time(), me.cpu_times()
    tick = 0
    start = loop.time()
    total_ticks = int((seconds + 1.0) / FRAME_S)
    while tick < total_ticks:
        if not measuring and loop.time() - start >= 1.0:
            now_ns = time.monotonic_ns()
            for endpoint in endpoints:
                endpoint.reset(now_ns)
            measuring, started, cpu0, late = True, loop.time(), me.cpu_times(), 0
        for endpoint in endpoints:
            endpoint.send()
        tick += 1
        delay = start + tick * FRAME_S - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            late += 1
            await asyncio.sleep(0)
    await asyncio.sleep(0.2)  # the last packets in flight
    cpu1 = me.cpu_times()
    used = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return 100 * used / (loop.time() - started), late


@dataclass
class Figures:
    sent: int
    received: int
    delay_p50: float
    delay_p99: float
    jitter: float

    @property
    def loss_pct(self) -> float:
        return 100 * (1 - self.received / self.sent) if self.sent else 0.0


def figures(legs: Sequence[Leg]) -> Figures:
    endpoints = [e for leg in legs for e in (leg.dialer, leg.browser)]
    delays = sorted(d for e in endpoints for d in e.received.delays_ms)
    return Figures(
        sent=sum(e.sent for e in endpoints),
        received=sum(e.received.packets for e in endpoints),
        delay_p50=statistics.median(delays) if delays else float("nan"),
        delay_p99=delays[int(0.99 * (len(delays) - 1))] if delays else float("nan"),
        jitter=statistics.mean(e.received.jitter_ms for e in endpoints) if endpoints else 0.0,
    )


def close(legs: Sequence[Leg]) -> None:
    for leg in legs:
        for endpoint in (leg.dialer, leg.browser):
            if endpoint.transport is not None:
                endpoint.transport.close()


def start_rtpengine(workdir: Path, ng_port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("rtpengine")
    if binary is None:
        sys.exit("rtpengine is not installed (Debian package rtpengine-daemon)")
    log = (workdir / "rtpengine.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config-file={CONFIG}",
            f"--interface={HOST}",
            f"--listen-ng={HOST}:{ng_port}",
            "--port-min=45000",
            "--port-max=49999",
            "--log-level=4",
            "--foreground",
            "--log-stderr",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    ng = Ng(ng_port)
    deadline = time.monotonic() + 10
    while not ng.ping():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            sys.exit(f"rtpengine did not start; see {workdir / 'rtpengine.log'}")
        time.sleep(0.1)
    return process


async def measure(ng: Ng, rtpengine: psutil.Process, count: int, seconds: float, srtp: bool):
    direct = [await open_direct_pair(i) for i in range(count)]
    await run_media(direct, seconds)
    baseline = figures(direct)
    close(direct)

    legs = [await open_leg(ng, i, srtp) for i in range(count)]
    cpu0, t0 = rtpengine.cpu_times(), time.monotonic()
    generator_cpu, late = await run_media(legs, seconds)
    cpu1, t1 = rtpengine.cpu_times(), time.monotonic()
    through = figures(legs)
    errors = sum(leg.browser.errors for leg in legs)
    for leg in legs:
        ng.request({"command": "delete", "call-id": leg.call_id, "from-tag": "dialer"})
    close(legs)
    # The window run_media measures is `seconds` + the 0.2 s tail; close enough
    # for CPU, whose counters cover the warm-up second too.
    rtpengine_cpu = 100 * ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) / (t1 - t0)
    return baseline, through, rtpengine_cpu, generator_cpu, late, errors


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--legs", default="25,50,100,200", help="comma-separated leg counts")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per step")
    parser.add_argument("--plain", action="store_true", help="plain RTP on the browser side")
    parser.add_argument("--workdir", default="", help="keep rtpengine's log here")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    counts = [int(n) for n in args.legs.split(",")]
    srtp = not args.plain
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-rtpengine-"))
    workdir.mkdir(parents=True, exist_ok=True)
    ng_port = any_free_port(HOST, socket.SOCK_DGRAM)
    process = start_rtpengine(workdir, ng_port)
    ng = Ng(ng_port)
    rtpengine = psutil.Process(process.pid)
    side = "SRTP (AES_CM_128_HMAC_SHA1_80)" if srtp else "plain RTP"
    print(f"rtpengine {CONFIG.name}, userspace; dialer side RTP/AVP, browser side {side}")
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f} before the run")
    print(
        f"{'legs':>5} {'pkt/s':>7} {'loss %':>7} {'delay p50':>10} {'p99':>7} "
        f"{'jitter':>7} {'direct p50':>11} {'p99':>7} {'jitter':>7} {'added p50':>10} "
        f"{'rtpengine CPU':>14} {'per leg':>8} {'generator CPU':>14} {'late ticks':>10}"
    )
    try:
        for count in counts:
            baseline, through, cpu, generator_cpu, late, errors = asyncio.run(
                measure(ng, rtpengine, count, args.seconds, srtp)
            )
            added = through.delay_p50 - baseline.delay_p50
            print(
                f"{count:>5} {through.sent / args.seconds:>7.0f} {through.loss_pct:>7.3f} "
                f"{through.delay_p50:>8.2f}ms {through.delay_p99:>5.2f}ms "
                f"{through.jitter:>5.2f}ms {baseline.delay_p50:>9.2f}ms "
                f"{baseline.delay_p99:>5.2f}ms {baseline.jitter:>5.2f}ms {added:>8.2f}ms "
                f"{cpu:>13.1f}% {cpu / count:>7.2f}% {generator_cpu:>13.1f}% {late:>10}"
                + (f"  ({errors} SRTP errors)" if errors else "")
            )
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
    print(
        "CPU % is of one core; loss counts both directions; delay is one-way on one host "
        "(the clock is shared); 'added' is through rtpengine minus endpoints talking directly."
    )


if __name__ == "__main__":
    main()
