"""The real app served on a free loopback port for browser tests, and
logging in to it from Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

from callcenter.db import Database
from callcenter.settings import load_settings
from tests.factories import TEST_PASSWORD
from tests.support import free_port, serve_in_thread


def make_test_app(tmp_path: Path, database: Database) -> Flask:
    """The app on `database` with test settings; login rate limits off
    (browser tests log in many users from one address)."""
    from callcenter.app import create_app

    settings = load_settings(
        environ={}, overrides={"env": "test", "instance_path": str(tmp_path / "instance")}
    )
    app = create_app(settings, database=database)
    app.config["RATELIMIT_ENABLED"] = False
    return app


def serve(app: Flask) -> tuple[str, Any]:
    """The app's URL and its server (call `shutdown()` when done)."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    serve_in_thread(server, "live-app")
    return f"http://127.0.0.1:{port}", server


def log_in(page: Any, url: str, username: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
