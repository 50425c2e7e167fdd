"""The real app on a free loopback port (SQLite file, in-process bus) for the
manager's and admin's pages, and a helper to log in from Chromium."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from callcenter.db import Database
from callcenter.settings import load_settings
from tests.e2e.agent.conftest import serve
from tests.factories import TEST_PASSWORD

SCREENSHOTS = Path(os.environ.get("CC_TEST_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="cc-shots-"))


@dataclass
class LiveApp:
    app: Flask
    url: str
    database: Database


@pytest.fixture
def live_app(tmp_path: Path, sqlite_database: Database) -> Iterator[LiveApp]:
    from callcenter.app import create_app

    settings = load_settings(
        environ={}, overrides={"env": "test", "instance_path": str(tmp_path / "instance")}
    )
    app = create_app(settings, database=sqlite_database)
    app.config["RATELIMIT_ENABLED"] = False
    bus = app.extensions["cc_bus"]
    bus.start()
    url, server = serve(app)
    yield LiveApp(app, url, sqlite_database)
    server.shutdown()
    bus.stop()


def log_in(page: Any, url: str, username: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
