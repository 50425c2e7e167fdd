"""`callcenter trunk status`: what each dialer's trunk said last.

Registered into the `callcenter` command through the entry-point group
`callcenter.commands`. It reads the dialers' reports from the database, so
it works from any machine that reaches the database, whichever process
runs the dialer."""

from __future__ import annotations

from datetime import timedelta

import click

from callcenter.db import utcnow
from callcenter.services import dialer_fleet
from callcenter.services.trunk_status import describe


@click.group()
def trunk() -> None:
    """The SIP trunk as the dialers see it."""


@trunk.command("status")
@click.option("--all", "show_all", is_flag=True, help="Also dialers that have stopped.")
@click.pass_context
def trunk_status(click_ctx: click.Context, show_all: bool) -> None:
    """Registration, the last OPTIONS answer and its RTT, calls up, per dialer.

    Exits 1 when no live dialer reports a healthy trunk."""
    from callcenter.cli import Context  # the group's context; imported late (it loads us)

    ctx = click_ctx.ensure_object(Context)
    lease = timedelta(seconds=max(ctx.settings.dialer.campaign_lease_seconds, 30.0))
    with ctx.database.sessions() as session:
        reports = dialer_fleet.trunk_statuses(
            session, now=utcnow(), lease=lease, include_stopped=show_all
        )
        if not reports:
            click.echo("no dialer has reported: is `callcenter dialer` (or `run`) running?")
            click_ctx.exit(1)
        for report in reports:
            dialer = report.dialer
            when = report.status.get("reported_at", "never")
            life = "live" if report.live else "stopped or silent"
            click.echo(
                f"trunk {dialer.trunk}: dialer {dialer.id[:8]} on {dialer.host} pid {dialer.pid}"
                f" ({life}; reported {when})"
            )
            if report.status:
                for line in describe(report.status):
                    click.echo(line)
        healthy = any(r.live and r.status.get("healthy") for r in reports)
    click_ctx.exit(0 if healthy else 1)
