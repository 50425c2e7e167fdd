"""What one round trip to PostgreSQL or Redis costs in CPU, the client's and
the server's together, over TCP loopback and over a Unix socket: the unit
the load floor's server CPU per attempt is mostly made of (py-spy puts a
third to a half of every server process's samples in the send and receive
system calls of its round trips).

    PYTHONPATH=. .venv/bin/python -m bench.round_trips \\
        --postgres postgresql://postgres@127.0.0.1:5432/postgres \\
        --postgres 'postgresql://postgres@/postgres?host=/var/run/postgresql' \\
        --redis redis://127.0.0.1:6379/0

For each address: a trivial statement (`SELECT 1`, prepared by psycopg after
its fifth run, as the product's statements are), an empty transaction's
BEGIN and COMMIT, and a Redis PING, each timed over `--times` runs. The
server's CPU is read from /proc for the backend (pg_backend_pid) or the
redis-server process (INFO's process_id), so both must run on this
machine."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import psycopg
import redis

TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """Seconds of CPU (user + system) a process has used."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def per_run(work: Callable[[], Any], times: int, server_pid: int) -> tuple[float, float]:
    """Microseconds of the client's and the server's CPU a run."""
    for _ in range(min(times, 200)):
        work()  # warm: prepared statements, caches, branch predictors
    client, server = time.process_time(), process_cpu(server_pid)
    for _ in range(times):
        work()
    client_us = (time.process_time() - client) / times * 1e6
    server_us = (process_cpu(server_pid) - server) / times * 1e6
    return client_us, server_us


def postgres(url: str, times: int) -> dict[str, tuple[float, float]]:
    with psycopg.connect(url, autocommit=True) as connection:
        backend = connection.info.backend_pid
        select_one = per_run(lambda: connection.execute("SELECT 1").fetchall(), times, backend)
    with psycopg.connect(url) as connection:
        backend = connection.info.backend_pid

        def begin_and_commit() -> None:
            connection.execute("SELECT 1").fetchall()
            connection.commit()

        in_transaction = per_run(begin_and_commit, times, backend)
    # BEGIN and COMMIT are what the transaction adds to its one statement
    transaction = tuple(t - s for t, s in zip(in_transaction, select_one, strict=True))
    return {"SELECT 1": select_one, "BEGIN + COMMIT": (transaction[0], transaction[1])}


def redis_ping(url: str, times: int) -> dict[str, tuple[float, float]]:
    client: Any = redis.Redis.from_url(url)
    server = int(client.info("server")["process_id"])
    return {"PING": per_run(client.ping, times, server)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", action="append", default=[])
    parser.add_argument("--redis", action="append", default=[])
    parser.add_argument("--times", type=int, default=20000)
    args = parser.parse_args()
    print(f"{'address':58} {'what':16} {'client µs':>10} {'server µs':>10} {'both':>8}")
    for url, found in [(url, postgres(url, args.times)) for url in args.postgres] + [
        (url, redis_ping(url, args.times)) for url in args.redis
    ]:
        for what, (client, server) in found.items():
            print(f"{url:58} {what:16} {client:10.1f} {server:10.1f} {client + server:8.1f}")


if __name__ == "__main__":
    main()
