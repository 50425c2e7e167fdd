"""The reports' Calls tab: who sees which calls (the recordings' hearing
rule), the filters, keyset pages, and the play link that leads to the audited
player, on SQLite and PostgreSQL for the query."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.db import Database, utcnow
from callcenter.models import AuditEntry, Disposition, StepAction, StepOutcome, User
from callcenter.recording_store import FolderStore
from callcenter.services.reports import call_list, parse_filters
from callcenter.states import CallOutcome, Role
from tests.factories import log_in, make_campaign, make_team, make_user
from tests.integration.recording.recorded_calls import make_call, record_call


def _arrange(session: Session, store: object, tmp_path: Path) -> dict[str, object]:
    team_a, team_b = make_team(session), make_team(session)
    agent_a = make_user(session, Role.AGENT, team=team_a, full_name="Sara Ahmadi")
    agent_b = make_user(session, Role.AGENT, team=team_b, full_name="Reza Karimi")
    supervisor_a = make_user(session, Role.SUPERVISOR)
    supervisor_a.supervised.append(team_a)
    manager = make_user(session, Role.MANAGER, locale="en")
    campaign = make_campaign(session, name="Tehran offices")
    now = utcnow() - timedelta(hours=1)
    recorded = make_call(session, campaign, agent_a, at=now)
    recorded.ended_at = now + timedelta(seconds=75)
    recorded.outcome = CallOutcome.ANSWERED
    record_call(session, store, recorded, tmp_path)  # type: ignore[arg-type]
    session.add(
        StepOutcome(
            call_id=recorded.id,
            seq=1,
            step_number=4,
            action=StepAction.REJECT,
            reason_code="not_interested",
            reason_text="already has an office",
            at=now + timedelta(seconds=60),
        )
    )
    session.add(Disposition(call_id=recorded.id, code="not_interested", agent_id=agent_a.id))
    failed = make_call(session, campaign, agent_a, at=now - timedelta(minutes=1))
    record_call(session, store, failed, tmp_path, stored=False)  # type: ignore[arg-type]
    unrecorded = make_call(session, campaign, agent_a, at=now - timedelta(minutes=2))
    session.add(Disposition(call_id=unrecorded.id, code="callback", agent_id=agent_a.id))
    other_team = make_call(session, campaign, agent_b, at=now - timedelta(minutes=3))
    record_call(session, store, other_team, tmp_path)  # type: ignore[arg-type]
    no_agent = make_call(session, campaign, None, at=now - timedelta(minutes=4))
    session.flush()
    return {
        "users": {
            "agent_a": agent_a.username,
            "agent_b": agent_b.username,
            "supervisor_a": supervisor_a.username,
            "manager": manager.username,
        },
        "recorded": recorded.id,
        "failed": failed.id,
        "unrecorded": unrecorded.id,
        "other_team": other_team.id,
        "no_agent": no_agent.id,
    }


@pytest.fixture
def calls(app: Flask, sqlite_database: Database, tmp_path: Path) -> dict[str, object]:
    store = app.extensions["cc_recording_store"]
    with sqlite_database.unit_of_work() as session:
        return _arrange(session, store, tmp_path)


def _listed(html: str, calls: dict[str, object]) -> set[str]:
    names = ("recorded", "failed", "unrecorded", "other_team", "no_agent")
    return {name for name in names if f'data-call="{calls[name]}"' in html}


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("agent_a", {"recorded", "failed", "unrecorded"}),
        ("agent_b", {"other_team"}),
        ("supervisor_a", {"recorded", "failed", "unrecorded"}),
        ("manager", {"recorded", "failed", "unrecorded", "other_team", "no_agent"}),
    ],
)
def test_each_role_sees_the_calls_it_may_hear(
    client: FlaskClient, calls: dict[str, object], who: str, sees: set[str]
) -> None:
    log_in(client, calls["users"][who])  # type: ignore[index]
    page = client.get("/supervisor/reports/calls")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert _listed(html, calls) == sees
    play_links = {name for name in sees if f'/recordings/{calls[name]}"' in html}
    assert play_links == sees & {"recorded", "other_team"}  # stored recordings only


def test_a_row_says_who_what_how_long_and_where_it_was_rejected(
    client: FlaskClient, calls: dict[str, object]
) -> None:
    log_in(client, calls["users"]["manager"])  # type: ignore[index]
    html = client.get("/supervisor/reports/calls").get_data(as_text=True)
    row = html[html.index(f'data-call="{calls["recorded"]}"') :]
    row = row[: row.index("</tr>")]
    for text in (
        "Tehran offices",
        "Sara Ahmadi",
        "+989121234567",
        "0:01:15",
        "already has an office",
    ):
        assert text in row, text


def test_filters_by_disposition_and_agent(client: FlaskClient, calls: dict[str, object]) -> None:
    log_in(client, calls["users"]["manager"])  # type: ignore[index]
    html = client.get(
        "/supervisor/reports/calls", query_string={"disposition": "callback"}
    ).get_data(as_text=True)
    assert _listed(html, calls) == {"unrecorded"}
    html = client.get(
        "/supervisor/reports/calls", query_string={"disposition": "callback,not_interested"}
    ).get_data(as_text=True)
    assert _listed(html, calls) == {"recorded", "unrecorded"}


def test_an_agent_sees_only_the_calls_tab(client: FlaskClient, calls: dict[str, object]) -> None:
    log_in(client, calls["users"]["agent_a"])  # type: ignore[index]
    html = client.get("/supervisor/reports/calls").get_data(as_text=True)
    assert 'data-tab="call_list"' in html and 'data-tab="funnel"' not in html
    assert "/supervisor/reports/export" not in html
    assert client.get("/supervisor/reports").status_code == 403


def test_playing_from_the_list_is_audited(
    client: FlaskClient, calls: dict[str, object], app_session: Session
) -> None:
    log_in(client, calls["users"]["supervisor_a"])  # type: ignore[index]
    html = client.get("/supervisor/reports/calls").get_data(as_text=True)
    assert f'href="/recordings/{calls["recorded"]}"' in html
    assert client.get(f"/recordings/{calls['recorded']}").status_code == 200
    assert client.get(f"/recordings/{calls['recorded']}/audio").status_code == 200
    app_session.rollback()
    plays = app_session.scalars(
        select(AuditEntry.target_id).where(AuditEntry.action == "recording.play")
    ).all()
    assert plays == [calls["recorded"]]


def test_pages_follow_one_another_without_gaps_or_repeats(
    database: Database, tmp_path: Path
) -> None:
    store = FolderStore(tmp_path / "store")
    with database.unit_of_work() as session:
        arranged = _arrange(session, store, tmp_path)
        username = arranged["users"]["manager"]  # type: ignore[index]
        manager = session.scalar(select(User).where(User.username == username))
        assert manager is not None
        filters = parse_filters({})
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = call_list(session, manager, filters, "en", cursor=cursor, limit=2)
            seen.extend(row.call_id for row in page.rows)
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
    order = ["recorded", "failed", "unrecorded", "other_team", "no_agent"]
    assert seen == [arranged[name] for name in order]
    assert pages == 3


def test_a_broken_page_link_is_refused(client: FlaskClient, calls: dict[str, object]) -> None:
    log_in(client, calls["users"]["manager"])  # type: ignore[index]
    response = client.get("/supervisor/reports/calls", query_string={"cursor": "yesterday"})
    assert response.status_code == 422
