"""What the agent sees where a script placeholder has no value, and what a
manager is told about a campaign whose scripts would show such gaps.

The agent never reads a raw `[name]` to a customer: a missing fact is a
marked gap saying what is missing and who fixes it; a courtesy word (the
title) is left out; the read-back of a meeting not booked yet says it fills
in on booking."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from callcenter.errors import N_
from callcenter.models import Campaign, User
from callcenter.services import scripts_catalog
from callcenter.services.reports.labels import Gettext, translator
from callcenter.states import Role
from scripts import Script, Segment, Step
from scripts.placeholders import placeholders as placeholders_of

OPTIONAL = frozenset({"title"})
"""Courtesy words: the sentence reads without them, so they are left out."""

BOOKED = frozenset({"appointment_day", "appointment_date", "appointment_time", "place"})
"""Known once a meeting is booked on the call."""

LABELS = {
    "first_name": N_("first name unknown"),
    "last_name": N_("surname unknown"),
    "agent_name": N_("your name is not set"),
    "company": N_("no company name"),
    "product": N_("no product"),
    "benefit": N_("no benefit"),
    "email": N_("no email address"),
    "contact_number": N_("no contact number"),
    "slot_1": N_("no free time"),
    "slot_2": N_("no second free time"),
    "appointment_day": N_("day"),
    "appointment_date": N_("date"),
    "appointment_time": N_("time"),
    "place": N_("place"),
}

_ASK_NAME = N_(
    "The customer's name is not on file: ask for it politely and add it under Edit details."
)
HINTS = {
    "first_name": _ASK_NAME,
    "last_name": _ASK_NAME,
    "agent_name": N_("Your account has no name: say your own name, and ask an admin to set it."),
    "company": N_(
        "The campaign has no company name: ask your manager to fill it in on the campaign's page."
    ),
    "product": N_(
        "The campaign names no product: ask your manager to fill it in on the campaign's page."
    ),
    "benefit": N_(
        "The campaign has no description of its benefit: ask your manager to fill it in on "
        "the campaign's page."
    ),
    "email": N_("No email address on file: ask for one and add it under Edit details."),
    "contact_number": N_(
        "This campaign has no caller ID and you have no direct number: do not make one up; ask "
        "your manager to set the campaign's caller ID, or an admin your direct number."
    ),
    "slot_1": N_("No free time to offer: choose another salesperson or look at Other times."),
    "slot_2": N_("Only one free time to offer: look at Other times for a second one."),
}

NOT_BOOKED = N_(
    "Not booked yet: the day, date, time and place fill in here once the meeting is booked."
)

_SPACES = re.compile(r"[ \t]{2,}")
_SPACE_BEFORE_MARK = re.compile(r"[ \t]+([,.;:!?،؛؟])")


@dataclass
class FilledText:
    """A prompt or tip as shown: `parts` for the screen (text and marked
    gaps), `text` for anything that shows plain text."""

    parts: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(
            part["text"] if "text" in part else f"⟨{part['label']}⟩" for part in self.parts
        )


def fill(cut: Iterable[Segment], gettext: Gettext) -> FilledText:
    filled = FilledText()
    for segment in cut:
        if segment.gap is None:
            _add_text(filled, segment.text)
        elif segment.gap not in OPTIONAL:
            filled.parts.append(
                {
                    "gap": segment.gap,
                    "label": gettext(LABELS.get(segment.gap, segment.gap)),
                    "pending": segment.gap in BOOKED,
                }
            )
            filled.gaps.append(segment.gap)
    for part in filled.parts:
        if "text" in part:
            part["text"] = _SPACE_BEFORE_MARK.sub(r"\1", _SPACES.sub(" ", part["text"]))
    return filled


def _add_text(filled: FilledText, text: str) -> None:
    if filled.parts and "text" in filled.parts[-1]:
        filled.parts[-1]["text"] += text
    elif text:
        filled.parts.append({"text": text})


def step_gaps(names: Iterable[str], gettext: Gettext) -> tuple[list[dict[str, str]], str | None]:
    """The step's missing facts, each once with what to do about it, and the
    notice for a read-back that waits on the booking."""
    seen: dict[str, dict[str, str]] = {}
    pending = False
    for name in names:
        if name in BOOKED:
            pending = True
        elif name not in seen:
            seen[name] = {
                "name": name,
                "label": gettext(LABELS.get(name, name)),
                "hint": gettext(HINTS[name]) if name in HINTS else "",
            }
    return list(seen.values()), gettext(NOT_BOOKED) if pending else None


def gettext_for(locale: str) -> Gettext:
    return translator(locale)


@dataclass(frozen=True)
class CampaignGap:
    """One thing a manager should fix so the campaign's scripts read whole."""

    text: str
    params: dict[str, Any] = field(default_factory=dict)


def campaign_gaps(session: Session, campaign: Campaign) -> list[CampaignGap]:
    """What the campaign's scripts need that nobody has given: a contact
    number (no caller ID, and agents without a direct number), the company,
    the product, the benefit."""
    used = _used_placeholders(_campaign_scripts(session, campaign))
    gaps: list[CampaignGap] = []
    if "contact_number" in used and not campaign.caller_id:
        without = [
            agent.full_name or agent.username
            for agent in _agents(campaign)
            if not agent.direct_number
        ]
        if without or not _agents(campaign):
            gaps.append(
                CampaignGap(
                    N_(
                        "The scripts read a contact number to the customer, but this campaign has "
                        "no caller ID and these agents have no direct number: %(agents)s. Set the "
                        "caller ID below, or ask an admin to give the agents direct numbers."
                    ),
                    {"agents": ", ".join(without) or "—"},
                )
            )
    if "company" in used and not campaign.company_name.strip():
        gaps.append(CampaignGap(N_("The scripts name the company: fill in the company name.")))
    if "product" in used and not campaign.product.strip():
        gaps.append(CampaignGap(N_("The scripts name the product: fill in the product.")))
    if "benefit" in used and not campaign.description.strip():
        gaps.append(
            CampaignGap(
                N_(
                    "The scripts say the benefit in one sentence: fill in the description "
                    "(a lead's own benefit field is used when it has one)."
                )
            )
        )
    return gaps


def _agents(campaign: Campaign) -> list[User]:
    return [
        member
        for team in campaign.teams
        for member in team.members
        if member.role is Role.AGENT and member.is_active
    ]


def _campaign_scripts(session: Session, campaign: Campaign) -> list[Script]:
    return [
        scripts_catalog.script_of(scripts_catalog.version_for_campaign(session, campaign, locale))
        for locale in ("fa", "en")
    ]


def _used_placeholders(scripts: Iterable[Script]) -> set[str]:
    return {name for script in scripts for step in script.steps for name in _step_names(step)}


def _step_names(step: Step) -> set[str]:
    return {name for template in (step.prompt, *step.tips) for name in placeholders_of(template)}
