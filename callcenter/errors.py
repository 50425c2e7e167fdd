"""Typed domain errors. Each carries an HTTP status, a stable error id and
details; the web layer turns them into HTML, JSON or a socket `error` event."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status: int = 400
    error_id: str = "bad-request"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.error_id, "message": self.message, "details": self.details}


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
