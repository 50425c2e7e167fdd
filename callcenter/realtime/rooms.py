"""Which Socket.IO rooms a user belongs in. The server decides from the
user's role and teams; a client never names its own room."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import Campaign, User, campaign_teams
from callcenter.states import Role


def agent_room(agent_id: int) -> str:
    return f"agent:{agent_id}"


def campaign_supervisors_room(campaign_id: int) -> str:
    return f"supervisor:campaign:{campaign_id}"


def supervised_campaign_ids(session: Session, user: User) -> list[int]:
    if user.role in (Role.MANAGER, Role.ADMIN):
        return list(session.scalars(select(Campaign.id)))
    if user.role is Role.SUPERVISOR:
        team_ids = [team.id for team in user.supervised]
        if not team_ids:
            return []
        query = select(campaign_teams.c.campaign_id).where(campaign_teams.c.team_id.in_(team_ids))
        return sorted(set(session.scalars(query)))
    return []


def rooms_for(session: Session, user: User) -> list[str]:
    if user.role is Role.AGENT:
        return [agent_room(user.id)]
    return [campaign_supervisors_room(cid) for cid in supervised_campaign_ids(session, user)]
