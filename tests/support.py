"""The few helpers every kind of test and benchmark needs, once: a free port,
waiting on a condition (never a fixed sleep) with a message that says what
did not happen, serving a test's own HTTP server in a thread, and the SQL a
block of a test runs."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def free_port(host: str = "127.0.0.1", kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def serve_in_thread(server: socketserver.BaseServer, name: str | None = None) -> threading.Thread:
    """`server.serve_forever()` in a daemon thread, looking for `shutdown()`
    every 20 ms: at its default 0.5 s, each `shutdown()` waited up to that."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name=name, daemon=True
    )
    thread.start()
    return thread


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


@contextlib.contextmanager
def statements(database: Any) -> Iterator[list[str]]:
    """The SQL the database's engine runs inside the block, whitespace folded."""
    from sqlalchemy import event

    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
