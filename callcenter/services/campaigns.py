"""Campaigns: creation, edits (audited), pause/resume, teams, and the rules
other services read from a campaign (calling windows, retry delays)."""

from __future__ import annotations

import wave
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.calling_windows import (
    CallingWindows,
    CallingWindowsError,
    next_open,
    window_closes_at,
)
from callcenter.dates import DateParseError, parse_date
from callcenter.errors import N_, Conflict, InvalidInput, NotFound
from callcenter.models import (
    AgentStatus,
    AmdMode,
    Campaign,
    CampaignStatus,
    DialMode,
    RecordingMode,
    ScriptVersion,
    Team,
    User,
)
from callcenter.realtime import emit_after_commit
from callcenter.realtime.rooms import agent_room
from callcenter.services import audit, disposition_codes

MIN_RING_TIMEOUT_SECONDS = 15
# Minutes until the next attempt, by call outcome (or "no_decision" when the
# agent talked to the person and they did not decide).
DEFAULT_RETRY_DELAYS_MINUTES: Mapping[str, int] = {
    "busy": 15,
    "no_answer": 60,
    "machine": 120,
    "abandoned": 30,
    "failed": 10,
    "declined": 240,
    "cancelled": 0,
    "answered": 1440,
    "no_decision": 1440,
}
DEFAULT_CALLBACK_OPEN_AFTER_MINUTES = 15
# The outcomes a manager tunes in the campaign form.
RETRY_OUTCOMES = ("busy", "no_answer", "machine", "abandoned", "failed")

EDITABLE = (
    "name",
    "description",
    "company_name",
    "product",
    "script_version_id",
    "dial_mode",
    "abandon_cap_percent",
    "abandon_window_days",
    "max_lines_per_agent",
    "ring_timeout_seconds",
    "wrap_up_limit_seconds",
    "callback_open_after_minutes",
    "caller_id",
    "inbound_wait_seconds",
    "trunk",
    "amd_mode",
    "voicemail_wav",
    "recording_mode",
    "recording_consent",
    "consent_wav",
    "recording_retention_days",
    "monitor_listen_hidden",
    "timezone",
    "calling_windows",
    "holidays",
    "max_attempts",
    "retry_delays_minutes",
    "reminder_minutes",
    "sms_templates",
)


class CallingHoursOf(Protocol):
    """What `calling_hours` reads of a campaign: its row, or just these columns."""

    @property
    def timezone(self) -> str: ...
    @property
    def calling_windows(self) -> dict[str, Any]: ...
    @property
    def holidays(self) -> list[str]: ...


def windows_of(campaign: CallingHoursOf) -> CallingWindows:
    """The campaign's calling windows with its holidays folded in."""
    windows = CallingWindows.from_dict(campaign.calling_windows or None)
    extra = {date.fromisoformat(day) for day in campaign.holidays or ()}
    if not extra:
        return windows
    return CallingWindows(windows.weekly, windows.holidays | extra)


def calling_hours(campaign: CallingHoursOf, now: datetime) -> dict[str, Any]:
    """Whether the campaign's windows (in its time zone) allow calls at `now`,
    and when that changes: an agent ready outside them is told why no call
    comes and when calls start again."""
    windows = windows_of(campaign)
    closes = window_closes_at(now, campaign.timezone, windows)
    opens = None if closes is not None else next_open(now, campaign.timezone, windows)
    return {
        "open": closes is not None,
        "closes_at": closes.isoformat() if closes else None,
        "opens_at": opens.isoformat() if opens else None,
        "timezone": campaign.timezone,
    }


def retry_delay_minutes(campaign: Campaign, key: str) -> int:
    return delay_minutes(campaign.retry_delays_minutes, key)


def delay_minutes(delays: Mapping[str, Any] | None, key: str) -> int:
    """`retry_delay_minutes` of a campaign's `retry_delays_minutes` as read."""
    delays = delays or {}
    if key in delays:
        return int(delays[key])
    return DEFAULT_RETRY_DELAYS_MINUTES.get(key, DEFAULT_RETRY_DELAYS_MINUTES["failed"])


def effective_retry_delays(campaign: Campaign) -> dict[str, int]:
    return {key: retry_delay_minutes(campaign, key) for key in RETRY_OUTCOMES}


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(N_("no such campaign"), details={"campaign_id": campaign_id})
    return campaign


def find_campaign(session: Session, key: str | int) -> Campaign:
    """By id (an int or digits) or exact name."""
    text = str(key).strip()
    if text.isdigit():
        campaign = session.get(Campaign, int(text))
        if campaign is not None:
            return campaign
    campaign = session.scalar(select(Campaign).where(Campaign.name == text))
    if campaign is None:
        raise NotFound(N_("no campaign '%(name)s'"), details={"campaign": text}, name=text)
    return campaign


def list_campaigns(session: Session, *, include_archived: bool = False) -> list[Campaign]:
    query = select(Campaign).order_by(Campaign.name)
    if not include_archived:
        query = query.where(Campaign.status != CampaignStatus.ARCHIVED)
    return list(session.scalars(query))


def active_campaign_ids(session: Session) -> list[int]:
    query = select(Campaign.id).where(Campaign.status == CampaignStatus.ACTIVE)
    return list(session.scalars(query.order_by(Campaign.id)))


def create_campaign(
    session: Session,
    *,
    actor: User | None,
    teams: Iterable[Team] = (),
    active: bool = False,
    **values: Any,
) -> Campaign:
    """Create a campaign from the EDITABLE fields given (the rest default).
    Raises InvalidInput listing every bad field, Conflict on a taken name."""
    if "name" not in values:
        raise InvalidInput(N_("name: required"), details={"errors": {"name": "required"}})
    campaign = Campaign(
        status=CampaignStatus.ACTIVE if active else CampaignStatus.PAUSED,
        retry_delays_minutes=dict(DEFAULT_RETRY_DELAYS_MINUTES),
        calling_windows=CallingWindows.iran_default().to_dict(),
        holidays=[],
    )
    clean = _validated(session, values, campaign_id=None)
    for name, value in clean.items():
        setattr(campaign, name, value)
    campaign.teams = list(teams)
    session.add(campaign)
    session.flush()
    disposition_codes.seed_defaults(session, campaign)
    audit.record(
        session,
        "campaign.created",
        actor=actor,
        target_type="campaign",
        target_id=campaign.id,
        details={"name": campaign.name, "teams": [team.name for team in campaign.teams]},
    )
    return campaign


def update_campaign(
    session: Session, campaign: Campaign, *, actor: User | None, **values: Any
) -> dict[str, Any]:
    """Apply the changed EDITABLE fields; returns {field: [old, new]} (audited)."""
    clean = _validated(session, values, campaign_id=campaign.id)
    changes: dict[str, Any] = {}
    for name, value in clean.items():
        old = getattr(campaign, name)
        if _jsonable(old) != _jsonable(value):
            changes[name] = [_jsonable(old), _jsonable(value)]
            setattr(campaign, name, value)
    if changes:
        session.flush()
        audit.record(
            session,
            "campaign.updated",
            actor=actor,
            target_type="campaign",
            target_id=campaign.id,
            details={"changes": changes},
        )
    return changes


def set_teams(
    session: Session, campaign: Campaign, teams: Iterable[Team], *, actor: User | None
) -> None:
    new = sorted({team.id: team for team in teams}.values(), key=lambda team: team.name)
    old_names = sorted(team.name for team in campaign.teams)
    new_names = [team.name for team in new]
    if old_names == new_names:
        return
    campaign.teams = list(new)
    session.flush()
    audit.record(
        session,
        "campaign.teams_changed",
        actor=actor,
        target_type="campaign",
        target_id=campaign.id,
        details={"from": old_names, "to": new_names},
    )


def set_status(
    session: Session, campaign: Campaign, status: CampaignStatus, *, actor: User | None
) -> None:
    if campaign.status is status:
        return
    if campaign.status is CampaignStatus.ARCHIVED:
        raise Conflict(N_("an archived campaign cannot be reopened"))
    old = campaign.status
    campaign.status = status
    session.flush()
    _tell_its_agents(session, campaign)
    audit.record(
        session,
        f"campaign.{_STATUS_ACTIONS[status]}",
        actor=actor,
        target_type="campaign",
        target_id=campaign.id,
        details={"from": str(old), "to": str(status)},
    )


CAMPAIGN_STATUS_EVENT = "campaign_status"


def _tell_its_agents(session: Session, campaign: Campaign) -> None:
    """The agents working on it see at once that it paused (no calls will
    come) or resumed, instead of waiting in Ready for nothing."""
    agent_ids = session.scalars(
        select(AgentStatus.agent_id).where(AgentStatus.campaign_id == campaign.id)
    ).all()
    for agent_id in agent_ids:
        emit_after_commit(
            session,
            CAMPAIGN_STATUS_EVENT,
            {"campaign_id": campaign.id, "name": campaign.name, "status": str(campaign.status)},
            room=agent_room(agent_id),
        )


_STATUS_ACTIONS = {
    CampaignStatus.ACTIVE: "resumed",
    CampaignStatus.PAUSED: "paused",
    CampaignStatus.ARCHIVED: "archived",
}


def _validated(
    session: Session, values: Mapping[str, Any], *, campaign_id: int | None
) -> dict[str, Any]:
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise InvalidInput(
            N_("unknown campaign fields: %(fields)s"), fields=", ".join(sorted(unknown))
        )
    errors: dict[str, str] = {}
    # Each error's marked text and values, for the form to show in its reader's language.
    texts: dict[str, tuple[str, dict[str, Any]]] = {}
    clean: dict[str, Any] = {}
    for name, value in values.items():
        try:
            clean[name] = _CHECKS[name](value) if name in _CHECKS else value
        except FieldProblem as exc:
            errors[name] = str(exc)
            texts[name] = (exc.text, exc.params)
        except (ValueError, TypeError, InvalidOperation) as exc:
            errors[name] = str(exc) or "invalid"
        except CallingWindowsError as exc:
            errors[name] = exc.message
            # Each problem is a sentence of its own, translated here in the
            # request being served; the form shows the whole in one line.
            texts[name] = (exc.text, {**exc.params, "problems": exc.shown_problems()})
    if "name" in clean and "name" not in errors:
        taken = select(Campaign.id).where(func.lower(Campaign.name) == clean["name"].lower())
        if campaign_id is not None:
            taken = taken.where(Campaign.id != campaign_id)
        if session.scalar(taken) is not None:
            raise Conflict(
                N_("campaign name '%(name)s' is taken"),
                details={"field": "name"},
                name=clean["name"],
            )
    version_id = clean.get("script_version_id")
    if version_id is not None and session.get(ScriptVersion, version_id) is None:
        errors["script_version_id"] = "no such script version"
        texts["script_version_id"] = (N_("no such script version"), {})
    if errors:
        message = "; ".join(f"{name}: {text}" for name, text in errors.items())
        raise InvalidInput(message, details={"errors": errors, "texts": texts})
    return clean


class FieldProblem(ValueError):
    """A field's value refused; the text is marked for translation and the
    values kept apart, as a DomainError's (shown on the campaign form)."""

    def __init__(self, message: str, /, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.text = message
        self.params = params


def _name(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        raise FieldProblem(N_("required"))
    if len(text) > 200:
        raise FieldProblem(N_("at most %(count)s characters"), count=200)
    return text


def _text(limit: int) -> Any:
    def check(value: Any) -> str:
        text = str(value or "").strip()
        if len(text) > limit:
            raise FieldProblem(N_("at most %(count)s characters"), count=limit)
        return text

    return check


def _int_between(low: int, high: int) -> Any:
    def check(value: Any) -> int:
        if isinstance(value, bool):
            raise FieldProblem(N_("a whole number"))
        number = int(value)
        if not low <= number <= high:
            raise FieldProblem(N_("between %(low)s and %(high)s"), low=low, high=high)
        return number

    return check


def _percent(value: Any) -> Decimal:
    number = Decimal(str(value)).quantize(Decimal("0.01"))
    if not Decimal("0") <= number <= Decimal("100"):
        raise FieldProblem(N_("between %(low)s and %(high)s"), low=0, high=100)
    return number


def _dial_mode(value: Any) -> DialMode:
    try:
        return DialMode(str(value))
    except ValueError:
        raise FieldProblem(
            N_("one of %(choices)s"), choices=", ".join(mode.value for mode in DialMode)
        ) from None


def _amd_mode(value: Any) -> AmdMode:
    try:
        return AmdMode(str(value))
    except ValueError:
        raise FieldProblem(
            N_("one of %(choices)s"), choices=", ".join(mode.value for mode in AmdMode)
        ) from None


def _voicemail_wav(value: Any) -> str:
    """ "" (the message the dialer ships) or the absolute path of a 16-bit PCM
    WAV file the dialer can read (checked here on the web host too)."""
    text = str(value or "").strip()
    if not text:
        return ""
    path = Path(text)
    if len(text) > 255 or not path.is_absolute() or path.suffix.lower() != ".wav":
        raise FieldProblem(N_("the absolute path of a .wav file"))
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getsampwidth() != 2 or not wav.getnframes():
                raise FieldProblem(N_("a WAV file of 16-bit samples"))
    except (OSError, EOFError, wave.Error):
        raise FieldProblem(N_("not a readable PCM WAV file")) from None
    return text


def _recording_mode(value: Any) -> RecordingMode:
    try:
        return RecordingMode(str(value))
    except ValueError:
        raise ValueError(f"one of {', '.join(mode.value for mode in RecordingMode)}") from None


def _retention_days(value: Any) -> int | None:
    """None (kept) or 1 to 3650 days."""
    return None if value in (None, "", 0) else _int_between(1, 3650)(value)


def _timezone(value: Any) -> str:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise FieldProblem(N_("unknown time zone '%(zone)s'"), zone=str(value)) from None
    return str(value)


def _windows(value: Any) -> dict[str, Any]:
    if isinstance(value, CallingWindows):
        return value.to_dict()
    return CallingWindows.from_dict(value).to_dict()


def _holidays(value: Any) -> list[str]:
    days = set()
    for item in value or ():
        try:
            day = item if isinstance(item, date) else parse_date(str(item))
        except DateParseError:
            raise FieldProblem(
                N_("'%(text)s' is not a date: type it year first, e.g. 1405/09/02 or 2026-11-23"),
                text=str(item),
            ) from None
        days.add(day.isoformat())
    return sorted(days)


def _retry_delays(value: Any) -> dict[str, int]:
    merged = dict(DEFAULT_RETRY_DELAYS_MINUTES)
    for key, minutes in dict(value or {}).items():
        if key not in DEFAULT_RETRY_DELAYS_MINUTES:
            raise ValueError(f"unknown outcome {key!r}")
        number = int(minutes)
        if not 0 <= number <= 60 * 24 * 90:
            raise ValueError(f"{key}: between 0 and {60 * 24 * 90} minutes")
        merged[key] = number
    return merged


def _script_version(value: Any) -> int | None:
    return None if value in (None, "", 0) else int(value)


def _reminder_minutes(value: Any) -> list[int]:
    minutes = sorted({_int_between(5, 20160)(item) for item in value or []}, reverse=True)
    if len(minutes) > 5:
        raise FieldProblem(N_("at most %(count)s reminders"), count=5)
    return minutes


SMS_OCCASIONS = ("booking", "callback", "reminder")


def _sms_templates(value: Any) -> dict[str, str]:
    texts = {k: str(v).strip() for k, v in dict(value or {}).items() if str(v or "").strip()}
    if set(texts) - set(SMS_OCCASIONS):
        raise FieldProblem(N_("SMS texts are for booking, callback and reminder only"))
    if any(len(text) > 480 for text in texts.values()):
        raise FieldProblem(N_("an SMS text is at most %(count)s characters"), count=480)
    return texts


def _ring_timeout(value: Any) -> int:
    return _int_between(MIN_RING_TIMEOUT_SECONDS, 180)(value)


_CHECKS: dict[str, Any] = {
    "name": _name,
    "description": _text(5000),
    "company_name": _text(200),
    "product": _text(200),
    "script_version_id": _script_version,
    "dial_mode": _dial_mode,
    "abandon_cap_percent": _percent,
    "abandon_window_days": _int_between(1, 365),
    "max_lines_per_agent": _int_between(1, 20),
    "ring_timeout_seconds": _ring_timeout,
    "wrap_up_limit_seconds": _int_between(0, 3600),
    "callback_open_after_minutes": _int_between(0, 1440),
    "caller_id": _text(32),
    "inbound_wait_seconds": _int_between(0, 600),
    "trunk": _text(120),
    "amd_mode": _amd_mode,
    "voicemail_wav": _voicemail_wav,
    "recording_mode": _recording_mode,
    "recording_consent": bool,
    "consent_wav": _voicemail_wav,
    "recording_retention_days": _retention_days,
    "monitor_listen_hidden": bool,
    "timezone": _timezone,
    "calling_windows": _windows,
    "holidays": _holidays,
    "max_attempts": _int_between(1, 100),
    "retry_delays_minutes": _retry_delays,
    "reminder_minutes": _reminder_minutes,
    "sms_templates": _sms_templates,
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, DialMode | CampaignStatus | AmdMode | RecordingMode):
        return str(value)
    return value
