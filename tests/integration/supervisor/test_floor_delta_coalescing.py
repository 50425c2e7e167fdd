"""`floor_delta` is coalesced where the supervisors' sockets are: a burst of
changes, from this process or (through Redis) from another one, reaches a
supervisor as a few deltas holding the latest row of each call and agent."""

from __future__ import annotations

import queue
from collections.abc import Callable
from pathlib import Path
from typing import Any

import socketio as python_socketio
from flask import Flask
from werkzeug.serving import make_server

from callcenter.db import Database
from callcenter.extensions import socketio
from callcenter.realtime import message_queue_options
from callcenter.realtime.coalesce import AGENTS, CALLS, DELTA_EVENT, single_delta
from callcenter.realtime.managers import CoalescingManager, CoalescingRedisManager
from callcenter.realtime.rooms import campaign_supervisors_room
from callcenter.settings import load_settings
from tests.conftest import running_app
from tests.factories import log_in
from tests.integration.dialer.topology import logged_in_socket
from tests.integration.supervisor.busy_hour import Floor, build_floor
from tests.support import free_port, serve_in_thread, wait_until

ROUNDS = 10
CALL_IDS = ("call-1", "call-2")


def _socket(app: Flask, username: str) -> Any:
    client = app.test_client()
    log_in(client, username)
    socket = socketio.test_client(app, flask_test_client=client)
    assert socket.is_connected()
    return socket


def _changes(site: Floor) -> list[tuple[str, dict[str, Any]]]:
    """ROUNDS changes of each of two calls and two agents, in order."""
    changes: list[tuple[str, dict[str, Any]]] = []
    for n in range(ROUNDS):
        for call_id in CALL_IDS:
            changes.append((CALLS, {"call_id": call_id, "campaign_id": site.campaign_id, "n": n}))
        for agent_id in site.agent_ids[:2]:
            changes.append(
                (AGENTS, {"agent_id": agent_id, "campaign_id": site.campaign_id, "n": n})
            )
    return changes


def _test_client_deltas(socket: Any) -> Callable[[], list[dict[str, Any]]]:
    def received() -> list[dict[str, Any]]:
        return [i["args"][0] for i in socket.get_received() if i["name"] == DELTA_EVENT]

    return received


def _follow(
    received: Callable[[], list[dict[str, Any]]], site: Floor, changes: int
) -> list[dict[str, Any]]:
    deltas: list[dict[str, Any]] = []
    latest: dict[tuple[str, Any], int] = {}

    def every_row_is_at_its_last_change() -> bool:
        for delta in received():
            deltas.append(delta)
            for row in delta[CALLS]:
                latest[CALLS, row["call_id"]] = row["n"]
            for row in delta[AGENTS]:
                latest[AGENTS, row["agent_id"]] = row["n"]
        wanted = {(CALLS, c): ROUNDS - 1 for c in CALL_IDS}
        wanted |= {(AGENTS, a): ROUNDS - 1 for a in site.agent_ids[:2]}
        return latest == wanted

    wait_until(every_row_is_at_its_last_change, 15, "the latest row of every call and agent")
    assert len(deltas) < changes  # coalesced: not one push per change
    for delta in deltas:  # one row per key in a delta: the latest wins inside it
        assert len({row["call_id"] for row in delta[CALLS]}) == len(delta[CALLS])
        assert len({row["agent_id"] for row in delta[AGENTS]}) == len(delta[AGENTS])
    return deltas


def test_a_burst_in_this_process_reaches_the_supervisor_coalesced(
    app: Flask, sqlite_database: Database
) -> None:
    site = build_floor(sqlite_database, agents_count=2, leads=1)
    mine, theirs = _socket(app, site.supervisor), _socket(app, site.other_supervisor)
    assert isinstance(socketio.server.manager, CoalescingManager)
    room = campaign_supervisors_room(site.campaign_id)
    changes = _changes(site)

    for kind, row in changes:
        socketio.emit(DELTA_EVENT, single_delta(kind, row), to=room)

    _follow(_test_client_deltas(mine), site, len(changes))
    assert [i for i in theirs.get_received() if i["name"] == DELTA_EVENT] == []


def test_a_burst_from_another_process_through_redis_reaches_the_supervisor_coalesced(
    tmp_path: Path, sqlite_database: Database, redis_url: str
) -> None:
    settings = load_settings(
        environ={},
        overrides={
            "env": "test",
            "instance_path": str(tmp_path / "instance"),
            "redis_url": redis_url,
        },
    )
    with running_app(settings, sqlite_database) as app:
        site = build_floor(sqlite_database, agents_count=2, leads=1)
        assert isinstance(socketio.server.manager, CoalescingRedisManager)
        port = free_port()
        server = make_server("127.0.0.1", port, app, threaded=True)
        serve_in_thread(server)
        inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        http, client = logged_in_socket(
            f"http://127.0.0.1:{port}", site.supervisor, {DELTA_EVENT: inbox.put}
        )
        try:
            assert client.call("floor_state", {}, timeout=20)["ok"]  # in its rooms now
            options = message_queue_options(redis_url)
            # What `callcenter consume` or the dialer emit with: a write-only manager.
            other_process = python_socketio.RedisManager(
                options["message_queue"], channel=options["channel"], write_only=True
            )
            room = campaign_supervisors_room(site.campaign_id)
            changes = _changes(site)

            for kind, row in changes:
                other_process.emit(DELTA_EVENT, single_delta(kind, row), room=room)

            def received() -> list[dict[str, Any]]:
                found = []
                while not inbox.empty():
                    found.append(inbox.get())
                return found

            _follow(received, site, len(changes))
        finally:
            client.disconnect()
            http.close()
            server.shutdown()
