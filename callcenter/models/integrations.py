"""What other systems use to work with the floor: API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.db import Base, UTCDateTime
from callcenter.models._types import created_at_column, enum_column
from callcenter.models.campaigns import Campaign
from callcenter.states import Role

api_token_campaigns = Table(
    "api_token_campaigns",
    Base.metadata,
    Column("token_id", ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True),
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
)


class ApiToken(Base):
    """One integration's key to /api/v1/. The token itself is shown once, at
    creation; only its SHA-256 is kept (it is 256 random bits, so a fast hash
    is enough: there is nothing to guess from it)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    """The token's first characters, to tell tokens apart in the list."""
    role: Mapped[Role] = enum_column(Role)
    all_campaigns: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    campaigns: Mapped[list[Campaign]] = relationship(secondary=api_token_campaigns)

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None
