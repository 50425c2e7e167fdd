"""Checks shared by the pause codes and the dispositions managers edit."""

from __future__ import annotations

import re
from typing import Any

from callcenter.dates import to_ascii_digits
from callcenter.errors import N_, InvalidInput

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MAX_LABEL = 120


def checked_code(value: Any) -> str:
    code = str(value or "").strip().lower()
    if not CODE_PATTERN.fullmatch(code):
        raise InvalidInput(
            N_(
                "The code %(code)s must be 1-32 Latin letters, digits or _, starting with a letter."
            ),
            code=code[:40],
            details={"field": "code"},
        )
    return code


def checked_label(value: Any, field: str) -> str:
    label = " ".join(str(value or "").split())
    if not label:
        raise InvalidInput(N_("Write the label in both languages."), details={"field": field})
    if len(label) > MAX_LABEL:
        raise InvalidInput(
            N_("A label is at most %(n)s characters."), n=MAX_LABEL, details={"field": field}
        )
    return label


def checked_minutes(value: Any, field: str, *, maximum: int) -> int | None:
    """Blank is None; Persian and Arabic digits are read as digits."""
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    text = to_ascii_digits(text)
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise InvalidInput(
            N_("Minutes must be a whole number from 1 to %(n)s."),
            n=maximum,
            details={"field": field},
        )
    return int(text)


def checked_flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in {"1", "true", "yes", "on", "y"}
