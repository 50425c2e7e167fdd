"""Column helpers shared by the model modules."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import UTCDateTime, utcnow


def enum_column(enum: type[StrEnum], **kwargs: Any) -> Any:
    """Store the enum's value as a short string (no native DB enum to migrate)."""
    return mapped_column(
        Enum(
            enum,
            native_enum=False,
            length=24,
            values_callable=lambda members: [member.value for member in members],
            validate_strings=True,
        ),
        **kwargs,
    )


def created_at_column() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, default=utcnow, nullable=False)


JSONColumn = JSON().with_variant(JSON(none_as_null=True), "postgresql")
