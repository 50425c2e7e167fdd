from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DecimalField,
    Field,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from callcenter.calling_windows import WEEKDAYS, CallingWindows, Window, WindowProblem
from callcenter.errors import N_, InvalidInput
from callcenter.leadfiles import to_ascii_digits
from callcenter.models import AmdMode, Campaign, DialMode, RecordingMode
from callcenter.services.campaigns import (
    DEFAULT_CALLBACK_OPEN_AFTER_MINUTES,
    MIN_RING_TIMEOUT_SECONDS,
    RETRY_OUTCOMES,
    effective_retry_delays,
)

# The Iranian week starts on Saturday.
FORM_DAYS = ("saturday", "sunday", "monday", "tuesday", "wednesday", "thursday", "friday")
DAY_LABELS = {
    "saturday": _l("Saturday"),
    "sunday": _l("Sunday"),
    "monday": _l("Monday"),
    "tuesday": _l("Tuesday"),
    "wednesday": _l("Wednesday"),
    "thursday": _l("Thursday"),
    "friday": _l("Friday"),
}
OUTCOME_LABELS = {
    "busy": _l("Busy"),
    "no_answer": _l("No answer"),
    "machine": _l("Answering machine"),
    "abandoned": _l("Abandoned"),
    "failed": _l("Failed"),
}
AMD_MODE_CHOICES = [
    (AmdMode.OFF.value, _l("Off: machines reach agents")),
    (AmdMode.HANGUP.value, _l("Hang up on machines")),
    (AmdMode.MESSAGE.value, _l("Leave a message on machines, then hang up")),
]
# What a column of a lead file can be, as the import preview offers it.
LEAD_FIELD_LABELS = {
    "phone": _l("Phone number"),
    "title": _l("Title (Mr, Ms, Dr)"),
    "first_name": _l("First name"),
    "last_name": _l("Last name"),
    "full_name": _l("Full name"),
    "company": _l("Company"),
    "email": _l("Email"),
    "city": _l("City"),
    "address": _l("Address"),
    "priority": _l("Priority"),
    "timezone": _l("Time zone"),
    "notes": _l("Notes"),
    "extra": _l("Keep as the lead's own field"),
}
DELIMITER_LABELS = {
    "comma": _l("Comma ( , )"),
    "semicolon": _l("Semicolon ( ; )"),
    "arabic-semicolon": _l("Persian semicolon ( ؛ )"),
    "tab": _l("Tab"),
    "pipe": _l("Vertical bar ( | )"),
}
RECORDING_MODE_CHOICES = [
    (RecordingMode.OFF.value, _l("Off")),
    (RecordingMode.ALL.value, _l("Every call, from the agent joining to hang-up")),
    (RecordingMode.ON_DEMAND.value, _l("On demand: the agent or a supervisor starts it")),
]
DIAL_MODE_CHOICES = [
    (DialMode.PREVIEW.value, _l("Preview")),
    (DialMode.PROGRESSIVE.value, _l("Progressive")),
    (DialMode.PREDICTIVE.value, _l("Predictive")),
]


def _calling_windows_of_a_day(form: FlaskForm, field: Field) -> None:
    try:
        _parse_day(field.data or "")
    except WindowProblem as exc:
        raise ValidationError(exc.shown()) from None


def _minutes_before(form: FlaskForm, field: Field) -> None:
    try:
        _parse_minutes(field.data or "")
    except InvalidInput as exc:
        raise ValidationError(exc.shown()) from None


class CampaignForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    company_name = StringField(_l("Company"), validators=[Optional(), Length(max=200)])
    product = StringField(_l("Product"), validators=[Optional(), Length(max=200)])
    script_version_id = SelectField(_l("Script version"), choices=[], validate_choice=False)
    dial_mode = SelectField(_l("Dial mode"), choices=DIAL_MODE_CHOICES)
    abandon_cap_percent = DecimalField(
        _l("Abandon cap (percent of live answers)"),
        places=2,
        validators=[InputRequired(), NumberRange(min=0, max=100)],
    )
    abandon_window_days = IntegerField(
        _l("Abandon rate window (days, also checked per day)"),
        validators=[InputRequired(), NumberRange(min=1, max=365)],
    )
    max_lines_per_agent = IntegerField(
        _l("Max lines per ready agent"), validators=[InputRequired(), NumberRange(min=1, max=20)]
    )
    ring_timeout_seconds = IntegerField(
        _l("Ring timeout (seconds)"),
        validators=[InputRequired(), NumberRange(min=MIN_RING_TIMEOUT_SECONDS, max=180)],
    )
    wrap_up_limit_seconds = IntegerField(
        _l("Wrap-up limit (seconds)"), validators=[InputRequired(), NumberRange(min=0, max=3600)]
    )
    callback_open_after_minutes = IntegerField(
        _l("A callback for one agent goes to anyone after (minutes late)"),
        validators=[Optional(), NumberRange(min=0, max=1440)],
        default=DEFAULT_CALLBACK_OPEN_AFTER_MINUTES,
    )
    caller_id = StringField(_l("Caller ID"), validators=[Optional(), Length(max=32)])
    inbound_wait_seconds = IntegerField(
        _l("A customer who rings the caller ID back waits for an agent (seconds)"),
        validators=[Optional(), NumberRange(min=0, max=600)],
        default=20,
    )
    trunk = StringField(_l("Trunk"), validators=[Optional(), Length(max=120)])
    amd_mode = SelectField(
        _l("Answering-machine detection"), choices=AMD_MODE_CHOICES, default=AmdMode.OFF.value
    )
    voicemail_wav = StringField(
        _l("Message for machines (WAV path on the dialer; empty: the built-in message)"),
        validators=[Optional(), Length(max=255)],
    )
    recording_mode = SelectField(
        _l("Call recording"), choices=RECORDING_MODE_CHOICES, default=RecordingMode.OFF.value
    )
    recording_consent = BooleanField(
        _l("Play the recording notice to the customer before the agent joins"), default=True
    )
    consent_upload = FileField(
        _l("Your own recording notice (a WAV of 16-bit PCM, at most 30 seconds and 2 MB)")
    )
    consent_built_in = BooleanField(_l("Play the built-in Persian or English notice instead"))
    recording_retention_days = IntegerField(
        _l("Delete recordings after (days; empty: keep)"),
        validators=[Optional(), NumberRange(min=1, max=3650)],
    )
    monitor_listen_hidden = BooleanField(
        _l("Do not show agents that a supervisor is listening (whisper and barge always show)"),
        default=False,
    )
    timezone = StringField(_l("Time zone"), validators=[DataRequired(), Length(max=64)])
    max_attempts = IntegerField(
        _l("Max attempts"), validators=[InputRequired(), NumberRange(min=1, max=100)]
    )
    holidays = TextAreaField(
        _l("Holidays (one date per line, Jalali 1404/01/01 or Gregorian 2025-03-21)"),
        validators=[Optional()],
    )
    reminder_minutes = StringField(
        _l("Remind the customer by e-mail before each meeting (minutes before, e.g. 1440, 60)"),
        validators=[Optional(), _minutes_before],
    )
    sms_booking = TextAreaField(
        _l("SMS when a meeting is booked (placeholders as in the script)"),
        validators=[Optional(), Length(max=480)],
    )
    sms_callback = TextAreaField(
        _l("SMS when a callback is scheduled ({callback_time})"),
        validators=[Optional(), Length(max=480)],
    )
    sms_reminder = TextAreaField(
        _l("SMS the day before the meeting"), validators=[Optional(), Length(max=480)]
    )
    teams = SelectMultipleField(_l("Teams"), choices=[], coerce=int, validate_choice=False)
    saturday = StringField(DAY_LABELS["saturday"], validators=[_calling_windows_of_a_day])
    sunday = StringField(DAY_LABELS["sunday"], validators=[_calling_windows_of_a_day])
    monday = StringField(DAY_LABELS["monday"], validators=[_calling_windows_of_a_day])
    tuesday = StringField(DAY_LABELS["tuesday"], validators=[_calling_windows_of_a_day])
    wednesday = StringField(DAY_LABELS["wednesday"], validators=[_calling_windows_of_a_day])
    thursday = StringField(DAY_LABELS["thursday"], validators=[_calling_windows_of_a_day])
    friday = StringField(DAY_LABELS["friday"], validators=[_calling_windows_of_a_day])
    retry_busy = IntegerField(
        OUTCOME_LABELS["busy"], validators=[InputRequired(), NumberRange(min=0)]
    )
    retry_no_answer = IntegerField(
        OUTCOME_LABELS["no_answer"], validators=[InputRequired(), NumberRange(min=0)]
    )
    retry_machine = IntegerField(
        OUTCOME_LABELS["machine"], validators=[InputRequired(), NumberRange(min=0)]
    )
    retry_abandoned = IntegerField(
        OUTCOME_LABELS["abandoned"], validators=[InputRequired(), NumberRange(min=0)]
    )
    retry_failed = IntegerField(
        OUTCOME_LABELS["failed"], validators=[InputRequired(), NumberRange(min=0)]
    )

    def fill_from(self, campaign: Campaign) -> None:
        for name in (
            "name",
            "description",
            "company_name",
            "product",
            "abandon_cap_percent",
            "abandon_window_days",
            "max_lines_per_agent",
            "ring_timeout_seconds",
            "wrap_up_limit_seconds",
            "callback_open_after_minutes",
            "caller_id",
            "inbound_wait_seconds",
            "trunk",
            "voicemail_wav",
            "recording_consent",
            "recording_retention_days",
            "monitor_listen_hidden",
            "timezone",
            "max_attempts",
        ):
            getattr(self, name).data = getattr(campaign, name)
        self.dial_mode.data = campaign.dial_mode.value
        self.amd_mode.data = campaign.amd_mode.value
        self.recording_mode.data = campaign.recording_mode.value
        self.script_version_id.data = str(campaign.script_version_id or "")
        self.holidays.data = "\n".join(campaign.holidays or [])
        self.reminder_minutes.data = ", ".join(str(m) for m in campaign.reminder_minutes or [])
        for occasion in ("booking", "callback", "reminder"):
            getattr(self, f"sms_{occasion}").data = (campaign.sms_templates or {}).get(occasion, "")
        self.teams.data = [team.id for team in campaign.teams]
        windows = CallingWindows.from_dict(campaign.calling_windows or None)
        for day in FORM_DAYS:
            spans = windows.weekly[WEEKDAYS.index(day)]
            getattr(self, day).data = ", ".join(str(window) for window in spans)
        for outcome, minutes in effective_retry_delays(campaign).items():
            getattr(self, f"retry_{outcome}").data = minutes

    def fill_defaults(self) -> None:
        defaults = Campaign(
            abandon_cap_percent=3,
            abandon_window_days=30,
            max_lines_per_agent=3,
            ring_timeout_seconds=25,
            wrap_up_limit_seconds=60,
            callback_open_after_minutes=DEFAULT_CALLBACK_OPEN_AFTER_MINUTES,
            trunk="default",
            timezone="Asia/Tehran",
            max_attempts=5,
            dial_mode=DialMode.PROGRESSIVE,
            amd_mode=AmdMode.OFF,
            voicemail_wav="",
            recording_mode=RecordingMode.OFF,
            recording_consent=True,
            consent_wav="",
            monitor_listen_hidden=False,
            calling_windows={},
            holidays=[],
            reminder_minutes=[],
            sms_templates={},
            retry_delays_minutes={},
            description="",
            company_name="",
            product="",
            caller_id="",
            inbound_wait_seconds=20,
            name="",
        )
        self.fill_from(defaults)

    def values(self) -> dict[str, Any]:
        """The service's keyword arguments, from a form that validated (a
        calling window or reminder not understood is the field's error then)."""
        weekly = {day: _parse_day(getattr(self, day).data or "") for day in FORM_DAYS}
        return {
            "name": self.name.data,
            "description": self.description.data or "",
            "company_name": self.company_name.data or "",
            "product": self.product.data or "",
            "script_version_id": self.script_version_id.data or None,
            "dial_mode": self.dial_mode.data,
            "abandon_cap_percent": self.abandon_cap_percent.data,
            "abandon_window_days": self.abandon_window_days.data,
            "max_lines_per_agent": self.max_lines_per_agent.data,
            "ring_timeout_seconds": self.ring_timeout_seconds.data,
            "wrap_up_limit_seconds": self.wrap_up_limit_seconds.data,
            "callback_open_after_minutes": (
                self.callback_open_after_minutes.data
                if self.callback_open_after_minutes.data is not None
                else DEFAULT_CALLBACK_OPEN_AFTER_MINUTES
            ),
            "caller_id": self.caller_id.data or "",
            "inbound_wait_seconds": (
                self.inbound_wait_seconds.data if self.inbound_wait_seconds.data is not None else 20
            ),
            "trunk": self.trunk.data or "",
            "amd_mode": self.amd_mode.data,
            "voicemail_wav": (self.voicemail_wav.data or "").strip(),
            "recording_mode": self.recording_mode.data,
            "recording_consent": bool(self.recording_consent.data),
            "recording_retention_days": self.recording_retention_days.data,
            "monitor_listen_hidden": bool(self.monitor_listen_hidden.data),
            "timezone": (self.timezone.data or "").strip(),
            "max_attempts": self.max_attempts.data,
            "sms_templates": {
                occasion: getattr(self, f"sms_{occasion}").data or ""
                for occasion in ("booking", "callback", "reminder")
            },
            "reminder_minutes": _parse_minutes(self.reminder_minutes.data or ""),
            "holidays": [
                line.strip() for line in (self.holidays.data or "").splitlines() if line.strip()
            ],
            "calling_windows": {"weekly": weekly},
            "retry_delays_minutes": {
                outcome: getattr(self, f"retry_{outcome}").data for outcome in RETRY_OUTCOMES
            },
        }


def _parse_minutes(text: str) -> list[int]:
    """ "1440, 60" -> [1440, 60]; Persian digits and commas too."""
    minutes = []
    for part in to_ascii_digits(text).replace("،", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not (part.isascii() and part.isdigit()):
            raise InvalidInput(
                N_(
                    "%(value)s is not a number of minutes: write whole numbers "
                    "separated by commas, e.g. 1440, 60."
                ),
                value=part,
            )
        minutes.append(int(part))
    return minutes


def _parse_day(text: str) -> list[list[str]]:
    """ "09:00-13:00, 16:00-21:00" -> [["09:00", "13:00"], ["16:00", "21:00"]]; "" is a day off."""
    spans = []
    for part in to_ascii_digits(text).replace("،", ",").split(","):
        part = part.strip()
        if not part:
            continue
        start, sep, end = part.partition("-")
        if not sep:
            raise WindowProblem(N_("Calling window %(value)s is not like 09:00-21:00."), value=part)
        try:
            Window.of(start.strip(), end.strip())
        except WindowProblem as exc:
            raise WindowProblem(
                N_("Calling window %(value)s: %(problem)s"), value=part, problem=exc
            ) from None
        spans.append([start.strip(), end.strip()])
    return spans


class LeadUploadForm(FlaskForm):
    file = FileField(_l("Lead file (CSV or XLSX)"), validators=[FileRequired()])
    mapping = TextAreaField(
        _l("Column mapping (optional, one per line: column = field, e.g. Cell # = Phone number)"),
        validators=[Optional()],
    )


class DncAddForm(FlaskForm):
    phone = StringField(_l("Phone number"), validators=[DataRequired(), Length(max=40)])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=255)])


class DncImportForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired()])


RECYCLE_OUTCOME_LABELS = {
    **OUTCOME_LABELS,
    "declined": _l("Declined"),
    "cancelled": _l("Cancelled"),
    "no_decision": _l("No decision"),
    "wrap_up_timeout": _l("Wrap-up timed out"),
    "answering_machine": _l("Answering machine (marked by the agent)"),
}


class RecycleForm(FlaskForm):
    outcome = SelectField(
        _l("Last outcome"),
        choices=[(key, label) for key, label in RECYCLE_OUTCOME_LABELS.items()],
        validators=[DataRequired()],
    )
    # Text, not IntegerField: digits typed on a Persian keyboard are read too.
    hours = StringField(
        _l("Last tried at least this many hours ago"),
        default="24",
        filters=[lambda value: to_ascii_digits(value).strip() if value else value],
        validators=[InputRequired(), Regexp(r"^\d{1,6}$")],
    )


class MoveListForm(FlaskForm):
    campaign = SelectField(_l("Move to campaign"), validators=[DataRequired()])
