"""Who may see which campaigns, and the names reports print beside ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import Campaign, LeadList, PauseReason, ScriptVersion, Team, User
from callcenter.realtime.rooms import supervised_campaign_ids
from callcenter.states import Role

REPORT_ROLES = (Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)


def visible_campaign_ids(session: Session, user: User) -> frozenset[int] | None:
    """None (everything) for managers and admins; a supervisor's teams' campaigns."""
    if user.role in (Role.MANAGER, Role.ADMIN):
        return None
    return frozenset(supervised_campaign_ids(session, user))


@dataclass(frozen=True)
class Option:
    id: int
    name: str


@dataclass(frozen=True)
class FilterOptions:
    campaigns: list[Option]
    agents: list[Option]
    teams: list[Option]
    lead_lists: list[Option]


def filter_options(session: Session, visible: frozenset[int] | None) -> FilterOptions:
    campaigns = select(Campaign.id, Campaign.name).order_by(Campaign.name)
    lists = select(LeadList.id, LeadList.name).order_by(LeadList.name)
    if visible is not None:
        campaigns = campaigns.where(Campaign.id.in_(sorted(visible)))
        lists = lists.where(LeadList.campaign_id.in_(sorted(visible)))
    agents = select(User.id, User.full_name).where(User.role == Role.AGENT)
    teams = select(Team.id, Team.name).order_by(Team.name)
    return FilterOptions(
        campaigns=_options(session, campaigns),
        agents=_options(session, agents.order_by(User.full_name)),
        teams=_options(session, teams),
        lead_lists=_options(session, lists),
    )


def _options(session: Session, query: Any) -> list[Option]:
    return [Option(row[0], row[1]) for row in session.execute(query)]


@dataclass
class Names:
    """Display names by id, loaded once per report (small tables)."""

    campaigns: dict[int, str]
    users: dict[int, str]
    lead_lists: dict[int, str]
    teams: dict[int, str]

    @classmethod
    def load(cls, session: Session) -> Names:
        return cls(
            campaigns=dict(session.execute(select(Campaign.id, Campaign.name)).tuples().all()),
            users=dict(session.execute(select(User.id, User.full_name)).tuples().all()),
            lead_lists=dict(session.execute(select(LeadList.id, LeadList.name)).tuples().all()),
            teams=dict(session.execute(select(Team.id, Team.name)).tuples().all()),
        )


@dataclass
class ScriptLabels:
    """Step titles and rejection-reason labels from the stored script versions,
    in the reader's language where a version in it exists."""

    steps: dict[int, str]
    reasons: dict[tuple[int, str], str]

    @classmethod
    def load(cls, session: Session, locale: str) -> ScriptLabels:
        steps: dict[int, str] = {}
        reasons: dict[tuple[int, str], str] = {}
        versions = session.scalars(select(ScriptVersion).order_by(ScriptVersion.version))
        # Other languages first, so the reader's own overwrites them.
        for version in sorted(versions, key=lambda v: (v.locale == locale, v.version)):
            for step in (version.definition or {}).get("steps", []):
                number = int(step.get("number", 0))
                steps[number] = str(step.get("title", number))
                for reason in step.get("rejections", []):
                    reasons[(number, str(reason.get("code")))] = str(reason.get("label"))
        return cls(steps, reasons)

    def step(self, number: int | None) -> str:
        return "" if number is None else self.steps.get(number, "")

    def reason(self, step: int | None, code: str | None) -> str:
        if code is None:
            return ""
        return self.reasons.get((step or 0, code), code)


def pause_labels(session: Session, locale: str) -> dict[str, str]:
    rows = session.execute(select(PauseReason.code, PauseReason.label_fa, PauseReason.label_en))
    return {code: (fa if locale == "fa" else en) for code, fa, en in rows}
