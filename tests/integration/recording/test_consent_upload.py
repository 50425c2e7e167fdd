"""A manager uploads a campaign's own recording notice from the campaign form:
checked (16-bit PCM WAV, 2 MB, 30 s) with a clear error in the reader's
language, kept in the recording store (a folder here, a real S3 server
below), audited, and fetched by the dialer from that store."""

from __future__ import annotations

import io
import math
import struct
import wave
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import AuditEntry, Campaign
from callcenter.services import consent_prompts
from callcenter.states import Role
from dialer.consent_prompts import ConsentPromptCache
from tests.factories import log_in, make_campaign, make_user
from tests.integration.leads.test_campaign_views import _form
from tests.integration.recording.seaweed import Seaweed


def wav_bytes(seconds: float, *, rate: int = 8000, width: int = 2, channels: int = 1) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        count = int(seconds * rate)
        if width == 2:
            frames = b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
                for n in range(count)
            )
        else:
            frames = bytes(count * width)
        wav.writeframes(frames * channels if channels > 1 else frames)
    return out.getvalue()


@pytest.fixture
def campaign_id(app_session: Session) -> int:
    campaign = make_campaign(app_session, name="Spring sale")
    app_session.commit()
    return campaign.id


def _as_manager(client: FlaskClient, app_session: Session, locale: str = "en") -> None:
    app_session.rollback()  # no read transaction older than the requests' writes
    manager = make_user(app_session, Role.MANAGER, locale=locale)
    app_session.commit()
    log_in(client, manager.username)


def _upload(client: FlaskClient, campaign_id: int, data: bytes, name: str = "notice.wav") -> object:
    return client.post(
        f"/campaigns/{campaign_id}",
        data={**_form(), "consent_upload": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _campaign(app_session: Session, campaign_id: int) -> Campaign:
    app_session.rollback()
    campaign = app_session.get(Campaign, campaign_id)
    assert campaign is not None
    app_session.refresh(campaign)
    return campaign


def test_a_manager_uploads_the_notice_and_the_dialer_plays_it_from_the_store(
    app: Flask, client: FlaskClient, app_session: Session, campaign_id: int, tmp_path: Path
) -> None:
    _as_manager(client, app_session)
    notice = wav_bytes(3.0)
    response = _upload(client, campaign_id, notice, "ours.wav")
    assert response.status_code == 302, response.text  # type: ignore[attr-defined]
    campaign = _campaign(app_session, campaign_id)
    key = campaign.consent_wav_key
    assert key is not None and key.startswith(f"consent/{campaign_id}/")
    [entry] = app_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "campaign.consent_wav_uploaded")
    )
    assert entry.target_id == str(campaign_id)
    assert entry.details["filename"] == "ours.wav" and entry.details["seconds"] == 3.0
    page = client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert "plays its own uploaded notice" in page

    cache = ConsentPromptCache(app.extensions["cc_recording_store"], tmp_path / "dialer")
    played = cache.local_path(key)
    assert played is not None and Path(played).read_bytes() == notice

    response = client.post(
        f"/campaigns/{campaign_id}",
        data=_form(consent_built_in="y"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert _campaign(app_session, campaign_id).consent_wav_key is None
    assert app_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "campaign.consent_wav_removed")
    ).all()


@pytest.mark.parametrize(
    ("data", "english", "persian"),
    [
        (b"ID3\x04\x00" + bytes(2000), "not a WAV file of PCM samples", "WAV"),
        (wav_bytes(1.0, width=1), "has 8-bit samples; it needs 16-bit", "۱۶ بیتی"),
        (wav_bytes(31.0), "is 31 seconds long; at most 30", "ثانیه"),
        (wav_bytes(12.0, rate=48000, channels=2), "larger than 2 MB", "مگابایت"),
        (wav_bytes(0.0), "holds no sound", "صدایی"),
    ],
)
def test_a_bad_file_is_refused_with_a_clear_reason(
    client: FlaskClient,
    app_session: Session,
    campaign_id: int,
    data: bytes,
    english: str,
    persian: str,
) -> None:
    _as_manager(client, app_session)
    response = _upload(client, campaign_id, data)
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert english in response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert _campaign(app_session, campaign_id).consent_wav_key is None
    client.post("/logout")
    _as_manager(client, app_session, locale="fa")
    response = _upload(client, campaign_id, data)
    shown = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == 422 and persian in shown  # type: ignore[attr-defined]
    assert english not in shown
    app_session.rollback()
    assert not app_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "campaign.consent_wav_uploaded")
    ).all()


def test_a_supervisor_cannot_upload(
    client: FlaskClient, app_session: Session, campaign_id: int
) -> None:
    supervisor = make_user(app_session, Role.SUPERVISOR)
    app_session.commit()
    log_in(client, supervisor.username)
    assert _upload(client, campaign_id, wav_bytes(1.0)).status_code == 403  # type: ignore[attr-defined]


def test_the_notice_goes_to_an_s3_store_and_back_to_a_dialer(
    seaweed: Seaweed, app_session: Session, campaign_id: int, tmp_path: Path
) -> None:
    store = seaweed.store()
    manager = make_user(app_session, Role.MANAGER)
    campaign = app_session.get(Campaign, campaign_id)
    assert campaign is not None
    notice = consent_prompts.checked_consent_wav(wav_bytes(2.0))
    key = consent_prompts.store_consent_wav(
        app_session, store, campaign, notice, actor=manager, filename="n.wav"
    )
    app_session.commit()
    assert store.size(key) == len(notice.data)
    played = ConsentPromptCache(store, tmp_path / "dialer").local_path(key)
    assert played is not None and Path(played).read_bytes() == notice.data
    seaweed.stop()
    # Cached on the dialer: a store that went away does not silence the notice.
    assert ConsentPromptCache(store, tmp_path / "dialer").local_path(key) == played
    assert ConsentPromptCache(store, tmp_path / "other").local_path(key) is None
