"""The `callcenter` command."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from callcenter import migrate
from callcenter.db import Database, utcnow
from callcenter.errors import DomainError
from callcenter.leadfiles import (
    FilePreview,
    InvalidPhone,
    LeadFileError,
    ReadOptions,
    delimiter_of,
    normalize_phone,
    preview_lead_file,
)
from callcenter.logging_setup import configure_logging
from callcenter.models import CampaignStatus
from callcenter.services import (
    accounts,
    demo,
    disposition_codes,
    dnc,
    lead_import,
    lead_import_jobs,
    lead_lists,
    pause_codes,
)
from callcenter.services import campaigns as campaign_service
from callcenter.settings import Settings, SettingsError, load_settings
from callcenter.states import DispositionCategory, Role

ROLE_NAMES = [role.value for role in Role]
# Packages that callcenter must not import (the dialer) plug in through these
# entry-point groups: more `callcenter` commands, and services that
# `callcenter run` starts beside the web server, each `start(app, bus)` ->
# a handle with `stop()`.
COMMAND_ENTRY_POINTS = "callcenter.commands"
EMBEDDED_SERVICE_ENTRY_POINTS = "callcenter.embedded_services"


class Context:
    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._database: Database | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = Database(self.settings.database_url)
        return self._database


pass_context = click.make_pass_decorator(Context, ensure=True)


class CallcenterGroup(click.Group):
    """Turn configuration and domain errors into one clear line and exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            click.echo(f"callcenter: configuration error: {exc}", err=True)
            sys.exit(2)
        except DomainError as exc:
            click.echo(f"callcenter: {exc.message}", err=True)
            sys.exit(2)


@click.group(cls=CallcenterGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log at debug level.")
def main(verbose: bool) -> None:
    """Outbound call-center workstation."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    configure_logging(click.get_current_context().ensure_object(Context).settings, verbose=verbose)


# --- run ---------------------------------------------------------------------------------


@main.command()
@click.option("--host", default=None, help="Address to listen on (default from settings).")
@click.option("--port", default=None, type=int, help="Port (default from settings).")
@pass_context
def run(ctx: Context, host: str | None, port: int | None) -> None:
    """Everything in one process on embedded defaults: migrate, load demo data
    on first start, serve the web UI."""
    settings = ctx.settings
    migrate.upgrade(settings.database_url)
    with ctx.database.unit_of_work() as session:
        if not demo.has_users(session):
            _first_start(session, settings)
    _serve(ctx, host or settings.web.host, port or settings.web.port, embedded=True)


@main.command()
@click.option("--host", default=None)
@click.option("--port", default=None, type=int)
@pass_context
def web(ctx: Context, host: str | None, port: int | None) -> None:
    """The web server alone (production runs several behind a load balancer)."""
    _serve(ctx, host or ctx.settings.web.host, port or ctx.settings.web.port)


_WERKZEUG_BANNER = ("development server", "production deployment", "Press CTRL+C to quit")


def _without_startup_banner(record: logging.LogRecord) -> bool:
    """Werkzeug's warnings that it is a development server: the line printed
    before it says what this server is and what production runs, once."""
    message = record.getMessage()
    return not any(phrase in message for phrase in _WERKZEUG_BANNER)


def _serve(ctx: Context, host: str, port: int, *, embedded: bool = False) -> None:
    from callcenter.app import create_app, start_web_background
    from callcenter.extensions import socketio

    app = create_app(ctx.settings, database=ctx.database)
    bus = app.extensions["cc_bus"]
    services = start_web_background(app, embedded=embedded)
    if embedded:
        services[:0] = start_embedded_services(app, bus)
    logging.getLogger("werkzeug").addFilter(_without_startup_banner)
    click.echo(
        f"callcenter: serving on http://{host}:{port} with the built-in server "
        "(one process, one machine; production runs gunicorn: docs/deployment.md)"
    )
    if embedded:
        _say_closed_calling_hours(ctx)
    try:
        socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False)
    finally:
        for service in reversed(services):
            service.stop()
        bus.stop()


def _say_closed_calling_hours(ctx: Context) -> None:
    """At night or on a Friday (Iran's calling rules) the demo places no call:
    whoever tries it first is told why, not left with a silent screen."""
    from zoneinfo import ZoneInfo

    from callcenter.dates import format_datetime

    with ctx.database.unit_of_work() as session:
        running = [
            campaign
            for campaign in campaign_service.list_campaigns(session)
            if campaign.status == CampaignStatus.ACTIVE
        ]
        now = utcnow()
        for campaign in running:
            hours = campaign_service.calling_hours(campaign, now)
            if hours["open"]:
                continue
            if hours["opens_at"] is None:
                when = "not within two years"
            else:
                opens = datetime.fromisoformat(hours["opens_at"])
                when = format_datetime(opens, "en", tz=ZoneInfo(campaign.timezone))
            click.echo(
                f"callcenter: campaign {campaign.name!r} is outside its calling hours "
                f"({campaign.timezone}): calls start {when}. "
                "Change them with `callcenter campaigns edit --windows`."
            )


def start_embedded_services(app: Any, bus: Any) -> list[Any]:
    """Start what `callcenter run` carries besides the web server (the dialer)."""
    started = []
    for entry_point in sorted(
        entry_points(group=EMBEDDED_SERVICE_ENTRY_POINTS), key=lambda e: e.name
    ):
        started.append(entry_point.load()(app, bus))
        click.echo(f"callcenter: started {entry_point.name}")
    return started


def _first_start(session: Session, settings: Settings) -> None:
    if settings.wants_demo_data:
        result = demo.load_demo(session)
        click.echo(f"Demo data loaded: {result.campaigns} campaigns, {result.leads} leads.")
        _print_credentials(result.credentials)
    else:
        _, password = accounts.create_user(
            session, username="admin", full_name="Administrator", role=Role.ADMIN, actor=None
        )
        _print_credentials([("admin", "admin", password)])


def _print_credentials(credentials: list[tuple[str, str, str]]) -> None:
    click.echo("Passwords (shown only now; reset them with `callcenter users reset-password`):")
    for username, role, password in credentials:
        click.echo(f"  {username:<12} {role:<11} {password}")


# --- db ----------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head")
@pass_context
def db_upgrade(ctx: Context, revision: str) -> None:
    """Apply the Alembic migrations."""
    migrate.upgrade(ctx.settings.database_url, revision)
    click.echo(f"database at {revision}")


# --- users -------------------------------------------------------------------------------


@main.group()
def users() -> None:
    """User accounts."""


def _in_session(ctx: Context, work: Callable[[Session], None]) -> None:
    with ctx.database.unit_of_work() as session:
        work(session)


@users.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLE_NAMES), required=True)
@click.option("--full-name", default="")
@click.option("--team", default=None, help="Team name (created if new).")
@click.option("--locale", type=click.Choice(accounts.SUPPORTED_LOCALES), default="fa")
@click.option("--email", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_context
def users_create(
    ctx: Context,
    username: str,
    role: str,
    full_name: str,
    team: str | None,
    locale: str,
    email: str | None,
    password_stdin: bool,
) -> None:
    """Create a user; prints a generated password unless one is given on stdin."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None

    def work(session: Session) -> None:
        team_row = accounts.get_or_create_team(session, team) if team else None
        _, used = accounts.create_user(
            session,
            username=username,
            full_name=full_name,
            role=Role(role),
            team=team_row,
            locale=locale,
            email=email,
            password=password,
            actor=None,
        )
        click.echo(f"created {username} ({role})")
        if password is None:
            click.echo(f"password: {used}")

    _in_session(ctx, work)


@users.command("list")
@pass_context
def users_list(ctx: Context) -> None:
    """List users."""

    def work(session: Session) -> None:
        for user in accounts.list_users(session):
            status = "active" if user.is_active else "deactivated"
            team = user.team.name if user.team else "-"
            sells = "  (salesperson)" if user.is_salesperson else ""
            click.echo(
                f"{user.username:<16} {user.role.value:<11} {user.locale:<3} "
                f"{status:<12} {team}  {user.full_name}{sells}"
            )

    _in_session(ctx, work)


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLE_NAMES))
@pass_context
def users_set_role(ctx: Context, username: str, role: str) -> None:
    """Change a user's role."""

    def work(session: Session) -> None:
        accounts.set_role(session, accounts.find_user(session, username), Role(role), actor=None)
        click.echo(f"{username} is now {role}")

    _in_session(ctx, work)


@users.command("set-salesperson")
@click.argument("username")
@click.argument("flag", type=click.Choice(["on", "off"]))
@pass_context
def users_set_salesperson(ctx: Context, username: str, flag: str) -> None:
    """Mark a user as a salesperson (on) or not (off): salespeople hold the
    meetings the agents of their team book."""

    def work(session: Session) -> None:
        user = accounts.find_user(session, username)
        accounts.set_salesperson(session, user, flag == "on", actor=None)
        click.echo(f"{username} {'holds' if flag == 'on' else 'no longer holds'} meetings")

    _in_session(ctx, work)


@users.command("set-direct-number")
@click.argument("username")
@click.argument("number")
@pass_context
def users_set_direct_number(ctx: Context, username: str, number: str) -> None:
    """The number the user gives customers (the script's read-back); '' clears it."""

    def work(session: Session) -> None:
        user = accounts.find_user(session, username)
        accounts.set_direct_number(session, user, number, actor=None)
        click.echo(f"{username}: direct number {user.direct_number or 'none (the caller ID)'}")

    _in_session(ctx, work)


@users.command("reset-password")
@click.argument("username")
@pass_context
def users_reset_password(ctx: Context, username: str) -> None:
    """Give a user a new random password (printed once)."""

    def work(session: Session) -> None:
        password = accounts.reset_password(
            session, accounts.find_user(session, username), actor=None
        )
        click.echo(f"new password for {username}: {password}")

    _in_session(ctx, work)


@users.command("deactivate")
@click.argument("username")
@pass_context
def users_deactivate(ctx: Context, username: str) -> None:
    """Stop a user from logging in (their history stays)."""

    def work(session: Session) -> None:
        accounts.set_active(session, accounts.find_user(session, username), False, actor=None)
        click.echo(f"{username} deactivated")

    _in_session(ctx, work)


@users.command("activate")
@click.argument("username")
@pass_context
def users_activate(ctx: Context, username: str) -> None:
    """Let a deactivated user log in again."""

    def work(session: Session) -> None:
        accounts.set_active(session, accounts.find_user(session, username), True, actor=None)
        click.echo(f"{username} activated")

    _in_session(ctx, work)


# --- recordings --------------------------------------------------------------------------


@main.group(name="recordings")
def recordings_group() -> None:
    """Call recordings."""


@recordings_group.command("expire")
@pass_context
def recordings_expire(ctx: Context) -> None:
    """Delete the recordings past their campaign's retention (not those on legal hold)."""
    from callcenter.recording_store import store_from_settings
    from callcenter.services import recordings

    store = store_from_settings(ctx.settings)
    with ctx.database.unit_of_work() as session:
        report = recordings.expire(session, store, now=utcnow())
    click.echo(f"{report.deleted} recordings deleted, {report.held} kept on legal hold")
    for problem in report.failed:
        click.echo(f"not deleted: {problem}", err=True)
    if report.failed:
        raise SystemExit(1)


# --- bus events ----------------------------------------------------------------------------


@main.group(name="events")
def events_group() -> None:
    """Bus events applied by the consumers."""


@events_group.command("prune")
@pass_context
def events_prune(ctx: Context) -> None:
    """Forget the events applied more than a day ago, and the webhook
    deliveries and SMS settled longer ago than their retention
    (`callcenter consume` does this every five minutes; a deployment without
    it can run this daily)."""
    from callcenter.services import event_pruning, outbox_pruning

    now = utcnow()
    deleted = event_pruning.prune(ctx.database, now=now, max_batches=1_000_000)
    click.echo(f"{deleted} applied events forgotten")
    pruned = outbox_pruning.prune(
        ctx.database,
        now=now,
        webhook_retention=timedelta(days=ctx.settings.webhooks.retention_days),
        sms_retention=timedelta(days=ctx.settings.sms.retention_days),
        max_batches=1_000_000,
    )
    click.echo(f"{pruned.webhook_deliveries} webhook deliveries forgotten")
    click.echo(f"{pruned.sms_messages} SMS forgotten")


# --- demo --------------------------------------------------------------------------------


@main.group(name="demo")
def demo_group() -> None:
    """Demo data."""


@demo_group.command("load")
@click.option("--seed", type=int, default=None)
@pass_context
def demo_load(ctx: Context, seed: int | None) -> None:
    """Load demo data into an empty database."""

    def work(session: Session) -> None:
        if demo.has_users(session):
            raise click.ClickException("the database already has users; demo data not loaded")
        result = demo.load_demo(session, seed=seed)
        click.echo(f"Demo data loaded: {result.campaigns} campaigns, {result.leads} leads.")
        _print_credentials(result.credentials)

    _in_session(ctx, work)


# --- export ------------------------------------------------------------------------------


@main.group(name="export")
def export_group() -> None:
    """Reports and call records as CSV or XLSX (audited like web exports)."""


def _export_command(kind: str) -> None:
    what = "call records" if kind == "calls" else f"{kind} report"

    @export_group.command(kind, help=f"Export the {what} to a file.")
    @click.option("--from", "date_from", default=None, help="First day, Jalali or Gregorian.")
    @click.option("--to", "date_to", default=None, help="Last day, Jalali or Gregorian.")
    @click.option("--campaign", multiple=True, help="Campaign id or name (repeatable).")
    @click.option("--agent", multiple=True, help="Agent id or username (repeatable).")
    @click.option("--team", multiple=True, help="Team id or name (repeatable).")
    @click.option("--list", "lead_list", multiple=True, type=int, help="Lead list id.")
    @click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv")
    @click.option("--locale", type=click.Choice(["fa", "en"]), default=None)
    @click.option("-o", "--output", type=click.Path(dir_okay=False), required=True)
    @pass_context
    def command(
        ctx: Context,
        date_from: str | None,
        date_to: str | None,
        campaign: tuple[str, ...],
        agent: tuple[str, ...],
        team: tuple[str, ...],
        lead_list: tuple[int, ...],
        fmt: str,
        locale: str | None,
        output: str,
    ) -> None:
        from callcenter.services import exports
        from callcenter.services.reports import lookup, parse_filters

        with ctx.database.sessions() as session:
            args = {
                "from": date_from,
                "to": date_to,
                "campaign": lookup.campaign_ids(session, campaign),
                "agent": lookup.user_ids(session, agent),
                "team": lookup.team_ids(session, team),
                "list": list(lead_list),
            }
        filters = parse_filters(
            {key: value for key, value in args.items() if value},
            tz=ctx.settings.locale.timezone,
        )
        export = exports.start_export(
            ctx.database,
            kind=kind,
            fmt=fmt,
            filters=filters,
            locale=locale or ctx.settings.locale.default,
            actor_id=None,
            via="cli",
        )
        written = 0
        with open(output, "wb") as stream:
            for chunk in export.chunks:
                stream.write(chunk)
                written += len(chunk)
        click.echo(f"wrote {output} ({written} bytes)")


for _kind in ("calls", "rejections", "funnel", "agents", "compliance"):
    _export_command(_kind)


# --- campaigns ---------------------------------------------------------------------------


def _campaign_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by `campaigns create` and `campaigns edit`; unset ones are left alone."""
    options = [
        click.option("--name", "new_name", default=None, help="Rename (edit only)."),
        click.option("--dial-mode", type=click.Choice(["preview", "progressive", "predictive"])),
        click.option("--abandon-cap", type=float, help="Percent of live answers (default 3.0)."),
        click.option("--abandon-window-days", type=int),
        click.option("--max-lines", type=int, help="Lines per ready agent."),
        click.option("--ring-timeout", type=int, help="Seconds, at least 15."),
        click.option("--wrap-up", type=int, help="Wrap-up limit in seconds."),
        click.option(
            "--callback-open-after",
            type=int,
            help="Minutes a callback booked for one agent waits for them before anyone takes it.",
        ),
        click.option("--caller-id"),
        click.option("--trunk"),
        click.option(
            "--amd",
            type=click.Choice(["off", "hangup", "message"]),
            help="Answering machines: reach agents (off), are hung up, or get the message.",
        ),
        click.option(
            "--voicemail-wav",
            metavar="PATH",
            help="The message for machines (a WAV the dialer reads); '' for the built-in one.",
        ),
        click.option(
            "--recording",
            type=click.Choice(["off", "all", "on_demand"]),
            help="Record every call, on demand (agent or supervisor), or none.",
        ),
        click.option(
            "--recording-consent/--no-recording-consent",
            default=None,
            help="Play the recording notice to the customer before the agent joins.",
        ),
        click.option(
            "--consent-wav", metavar="PATH", help="The campaign's own notice; '' built-in."
        ),
        click.option(
            "--retention-days", type=int, help="Delete recordings this old; 0 keeps them."
        ),
        click.option("--timezone"),
        click.option("--max-attempts", type=int),
        click.option(
            "--retry", multiple=True, metavar="OUTCOME=MINUTES", help="e.g. --retry busy=15"
        ),
        click.option("--windows", help="Calling windows as JSON (see calling_windows.py)."),
        click.option("--holiday", multiple=True, metavar="YYYY-MM-DD"),
        click.option("--team", multiple=True, help="Team name (repeat); replaces the teams."),
        click.option("--script-version", type=int),
        click.option("--description"),
        click.option("--company"),
        click.option("--product"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _campaign_values(options: dict[str, Any]) -> dict[str, Any]:
    names = {
        "new_name": "name",
        "dial_mode": "dial_mode",
        "abandon_cap": "abandon_cap_percent",
        "abandon_window_days": "abandon_window_days",
        "max_lines": "max_lines_per_agent",
        "ring_timeout": "ring_timeout_seconds",
        "wrap_up": "wrap_up_limit_seconds",
        "callback_open_after": "callback_open_after_minutes",
        "caller_id": "caller_id",
        "trunk": "trunk",
        "amd": "amd_mode",
        "voicemail_wav": "voicemail_wav",
        "recording": "recording_mode",
        "recording_consent": "recording_consent",
        "consent_wav": "consent_wav",
        "retention_days": "recording_retention_days",
        "timezone": "timezone",
        "max_attempts": "max_attempts",
        "script_version": "script_version_id",
        "description": "description",
        "company": "company_name",
        "product": "product",
    }
    values = {
        names[key]: value for key, value in options.items() if key in names and value is not None
    }
    if options.get("retry"):
        delays = {}
        for item in options["retry"]:
            outcome, _, minutes = item.partition("=")
            if not minutes.strip().isdigit():
                raise click.BadParameter(f"{item!r}: use OUTCOME=MINUTES", param_hint="--retry")
            delays[outcome.strip()] = int(minutes)
        values["retry_delays_minutes"] = delays
    if options.get("windows"):
        try:
            values["calling_windows"] = json.loads(options["windows"])
        except json.JSONDecodeError as exc:
            raise click.BadParameter(str(exc), param_hint="--windows") from None
    if options.get("holiday"):
        values["holidays"] = list(options["holiday"])
    return values


def _teams(session: Session, names: tuple[str, ...]) -> list[Any]:
    return [accounts.get_or_create_team(session, name) for name in names]


def _show_campaign(campaign: Any) -> None:
    click.echo(_campaign_line(campaign))


def _campaign_line(campaign: Any) -> str:
    delays = campaign_service.effective_retry_delays(campaign)
    return (
        f"{campaign.id}\t{campaign.name}\t{campaign.status.value}\t{campaign.dial_mode.value}\t"
        f"cap {campaign.abandon_cap_percent}%\tmax {campaign.max_attempts} attempts\t"
        f"amd {campaign.amd_mode.value}\t"
        f"retry {', '.join(f'{k}={v}m' for k, v in delays.items())}"
    )


@main.group(name="campaigns")
def campaigns_group() -> None:
    """Create, list, edit, pause and resume campaigns."""


@campaigns_group.command("create")
@click.argument("name")
@_campaign_options
@click.option("--active", is_flag=True, help="Start dialing at once (default: paused).")
@pass_context
def campaigns_create(ctx: Context, name: str, active: bool, **options: Any) -> None:
    values = _campaign_values(options)
    values["name"] = values.pop("name", name)
    # Printed once committed: a failed commit must not read as a campaign made.
    with ctx.database.unit_of_work() as session:
        campaign = campaign_service.create_campaign(
            session, actor=None, teams=_teams(session, options["team"]), active=active, **values
        )
        line = _campaign_line(campaign)
    click.echo(line)


@campaigns_group.command("list")
@click.option("--all", "include_archived", is_flag=True, help="Include archived campaigns.")
@pass_context
def campaigns_list(ctx: Context, include_archived: bool) -> None:
    with ctx.database.unit_of_work() as session:
        for campaign in campaign_service.list_campaigns(session, include_archived=include_archived):
            _show_campaign(campaign)


@campaigns_group.command("edit")
@click.argument("campaigns", nargs=-1, required=True, metavar="CAMPAIGN...")
@_campaign_options
@pass_context
def campaigns_edit(ctx: Context, campaigns: tuple[str, ...], **options: Any) -> None:
    """Change the given settings of each CAMPAIGN (id or name), all or none."""
    if options["new_name"] is not None and len(campaigns) > 1:
        raise click.BadParameter("renames one campaign at a time", param_hint="--name")
    # Printed once all are committed: a later campaign's error rolls back the earlier ones.
    report: list[str] = []
    with ctx.database.unit_of_work() as session:
        for campaign in campaigns:
            found = campaign_service.find_campaign(session, campaign)
            changes = campaign_service.update_campaign(
                session, found, actor=None, **_campaign_values(options)
            )
            if options["team"]:
                teams = _teams(session, options["team"])
                campaign_service.set_teams(session, found, teams, actor=None)
            report.append(f"changed: {', '.join(changes) or 'nothing'}")
            report.append(_campaign_line(found))
    for line in report:
        click.echo(line)


def _set_campaign_status(ctx: Context, key: str, status: str) -> None:
    # Printed once committed, as `campaigns edit` does.
    with ctx.database.unit_of_work() as session:
        found = campaign_service.find_campaign(session, key)
        campaign_service.set_status(session, found, CampaignStatus(status), actor=None)
        line = _campaign_line(found)
    click.echo(line)


@campaigns_group.command("pause")
@click.argument("campaign")
@pass_context
def campaigns_pause(ctx: Context, campaign: str) -> None:
    _set_campaign_status(ctx, campaign, "paused")


@campaigns_group.command("resume")
@click.argument("campaign")
@pass_context
def campaigns_resume(ctx: Context, campaign: str) -> None:
    _set_campaign_status(ctx, campaign, "active")


# --- import ------------------------------------------------------------------------------


@main.group(name="import")
def import_group() -> None:
    """Import data files."""


@import_group.command("leads")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--campaign", default=None, help="Campaign id or name (not needed with --preview).")
@click.option(
    "--map",
    "mappings",
    multiple=True,
    metavar="COLUMN=FIELD",
    help="Which field a column holds, e.g. --map 'Cell #=phone'; FIELD 'extra' keeps the "
    "column as the lead's own field.",
)
@click.option(
    "--sheet", default=None, help="The worksheet to read (default: the first with phones)."
)
@click.option(
    "--header-line",
    type=click.IntRange(min=1),
    default=None,
    help="The line (row) of the column names (default: found above the data).",
)
@click.option(
    "--delimiter",
    default=None,
    help="comma, semicolon, tab, pipe, arabic-semicolon or the character (default: detected).",
)
@click.option(
    "--preview",
    is_flag=True,
    help="Show how the file will be read and its first rows; import nothing.",
)
@click.option("--region", default="IR", show_default=True, help="Region for national numbers.")
@pass_context
def import_leads(
    ctx: Context,
    file: str,
    campaign: str | None,
    mappings: tuple[str, ...],
    sheet: str | None,
    header_line: int | None,
    delimiter: str | None,
    preview: bool,
    region: str,
) -> None:
    """Import a CSV or XLSX lead list into a campaign, a chunk of rows per
    transaction (the dialer's writes go in between). With --preview, show
    what was detected, the column mapping and the first rows instead."""
    mapping = _column_mapping(mappings)
    try:
        options = ReadOptions(sheet, header_line, delimiter_of(delimiter))
    except LeadFileError as exc:
        raise click.BadParameter(exc.message, param_hint="--delimiter") from None
    data = Path(file).read_bytes()
    name = Path(file).name
    if preview:
        shown = preview_lead_file(
            data, filename=name, mapping=mapping, options=options, region=region
        )
        _echo_preview(shown)
        if shown.error is not None:
            raise click.exceptions.Exit(1)
        return
    if campaign is None:
        raise click.UsageError("--campaign is required to import (or use --preview)")
    with ctx.database.unit_of_work() as session:
        found = campaign_service.find_campaign(session, campaign)
        lead_list_id = lead_import_jobs.queue_import(
            session,
            data,
            campaign_id=found.id,
            filename=name,
            mapping=mapping,
            options=options,
            region=region,
        ).id
    _run_import_here(ctx.database, lead_list_id, name, lead_import.estimate_rows(data, name))
    with ctx.database.read_sessions() as session:
        lead_list = lead_import.get_lead_list(session, lead_list_id)
        _echo_report(lead_list.id, lead_list.report)


def _column_mapping(mappings: tuple[str, ...]) -> dict[str, str] | None:
    for item in mappings:
        if "=" not in item:
            raise click.BadParameter(f"{item!r}: use COLUMN=FIELD", param_hint="--map")
    return dict(item.rsplit("=", 1) for item in mappings) if mappings else None


def _echo_preview(shown: FilePreview) -> None:
    detected = [f"format {shown.format}"]
    if shown.encoding:
        detected.append(f"encoding {shown.encoding}")
    if shown.delimiter_name:
        detected.append(f"delimiter {shown.delimiter_name}")
    if shown.sheet:
        detected.append(f"sheet {shown.sheet!r} of {', '.join(map(repr, shown.sheets))}")
    if shown.header_line:
        detected.append(f"header on line {shown.header_line}")
    click.echo("; ".join(detected))
    if shown.error is not None:
        click.echo(f"cannot import as read: {shown.error.message}")
        click.echo("choose --header-line, --sheet, --delimiter or --map COLUMN=phone")
    else:
        click.echo("columns:")
        for column in shown.columns:
            if column.second_phone:
                role = "phone (another number: the customer's second number, dialled by hand)"
            elif column.field is not None:
                role = str(column.field)
            else:
                role = "kept as the lead's own field"
            click.echo(f"  {column.name} -> {role}")
    click.echo("first rows:")
    for row in shown.rows:
        verdict = "" if row.problem is None else f"   <- not imported: {row.problem}"
        click.echo(f"  line {row.line}: {' | '.join(row.cells)}{verdict}")


def _echo_report(lead_list_id: int, report: dict[str, Any]) -> None:
    counts = report.get("counts") or {kind: len(report[kind]) for kind in lead_import.LISTED}
    if "error" in report:
        click.echo(f"lead list {lead_list_id}: the import stopped: {report['error']}")
    click.echo(
        f"lead list {lead_list_id}: {report['rows']} rows, {report['imported']} imported, "
        f"{counts['duplicates']} duplicates merged, {counts['dnc']} on DNC, "
        f"{counts['rejected']} rejected, "
        f"{counts['already_in_campaign']} already in the campaign"
    )
    for item in report["rejected"]:
        click.echo(f"  line {item['line']}: {lead_import.entry_message(item)}")
    if counts["rejected"] > len(report["rejected"]):
        click.echo(f"  ... and {counts['rejected'] - len(report['rejected'])} more rejected rows")
    for item in report["dnc"]:
        click.echo(f"  line {item['line']}: {item['phone']} is on a do-not-call list")
    for item in report["warnings"]:
        click.echo(f"  line {item['line']}: warning: {lead_import.entry_message(item)}")
    if counts["warnings"] > len(report["warnings"]):
        click.echo(f"  ... and {counts['warnings'] - len(report['warnings'])} more warnings")


def _run_import_here(database: Database, lead_list_id: int, name: str, rows: int | None) -> None:
    """Run the queued import in this process, or wait for the server's worker
    that took it first (or is importing this same file already)."""
    worker = f"cli:{os.getpid()}"
    with database.read_sessions() as session:
        import_id = lead_import_jobs.import_id_of(session, lead_list_id)
    with click.progressbar(length=rows or 0, label=f"importing {name}") as bar:
        done = 0

        def advance(rows_read: int) -> None:
            nonlocal done
            bar.update(rows_read - done)
            done = rows_read

        if import_id is not None and lead_import_jobs.claim(database, import_id, worker):
            lead_import_jobs.run_import(database, import_id, worker, after_chunk=advance)
            return
        while True:
            with database.read_sessions() as session:
                progress = lead_import_jobs.progress(session, lead_list_id)
            advance(progress.rows_read)
            if progress.finished:
                return
            time.sleep(1)


# --- dnc ---------------------------------------------------------------------------------


@main.group(name="lists")
def lists_group() -> None:
    """A campaign's lead lists: penetration, enable/disable, recycle, reset, move (audited)."""


def _show_lists(session: Session, campaign_id: int) -> None:
    found = lead_import.list_lead_lists(session, campaign_id)
    figures = lead_lists.penetration(session, [item.id for item in found])
    for item in found:
        shown = figures[item.id]
        click.echo(
            f"{item.id}\t{item.name}\t{'enabled' if item.is_enabled else 'disabled'}\t"
            f"{shown.leads} leads\tdialed {shown.dialed}\tcontacted {shown.contacted}\t"
            f"converted {shown.converted}\texhausted {shown.exhausted}"
        )


@lists_group.command("show", help="The campaign's lists with their penetration.")
@click.option("--campaign", required=True, help="Campaign name or id.")
@pass_context
def lists_show(ctx: Context, campaign: str) -> None:
    with ctx.database.unit_of_work() as session:
        _show_lists(session, campaign_service.find_campaign(session, campaign).id)


@lists_group.command("enable", help="Dial the list's leads again.")
@click.argument("lead_list_id", type=int)
@pass_context
def lists_enable(ctx: Context, lead_list_id: int) -> None:
    with ctx.database.unit_of_work() as session:
        found = lead_import.get_lead_list(session, lead_list_id)
        lead_lists.set_enabled(session, found, True, actor=None)
        click.echo(f"{found.name}: enabled")


@lists_group.command("disable", help="Stop dialing the list's leads (they keep their state).")
@click.argument("lead_list_id", type=int)
@pass_context
def lists_disable(ctx: Context, lead_list_id: int) -> None:
    with ctx.database.unit_of_work() as session:
        found = lead_import.get_lead_list(session, lead_list_id)
        lead_lists.set_enabled(session, found, False, actor=None)
        click.echo(f"{found.name}: disabled")


@lists_group.command(
    "recycle", help="Exhausted leads with this last outcome, tried HOURS ago or more, dialed again."
)
@click.argument("lead_list_id", type=int)
@click.option("--outcome", required=True, type=click.Choice(lead_lists.RECYCLABLE_OUTCOMES))
@click.option("--hours", required=True, type=int, help="Last attempt at least this long ago.")
@pass_context
def lists_recycle(ctx: Context, lead_list_id: int, outcome: str, hours: int) -> None:
    with ctx.database.unit_of_work() as session:
        found = lead_import.get_lead_list(session, lead_list_id)
        count = lead_lists.recycle(
            session, found, outcome=outcome, older_than_hours=hours, actor=None, now=utcnow()
        )
        click.echo(f"{found.name}: {count} leads recycled")


@lists_group.command("reset", help="Every exhausted lead of the list dialed again.")
@click.argument("lead_list_id", type=int)
@pass_context
def lists_reset(ctx: Context, lead_list_id: int) -> None:
    with ctx.database.unit_of_work() as session:
        found = lead_import.get_lead_list(session, lead_list_id)
        count = lead_lists.reset_exhausted(session, found, actor=None, now=utcnow())
        click.echo(f"{found.name}: {count} exhausted leads reset")


@lists_group.command("move", help="Move the list and its leads to another campaign.")
@click.argument("lead_list_id", type=int)
@click.option("--to", "target", required=True, help="Campaign name or id.")
@pass_context
def lists_move(ctx: Context, lead_list_id: int, target: str) -> None:
    with ctx.database.unit_of_work() as session:
        found = lead_import.get_lead_list(session, lead_list_id)
        campaign = campaign_service.find_campaign(session, target)
        result = lead_lists.move_to_campaign(session, found, campaign, actor=None)
        click.echo(
            f"{found.name}: {result.moved} leads moved to {campaign.name}, "
            f"{result.kept} left behind (already in {campaign.name})"
        )


@main.group(name="dnc")
def dnc_group() -> None:
    """The do-not-call lists (global, or one campaign's with --campaign)."""


def _dnc_campaign_id(session: Session, campaign: str | None) -> int | None:
    return None if campaign is None else campaign_service.find_campaign(session, campaign).id


@dnc_group.command("add")
@click.argument("phone")
@click.option("--campaign", default=None, help="Campaign id or name (default: the global list).")
@click.option("--reason", default="")
@pass_context
def dnc_add(ctx: Context, phone: str, campaign: str | None, reason: str) -> None:
    try:
        e164 = normalize_phone(phone).e164
    except InvalidPhone as exc:
        raise click.BadParameter(exc.reason, param_hint="PHONE") from None
    with ctx.database.unit_of_work() as session:
        entry = dnc.add_number(
            session,
            e164,
            campaign_id=_dnc_campaign_id(session, campaign),
            source="cli",
            reason=reason,
            actor_id=None,
        )
        click.echo(
            f"{entry.phone_e164} is on the {'campaign' if entry.campaign_id else 'global'} list"
        )


@dnc_group.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--campaign", default=None, help="Campaign id or name (default: the global list).")
@pass_context
def dnc_import(ctx: Context, file: Any, campaign: str | None) -> None:
    """Add the numbers of a CSV (first column, or a column named phone)."""
    with ctx.database.unit_of_work() as session:
        result = dnc.import_csv(
            session,
            file.read(),
            campaign_id=_dnc_campaign_id(session, campaign),
            source="import",
            actor_id=None,
        )
    click.echo(
        f"{result.added} added, {result.already_listed} already listed, "
        f"{len(result.rejected)} rejected"
    )
    for item in result.rejected:
        click.echo(f"  line {item['line']}: {item['reason']}")


@dnc_group.command("export")
@click.argument("file", type=click.File("w", encoding="utf-8"), default="-")
@click.option("--campaign", default=None, help="Campaign id or name (default: the global list).")
@pass_context
def dnc_export(ctx: Context, file: Any, campaign: str | None) -> None:
    """Write the list as CSV to FILE (default: standard output)."""
    with ctx.database.unit_of_work() as session:
        file.write(dnc.export_csv(session, campaign_id=_dnc_campaign_id(session, campaign)))


# --- commands from other packages (`callcenter dialer`) ------------------------------------


def add_plugin_commands(group: click.Group) -> None:
    for entry_point in sorted(entry_points(group=COMMAND_ENTRY_POINTS), key=lambda e: e.name):
        if entry_point.name not in group.commands:
            group.add_command(entry_point.load(), entry_point.name)


add_plugin_commands(main)


# --- consume -----------------------------------------------------------------------------


@main.command()
@click.option(
    "--health-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Rewritten with the time every heartbeat while Redis answers.",
)
@click.option("--heartbeat", type=float, default=10.0, show_default=True, help="Seconds.")
@click.option(
    "--health-port",
    "--metrics-port",
    "health_port",
    type=click.IntRange(min=1, max=65535),
    default=None,
    help="Serve /healthz, /readyz and /metrics on this port.",
)
@click.option("--health-host", default="127.0.0.1", show_default=True)
@pass_context
def consume(
    ctx: Context,
    health_file: Path | None,
    heartbeat: float,
    health_port: int | None,
    health_host: str,
) -> None:
    """Apply the bus events (calls, follow-up mail, live floor) as a process of its own."""
    import threading

    from callcenter.consumer_process import run_consumer, stop_on_signals

    stop = threading.Event()
    stop_on_signals(stop)
    click.echo("callcenter consume: started")
    run_consumer(
        ctx.settings,
        ctx.database,
        stop=stop,
        health_file=health_file,
        heartbeat_seconds=heartbeat,
        health_port=health_port,
        health_host=health_host,
    )


if __name__ == "__main__":
    main()


# --- pause codes and dispositions ---------------------------------------------------------

MOVES = {"up": -1, "down": 1}


@main.group(name="pause-codes")
def pause_codes_group() -> None:
    """The reasons agents pause for: labels, time limit, paid or unpaid, order."""


def _show_pause_code(reason: Any) -> None:
    limit = f"{reason.limit_minutes} min" if reason.limit_minutes else "no limit"
    click.echo(
        f"{reason.code:<16} {'paid' if reason.is_paid else 'unpaid':<7} {limit:<9} "
        f"{'active' if reason.is_active else 'inactive':<9} {reason.label_en} / {reason.label_fa}"
    )


@pause_codes_group.command("list")
@pass_context
def pause_codes_list(ctx: Context) -> None:
    with ctx.database.unit_of_work() as session:
        for reason in pause_codes.all_codes(session):
            _show_pause_code(reason)


@pause_codes_group.command("add")
@click.argument("code")
@click.option("--fa", "label_fa", required=True, help="Persian label.")
@click.option("--en", "label_en", required=True, help="English label.")
@click.option("--limit", "limit_minutes", type=int, default=None, help="Time limit in minutes.")
@click.option("--paid/--unpaid", "is_paid", default=True, show_default=True)
@pass_context
def pause_codes_add(ctx: Context, code: str, **values: Any) -> None:
    with ctx.database.unit_of_work() as session:
        _show_pause_code(pause_codes.create(session, actor=None, code=code, **values))


@pause_codes_group.command("edit")
@click.argument("code")
@click.option("--fa", "label_fa", default=None)
@click.option("--en", "label_en", default=None)
@click.option("--limit", "limit_minutes", type=int, default=None, help="Minutes; 0: no limit.")
@click.option("--paid/--unpaid", "is_paid", default=None)
@pass_context
def pause_codes_edit(ctx: Context, code: str, **options: Any) -> None:
    """Change the given fields of CODE; the rest stay."""
    with ctx.database.unit_of_work() as session:
        reason = pause_codes.get(session, code)
        values = {
            "label_fa": reason.label_fa,
            "label_en": reason.label_en,
            "limit_minutes": reason.limit_minutes,
            "is_paid": reason.is_paid,
        }
        values.update({key: value for key, value in options.items() if value is not None})
        if values["limit_minutes"] == 0:
            values["limit_minutes"] = None
        _show_pause_code(pause_codes.update(session, code, actor=None, **values))


@pause_codes_group.command("deactivate")
@click.argument("code")
@pass_context
def pause_codes_deactivate(ctx: Context, code: str) -> None:
    """Agents no longer see CODE (its past pauses keep their label)."""
    with ctx.database.unit_of_work() as session:
        _show_pause_code(pause_codes.set_active(session, code, False, actor=None))


@pause_codes_group.command("activate")
@click.argument("code")
@pass_context
def pause_codes_activate(ctx: Context, code: str) -> None:
    with ctx.database.unit_of_work() as session:
        _show_pause_code(pause_codes.set_active(session, code, True, actor=None))


@pause_codes_group.command("move")
@click.argument("code")
@click.argument("direction", type=click.Choice(list(MOVES)))
@pass_context
def pause_codes_move(ctx: Context, code: str, direction: str) -> None:
    """Move CODE up or down the agent's pause menu."""
    with ctx.database.unit_of_work() as session:
        for reason in pause_codes.move(session, code, MOVES[direction], actor=None):
            _show_pause_code(reason)


@main.group(name="dispositions")
def dispositions_group() -> None:
    """Each campaign's dispositions: labels, what they do to the lead, order."""


CATEGORY_NAMES = [category.value for category in DispositionCategory]


def _show_disposition(row: Any) -> None:
    retry = f"{row.retry_minutes} min" if row.retry_minutes else "-"
    click.echo(
        f"{row.code:<20} {row.category.value:<12} {retry:<9} "
        f"{'active' if row.is_active else 'inactive':<9} {row.label_en} / {row.label_fa}"
    )


@dispositions_group.command("list")
@click.argument("campaign")
@pass_context
def dispositions_list(ctx: Context, campaign: str) -> None:
    """The dispositions of CAMPAIGN (id or name), in the agent's order."""
    with ctx.database.unit_of_work() as session:
        found = campaign_service.find_campaign(session, campaign)
        for row in disposition_codes.for_campaign(session, found.id):
            _show_disposition(row)


@dispositions_group.command("add")
@click.argument("campaign")
@click.argument("code")
@click.option("--fa", "label_fa", required=True, help="Persian label.")
@click.option("--en", "label_en", required=True, help="English label.")
@click.option("--category", type=click.Choice(CATEGORY_NAMES), required=True)
@click.option("--retry-minutes", type=int, default=None, help="For retry: minutes until redial.")
@pass_context
def dispositions_add(ctx: Context, campaign: str, code: str, **values: Any) -> None:
    with ctx.database.unit_of_work() as session:
        found = campaign_service.find_campaign(session, campaign)
        _show_disposition(disposition_codes.create(session, found, actor=None, code=code, **values))


@dispositions_group.command("edit")
@click.argument("campaign")
@click.argument("code")
@click.option("--fa", "label_fa", default=None)
@click.option("--en", "label_en", default=None)
@click.option("--category", type=click.Choice(CATEGORY_NAMES), default=None)
@click.option("--retry-minutes", type=int, default=None, help="0: the campaign's delay.")
@pass_context
def dispositions_edit(ctx: Context, campaign: str, code: str, **options: Any) -> None:
    """Change the given fields of CODE; the rest stay."""
    with ctx.database.unit_of_work() as session:
        found = campaign_service.find_campaign(session, campaign)
        row = disposition_codes.get(session, found.id, code)
        values = {
            "label_fa": row.label_fa,
            "label_en": row.label_en,
            "category": row.category.value,
            "retry_minutes": row.retry_minutes,
        }
        values.update({key: value for key, value in options.items() if value is not None})
        if values["retry_minutes"] == 0:
            values["retry_minutes"] = None
        _show_disposition(disposition_codes.update(session, found.id, code, actor=None, **values))


def _set_disposition_active(ctx: Context, campaign: str, code: str, active: bool) -> None:
    with ctx.database.unit_of_work() as session:
        found = campaign_service.find_campaign(session, campaign)
        _show_disposition(disposition_codes.set_active(session, found.id, code, active, actor=None))


@dispositions_group.command("deactivate")
@click.argument("campaign")
@click.argument("code")
@pass_context
def dispositions_deactivate(ctx: Context, campaign: str, code: str) -> None:
    """Agents no longer see CODE (calls that have it keep its label in reports)."""
    _set_disposition_active(ctx, campaign, code, False)


@dispositions_group.command("activate")
@click.argument("campaign")
@click.argument("code")
@pass_context
def dispositions_activate(ctx: Context, campaign: str, code: str) -> None:
    _set_disposition_active(ctx, campaign, code, True)


@dispositions_group.command("move")
@click.argument("campaign")
@click.argument("code")
@click.argument("direction", type=click.Choice(list(MOVES)))
@pass_context
def dispositions_move(ctx: Context, campaign: str, code: str, direction: str) -> None:
    """Move CODE up or down the agent's wrap-up list."""
    with ctx.database.unit_of_work() as session:
        found = campaign_service.find_campaign(session, campaign)
        for row in disposition_codes.move(session, found.id, code, MOVES[direction], actor=None):
            _show_disposition(row)


@dispositions_group.command("delete")
@click.argument("campaign")
@click.argument("code")
@pass_context
def dispositions_delete(ctx: Context, campaign: str, code: str) -> None:
    """Delete CODE if no call has it (else deactivate it)."""
    with ctx.database.unit_of_work() as session:
        found = campaign_service.find_campaign(session, campaign)
        disposition_codes.delete(session, found.id, code, actor=None)
        click.echo(f"deleted {code}")
