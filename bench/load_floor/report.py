"""The figures, printed as one table per question."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bench.load_floor.checks import CALL_HANDLER, Check
from bench.load_floor.gather import Observed
from bench.load_floor.sampler import Sample


@dataclass(frozen=True)
class Window:
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def pct(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def spread(values: Sequence[float], unit: str = "ms") -> str:
    if not values:
        return "none"
    return (
        f"p50 {pct(values, 0.5):.0f} {unit}, p99 {pct(values, 0.99):.0f} {unit}, "
        f"max {max(values):.0f} {unit} (n={len(values)})"
    )


def print_calls(observed: Observed, window: Window) -> None:
    calls = list(observed.calls.values())
    inside = [c for c in calls if window.start <= c.dialed_at < window.end]
    minutes = []
    at = window.start
    while at < window.end - 1:
        end = min(at + 60, window.end)
        count = sum(1 for c in inside if at <= c.dialed_at < end)
        minutes.append(f"{count / (end - at):.1f}")
        at = end
    print(
        f"attempts: {len(inside)} in {window.seconds:.0f} s = {len(inside) / window.seconds:.1f}/s "
        f"(per minute: {' '.join(minutes)}); {len(calls)} calls in all"
    )
    outcomes = Counter(c.outcome for c in calls)
    live = outcomes["answered"] + outcomes["abandoned"]
    print(
        "outcomes: "
        + ", ".join(f"{name} {n}" for name, n in outcomes.most_common())
        + f"; abandoned {outcomes['abandoned'] / max(1, live):.2%} of live answers"
    )
    waits = [
        (c.connected_at - c.answered_at) * 1000
        for c in calls
        if c.connected_at is not None and c.answered_at is not None
    ]
    print(f"connect wait (answered -> call.connected): {spread(waits)}")
    levels = [(at, level, reason) for at, level, reason in observed.dial_levels]
    if levels:
        shown = levels[:: max(1, len(levels) // 6)][:6]
        print(
            f"pacer: {len(levels)} dial level changes; "
            + "; ".join(
                f"t={at - window.start:.0f}s {level:.2f} {reason[:60]}"
                for at, level, reason in shown
            )
        )


def print_latencies(observed: Observed, window: Window) -> None:
    """Each delay over the whole run, and over the dialing window alone: when
    the dialer stops, every call it holds ends at once (a burst of ends,
    wrap-ups and agents' state changes no floor sees in one second)."""
    from_answer, from_connect, dialing_answer, dialing_connect = [], [], [], []
    for client in observed.clients:
        for agent in client["agents"].values():
            for call_id, at in agent["pops"]:
                call = observed.calls.get(call_id)
                if call is None or call.connected_at is None or call.answered_at is None:
                    continue
                from_answer.append((at - call.answered_at) * 1000)
                from_connect.append((at - call.connected_at) * 1000)
                if at < window.end:
                    dialing_answer.append(from_answer[-1])
                    dialing_connect.append(from_connect[-1])
    print(f"screen pop, answered at the carrier -> pop at the agent client: {spread(from_answer)}")
    print(
        f"  while dialing:                                                {spread(dialing_answer)}"
    )
    print(f"screen pop, call.connected -> pop at the agent client:         {spread(from_connect)}")
    print(
        f"  while dialing:                                                {spread(dialing_connect)}"
    )
    print(
        "supervisor update delay, event time -> receipt, every push to every supervisor "
        "(in all | received while dialing):"
    )
    every: list[float] = []
    every_dialing: list[float] = []
    for kind, (received, delays) in sorted(observed.supervisor_delays.items()):
        dialing = [d for at, d in zip(received, delays, strict=True) if at < window.end]
        print(f"  {kind:<16} {spread(delays)} | {spread(dialing)}")
        every.extend(delays)
        every_dialing.extend(dialing)
    print(f"  {'all':<16} {spread(every)} | {spread(every_dialing)}")
    pushes: dict[str, int] = {}
    for client in observed.clients:
        for seen in client["supervisors"].values():
            for name, count in seen.get("pushes", {}).items():
                pushes[name] = pushes.get(name, 0) + count
    attempts = max(1, len(observed.calls))
    print(
        f"supervisor pushes per call attempt ({len(observed.calls)} attempts, every supervisor): "
        f"{sum(pushes.values()) / attempts:.1f}; "
        + ", ".join(f"{name} {count / attempts:.1f}" for name, count in sorted(pushes.items()))
    )
    requests: dict[str, list[float]] = {}
    for client in observed.clients:
        for name, values in client["requests"].items():
            requests.setdefault(name, []).extend(values)
    print("agent and supervisor requests, emit -> acknowledgement:")
    for name, values in sorted(requests.items()):
        print(f"  {name:<16} {spread(values)}")
    by_id = {e.event_id: e for e in observed.events}
    applied = [
        (processed - by_id[event_id].occurred_at) * 1000
        for (event_id, handler), processed in observed.applied.items()
        if handler == CALL_HANDLER and event_id in by_id
    ]
    print(
        f"call event applied by the calls service (processed_at - occurred_at): {spread(applied)}"
    )


def _at(samples: Sequence[Sample], when: float) -> Sample:
    times = [s.at for s in samples]
    index = min(bisect.bisect_left(times, when), len(samples) - 1)
    return samples[index]


def print_lag(samples: Sequence[Sample], observed: Observed, window: Window) -> None:
    inside = [s for s in samples if window.start <= s.at <= window.end + 120]
    if not inside:
        return
    groups = sorted({name for s in inside for name in s.groups})
    print("consumer lag (XINFO GROUPS each second, run and drain):")
    for name in groups:
        lags = [s.groups[name][0] for s in inside if name in s.groups]
        pending = [s.groups[name][1] for s in inside if name in s.groups]
        ages = [s.groups[name][2] for s in inside if name in s.groups]
        print(
            f"  group {name:<11} lag max {max(lags)}, p50 {pct(lags, 0.5):.0f}; "
            f"pending max {max(pending)}; oldest unacknowledged event "
            f"p50 {pct(ages, 0.5):.2f} s, p99 {pct(ages, 0.99):.2f} s, max {max(ages):.2f} s"
        )
    members = sorted({name for s in inside for name in s.members})
    print(
        "  events held pending by each member of group callcenter (mean / max): "
        + ", ".join(
            f"{name} {sum(s.members.get(name, 0) for s in inside) / len(inside):.0f}"
            f" / {max(s.members.get(name, 0) for s in inside)}"
            for name in members
        )
    )
    receipts = _supervisor_receipts(observed)
    received = [at for at, _ in receipts]
    delays = [delay for _, delay in receipts]
    header = "  t(s)  attempts/s  " + "  ".join(f"{g}:lag/pend/age" for g in groups)
    print(header + "  load1  supervisor update p50/p99/max ms")
    step = max(10.0, round(window.seconds / 10))
    at = window.start
    while at < window.end - 1:
        end = min(at + step, window.end)
        rate = sum(1 for c in observed.calls.values() if at <= c.dialed_at < end) / (end - at)
        chunk = [s for s in inside if at <= s.at < end] or [_at(inside, at)]
        cells = []
        for name in groups:
            values = [s.groups[name] for s in chunk if name in s.groups] or [(0, 0, 0.0)]
            worst = max(values, key=lambda v: v[2])
            cells.append(f"{max(v[0] for v in values)}/{max(v[1] for v in values)}/{worst[2]:.1f}s")
        load = max(s.load1 for s in chunk)
        lo, hi = bisect.bisect_left(received, at), bisect.bisect_left(received, end)
        updates = sorted(delays[lo:hi])
        update_cell = "-"
        if updates:
            update_cell = f"{pct(updates, 0.5):.0f}/{pct(updates, 0.99):.0f}/{updates[-1]:.0f}"
        print(
            f"  {at - window.start:5.0f}  {rate:10.1f}  "
            + "  ".join(f"{cell:>{len(g) + 13}}" for g, cell in zip(groups, cells, strict=True))
            + f"  {load:5.2f}  {update_cell:>14}"
        )
        at = end


def _supervisor_receipts(observed: Observed) -> list[tuple[float, float]]:
    """Every supervisor update of every kind as (received at, delay ms), by receipt."""
    return sorted(
        pair
        for received, delays in observed.supervisor_delays.values()
        for pair in zip(received, delays, strict=True)
    )


def is_server(label: str) -> bool:
    """The floor's own processes and PostgreSQL's backends: not the clients
    driving it, not the shared Redis (reported beside them)."""
    return not label.startswith("clients") and "shared" not in label


def cpu_per_second(samples: Sequence[Sample], window: Window) -> dict[str, float]:
    """Each process's CPU over the window, in seconds a second."""
    first, last = _at(samples, window.start), _at(samples, window.end)
    seconds = last.at - first.at
    if seconds <= 0:
        return {}
    # A process started inside the window (the dialer just after the idle
    # one) is left out: its start-up is not the window's work.
    return {
        label: (last.cpu[label] - first.cpu[label]) / seconds
        for label in last.cpu
        if label in first.cpu
    }


def print_cost_per_attempt(
    samples: Sequence[Sample], window: Window, attempts: int, idle: Window | None
) -> None:
    """Server CPU per attempt over the dialing window, and how much of it the
    floor pays with no calls at all (agents ready, supervisors watching, no
    dialer): the fixed cost spread over the attempts, and the rest."""
    rate = attempts / window.seconds if window.seconds > 0 else 0.0
    if rate <= 0:
        return
    busy = cpu_per_second(samples, window)
    servers = sum(v for label, v in busy.items() if is_server(label))
    redis_cpu = sum(v for label, v in busy.items() if "redis" in label)
    first, last = _at(samples, window.start), _at(samples, window.end)
    seconds = max(1e-9, last.at - first.at)
    print(
        f"server CPU per attempt at {rate:.1f} attempts/s: {servers / rate * 1000:.1f} ms "
        f"(Redis {redis_cpu / rate * 1000:.1f} ms more); per attempt "
        f"{(last.transactions - first.transactions) / seconds / rate:.1f} PostgreSQL "
        f"transactions, {(last.redis_commands - first.redis_commands) / seconds / rate:.0f} "
        f"Redis commands in {(last.redis_reads - first.redis_reads) / seconds / rate:.0f} "
        "round trips (the server's socket reads; the sampler's own included)"
    )
    for label in sorted(busy):
        if is_server(label):
            print(f"  {label:<32} {busy[label] / rate * 1000:6.1f} ms")
    if idle is None:
        return
    quiet = cpu_per_second(samples, idle)
    fixed = sum(v for label, v in quiet.items() if is_server(label) and label in busy)
    print(
        f"  of which the idle floor (before the dialer, {idle.seconds:.0f} s): "
        f"{fixed * 1000:.0f} ms a second = {fixed / rate * 1000:.1f} ms an attempt; "
        f"the calls' own: {(servers - fixed) / rate * 1000:.1f} ms an attempt"
    )
    for label in sorted(quiet):
        if is_server(label) and label in busy:
            print(f"  idle {label:<27} {quiet[label] * 1000:6.1f} ms a second")


def print_processes(samples: Sequence[Sample], window: Window, cores: int) -> None:
    first, last = _at(samples, window.start), _at(samples, window.end)
    seconds = last.at - first.at
    if seconds <= 0:
        return
    inside = [s for s in samples if first.at <= s.at <= last.at]
    print(f"CPU (% of one core, mean over the {seconds:.0f} s run; peak 10 s window) and RSS max:")
    ours = 0.0
    for label in sorted(last.cpu):
        used = last.cpu[label] - first.cpu.get(label, 0.0)
        peak = 0.0
        for index in range(0, max(1, len(inside) - 10), 5):
            a, b = inside[index], inside[min(index + 10, len(inside) - 1)]
            if b.at > a.at:
                peak = max(peak, (b.cpu.get(label, 0) - a.cpu.get(label, 0)) / (b.at - a.at))
        rss = max(s.rss.get(label, 0) for s in inside) / 2**20
        shared = "shared" in label
        if not shared:
            ours += used
        print(
            f"  {label:<32} {used / seconds:6.1%}  peak {peak:6.1%}  RSS {rss:7.0f} MiB"
            + ("  (not counted below)" if shared else "")
        )
    machine = (last.machine_busy - first.machine_busy) / seconds
    print(
        f"  {'all of the above':<32} {ours / seconds:6.1%}  of {cores} cores: "
        f"{ours / seconds / cores:.0%}; whole machine busy {machine / cores:.0%} "
        f"(other workers' processes {max(0.0, machine - ours / seconds) / cores:.0%})"
    )
    loads = [s.load1 for s in inside]
    print(
        f"load average (1 min): start {loads[0]:.2f}, mean {sum(loads) / len(loads):.2f}, "
        f"max {max(loads):.2f}"
    )


def print_clients(observed: Observed) -> None:
    for number, client in enumerate(observed.clients, start=1):
        lags = client["loop_lag_ms"]
        kind = "supervisors" if client["supervisors"] else "agents"
        print(
            f"client process {number} ({len(client['agents']) or len(client['supervisors'])} "
            f"{kind}): event-loop lag {spread(lags)}"
        )


def print_errors(observed: Observed) -> None:
    errors = [e for client in observed.clients for e in client["errors"]]
    disconnects = sum(client["disconnects"] for client in observed.clients)
    print(f"client errors (HTTP, socket, refused or unanswered requests): {len(errors)}")
    kinds = Counter(what.split(":")[0][:60] for _at, _who, what in errors)
    for what, n in kinds.most_common(5):
        example = next(e for e in errors if e[2].split(":")[0][:60] == what)
        print(f"  {n} x {example[1]}: {example[2][:150]}")
    print(f"socket disconnects: {disconnects}")
    for label, problems in observed.log_problems.items():
        warned = observed.log_warnings.get(label, Counter())
        if problems or warned:
            print(f"log {label}: {len(problems)} errors, {sum(warned.values())} warnings")
        for line in problems[:3]:
            print(f"    {line}")
        for message, n in warned.most_common(3):
            print(f"    warning x{n}: {message}")


def print_checks(checks: Sequence[Check]) -> None:
    print("lost or duplicated (0 = none):")
    for check in checks:
        mark = "ok  " if check.bad == 0 else "FAIL"
        detail = f" ({check.detail})" if check.detail else ""
        print(f"  {mark} {check.bad:>6}  {check.name}{detail}")
        for example in check.examples:
            print(f"               e.g. {example}")
