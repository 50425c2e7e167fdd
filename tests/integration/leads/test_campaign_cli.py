"""`callcenter campaigns|import leads|dnc` with click's CliRunner on a real SQLite file."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from callcenter.cli import main


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {"CC_INSTANCE_PATH": str(tmp_path / "instance"), "CC_CONFIG": ""}
    assert CliRunner().invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    return env


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_campaign_create_list_edit_pause_resume(cli_env: dict[str, str]) -> None:
    created = invoke(
        cli_env, "campaigns", "create", "Spring", "--dial-mode", "predictive",
        "--ring-timeout", "20", "--retry", "busy=5", "--team", "Team A", "--holiday", "2025-03-21",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "Spring\tpaused\tpredictive" in created.output and "busy=5m" in created.output
    edited = invoke(
        cli_env, "campaigns", "edit", "Spring", "--max-attempts", "7", "--abandon-cap", "2.5"
    )
    assert edited.exit_code == 0, edited.output
    assert "changed: max_attempts, abandon_cap_percent" in edited.output
    assert "active" in invoke(cli_env, "campaigns", "resume", "Spring").output
    assert "paused" in invoke(cli_env, "campaigns", "pause", "1").output
    listed = invoke(cli_env, "campaigns", "list")
    assert "cap 2.50%" in listed.output and "max 7 attempts" in listed.output


def test_campaign_edit_changes_several_campaigns_at_once(cli_env: dict[str, str]) -> None:
    invoke(cli_env, "campaigns", "create", "Spring")
    invoke(cli_env, "campaigns", "create", "Summer")
    invoke(cli_env, "campaigns", "create", "Autumn")
    edited = invoke(cli_env, "campaigns", "edit", "Spring", "2", "--max-attempts", "7")
    assert edited.exit_code == 0, edited.output
    assert edited.output.count("changed: max_attempts") == 2, edited.output
    listed = invoke(cli_env, "campaigns", "list").output.splitlines()
    assert [("max 7 attempts" in line) for line in listed] == [False, True, True], listed
    # One that is not there: none is changed.
    refused = invoke(cli_env, "campaigns", "edit", "Autumn", "Winter", "--max-attempts", "9")
    assert refused.exit_code != 0
    assert "max 9 attempts" not in invoke(cli_env, "campaigns", "list").output
    renamed = invoke(cli_env, "campaigns", "edit", "Spring", "Summer", "--name", "Year")
    assert renamed.exit_code == 2 and "renames one campaign" in renamed.output


def test_campaign_edit_that_fails_prints_the_error_only(cli_env: dict[str, str]) -> None:
    invoke(cli_env, "campaigns", "create", "Spring")
    refused = invoke(cli_env, "campaigns", "edit", "Spring", "Nope", "--max-attempts", "9")
    assert refused.exit_code == 2
    assert refused.stdout == "", refused.stdout  # Spring's change was rolled back
    assert refused.stderr == "callcenter: no campaign 'Nope'\n"
    assert "max 9 attempts" not in invoke(cli_env, "campaigns", "list").output


@contextmanager
def commits_failing() -> Iterator[None]:
    """Every commit fails as a full disk or a lost server makes it fail."""

    def fail(_session: Session) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    event.listen(Session, "before_commit", fail)
    try:
        yield
    finally:
        event.remove(Session, "before_commit", fail)


@pytest.mark.parametrize("command", [("create", "Autumn"), ("pause", "Spring"), ("resume", "1")])
def test_campaign_command_whose_commit_fails_prints_nothing_as_done(
    cli_env: dict[str, str], command: tuple[str, str]
) -> None:
    active = ["--active"] if command[0] == "pause" else []
    assert invoke(cli_env, "campaigns", "create", "Spring", *active).exit_code == 0
    before = invoke(cli_env, "campaigns", "list").output
    with commits_failing():
        failed = CliRunner().invoke(main, ["campaigns", *command], env=cli_env)
    assert isinstance(failed.exception, OperationalError)
    assert failed.stdout == "", failed.stdout  # nothing was changed: nothing is shown as done
    assert invoke(cli_env, "campaigns", "list").output == before


def test_campaign_edit_refuses_a_short_ring_timeout(cli_env: dict[str, str]) -> None:
    invoke(cli_env, "campaigns", "create", "Spring")
    result = invoke(cli_env, "campaigns", "edit", "Spring", "--ring-timeout", "10")
    assert result.exit_code == 2
    assert "ring_timeout_seconds: between 15 and 180" in result.output


def test_import_leads_with_progress_and_report(cli_env: dict[str, str], tmp_path: Path) -> None:
    invoke(cli_env, "campaigns", "create", "Spring")
    invoke(cli_env, "dnc", "add", "۰۹۱۲۷۶۵۴۳۲۱")
    leads = tmp_path / "leads.csv"
    leads.write_text(
        "\ufeffموبایل,نام\n09121234567,علی\n12345,بد\n09127654321,مریم\n09121234567,تکراری\n",
        encoding="utf-8",
    )
    result = invoke(cli_env, "import", "leads", str(leads), "--campaign", "Spring")
    assert result.exit_code == 0, result.output
    assert "4 rows, 1 imported, 1 duplicates merged, 1 on DNC, 1 rejected" in result.output
    assert "line 3: " in result.output
    assert "line 4: +989127654321 is on a do-not-call list" in result.output
    again = invoke(cli_env, "import", "leads", str(leads), "--campaign", "Spring")
    assert "1 imported" in again.output  # the same lead list, nothing added


def test_import_leads_says_which_rows_lost_nul_characters(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    invoke(cli_env, "campaigns", "create", "Spring")
    leads = tmp_path / "leads.csv"
    leads.write_bytes(b"phone,name\n09121234567,Ali\x00\n09351234567,Sara\n")
    result = invoke(cli_env, "import", "leads", str(leads), "--campaign", "Spring")
    assert result.exit_code == 0, result.output
    assert "2 rows, 2 imported" in result.output
    assert '  line 2: warning: NUL characters were removed from "name"\n' in result.output


def test_import_leads_says_the_header_lost_nul_characters(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    invoke(cli_env, "campaigns", "create", "Spring")
    leads = tmp_path / "leads.csv"
    leads.write_bytes(b"phone,na\x00me\n09121234567,Ali\n")
    result = invoke(cli_env, "import", "leads", str(leads), "--campaign", "Spring")
    assert result.exit_code == 0, result.output
    assert "1 rows, 1 imported" in result.output
    said = '  line 1: warning: NUL characters were removed from the column names "name"\n'
    assert said in result.output


def test_dnc_import_and_export(cli_env: dict[str, str], tmp_path: Path) -> None:
    invoke(cli_env, "campaigns", "create", "Spring")
    source = tmp_path / "dnc.csv"
    source.write_text(
        "phone,reason\n09121234567,asked\nnonsense,\n09350000001,\n", encoding="utf-8"
    )
    imported = invoke(cli_env, "dnc", "import", str(source), "--campaign", "Spring")
    assert imported.output.startswith("2 added, 0 already listed, 1 rejected")
    assert "line 3:" in imported.output
    exported = invoke(cli_env, "dnc", "export", "--campaign", "Spring")
    assert "+989121234567,Spring,import,asked" in exported.output
    assert (
        invoke(cli_env, "dnc", "export").output.strip() == "phone,campaign,source,reason,added_at"
    )
    assert invoke(cli_env, "dnc", "add", "123").exit_code == 2


def test_campaign_answering_machine_detection(cli_env: dict[str, str], tmp_path: Path) -> None:
    created = invoke(cli_env, "campaigns", "create", "Spring", "--amd", "hangup")
    assert created.exit_code == 0, created.output
    assert "amd hangup" in created.output
    message = tmp_path / "message.wav"
    with wave.open(str(message), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x00\x10" * 800)
    edited = invoke(
        cli_env, "campaigns", "edit", "Spring", "--amd", "message", "--voicemail-wav", str(message)
    )
    assert edited.exit_code == 0, edited.output
    assert "changed: amd_mode, voicemail_wav" in edited.output and "amd message" in edited.output
    assert "amd off" in invoke(cli_env, "campaigns", "edit", "Spring", "--amd", "off").output
    refused = invoke(cli_env, "campaigns", "edit", "Spring", "--amd", "sometimes")
    assert refused.exit_code == 2 and "'sometimes' is not one of" in refused.output
    missing = invoke(cli_env, "campaigns", "edit", "Spring", "--voicemail-wav", "/nowhere.wav")
    assert missing.exit_code == 2
    assert "voicemail_wav: not a readable PCM WAV file" in missing.output


def test_import_leads_preview_then_import_with_choices(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    invoke(cli_env, "campaigns", "create", "Spring")
    leads = tmp_path / "leads.csv"
    leads.write_text(
        "فهرست مشتریان\nستون الف؛ستون ب؛تلفن ثابت\n"
        "علی؛09121234567؛02188776655\n"
        '"مریم؛09351234567؛\n'
        "رضا؛09361234567؛\n",
        encoding="utf-8",
    )
    preview = invoke(cli_env, "import", "leads", str(leads), "--preview")
    assert preview.exit_code == 0, preview.output
    assert "delimiter arabic-semicolon; header on line 2" in preview.output
    assert "تلفن ثابت -> phone" in preview.output
    assert "ستون ب -> kept as the lead's own field" in preview.output
    assert "line 4: " in preview.output and "<- not imported: a quote" in preview.output

    mapped = invoke(cli_env, "import", "leads", str(leads), "--preview", "--map", "ستون ب=phone")
    assert "ستون ب -> phone" in mapped.output
    assert "تلفن ثابت -> phone (another number: the customer's second number, dialled by hand)" in (
        mapped.output
    )

    unreadable = invoke(cli_env, "import", "leads", str(leads), "--preview", "--header-line", "1")
    assert unreadable.exit_code == 1
    assert "cannot import as read: no phone column" in unreadable.output

    result = invoke(
        cli_env,
        "import",
        "leads",
        str(leads),
        "--campaign",
        "Spring",
        "--map",
        "ستون ب=phone",
        "--delimiter",
        "arabic-semicolon",
        "--header-line",
        "2",
    )
    assert result.exit_code == 0, result.output
    assert "3 rows, 2 imported" in result.output
    assert 'line 4: a quote (") opened in this row is never closed' in result.output


def test_import_leads_refuses_an_unknown_delimiter(cli_env: dict[str, str], tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text("phone\n09121234567\n", encoding="utf-8")
    result = invoke(cli_env, "import", "leads", str(leads), "--preview", "--delimiter", "colon")
    assert result.exit_code == 2 and "unknown delimiter" in result.output
