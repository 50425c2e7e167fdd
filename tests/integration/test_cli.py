"""The `callcenter` command against a real SQLite file."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from callcenter.cli import main


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return {"CC_INSTANCE_PATH": str(tmp_path / "instance"), "CC_CONFIG": ""}


def invoke(env: dict[str, str], *args: str, stdin: str | None = None):
    result = CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)
    return result


def test_users_lifecycle_from_the_command_line(cli_env: dict[str, str]) -> None:
    assert invoke(cli_env, "db", "upgrade").exit_code == 0
    created = invoke(
        cli_env,
        "users",
        "create",
        "reza",
        "--role",
        "agent",
        "--full-name",
        "رضا کریمی",
        "--team",
        "Team A",
        "--locale",
        "fa",
    )
    assert created.exit_code == 0, created.output
    assert "password: " in created.output
    given = invoke(
        cli_env,
        "users",
        "create",
        "mina",
        "--role",
        "manager",
        "--password-stdin",
        stdin="a-long-enough-password\n",
    )
    assert given.exit_code == 0 and "password:" not in given.output
    assert invoke(cli_env, "users", "set-role", "reza", "supervisor").exit_code == 0
    reset = invoke(cli_env, "users", "reset-password", "reza")
    assert "new password for reza: " in reset.output
    assert invoke(cli_env, "users", "deactivate", "mina").exit_code == 0
    selling = invoke(cli_env, "users", "set-salesperson", "reza", "on")
    assert selling.exit_code == 0 and "reza holds meetings" in selling.output
    listing = invoke(cli_env, "users", "list").output
    assert "reza" in listing and "supervisor" in listing and "Team A" in listing
    assert "mina" in listing and "deactivated" in listing
    sellers = [line.split()[0] for line in listing.splitlines() if "(salesperson)" in line]
    assert sellers == ["reza"]


def test_domain_errors_are_one_line(cli_env: dict[str, str]) -> None:
    invoke(cli_env, "db", "upgrade")
    result = invoke(cli_env, "users", "set-role", "ghost", "admin")
    assert result.exit_code == 2
    assert result.output.strip() == "callcenter: no user named 'ghost'"
    short = invoke(
        cli_env, "users", "create", "x1", "--role", "agent", "--password-stdin", stdin="short\n"
    )
    assert short.exit_code == 2 and "at least 10 characters" in short.output


def test_demo_load_prints_distinct_passwords_once(cli_env: dict[str, str]) -> None:
    invoke(cli_env, "db", "upgrade")
    result = invoke(cli_env, "demo", "load", "--seed", "3")
    assert result.exit_code == 0
    assert "2 campaigns, 300 leads" in result.output
    lines = [line.split() for line in result.output.splitlines() if line.startswith("  ")]
    roles = {line[1] for line in lines}
    assert roles == {"admin", "manager", "supervisor", "agent"}
    passwords = [line[2] for line in lines]
    assert len(set(passwords)) == len(passwords) >= 4
    again = CliRunner().invoke(main, ["demo", "load"], env=cli_env)
    assert again.exit_code != 0 and "already has users" in again.output


def test_bad_database_url_stops_with_one_line(cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        main, ["db", "upgrade"], env={**cli_env, "CC_DATABASE_URL": "oracle://x/y"}
    )
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert result.output.startswith("callcenter: configuration error: CC_DATABASE_URL")


def test_events_prune_forgets_events_applied_before_the_horizon(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from callcenter.db import Database, utcnow
    from callcenter.models import ProcessedEvent
    from callcenter.services import event_pruning

    assert invoke(cli_env, "db", "upgrade").exit_code == 0
    database = Database(f"sqlite:///{tmp_path / 'instance' / 'callcenter.db'}")
    now = utcnow()
    with database.unit_of_work() as session:
        for name, age in (("old", event_pruning.HORIZON * 2), ("recent", timedelta(hours=1))):
            session.add(ProcessedEvent(event_id=name, handler="calls", processed_at=now - age))
    result = invoke(cli_env, "events", "prune")
    assert result.exit_code == 0, result.output
    assert "1 applied events forgotten" in result.output
    with database.sessions() as session:
        assert session.scalars(select(ProcessedEvent.event_id)).all() == ["recent"]
    database.dispose()


def test_run_says_which_campaigns_are_outside_their_calling_hours(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`callcenter run` at night or on a Friday places no call: it says why."""
    import json
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from callcenter.calling_windows import WEEKDAYS
    from callcenter.cli import Context, _say_closed_calling_hours
    from callcenter.dates import format_datetime
    from tests.integration.dialer.floor import ALWAYS_OPEN

    tehran = ZoneInfo("Asia/Tehran")
    opens = (datetime.now(tehran) + timedelta(days=2)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    day = WEEKDAYS[opens.weekday()]
    only_then = {
        "weekly": {d: [{"start": "10:00", "end": "11:00"}] if d == day else [] for d in WEEKDAYS}
    }
    assert invoke(cli_env, "db", "upgrade").exit_code == 0
    for name, windows in (("Closed", only_then), ("Open", ALWAYS_OPEN)):
        created = invoke(
            cli_env, "campaigns", "create", name, "--active", "--windows", json.dumps(windows)
        )
        assert created.exit_code == 0, created.output
    for key, value in cli_env.items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()

    _say_closed_calling_hours(Context())

    said = capsys.readouterr().out
    when = format_datetime(opens, "en", tz=tehran)
    assert (
        f"campaign 'Closed' is outside its calling hours (Asia/Tehran): calls start {when}." in said
    )
    assert "'Open'" not in said
