"""Forget bus events applied long ago: `processed_events` (one row per event
and handler, about five per call attempt) would otherwise grow for ever.

A row is only needed while its event can be delivered again. On the Redis
bus (callcenter.bus_redis) that is: a message left unacknowledged is claimed
by another member after `claim_idle_ms` (30 s) and dead-lettered after
`max_deliveries` (5) tries; a handler that cannot reach its database retries
for `retry_for_s` (120 s); a publisher sends again what Redis lost for
`keep_for_s` (600 s). Ten minutes at most, then, while any consumer runs;
longer only when every consumer is down with events read and not
acknowledged, and then for as long as they stay down. HORIZON keeps a day:
144 times the longest bounded window, and a day of consumer outage. (A week
would hold ~50 million rows at 17 attempts/s: docs/scaling.md.)"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from callcenter.db import Database
from callcenter.models import ProcessedEvent

log = logging.getLogger(__name__)

HORIZON = timedelta(days=1)
BATCH = 10_000
# At 17 attempts/s (~85 rows/s) a run every 5 minutes has ~26,000 rows to
# delete; at ten times that, ~255,000. A run stops at a million.
MAX_BATCHES = 100


def prune_batch(
    session: Session, *, now: datetime, horizon: timedelta = HORIZON, batch: int = BATCH
) -> int:
    """Delete up to `batch` of the oldest rows applied before now - horizon."""
    oldest = (
        select(ProcessedEvent.event_id, ProcessedEvent.handler)
        .where(ProcessedEvent.processed_at < now - horizon)
        .order_by(ProcessedEvent.processed_at)
        .limit(batch)
    )
    result = session.execute(
        delete(ProcessedEvent)
        .where(tuple_(ProcessedEvent.event_id, ProcessedEvent.handler).in_(oldest))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def prune(
    database: Database,
    *,
    now: datetime,
    horizon: timedelta = HORIZON,
    batch: int = BATCH,
    max_batches: int = MAX_BATCHES,
) -> int:
    """Batches of `batch` rows, each in its own short transaction (so the
    consumers' inserts never wait long), until none is left or `max_batches`."""
    deleted = 0
    for _ in range(max_batches):
        with database.unit_of_work() as session:
            done = prune_batch(session, now=now, horizon=horizon, batch=batch)
        deleted += done
        if done < batch:
            break
    if deleted:
        log.info("processed_events: pruned %d rows applied before %s", deleted, now - horizon)
    return deleted
