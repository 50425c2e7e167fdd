"""`callcenter pause-codes` and `callcenter dispositions` on a fresh install."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from callcenter.cli import main


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {"CC_INSTANCE_PATH": str(tmp_path / "instance"), "CC_CONFIG": ""}
    assert invoke(env, "db", "upgrade").exit_code == 0
    return env


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_a_fresh_install_has_pause_codes_and_a_manager_keeps_them(cli_env: dict[str, str]) -> None:
    listing = invoke(cli_env, "pause-codes", "list").output.splitlines()
    assert [line.split()[0] for line in listing] == [
        "break",
        "lunch",
        "training",
        "meeting",
        "technical",
    ]
    assert "unpaid" in listing[1] and "45 min" in listing[1]

    added = invoke(
        cli_env, "pause-codes", "add", "coaching", "--fa", "مربی‌گری", "--en", "Coaching",
        "--limit", "۲۰", "--unpaid",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "unpaid" in added.output and "20 min" in added.output
    assert invoke(cli_env, "pause-codes", "move", "coaching", "up").exit_code == 0
    assert (
        invoke(cli_env, "pause-codes", "edit", "coaching", "--paid", "--limit", "0").exit_code == 0
    )
    assert invoke(cli_env, "pause-codes", "deactivate", "lunch").exit_code == 0

    listing = invoke(cli_env, "pause-codes", "list").output.splitlines()
    codes = [line.split()[0] for line in listing]
    assert codes.index("coaching") == codes.index("technical") - 1
    coaching = listing[codes.index("coaching")]
    assert "no limit" in coaching and " paid " in coaching
    assert "inactive" in listing[codes.index("lunch")]


def test_bad_pause_codes_are_refused_in_one_line(cli_env: dict[str, str]) -> None:
    taken = invoke(cli_env, "pause-codes", "add", "break", "--fa", "x", "--en", "x")
    assert taken.exit_code == 2 and "exists already" in taken.output
    bad = invoke(cli_env, "pause-codes", "add", "Coffee Time", "--fa", "x", "--en", "x")
    assert bad.exit_code == 2 and "Latin letters" in bad.output
    blank = invoke(cli_env, "pause-codes", "add", "coffee", "--fa", " ", "--en", "Coffee")
    assert blank.exit_code == 2 and "both languages" in blank.output


def test_each_campaign_starts_with_the_default_dispositions(cli_env: dict[str, str]) -> None:
    assert invoke(cli_env, "campaigns", "create", "Spring").exit_code == 0
    listing = invoke(cli_env, "dispositions", "list", "Spring").output.splitlines()
    assert [line.split()[:2] for line in listing] == [
        ["appointment_set", "appointment"],
        ["sale", "sale"],
        ["callback", "callback"],
        ["no_decision", "retry"],
        ["not_interested", "final"],
        ["wrong_number", "final"],
        ["do_not_call", "dnc"],
        ["answering_machine", "retry"],
    ]

    added = invoke(
        cli_env, "dispositions", "add", "Spring", "busy_later", "--fa", "سرش شلوغ بود",
        "--en", "Busy, call later", "--category", "retry", "--retry-minutes", "90",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "90 min" in added.output
    moved = invoke(cli_env, "dispositions", "move", "Spring", "busy_later", "up")
    assert moved.output.splitlines()[-2].startswith("busy_later")
    edited = invoke(cli_env, "dispositions", "edit", "Spring", "busy_later", "--category", "final")
    assert "final" in edited.output and "90 min" not in edited.output
    assert invoke(cli_env, "dispositions", "deactivate", "Spring", "sale").exit_code == 0
    assert "inactive" in invoke(cli_env, "dispositions", "list", "Spring").output
    assert invoke(cli_env, "dispositions", "delete", "Spring", "busy_later").exit_code == 0
    assert "busy_later" not in invoke(cli_env, "dispositions", "list", "Spring").output

    reserved = invoke(
        cli_env, "dispositions", "add", "Spring", "wrap_up_timeout", "--fa", "x", "--en", "x",
        "--category", "retry",
    )  # fmt: skip
    assert reserved.exit_code == 2 and "server only" in reserved.output
