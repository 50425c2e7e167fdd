"""The few helpers every kind of test and benchmark needs, once: a free port,
and waiting on a condition (never a fixed sleep) with a message that says
what did not happen."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def free_port(host: str = "127.0.0.1", kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_until(
    condition: Callable[[], object],
    timeout: float,
    what: str,
    process: subprocess.Popen[str] | None = None,
    log: Path | None = None,
    *,
    state: Callable[[], str] | None = None,
    interval: float = 0.1,
) -> None:
    """Poll `condition` until it is true; fail saying `what` (with `state()`,
    or the tail of `log`), or at once when `process` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            output = log.read_text() if log else ""
            raise AssertionError(f"{process.args!r} exited {process.returncode}:\n{output}")
        if time.monotonic() > deadline:
            found = f": {state()}" if state is not None else ""
            tail = "\n" + log.read_text()[-4000:] if log else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{found}{tail}")
        time.sleep(interval)


def stop_process_group(process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """A daemon started in a process group of its own (kamailio, rtpengine and
    their workers): TERM, then KILL whatever outlived its parent."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # a worker that outlived its parent
