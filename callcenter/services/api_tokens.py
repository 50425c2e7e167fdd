"""API tokens: created by an admin for one integration, scoped to a role and
to campaigns, shown once, kept as a SHA-256, revocable."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from callcenter.db import utcnow
from callcenter.errors import N_, Forbidden, InvalidInput, NotFound
from callcenter.models import ApiToken, Campaign, User
from callcenter.services import audit
from callcenter.states import Role

TOKEN_PREFIX = "cc_"
LAST_USED_GRANULARITY = timedelta(minutes=1)
"""last_used_at is written at most once a minute per token, not on every call."""


class NotAuthenticated(Forbidden):
    status = 401
    error_id = "not-authenticated"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session,
    *,
    name: str,
    role: Role,
    campaigns: Iterable[Campaign],
    all_campaigns: bool,
    actor: User,
) -> tuple[ApiToken, str]:
    """The new token's row and the token itself (shown to the admin once)."""
    name = name.strip()
    if not name:
        raise InvalidInput(N_("give the token a name"), details={"field": "name"})
    chosen = list(campaigns)
    if not all_campaigns and not chosen:
        raise InvalidInput(
            N_("choose the token's campaigns, or all campaigns"), details={"field": "campaigns"}
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name[:120],
        token_sha256=token_digest(token),
        prefix=token[:10],
        role=role,
        all_campaigns=all_campaigns,
        campaigns=[] if all_campaigns else chosen,
        created_by_id=actor.id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "api_token.created",
        actor=actor,
        target_type="api_token",
        target_id=row.id,
        details={
            "name": row.name,
            "role": str(role),
            "campaign_ids": "all" if all_campaigns else sorted(c.id for c in chosen),
        },
    )
    return row, token


def revoke_token(session: Session, token_id: int, *, actor: User) -> ApiToken:
    row = get_token(session, token_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
        audit.record(
            session,
            "api_token.revoked",
            actor=actor,
            target_type="api_token",
            target_id=row.id,
            details={"name": row.name},
        )
    return row


def get_token(session: Session, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(N_("no such API token"), details={"token_id": token_id})
    return row


def list_tokens(session: Session) -> list[ApiToken]:
    query = select(ApiToken).options(selectinload(ApiToken.campaigns)).order_by(ApiToken.id.desc())
    return list(session.scalars(query))


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if any."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def authenticate(session: Session, token: str | None, *, now: datetime | None = None) -> ApiToken:
    """The live token row for `token`; records when it was last used."""
    if not token:
        raise NotAuthenticated(N_("an API token is needed (Authorization: Bearer ...)"))
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == token_digest(token)))
    if row is None or row.revoked_at is not None:
        raise NotAuthenticated(N_("this API token is unknown or revoked"))
    now = now or utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_GRANULARITY:
        row.last_used_at = now
        session.flush()
    return row


def check_role(token: ApiToken, roles: frozenset[Role]) -> None:
    if token.role not in roles:
        raise Forbidden(
            N_("this API token's role may not do this"), details={"role": str(token.role)}
        )


def may_use_campaign(token: ApiToken, campaign_id: int) -> bool:
    return token.all_campaigns or any(c.id == campaign_id for c in token.campaigns)


def check_campaign(token: ApiToken, campaign_id: int | None) -> None:
    """Refuses a campaign outside the token's scope as if it did not exist."""
    if campaign_id is None or not may_use_campaign(token, campaign_id):
        raise NotFound(N_("no such campaign"), details={"campaign_id": campaign_id})


def campaign_scope(token: ApiToken) -> list[int] | None:
    """The campaign ids the token may see; None for all."""
    return None if token.all_campaigns else [c.id for c in token.campaigns]


def audit_write(
    session: Session,
    token: ApiToken,
    action: str,
    *,
    target_type: str,
    target_id: object,
    details: dict[str, object] | None = None,
    ip_address: str | None = None,
) -> None:
    """Every write through the API, under the token that made it."""
    audit.record(
        session,
        f"api.{action}",
        actor=None,
        target_type=target_type,
        target_id=target_id,
        details={"api_token_id": token.id, "api_token": token.name, **(details or {})},
        ip_address=ip_address,
    )
