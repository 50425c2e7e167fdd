"""Arrange recorded calls: the rows the dialer's events make, and a real FLAC in the store."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import soundfile
from sqlalchemy.orm import Session

from callcenter.db import utcnow
from callcenter.events import RecordingFinished, RecordingStarted
from callcenter.models import Call, Campaign, User
from callcenter.recording_store import RecordingStore, recording_key
from callcenter.services import recordings
from callcenter.states import CallState
from tests.factories import make_customer, make_lead


def flac_file(path: Path, seconds: float = 2.0) -> Path:
    samples = int(8000 * seconds)
    t = np.arange(samples) / 8000
    left = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    right = (8000 * np.sin(2 * np.pi * 1200 * t)).astype(np.int16)
    soundfile.write(path, np.stack([left, right], axis=1), 8000, format="FLAC")
    return path


def make_call(
    session: Session,
    campaign: Campaign,
    agent: User | None,
    *,
    at: datetime | None = None,
    state: CallState = CallState.ENDED,
) -> Call:
    lead = make_lead(session, campaign, make_customer(session))
    at = at or utcnow()
    call = Call(
        id=uuid.uuid4().hex,
        campaign_id=campaign.id,
        lead_id=lead.id,
        customer_id=lead.customer_id,
        agent_id=agent.id if agent is not None else None,
        attempt=1,
        phone_e164="+989121234567",
        state=state,
        dialed_at=at,
        connected_at=at,
    )
    session.add(call)
    session.flush()
    return call


def record_call(
    session: Session,
    store: RecordingStore,
    call: Call,
    tmp: Path,
    *,
    started_at: datetime | None = None,
    stored: bool = True,
    seconds: float = 2.0,
) -> str | None:
    """Apply the dialer's recording.started and recording.finished for `call`."""
    started_at = started_at or call.dialed_at
    recordings.apply_event(
        session,
        RecordingStarted(
            call_id=call.id,
            campaign_id=call.campaign_id,
            trigger="campaign",
            consent_played=True,
            occurred_at=started_at,
        ),
    )
    key = None
    size = None
    if stored:
        key = recording_key(call.campaign_id, call.id, started_at, "flac")
        path = flac_file(tmp / f"{call.id}.flac", seconds)
        store.put(key, path, "audio/flac")
        size = path.stat().st_size
    recordings.apply_event(
        session,
        RecordingFinished(
            call_id=call.id,
            stored=stored,
            duration_ms=round(seconds * 1000),
            size_bytes=size,
            sha256="0" * 64 if stored else None,
            storage_key=key,
            failure_reason=None if stored else "store: S3 store http://x: connection refused",
            occurred_at=started_at + timedelta(seconds=seconds),
        ),
    )
    return key
