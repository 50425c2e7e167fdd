"""The web process's metrics: call.ended by outcome, socket clients, the event
bus backlog, and /metrics showing them."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any, ClassVar

import redis
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session

from callcenter.bus_backlog import RedisStreamBacklog
from callcenter.bus_redis import RedisStreamsEventBus
from callcenter.events import CallAnswered, CallEnded, Event
from callcenter.extensions import socketio
from callcenter.prometheus import observe_backlog, set_dial_level, set_hopper_depth
from callcenter.states import Role
from tests.factories import log_in, make_user


def _ended(outcome: str) -> float:
    value = REGISTRY.get_sample_value("callcenter_calls_ended_total", {"outcome": outcome})
    return value or 0.0


def test_call_ended_counts_once_by_outcome_and_metrics_shows_it(app, client):
    bus = app.extensions["cc_bus"]
    before = _ended("busy")
    event = CallEnded(call_id="fuzz-no-such-call", outcome="busy", sip_status=486)
    bus.publish(event)
    bus.publish(event)  # a redelivery (at-least-once) is not counted again
    assert bus.wait_until_idle()
    assert _ended("busy") == before + 1
    lag = REGISTRY.get_sample_value("callcenter_event_bus_lag_seconds")
    assert lag is not None and 0 <= lag < 10

    set_hopper_depth(7, 42)
    set_dial_level(7, 2.5)
    body = client.get("/metrics").get_data(as_text=True)
    assert f'callcenter_calls_ended_total{{outcome="busy"}} {before + 1}' in body
    assert 'callcenter_hopper_depth{campaign_id="7"} 42.0' in body
    assert 'callcenter_pacer_dial_level{campaign_id="7"} 2.5' in body
    assert "callcenter_socket_clients" in body


def _sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_socket_clients_count_accepted_connections_until_they_close(
    app: Flask, client: FlaskClient, app_session: Session
) -> None:
    before = _sample("callcenter_socket_clients") or 0.0
    refused = socketio.test_client(app, flask_test_client=app.test_client())
    assert not refused.is_connected()
    assert _sample("callcenter_socket_clients") == before

    user = make_user(app_session, Role.SUPERVISOR)
    app_session.commit()
    log_in(client, user.username)
    first = socketio.test_client(app, flask_test_client=client)
    second = socketio.test_client(app, flask_test_client=client)
    assert first.is_connected() and second.is_connected()
    assert _sample("callcenter_socket_clients") == before + 2
    first.disconnect()
    assert _sample("callcenter_socket_clients") == before + 1
    second.disconnect()
    assert _sample("callcenter_socket_clients") == before


def test_in_process_backlog_is_the_queue_of_unhandled_events(app: Flask) -> None:
    bus = app.extensions["cc_bus"]
    release = threading.Event()
    bus.subscribe("test.hold", lambda _event: release.wait(10))
    bus.publish(_Hold())
    bus.publish(_Hold())
    bus.publish(_Hold())
    try:
        deadline = time.monotonic() + 5
        while (
            _sample("callcenter_event_bus_oldest_unacked_seconds", group="in-process") or 0
        ) <= 0:
            assert time.monotonic() < deadline, "the backlog never showed the held events"
            time.sleep(0.01)
        waiting = _sample("callcenter_event_bus_backlog", group="in-process", state="undelivered")
        assert waiting == 3
    finally:
        release.set()
    assert bus.wait_until_idle()
    assert _sample("callcenter_event_bus_backlog", group="in-process", state="undelivered") == 0
    assert _sample("callcenter_event_bus_oldest_unacked_seconds", group="in-process") == 0


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Hold(Event):
    TYPE: ClassVar[str] = "test.hold"


def test_redis_backlog_per_group_counts_undelivered_and_pending(redis_url: str) -> None:
    """What `callcenter_event_bus_backlog` reports for the Redis stream: a group
    that has read nothing, and one that read without acknowledging."""
    stream = "cc:test-backlog"
    publisher = RedisStreamsEventBus(redis_url, stream=stream)
    # Any: redis-py types every reply as "sync or awaitable"; this client is sync.
    client: Any = redis.Redis.from_url(redis_url)
    client.xgroup_create(stream, "slow", id="0", mkstream=True)
    client.xgroup_create(stream, "stuck", id="0")
    seconds, _micro = client.time()
    # The first entry is dated a minute back (a stream id is the time it was added, in ms).
    client.xadd(stream, {"type": "test", "data": "{}"}, id=f"{(seconds - 60) * 1000}-0")
    for number in range(3):
        publisher.publish(CallAnswered(call_id=f"backlog-{number}"))
    client.xreadgroup("stuck", "member-1", {stream: ">"}, count=3)

    observe_backlog(RedisStreamBacklog(redis_url, stream))
    try:
        assert _sample("callcenter_event_bus_backlog", group="slow", state="undelivered") == 4
        assert _sample("callcenter_event_bus_backlog", group="slow", state="pending") == 0
        assert _sample("callcenter_event_bus_backlog", group="stuck", state="undelivered") == 1
        assert _sample("callcenter_event_bus_backlog", group="stuck", state="pending") == 3
        slow_age = _sample("callcenter_event_bus_oldest_unacked_seconds", group="slow")
        assert slow_age is not None and 60 <= slow_age < 120
        stuck_age = _sample("callcenter_event_bus_oldest_unacked_seconds", group="stuck")
        assert stuck_age is not None and 60 <= stuck_age < 120  # the oldest pending one

        client.xack(stream, "stuck", *[entry for entry, _ in client.xrange(stream, count=3)])
        stuck_age = _sample("callcenter_event_bus_oldest_unacked_seconds", group="stuck")
        assert stuck_age is not None and stuck_age < 60  # now the last one, undelivered

        client.xgroup_setid(stream, "slow", id="$")  # caught up
        assert _sample("callcenter_event_bus_backlog", group="slow", state="undelivered") == 0
        assert _sample("callcenter_event_bus_oldest_unacked_seconds", group="slow") == 0
    finally:
        observe_backlog(None)
        client.close()
