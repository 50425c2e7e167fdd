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

REPORT_TITLES = {
    "calls": _l("Call records"),
    "rejections": _l("Rejections"),
    "funnel": _l("Conversion funnel"),
    "agents": _l("Agent performance"),
    "compliance": _l("Compliance"),
}
