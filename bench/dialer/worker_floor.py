"""The dialer worker on a simulated floor: how long a tick takes, what it
placed, and the abandon rate and connect wait it reached.

    /work/venv/bin/python -m bench.dialer.worker_floor --agents 20 --seconds 120

Real time (the pacer's 2 s abandon window is wall-clock), SQLite file, the
in-process bus and the calls service writing every row, agents finishing
each call at once (disposition right after hang-up)."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from callcenter import migrate
from callcenter.db import Database
from callcenter.models import Call, DialMode
from dialer.embedded import DialerThread
from dialer.simulated_carrier import Distribution, SimulatedCarrier, SimulationProfile
from tests.integration.dialer.floor import AgentsFinishing, build_floor


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--leads", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--talk", type=float, default=20.0, help="median talk time, s")
    parser.add_argument("--machine", type=float, default=0.10, help="share of machine answers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--database-url", default="", help="an empty PostgreSQL database (default: a SQLite file)"
    )
    args = parser.parse_args()

    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    migrate.upgrade(url)
    database = Database(url)
    floor = build_floor(
        database, agents_count=args.agents, leads_count=args.leads, dial_mode=DialMode.PREDICTIVE
    )
    profile = SimulationProfile(
        machine=args.machine, talk_time=Distribution(args.talk, 0.6, 3.0, 10 * args.talk)
    )
    worker = floor.worker(SimulatedCarrier(profile, seed=args.seed))
    durations: list[float] = []
    tick = worker.tick

    async def timed_tick() -> None:
        start = time.perf_counter()
        await tick()
        durations.append(time.perf_counter() - start)

    worker.tick = timed_tick  # type: ignore[method-assign]
    finishing = AgentsFinishing(database)
    finishing.start()
    thread = DialerThread(worker).start()
    time.sleep(args.seconds)
    thread.stop()
    finishing.stop()
    floor.bus.wait_until_idle(60)
    floor.bus.stop()

    with database.sessions() as session:
        calls = list(session.scalars(select(Call)))
    live = [c for c in calls if c.answered_at and str(c.outcome) != "machine"]
    abandoned = [c for c in calls if str(c.outcome) == "abandoned"]
    waits = [
        (c.connected_at - c.answered_at).total_seconds()
        for c in calls
        if c.connected_at and c.answered_at
    ]
    print(
        f"{url.split(':', 1)[0]}: agents {args.agents}, {args.seconds:.0f} s, "
        f"talk median {args.talk:.0f} s, "
        f"machines {args.machine:.0%} (the simulator reports them answered: no AMD)"
    )
    print(
        f"ticks {len(durations)}: mean {statistics.mean(durations) * 1000:.1f} ms, "
        f"p95 {sorted(durations)[int(len(durations) * 0.95)] * 1000:.1f} ms, "
        f"max {max(durations) * 1000:.1f} ms"
    )
    print(
        f"calls placed {worker.placed} ({worker.placed / args.seconds:.2f}/s), rows {len(calls)}, "
        f"live answers {len(live)}, connected {len(waits)}, abandoned {len(abandoned)} "
        f"({len(abandoned) / max(1, len(live)):.1%} of live answers)"
    )
    if waits:
        print(
            f"connect wait: mean {statistics.mean(waits) * 1000:.0f} ms, "
            f"max {max(waits) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
