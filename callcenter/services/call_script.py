"""The call's script on the agent's screen: the version pinned on the call,
its prompts filled with the customer's fields, and the path the agent takes
through the steps (every move an `enter` row of `step_outcomes`, the
prospect's no a `reject` row)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Row, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from callcenter import after_commit
from callcenter.db import utcnow
from callcenter.domain_events import ScriptStepEntered
from callcenter.errors import N_, InvalidInput
from callcenter.models import (
    Appointment,
    Call,
    Campaign,
    ScriptVersion,
    StepAction,
    StepOutcome,
    User,
)
from callcenter.scheduling import format_phone, slot_label
from callcenter.services import appointments, script_gaps, scripts_catalog
from callcenter.services.call_access import open_call, refuse_unless_open
from callcenter.services.reports.labels import Gettext
from scripts import (
    Move,
    Script,
    ScriptPath,
    ScriptPathError,
    Step,
    call_context,
    prompt_segments,
    tip_segments,
)

MOVE_KINDS = ("next", "back", "jump")


def agent_locale(session: Session, agent_id: int | None) -> str:
    agent = session.get(User, agent_id) if agent_id else None
    return agent.locale if agent and agent.locale in ("fa", "en") else "fa"


def script_version_of(session: Session, call: Call, locale: str = "fa") -> ScriptVersion:
    """The version the call uses, pinned on the call the first time it is asked."""
    if call.script_version_id is not None:
        version = session.get(ScriptVersion, call.script_version_id)
        if version is not None:
            return version
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    version = scripts_catalog.version_for_campaign(session, campaign, locale)
    call.script_version_id = version.id
    return version


def script_context(
    session: Session,
    call: Call,
    script: Script,
    *,
    now: datetime,
    slots: Iterable[Any] = (),
    appointment: Appointment | None = None,
) -> dict[str, object]:
    customer, lead = call.customer, call.lead
    campaign = session.get(Campaign, call.campaign_id)
    agent = session.get(User, call.agent_id) if call.agent_id else None
    assert campaign is not None
    tz = ZoneInfo(campaign.timezone)
    values: dict[str, object] = {
        "title": customer.title,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "agent_name": agent.full_name if agent else "",
        "company": campaign.company_name,
        "product": campaign.product,
        "benefit": (lead.fields or {}).get("benefit") or campaign.description,
        "email": customer.email or "",
        "contact_number": format_phone(
            (agent.direct_number if agent and agent.direct_number else campaign.caller_id) or "",
            script.locale,
        ),
    }
    for number, slot in enumerate(slots, start=1):
        values[f"slot_{number}"] = slot_label(slot.start, now, script.locale, tz=tz)
    if appointment is not None:
        values.update(appointments.read_back_for(appointment, script.locale, tz).as_context())
    customer_tz = ZoneInfo(customer.timezone or campaign.timezone)
    return call_context(script, values, now=now, tz=customer_tz)


def rendered_script(script: Script, context: dict[str, object]) -> dict[str, Any]:
    """The script as the agent's screen shows it, in the script's language."""
    gettext = script_gaps.gettext_for(script.locale)
    return {
        "key": script.key,
        "version": script.version,
        "title": script.title,
        "locale": script.locale,
        "dir": "rtl" if script.locale == "fa" else "ltr",
        "steps": [_rendered_step(step, context, gettext) for step in script.steps],
    }


def _rendered_step(step: Step, context: dict[str, object], gettext: Gettext) -> dict[str, Any]:
    """`prompt` and `tips` as plain text; `prompt_parts` with each gap marked,
    `gaps` saying what is missing and who fixes it, `notice` while the
    read-back waits on the booking."""
    prompt = script_gaps.fill(prompt_segments(step, context), gettext)
    tips = [script_gaps.fill(cut, gettext) for cut in tip_segments(step, context)]
    gaps, notice = script_gaps.step_gaps(
        [*prompt.gaps, *(g for tip in tips for g in tip.gaps)], gettext
    )
    return {
        "number": step.number,
        "key": step.key,
        "title": step.title,
        "prompt": prompt.text,
        "prompt_parts": prompt.parts,
        "tips": [tip.text for tip in tips],
        "gaps": gaps,
        "notice": notice,
        "booking": step.booking,
        "follow_up": step.follow_up,
        "rejections": [
            {"code": reason.code, "label": reason.label, "free_text": reason.free_text}
            for reason in step.rejections
        ],
    }


def start_script(
    session: Session, call: Call, *, now: datetime | None = None, path_empty: bool = False
) -> None:
    """Step 1 on screen: the first `enter` row of the call's script path.
    `path_empty`: the caller knows it has no row (no agent had the call)."""
    if not path_empty and _last_seq(session, call.id):
        return
    script_version_of(session, call, agent_locale(session, call.agent_id))
    session.add(
        StepOutcome(
            call_id=call.id,
            seq=1,
            step_number=1,
            action=StepAction.ENTER,
            via="start",
            agent_id=call.agent_id,
            at=now or utcnow(),
        )
    )
    call.current_step = 1
    call.max_step_reached = max(call.max_step_reached or 0, 1)
    after_commit.record_event(session, ScriptStepEntered(call_id=call.id, step_number=1))
    session.flush()


def _last_seq(session: Session, call_id: str) -> int:
    return (
        session.scalar(select(func.max(StepOutcome.seq)).where(StepOutcome.call_id == call_id)) or 0
    )


_SCRIPT_AND_PATH = (
    select(
        ScriptVersion.key,
        ScriptVersion.version,
        StepOutcome.seq,
        StepOutcome.step_number,
        StepOutcome.action,
        StepOutcome.via,
        StepOutcome.at,
    )
    .outerjoin(StepOutcome, StepOutcome.call_id == bindparam("call_id"))
    .where(ScriptVersion.id == bindparam("version_id"))
    .order_by(StepOutcome.seq)
)


def _script_and_path(session: Session, call: Call) -> tuple[Script, list[Row[Any]]]:
    """The call's script and its script rows (moves and its rejection) in
    order, in one read, as every move asks both: the version's key and
    version (the parsed script is cached by them) beside each row. Read once
    the call is locked, in a statement of its own: it sees the row of a move
    that committed while this one waited for the lock."""
    version_id = call.script_version_id or script_version_of(session, call).id
    rows = session.execute(_SCRIPT_AND_PATH, {"call_id": call.id, "version_id": version_id}).all()
    first = rows[0]
    script = scripts_catalog.cached_script(version_id, first.key, first.version)
    if script is None:
        script = scripts_catalog.script_of(script_version_of(session, call))
    return script, [row for row in rows if row.seq is not None]


_ENTER_ROW = insert(StepOutcome)
"""A move's row, written as a row: nothing reads it back in the move."""


def _path(outcomes: list[Row[Any]], step_count: int) -> ScriptPath:
    moves: list[Move] = []
    for row in outcomes:
        if row.action != StepAction.ENTER:
            continue
        kind = row.via if row.via in ("start", *MOVE_KINDS) else "jump"
        moves.append(Move(kind, moves[-1].to_step if moves else None, row.step_number, row.at))  # type: ignore[arg-type]
    return ScriptPath(tuple(moves), step_count)


def move_step(
    session: Session,
    agent_id: int,
    call_id: Any,
    kind: Any,
    to_step: Any = None,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Next, back or jump; every move is an `enter` row, so the path is kept.
    Most moves are `_move_by_statements`; a call the session holds as an
    object, and one that way declines, moves through its object."""
    if identity_key(Call, str(call_id or "")) not in session.identity_map:
        moved = _move_by_statements(session, agent_id, call_id, kind, to_step, now)
        if moved is not None:
            return moved
    call = open_call(session, agent_id, call_id, lock=True)
    _check_kind(kind)
    script, outcomes = _script_and_path(session, call)
    if not outcomes:
        start_script(session, call, now=now)
        script, outcomes = _script_and_path(session, call)
    path = _moved(_path(outcomes, len(script.steps)), kind, to_step)
    entered = {
        "call_id": call.id,
        "seq": outcomes[-1].seq + 1,
        "step_number": path.current,
        "action": StepAction.ENTER,
        "via": kind,
        "agent_id": agent_id,
        "at": now or utcnow(),
    }
    session.execute(_ENTER_ROW, entered)
    call.current_step = path.current
    after_commit.record_event(session, ScriptStepEntered(call_id=call.id, step_number=path.current))
    call.max_step_reached = max(call.max_step_reached or 0, path.current)
    session.flush()
    return {"call_id": call.id, "step": call.current_step, "max_step": call.max_step_reached}


_CALLS = cast(Table, Call.__table__)
_STEPS = cast(Table, StepOutcome.__table__)
_VERSIONS = cast(Table, ScriptVersion.__table__)

_LAST_ENTERED = (
    select(_STEPS.c.step_number)
    .where(_STEPS.c.call_id == _CALLS.c.id, _STEPS.c.action == StepAction.ENTER)
    .order_by(_STEPS.c.seq.desc())
    .limit(1)
    .scalar_subquery()
)
_CALL_TO_MOVE = (
    select(
        _CALLS.c.id,
        _CALLS.c.agent_id,
        _CALLS.c.wrap_up_ended_at,
        _CALLS.c.current_step,
        _CALLS.c.max_step_reached,
        _CALLS.c.script_version_id,
        _VERSIONS.c.key,
        _VERSIONS.c.version,
        _LAST_ENTERED.label("last_entered"),
    )
    .select_from(_CALLS.outerjoin(_VERSIONS, _VERSIONS.c.id == _CALLS.c.script_version_id))
    .where(_CALLS.c.id == bindparam("call_id"))
    .with_for_update(of=_CALLS)
)
"""A move's locked read: what `open_call` refuses by, the step the call's row
says it is on, its script's key and version (for the parse cache), and the
step of its last `enter` row."""

_CALL_ID = bindparam("call_id", type_=_STEPS.c.call_id.type)
_ENTERED = insert(_STEPS).from_select(
    ["call_id", "seq", "step_number", "action", "via", "agent_id", "at"],
    select(
        _CALL_ID,
        func.coalesce(func.max(_STEPS.c.seq), 0) + 1,
        bindparam("step", type_=_STEPS.c.step_number.type),
        bindparam("action", type_=_STEPS.c.action.type),
        bindparam("via", type_=_STEPS.c.via.type),
        bindparam("agent", type_=_STEPS.c.agent_id.type),
        bindparam("at", type_=_STEPS.c.at.type),
    ).where(_STEPS.c.call_id == _CALL_ID),
)
"""A move's `enter` row, its seq the next after every row of the call's
(moves and the rejection), read by this statement under the call's lock."""

_STEP_ON_CALL = (
    update(_CALLS)
    .where(_CALLS.c.id == _CALL_ID)
    .values(current_step=bindparam("step"), max_step_reached=bindparam("max_step"))
)
_MOVE_WRITTEN = _STEP_ON_CALL.add_cte(_ENTERED.cte("entered"))
"""Both writes of a move in one statement (PostgreSQL; SQLite runs the two)."""


def _move_by_statements(
    session: Session,
    agent_id: int,
    call_id: Any,
    kind: Any,
    to_step: Any,
    now: datetime | None,
) -> dict[str, Any] | None:
    """`move_step` with no ORM object: one locked read, then the `enter` row
    and the call's steps written by statement. None (nothing written, the
    call left locked) when the call's script has not started, its parse is
    not cached, or the call's row and its last `enter` row disagree on the
    step.

    The step to move from is the call's row's: every move writes it with its
    `enter` row, and the locked read sees the row as the last writer left it,
    even after waiting for that writer's lock (PostgreSQL reads the locked
    row again), while the subquery beside it may read the path as it was
    before the wait. So the path only confirms the row: stale, it agrees (the
    step is the same) or sends the move the old way, which reads the path
    afresh. The seq is read by the INSERT itself, after the lock."""
    call = session.execute(_CALL_TO_MOVE, {"call_id": str(call_id or "")}).first()
    refuse_unless_open(agent_id, call_id, call)
    assert call is not None
    _check_kind(kind)
    if call.key is None or call.last_entered is None or call.last_entered != call.current_step:
        return None
    script = scripts_catalog.cached_script(call.script_version_id, call.key, call.version)
    if script is None:
        return None
    path = _moved(
        ScriptPath.standing_at(call.current_step, step_count=len(script.steps)), kind, to_step
    )
    step, max_step = path.current, max(call.max_step_reached or 0, path.current)
    written = {
        "call_id": call.id,
        "step": step,
        "action": StepAction.ENTER,
        "via": kind,
        "agent": agent_id,
        "at": now or utcnow(),
        "max_step": max_step,
    }
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_MOVE_WRITTEN, written)
    else:
        session.execute(_ENTERED, written)
        session.execute(_STEP_ON_CALL, written)
    after_commit.record_event(session, ScriptStepEntered(call_id=call.id, step_number=step))
    return {"call_id": call.id, "step": step, "max_step": max_step}


def _check_kind(kind: Any) -> None:
    if kind not in MOVE_KINDS:
        raise InvalidInput(N_("move next, back or jump"), details={"field": "kind"})


def _moved(path: ScriptPath, kind: str, to_step: Any) -> ScriptPath:
    try:
        if kind == "next":
            return path.next()
        if kind == "back":
            return path.back()
        return path.jump(_int(to_step, "step"))
    except ScriptPathError:
        raise _refused_move(kind, to_step, path.current, path.step_count) from None


def record_rejection(
    session: Session,
    agent_id: int,
    call_id: Any,
    step: Any,
    reason_code: Any,
    reason_text: Any = "",
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The step where the prospect said no, with a reason the script offers at
    that step (`other` takes text). One per call: recording again corrects it."""
    call = open_call(session, agent_id, call_id, lock=True)
    script = scripts_catalog.script_of(script_version_of(session, call))
    number = _int(step, "step")
    try:
        reason = script.step(number).reason(str(reason_code or ""))
    except KeyError:
        raise InvalidInput(
            N_("choose a reason this step offers"), details={"field": "reason_code", "step": number}
        ) from None
    text = str(reason_text or "").strip()[:2000]
    if reason.free_text and not text:
        raise InvalidInput(N_("say in a few words why"), details={"field": "reason_text"})
    row = rejection_of(session, call.id)
    if row is None:
        row = StepOutcome(
            call_id=call.id,
            seq=_last_seq(session, call.id) + 1,
            action=StepAction.REJECT,
            via="reject",
            agent_id=agent_id,
            step_number=number,
        )
        session.add(row)
    row.step_number = number
    row.reason_code = reason.code
    row.reason_text = text or None
    row.at = now or utcnow()
    session.flush()
    return {"call_id": call.id, "step": number, "reason_code": reason.code, "reason_text": text}


def rejection_of(session: Session, call_id: str) -> StepOutcome | None:
    return session.scalar(
        select(StepOutcome).where(
            StepOutcome.call_id == call_id, StepOutcome.action == StepAction.REJECT
        )
    )


def rejection_data(row: StepOutcome | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"step": row.step_number, "reason_code": row.reason_code, "reason_text": row.reason_text}


def _refused_move(kind: str, to_step: Any, current: int | None, step_count: int) -> InvalidInput:
    """The path's refusal in words the agent's language can carry (the script
    engine knows no translations)."""
    details = {"field": "step"}
    if kind == "next":
        return InvalidInput(N_("step %(step)s is the last step"), details=details, step=current)
    if kind == "back":
        return InvalidInput(N_("step 1 is the first step"), details=details)
    return InvalidInput(
        N_("there is no step %(step)s; steps run 1..%(count)s"),
        details=details,
        step=to_step,
        count=step_count,
    )


def _int(value: Any, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            N_("%(field)s must be a number"), details={"field": field}, field=field
        ) from None
