"""How much recording costs the dialer, and how many recordings one holds.

    python -m bench.recording.run --calls 50,100,150,200 --seconds 30

For each number of simultaneous calls: the dialer side is this process (two
RtpEndpoints per call, bridged as the trunk bridges them, recorded by the
dialer's RecordingWriter into FLAC), the phones are another process
(bench/recording/phones.py: a tone from each side every 20 ms). Each size
runs twice, relay only and relay + recording, so the recording's own CPU is
the difference. Loss: packets the phones sent that the far phone did not get
back through the bridge (end to end: the phones process, on a loaded
machine, drops some itself), and those that never reached the dialer's
sockets in the first place (the dialer's own loss); recordings failed (the
writer fell behind).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from dialer.sip.media import PeerMedia
from dialer.sip.recorder import AGENT, CUSTOMER, RecordingResult, RecordingWriter
from dialer.sip.rtp import RtpEndpoint, connect
from dialer.sip.sdp import PCMU, parse_sdp

SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\nm=audio {port} RTP/AVP 0\r\n"
)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def one_run(calls: int, seconds: float, record: bool, spool: Path) -> dict[str, float]:
    legs: list[tuple[RtpEndpoint, RtpEndpoint]] = []
    for number in range(calls):
        pair = []
        for side in ("customer", "agent"):
            endpoint = await RtpEndpoint.on_socket(_udp(), f"{side}-{number}")
            pair.append(endpoint)
        legs.append((pair[0], pair[1]))
    phones = subprocess.Popen(
        [sys.executable, "-m", "bench.recording.phones"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert phones.stdin is not None and phones.stdout is not None
    targets = [[customer.port, agent.port] for customer, agent in legs]
    phones.stdin.write(json.dumps({"targets": targets, "seconds": seconds}) + "\n")
    phones.stdin.flush()
    ports = json.loads(await asyncio.to_thread(phones.stdout.readline))["ports"]
    for index, (customer, agent) in enumerate(legs):
        for endpoint, port in ((customer, ports[2 * index]), (agent, ports[2 * index + 1])):
            description = parse_sdp(SDP.format(port=port).encode())
            endpoint.apply(PeerMedia(description, "127.0.0.1", PCMU, None))
        connect(customer, agent)
    writer = RecordingWriter(spool, min_free_bytes=0, queue_frames=30000)
    results: list[RecordingResult] = []
    recordings = []
    if record:
        writer.start()
        for index, (customer, agent) in enumerate(legs):
            recording = writer.open(f"call-{index}", results.append)
            customer.tap = lambda pt, payload, r=recording: r.feed(CUSTOMER, pt, payload)
            agent.tap = lambda pt, payload, r=recording: r.feed(AGENT, pt, payload)
            recordings.append(recording)
    cpu_before, wall_before = _cpu(), time.monotonic()
    phones.stdin.write("go\n")
    phones.stdin.flush()
    sent = json.loads(await asyncio.to_thread(phones.stdout.readline))["sent"]
    await _settled(lambda: sum(leg.stats.received for pair in legs for leg in pair))
    phones.stdin.write("count\n")
    phones.stdin.flush()
    received = json.loads(await asyncio.to_thread(phones.stdout.readline))["received"]
    at_dialer = sum(leg.stats.received for pair in legs for leg in pair)
    for recording in recordings:
        recording.finish()
    if record:
        await asyncio.to_thread(writer.stop)
    cpu = _cpu() - cpu_before
    wall = time.monotonic() - wall_before
    phones.wait()
    for customer, agent in legs:
        customer.close()
        agent.close()
    await asyncio.sleep(0)
    stored = [r for r in results if r.ok]
    size = sum(r.size_bytes or 0 for r in stored)
    for r in stored:
        if r.path is not None:
            r.path.unlink(missing_ok=True)
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        "sent": sent,
        "received": received,
        "dialer_loss": 1 - at_dialer / sent,
        "loss": 1 - received / sent,
        "stored": len(stored),
        "failed": len(results) - len(stored),
        "bytes": size,
        "refused_frames": writer.refused_frames,
    }


async def _settled(counter: Callable[[], int], quiet_s: float = 0.3, limit_s: float = 10.0) -> None:
    """Until the dialer's packet counter stops moving: it has caught up."""
    last, waited = -1, 0.0
    while waited < limit_s:
        now = counter()
        if now == last:
            return
        last = now
        await asyncio.sleep(quiet_s)
        waited += quiet_s


def _udp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind(("127.0.0.1", 0))
    return sock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="50,100,150,200")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    print(
        "calls  relay CPU  +recording CPU  rec CPU-s/call-min  KB/call-min"
        "  lost at dialer relay/rec  lost end to end relay/rec  stored/failed"
    )
    with tempfile.TemporaryDirectory() as spool:
        for calls in (int(n) for n in args.calls.split(",")):
            relay = asyncio.run(one_run(calls, args.seconds, False, Path(spool)))
            both = asyncio.run(one_run(calls, args.seconds, True, Path(spool)))
            call_minutes = calls * args.seconds / 60
            per_minute_cpu = (both["cpu_s"] - relay["cpu_s"]) / call_minutes
            kb = both["bytes"] / 1024 / max(1, both["stored"]) / (args.seconds / 60)
            print(
                f"{calls:5d}  {100 * relay['cpu_s'] / relay['wall_s']:8.1f}%  "
                f"{100 * both['cpu_s'] / both['wall_s']:13.1f}%  {per_minute_cpu:18.3f}  "
                f"{kb:11.0f}  {100 * relay['dialer_loss']:13.2f}%/"
                f"{100 * both['dialer_loss']:.2f}%  "
                f"{100 * relay['loss']:17.2f}%/{100 * both['loss']:.2f}%  "
                f"{both['stored']:.0f}/{both['failed']:.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
