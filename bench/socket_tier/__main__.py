"""Held sockets per web process: the gevent worker we deploy against the old
gthread worker, run by hand:

    /work/main/.venv/bin/python -m bench.socket_tier [--sockets 1000] [--hold 20]
        [--threads 100] [--redis redis://127.0.0.1:6379/8]

For each model, gunicorn serves callcenter.wsgi:app on a temp SQLite file
(embedded bus, or Redis when given); one agent logs in and opens N Socket.IO
websockets with that session (as N agent screens would), holds them for
--hold seconds answering pings, then closes them. Printed per model: sockets
that connected (and how long opening them all took), the worker's resident
memory before and with them held (and per socket), the worker's CPU while
holding them idle, and GET /login's time while they are held (or that it
got no answer within 10 s)."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from callcenter.db import Database
from callcenter.states import Role
from tests.factories import TEST_PASSWORD, make_user
from tests.integration.web_tier import (
    AS_DEPLOYED,
    BIN,
    Refused,
    environment,
    free_port,
    get,
    log_in,
    open_socket,
    still_open,
    stop,
    wait_for,
)

PAGE_TIMEOUT = 10.0


@dataclass
class Figures:
    model: str
    wanted: int
    connected: int = 0
    open_seconds: float = 0.0
    rss_before_mb: float = 0.0
    rss_held_mb: float = 0.0
    cpu_percent_held: float = 0.0
    login_ms: list[float] | None = None
    login_unanswered: int = 0

    def rows(self) -> list[str]:
        per_socket = (
            (self.rss_held_mb - self.rss_before_mb) * 1024 / self.connected
            if self.connected
            else 0.0
        )
        login = (
            f"p50 {statistics.median(self.login_ms):.0f} ms, max {max(self.login_ms):.0f} ms"
            if self.login_ms
            else "-"
        )
        return [
            f"{self.model}",
            f"  sockets connected      {self.connected} of {self.wanted}"
            f" (opened in {self.open_seconds:.1f} s)",
            f"  worker RSS             {self.rss_before_mb:.0f} MB before, "
            f"{self.rss_held_mb:.0f} MB held ({per_socket:.0f} KB per socket)",
            f"  worker CPU, held idle  {self.cpu_percent_held:.1f} % of one core",
            f"  GET /login while held  {login}; unanswered in {PAGE_TIMEOUT:.0f} s: "
            f"{self.login_unanswered}",
        ]


def _worker(master: psutil.Process) -> psutil.Process:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = master.children()
        if children:
            return children[0]
        time.sleep(0.2)
    raise SystemExit("gunicorn started no worker")


def _timed_login_page(base: str) -> float | None:
    started = time.monotonic()
    try:
        status, _ = get(f"{base}/login", timeout=PAGE_TIMEOUT)
    except OSError:
        return None
    return (time.monotonic() - started) * 1000 if status == 200 else None


async def _measure(base: str, worker: psutil.Process, figures: Figures, hold: float) -> None:
    cookie = await asyncio.to_thread(lambda: log_in(base, "bench_agent", TEST_PASSWORD))
    figures.rss_before_mb = worker.memory_info().rss / 2**20
    started = time.monotonic()
    tries = [asyncio.wait_for(open_socket(base, cookie), 15) for _ in range(figures.wanted)]
    opened = await asyncio.gather(*tries, return_exceptions=True)
    figures.open_seconds = time.monotonic() - started
    held = [s for s in opened if not isinstance(s, Refused | BaseException)]
    figures.connected = len(held)
    figures.rss_held_mb = worker.memory_info().rss / 2**20
    cpu_before, wall_before = worker.cpu_times(), time.monotonic()
    samples: list[float] = []
    end = time.monotonic() + hold
    while time.monotonic() < end:
        await asyncio.gather(*(still_open(s) for s in held))
        if len(samples) + figures.login_unanswered < 5:
            took = await asyncio.to_thread(_timed_login_page, base)
            if took is None:
                figures.login_unanswered += 1
            else:
                samples.append(took)
        await asyncio.sleep(0.5)
    cpu_after = worker.cpu_times()
    used = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    figures.cpu_percent_held = 100 * used / (time.monotonic() - wall_before)
    figures.login_ms = samples
    await asyncio.gather(*(s.close() for s in held), return_exceptions=True)


def run_model(model: str, command: list[str], sockets: int, hold: float, redis: str) -> Figures:
    import subprocess

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        env = environment(tmp, redis)
        if not redis:
            env.pop("CC_REDIS_URL")
        env.update(
            CC_WEB__SOCKETS_PER_IP=str(sockets + 10),
            CC_WEB__SOCKETS_PER_PROCESS=str(sockets + 10),
            CC_LOG_FORMAT="text",
        )
        database = Database(f"sqlite:///{env['CC_INSTANCE_PATH']}/callcenter.db")
        with database.unit_of_work() as session:
            make_user(session, Role.AGENT, username="bench_agent")
        database.dispose()
        port = free_port()
        process = subprocess.Popen(
            [*command, "-b", f"127.0.0.1:{port}", "--access-logfile", "/dev/null",
             "callcenter.wsgi:app"],
            env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(f"{base}/healthz", process)  # type: ignore[arg-type]
            worker = _worker(psutil.Process(process.pid))
            figures = Figures(model, sockets)
            asyncio.run(_measure(base, worker, figures, hold))
            return figures
        finally:
            stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=100)
    parser.add_argument("--redis", default="", help="Redis URL (default: in-process bus)")
    args = parser.parse_args()
    gthread = [str(BIN / "gunicorn"), "-k", "gthread", "--threads", str(args.threads), "-w", "1"]
    runs = [
        ("gevent worker (callcenter.gunicorn_conf, as deployed)", AS_DEPLOYED, args.sockets),
        (f"gthread worker, --threads {args.threads} (before)", gthread, args.threads - 10),
        (f"gthread worker, --threads {args.threads} (before)", gthread, args.threads + 50),
    ]
    print(f"logged-in sockets held {args.hold:.0f} s, one web process (2 cores shared)")
    for model, command, sockets in runs:
        figures = run_model(model, command, sockets, args.hold, args.redis)
        print("\n".join(figures.rows()), flush=True)


if __name__ == "__main__":
    main()
