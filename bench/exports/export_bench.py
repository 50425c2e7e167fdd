"""Export benchmark: 1,000,000 call records to CSV and XLSX.

    /work/venv/bin/python -m bench.exports.export_bench [--rows N] [--sqlite PATH]
        [--postgres URL] [--formats csv,xlsx] [--reuse] [--compare]

With --compare each format also runs, one after the other in the same run,
the references it is judged against: for CSV a bare COPY of the same rows'
columns (what the database alone costs) and the Python writer (the export
before exports.calls_pg); for XLSX plain xlsxwriter (constant_memory)
writing the very rows the export writes, already in memory, and the Python
writer.

Generates N call rows (with leads, customers, rejections and dispositions)
into a migrated SQLite file, and into PostgreSQL when a URL is given (its
tables are emptied first: use a scratch database), then runs each export
in a fresh process and prints rows/s and that process's peak RSS."""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from callcenter import migrate
from callcenter.db import Base, Database
from callcenter.models import (
    Call,
    Campaign,
    Customer,
    Disposition,
    Lead,
    LeadList,
    StepOutcome,
    User,
)
from callcenter.services.exports import start_export
from callcenter.services.reports import ReportFilters

BATCH = 20_000
ATTEMPTS = 5
OUTCOMES = ["answered"] * 5 + ["no_answer"] * 3 + ["busy", "machine", "abandoned"]


def generate(database: Database, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = datetime(2025, 3, 21, 5, 30, tzinfo=UTC)
    leads = (rows + ATTEMPTS - 1) // ATTEMPTS
    with database.engine.begin() as connection:
        connection.execute(
            insert(User),
            [
                {
                    "id": i,
                    "username": f"agent{i}",
                    "full_name": f"کارشناس {i}",
                    "password_hash": "x",
                    "role": "agent",
                    "locale": "fa",
                }
                for i in range(1, 41)
            ],
        )
        connection.execute(
            insert(Campaign), [{"id": 1, "name": "کمپین نمونه"}, {"id": 2, "name": "Sample"}]
        )
        connection.execute(
            insert(LeadList),
            [
                {"id": 1, "campaign_id": 1, "name": "لیست ۱"},
                {"id": 2, "campaign_id": 2, "name": "list 2"},
            ],
        )
        for first in range(0, leads, BATCH):
            ids = range(first + 1, min(first + BATCH, leads) + 1)
            connection.execute(
                insert(Customer),
                [
                    {
                        "id": i,
                        "phone_e164": f"+98912{i:07d}",
                        "first_name": "علی",
                        "last_name": "احمدی",
                    }
                    for i in ids
                ],
            )
            connection.execute(
                insert(Lead),
                [
                    {"id": i, "campaign_id": 1 + i % 2, "customer_id": i, "lead_list_id": 1 + i % 2}
                    for i in ids
                ],
            )
        number = 0
        for first in range(0, rows, BATCH):
            calls, steps, dispositions = [], [], []
            for index in range(first, min(first + BATCH, rows)):
                number += 1
                lead = index // ATTEMPTS + 1
                dialed = start + timedelta(seconds=index * 7 + rng.randint(0, 6))
                outcome = rng.choice(OUTCOMES)
                answered = (
                    dialed + timedelta(seconds=rng.randint(3, 20))
                    if outcome in ("answered", "machine", "abandoned")
                    else None
                )
                connected = answered + timedelta(seconds=1) if outcome == "answered" else None
                ended = (connected or answered or dialed) + timedelta(seconds=rng.randint(5, 300))
                call_id = f"c{index:09d}"
                max_step = rng.randint(1, 9) if connected else 0
                calls.append(
                    {
                        "id": call_id,
                        "campaign_id": 1 + lead % 2,
                        "lead_id": lead,
                        "customer_id": lead,
                        "agent_id": rng.randint(1, 40) if connected else None,
                        "attempt": index % ATTEMPTS + 1,
                        "phone_e164": f"+98912{lead:07d}",
                        "state": "ended",
                        "outcome": outcome,
                        "sip_status": 200 if answered else 486,
                        "dialed_at": dialed,
                        "answered_at": answered,
                        "connected_at": connected,
                        "ended_at": ended,
                        "wrap_up_ended_at": ended + timedelta(seconds=20) if connected else None,
                        "max_step_reached": max_step,
                    }
                )
                if connected:
                    dispositions.append(
                        {
                            "call_id": call_id,
                            "code": "not_interested",
                            "agent_id": calls[-1]["agent_id"],
                        }
                    )
                    if max_step < 9:
                        steps.append(
                            {
                                "call_id": call_id,
                                "seq": 1,
                                "step_number": max_step,
                                "action": "reject",
                                "reason_code": "no_time",
                            }
                        )
            connection.execute(insert(Call), calls)
            if steps:
                connection.execute(insert(StepOutcome), steps)
            if dispositions:
                connection.execute(insert(Disposition), dispositions)


def _truncate(database: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with database.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def run_reference(url: str, fmt: str, impl: str, output: str) -> dict[str, Any]:
    """One of the references of --compare, timed like run_one."""
    from callcenter.services.exports import calls_pg
    from callcenter.services.exports.tables import _call_rows, call_sheets
    from callcenter.services.exports.writers import RowCounter, Sheet, csv_chunks, write_xlsx
    from callcenter.services.reports.calls import call_rows_query

    database = Database(url)
    filters = ReportFilters()
    counter = RowCounter()
    with database.read_sessions() as session:
        headers = call_sheets(session, filters, "fa")[0].headers
        rows: Any = None
        if impl == "xlsxwriter":  # the rows in memory first: only the writing is timed
            source = (
                calls_pg.typed_rows(session, filters, "fa")
                if calls_pg.supported(session)
                else _call_rows(session, filters, "fa")
            )
            rows = [list(row) for row in source]
        began = time.perf_counter()
        if impl == "copy":
            inner = call_rows_query(filters).compile(
                dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
            )
            connection = session.connection().connection.driver_connection
            with (
                open(output, "wb") as stream,
                connection.cursor() as cursor,
                cursor.copy(
                    f"COPY ({inner} ORDER BY dialed_at, id) TO STDOUT (FORMAT csv)",
                    inner.params,
                ) as copy,
            ):
                for block in copy:
                    stream.write(block)
                    counter.rows += 1
        elif impl == "python" and fmt == "csv":
            sheet = Sheet("calls", headers, _call_rows(session, filters, "fa"))
            with open(output, "wb") as stream:
                for chunk in csv_chunks([sheet], counter, titles=False):
                    stream.write(chunk)
        elif impl == "python":
            sheet = Sheet("calls", headers, _call_rows(session, filters, "fa"))
            write_xlsx(output, [sheet], counter, right_to_left=True)
        elif impl == "xlsxwriter":
            import xlsxwriter

            workbook = xlsxwriter.Workbook(output, {"constant_memory": True})
            worksheet = workbook.add_worksheet()
            worksheet.write_row(0, 0, headers)
            for number, row in enumerate(rows, start=1):
                worksheet.write_row(number, 0, row)
            workbook.close()
            counter.rows = len(rows)
        seconds = time.perf_counter() - began
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rows": counter.rows,
        "seconds": round(seconds, 1),
        "rows_per_s": round(counter.rows / seconds),
        "peak_rss_mib": round(peak_mib),
        "bytes": Path(output).stat().st_size,
    }


def run_one(url: str, fmt: str, output: str) -> dict[str, Any]:
    database = Database(url)
    began = time.perf_counter()
    export = start_export(
        database,
        kind="calls",
        fmt=fmt,
        filters=ReportFilters(),
        locale="fa",
        actor_id=None,
        via="bench",
    )
    with open(output, "wb") as stream:
        for chunk in export.chunks:
            stream.write(chunk)
    seconds = time.perf_counter() - began
    with database.sessions() as session:
        rows = session.execute(
            text("SELECT details FROM audit_log ORDER BY id DESC LIMIT 1")
        ).scalar()
    details = rows if isinstance(rows, dict) else json.loads(rows)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rows": details["rows"],
        "seconds": round(seconds, 1),
        "rows_per_s": round(details["rows"] / seconds),
        "peak_rss_mib": round(peak_mib),
        "bytes": Path(output).stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sqlite", default="/tmp/cc-export-bench.db")
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--reuse", action="store_true", help="Keep the data already generated.")
    parser.add_argument("--compare", action="store_true", help="Also run the references.")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only.")
    parser.add_argument(
        "--one", nargs=3, metavar=("URL", "FORMAT", "OUTPUT"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--reference", nargs=4, metavar=("URL", "FORMAT", "IMPL", "OUTPUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return
    if args.reference:
        print(json.dumps(run_reference(*args.reference)))
        return
    parser_urls = [] if args.no_sqlite else [f"sqlite:///{args.sqlite}"]
    urls = parser_urls + ([args.postgres] if args.postgres else [])
    for url in urls:
        if not args.reuse:
            if url.startswith("sqlite"):
                Path(args.sqlite).unlink(missing_ok=True)
            migrate.upgrade(url)
            database = Database(url)
            if not url.startswith("sqlite"):
                _truncate(database)
            began = time.perf_counter()
            generate(database, args.rows)
            database.dispose()
            took = time.perf_counter() - began
            print(f"{url.split('@')[-1]}: generated {args.rows} calls in {took:.0f} s")
        for fmt in args.formats.split(","):
            output = f"/tmp/cc-export-bench.{fmt}"
            runs = [("export", ["--one", url, fmt, output])]
            if args.compare:
                references = {"csv": ["copy", "python"], "xlsx": ["xlsxwriter", "python"]}[fmt]
                if url.startswith("sqlite"):  # no COPY, and the export is the Python writer
                    references = ["xlsxwriter"] if fmt == "xlsx" else []
                runs += [
                    (impl, ["--reference", url, fmt, impl, f"{output}.{impl}"])
                    for impl in references
                ]
            for label, command in runs:
                result = subprocess.run(
                    [sys.executable, "-m", "bench.exports.export_bench", *command],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                figures = json.loads(result.stdout.strip().splitlines()[-1])
                print(f"{url.split('@')[-1]} {fmt} {label}: {figures}", flush=True)


if __name__ == "__main__":
    main()
