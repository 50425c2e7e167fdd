"""QA scorecards: a manager's form per campaign (checkpoints with points, some
failing the call outright) and a supervisor's score of a recorded call."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.errors import N_, Conflict, InvalidInput, NotFound
from callcenter.models import Call, Campaign, QaScore, QaScorecard, User
from callcenter.services import audit
from callcenter.services.recordings import recording_for

MAX_ITEMS = 40
_LINE = re.compile(r"^\s*(?P<points>\d{1,3})\s*(?P<fail>!?)\s*(?P<label>\S.*?)\s*$")


@dataclass(frozen=True)
class Checkpoint:
    key: str
    label: str
    points: int
    auto_fail: bool


def parse_items(text: str) -> list[dict[str, object]]:
    """One checkpoint a line: ``10 Greeting used title and surname``; a ``!``
    after the points makes missing it fail the whole call: ``0 ! Was rude``."""
    items: list[dict[str, object]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None:
            raise InvalidInput(
                N_("Line %(line)s: write the points, then the checkpoint."),
                details={"line": number},
                line=number,
            )
        items.append(
            {
                "key": f"c{len(items) + 1}",
                "label": match["label"][:200],
                "points": int(match["points"]),
                "auto_fail": match["fail"] == "!",
            }
        )
    if not items:
        raise InvalidInput(N_("A scorecard needs at least one checkpoint."))
    if len(items) > MAX_ITEMS:
        raise InvalidInput(N_("At most %(count)s checkpoints."), count=MAX_ITEMS)
    return items


def items_as_text(scorecard: QaScorecard | None) -> str:
    if scorecard is None:
        return ""
    return "\n".join(
        f"{item['points']} {'! ' if item['auto_fail'] else ''}{item['label']}"
        for item in scorecard.items
    )


def scorecard_of(session: Session, campaign_id: int) -> QaScorecard | None:
    return session.scalar(select(QaScorecard).where(QaScorecard.campaign_id == campaign_id))


def save_scorecard(session: Session, user: User, campaign_id: int, text: str) -> QaScorecard:
    if session.get(Campaign, campaign_id) is None:
        raise NotFound(N_("No such campaign."), details={"campaign_id": campaign_id})
    items = parse_items(text)
    scorecard = scorecard_of(session, campaign_id)
    if scorecard is None:
        scorecard = QaScorecard(campaign_id=campaign_id)
        session.add(scorecard)
    scorecard.items = items
    scorecard.updated_by_id = user.id
    audit.record(
        session,
        "qa.scorecard_saved",
        actor=user,
        target_type="campaign",
        target_id=campaign_id,
        details={"checkpoints": len(items)},
    )
    session.flush()
    return scorecard


def score_call(
    session: Session, user: User, call_id: str, checked: list[str], comment: str = ""
) -> QaScore:
    """A supervisor scores a recording they may hear with their campaign's form.
    Points are those of the checkpoints met; an auto-fail checkpoint not met
    makes the score 0 and marks it failed."""
    recording = recording_for(session, user, call_id)
    call = session.get(Call, recording.call_id)
    assert call is not None
    if call.agent_id is None:
        raise Conflict(N_("This call had no agent to score."))
    scorecard = scorecard_of(session, call.campaign_id)
    if scorecard is None:
        raise Conflict(N_("This campaign has no QA scorecard yet."))
    met = {key for key in checked if any(item["key"] == key for item in scorecard.items)}
    points = sum(int(item["points"]) for item in scorecard.items if item["key"] in met)
    max_points = sum(int(item["points"]) for item in scorecard.items)
    failed = any(item["auto_fail"] and item["key"] not in met for item in scorecard.items)
    score = session.scalar(
        select(QaScore).where(QaScore.call_id == call_id, QaScore.scorer_id == user.id)
    )
    if score is None:
        score = QaScore(call_id=call_id, scorer_id=user.id, agent_id=call.agent_id)
        session.add(score)
    score.checked = sorted(met)
    score.points = 0 if failed else points
    score.max_points = max_points
    score.auto_failed = failed
    score.comment = comment[:2000]
    audit.record(
        session,
        "qa.scored",
        actor=user,
        target_type="call",
        target_id=call_id,
        details={"points": score.points, "max_points": max_points, "auto_failed": failed},
    )
    session.flush()
    return score


def scores_of_call(session: Session, call_id: str) -> list[QaScore]:
    return list(session.scalars(select(QaScore).where(QaScore.call_id == call_id)))
