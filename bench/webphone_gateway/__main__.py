"""How many browser legs the built-in gateway holds: N aiortc phones (Python,
no browser; :mod:`bench.webphone_gateway.clients`) on another host (a network
namespace, 10.231.61.2) register over WebSocket; the gateway (this process,
on 10.231.61.1) calls each, plays a 600 Hz tone while each phone sends 1000 Hz,
for T seconds. Prints, per N: the gateway's CPU seconds per leg per minute
(this process, every thread), packet loss and jitter seen by the phones
(gateway -> phone) and by the gateway (phone -> gateway), the RTP packets
each leg sent and received per second (50 is real time: a side that falls
behind sends fewer packets, which loss does not show), and the first N
whose loss passes 0.1% or whose rate falls below 49.5 packets/s.

    .venv/bin/python -m bench.webphone_gateway --legs 5,10,20,40 --seconds 30

Needs root (the namespace). Both ends share this machine's cores: at high N
the phones' process competes with the gateway for CPU, so the loss figure is
of the pair; the CPU figure is the gateway's alone."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench.webphone_gateway.clients import tone
from dialer.webphone import BrowserLeg, BrowserPhoneGateway, LegEvent, Limits
from tests.integration.sip.netns import Netns

LOSS_LIMIT = 0.001


@dataclass
class Round:
    legs: int
    answered: int
    cpu_s_per_leg_minute: float
    phone_cpu_s_per_leg_minute: float
    phone_loss: float
    phone_jitter_ms: float
    gateway_loss: float
    gateway_jitter_ms: float
    heard_hz: float | None
    sent_per_s: float  # RTP packets a leg sent each second (50 keeps real time)
    received_per_s: float


async def inbound_stats(leg: BrowserLeg) -> tuple[int, int, float]:
    if leg.media is None:
        return 0, 0, 0.0
    for stats in (await leg.media.pc.getStats()).values():
        if stats.type == "inbound-rtp":
            return stats.packetsReceived, max(0, stats.packetsLost), stats.jitter / 8.0
    return 0, 0, 0.0


async def packets_sent(legs: list[BrowserLeg]) -> int:
    total = 0
    for leg in legs:
        if leg.media is not None:
            stats = (await leg.media.pc.getStats()).values()
            total += sum(s.packetsSent for s in stats if s.type == "outbound-rtp")
    return total


async def one_round(
    gateway: BrowserPhoneGateway, ns: Netns, secret: bytes, legs: int, seconds: float, first: int
) -> Round:
    url = f"ws://{ns.host_address}:{gateway.port}"
    phones = await asyncio.create_subprocess_exec(
        *ns.command([
            sys.executable, "-m", "bench.webphone_gateway.clients", "--url", url,
            "--first", str(first), "--count", str(legs), "--secret-hex", secret.hex(),
            "--tone-seconds", str(seconds + 30), "--timeout", str(seconds + 120),
        ]),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )  # fmt: skip
    agents = range(first, first + legs)
    deadline = time.monotonic() + 60
    while not all(gateway.registered(a) for a in agents):
        if time.monotonic() > deadline:
            raise SystemExit(f"only {sum(gateway.registered(a) for a in agents)} phones registered")
        await asyncio.sleep(0.2)
    answered = asyncio.Queue[str]()

    def on_event(event: LegEvent) -> None:
        if event.kind == "answered":
            answered.put_nowait("up")

    calls = [gateway.call(f"sip:agent-{a}@webphone.invalid", on_event) for a in agents]
    placed: list[BrowserLeg] = list(await asyncio.gather(*calls))
    up = 0
    try:
        while up < legs:
            await asyncio.wait_for(answered.get(), 30)
            up += 1
    except TimeoutError:
        pass
    customer = tone(600.0, seconds + 30)
    for leg in placed:
        leg.play(customer)
        leg.reset_heard()
    await asyncio.sleep(2)  # past the start of every stream
    phone_cpu_before = _cpu_of(phones.pid)
    sent_before = await packets_sent(placed)
    received_before = sum([(await inbound_stats(leg))[0] for leg in placed])
    cpu_before = time.process_time()
    await asyncio.sleep(seconds)
    cpu = time.process_time() - cpu_before
    phone_cpu = _cpu_of(phones.pid) - phone_cpu_before
    sent_rate = (await packets_sent(placed) - sent_before) / legs / seconds
    ours = [await inbound_stats(leg) for leg in placed]
    received_rate = (sum(r for r, _, _ in ours) - received_before) / legs / seconds
    heard = [leg.heard().frequency_hz for leg in placed]
    await asyncio.gather(*(leg.hang_up() for leg in placed))
    out, _ = await phones.communicate()
    results = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    received = sum(r.get("received", 0) for r in results)
    lost = sum(r.get("lost", 0) for r in results)
    g_received = sum(r for r, _, _ in ours)
    g_lost = sum(lost_ for _, lost_, _ in ours)
    minutes = seconds / 60
    return Round(
        legs=legs,
        answered=up,
        cpu_s_per_leg_minute=cpu / legs / minutes,
        phone_cpu_s_per_leg_minute=phone_cpu / legs / minutes,
        phone_loss=lost / max(1, received + lost),
        phone_jitter_ms=max((r.get("jitter_ms", 0.0) for r in results), default=0.0),
        gateway_loss=g_lost / max(1, g_received + g_lost),
        gateway_jitter_ms=max((j for _, _, j in ours), default=0.0),
        heard_hz=_median([h for h in heard if h is not None]),
        sent_per_s=sent_rate,
        received_per_s=received_rate,
    )


def _cpu_of(pid: int) -> float:
    """CPU seconds of a process and its children (``ip netns exec`` execs the phones)."""
    import psutil

    process = psutil.Process(pid)
    times = process.cpu_times()
    return times.user + times.system


def _median(values: list[float]) -> float | None:
    return sorted(values)[len(values) // 2] if values else None


async def main(args: argparse.Namespace) -> None:
    secret = secrets.token_bytes(16)
    ns = Netns.create(args.subnet, prefix="ccw")
    gateway = BrowserPhoneGateway(
        domain="webphone.invalid",
        secret=secret,
        host=ns.host_address,
        port=0,
        limits=Limits(max_connections=1000),
    )
    await gateway.start()
    rounds: list[Round] = []
    try:
        first = 1
        for legs in args.legs:
            result = await one_round(gateway, ns, secret, legs, args.seconds, first)
            first += legs
            rounds.append(result)
            print(_row(result), flush=True)
            await asyncio.sleep(2)
    finally:
        await gateway.stop()
        ns.close()
    over = next((r.legs for r in rounds if _over(r)), None)
    print(
        f"loss passes {LOSS_LIMIT:.1%} (or a leg falls behind real time) at N = "
        f"{over if over else f'none up to {args.legs[-1]}'}"
    )


def _over(r: Round) -> bool:
    behind = min(r.sent_per_s, r.received_per_s) < 49.5
    return behind or max(r.phone_loss, r.gateway_loss) > LOSS_LIMIT


def _row(r: Round) -> str:
    heard = f"{r.heard_hz:.0f} Hz" if r.heard_hz else "nothing"
    return (
        f"N={r.legs:3d} answered={r.answered:3d}"
        f"  gateway CPU {r.cpu_s_per_leg_minute:5.2f} s/leg/min"
        f"  (phones {r.phone_cpu_s_per_leg_minute:5.2f})"
        f"  loss to phones {r.phone_loss:.3%} jitter max {r.phone_jitter_ms:.1f} ms"
        f"  loss to gateway {r.gateway_loss:.3%} jitter max {r.gateway_jitter_ms:.1f} ms"
        f"  packets/s/leg sent {r.sent_per_s:.1f} received {r.received_per_s:.1f}"
        f"  gateway heard {heard}"
    )


def _args(argv: Any = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--legs", type=lambda s: [int(n) for n in s.split(",")], default=[5, 10])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--subnet", default="10.231.61")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(_args()))
