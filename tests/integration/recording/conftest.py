"""The SIP tests' sipp fixture, for the recorded calls, and a real S3 server."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.recording.seaweed import Seaweed
from tests.integration.sip.conftest import sipp

__all__ = ["sipp"]


@pytest.fixture
def seaweed(tmp_path: Path) -> Iterator[Seaweed]:
    server = Seaweed(tmp_path / "seaweed")
    server.start()
    try:
        yield server
    finally:
        server.stop()
