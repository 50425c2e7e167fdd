"""Typed domain errors. Each carries an HTTP status, a stable error id and
details; the web layer turns them into HTML, JSON or a socket `error` event."""

from __future__ import annotations

from typing import Any


def N_(text: str) -> str:
    """Marks `text` for the message catalog; it is translated where it is
    shown, in the reader's language (DomainError.shown)."""
    return text


class DomainError(Exception):
    """`message` is the English text (logs, CLI); `shown()` the reader's.
    Raise with a marked text and its values apart, so the translation can
    place them: ``InvalidInput(N_("List %(name)s is disabled"), name=...)``."""

    status: int = 400
    error_id: str = "bad-request"

    def __init__(
        self, message: str, *, details: dict[str, Any] | None = None, **params: Any
    ) -> None:
        self.text = message
        self.params = params
        self.message = message % params if params else message
        super().__init__(self.message)
        self.details = details or {}

    def shown(self) -> str:
        """In the language of the request or socket event being served;
        numbers in Persian digits for a Persian reader."""
        from flask_babel import get_locale, gettext

        if not self.params:
            return gettext(self.text)
        locale = get_locale()
        if locale is None or locale.language != "fa":
            return gettext(self.text, **self.params)
        return gettext(self.text, **{name: _persian(value) for name, value in self.params.items()})

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.error_id, "message": self.shown(), "details": self.details}


def _persian(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return str(value).translate(_PERSIAN_DIGITS).replace(".", "\u066b")


_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


class NotFound(DomainError):
    status = 404
    error_id = "not-found"


class Forbidden(DomainError):
    status = 403
    error_id = "forbidden"


class Conflict(DomainError):
    status = 409
    error_id = "conflict"


class InvalidInput(DomainError):
    status = 422
    error_id = "invalid-input"
