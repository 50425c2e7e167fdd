"""Turn names typed on the command line into ids."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.errors import N_
from callcenter.models import Campaign, Team, User
from callcenter.services.reports.filters import InvalidFilter


def _resolve(
    session: Session, values: Iterable[str], id_column: Any, name_column: Any, what: str
) -> list[int]:
    ids = []
    for value in values:
        if value.isdigit():
            ids.append(int(value))
            continue
        found = session.scalar(select(id_column).where(name_column == value))
        if found is None:
            raise InvalidFilter(
                N_("no %(kind)s named '%(name)s'"), details={"field": what}, kind=what, name=value
            )
        ids.append(int(found))
    return ids


def campaign_ids(session: Session, values: Iterable[str]) -> list[int]:
    return _resolve(session, values, Campaign.id, Campaign.name, "campaign")


def user_ids(session: Session, values: Iterable[str]) -> list[int]:
    return _resolve(session, values, User.id, User.username, "agent")


def team_ids(session: Session, values: Iterable[str]) -> list[int]:
    return _resolve(session, values, Team.id, Team.name, "team")
