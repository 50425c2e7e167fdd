"""Teams as an admin shapes them: create and rename, who supervises each
(a supervisor may have several teams) and which agents are in it (an agent
is in one team at most). Every change is in the audit log."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.errors import N_, Conflict, InvalidInput, NotFound
from callcenter.models import Team, User
from callcenter.services import audit
from callcenter.states import Role

MAX_NAME_LENGTH = 120


def get_team(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(N_("no such team"), details={"team_id": team_id})
    return team


def list_teams(session: Session) -> list[Team]:
    return list(session.scalars(select(Team).order_by(Team.name)))


def supervisors_of(session: Session, team: Team) -> list[User]:
    query = select(User).where(User.supervised.any(Team.id == team.id)).order_by(User.full_name)
    return list(session.scalars(query))


def agents_of(session: Session, team: Team) -> list[User]:
    query = select(User).where(User.team_id == team.id, User.role == Role.AGENT)
    return list(session.scalars(query.order_by(User.full_name)))


def users_with_role(session: Session, role: Role) -> list[User]:
    query = select(User).where(User.role == role, User.is_active.is_(True))
    return list(session.scalars(query.order_by(User.full_name)))


def create_team(session: Session, name: str, *, actor: User | None) -> Team:
    team = Team(name=_free_name(session, name, team_id=None))
    session.add(team)
    session.flush()
    audit.record(
        session,
        "team.created",
        actor=actor,
        target_type="team",
        target_id=team.id,
        details={"name": team.name},
    )
    return team


def rename_team(session: Session, team: Team, name: str, *, actor: User | None) -> None:
    new = _free_name(session, name, team_id=team.id)
    if new == team.name:
        return
    old, team.name = team.name, new
    session.flush()
    audit.record(
        session,
        "team.renamed",
        actor=actor,
        target_type="team",
        target_id=team.id,
        details={"from": old, "to": new},
    )


def set_supervisors(
    session: Session, team: Team, supervisors: Iterable[User], *, actor: User | None
) -> None:
    wanted = {user.id: user for user in supervisors}
    for user in wanted.values():
        if user.role is not Role.SUPERVISOR:
            raise InvalidInput(
                N_("%(name)s is not a supervisor."), name=user.full_name, details={"field": "users"}
            )
    current = {user.id: user for user in supervisors_of(session, team)}
    if wanted.keys() == current.keys():
        return
    for user in current.values():
        if user.id not in wanted:
            user.supervised.remove(team)
    for user in wanted.values():
        if user.id not in current:
            user.supervised.append(team)
    session.flush()
    audit.record(
        session,
        "team.supervisors_changed",
        actor=actor,
        target_type="team",
        target_id=team.id,
        details={
            "name": team.name,
            "from": sorted(user.username for user in current.values()),
            "to": sorted(user.username for user in wanted.values()),
        },
    )


def set_agents(session: Session, team: Team, agents: Iterable[User], *, actor: User | None) -> None:
    """The team's agents are exactly `agents` (taken from their old teams);
    an agent left out has no team."""
    wanted = {user.id: user for user in agents}
    for user in wanted.values():
        if user.role is not Role.AGENT:
            raise InvalidInput(
                N_("%(name)s is not an agent."), name=user.full_name, details={"field": "users"}
            )
    current = {user.id: user for user in agents_of(session, team)}
    if wanted.keys() == current.keys():
        return
    moved_from = {}
    for user in current.values():
        if user.id not in wanted:
            user.team_id = None
    for user in wanted.values():
        if user.team_id != team.id:
            if user.team_id is not None:
                moved_from[user.username] = user.team_id
            user.team_id = team.id
    session.flush()
    session.expire(team, ["members"])
    audit.record(
        session,
        "team.agents_changed",
        actor=actor,
        target_type="team",
        target_id=team.id,
        details={
            "name": team.name,
            "from": sorted(user.username for user in current.values()),
            "to": sorted(user.username for user in wanted.values()),
            "taken_from_teams": moved_from,
        },
    )


def _free_name(session: Session, name: str, *, team_id: int | None) -> str:
    clean = " ".join((name or "").split())
    if not clean:
        raise InvalidInput(N_("Give the team a name."), details={"field": "name"})
    if len(clean) > MAX_NAME_LENGTH:
        raise InvalidInput(
            N_("A team name has at most %(most)s characters."),
            most=MAX_NAME_LENGTH,
            details={"field": "name"},
        )
    taken = session.scalar(
        select(Team.id).where(func.lower(Team.name) == clean.lower(), Team.id != (team_id or 0))
    )
    if taken is not None:
        raise Conflict(
            N_("There is already a team named %(name)s."), name=clean, details={"field": "name"}
        )
    return clean
