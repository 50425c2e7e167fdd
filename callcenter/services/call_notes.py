"""The agent's note on the call, saved as they type."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from callcenter.errors import N_, InvalidInput
from callcenter.models import Note
from callcenter.services.call_access import open_call

MAX_NOTES = 10_000


def save_notes(session: Session, agent_id: int, call_id: Any, text: Any) -> Note | None:
    """The call's note, saved as the agent types (a closed tab loses nothing);
    once the call is wrapped up its note and rejection are the record. Notes
    cleared are no note: the customer's history shows no blank entry."""
    call = open_call(session, agent_id, call_id)
    body = checked_notes(text)
    note = call_note(session, call.id, agent_id)
    if not body.strip():
        if note is not None:
            session.delete(note)
            session.flush()
        return None
    if note is None:
        note = Note(customer_id=call.customer_id, call_id=call.id, author_id=agent_id, text=body)
        session.add(note)
    else:
        note.text = body
    session.flush()
    return note


def final_notes(session: Session, agent_id: int, call_id: Any, text: Any) -> str:
    """The call's note as its wrap-up closes it: `text` sent replaces the
    saved note (empty clears it); None (nothing sent: an API client, a
    screen that sends none) keeps the note saved as the agent typed."""
    if text is not None:
        saved = save_notes(session, agent_id, call_id, text)
        if saved is not None:
            return saved.text
    note = call_note(session, open_call(session, agent_id, call_id).id, agent_id)
    return note.text if note is not None else ""


def checked_notes(text: Any) -> str:
    """The notes as typed; longer than MAX_NOTES is refused, never cut unseen."""
    body = str(text or "")
    if len(body) > MAX_NOTES:
        raise InvalidInput(
            N_("the notes are too long: at most %(limit)s characters (%(typed)s typed)"),
            details={"field": "notes", "limit": MAX_NOTES},
            limit=MAX_NOTES,
            typed=len(body),
        )
    return body


# Built once: every disposition asks it (bench/call_events).
_CALL_NOTE = (
    select(Note)
    .where(Note.call_id == bindparam("call_id"), Note.author_id == bindparam("agent_id"))
    .order_by(Note.id)
)


def call_note(session: Session, call_id: str, agent_id: int) -> Note | None:
    return session.scalar(_CALL_NOTE, {"call_id": call_id, "agent_id": agent_id})
