"""Which campaigns and agents a supervisor may see and act on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.errors import N_, Forbidden, InvalidInput
from callcenter.models import AgentStatus, Campaign, User, campaign_teams
from callcenter.realtime.rooms import supervised_campaign_ids
from callcenter.services import agents as agent_service
from callcenter.services import campaigns as campaign_service
from callcenter.states import Role


def visible_campaigns(session: Session, user: User) -> list[int]:
    return supervised_campaign_ids(session, user)


def require_campaign(session: Session, user: User, campaign_id: Any) -> Campaign:
    try:
        wanted = int(campaign_id)
    except (TypeError, ValueError):
        raise InvalidInput(N_("choose a campaign"), details={"field": "campaign_id"}) from None
    if wanted not in visible_campaigns(session, user):
        raise Forbidden(
            N_("this campaign is not supervised by you"), details={"campaign_id": wanted}
        )
    return campaign_service.get_campaign(session, wanted)


def require_agent(session: Session, user: User, agent_id: Any) -> User:
    try:
        wanted = int(agent_id)
    except (TypeError, ValueError):
        raise InvalidInput(N_("choose an agent"), details={"field": "agent_id"}) from None
    agent = agent_service.agent_user(session, wanted)
    if wanted not in visible_agent_ids(session, user):
        raise Forbidden(N_("this agent is not on your floor"), details={"agent_id": wanted})
    return agent


def visible_agent_ids(session: Session, user: User) -> set[int]:
    campaign_ids = visible_campaigns(session, user)
    if not campaign_ids:
        return set()
    teams = select(campaign_teams.c.team_id).where(campaign_teams.c.campaign_id.in_(campaign_ids))
    by_team = select(User.id).where(User.role == Role.AGENT, User.team_id.in_(teams))
    by_status = select(AgentStatus.agent_id).where(AgentStatus.campaign_id.in_(campaign_ids))
    return set(session.scalars(by_team)) | set(session.scalars(by_status))
