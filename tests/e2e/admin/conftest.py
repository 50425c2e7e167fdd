"""The real app on a free loopback port (SQLite file, in-process bus) for the
manager's and admin's pages, and a helper to log in from Chromium."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from callcenter.db import Database
from tests.e2e.site import make_test_app, serve

SCREENSHOTS = Path(os.environ.get("CC_TEST_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="cc-shots-"))


@dataclass
class LiveApp:
    app: Flask
    url: str
    database: Database


@pytest.fixture
def live_app(tmp_path: Path, sqlite_database: Database) -> Iterator[LiveApp]:
    app = make_test_app(tmp_path, sqlite_database)
    bus = app.extensions["cc_bus"]
    bus.start()
    url, server = serve(app)
    yield LiveApp(app, url, sqlite_database)
    server.shutdown()
    bus.stop()
