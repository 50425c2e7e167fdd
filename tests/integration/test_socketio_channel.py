"""Socket.IO's Redis message queue is scoped to the Redis database: pub/sub is
shared by every database of a server, and rooms are named by ids, so another
deployment (or test run) on the same server must not reach our browsers."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
import requests
import socketio
from flask_socketio import SocketIO
from werkzeug.serving import make_server

from callcenter.db import Database
from callcenter.realtime import message_queue_options
from callcenter.realtime.rooms import agent_room
from callcenter.settings import load_settings
from callcenter.states import Role
from tests.conftest import running_app
from tests.factories import TEST_PASSWORD, make_user
from tests.support import free_port, serve_in_thread


def test_the_channel_is_named_after_the_database() -> None:
    assert message_queue_options("redis://127.0.0.1:6379/4") == {
        "message_queue": "redis://127.0.0.1:6379/4",
        "channel": "callcenter-socketio-4",
    }
    assert message_queue_options("redis://cache")["channel"] == "callcenter-socketio-0"


def _on_database(url: str, number: int) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{number}"))


def _until(condition: Callable[[], bool], act: Callable[[], None], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        act()
        time.sleep(0.05)


@dataclass(frozen=True)
class SignedIn:
    """An agent logged in to a running app: its address, cookie and room."""

    url: str
    cookie: str
    room: str


@contextmanager
def _agent_signed_in(tmp_path: Path, database: Database, redis_url: str) -> Iterator[SignedIn]:
    settings = load_settings(
        environ={},
        overrides={"env": "test", "instance_path": str(tmp_path), "redis_url": redis_url},
    )
    with database.unit_of_work() as session:
        agent = make_user(session, Role.AGENT)
        username, room = agent.username, agent_room(agent.id)
    with running_app(settings, database) as app:
        port = free_port()
        server = make_server("127.0.0.1", port, app, threaded=True)
        serve_in_thread(server)
        try:
            url = f"http://127.0.0.1:{port}"
            http = requests.Session()
            login = {"username": username, "password": TEST_PASSWORD}
            assert http.post(f"{url}/login", data=login).ok
            cookie = "; ".join(f"{name}={value}" for name, value in http.cookies.items())
            yield SignedIn(url, cookie, room)
        finally:
            server.shutdown()


@pytest.mark.redis
def test_only_emitters_on_the_same_database_reach_our_sockets(
    tmp_path: Path, sqlite_database: Database, redis_url: str
) -> None:
    with _agent_signed_in(tmp_path, sqlite_database, redis_url) as agent:
        room = agent.room
        pops: list[Any] = []
        probes: list[Any] = []
        client = socketio.Client(reconnection=False)
        client.on("screen_pop", pops.append)
        client.on("probe", probes.append)
        client.connect(agent.url, headers={"Cookie": agent.cookie}, transports=["websocket"])
        try:
            ours = SocketIO(**message_queue_options(redis_url))
            # the server subscribes in a thread of its own: probe until it hears us
            _until(lambda: bool(probes), lambda: ours.emit("probe", {}, to=room))
            number = int(urlsplit(redis_url).path.strip("/") or 0)
            neighbour = SocketIO(**message_queue_options(_on_database(redis_url, number + 1)))
            neighbour.emit("screen_pop", {"from": "another database"}, to=room)
            SocketIO(message_queue=redis_url).emit(
                "screen_pop", {"from": "the default channel"}, to=room
            )
            ours.emit("screen_pop", {"from": "ours"}, to=room)
            # Redis delivers in publish order: anything we could hear came first
            _until(lambda: bool(pops), lambda: None)
            assert pops == [{"from": "ours"}]
        finally:
            client.disconnect()


@pytest.mark.redis
def test_a_push_crosses_the_queue_and_the_socket_as_compact_utf8_json(
    tmp_path: Path, sqlite_database: Database, redis_url: str
) -> None:
    """The dialer's emitter publishes, the web server's socket sends: both
    write orjson's JSON (`realtime.wire_json`), Persian text as UTF-8 rather
    than six-byte escapes, a number key as a string as `json.dumps` would."""
    from websockets.sync.client import connect

    from callcenter.realtime import BROADCASTER
    from dialer.cli import _emit_to_browsers_through

    _emit_to_browsers_through(redis_url, sqlite_database)
    emitter = sqlite_database.sessions.kw["info"][BROADCASTER]
    channel = message_queue_options(redis_url)["channel"]
    queue = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    queue.subscribe(channel)
    payload = {"customer": "آقای محمد رضایی", 7: ("a", 1.5)}
    expected = {"customer": "آقای محمد رضایی", "7": ["a", 1.5]}
    with (
        _agent_signed_in(tmp_path, sqlite_database, redis_url) as agent,
        connect(
            agent.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket",
            additional_headers={"Cookie": agent.cookie},
            close_timeout=1,
        ) as socket,
    ):
        assert str(socket.recv(timeout=5)).startswith("0{")
        socket.send("40")
        frames: list[str] = []
        deadline = time.monotonic() + 10
        while not any(f.startswith('42["probe"') for f in frames):
            assert time.monotonic() < deadline, f"no probe among {frames}"
            emitter.emit("probe", payload, to=agent.room)
            with contextlib.suppress(TimeoutError):
                frames.append(str(socket.recv(timeout=0.2)))
    probe = next(f for f in frames if f.startswith('42["probe"'))
    assert (
        probe
        == '42["probe",' + json.dumps(expected, ensure_ascii=False, separators=(",", ":")) + "]"
    )
    published = None
    deadline = time.monotonic() + 5
    while published is None and time.monotonic() < deadline:
        published = queue.get_message(timeout=1)  # None for the subscription's own reply
        if published is not None and b'"probe"' not in published["data"]:
            published = None  # the login's own message to forget the user's held rows
    assert published is not None
    assert "آقای محمد رضایی".encode() in published["data"]
    assert json.loads(published["data"])["data"] == [expected]
    queue.close()
