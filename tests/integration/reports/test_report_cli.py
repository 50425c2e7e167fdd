"""`callcenter export ...` against a real SQLite file."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from callcenter import migrate
from callcenter.cli import main
from callcenter.db import Database
from callcenter.models import AuditEntry
from tests.integration.reports.report_dataset import build


def test_export_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cc.db'}"
    migrate.upgrade(url)
    database = Database(url)
    with database.unit_of_work() as session:
        build(session)
    env = {"CC_DATABASE_URL": url, "CC_INSTANCE_PATH": str(tmp_path / "instance"), "CC_CONFIG": ""}
    out = tmp_path / "calls.csv"
    result = CliRunner().invoke(
        main,
        [
            "export",
            "calls",
            "--from",
            "1404/02/20",
            "--to",
            "1404/02/21",
            "--campaign",
            "C1",
            "--format",
            "csv",
            "--locale",
            "en",
            "-o",
            str(out),
        ],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert len(rows) == 10 and {row[1] for row in rows[1:]} == {"C1"}
    xlsx = tmp_path / "rejections.xlsx"
    result = CliRunner().invoke(
        main,
        [
            "export",
            "rejections",
            "--from",
            "2025-05-10",
            "--to",
            "2025-05-11",
            "--format",
            "xlsx",
            "-o",
            str(xlsx),
        ],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert xlsx.stat().st_size > 0
    bad = CliRunner().invoke(
        main, ["export", "calls", "--campaign", "nope", "-o", str(out)], env=env
    )
    assert bad.exit_code == 2 and "no campaign named" in bad.output
    with database.sessions() as session:
        details = [
            e.details
            for e in session.scalars(
                select(AuditEntry).where(AuditEntry.action == "report.exported")
            )
        ]
    assert [(d["kind"], d["via"], d["rows"]) for d in details][:1] == [("calls", "cli", 9)]
    database.dispose()
