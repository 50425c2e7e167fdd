"""Once a second: CPU time and RSS of every process of the topology (and of
this database's PostgreSQL backends), the event stream's consumer groups
(lag, pending, age of the oldest event not yet acknowledged), load average."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil
import psycopg
import redis

from callcenter.bus_redis import STREAM


@dataclass
class Sample:
    at: float
    cpu: dict[str, float]  # label -> CPU seconds so far
    rss: dict[str, int]  # label -> bytes now
    groups: dict[str, tuple[int, int, float]]  # group -> (lag, pending, oldest age s)
    members: dict[str, int]  # process label -> events it holds pending in "callcenter"
    load1: float
    machine_busy: float  # CPU seconds of the whole machine so far
    transactions: int = 0  # this database's commits and rollbacks so far
    redis_commands: int = 0  # commands the Redis server has processed so far
    # its reads of client sockets so far: about one a round trip (a pipeline's
    # commands arrive together)
    redis_reads: int = 0


@dataclass
class _Tracked:
    cpu_by_pid: dict[int, float] = field(default_factory=dict)
    rss: int = 0


class Sampler(threading.Thread):
    def __init__(self, redis_url: str, postgres_url: str, database: str) -> None:
        super().__init__(name="sampler", daemon=True)
        self.redis: Any = redis.Redis.from_url(redis_url)
        self.postgres_url = postgres_url
        self.database = database
        self.roots: dict[str, int] = {}
        self.samples: list[Sample] = []
        self.failures: list[str] = []
        self._tracked: dict[str, _Tracked] = {}
        self._halt = threading.Event()
        self._lock = threading.Lock()
        # The server of this URL: other Redis servers may run on the machine.
        server: Any = self.redis.info("server")
        self._redis_server: int | None = int(server["process_id"])

    def watch(self, label: str, pid: int) -> None:
        with self._lock:
            self.roots[label] = pid

    def run(self) -> None:
        with psycopg.connect(self.postgres_url, autocommit=True) as connection:
            while not self._halt.is_set():
                started = time.monotonic()
                try:
                    backends = [
                        row[0]
                        for row in connection.execute(
                            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,)
                        )
                    ]
                    transactions = connection.execute(
                        "SELECT xact_commit + xact_rollback FROM pg_stat_database"
                        " WHERE datname = %s",
                        (self.database,),
                    ).fetchone()
                    sample = self._sample(backends)
                    sample.transactions = int(transactions[0]) if transactions else 0
                    self.samples.append(sample)
                except (redis.RedisError, psycopg.Error) as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                self._halt.wait(max(0.0, 1.0 - (time.monotonic() - started)))

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(10)

    def _sample(self, backends: list[int]) -> Sample:
        with self._lock:
            roots = dict(self.roots)
        groups_of: dict[str, list[psutil.Process]] = {}
        for label, pid in roots.items():
            groups_of[label] = _tree(pid)
        groups_of["postgres (this DB's backends)"] = _processes(backends)
        if self._redis_server is not None:
            groups_of["redis-server (shared)"] = _processes([self._redis_server])
        for label, processes in groups_of.items():
            tracked = self._tracked.setdefault(label, _Tracked())
            tracked.rss = 0
            for process in processes:
                try:
                    with process.oneshot():
                        times = process.cpu_times()
                        tracked.cpu_by_pid[process.pid] = times.user + times.system
                        tracked.rss += process.memory_info().rss
                except psutil.Error:
                    continue
        busy = psutil.cpu_times()
        return Sample(
            at=time.time(),
            cpu={label: sum(t.cpu_by_pid.values()) for label, t in self._tracked.items()},
            rss={label: t.rss for label, t in self._tracked.items()},
            groups=self._groups(),
            members=self._members(),
            load1=os.getloadavg()[0],
            **_redis_counts(self.redis.info("stats")),
            machine_busy=busy.user + busy.nice + busy.system + busy.irq + busy.softirq,
        )

    def _members(self) -> dict[str, int]:
        try:
            consumers = self.redis.xinfo_consumers(STREAM, "callcenter")
        except redis.ResponseError:
            return {}
        labels = {
            pid: label for label, tracked in self._tracked.items() for pid in tracked.cpu_by_pid
        }
        held: dict[str, int] = {}
        for consumer in consumers:
            label = _label_of(consumer["name"].decode(), labels)
            held[label] = held.get(label, 0) + int(consumer["pending"])
        return held

    def _groups(self) -> dict[str, tuple[int, int, float]]:
        try:
            groups = self.redis.xinfo_groups(STREAM)
        except redis.ResponseError:
            return {}
        now_ms = time.time() * 1000
        found = {}
        for group in groups:
            name = group["name"].decode()
            lag = int(group.get("lag") or 0)
            pending = int(group["pending"])
            oldest = now_ms
            if pending:
                summary = self.redis.xpending(STREAM, name)
                oldest = min(oldest, _id_ms(summary["min"]))
            if lag:
                after = self.redis.xrange(
                    STREAM, f"({group['last-delivered-id'].decode()}", count=1
                )
                if after:
                    oldest = min(oldest, _id_ms(after[0][0]))
            found[name] = (lag, pending, (now_ms - oldest) / 1000)
        return found


def _label_of(consumer: str, labels: dict[int, str]) -> str:
    """Members are named host-pid-random (callcenter.bus_redis)."""
    parts = consumer.rsplit("-", 2)
    pid = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else -1
    return labels.get(pid, consumer)


def _id_ms(entry_id: bytes | str | None) -> float:
    if entry_id is None:  # acknowledged meanwhile
        return time.time() * 1000
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return float(text.split("-")[0])


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _processes(pids: list[int]) -> list[psutil.Process]:
    found = []
    for pid in pids:
        try:
            found.append(psutil.Process(pid))
        except psutil.Error:
            continue
    return found


def _redis_counts(stats: dict[str, Any]) -> dict[str, int]:
    return {
        "redis_commands": int(stats["total_commands_processed"]),
        "redis_reads": int(stats.get("total_reads_processed", 0)),
    }
