"""Who may see which campaigns, and the names reports print beside ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from callcenter.models import (
    Campaign,
    CampaignDisposition,
    LeadList,
    PauseReason,
    ScriptVersion,
    Team,
    User,
    campaign_teams,
)
from callcenter.realtime.rooms import supervised_campaign_ids
from callcenter.services.reports.labels import DISPOSITIONS, translator
from callcenter.states import Role

REPORT_ROLES = (Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)


def visible_campaign_ids(session: Session, user: User) -> frozenset[int] | None:
    """None (everything) for managers and admins; a supervisor's teams'
    campaigns; an agent's team's (the agent sees only the list of calls)."""
    if user.role in (Role.MANAGER, Role.ADMIN):
        return None
    if user.role is Role.AGENT:
        if user.team_id is None:
            return frozenset()
        query = select(campaign_teams.c.campaign_id).where(campaign_teams.c.team_id == user.team_id)
        return frozenset(session.scalars(query))
    return frozenset(supervised_campaign_ids(session, user))


@dataclass(frozen=True)
class Option:
    id: int | str
    name: str


@dataclass(frozen=True)
class FilterOptions:
    campaigns: list[Option]
    agents: list[Option]
    teams: list[Option]
    lead_lists: list[Option]
    dispositions: list[Option]


def filter_options(
    session: Session, visible: frozenset[int] | None, locale: str = "fa"
) -> FilterOptions:
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
        dispositions=disposition_options(session, visible, locale),
    )


def disposition_options(
    session: Session, visible: frozenset[int] | None, locale: str
) -> list[Option]:
    """Each disposition code once, with the first label a visible campaign gives it."""
    query = select(
        CampaignDisposition.code, CampaignDisposition.label_fa, CampaignDisposition.label_en
    ).order_by(CampaignDisposition.position, CampaignDisposition.id)
    if visible is not None:
        query = query.where(CampaignDisposition.campaign_id.in_(sorted(visible)))
    labels: dict[str, str] = {}
    for code, label_fa, label_en in session.execute(query):
        labels.setdefault(code, label_fa if locale == "fa" else label_en)
    _ = translator(locale)
    for code, label in DISPOSITIONS.items():
        labels.setdefault(code, _(label))
    return [Option(code, label) for code, label in labels.items()]


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
        versions = session.scalars(
            select(ScriptVersion)
            .options(undefer(ScriptVersion.definition))
            .order_by(ScriptVersion.version)
        )
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
