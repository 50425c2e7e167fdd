"""Who hears which recording, through every recording and QA route, and
what is written down: an agent their own calls, a supervisor their teams',
managers all; each play and download audited; Range requests for seeking."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.db import Database
from callcenter.events import Event, RecordingRequested
from callcenter.models import (
    AuditEntry,
    CallRecording,
    QaScore,
    RecordingMode,
    RecordingStatus,
    StepAction,
    StepOutcome,
)
from callcenter.states import CallState, Role
from tests.factories import log_in, make_campaign, make_team, make_user
from tests.integration.recording.recorded_calls import make_call, record_call


@pytest.fixture
def floor(app: Flask, sqlite_database: Database, tmp_path: Path) -> dict[str, object]:
    store = app.extensions["cc_recording_store"]
    with sqlite_database.unit_of_work() as session:
        team_a, team_b = make_team(session), make_team(session)
        people = {
            "agent_a": make_user(session, Role.AGENT, team=team_a),
            "agent_b": make_user(session, Role.AGENT, team=team_b),
            "supervisor_a": make_user(session, Role.SUPERVISOR),
            "supervisor_b": make_user(session, Role.SUPERVISOR),
            "manager": make_user(session, Role.MANAGER),
        }
        people["supervisor_a"].supervised.append(team_a)
        people["supervisor_b"].supervised.append(team_b)
        campaign = make_campaign(session, recording_mode=RecordingMode.ON_DEMAND)
        call = make_call(session, campaign, people["agent_a"])
        record_call(session, store, call, tmp_path)
        session.add(
            StepOutcome(
                call_id=call.id,
                seq=1,
                step_number=2,
                action=StepAction.ENTER,
                at=call.dialed_at,
            )
        )
        failed = make_call(session, campaign, people["agent_a"])
        record_call(session, store, failed, tmp_path, stored=False)
        live = make_call(session, campaign, people["agent_a"], state=CallState.CONNECTED)
        names = {key: user.username for key, user in people.items()}
        return {
            "names": names,
            "call": call.id,
            "failed": failed.id,
            "live": live.id,
            "campaign": campaign.id,
            "campaign_name": campaign.name,
            "agent_a_full_name": people["agent_a"].full_name,
        }


def _as(client: FlaskClient, floor: dict[str, object], who: str) -> FlaskClient:
    client.post("/logout")
    log_in(client, floor["names"][who])  # type: ignore[index]
    return client


def _audits(session: Session, action: str) -> list[AuditEntry]:
    session.rollback()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


@pytest.mark.parametrize(
    ("who", "hears"),
    [
        ("agent_a", True),
        ("agent_b", False),
        ("supervisor_a", True),
        ("supervisor_b", False),
        ("manager", True),
    ],
)
def test_each_role_hears_only_the_calls_in_its_scope(
    client: FlaskClient, floor: dict[str, object], app_session: Session, who: str, hears: bool
) -> None:
    _as(client, floor, who)
    call = floor["call"]
    expected = 200 if hears else 403
    for path in (
        f"/recordings/{call}",
        f"/recordings/{call}/audio",
        f"/recordings/{call}/download",
    ):
        assert client.get(path).status_code == expected, path
    listed = client.get("/recordings/").get_data(as_text=True)
    assert (str(call) in listed) == hears
    names = (floor["campaign_name"], floor["agent_a_full_name"])
    assert all(name in listed for name in names) == hears  # names, not row ids
    assert len(_audits(app_session, "recording.play")) == (1 if hears else 0)
    assert len(_audits(app_session, "recording.download")) == (1 if hears else 0)


def test_the_player_seeks_with_ranges_and_audits_each_play_once(
    client: FlaskClient, floor: dict[str, object], app_session: Session
) -> None:
    _as(client, floor, "agent_a")
    call = floor["call"]
    page = client.get(f"/recordings/{call}").get_data(as_text=True)
    assert 'data-offset-ms="0"' in page  # step 2 entered at the bridge
    whole = client.get(f"/recordings/{call}/audio")
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Content-Type"] == "audio/flac"
    body = whole.get_data()
    assert body.startswith(b"fLaC")
    first = client.get(f"/recordings/{call}/audio", headers={"Range": "bytes=0-99"})
    assert first.status_code == 206
    assert first.headers["Content-Range"] == f"bytes 0-99/{len(body)}"
    assert first.get_data() == body[:100]
    later = client.get(f"/recordings/{call}/audio", headers={"Range": "bytes=100-"})
    assert later.status_code == 206 and later.get_data() == body[100:]
    beyond = client.get(f"/recordings/{call}/audio", headers={"Range": f"bytes={len(body)}-"})
    assert beyond.status_code == 416
    plays = _audits(app_session, "recording.play")
    assert len(plays) == 2  # the whole file and the range from 0; a seek is not a new play
    assert {entry.target_id for entry in plays} == {call}


def test_a_failed_recording_says_why_and_plays_nothing(
    client: FlaskClient, floor: dict[str, object], app_session: Session
) -> None:
    _as(client, floor, "manager")
    failed = floor["failed"]
    row = app_session.scalar(select(CallRecording).where(CallRecording.call_id == failed))
    assert row is not None and row.status is RecordingStatus.FAILED
    assert row.failure_reason == "store: S3 store http://x: connection refused"
    page = client.get(f"/recordings/{failed}").get_data(as_text=True)
    assert "connection refused" in page
    assert client.get(f"/recordings/{failed}/audio").status_code == 404
    assert _audits(app_session, "recording.play") == []


def test_legal_hold_is_a_managers_and_audited(
    client: FlaskClient, floor: dict[str, object], app_session: Session
) -> None:
    call = floor["call"]
    _as(client, floor, "supervisor_a")
    assert client.post(f"/recordings/{call}/legal-hold", data={"hold": "1"}).status_code == 403
    _as(client, floor, "manager")
    assert client.post(f"/recordings/{call}/legal-hold", data={"hold": "1"}).status_code == 302
    app_session.rollback()
    row = app_session.scalar(select(CallRecording).where(CallRecording.call_id == call))
    assert row is not None and row.legal_hold
    assert len(_audits(app_session, "recording.legal_hold")) == 1


def test_record_now_asks_the_dialer_for_calls_in_scope(
    app: Flask, client: FlaskClient, floor: dict[str, object]
) -> None:
    asked: list[Event] = []
    app.extensions["cc_bus"].subscribe(RecordingRequested.TYPE, asked.append)
    live = floor["live"]
    _as(client, floor, "agent_b")
    assert client.post(f"/recordings/{live}/record").status_code == 403
    _as(client, floor, "supervisor_b")
    assert client.post(f"/recordings/{live}/record").status_code == 403
    _as(client, floor, "agent_a")
    assert client.post(f"/recordings/{floor['call']}/record").status_code == 409  # ended
    assert client.post(f"/recordings/{live}/record").status_code == 200
    _as(client, floor, "supervisor_a")
    assert client.post(f"/recordings/{live}/record").status_code == 200

    deadline = time.monotonic() + 5
    while len(asked) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [(e.call_id, e.trigger) for e in asked] == [(live, "agent"), (live, "supervisor")]  # type: ignore[attr-defined]


def test_a_manager_defines_the_scorecard_and_a_supervisor_scores(
    client: FlaskClient, floor: dict[str, object], app_session: Session
) -> None:
    campaign, call = floor["campaign"], floor["call"]
    items = "\n".join(
        ("10 Greeting used title and surname", "10 Offered two slots", "0 ! Let them hang up first")
    )
    _as(client, floor, "supervisor_a")
    assert (
        client.post(f"/recordings/scorecards/{campaign}", data={"items": items}).status_code == 403
    )
    _as(client, floor, "manager")
    assert (
        client.post(f"/recordings/scorecards/{campaign}", data={"items": "ten points"}).status_code
        == 422
    )
    assert (
        client.post(f"/recordings/scorecards/{campaign}", data={"items": items}).status_code == 302
    )
    _as(client, floor, "supervisor_b")
    assert client.post(f"/recordings/{call}/score", data={"checked": ["c1"]}).status_code == 403
    _as(client, floor, "supervisor_a")
    page = client.get(f"/recordings/{call}").get_data(as_text=True)
    assert "Offered two slots" in page
    response = client.post(f"/recordings/{call}/score", data={"checked": ["c1", "c2", "c3"]})
    assert response.status_code == 302
    _as(client, floor, "agent_a")
    assert client.post(f"/recordings/{call}/score", data={"checked": ["c1"]}).status_code == 403
    app_session.rollback()
    [score] = app_session.scalars(select(QaScore).where(QaScore.call_id == call))
    assert (score.points, score.max_points, score.auto_failed) == (20, 20, False)
    _as(client, floor, "manager")
    response = client.post(f"/recordings/{call}/score", data={"checked": ["c1", "c2"]})
    assert response.status_code == 302, response.headers.get("Location")
    assert response.headers["Location"].endswith(f"/recordings/{call}"), response.headers[
        "Location"
    ]
    app_session.rollback()
    manager_score = app_session.scalars(
        select(QaScore).where(QaScore.call_id == call).order_by(QaScore.id)
    ).all()[-1]
    assert (manager_score.points, manager_score.auto_failed) == (0, True)  # missed the auto-fail
