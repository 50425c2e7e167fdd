"""QA scores reach the agent performance report and its export (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from callcenter.recording_store import FolderStore
from callcenter.services import qa
from callcenter.services.exports.tables import agent_sheets, call_sheets
from callcenter.services.reports.agents import agents_report
from callcenter.services.reports.filters import ReportFilters
from callcenter.states import Role
from tests.factories import make_campaign, make_team, make_user
from tests.integration.recording.recorded_calls import make_call, record_call


def test_scores_in_the_agent_report_and_export(session: Session, tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "store")
    team = make_team(session)
    agent = make_user(session, Role.AGENT, team=team, full_name="Agent QA")
    manager = make_user(session, Role.MANAGER)
    campaign = make_campaign(session)
    qa.save_scorecard(session, manager, campaign.id, "6 Greeting\n4 Two slots\n0 ! Hung up last")
    good, bad = make_call(session, campaign, agent), make_call(session, campaign, agent)
    for call in (good, bad):
        record_call(session, store, call, tmp_path)
    qa.score_call(session, manager, good.id, ["c1", "c3"])  # 6 of 10
    qa.score_call(session, manager, bad.id, ["c1", "c2"])  # auto-fail: 0 of 10

    [row] = [r for r in agents_report(session, ReportFilters()).rows if r.agent_id == agent.id]
    assert (row.qa_scored, row.qa_points, row.qa_max_points, row.qa_auto_fails) == (2, 6, 20, 1)
    assert row.qa_score == 0.3

    sheet, _openers_closers = agent_sheets(session, ReportFilters(), "en")
    qa_columns = [
        sheet.headers.index(name) for name in ("QA scored calls", "QA score (%)", "QA auto-fails")
    ]
    [exported] = [line for line in sheet.rows if line[0] == "Agent QA"]
    assert [exported[i] for i in qa_columns][0::2] == [2, 1]
    assert str(exported[qa_columns[1]]).startswith("30")


def test_call_records_carry_the_recording(session: Session, tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "store")
    campaign = make_campaign(session)
    agent = make_user(session)
    stored, failed = make_call(session, campaign, agent), make_call(session, campaign, agent)
    plain = make_call(session, campaign, agent)
    record_call(session, store, stored, tmp_path, seconds=3.0)
    record_call(session, store, failed, tmp_path, stored=False)

    [sheet] = call_sheets(session, ReportFilters(), "en")
    columns = [
        sheet.headers.index(n) for n in ("Recording", "Recording length (s)", "Recording SHA-256")
    ]
    rows = {row[0]: [row[i] for i in columns] for row in sheet.rows}
    assert rows[stored.id] == ["Stored", 3.0, "0" * 64]
    assert rows[failed.id] == ["Failed", 2.0, ""]
    assert rows[plain.id] == ["", None, ""]
