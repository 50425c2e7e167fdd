"""Which call an agent may read or write: their own, and for writes one still
on their screen (not yet wrapped up)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from callcenter.errors import N_, Conflict, Forbidden, NotFound
from callcenter.models import Call

_LOCKED_CALL = (
    select(Call)
    .where(Call.id == bindparam("call_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
"""Built once: every script move and booking locks its call."""


def own_call(session: Session, agent_id: int, call_id: Any, *, lock: bool = False) -> Call:
    """The call, if it is this agent's; an agent never reads another's call.
    `lock` reads it afresh, locked for the rest of the transaction."""
    key = str(call_id or "")
    call = session.scalar(_LOCKED_CALL, {"call_id": key}) if lock else session.get(Call, key)
    _refuse_unless_own(agent_id, call_id, call)
    assert call is not None
    return call


def open_call(session: Session, agent_id: int, call_id: Any, *, lock: bool = False) -> Call:
    """The agent's call that is still on screen (not yet wrapped up); `lock`
    serialises writers of the same call (its script path, its booking)."""
    call = own_call(session, agent_id, call_id, lock=lock)
    _refuse_if_wrapped_up(call)
    return call


def refuse_unless_open(agent_id: int, call_id: Any, call: Any) -> None:
    """`open_call`'s refusals for a call read as a row of columns (`id`,
    `agent_id`, `wrap_up_ended_at`; None when there is no such call)."""
    _refuse_unless_own(agent_id, call_id, call)
    _refuse_if_wrapped_up(call)


def _refuse_unless_own(agent_id: int, call_id: Any, call: Any) -> None:
    if call is None:
        raise NotFound(N_("no such call"), details={"call_id": call_id})
    if call.agent_id != agent_id:
        raise Forbidden(N_("this call is not yours"), details={"call_id": call.id})


def _refuse_if_wrapped_up(call: Any) -> None:
    if call.wrap_up_ended_at is not None:
        raise Conflict(N_("this call is already wrapped up"), details={"call_id": call.id})
