"""`callcenter dialer`: the dialer worker as its own process.

Registered into the `callcenter` command through the entry-point group
`callcenter.commands` (callcenter never imports dialer). With CC_REDIS_URL
set, the hopper and the ready-agent pool are shared in Redis, so several
dialer processes can run side by side."""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import sys
from typing import Any

import click

from callcenter.bus import EventBus, InProcessEventBus, build_event_bus
from callcenter.bus_backlog import backlog_source
from callcenter.consumers import CALL_EVENTS, CallEventConsumer
from callcenter.db import Database
from callcenter.health import Check, MainLoopHealth, bus_check, database_check
from callcenter.health_server import HealthServer
from callcenter.process_memory import freeze_what_startup_built
from callcenter.prometheus import observe_backlog, observe_events
from callcenter.realtime import BROADCASTER, redis_emitter
from callcenter.settings import Settings
from dialer.embedded import build_worker, carrier_for
from dialer.worker import DialerWorker, WorkerConfig

log = logging.getLogger(__name__)

CONSUMER_GROUP = "dialer"


@click.command()
@click.option(
    "--max-calls",
    type=click.IntRange(min=1),
    default=None,
    help="The trunk's limit on calls up at once (this dialer's share). "
    "Overrides settings.dialer.max_calls.",
)
@click.option(
    "--max-calls-per-second",
    type=click.FloatRange(min=0),
    default=None,
    callback=lambda _ctx, _param, value: _finite(value, "--max-calls-per-second"),
    help="New calls this dialer starts a second at most (its share of the trunk's CPS "
    "limit; 0: none). Overrides settings.dialer.max_calls_per_second.",
)
@click.option(
    "--carrier",
    type=click.Choice(["simulated", "sip"]),
    default=None,
    help="Override settings.dialer.carrier.",
)
@click.option(
    "--trunk-uri", default=None, help="Override settings.dialer.trunk_uri (sip:host:port)."
)
@click.option("--tick", type=click.FloatRange(min=0.05), default=1.0, show_default=True)
@click.option(
    "--sim-time-scale",
    type=click.FloatRange(min=0.001, max=1.0),
    default=1.0,
    help="Simulated carrier only: below 1 runs its calls faster (demos, tests).",
)
@click.option(
    "--health-port",
    type=click.IntRange(min=1, max=65535),
    default=None,
    help="Serve /healthz, /readyz and /metrics on this port.",
)
@click.option("--health-host", default="127.0.0.1", show_default=True)
@click.option(
    "--stale-after",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Seconds without a finished tick before /healthz fails [default: 30, or 10 ticks].",
)
@click.pass_context
def dialer(
    click_ctx: click.Context,
    max_calls: int | None,
    max_calls_per_second: float | None,
    carrier: str | None,
    trunk_uri: str | None,
    tick: float,
    sim_time_scale: float,
    health_port: int | None,
    health_host: str,
    stale_after: float | None,
) -> None:
    """Run the dialer: pace, place and connect calls until interrupted."""
    from callcenter.cli import Context  # the group's context; imported late (it loads us)

    ctx = click_ctx.ensure_object(Context)
    settings = ctx.settings
    dialer_settings = settings.dialer.model_copy(
        update={
            key: value
            for key, value in (
                ("carrier", carrier),
                ("trunk_uri", trunk_uri),
                ("max_calls", max_calls),
                ("max_calls_per_second", max_calls_per_second),
            )
            if value is not None
        }
    )
    settings = settings.model_copy(update={"dialer": dialer_settings})
    bus = _bus_for(settings.redis_url, ctx.database)
    worker = build_worker(
        settings,
        ctx.database,
        bus,
        carrier=carrier_for(settings, time_scale=sim_time_scale),
        config=WorkerConfig(tick_s=tick),
    )
    worker.subscribe()
    observe_backlog(backlog_source(bus, settings.redis_url))
    health_server = None
    if health_port is not None:
        health = _health_of(worker, bus, settings, ctx.database, stale_after or max(30, 10 * tick))
        health_server = HealthServer(health, health_host, health_port).start()
    up_at_once = worker.config.max_concurrent_calls
    cps = worker.config.max_calls_per_second
    click.echo(
        f"callcenter dialer: {settings.dialer.carrier} carrier, "
        f"{'Redis' if settings.redis_url else 'in-process'} bus, hopper and agent pool"
        + (f"; at most {up_at_once} calls up at once" if up_at_once is not None else "")
        + (f"; at most {cps:g} new calls a second" if cps else "")
    )
    freeze_what_startup_built()
    bus.start()
    try:
        asyncio.run(_run_until_signalled(worker))
    finally:
        if health_server is not None:
            health_server.stop()
        if isinstance(bus, InProcessEventBus):
            bus.wait_until_idle()
        bus.stop()
    click.echo("callcenter dialer: stopped")


def _finite(value: float | None, option: str) -> float | None:
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number of calls", param_hint=option)
    return value


def _health_of(
    worker: DialerWorker, bus: EventBus, settings: Settings, database: Database, stale_after: float
) -> MainLoopHealth:
    """Alive while the worker ticks; ready once its carrier has started (the
    first tick comes after it) and while the database and Redis answer."""
    started = Check("carrier", lambda: worker.ticked_at is not None, "carrier not started")
    return MainLoopHealth(
        [database_check(database), bus_check(bus, redis=bool(settings.redis_url)), started],
        stale_after_s=stale_after,
        last_beat=lambda: worker.ticked_at,
    )


def _bus_for(redis_url: str, database: Database) -> EventBus:
    """With Redis: the shared stream, read by this process's own consumer group
    (the agents' requests); the web or consume processes apply the call events.
    Without: an in-process bus, and the calls service applies the events here."""
    if redis_url:
        _emit_to_browsers_through(redis_url, database)
        return build_event_bus(redis_url, consumer_group=CONSUMER_GROUP)
    bus = InProcessEventBus()
    consumer = CallEventConsumer(database)
    for event_class in CALL_EVENTS:
        bus.subscribe(event_class.TYPE, consumer)
    observe_events(bus)
    return bus


def _emit_to_browsers_through(redis_url: str, database: Database) -> None:
    """Screen pops and state changes the calls service queues in this process
    reach the browsers through the web servers' Socket.IO message queue."""
    database.sessions.configure(info={BROADCASTER: redis_emitter(redis_url)})


async def _run_until_signalled(worker: DialerWorker) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await worker.run(stop)


@click.group()
def call() -> None:
    """Diagnostics for the SIP trunk."""


@call.command("test")
@click.argument("number")
@click.option(
    "--trunk", "trunk_uri", default=None, help="sip:host[:port] [default: dialer.trunk_uri]."
)
@click.option(
    "--bind", metavar="HOST[:PORT]", default=None, help="SIP bind address [dialer.sip.bind_host]."
)
@click.option(
    "--public-address",
    metavar="HOST[:PORT]",
    default=None,
    help="Address advertised in Via, Contact and SDP [dialer.sip.public_host].",
)
@click.option("--transport", type=click.Choice(["udp", "tcp"]), default=None)
@click.option("--outbound-proxy", metavar="URI", default=None)
@click.option("--username", default=None, help="Digest user, if the trunk challenges.")
@click.option("--password-stdin", is_flag=True, help="Read the digest password from stdin.")
@click.option("--realm", default=None, help="Answer only challenges for this realm.")
@click.option("--caller-id", default=None, help="From user [dialer.sip.caller_id].")
@click.option("--caller-name", default=None, help="From display name [dialer.sip.caller_name].")
@click.option("--register/--no-register", default=None, help="REGISTER before the call.")
@click.option("--ring-timeout", type=float, default=30.0, show_default=True)
@click.pass_context
def call_test(
    click_ctx: click.Context,
    number: str,
    trunk_uri: str | None,
    bind: str | None,
    public_address: str | None,
    password_stdin: bool,
    ring_timeout: float,
    **overrides: Any,
) -> None:
    """Place one call with the dialer's SIP settings, print every SIP message
    and the outcome; exit 0 only if the call was answered."""
    from callcenter.cli import Context  # the group's context; imported late (it loads us)
    from callcenter.leadfiles import InvalidPhone, normalize_phone
    from dialer.sip.diagnostics import run_test_call
    from dialer.trunk_config import trunk_config_from

    try:
        number = normalize_phone(number).e164
    except InvalidPhone as exc:
        raise click.BadParameter(exc.reason, param_hint="NUMBER") from None
    bind_host, bind_port = _host_port(bind, "--bind")
    public_host, public_port = _host_port(public_address, "--public-address")
    config = trunk_config_from(
        click_ctx.ensure_object(Context).settings,
        trunk_uri=trunk_uri,
        bind_host=bind_host,
        bind_port=bind_port,
        public_host=public_host,
        public_port=public_port,
        password=sys.stdin.readline().rstrip("\r\n") if password_stdin else None,
        keepalive_seconds=0,  # one call: no OPTIONS beside it
        **overrides,
    )
    click_ctx.exit(run_test_call(number, config, ring_timeout_s=ring_timeout))


def _host_port(value: str | None, option: str) -> tuple[str | None, int | None]:
    if value is None:
        return None, None
    host, colon, port = value.rpartition(":")
    if not colon:
        return value, None
    if not port.isdigit():
        raise click.BadParameter(f"{value!r} is not HOST[:PORT]", param_hint=option)
    return host, int(port)
