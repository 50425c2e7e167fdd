"""Load bench for the SIP UAC (run by hand; prints figures, asserts nothing).

    /work/venv/bin/python -m bench.sip.bench_sip_load --calls 900 --rate 40 --hold 10

Starts sipp's built-in UAS (``-sn uas``: 180, 200, waits for our BYE) on a free
loopback port, originates ``--calls`` calls at ``--rate`` calls/s through one
SipTrunk (one asyncio loop, one SIP socket, one RTP socket per leg), holds
each answered call ``--hold`` seconds and hangs up. Prints achieved setup
rate, peak concurrent answered legs, outcome counts, and this process's CPU.
With ``--media`` each answered leg also plays 20 ms G.711 frames to sipp's RTP
echo and counts what comes back.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import socket
import subprocess
import tempfile
import time
from collections import Counter

from dialer.carrier import CallProgress, OriginateRequest
from dialer.sip.trunk import SipTrunk, SipTrunkConfig
from dialer.sip.ua import UaConfig
from tests.support import free_port


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(calls: int, rate: float, hold: float, media: bool, port: int) -> None:
    trunk = SipTrunk(
        SipTrunkConfig(ua=UaConfig(trunk_uri=f"sip:127.0.0.1:{port}"), keepalive_interval_s=None)
    )
    await trunk.start()
    print(f"SIP socket SO_RCVBUF: {trunk.ua.transport.rcvbuf} bytes")
    loop = asyncio.get_running_loop()
    started: dict[str, float] = {}
    setup: list[float] = []
    outcomes: Counter[str] = Counter()
    live = 0
    peak = 0
    done = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    rtp_sent = rtp_back = 0

    async def hold_then_hang_up(call_id: str) -> None:
        nonlocal rtp_sent, rtp_back
        if media:
            payload = b"\xff" * int(160 * hold / 0.02)
            rtp = trunk._customers[call_id].call.rtp
            assert rtp is not None
            await rtp.play(payload)
            await asyncio.sleep(0.1)  # the last echoes
            rtp_sent += rtp.stats.sent
            rtp_back += rtp.stats.received
        else:
            await asyncio.sleep(hold)
        await trunk.hang_up(call_id)

    def on_progress(p: CallProgress) -> None:
        nonlocal live, peak
        if p.phase == "answered":
            setup.append(loop.time() - started[p.call_id])
            live += 1
            peak = max(peak, live)
            tasks.append(loop.create_task(hold_then_hang_up(p.call_id)))
        elif p.phase == "ended":
            if p.outcome == "answered":
                live -= 1
            outcomes[f"{p.outcome} {p.sip_reason}"] += 1
            if sum(outcomes.values()) == calls:
                done.set()

    cpu0, t0 = _cpu(), loop.time()
    for i in range(calls):
        due = t0 + i / rate
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        call_id = f"bench-{i}"
        started[call_id] = loop.time()
        await trunk.originate(OriginateRequest(call_id, f"+98912{i:07d}", "+9821", 30), on_progress)
    launch_s = loop.time() - t0
    await asyncio.wait_for(done.wait(), hold + 120)
    total_s = loop.time() - t0
    cpu = _cpu() - cpu0
    rtp = trunk.ua.transport
    await trunk.stop()
    setup.sort()
    print(
        f"calls {calls} at target {rate}/s: launched in {launch_s:.1f}s "
        f"= {calls / launch_s:.1f} setups/s offered"
    )
    answered_in = sum(1 for _ in setup)
    print(
        f"answered {answered_in}; setup time p50 {setup[len(setup) // 2] * 1000:.1f} ms, "
        f"p99 {setup[int(len(setup) * 0.99) - 1] * 1000:.1f} ms"
    )
    print(f"peak concurrent answered legs held: {peak}")
    print(f"outcomes: {dict(outcomes)}")
    print(f"malformed SIP dropped: {rtp.malformed}, send errors: {rtp.send_errors}")
    if media:
        loss = 1 - rtp_back / rtp_sent if rtp_sent else 0.0
        print(f"RTP: sent {rtp_sent} packets, echoed back {rtp_back} ({loss:.2%} lost)")
    print(f"CPU: {cpu:.1f} s over {total_s:.1f} s wall = {100 * cpu / total_s:.0f}% of one core")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=900)
    parser.add_argument("--rate", type=float, default=40.0)
    parser.add_argument("--hold", type=float, default=10.0)
    parser.add_argument("--media", action="store_true")
    args = parser.parse_args()
    sipp = shutil.which("sipp")
    if sipp is None:
        raise SystemExit("sipp not found (Debian package sip-tester)")
    port = free_port(kind=socket.SOCK_DGRAM)
    media_port = free_port(kind=socket.SOCK_DGRAM) & ~1
    with tempfile.TemporaryDirectory() as workdir:
        cmd = [
            sipp,
            "-sn",
            "uas",
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-mi",
            "127.0.0.1",
            "-mp",
            str(media_port),
            "-nostdin",
            "-m",
            str(args.calls),
            "-bind_local",
            "-buff_size",
            str(4 * 1024 * 1024),
        ]
        if args.media:
            cmd.append("-rtp_echo")
        peer = subprocess.Popen(
            cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(0.5)
        try:
            asyncio.run(run(args.calls, args.rate, args.hold, args.media, port))
        finally:
            peer.kill()
            peer.wait()


if __name__ == "__main__":
    main()
