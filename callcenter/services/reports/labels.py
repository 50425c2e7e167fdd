"""Words reports and exports print, in the reader's language, without Flask
(the CLI has no request). `_l` only marks a msgid for pybabel extract."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).resolve().parents[2] / "translations"

Gettext = Callable[[str], str]


def _l(message: str) -> str:
    return message


@lru_cache(maxsize=8)
def _catalog(locale: str) -> NullTranslations:
    return Translations.load(str(TRANSLATIONS_DIR), [locale])


def translator(locale: str) -> Gettext:
    return _catalog(locale).gettext


WEEKDAYS = (
    _l("Monday"),
    _l("Tuesday"),
    _l("Wednesday"),
    _l("Thursday"),
    _l("Friday"),
    _l("Saturday"),
    _l("Sunday"),
)

# The product's own codes, for a disposition no campaign defines (the
# server's wrap_up_timeout, or a code since deleted).
DISPOSITIONS = {
    "appointment_set": _l("Appointment set"),
    "callback": _l("Callback"),
    "not_interested": _l("Not interested"),
    "wrong_number": _l("Wrong number"),
    "do_not_call": _l("Do not call"),
    "no_decision": _l("No decision"),
    "sale": _l("Sale"),
    "answering_machine": _l("Answering machine"),
    "wrap_up_timeout": _l("Wrap-up timed out"),
}
OUTCOMES = {
    "answered": _l("Answered"),
    "abandoned": _l("Abandoned"),
    "machine": _l("Answering machine"),
    "busy": _l("Busy"),
    "no_answer": _l("No answer"),
    "declined": _l("Declined"),
    "invalid_number": _l("Invalid number"),
    "failed": _l("Failed"),
    "cancelled": _l("Cancelled"),
}
CATEGORIES = {
    "final": _l("Final"),
    "retry": _l("Retry"),
    "callback": _l("Callback"),
    "dnc": _l("Do not call"),
    "sale": _l("Sale"),
    "appointment": _l("Appointment"),
}

REPORT_TITLES = {
    "calls": _l("Call records"),
    "call_list": _l("Calls"),
    "rejections": _l("Rejections"),
    "funnel": _l("Conversion funnel"),
    "agents": _l("Agent performance"),
    "compliance": _l("Compliance"),
    "dispositions": _l("Dispositions"),
}
