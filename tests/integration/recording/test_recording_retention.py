"""Retention per campaign (on SQLite and PostgreSQL): recordings past it are
deleted from the store and audited, those on legal hold kept; the dialer's
events are applied once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.cli import main
from callcenter.db import Database, utcnow
from callcenter.events import RecordingStarted
from callcenter.models import AuditEntry, CallRecording, RecordingStatus
from callcenter.recording_store import FolderStore
from callcenter.services import recordings
from tests.factories import make_campaign, make_user
from tests.integration.recording.recorded_calls import make_call, record_call


def _row(session: Session, call_id: str) -> CallRecording:
    row = session.scalar(select(CallRecording).where(CallRecording.call_id == call_id))
    assert row is not None
    return row


def test_old_recordings_go_held_ones_stay(session: Session, tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "store")
    now = utcnow()
    agent = make_user(session)
    kept_30 = make_campaign(session, recording_retention_days=30)
    forever = make_campaign(session)
    old = make_call(session, kept_30, agent, at=now - timedelta(days=31))
    held = make_call(session, kept_30, agent, at=now - timedelta(days=31))
    young = make_call(session, kept_30, agent, at=now - timedelta(days=29))
    ancient = make_call(session, forever, agent, at=now - timedelta(days=3000))
    keys = {
        call.id: record_call(session, store, call, tmp_path) for call in (old, held, young, ancient)
    }
    _row(session, held.id).legal_hold = True

    report = recordings.expire(session, store, now=now)

    assert (report.deleted, report.held, report.failed) == (1, 1, [])
    gone = _row(session, old.id)
    assert (gone.status, gone.storage_key, gone.deleted_at) == (RecordingStatus.DELETED, None, now)
    assert not (store.root / str(keys[old.id])).exists()
    for call in (held, young, ancient):
        assert _row(session, call.id).status is RecordingStatus.STORED
        assert (store.root / str(keys[call.id])).exists()
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "recording.deleted"))
    assert entry.target_id == old.id and entry.details["retention_days"] == 30
    assert recordings.expire(session, store, now=now).deleted == 0


def test_an_event_delivered_twice_is_applied_once(session: Session, tmp_path: Path) -> None:
    call = make_call(session, make_campaign(session), make_user(session))
    started = RecordingStarted(
        call_id=call.id, campaign_id=call.campaign_id, trigger="agent", consent_played=False
    )
    assert recordings.apply_event(session, started)
    assert not recordings.apply_event(session, started)
    row = _row(session, call.id)
    assert (row.status, row.trigger, row.consent_played) == (
        RecordingStatus.RECORDING,
        "agent",
        False,
    )


def test_the_expire_command(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    env = {"CC_INSTANCE_PATH": str(instance), "CC_CONFIG": ""}
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    database = Database(f"sqlite:///{instance / 'callcenter.db'}")
    store = FolderStore(instance / "recordings")
    with database.unit_of_work() as session:
        campaign = make_campaign(session, recording_retention_days=7)
        call = make_call(session, campaign, make_user(session), at=utcnow() - timedelta(days=8))
        key = record_call(session, store, call, tmp_path)
    result = runner.invoke(main, ["recordings", "expire"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "1 recordings deleted, 0 kept on legal hold" in result.output
    assert key is not None and not (store.root / key).exists()
