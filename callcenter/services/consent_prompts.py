"""A campaign's own recording notice: a WAV the manager uploads, checked
(16-bit PCM, size and length limits), kept in the recording store (folder or
S3, where the dialers fetch it), named by its content, and audited. Without
one the dialer plays the notice it ships in Persian or English."""

from __future__ import annotations

import hashlib
import io
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from callcenter.errors import N_, Conflict, InvalidInput
from callcenter.models import Campaign, User
from callcenter.recording_store import RecordingStore, StoreError
from callcenter.services import audit

MAX_BYTES = 2 * 1024 * 1024
MAX_SECONDS = 30
MEDIA_TYPE = "audio/wav"
FIELD = "consent_upload"


@dataclass(frozen=True)
class ConsentWav:
    data: bytes
    seconds: float
    sha256: str


def _refused(text: str, **params: object) -> InvalidInput:
    return InvalidInput(text, details={"field": FIELD}, **params)


def checked_consent_wav(data: bytes) -> ConsentWav:
    """The upload, if it is a WAV of 16-bit PCM samples within the limits."""
    if not data:
        raise _refused(N_("The recording notice file is empty."))
    if len(data) > MAX_BYTES:
        raise _refused(
            N_("The recording notice is larger than %(megabytes)s MB."),
            megabytes=MAX_BYTES // (1024 * 1024),
        )
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            width, frames, rate = wav.getsampwidth(), wav.getnframes(), wav.getframerate()
    except (wave.Error, EOFError):
        raise _refused(
            N_(
                "The recording notice is not a WAV file of PCM samples"
                " (e.g. an MP3 or a WAV of another encoding)."
            )
        ) from None
    if width != 2:
        raise _refused(
            N_("The recording notice has %(bits)s-bit samples; it needs 16-bit."), bits=8 * width
        )
    if not frames or not rate:
        raise _refused(N_("The recording notice holds no sound."))
    seconds = frames / rate
    if seconds > MAX_SECONDS:
        raise _refused(
            N_("The recording notice is %(seconds)s seconds long; at most %(limit)s."),
            seconds=round(seconds),
            limit=MAX_SECONDS,
        )
    return ConsentWav(data, seconds, hashlib.sha256(data).hexdigest())


def consent_key(campaign_id: int, wav: ConsentWav) -> str:
    """Named by its content: a dialer's cached copy of a key never goes stale."""
    return f"consent/{campaign_id}/{wav.sha256[:32]}.wav"


def store_consent_wav(
    session: Session,
    store: RecordingStore,
    campaign: Campaign,
    wav: ConsentWav,
    *,
    actor: User,
    filename: str,
    ip_address: str | None = None,
) -> str:
    """Put the notice in the store and make it the campaign's; audited."""
    key = consent_key(campaign.id, wav)
    with tempfile.TemporaryDirectory(prefix="cc-consent-") as folder:
        path = Path(folder) / "notice.wav"
        path.write_bytes(wav.data)
        try:
            store.put(key, path, MEDIA_TYPE)
        except StoreError as exc:
            raise Conflict(
                N_("The recording notice could not be stored: %(reason)s"),
                details={"field": FIELD},
                reason=str(exc),
            ) from exc
    campaign.consent_wav_key = key
    audit.record(
        session,
        "campaign.consent_wav_uploaded",
        actor=actor,
        target_type="campaign",
        target_id=campaign.id,
        details={
            "filename": filename[:200],
            "bytes": len(wav.data),
            "seconds": round(wav.seconds, 2),
            "key": key,
        },
        ip_address=ip_address,
    )
    session.flush()
    return key


def use_built_in_notice(
    session: Session, campaign: Campaign, *, actor: User, ip_address: str | None = None
) -> None:
    """Back to the shipped notice (the uploaded file stays in the store)."""
    if campaign.consent_wav_key is None:
        return
    audit.record(
        session,
        "campaign.consent_wav_removed",
        actor=actor,
        target_type="campaign",
        target_id=campaign.id,
        details={"key": campaign.consent_wav_key},
        ip_address=ip_address,
    )
    campaign.consent_wav_key = None
    session.flush()
