"""Process logging: text lines for the embedded default, JSON lines for
production log shippers (CC_LOG_FORMAT=json), and one redaction rule for both.

The rule for everyone who logs: **never pass a customer's name** (not in the
message, not in ``extra=``); log ids instead (``extra={"call_id": ...,
"lead_id": ..., "campaign_id": ..., "agent_id": ...}``), which the JSON lines
carry as fields. Phone numbers should not be logged either, but as a safety
net the handler masks anything that looks like one (E.164, 00-prefixed,
Iranian mobile and landline numbers, in ASCII, Persian or Arabic-Indic
digits) down to its last two digits, and drops ``extra=`` fields whose name
says they hold a person's name.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

CONTEXT_FIELDS = ("call_id", "lead_id", "campaign_id", "agent_id")
NAME_FIELDS = frozenset(
    {"customer", "customer_name", "first_name", "last_name", "full_name", "title"}
)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "[redacted]"

# \d matches every Unicode decimal digit; the literal digits are spelt in all
# three scripts, so ۰۹۱۲… and ٠٩١٢… are caught like 0912….
_SEP = r"[ \-.\u00a0]?"
_0, _8, _9 = "[0۰٠]", "[8۸٨]", "[9۹٩]"
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    rf"(?:\+|{_0}{_0})\d(?:{_SEP}\(?\d\)?){{6,14}}"  # international: +98 912 …, 0098912…
    rf"|{_9}{_8}{_SEP}{_9}\d{{2}}{_SEP}\d{{3}}{_SEP}\d{{4}}"  # 98 912 123 4567
    rf"|{_0}?{_9}\d{{2}}{_SEP}\d{{3}}{_SEP}\d{{4}}"  # 0912 123 4567, 9121234567
    rf"|{_0}\d{{2,3}}{_SEP}\d{{7,8}}"  # landline: 021-88776655
    r")(?!\w)"
)


def ids_of(subject: object) -> dict[str, Any]:
    """The context ids `subject` (an event, a row) has, for `extra=`."""
    found = {field: getattr(subject, field, None) for field in CONTEXT_FIELDS}
    return {field: value for field, value in found.items() if value is not None}


def redact(text: str) -> str:
    """Mask every phone-number-looking run, keeping its last two digits."""
    return _PHONE.sub(_mask, text)


def _mask(match: re.Match[str]) -> str:
    digits = [ch for ch in match.group() if ch.isdigit()]
    return "[phone …" + "".join(str(int(d)) for d in digits[-2:]) + "]"


class RedactingFilter(logging.Filter):
    """Rewrites the record in place: message with numbers masked, name-like
    extra fields replaced. Attached to the handler, so it sees every logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        for field in NAME_FIELDS & record.__dict__.keys():
            setattr(record, field, REDACTED)
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if isinstance(value, str):
                setattr(record, field, redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message,
    the context ids given in extra=, and the traceback if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic one-line format; tracebacks are masked too."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time (click's test runner swaps it)."""

    _cc_owned = True

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


class _HasLogFormat(Protocol):
    @property
    def log_format(self) -> str: ...


def configure_logging(settings: _HasLogFormat, *, verbose: bool = False) -> logging.Handler:
    """Install the one stderr handler on the root logger (replacing a previous
    one and logging.basicConfig's), in the configured format, with redaction."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_cc_owned", False) or type(handler) is logging.StreamHandler:
            root.removeHandler(handler)
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    return handler
