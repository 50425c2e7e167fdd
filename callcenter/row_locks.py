"""Rows the current transaction has locked (SELECT ... FOR UPDATE). Asked for
again in the same transaction, such a row is the one the session holds: no
other transaction can have changed it, so a second round trip adds nothing.
Forgotten whenever a transaction or a SAVEPOINT ends (a savepoint rolled
back releases the locks taken inside it). A flush's own inner transaction
ends too, and changes nothing here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, SessionTransaction

_LOCKED = "cc_locked_rows"


def held(session: Session, model: type, key: Any) -> bool:
    return (model, key) in session.info.get(_LOCKED, ())


def mark(session: Session, model: type, key: Any) -> None:
    session.info.setdefault(_LOCKED, set()).add((model, key))


def forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None or transaction.nested:
        session.info.pop(_LOCKED, None)
