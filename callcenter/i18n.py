"""Locale selection (per user), RTL, and the number filters templates use."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, session
from flask_babel import get_locale
from flask_login import current_user

from callcenter.dates import localize_digits
from callcenter.extensions import babel
from callcenter.numbers import format_duration, format_number, format_percent

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
RTL_LOCALES = frozenset({"fa"})


def select_locale() -> str:
    if current_user and current_user.is_authenticated:
        return str(current_user.locale)
    chosen = session.get("locale")
    if chosen in ("fa", "en"):
        return str(chosen)
    return str(current_app.config["CC_DEFAULT_LOCALE"])


def text_direction(locale: str) -> str:
    return "rtl" if locale in RTL_LOCALES else "ltr"


def init_app(app: Flask, default_locale: str, timezone: str) -> None:
    app.config["CC_DEFAULT_LOCALE"] = default_locale
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    app.config["BABEL_DEFAULT_TIMEZONE"] = timezone
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS_DIR)
    babel.init_app(app, locale_selector=select_locale)
    app.add_template_filter(number_filter, "number")
    app.add_template_filter(percent_filter, "percent")
    app.add_template_filter(duration_filter, "duration")
    app.add_template_filter(digits_filter, "digits")

    @app.context_processor
    def locale_context() -> dict[str, str]:
        locale = select_locale()
        return {
            "current_locale": locale,
            "text_direction": text_direction(locale),
            "separator": list_separator(locale),
        }


def list_separator(locale: str) -> str:
    """Between items on one line ("name · role"): a middle dot beside Persian
    digits reads as a zero (۰), so Persian gets a dash."""
    return " – " if locale in RTL_LOCALES else " · "


def _role_labels() -> dict[str, object]:
    from flask_babel import lazy_gettext as _l

    # Listed so the extractor finds them; templates translate `role.value`.
    return {
        "agent": _l("agent"),
        "supervisor": _l("supervisor"),
        "manager": _l("manager"),
        "admin": _l("admin"),
    }


def _page_locale() -> str:
    locale = get_locale()
    return "fa" if locale is not None and locale.language == "fa" else "en"


def number_filter(value: float | None, decimals: int = 0) -> str:
    """`{{ count|number }}`: grouped, in the page's digits (Persian on fa pages)."""
    return format_number(value, _page_locale(), decimals=decimals)


def percent_filter(share: float | None) -> str:
    """`{{ rate|percent }}`: a share of one as a percentage with one decimal."""
    return format_percent(share, _page_locale())


def duration_filter(seconds: float | None) -> str:
    """`{{ seconds|duration }}`: hours:minutes:seconds."""
    return format_duration(seconds, _page_locale())


def digits_filter(text: str | int) -> str:
    """`{{ "%02d:00"|format(hour)|digits }}`: text whose digits the reader reads."""
    return localize_digits(text, _page_locale())
