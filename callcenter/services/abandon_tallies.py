"""The pacer's abandon tallies, with the settled past counted once.

`pacing_log.abandon_tallies` counts today's and the rolling window's live
answers and abandons over every call of both ranges; the pacer asks each
second, and a campaign at 6 attempts/s has ~15 million calls in 30 days.
`RollingTallies` returns the same two counts, exactly (the abandon rate is a
legal limit): the calls of each past minute (UTC) are counted once, when none
of them can change what it counts for any more, and the counts are kept in
the process; each tick adds up the kept minutes inside each range and counts
from the database only the rest: the part of a range before its first whole
minute, the minutes not settled yet, and the last `SETTLE_AFTER`.

When a call's part is settled. A call counts by its direction, `answered_at`
and `outcome` (`metrics.LIVE_ANSWER`, `metrics.ABANDONED`). They are written
while the call is up (`calls.on_answered`, `_connect`, `_end`, and
`call_recovery` ending a call left open, all on calls not ended). After the
end, only the agent's disposition rewrites one: an answering machine that
reached the agent becomes outcome `machine`, while the call is the agent's
and its wrap-up has not ended (`dispositions.set_disposition`). `OPEN` holds
exactly the calls for which either can still happen and change the counts;
a call outside it stays outside and counts the same for good. A minute is
kept once it is `SETTLE_AFTER` old and the database, asked before its
calls are counted, has no open call in it; a minute with one is counted
afresh each tick until it has none. The partial index `ix_calls_open` holds
the open calls, so asking is cheap.

`SETTLE_AFTER` is for the one way a calls row appears after its dial: the
dialer writes the row before the INVITE (within the tick), and only when
that write fails does the consumer that applies `call.dialing` write it, as
late as the event stream is behind. A row written later than that, in a
minute already kept, would be missed until the dialer restarts (its kept
minutes start empty)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Executable, and_, bindparam, literal, or_, select, text, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from callcenter import metrics
from callcenter.errors import N_, NotFound
from callcenter.models import Call, Campaign
from callcenter.models.calls import OPEN_CALLS_SQL
from callcenter.services.pacing_log import AbandonCount

MINUTE = timedelta(minutes=1)
SETTLE_AFTER = timedelta(minutes=5)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OPEN = text(f"({OPEN_CALLS_SQL})")


def minute_of(at: datetime) -> int:
    return (at - EPOCH) // MINUTE


def start_of(minute: int) -> datetime:
    return EPOCH + minute * MINUTE


def first_whole_minute(at: datetime) -> int:
    minute = minute_of(at)
    return minute if start_of(minute) == at else minute + 1


@dataclass
class _Total:
    """The kept minutes' counts from minute `since` on."""

    since: int
    live_answers: int = 0
    abandoned: int = 0

    def add(self, minute: int, count: tuple[int, int], sign: int = 1) -> None:
        if minute >= self.since:
            self.live_answers += sign * count[0]
            self.abandoned += sign * count[1]

    def move_to(self, since: int, kept: dict[int, tuple[int, int]]) -> None:
        if since == self.since:
            return
        if self.since < since <= self.since + len(kept):
            for minute in range(self.since, since):
                if minute in kept:
                    self.add(minute, kept[minute], sign=-1)
            self.since = since
            return
        self.since, self.live_answers, self.abandoned = since, 0, 0
        for minute, count in kept.items():
            self.add(minute, count)


@dataclass
class _Kept:
    """One campaign's minutes from `first` to `checked` (excluded): each
    kept (non-zero counts only), empty, or `unsettled`."""

    first: int
    checked: int
    window: _Total
    today: _Total
    kept: dict[int, tuple[int, int]] = field(default_factory=dict)
    unsettled: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keep(self, minute: int, count: tuple[int, int]) -> None:
        self.unsettled.discard(minute)
        if count == (0, 0):
            return
        self.kept[minute] = count
        self.window.add(minute, count)
        self.today.add(minute, count)

    def drop_before(self, minute: int) -> None:
        if minute - self.first > len(self.kept) + len(self.unsettled):
            self.kept = {m: c for m, c in self.kept.items() if m >= minute}
            self.unsettled = {m for m in self.unsettled if m >= minute}
        else:
            for old in range(self.first, minute):
                self.kept.pop(old, None)
                self.unsettled.discard(old)
        self.first = minute


_CAMPAIGN = select(Campaign.timezone, Campaign.abandon_window_days).where(
    Campaign.id == bindparam("campaign_id")
)
"""What the ranges need of the campaign (its whole row was loaded each tick)."""


class RollingTallies:
    """`pacing_log.abandon_tallies`, kept per campaign in one process (the dialer's)."""

    def __init__(self) -> None:
        self._campaigns: dict[int, _Kept] = {}
        self._lock = threading.Lock()

    def abandon_tallies(
        self, session: Session, campaign_id: int, *, now: datetime
    ) -> tuple[AbandonCount, AbandonCount]:
        """(today, rolling window) for one campaign, as `pacing_log.abandon_tallies`."""
        campaign = session.execute(_CAMPAIGN, {"campaign_id": campaign_id}).first()
        if campaign is None:
            raise NotFound(N_("no such campaign"), details={"campaign_id": campaign_id})
        timezone, window_days = campaign
        local = now.astimezone(ZoneInfo(timezone))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
        window_start = now - timedelta(days=window_days)
        kept = self._kept(campaign_id, now, window_start, midnight)
        with kept.lock:
            kept.window.move_to(first_whole_minute(window_start), kept.kept)
            kept.today.move_to(first_whole_minute(midnight), kept.kept)
            kept.drop_before(min(kept.window.since, kept.today.since))
            _settle(session, campaign_id, kept, minute_of(now - SETTLE_AFTER))
            today = _pieces(kept, kept.today, midnight)
            window = _pieces(kept, kept.window, window_start)
            counted = _count_pieces(session, campaign_id, {*today, *window}, now)
            return _add_up(kept.today, today, counted), _add_up(kept.window, window, counted)

    def _kept(
        self, campaign_id: int, now: datetime, window_start: datetime, midnight: datetime
    ) -> _Kept:
        """The campaign's kept minutes; afresh when they do not fit the ranges
        (a longer window, a clock set back, another zone's midnight)."""
        since = min(first_whole_minute(window_start), first_whole_minute(midnight))
        with self._lock:
            kept = self._campaigns.get(campaign_id)
            if kept is None or since < kept.first or minute_of(now - SETTLE_AFTER) < kept.checked:
                kept = self._campaigns[campaign_id] = _Kept(
                    first=since,
                    checked=since,
                    window=_Total(first_whole_minute(window_start)),
                    today=_Total(first_whole_minute(midnight)),
                )
            return kept


def _settle(session: Session, campaign_id: int, kept: _Kept, settled_to: int) -> None:
    """Keep the minutes up to `settled_to` (excluded) that have no open call:
    the ones not looked at yet and the ones that had one."""
    fresh = range(kept.checked, settled_to) if settled_to > kept.checked else range(0)
    if not fresh and not kept.unsettled:
        return
    earliest = min(kept.unsettled) if kept.unsettled else fresh.start
    # Asked before the counts: a call not open now counts the same for good.
    open_minutes = {
        minute_of(at)
        for at in session.scalars(
            select(Call.dialed_at).where(
                Call.campaign_id == campaign_id,
                OPEN,
                Call.dialed_at >= start_of(earliest),
                Call.dialed_at < start_of(max(settled_to, kept.checked)),
            )
        )
    }
    now_closed = sorted(kept.unsettled - open_minutes)
    ranges = [(start_of(m), start_of(m + 1)) for m in now_closed]
    if fresh:
        ranges.append((start_of(fresh.start), start_of(fresh.stop)))
    counts = _by_minute(session, campaign_id, ranges) if ranges else {}
    for minute in [*now_closed, *fresh]:
        if minute in open_minutes:
            kept.unsettled.add(minute)
        else:
            kept.keep(minute, counts.get(minute, (0, 0)))
    kept.checked = max(kept.checked, settled_to)


def _by_minute(
    session: Session, campaign_id: int, ranges: Iterable[tuple[datetime, datetime]]
) -> dict[int, tuple[int, int]]:
    minute = metrics.epoch_minute(Call.dialed_at)
    rows = session.execute(
        select(minute, metrics.count_if(metrics.LIVE_ANSWER), metrics.count_if(metrics.ABANDONED))
        .where(
            Call.campaign_id == campaign_id,
            or_(*(and_(Call.dialed_at >= start, Call.dialed_at < end) for start, end in ranges)),
        )
        .group_by(minute)
    )
    return {int(row[0]): (int(row[1]), int(row[2])) for row in rows}


Piece = tuple[datetime, datetime | None]  # dialed from, to (excluded; None: to now, included)


def _pieces(kept: _Kept, total: _Total, start: datetime) -> list[Piece]:
    """What the database counts of the calls dialed from `start` to now:
    all but the kept minutes from `total` on."""
    if total.since >= kept.checked:
        return [(start, None)]
    pieces: list[Piece] = []
    if start < start_of(total.since):
        pieces.append((start, start_of(total.since)))
    pieces += [(start_of(m), start_of(m + 1)) for m in sorted(kept.unsettled) if m >= total.since]
    pieces.append((start_of(kept.checked), None))
    return _joined(pieces)


def _joined(pieces: list[Piece]) -> list[Piece]:
    """Pieces that follow one another as one (a statement each costs more
    to build than its rows to count)."""
    joined = [pieces[0]]
    for start, end in pieces[1:]:
        if joined[-1][1] == start:
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return joined


def _add_up(
    total: _Total, pieces: list[Piece], counted: dict[Piece, tuple[int, int]]
) -> AbandonCount:
    return AbandonCount(
        live_answers=total.live_answers + sum(counted[piece][0] for piece in pieces),
        abandoned=total.abandoned + sum(counted[piece][1] for piece in pieces),
    )


def _count_pieces(
    session: Session, campaign_id: int, pieces: Iterable[Piece], now: datetime
) -> dict[Piece, tuple[int, int]]:
    """One statement, an index range a piece (both ranges' shared pieces once)."""
    ordered = sorted(pieces, key=lambda piece: piece[0])
    params: dict[str, object] = {"campaign_id": campaign_id, "now": now}
    for number, (start, end) in enumerate(ordered):
        params[f"start_{number}"] = start
        params[f"end_{number}"] = end
    statement = _pieces_statement(tuple(end is not None for _start, end in ordered))
    rows = session.execute(statement, params)
    return {ordered[row.piece]: (int(row.live), int(row.abandoned)) for row in rows}


@functools.lru_cache(maxsize=64)
def _pieces_statement(closed: tuple[bool, ...]) -> Executable:
    """The count of each piece, `closed[n]`: piece n has an end (else it runs
    to now); built once for each shape (a tick has one or two, the same
    every tick while nothing settles), its times bound."""
    campaign_id: BindParameter[int] = bindparam("campaign_id")
    now: BindParameter[datetime] = bindparam("now")
    selects = [
        select(
            literal(number).label("piece"),
            metrics.count_if(metrics.LIVE_ANSWER).label("live"),
            metrics.count_if(metrics.ABANDONED).label("abandoned"),
        ).where(
            Call.campaign_id == campaign_id,
            Call.dialed_at >= bindparam(f"start_{number}"),
            Call.dialed_at < bindparam(f"end_{number}") if has_end else Call.dialed_at <= now,
        )
        for number, has_end in enumerate(closed)
    ]
    return union_all(*selects) if len(selects) > 1 else selects[0]
