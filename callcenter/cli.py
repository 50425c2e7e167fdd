"""The `callcenter` command."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import click
from sqlalchemy.orm import Session

from callcenter import migrate
from callcenter.db import Database
from callcenter.errors import DomainError
from callcenter.services import accounts, demo
from callcenter.settings import Settings, SettingsError, load_settings
from callcenter.states import Role

ROLE_NAMES = [role.value for role in Role]


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
    _serve(ctx, host or settings.web.host, port or settings.web.port)


@main.command()
@click.option("--host", default=None)
@click.option("--port", default=None, type=int)
@pass_context
def web(ctx: Context, host: str | None, port: int | None) -> None:
    """The web server alone (production runs several behind a load balancer)."""
    _serve(ctx, host or ctx.settings.web.host, port or ctx.settings.web.port)


def _serve(ctx: Context, host: str, port: int) -> None:
    from callcenter.app import create_app
    from callcenter.extensions import socketio

    app = create_app(ctx.settings, database=ctx.database)
    bus = app.extensions["cc_bus"]
    bus.start()
    click.echo(f"callcenter: serving on http://{host}:{port}")
    try:
        socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False)
    finally:
        bus.stop()


def _first_start(session: Session, settings: Settings) -> None:
    if settings.load_demo_data:
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
            click.echo(
                f"{user.username:<16} {user.role.value:<11} {user.locale:<3} "
                f"{status:<12} {team}  {user.full_name}"
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


if __name__ == "__main__":
    main()
