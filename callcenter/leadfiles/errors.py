from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callcenter.errors import InvalidInput


class LeadFileError(InvalidInput):
    """The file as a whole cannot be imported (no phone column, not a CSV or
    XLSX, empty). Bad rows are never this: they are RowError results."""

    error_id = "lead-file-invalid"


@dataclass(frozen=True, slots=True)
class Message:
    """A reason about one row: `text` marked for translation (N_), its
    values apart, translated where it is shown; str() is the English."""

    text: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.text % self.params if self.params else self.text

    def as_json(self) -> dict[str, object]:
        return {"text": self.text, "params": dict(self.params)}
