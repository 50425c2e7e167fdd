"""The production processes, started as docs/deployment.md starts them:
gunicorn as deployed (one gevent worker) per web port, `callcenter consume`,
`callcenter dialer`; each one's output goes to a log file of its own."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import free_port

BIN = Path(sys.executable).parent
REPOSITORY = Path(__file__).resolve().parents[2]


@dataclass
class Process:
    label: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM, then SIGKILL if it does not leave in time; the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)
            return None


@dataclass
class Topology:
    workdir: Path
    environment: dict[str, str]
    processes: list[Process] = field(default_factory=list)
    web_urls: list[str] = field(default_factory=list)

    def start(self, label: str, command: list[str], env: dict[str, str] | None = None) -> Process:
        log = self.workdir / f"{label}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                command,
                env=env or self.environment,
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        process = Process(label, popen, log)
        self.processes.append(process)
        return process

    def start_web(self, count: int) -> None:
        """gunicorn as deployed (callcenter.gunicorn_conf: one gevent worker)."""
        for number in range(1, count + 1):
            port = free_port()
            command = [
                str(BIN / "gunicorn"),
                "-c", "python:callcenter.gunicorn_conf",
                "-b", f"127.0.0.1:{port}",
                "callcenter.wsgi:app",
            ]  # fmt: skip
            process = self.start(f"web{number}", command)
            url = f"http://127.0.0.1:{port}"
            wait_ready(f"{url}/readyz", process)
            self.web_urls.append(url)

    def start_consumers(self, count: int) -> None:
        for number in range(1, count + 1):
            self.start(
                f"consume{number}",
                [sys.executable, "-m", "callcenter.cli", "consume", "--heartbeat", "5"],
            )

    def start_dialer(
        self, *, time_scale: float, max_calls: int, calls_per_second: float = 0
    ) -> Process:
        limit = ["--max-calls-per-second", f"{calls_per_second:g}"] if calls_per_second else []
        return self.start(
            "dialer",
            [
                sys.executable, "-m", "callcenter.cli", "dialer",
                "--sim-time-scale", f"{time_scale:.4f}",
                "--max-calls", str(max_calls),
                *limit,
            ],
        )  # fmt: skip

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop(timeout=30)

    def dead(self) -> list[Process]:
        return [p for p in self.processes if p.popen.poll() is not None]


def environment(*, database_url: str, redis_url: str, instance: Path) -> dict[str, str]:
    """Production mode, as a real floor runs; the login rate limit and the
    sockets per address are raised because every bench client logs in and
    connects from the same address."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CC_")}
    env.update(
        CC_ENV="production",
        CC_DATABASE_URL=database_url,
        CC_REDIS_URL=redis_url,
        CC_SECRET_KEY=secrets.token_hex(32),
        CC_LOG_FORMAT="json",
        CC_INSTANCE_PATH=str(instance),
        CC_LOAD_DEMO_DATA="false",
        CC_AUTH__LOGIN_RATE_LIMIT="100000 per minute",
        CC_WEB__SOCKETS_PER_IP="100000",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPOSITORY), env.get("PYTHONPATH")])),
    )
    instance.mkdir(parents=True, exist_ok=True)
    return env


def wait_ready(url: str, process: Process, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise SystemExit(f"{process.label} exited: see {process.log}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} not ready within {seconds:.0f} s: see {process.log}")
