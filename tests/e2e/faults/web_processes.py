"""The production processes for the fault tests, started as docs/deployment.md
starts them: gunicorn (gthread) serving callcenter.wsgi:app and `callcenter
dialer`, on one PostgreSQL database and one Redis database. Plus, from /proc,
which gunicorn worker holds which browser connection."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support import wait_until as poll

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[3]
TCP_ESTABLISHED = "01"


def environment(
    *, database_url: str, redis_url: str, instance: Path, **extra: str
) -> dict[str, str]:
    """What every process of one topology shares (the same secret key)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CC_")}
    instance.mkdir(parents=True, exist_ok=True)
    env.update(
        CC_ENV="production",
        CC_DATABASE_URL=database_url,
        CC_REDIS_URL=redis_url,
        CC_SECRET_KEY="web-worker-fault-test-" + "0" * 40,
        CC_INSTANCE_PATH=str(instance),
        CC_LOG_FORMAT="json",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


@dataclass
class Gunicorn:
    url: str
    port: int
    process: subprocess.Popen[str]

    def workers(self) -> list[int]:
        return children_of(self.process.pid)

    def connections(self) -> dict[int, list[int]]:
        """Established connections on the web port (peer ports), by the worker
        holding them; workers holding none are left out."""
        held = {pid: established_on(pid, self.port) for pid in self.workers()}
        return {pid: peers for pid, peers in held.items() if peers}


@contextmanager
def gunicorn(env: Mapping[str, str], port: int, *, workers: int, log: Path) -> Iterator[Gunicorn]:
    command = [
        str(BIN / "gunicorn"),
        "-k", "gthread", "--threads", "20", "-w", str(workers),
        "-b", f"127.0.0.1:{port}",
        "callcenter.wsgi:app",
    ]  # fmt: skip
    with log.open("w") as output:
        process = subprocess.Popen(
            command, env=dict(env), cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, text=True
        )
    web = Gunicorn(f"http://127.0.0.1:{port}", port, process)
    try:
        poll(lambda: answers(f"{web.url}/healthz"), 60, "gunicorn to answer /healthz", process, log)
        poll(lambda: len(web.workers()) == workers, 30, "every gunicorn worker", process, log)
        yield web
    finally:
        stop(process)


@contextmanager
def dialer(env: Mapping[str, str], *args: str, log: Path) -> Iterator[subprocess.Popen[str]]:
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "callcenter.cli", "dialer", *args],
            env=dict(env),
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        poll(lambda: "callcenter dialer:" in log.read_text(), 60, "the dialer", process, log)
        yield process
    finally:
        stop(process)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # the process ended while we looked
        # comm (field 2) may hold spaces and parentheses: the fields after it are plain
        parent = int(text.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def established_on(pid: int, port: int) -> list[int]:
    """Peer ports of the established TCP connections `pid` accepted on `port`."""
    try:
        sockets = {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
        table = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return []
    peers = []
    for line in table:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        mine = f"socket:[{inode}]" in sockets
        if mine and state == TCP_ESTABLISHED and int(local.rsplit(":", 1)[1], 16) == port:
            peers.append(int(remote.rsplit(":", 1)[1], 16))
    return peers
