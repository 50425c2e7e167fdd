"""Manual dial latency: from the agent's request (the workstation's service
call: number checked against DNC and the calling window, the agent held,
committed, `manual_dial.requested` published) to the dialer worker placing
the call (`call.dialing` published, just before the INVITE), on the
simulated carrier with the in-process bus and a migrated database.

    .venv/bin/python -m bench.manual_dial.measure [--dials 200] [--database-url postgresql://...]

Each dialed customer is busy, so the agent is back in their pause at once
and the next dial follows. Prints p50/p99/max in milliseconds, for the
request alone (the service call and its commit) and for request to call."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from callcenter import migrate
from callcenter.db import Database
from callcenter.events import CallDialing
from callcenter.models import PauseReason
from callcenter.services import agents, manual_dial
from callcenter.states import AgentState, PhoneLegState
from dialer.embedded import DialerThread
from dialer.simulated_carrier import SimulatedCarrier, SimulationProfile
from tests.integration.dialer.floor import build_floor
from tests.support import wait_until

BUSY = SimulationProfile.every_call("busy", ring_s=0.01, setup_delay_s=0.0)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(name: str, values: list[float]) -> None:
    ms = [v * 1000 for v in values]
    print(
        f"{name}: n={len(ms)} p50 {statistics.median(ms):.1f} ms, "
        f"p99 {percentile(ms, 0.99):.1f} ms, max {max(ms):.1f} ms"
    )


def state_of(database: Database, agent_id: int) -> tuple[AgentState, PhoneLegState]:
    with database.sessions() as session:
        status = agents.status_of(session, agent_id)
        return status.state, status.phone_leg


def run(database: Database, dials: int) -> None:
    floor = build_floor(database, agents_count=1, leads_count=0)
    agent_id = floor.agent_ids[0]
    placed: dict[str, float] = {}
    seen = threading.Condition()

    def on_dialing(event: Any) -> None:
        with seen:
            placed[event.phone_e164] = time.perf_counter()
            seen.notify_all()

    floor.bus.subscribe(CallDialing.TYPE, on_dialing)
    worker = floor.worker(SimulatedCarrier(BUSY, seed=1), tick_s=0.2)
    thread = DialerThread(worker).start()
    requests: list[float] = []
    to_call: list[float] = []
    try:
        wait_until(
            lambda: state_of(database, agent_id)[1] is PhoneLegState.UP, 30, "the agent's leg"
        )
        with database.unit_of_work() as session:
            if session.get(PauseReason, "break") is None:
                session.add(PauseReason(code="break", label_fa="استراحت", label_en="Break"))
                session.flush()
            agents.pause(session, agent_id, "break")
        for number in range(dials):
            phone = f"+98912{number:07d}"
            started = time.perf_counter()
            with database.unit_of_work() as session:
                manual_dial.dial_number(session, agent_id, phone, bus=floor.bus)
            requests.append(time.perf_counter() - started)
            with seen:
                if not seen.wait_for(lambda p=phone: p in placed, timeout=30):
                    raise SystemExit(f"dial {number}: no call placed in 30 s")
            to_call.append(placed[phone] - started)
            wait_until(
                lambda: state_of(database, agent_id)[0] is AgentState.PAUSED,
                30,
                "the agent back in their pause",
                interval=0.005,
            )
    finally:
        thread.stop()
        floor.bus.stop()
    report("request (checks, hold, commit)", requests)
    report("request to call placed", to_call)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dials", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        database = Database(url)
        print(f"database: {url.split(':', 1)[0]}")
        try:
            run(database, args.dials)
        finally:
            database.dispose()


if __name__ == "__main__":
    main()
