"""What the dialer's upload retries do to the recording row: waiting for the
store (with the reason, no key, not playable), then stored with its key; a
late "waiting" never undoes a stored recording."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.events import RecordingFinished, RecordingStarted
from callcenter.models import CallRecording, RecordingStatus
from callcenter.services import recordings
from callcenter.states import Role
from tests.factories import log_in, make_campaign, make_user
from tests.integration.recording.recorded_calls import make_call

REASON = "store: S3 store http://127.0.0.1:1: Could not connect to the endpoint URL"


def _finished(call_id: str, **fields: object) -> RecordingFinished:
    return RecordingFinished(
        call_id=call_id, duration_ms=2000, size_bytes=1234, sha256="a" * 64, **fields
    )  # type: ignore[arg-type]


def test_a_recording_waits_for_the_store_then_is_stored(
    client: FlaskClient, app_session: Session
) -> None:
    manager = make_user(app_session, Role.MANAGER, locale="en")
    call = make_call(app_session, make_campaign(app_session), make_user(app_session))
    recordings.apply_event(
        app_session,
        RecordingStarted(
            call_id=call.id,
            campaign_id=call.campaign_id,
            trigger="campaign",
            consent_played=False,
            occurred_at=call.dialed_at,
        ),
    )
    recordings.apply_event(
        app_session, _finished(call.id, stored=False, retrying=True, failure_reason=REASON)
    )
    app_session.commit()
    row = app_session.scalar(select(CallRecording).where(CallRecording.call_id == call.id))
    assert row is not None
    assert (row.status, row.storage_key, row.failure_reason) == (
        RecordingStatus.UPLOAD_PENDING,
        None,
        REASON,
    )
    log_in(client, manager.username)
    assert "Waiting for the store" in client.get("/recordings/").get_data(as_text=True)
    page = client.get(f"/recordings/{call.id}").get_data(as_text=True)
    assert "uploads it again" in page and "recording-audio" not in page
    assert client.get(f"/recordings/{call.id}/audio").status_code == 404

    app_session.rollback()  # a fresh transaction after the requests' writes
    key = f"{call.campaign_id}/x/{call.id}.flac"
    stored = _finished(call.id, stored=True, storage_key=key)
    recordings.apply_event(app_session, stored)
    late = _finished(
        call.id,
        stored=False,
        retrying=True,
        failure_reason=REASON,
        occurred_at=stored.occurred_at - timedelta(seconds=1),
    )
    recordings.apply_event(app_session, late)
    app_session.commit()
    app_session.refresh(row)
    assert (row.status, row.storage_key) == (RecordingStatus.STORED, key)
