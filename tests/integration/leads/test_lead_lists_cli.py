"""`callcenter lists ...` with click's CliRunner on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from callcenter.db import Database
from callcenter.models import AuditEntry, Lead
from callcenter.settings import load_settings
from callcenter.states import LeadState
from tests.integration.leads.test_campaign_cli import cli_env, invoke  # noqa: F401


def _database(env: dict[str, str], monkeypatch: object) -> Database:
    for key, value in env.items():
        monkeypatch.setenv(key, value)  # type: ignore[attr-defined]
    return Database(load_settings().database_url)


def test_lists_show_disable_recycle_reset_move(
    cli_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    monkeypatch: object,
) -> None:
    invoke(cli_env, "campaigns", "create", "Spring")
    invoke(cli_env, "campaigns", "create", "Autumn")
    leads = tmp_path / "leads.csv"
    leads.write_text("phone\n09121234567\n09127654321\n09351112233\n", encoding="utf-8")
    assert invoke(cli_env, "import", "leads", str(leads), "--campaign", "Spring").exit_code == 0
    database = _database(cli_env, monkeypatch)
    with database.unit_of_work() as session:
        session.execute(
            update(Lead).values(state=LeadState.EXHAUSTED, attempts=5, last_outcome="busy")
        )

    shown = invoke(cli_env, "lists", "show", "--campaign", "Spring")
    assert shown.exit_code == 0, shown.output
    assert "leads.csv\tenabled\t3 leads\tdialed 0\tcontacted 0\tconverted 0\texhausted 3" in (
        shown.output
    )
    assert "disabled" in invoke(cli_env, "lists", "disable", "1").output
    assert (
        "3 leads recycled"
        in invoke(cli_env, "lists", "recycle", "1", "--outcome", "busy", "--hours", "0").output
    )
    assert "0 exhausted leads reset" in invoke(cli_env, "lists", "reset", "1").output
    moved = invoke(cli_env, "lists", "move", "1", "--to", "Autumn")
    assert "3 leads moved to Autumn, 0 left behind" in moved.output
    refused = invoke(cli_env, "lists", "move", "1", "--to", "Autumn")
    assert refused.exit_code == 2
    assert "already in campaign Autumn" in refused.output
    bad = invoke(cli_env, "lists", "recycle", "1", "--outcome", "sale", "--hours", "1")
    assert bad.exit_code == 2

    with database.unit_of_work() as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
        assert {lead.state for lead in session.scalars(select(Lead))} == {LeadState.RETRY}
    assert actions[-4:] == [
        "lead_list.disabled",
        "lead_list.recycled",
        "lead_list.reset",
        "lead_list.moved",
    ]


def test_users_set_direct_number(cli_env: dict[str, str]) -> None:  # noqa: F811
    invoke(cli_env, "users", "create", "nina", "--role", "agent")
    done = invoke(cli_env, "users", "set-direct-number", "nina", "۰۲۱ ۸۸۷۷ ۶۶۵۵")
    assert done.exit_code == 0 and "direct number +982188776655" in done.output
    refused = invoke(cli_env, "users", "set-direct-number", "nina", "+44 20 7946 0958")
    assert refused.exit_code == 2 and "is not an Iranian phone number" in refused.output
    cleared = invoke(cli_env, "users", "set-direct-number", "nina", "")
    assert "none (the caller ID)" in cleared.output
