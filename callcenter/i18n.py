"""Locale selection (per user), RTL, and the date filters templates use."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, session
from flask_login import current_user

from callcenter.extensions import babel

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
