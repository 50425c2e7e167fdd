"""Fixtures of the workstation tests; the helpers live in agent_floor.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from callcenter.db import Database
from callcenter.settings import Settings, load_settings
from tests.conftest import running_app
from tests.factories import log_in
from tests.integration.agent.agent_floor import Floor, Inbox, build_floor
from tests.support import free_port


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def agent_settings(tmp_path: Path, smtp_server: tuple[Inbox, int]) -> Settings:
    return load_settings(
        environ={},
        overrides={
            "env": "test",
            "instance_path": str(tmp_path / "instance"),
            "smtp": {"host": "127.0.0.1", "port": smtp_server[1]},
        },
    )


@pytest.fixture
def agent_app(agent_settings: Settings, sqlite_database: Database) -> Iterator[Flask]:
    with running_app(agent_settings, sqlite_database) as flask_app:
        yield flask_app


@pytest.fixture
def floor(app_session: Session) -> Floor:
    return build_floor(app_session)


@pytest.fixture
def agent_socket(agent_app: Flask, floor: Floor) -> Iterator[Any]:
    from callcenter.extensions import socketio

    client: FlaskClient = agent_app.test_client()
    log_in(client, floor.agent_username)
    socket = socketio.test_client(agent_app, flask_test_client=client)
    assert socket.is_connected()
    yield socket
    if socket.is_connected():
        socket.disconnect()
