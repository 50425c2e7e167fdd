"""The real app on a free loopback port (SQLite file, in-process bus), a real
SMTP server, and headless Debian Chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from callcenter.db import Database
from callcenter.settings import load_settings
from tests.e2e.site import serve
from tests.integration.agent.agent_floor import Floor, Inbox, build_floor
from tests.support import free_port


@dataclass
class LiveFloor:
    app: Flask
    url: str
    floor: Floor
    inbox: Inbox


@pytest.fixture
def live_floor(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_database: Database
) -> Iterator[LiveFloor]:
    from callcenter.app import create_app

    locale = getattr(request, "param", "en")
    inbox = Inbox()
    smtp_port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    settings = load_settings(
        environ={},
        overrides={
            "env": "test",
            "instance_path": str(tmp_path / "instance"),
            "smtp": {"host": "127.0.0.1", "port": smtp_port},
        },
    )
    app = create_app(settings, database=sqlite_database)
    app.config["RATELIMIT_ENABLED"] = False
    bus = app.extensions["cc_bus"]
    bus.start()
    with sqlite_database.sessions() as session:
        floor = build_floor(session, locale=locale, customer_locale=locale)
    url, server = serve(app)
    yield LiveFloor(app, url, floor, inbox)
    server.shutdown()
    bus.stop()
    smtp.stop()
