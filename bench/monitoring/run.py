"""What listening in costs the dialer, and how many listened calls one holds.

    python -m bench.monitoring.run --calls 25,50,100,150,200 --seconds 20 [--mode listen]

For each number of simultaneous calls: the dialer side is this process
(three RtpEndpoints per call: customer, agent, supervisor; the customer and
the agent bridged as the trunk bridges them, the supervisor joined through a
Conference in the given mode, all conferences on one MixClock), the phones
are another process (bench/monitoring/phones.py: a tone from every leg every
20 ms). Each size runs twice, plain bridge (the supervisor's socket open but
not joined) and monitored, so the mixing's own CPU is the difference.
Late ticks: mix ticks that ran a whole frame (20 ms) or more after they were
due; "holds" means none. Frames to the supervisor: what reached the
supervisor's phone against the 50 a second it should get. Tick CPU: the
clock's own CPU time (mixing and sending), per call and second.

    python -m bench.monitoring.run --offline --calls 100,400 --seconds 5

measures the mixing alone, free of the machine's other load: the frames are
pushed into each call's mixer in this process (no phones, no receiving), the
mixed frames sent to a socket that discards them; it prints the CPU per
listened call-second and how many calls one core could mix in 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time

from bench.recording.phones import tone
from bench.recording.run import SDP, _cpu, _settled, _udp
from dialer.sip.conference import Conference, MixClock, monitor_matrix
from dialer.sip.media import PeerMedia
from dialer.sip.rtp import RtpEndpoint, connect
from dialer.sip.sdp import PCMU, parse_sdp


async def one_run(calls: int, seconds: float, mode: str | None) -> dict[str, float]:
    legs: list[tuple[RtpEndpoint, RtpEndpoint, RtpEndpoint]] = []
    for number in range(calls):
        trio = [await RtpEndpoint.on_socket(_udp(), f"{side}-{number}") for side in "cas"]
        legs.append((trio[0], trio[1], trio[2]))
    phones = subprocess.Popen(
        [sys.executable, "-m", "bench.monitoring.phones"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert phones.stdin is not None and phones.stdout is not None
    targets = [leg.port for trio in legs for leg in trio]
    phones.stdin.write(json.dumps({"targets": targets, "seconds": seconds}) + "\n")
    phones.stdin.flush()
    ports = json.loads(await asyncio.to_thread(phones.stdout.readline))["ports"]
    clock = MixClock()
    conferences = []
    for index, trio in enumerate(legs):
        for endpoint, port in zip(trio, ports[3 * index : 3 * index + 3], strict=True):
            description = parse_sdp(SDP.format(port=port).encode())
            endpoint.apply(PeerMedia(description, "127.0.0.1", PCMU, None))
        customer, agent, supervisor = trio
        connect(customer, agent)
    cpu_before, wall_before = _cpu(), time.monotonic()
    phones.stdin.write("go\n")
    phones.stdin.flush()
    if mode is not None:
        await asyncio.sleep(0.1)
        for index, (customer, agent, supervisor) in enumerate(legs):
            conference = Conference(f"call-{index}", clock)
            for name, endpoint in (("c", customer), ("a", agent), ("s", supervisor)):
                conference.join(name, endpoint)
            conference.set_matrix(monitor_matrix("c", "a", {"s": mode}))
            conferences.append(conference)
    sent = json.loads(await asyncio.to_thread(phones.stdout.readline))["sent"]
    await _settled(lambda: sum(leg.stats.received for trio in legs for leg in trio))
    phones.stdin.write("count\n")
    phones.stdin.flush()
    received = json.loads(await asyncio.to_thread(phones.stdout.readline))["received"]
    for conference in conferences:
        conference.close()
    cpu = _cpu() - cpu_before
    wall = time.monotonic() - wall_before
    phones.wait()
    for trio in legs:
        for leg in trio:
            leg.close()
    await asyncio.sleep(0)
    to_supervisors = sum(received[2::3])
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        "sent": sent,
        "ticks": clock.stats.ticks,
        "late": clock.stats.late,
        "max_lateness_ms": 1000 * clock.stats.max_lateness_s,
        "tick_cpu_ms_per_call_s": 1000 * clock.stats.busy_s / max(1, calls) / max(1e-9, wall),
        "supervisor_share": to_supervisors / max(1, calls * clock.stats.ticks),
        "dialer_loss": 1 - sum(leg.stats.received for trio in legs for leg in trio) / sent,
    }


async def offline(calls: int, seconds: float, mode: str) -> dict[str, float]:
    """Mixing alone: frames pushed straight into the mixers, ticks run back to back."""
    sink = _udp()
    target = sink.getsockname()[1]
    clock = MixClock()
    voices = [tone(frequency) for frequency in (440.0, 1000.0, 2000.0)]
    conferences = []
    for index in range(calls):
        conference = Conference(f"call-{index}", clock)
        for name in "cas":
            endpoint = await RtpEndpoint.on_socket(_udp(), f"{name}-{index}")
            description = parse_sdp(SDP.format(port=target).encode())
            endpoint.apply(PeerMedia(description, "127.0.0.1", PCMU, None))
            conference.join(name, endpoint)
        conference.set_matrix(monitor_matrix("c", "a", {"s": mode}))
        conferences.append(conference)
    clock.remove_all()
    ticks = int(seconds / 0.02)
    began = time.process_time()
    for index in range(ticks):
        offset = (index * 160) % (len(voices[0]) - 160)
        for conference in conferences:
            for number, name in enumerate("cas"):
                conference.mixer.push(name, PCMU, voices[number][offset : offset + 160])
            conference.tick()
    cpu = time.process_time() - began
    for conference in conferences:
        conference.close()
    sink.close()
    per_tick_ms = 1000 * cpu / ticks
    return {"cpu_ms_per_call_s": 1000 * cpu / (calls * seconds), "per_tick_ms": per_tick_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="25,50,100,150,200")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--mode", default="listen", choices=("listen", "whisper", "barge"))
    parser.add_argument("--offline", action="store_true", help="the mixing alone (see above)")
    args = parser.parse_args()
    if args.offline:
        print(
            f"mode {args.mode}, mixing alone\n"
            "calls  CPU ms/call-s  tick ms  calls per core in 20 ms"
        )
        for calls in (int(n) for n in args.calls.split(",")):
            got = asyncio.run(offline(calls, args.seconds, args.mode))
            fit = int(20.0 / (got["per_tick_ms"] / calls))
            print(
                f"{calls:5d}  {got['cpu_ms_per_call_s']:13.3f}  "
                f"{got['per_tick_ms']:7.2f}  {fit:8d}",
                flush=True,
            )
        return
    print(
        f"mode {args.mode}\ncalls  bridge CPU  monitored CPU  mix CPU ms/call-s"
        "  tick CPU ms/call-s  late ticks  max lateness ms  frames to supervisor"
        "  lost at dialer"
    )
    for calls in (int(n) for n in args.calls.split(",")):
        plain = asyncio.run(one_run(calls, args.seconds, None))
        mixed = asyncio.run(one_run(calls, args.seconds, args.mode))
        per_call = 1000 * (mixed["cpu_s"] - plain["cpu_s"]) / (calls * args.seconds)
        print(
            f"{calls:5d}  {100 * plain['cpu_s'] / plain['wall_s']:9.1f}%  "
            f"{100 * mixed['cpu_s'] / mixed['wall_s']:12.1f}%  {per_call:17.3f}  "
            f"{mixed['tick_cpu_ms_per_call_s']:18.3f}  "
            f"{mixed['late']:4.0f} of {mixed['ticks']:<5.0f} {mixed['max_lateness_ms']:14.1f}  "
            f"{100 * mixed['supervisor_share']:19.1f}%  {100 * mixed['dialer_loss']:13.2f}%",
            flush=True,
        )


if __name__ == "__main__":
    main()
