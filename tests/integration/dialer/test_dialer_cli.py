"""`callcenter dialer` and the embedded dialer of `callcenter run`, plugged in
through entry points (callcenter never imports dialer)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from importlib.metadata import EntryPoint
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from flask import Flask

from callcenter import cli, migrate
from callcenter.bus import InProcessEventBus
from callcenter.bus_redis import RedisStreamsEventBus
from callcenter.consumers import CALL_EVENTS, CallEventConsumer
from callcenter.db import Database
from callcenter.models import DialMode
from callcenter.settings import SettingsError, load_settings
from callcenter.states import LeadState
from dialer.embedded import build_worker, start_embedded_dialer
from tests.integration.dialer.floor import AgentsFinishing, build_floor
from tests.support import wait_until as wait_for

DIALER_COMMAND = EntryPoint(
    name="dialer", value="dialer.cli:dialer", group=cli.COMMAND_ENTRY_POINTS
)
EMBEDDED_DIALER = EntryPoint(
    name="dialer",
    value="dialer.embedded:start_embedded_dialer",
    group=cli.EMBEDDED_SERVICE_ENTRY_POINTS,
)


def test_plugin_commands_join_the_callcenter_group(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "entry_points", lambda group: [DIALER_COMMAND])
    group = click.Group(commands=dict(cli.main.commands))
    group.commands.pop("dialer", None)
    cli.add_plugin_commands(group)
    result = CliRunner().invoke(group, ["dialer", "--help"])
    assert result.exit_code == 0, result.output
    assert "--max-calls" in result.output
    assert "--max-calls-per-second" in result.output


def test_callcenter_run_starts_and_stops_the_embedded_dialer(
    monkeypatch: pytest.MonkeyPatch, app: Flask
) -> None:
    monkeypatch.setattr(cli, "entry_points", lambda group: [EMBEDDED_DIALER])
    bus = InProcessEventBus()
    (handle,) = cli.start_embedded_services(app, bus)
    assert handle.running
    handle.stop()
    assert not handle.running


def test_the_dialer_process_runs_on_redis_until_terminated(
    tmp_path: Path, dialer_redis_url: str
) -> None:
    redis_url = dialer_redis_url
    database_url = f"sqlite:///{tmp_path / 'callcenter.db'}"
    migrate.upgrade(database_url)
    process = start_dialer_process(
        database_url,
        redis_url,
        tmp_path,
        "--tick",
        "0.2",
        "--max-calls",
        "10",
        "--max-calls-per-second",
        "2.5",
        CC_DIALER__MAX_CALLS="3",  # the options win
        CC_DIALER__MAX_CALLS_PER_SECOND="9",
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "Redis bus, hopper and agent pool" in first, first
        # As the worker has them.
        assert "at most 10 calls up at once; at most 2.5 new calls a second" in first, first
        time.sleep(1.0)  # a few ticks
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, rest
    assert "callcenter dialer: stopped" in rest
    assert "Traceback" not in rest


@pytest.mark.parametrize(("environ", "limit"), [({}, 0.0), ({"MAX_CALLS_PER_SECOND": "7.5"}, 7.5)])
def test_the_calls_a_second_setting_reaches_the_worker(
    tmp_path: Path, environ: dict[str, str], limit: float
) -> None:
    settings = load_settings(
        environ={
            "CC_INSTANCE_PATH": str(tmp_path),
            **{f"CC_DIALER__{name}": value for name, value in environ.items()},
        }
    )
    assert settings.dialer.max_calls_per_second == limit
    worker = build_worker(settings, Database(settings.database_url), InProcessEventBus())
    assert worker.config.max_calls_per_second == limit
    assert worker.call_rate.per_second == limit
    assert worker.call_rate.limited is (limit > 0)


@pytest.mark.parametrize(("environ", "limit"), [({}, None), ({"CC_DIALER__MAX_CALLS": "12"}, 12)])
def test_the_calls_up_at_once_setting_reaches_the_embedded_dialer(
    tmp_path: Path, environ: dict[str, str], limit: int | None
) -> None:
    """As `callcenter run` starts it; unset, no limit (as without --max-calls)."""
    settings = load_settings(environ={"CC_INSTANCE_PATH": str(tmp_path), **environ})
    assert settings.dialer.max_calls == limit
    migrate.upgrade(settings.database_url)
    handle = start_embedded_dialer(settings, InProcessEventBus())
    try:
        assert handle.worker.config.max_concurrent_calls == limit
        assert handle.worker.trunk_room() == limit  # no call up yet
    finally:
        handle.stop()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0", "greater than or equal to 1"),
        ("-1", "greater than or equal to 1"),
        ("2.5", "a valid integer"),
        ("many", "a valid integer"),
    ],
)
def test_calls_up_at_once_not_one_or_more_is_refused(
    tmp_path: Path, value: str, problem: str
) -> None:
    """0 does not mean no limit (--max-calls 0 is refused too): unset does."""
    with pytest.raises(SettingsError) as refused:
        load_settings(environ={"CC_INSTANCE_PATH": str(tmp_path), "CC_DIALER__MAX_CALLS": value})
    assert str(refused.value).startswith("setting dialer.max_calls (CC_DIALER__MAX_CALLS): ")
    assert problem in str(refused.value)


@pytest.mark.parametrize("value", ["-1", "inf", "nan"])
def test_a_calls_a_second_not_zero_or_more_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError, match="CC_DIALER__MAX_CALLS_PER_SECOND"):
        load_settings(
            environ={
                "CC_INSTANCE_PATH": str(tmp_path),
                "CC_DIALER__MAX_CALLS_PER_SECOND": value,
            }
        )


@pytest.mark.parametrize("value", ["-1", "inf", "nan"])
def test_the_option_refuses_a_calls_a_second_not_zero_or_more(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setattr(cli, "entry_points", lambda group: [DIALER_COMMAND])
    group = click.Group(commands=dict(cli.main.commands))
    group.commands.pop("dialer", None)
    cli.add_plugin_commands(group)
    result = CliRunner().invoke(group, ["dialer", "--max-calls-per-second", value])
    assert result.exit_code == 2, result.output
    assert "--max-calls-per-second" in result.output


def test_the_dialer_process_on_redis_feeds_the_web_consumers(
    tmp_path: Path, dialer_redis_url: str
) -> None:
    """Production topology: the dialer process publishes on the Redis stream;
    another process's consumer group (here, this test) writes the call rows."""
    redis_url = dialer_redis_url
    database_url = f"sqlite:///{tmp_path / 'callcenter.db'}"
    migrate.upgrade(database_url)
    database = Database(database_url)
    floor = build_floor(database, agents_count=2, leads_count=6, dial_mode=DialMode.PROGRESSIVE)
    floor.bus.stop()  # the in-process bus of the floor is not used here
    web_bus = RedisStreamsEventBus(redis_url, group="callcenter", block_ms=200)
    consumer = CallEventConsumer(database)
    for event_class in CALL_EVENTS:
        web_bus.subscribe(event_class.TYPE, consumer)
    web_bus.start()
    finishing = AgentsFinishing(database)
    finishing.start()
    process = start_dialer_process(
        database_url, redis_url, tmp_path, "--tick", "0.2", "--sim-time-scale", "0.05"
    )
    try:
        wait_for(floor.settled, 120, "the dialer process to dial every lead")
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        finishing.stop()
        web_bus.stop()
    assert process.returncode == 0, output
    calls, leads = floor.rows()
    assert len(calls) == 6 and {c.lead_id for c in calls} == set(floor.lead_ids)
    assert all(call.outcome is not None for call in calls)
    assert all(lead.state is LeadState.RETRY for lead in leads)


def start_dialer_process(
    database_url: str, redis_url: str, tmp_path: Path, *args: str, **environ: str
) -> subprocess.Popen[str]:
    """`callcenter dialer` as its own process, found through its entry point."""
    env = {
        **os.environ,
        "CC_ENV": "test",
        "CC_DATABASE_URL": database_url,
        "CC_REDIS_URL": redis_url,
        "CC_INSTANCE_PATH": str(tmp_path / "instance"),
        **environ,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "callcenter.cli", "dialer", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
