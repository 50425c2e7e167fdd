"""The agent's state machine: ready, paused (with a reason), reserved for a
call, on a call, in wrap-up, logged out. Every change appends an
`agent_state_changes` row and tells the agent's own screen and the
supervisors of the campaign, after commit.

Ready means "call my phone and give me calls": the dialer calls the agent's
phone and offers them calls only once it answers (`phone_legs`). An agent
whose phone leg is lost is never made ready by the system: they land in the
`phone_lost` pause instead, until they press Ready again."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any, TypeVar, cast

from sqlalchemy import Row, String, Table, bindparam, case, exists, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from callcenter import after_commit, row_locks
from callcenter.db import utcnow
from callcenter.domain_events import AgentStateRecorded
from callcenter.errors import N_, Forbidden, InvalidInput, NotFound
from callcenter.models import (
    AgentStateChange,
    AgentStatus,
    Call,
    Campaign,
    CampaignStatus,
    PauseReason,
    User,
    campaign_teams,
)
from callcenter.realtime import emit_after_commit, push_after_commit
from callcenter.realtime.coalesce import AGENTS
from callcenter.realtime.rooms import agent_room, campaign_supervisors_room
from callcenter.services import campaigns
from callcenter.states import (
    AFTER_WRAP_UP,
    AGENT_TRANSITIONS,
    PHONE_LEG_TRANSITIONS,
    AgentRequest,
    AgentState,
    PhoneLegState,
    Role,
    advance,
    after_reservation,
    after_wrap_up,
    decide_request,
)

T = TypeVar("T")

STATE_CHANGED = "agent.state_changed"
MAX_PHONE_LENGTH = 255
PHONE_LOST = "phone_lost"
"""The system pause reason of an agent whose phone leg failed or dropped."""
WRAP_UP_TIMEOUT = "wrap_up_timeout"
"""The system pause reason of an agent whose wrap-up limit passed."""
SYSTEM_PAUSES = {
    PHONE_LOST: ("تلفن قطع شد", "Phone lost"),
    WRAP_UP_TIMEOUT: ("پایان وقت جمع‌بندی", "Wrap-up timed out"),
}

_EXTENSION = re.compile(r"\+?[0-9*#]{1,32}")
_SIP_URI = re.compile(
    r"sips?:"
    r"(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+@)?"  # user
    r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"  # host
    r"(?::(?P<port>[0-9]{1,5}))?"
    r"(?:;[A-Za-z0-9\-_.!~*'()%]+(?:=[A-Za-z0-9\-_.!~*'()%\[\]:]+)?)*",  # parameters
    re.IGNORECASE,
)


def agent_user(session: Session, agent_id: int) -> User:
    user = session.get(User, agent_id)
    if user is None or user.role is not Role.AGENT:
        raise NotFound(N_("no such agent"), details={"agent_id": agent_id})
    return user


# Built once: a statement built on every call costs its construction and its
# cache key each time (bench/call_events).
_STATUS = select(AgentStatus).where(AgentStatus.agent_id == bindparam("agent_id"))
_LOCKED_STATUS = _STATUS.with_for_update().execution_options(populate_existing=True)
# Append-only and read by nothing later in the transaction: one INSERT, not an
# ORM object (its instance state and unit-of-work flush cost more than the row).
_CHANGES = cast(Table, AgentStateChange.__table__)
_RECORD_CHANGE = insert(_CHANGES).returning(_CHANGES.c.id)


def status_of(session: Session, agent_id: int, *, lock: bool = False) -> AgentStatus:
    """The agent's current state row, created (logged out) on first use.
    `lock`: locked for the rest of the transaction (read once per transaction)."""
    if lock and row_locks.held(session, AgentStatus, agent_id):
        held = session.get(AgentStatus, agent_id)
        if held is not None:
            return held
    # what the session read before the lock may be stale: read it afresh
    status = session.scalar(_LOCKED_STATUS if lock else _STATUS, {"agent_id": agent_id})
    if status is None:
        status = AgentStatus(
            agent_id=agent_id,
            state=AgentState.LOGGED_OUT,
            since=utcnow(),
            phone_leg=PhoneLegState.DOWN,
        )
        session.add(status)
        session.flush()
    if lock:
        row_locks.mark(session, AgentStatus, agent_id)
    return status


def assigned_campaigns(session: Session, agent: User) -> list[Campaign]:
    """Active campaigns the agent's team works on."""
    if agent.team_id is None:
        return []
    query = (
        select(Campaign)
        .join(campaign_teams, campaign_teams.c.campaign_id == Campaign.id)
        .where(campaign_teams.c.team_id == agent.team_id)
        .where(Campaign.status == CampaignStatus.ACTIVE)
        .order_by(Campaign.name)
    )
    return list(session.scalars(query))


def pause_reasons(session: Session) -> list[PauseReason]:
    """The reasons a person may choose (system reasons are set by the product)."""
    query = (
        select(PauseReason)
        .where(PauseReason.is_active.is_(True), PauseReason.is_system.is_(False))
        .order_by(PauseReason.position, PauseReason.code)
    )
    return list(session.scalars(query))


BROWSER_PHONE = "browser"
"""The phone the agent picks to talk through the agent screen itself."""
_BROWSER_PHONE_USER = re.compile(r"^sips?:agent-\d+@", re.IGNORECASE)


def phone_address(
    value: Any, browser_phone: str | None = None, allowed_hosts: Sequence[str] | None = None
) -> str:
    """The agent's phone as the dialer will call it: a SIP URI
    (sip:1001@pbx.example.com:5060;transport=udp) or an extension (1001),
    whole; "1001@pbx" is taken as sip:1001@pbx. "browser" is the agent's own
    browser phone (`browser_phone`, its URI, where one is offered); another
    agent's browser phone is never accepted. With `allowed_hosts`, a SIP
    address must be on one of them (customer audio goes nowhere else)."""
    text = str(value or "").strip()
    if text == BROWSER_PHONE:
        if browser_phone is None:
            raise InvalidInput(
                N_("the browser phone is not available here; enter a SIP address or extension"),
                details={"field": "phone"},
            )
        return browser_phone
    if browser_phone is not None and text == browser_phone:
        return text
    if _BROWSER_PHONE_USER.match(text):
        raise InvalidInput(
            N_("that is a browser phone's address; choose the browser phone instead"),
            details={"field": "phone"},
        )
    if not text:
        raise InvalidInput(
            N_("enter your phone's SIP address or extension"), details={"field": "phone"}
        )
    if len(text) > MAX_PHONE_LENGTH:
        raise InvalidInput(
            N_("the phone address is too long (at most %(count)s characters)"),
            details={"field": "phone"},
            count=MAX_PHONE_LENGTH,
        )
    if _EXTENSION.fullmatch(text):
        return text
    if "@" in text and not text.lower().startswith(("sip:", "sips:")):
        text = f"sip:{text}"
    match = _SIP_URI.fullmatch(text)
    if match is None or not 0 < int(match.group("port") or 5060) <= 65535:
        raise InvalidInput(
            N_(
                "the phone must be a SIP address such as sip:1001@pbx.example.com, "
                "or an extension such as 1001"
            ),
            details={"field": "phone"},
        )
    if allowed_hosts is not None and not host_allowed(match.group("host"), allowed_hosts):
        raise InvalidInput(
            N_(
                "calls go only to the browser phone, extensions and the phone systems your "
                "administrator allowed; this address is not one of them"
            ),
            details={"field": "phone"},
        )
    return text


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    """A host name (exactly, or under "*.domain") or an address inside one of
    the allowed networks (CIDR)."""
    host = host.strip("[]").lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in allowed:
        entry = entry.lower()
        if "/" in entry:
            if address is not None and address in ipaddress.ip_network(entry, strict=False):
                return True
        elif entry.startswith("*."):
            if host.endswith(entry[1:]):
                return True
        elif host == entry:
            return True
    return False


def join_campaign(
    session: Session,
    agent_id: int,
    campaign_id: Any,
    phone: Any,
    *,
    browser_phone: str | None = None,
    allowed_hosts: Sequence[str] | None = None,
    now: datetime | None = None,
) -> AgentStatus:
    """Pick the campaign to work on and register the phone leg (SIP URI,
    extension, or "browser" for `browser_phone`). Allowed only while not on a call."""
    agent = agent_user(session, agent_id)
    try:
        wanted = int(campaign_id)
    except (TypeError, ValueError):
        raise InvalidInput(N_("choose a campaign"), details={"field": "campaign_id"}) from None
    address = phone_address(phone, browser_phone, allowed_hosts)
    if wanted not in {campaign.id for campaign in assigned_campaigns(session, agent)}:
        raise Forbidden(
            N_("this campaign is not assigned to your team"), details={"campaign_id": wanted}
        )
    status = status_of(session, agent_id, lock=True)
    if status.state not in (AgentState.LOGGED_OUT, AgentState.PAUSED, AgentState.READY):
        raise InvalidInput(N_("finish the current call before changing campaign"))
    agent.sip_uri = address
    status.campaign_id = wanted
    session.flush()
    announce(session, status, reason=None)
    return status


def go_ready(session: Session, agent_id: int, *, now: datetime | None = None) -> AgentStatus:
    """F2. On a call, Ready withdraws a pause asked for during it."""
    status = status_of(session, agent_id, lock=True)
    if status.campaign_id is None:
        raise InvalidInput(N_("choose a campaign and register your phone first"))
    _refuse_inactive(session, agent_id)
    target = _decide(session, status, AgentRequest.READY)
    if status.pause_forced_by_id is None:
        status.pause_after_call = None
    if target is not AgentState.READY or status.state is AgentState.READY:
        session.flush()
        announce(session, status, reason=None)
        return status
    if status.phone_leg is PhoneLegState.LOST:
        # Pressing Ready after a lost phone is "try again": the dialer calls it anew.
        advance(PHONE_LEG_TRANSITIONS, status.phone_leg, PhoneLegState.DOWN, subject=_leg(agent_id))
        status.phone_leg = PhoneLegState.DOWN
        status.phone_leg_detail = None
    return change_state(session, agent_id, AgentState.READY, now=now)


def pause(
    session: Session,
    agent_id: int,
    reason_code: Any,
    *,
    now: datetime | None = None,
    forced_by: User | None = None,
) -> AgentStatus:
    """A pause with a reason; asked for on a call or in wrap-up, it is where
    the wrap-up ends (instead of Ready), so no call is placed for the agent.
    A supervisor's (`forced_by`) waiting pause stays whatever the agent presses."""
    reason = session.get(PauseReason, str(reason_code or ""))
    if reason is None or not reason.is_active or reason.is_system:
        raise InvalidInput(N_("choose a pause reason"), details={"field": "reason"})
    status = status_of(session, agent_id, lock=True)
    if _decide(session, status, AgentRequest.PAUSE) is AFTER_WRAP_UP:
        if forced_by is not None or status.pause_forced_by_id is None:
            status.pause_after_call = reason.code
            status.pause_forced_by_id = forced_by.id if forced_by is not None else None
        session.flush()
        announce(session, status, reason=None)
        return status
    status.pause_after_call = None
    return change_state(session, agent_id, AgentState.PAUSED, reason=reason.code, now=now)


def log_out(session: Session, agent_id: int, *, now: datetime | None = None) -> AgentStatus:
    """F4: leave the queue. Refused on a call and before the disposition."""
    status = status_of(session, agent_id, lock=True)
    if status.state is AgentState.LOGGED_OUT:
        return status
    _decide(session, status, AgentRequest.LEAVE)
    return change_state(session, agent_id, AgentState.LOGGED_OUT, now=now)


def owes_disposition(session: Session, status: AgentStatus) -> bool:
    """In wrap-up of a call that has no disposition yet."""
    if status.state is not AgentState.WRAP_UP or status.current_call_id is None:
        return False
    call = session.get(Call, status.current_call_id)
    return call is not None and call.wrap_up_ended_at is None


def call_coming(status: AgentStatus) -> bool:
    """Reserved for a call placed or being connected (not a preview lead on screen)."""
    return status.state is AgentState.RESERVED and status.current_call_id is not None


def _decide(session: Session, status: AgentStatus, request: AgentRequest) -> AgentState | None:
    return decide_request(
        status.state,
        request,
        owes_disposition=owes_disposition(session, status),
        call_coming=call_coming(status),
    )


def _refuse_inactive(session: Session, agent_id: int) -> None:
    user = session.get(User, agent_id)
    if user is None or not user.is_active:
        raise Forbidden(N_("this account is deactivated"))


def end_wrap_up(
    session: Session,
    agent_id: int,
    call_id: str,
    *,
    auto_ready: bool,
    timed_out: bool = False,
    now: datetime | None = None,
) -> AgentStatus:
    """The call's wrap-up is over (its disposition is in): the agent goes
    where `after_wrap_up` says; a wrap-up that ran out never ends in Ready
    (the agent is not there to take a call) but in the wrap_up_timeout pause."""
    status = status_of(session, agent_id, lock=True)
    if status.state is not AgentState.WRAP_UP or status.current_call_id not in (None, call_id):
        return status
    user = session.get(User, agent_id)
    leaving = status.log_out_after_call or user is None or not user.is_active
    target = after_wrap_up(
        auto_ready=auto_ready and not timed_out,
        pause_after_call=status.pause_after_call or (WRAP_UP_TIMEOUT if timed_out else None),
        log_out_after_call=leaving,
    )
    status.pause_after_call = None
    status.pause_forced_by_id = None
    status.log_out_after_call = False
    if target is None:
        status.current_call_id = None
        session.flush()
        return status
    to_state, reason = target
    return change_state(session, agent_id, to_state, reason=reason, call_id=call_id, now=now)


def release_reserved(
    session: Session,
    agent_id: int,
    *,
    call_id: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> AgentStatus:
    """An agent held for a call that never reached them goes back where
    `after_reservation` says (a manual dial from a pause returns to it)."""
    status = status_of(session, agent_id, lock=True)
    to_state, pause_reason = after_reservation(status.pause_after_call)
    return change_state(
        session, agent_id, to_state, reason=pause_reason or reason, call_id=call_id, now=now
    )


_STATUS_ROWS = cast(Table, AgentStatus.__table__)
_CALL_WRITTEN = exists().where(Call.id == bindparam("call_id", type_=String))


def _pointed_at(column: Any, key: Any, pointer: str) -> Any:
    """`column` of the row the agent's row points at (by `pointer`), as a
    subquery of its RETURNING."""
    return select(column).where(key == _STATUS_ROWS.c[pointer]).scalar_subquery().label(column.key)


# What the state payload shows of the agent's user, campaign and pause, by
# the names `_payload_facts` reads (a campaign's status is never NULL: None
# is no campaign), as the agent's UPDATE returns them.
_RETURNED_FACTS = (
    _pointed_at(User.sip_uri, User.id, "agent_id"),
    _pointed_at(Campaign.status, Campaign.id, "campaign_id"),
    _pointed_at(Campaign.timezone, Campaign.id, "campaign_id"),
    _pointed_at(Campaign.calling_windows, Campaign.id, "campaign_id"),
    _pointed_at(Campaign.holidays, Campaign.id, "campaign_id"),
    _pointed_at(PauseReason.limit_minutes, PauseReason.code, "pause_reason"),
)


# READY -> RESERVED as `change_state` writes it, in one guarded UPDATE: it
# takes the row lock as the locked read did, and under a change committed
# while it waited (PostgreSQL re-checks the WHERE on the newest row) it
# finds the agent no longer ready and writes nothing. It returns the payload's
# facts, so the reservation reads nothing else (no ORM row at all).
_RESERVE = (
    update(_STATUS_ROWS)
    .where(
        _STATUS_ROWS.c.agent_id == bindparam("reserved_agent"),
        _STATUS_ROWS.c.state == AgentState.READY,
    )
    .values(
        state=AgentState.RESERVED,
        since=bindparam("at"),
        pause_reason=None,
        # a call not written yet is set by on_connected, as change_state leaves it
        current_call_id=case(
            (_CALL_WRITTEN, bindparam("call_id", type_=String)),
            else_=_STATUS_ROWS.c.current_call_id,
        ),
    )
    .returning(
        _STATUS_ROWS.c.agent_id,
        _STATUS_ROWS.c.version,
        _STATUS_ROWS.c.campaign_id,
        _STATUS_ROWS.c.state,
        _STATUS_ROWS.c.pause_reason,
        _STATUS_ROWS.c.current_call_id,
        _STATUS_ROWS.c.phone_leg,
        _STATUS_ROWS.c.phone_leg_detail,
        _STATUS_ROWS.c.pause_after_call,
        _STATUS_ROWS.c.pause_forced_by_id,
        *_RETURNED_FACTS,
    )
)


def reserve_ready(
    session: Session, agent_id: int, *, call_id: str | None, reason: str | None, now: datetime
) -> bool:
    """`change_state(RESERVED)` of an agent who is ready (False, nothing
    written, if they are not), with `call_id` only if its row is written, in
    two statements. Same rows, domain event and pushes as change_state."""
    advance(AGENT_TRANSITIONS, AgentState.READY, AgentState.RESERVED, subject=f"agent {agent_id}")
    keys = {"reserved_agent": agent_id, "call_id": call_id, "at": now}
    row = session.execute(_RESERVE, keys).first()
    if row is None:
        return False
    row_locks.mark(session, AgentStatus, agent_id)
    recorded = _record_change(
        session,
        agent_id=agent_id,
        campaign_id=row.campaign_id,
        from_state=AgentState.READY,
        to_state=AgentState.RESERVED,
        reason=reason,
        call_id=call_id if call_id is not None and row.current_call_id == call_id else None,
        at=now,
    )
    after_commit.record_event(session, recorded)
    status = SimpleNamespace(**row._mapping, since=now)
    campaign = row if row.status is not None else None
    data = _payload(status, row.sip_uri, campaign, None, AgentState.READY)
    data["reason"] = reason
    _send(session, data)
    return True


def change_state(
    session: Session,
    agent_id: int,
    to_state: AgentState,
    *,
    reason: str | None = None,
    call_id: str | None = None,
    now: datetime | None = None,
) -> AgentStatus:
    """Move the agent through AGENT_TRANSITIONS and record the change. A
    move to READY of an agent whose phone leg is lost (the end of a wrap-up,
    a call gone before it was connected) is the phone_lost pause instead."""
    now = now or utcnow()
    status = status_of(session, agent_id, lock=True)
    from_state = status.state
    if to_state is AgentState.READY and status.phone_leg is PhoneLegState.LOST:
        to_state, reason = AgentState.PAUSED, PHONE_LOST
    if to_state is AgentState.PAUSED and reason in SYSTEM_PAUSES:
        _ensure_system_reason(session, reason)
    advance(AGENT_TRANSITIONS, from_state, to_state, subject=f"agent {agent_id}")
    recorded = _record_change(
        session,
        agent_id=agent_id,
        campaign_id=status.campaign_id,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        call_id=call_id,
        at=now,
    )
    if from_state is AgentState.PAUSED and to_state is AgentState.ON_CALL:
        status.pause_after_call = status.pause_reason
    status.state = to_state
    status.since = now
    status.pause_reason = reason if to_state is AgentState.PAUSED else None
    if to_state in (AgentState.READY, AgentState.PAUSED, AgentState.LOGGED_OUT):
        status.current_call_id = None
        status.pause_after_call = None
        status.pause_forced_by_id = None
        status.log_out_after_call = False
    elif call_id is not None:
        status.current_call_id = call_id
    facts = _write(session, status)
    after_commit.record_event(session, recorded)
    announce(session, status, reason=reason, from_state=from_state, facts=facts)
    return status


_WRITTEN = (
    "state",
    "since",
    "campaign_id",
    "pause_reason",
    "current_call_id",
    "phone_leg_id",
    "phone_leg",
    "phone_leg_detail",
    "pause_after_call",
    "pause_forced_by_id",
    "log_out_after_call",
)
# (a bind parameter may not take a SET column's name)
_WRITE_STATUS = (
    update(_STATUS_ROWS)
    .where(_STATUS_ROWS.c.agent_id == bindparam("written_agent"))
    .values({name: bindparam(f"new_{name}") for name in _WRITTEN})
    .returning(_STATUS_ROWS.c.version)
)
_WRITE_STATUS_AND_FACTS = _WRITE_STATUS.returning(*_RETURNED_FACTS)


def _write(session: Session, status: AgentStatus) -> Row[Any] | None:
    """The agent's locked row written from the session's copy (read under the
    lock, so it is the row plus this transaction's edits) in one UPDATE
    built once, instead of the ORM's flush of it, which cost more than the
    statement; the copy then holds what the row holds, its version too.
    Returns the state payload's facts when the session lacks a row they come
    from (so the payload reads nothing more), else None."""
    values = {name: getattr(status, name) for name in _WRITTEN}
    keys = {f"new_{name}": value for name, value in values.items()}
    keys["written_agent"] = status.agent_id
    with_facts = not _facts_held(session, status)
    row = session.execute(_WRITE_STATUS_AND_FACTS if with_facts else _WRITE_STATUS, keys).one()
    for name, value in values.items():
        set_committed_value(status, name, value)
    set_committed_value(status, "version", row.version)
    return row if with_facts else None


def _record_change(
    session: Session,
    *,
    agent_id: int,
    campaign_id: int | None,
    from_state: AgentState,
    to_state: AgentState,
    reason: str | None,
    call_id: str | None,
    at: datetime,
) -> AgentStateRecorded:
    """Write the `agent_state_changes` row; the domain event of it (its id the row's)."""
    if session.new:
        session.flush()  # the rows it points at (a call opened in this transaction)
    row = {
        "agent_id": agent_id,
        "campaign_id": campaign_id,
        "from_state": from_state,
        "to_state": to_state,
        "reason": reason,
        "call_id": call_id,
        "at": at,
    }
    row_id = session.execute(_RECORD_CHANGE, row).scalar_one()
    return AgentStateRecorded(
        event_id=f"agent-state-change:{row_id}",
        occurred_at=at,
        agent_id=agent_id,
        campaign_id=campaign_id,
        from_state=str(from_state),
        to_state=str(to_state),
        reason=reason,
        call_id=call_id,
    )


def _ensure_system_reason(session: Session, code: str) -> None:
    """Migrations 0004 and 0006 create the rows; a database whose rows were
    emptied since gets them back."""
    if session.get(PauseReason, code) is None:
        label_fa, label_en = SYSTEM_PAUSES[code]
        session.add(
            PauseReason(
                code=code, label_fa=label_fa, label_en=label_en, is_active=True, is_system=True
            )
        )
        session.flush()


def _leg(agent_id: int) -> str:
    return f"phone leg of agent {agent_id}"


# The payload's facts of the rows a session does not hold already, in one
# statement of the columns it shows: loading the whole users and campaigns
# rows (ORM objects of ~20 and ~30 columns) was most of a change's reads.
_PAYLOAD_FACTS = (
    select(
        User.sip_uri,
        Campaign.status,
        Campaign.timezone,
        Campaign.calling_windows,
        Campaign.holidays,
        PauseReason.limit_minutes,
    )
    .select_from(User)
    .outerjoin(Campaign, Campaign.id == bindparam("campaign_id"))
    .outerjoin(PauseReason, PauseReason.code == bindparam("pause_reason"))
    .where(User.id == bindparam("agent_id"))
)


def state_payload(
    session: Session,
    status: AgentStatus,
    *,
    from_state: AgentState | None = None,
    facts: Row[Any] | None = None,
) -> dict[str, Any]:
    """The agent's state as their screen and the floor show it. `version`
    orders payloads: flushed first, so it is the row's number as written.
    `facts`: those the agent's UPDATE returned (`_write`)."""
    session.flush()
    phone, campaign, limit = _payload_facts(session, status, facts)
    return _payload(status, phone, campaign, limit, from_state)


def _payload(
    status: Any, phone: str | None, campaign: Any, limit: int | None, from_state: AgentState | None
) -> dict[str, Any]:
    """`status`: the AgentStatus, or its columns by the same names."""
    return {
        "agent_id": status.agent_id,
        "version": status.version,
        "campaign_id": status.campaign_id,
        "campaign_status": str(campaign.status) if campaign is not None else None,
        "calling_hours": campaigns.calling_hours(campaign, utcnow()) if campaign else None,
        "state": str(status.state),
        "from_state": str(from_state) if from_state else None,
        "since": status.since.isoformat(),
        "pause_reason": status.pause_reason,
        "pause_limit_minutes": limit,
        "call_id": status.current_call_id,
        "phone": phone,
        "phone_leg": str(status.phone_leg),
        "phone_leg_detail": status.phone_leg_detail,
        "pause_after_call": status.pause_after_call,
        "pause_forced": status.pause_forced_by_id is not None,
    }


def _payload_facts(
    session: Session, status: AgentStatus, facts: Row[Any] | None
) -> tuple[str | None, Any, int | None]:
    """The agent's phone, their campaign (its row or its calling-hours
    columns and status) and their pause's limit: what the session holds of
    them as it holds it, the rest from `facts` or one read of those columns."""
    agent: Any = _held(session, User, status.agent_id)
    campaign: Any = _held(session, Campaign, status.campaign_id)
    reason: Any = _held(session, PauseReason, status.pause_reason)
    if not _facts_held(session, status, agent, campaign, reason):
        if facts is None:
            keys = {
                "agent_id": status.agent_id,
                "campaign_id": status.campaign_id,
                "pause_reason": status.pause_reason or None,
            }
            facts = session.execute(_PAYLOAD_FACTS, keys).first()
        if facts is not None:
            agent = agent or facts
            if campaign is None and facts.status is not None:
                campaign = facts
            reason = reason or facts
    return (
        agent.sip_uri if agent is not None else None,
        campaign,
        reason.limit_minutes if reason is not None and status.pause_reason else None,
    )


def _facts_held(
    session: Session,
    status: AgentStatus,
    agent: Any = None,
    campaign: Any = None,
    reason: Any = None,
) -> bool:
    """The session holds every row the payload's facts come from."""
    held = session.identity_map
    return (
        (agent is not None or identity_key(User, status.agent_id) in held)
        and (
            status.campaign_id is None
            or campaign is not None
            or identity_key(Campaign, status.campaign_id) in held
        )
        and (
            not status.pause_reason
            or reason is not None
            or identity_key(PauseReason, status.pause_reason) in held
        )
    )


def _held(session: Session, model: type[T], key: Any) -> T | None:
    """The session's copy of a row (as `session.get` gives it), or None
    without a read when the session holds none."""
    if key is None or identity_key(model, key) not in session.identity_map:
        return None
    return session.get(model, key)


def announce(
    session: Session,
    status: AgentStatus,
    *,
    reason: str | None,
    from_state: AgentState | None = None,
    facts: Row[Any] | None = None,
) -> None:
    data = state_payload(session, status, from_state=from_state, facts=facts)
    data["reason"] = reason
    _send(session, data)


def _send(session: Session, data: dict[str, Any]) -> None:
    emit_after_commit(session, STATE_CHANGED, data, room=agent_room(data["agent_id"]))
    if data["campaign_id"] is not None:
        # The supervisors' floor gets it in the room's next coalesced delta;
        # the agent's own screen (above) does not wait.
        room = campaign_supervisors_room(data["campaign_id"])
        push_after_commit(session, room, AGENTS, data)
