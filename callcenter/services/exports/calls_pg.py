"""The call records export on PostgreSQL, written by the database: every
cell of `tables.call_sheets` computed in SQL (names, labels and Jalali dates
joined from arrays built here, so each comes out as `tables._call_rows`
writes it), streamed with `COPY ... TO STDOUT` (CSV lines) or a server-side
cursor (typed cells for XLSX). No Python work per cell: a million rows in
seconds instead of half a minute.

CSV cells are encoded as `writers.csv_chunks` encodes them: the formula
guard of `cells.csv_text`, then quoted as csv.writer's QUOTE_MINIMAL quotes
(a comma, a double quote, CR or LF inside). Constant texts (names, labels)
are encoded here with those very functions; row texts by the SQL twin
`_encoded`."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.models import Call, CallRecording
from callcenter.services import disposition_codes
from callcenter.services.exports.cells import FORMULA_STARTS, csv_text
from callcenter.services.reports.calls import call_rows_query
from callcenter.services.reports.filters import ReportFilters, call_conditions
from callcenter.services.reports.labels import DISPOSITIONS, Gettext, translator
from callcenter.services.reports.scope import Names, ScriptLabels

ROWS_PER_CHUNK = 2000
# COPY's text format escapes these in a value (a row is one value: the CSV line).
_COPY_ESCAPE = re.compile(rb"\\([\\bfnrtv])")
_COPY_UNESCAPED = {
    b"\\": b"\\",
    b"b": b"\b",
    b"f": b"\f",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"v": b"\v",
}


def supported(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def csv_cell(value: Any) -> str:
    """One cell as `writers.csv_chunks` writes it (guarded, then quoted)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([csv_text(value), ""])
    return buffer.getvalue()[:-1]


def _guarded(expression: str) -> str:
    starts = ", ".join(_literal(char) for char in sorted(FORMULA_STARTS))
    return (
        f"(CASE WHEN left({expression}, 1) IN ({starts}) "
        f"AND {expression} !~ '^[+-]?[0-9]+(\\.[0-9]+)?$' "
        f"THEN '''' || {expression} ELSE {expression} END)"
    )


def _encoded(expression: str) -> str:
    """SQL of a text cell (NULL -> empty) as csv_cell would write it."""
    guarded = _guarded(expression)
    special = " OR ".join(
        f"strpos({expression}, {_literal(char)}) > 0" for char in (",", '"', "\n", "\r")
    )
    return (
        f"COALESCE(CASE WHEN {special} "
        f"THEN '\"' || replace({guarded}, '\"', '\"\"') || '\"' ELSE {guarded} END, '')"
    )


def _literal(char: str) -> str:
    if char in "\t\r\n":
        return f"chr({ord(char)})"
    return "'" + char.replace("'", "''") + "'"


def _rounded_seconds(start: str, end: str) -> str:
    """round((end - start).total_seconds()) as Python rounds: half to even.
    A double holds microseconds over any call's length exactly enough: a tie
    (x.5) is exact, and nothing else lies near one."""
    s = f"date_part('epoch', {end} - {start})"
    return (
        f"(CASE WHEN {s} - floor({s}) = 0.5 THEN floor({s}) + mod(abs(floor({s}))::bigint, 2) "
        f"ELSE round({s}) END)::bigint"
    )


class _Query:
    """The SELECT both formats share: the calls (`call_rows_query`) as `r`,
    joined to arrays of names and labels; `cells` is each column's SQL."""

    def __init__(self, session: Session, filters: ReportFilters, locale: str) -> None:
        from callcenter.services.exports.tables import (
            AMD_ACTIONS,
            AMD_RESULTS,
            DIRECTIONS,
            OUTCOMES,
            RECORDING_STATUSES,
            jalali,
        )

        _ = translator(locale)
        dialect = session.get_bind().dialect
        inner = call_rows_query(filters).compile(
            dialect=dialect, compile_kwargs={"render_postcompile": True}
        )
        processors = inner._bind_processors  # the types' own conversions (enums, UTC)
        self.params: dict[str, Any] = {
            name: processors[name](value) if name in processors else value
            for name, value in inner.params.items()
        }
        self._inner_sql = str(inner)
        names = Names.load(session)
        labels = ScriptLabels.load(session, locale)
        self.arrays: list[tuple[str, Sequence[str], list[list[Any]]]] = []
        self._add("cn", ("id int", "name text"), names.campaigns.items())
        self._add("un", ("id int", "name text"), names.users.items())
        self._add("op", ("id int", "name text"), names.users.items())
        self._add("ln", ("id int", "name text"), names.lead_lists.items())
        self._add(
            "rl",
            ("step int", "code text", "label text"),
            [(step, code, label) for (step, code), label in labels.reasons.items()],
        )
        configured = disposition_codes.labels(session)
        self._add(
            "dl",
            ("campaign_id int", "code text", "label text"),
            [(c, code, fa if locale == "fa" else en) for (c, code), (fa, en) in configured.items()],
        )
        self._add("df", ("code text", "label text"), [(k, _(v)) for k, v in DISPOSITIONS.items()])
        for alias, table in (
            ("ol", OUTCOMES),
            ("ar", AMD_RESULTS),
            ("aa", AMD_ACTIONS),
            ("rs", RECORDING_STATUSES),
            ("dn", DIRECTIONS),
        ):
            self._add(alias, ("code text", "label text"), [(k, _(v)) for k, v in table.items()])
        self._add(
            "jd",
            ("day date", "iso text", "jalali text"),
            [(day, day.isoformat(), text) for day, text in _days(session, filters, jalali)],
        )
        self._add(
            "rt",
            ("ms bigint", "seconds text"),
            [(ms, repr(round(ms / 1000, 1))) for ms in _tied_recordings(session, filters)],
        )
        self.params["cc_tz"] = filters.tz
        self.params["cc_yes"], self.params["cc_no"] = _("yes"), _("no")
        self.params["cc_yes_csv"], self.params["cc_no_csv"] = csv_cell(_("yes")), csv_cell(_("no"))

    def _add(self, alias: str, columns: Sequence[str], rows: Any) -> None:
        """An array table; its last column (a text) comes again CSV-encoded as `csv`."""
        rows = [(*row, csv_cell(row[-1])) for row in rows]
        columns = [*columns, "csv text"]
        arrays: list[list[Any]] = [[row[index] for row in rows] for index in range(len(columns))]
        self.arrays.append((alias, columns, arrays))
        for index, values in enumerate(arrays):
            self.params[f"cc_{alias}{index}"] = values

    def sql(self, cells: list[str]) -> str:
        joins = {
            "cn": "cn.id = r.campaign_id",
            "un": "un.id = r.agent_id",
            "op": "op.id = r.opened_by_id",
            "dn": "dn.code = r.direction",
            "ln": "ln.id = r.lead_list_id",
            "rl": "rl.step = COALESCE(r.reject_step, 0) AND rl.code = r.reject_reason",
            "dl": "dl.campaign_id = r.campaign_id AND dl.code = r.disposition",
            "df": "df.code = r.disposition",
            "ol": "ol.code = r.outcome",
            "ar": "ar.code = r.amd_result",
            "aa": "aa.code = r.amd_action",
            "rs": "rs.code = r.recording_status",
            "jd": "jd.day = r.local_at::date",
            "rt": "rt.ms = r.recording_ms",
        }
        joined = []
        for alias, columns, _arrays in self.arrays:
            types = [column.split()[1] for column in columns]
            names = [column.split()[0] for column in columns]
            unnest = ", ".join(
                f"%(cc_{alias}{index})s::{sql_type}[]" for index, sql_type in enumerate(types)
            )
            joined.append(
                f"LEFT JOIN unnest({unnest}) AS {alias}({', '.join(names)}) ON {joins[alias]}"
            )
        # OFFSET 0 keeps the joined row a row: each cell reads its columns
        # instead of the planner pasting every expression into every use.
        return (
            f"SELECT {', '.join(cells)} FROM ("
            f"SELECT r.*, {_reason()} AS reason, "
            "cn.name AS campaign, ln.name AS lead_list, un.name AS agent, jd.jalali AS jalali, "
            "jd.iso AS iso_day, "
            "cn.csv AS campaign_csv, ln.csv AS lead_list_csv, un.csv AS agent_csv, "
            "ol.label AS outcome_label, ol.csv AS outcome_csv, "
            "ar.label AS amd_result_label, ar.csv AS amd_result_csv, "
            "aa.label AS amd_action_label, aa.csv AS amd_action_csv, "
            "rs.label AS recording_label, rs.csv AS recording_csv, "
            "dn.label AS direction_label, dn.csv AS direction_csv, "
            "op.name AS opener, op.csv AS opener_csv, "
            "COALESCE(dl.label, df.label) AS disposition_label, "
            "COALESCE(dl.csv, df.csv) AS disposition_csv, rt.seconds AS tied_seconds FROM ("
            f"SELECT picked.*, timezone(%(cc_tz)s, picked.dialed_at) AS local_at "
            f"FROM ({self._inner_sql}) AS picked) AS r {' '.join(joined)} OFFSET 0) AS x "
            "ORDER BY x.dialed_at, x.id"
        )


def _reason() -> str:
    label = "COALESCE(rl.label, r.reject_reason)"
    text = "CASE WHEN COALESCE(r.reject_text, '') <> '' THEN ': ' || r.reject_text ELSE '' END"
    return f"CASE WHEN r.reject_reason IS NULL THEN '' ELSE {label} || {text} END"


def _cells(csv: bool) -> list[tuple[str, str]]:
    """(kind, SQL over the joined row `x`) of each column of
    `tables.call_sheets`: kind 'text' (to encode), 'csv' (encoded already),
    'number' or 'decimal'. A label from the arrays comes encoded for CSV."""

    def label(name: str, fallback: str) -> tuple[str, str]:
        if csv:
            return ("csv", f"COALESCE(x.{name}_csv, {_encoded(fallback)})")
        return ("text", f"COALESCE(x.{name}_label, {fallback}, '')")

    def name(column: str) -> tuple[str, str]:
        return ("csv", f"COALESCE(x.{column}_csv, '')") if csv else ("text", f"x.{column}")

    yes_no = ("%(cc_yes_csv)s", "%(cc_no_csv)s") if csv else ("%(cc_yes)s", "%(cc_no)s")
    kind = "csv" if csv else "text"
    disposition = "CASE WHEN COALESCE(x.disposition, '') = '' THEN '' ELSE " + (
        f"COALESCE(x.disposition_csv, {_encoded('x.disposition')}) END"
        if csv
        else "COALESCE(x.disposition_label, x.disposition) END"
    )
    return [
        ("text", "x.id"),
        name("campaign"),
        name("lead_list"),
        name("agent"),
        ("text", "x.phone_e164"),
        ("number", "x.attempt"),
        ("text", "x.jalali"),
        ("text", "x.iso_day"),
        ("text", "to_char(x.local_at, 'HH24:MI:SS')"),
        label("outcome", "x.outcome"),
        ("number", "x.sip_status"),
        (kind, f"CASE WHEN x.live_answer THEN {yes_no[0]} ELSE {yes_no[1]} END"),
        (kind, f"CASE WHEN x.contact THEN {yes_no[0]} ELSE {yes_no[1]} END"),
        label("amd_result", "x.amd_result"),
        ("number", "x.amd_decision_ms"),
        label("amd_action", "x.amd_action"),
        ("number", _rounded_seconds("x.answered_at", "x.connected_at")),
        ("number", _rounded_seconds("x.connected_at", "x.ended_at")),
        ("number", _rounded_seconds("x.ended_at", "x.wrap_up_ended_at")),
        ("number", "x.max_step_reached"),
        ("number", "x.reject_step"),
        ("text", "x.reason"),
        (kind, disposition),
        label("recording", "x.recording_status"),
        ("decimal", "COALESCE(x.tied_seconds, round(x.recording_ms / 1000.0, 1)::text)"),
        ("text", "COALESCE(x.recording_sha256, '')"),
        label("direction", "x.direction"),
        name("opener"),
    ]


def csv_lines(session: Session, filters: ReportFilters, locale: str) -> Iterator[tuple[bytes, int]]:
    """The CSV rows (CRLF-terminated, UTF-8) in chunks, each with its number
    of rows, through COPY."""
    query = _Query(session, filters, locale)
    cells = []
    for kind, sql in _cells(csv=True):
        if kind == "text":
            cells.append(_encoded(sql))
        elif kind == "csv":
            cells.append(sql)
        else:
            cells.append(f"COALESCE(({sql})::text, '')")
    line = " || ',' || ".join(cells)
    copy_sql = f"COPY ({query.sql([line])}) TO STDOUT"
    connection = session.connection().connection.driver_connection
    assert connection is not None
    with connection.cursor() as cursor, cursor.copy(copy_sql, query.params) as copy:
        rows: list[bytes] = []
        for row in copy:  # libpq hands COPY OUT data over a row at a time
            rows.append(bytes(row))
            if len(rows) >= ROWS_PER_CHUNK:
                yield _from_copy(b"".join(rows)), len(rows)
                rows.clear()
        if rows:
            yield _from_copy(b"".join(rows)), len(rows)


def _from_copy(data: bytes) -> bytes:
    """COPY text rows (LF-terminated, escaped) as CSV lines (CRLF)."""
    data = data.replace(b"\n", b"\r\n")  # a newline inside a value is escaped: these end rows
    if b"\\" in data:
        data = _COPY_ESCAPE.sub(lambda match: _COPY_UNESCAPED[match.group(1)], data)
    return data


def typed_rows(
    session: Session, filters: ReportFilters, locale: str, batch: int = 5000
) -> Iterator[Sequence[Any]]:
    """The same cells as Python values (str, int, float, None), for XLSX,
    through a server-side cursor."""
    query = _Query(session, filters, locale)
    cells = []
    for kind, sql in _cells(csv=False):
        if kind == "decimal":
            cells.append(f"({sql})::float8")
        elif kind == "number":
            cells.append(f"({sql})::bigint")
        else:
            cells.append(f"COALESCE(({sql})::text, '')")
    connection = session.connection().connection.driver_connection
    assert connection is not None
    with connection.cursor(name="cc_export_calls") as cursor:
        cursor.itersize = batch
        cursor.execute(query.sql(cells), query.params)
        while rows := cursor.fetchmany(batch):
            yield from rows


def _days(session: Session, filters: ReportFilters, jalali: Any) -> list[tuple[date, str]]:
    """Each local date the selected calls span, with its Jalali text."""
    first, last = session.execute(
        select(func.min(Call.dialed_at), func.max(Call.dialed_at)).where(*call_conditions(filters))
    ).one()
    if first is None or last is None:
        return []
    zone = filters.zone
    day, end = first.astimezone(zone).date(), last.astimezone(zone).date()
    days = []
    while day <= end:
        days.append((day, jalali(day)))
        day += timedelta(days=1)
    return days


def _tied_recordings(session: Session, filters: ReportFilters) -> list[int]:
    """Lengths in ms whose tenth of a second is a tie (…50 ms): Python's
    round() of the float decides those, as `tables._call_rows` does."""
    return list(
        session.scalars(
            select(CallRecording.duration_ms)
            .join(Call, Call.id == CallRecording.call_id)
            .where(CallRecording.duration_ms % 100 == 50, *call_conditions(filters))
            .distinct()
        )
    )


__all__ = ["Gettext", "csv_cell", "csv_lines", "supported", "typed_rows"]
