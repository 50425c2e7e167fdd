"""Retrying a unit of work that lost SQLite's single write lock.

In WAL mode a transaction that has read and then wants to write fails at
once with "database is locked" when another connection committed in
between (its snapshot is stale; waiting would not help). The whole unit of
work is rolled back and run again; PostgreSQL never gets here."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
ATTEMPTS = 6


def is_lock_conflict(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError) and "database is locked" in str(exc).lower()


def retrying(rollback: Callable[[], None]) -> Callable[[F], F]:
    """Run the decorated unit of work again (after `rollback`) when it lost the lock."""

    def wrap(work: F) -> F:
        @functools.wraps(work)
        def run(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    return work(*args, **kwargs)
                except OperationalError as exc:
                    if not is_lock_conflict(exc) or attempt == ATTEMPTS:
                        raise
                    log.debug("%s lost the SQLite write lock; retry %d", work.__name__, attempt)
                    rollback()
                    time.sleep(0.02 * attempt)
            raise AssertionError("unreachable")

        return run  # type: ignore[return-value]

    return wrap
