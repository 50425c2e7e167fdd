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
        """In the language of the request or socket event being served."""
        from flask_babel import gettext

        return gettext(self.text, **self.params) if self.params else gettext(self.text)

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.error_id, "message": self.shown(), "details": self.details}


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
