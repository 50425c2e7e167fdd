"""Export benchmark: 1,000,000 call records to CSV and XLSX.

    /work/venv/bin/python -m bench.exports.export_bench [--rows N] [--sqlite PATH]
        [--postgres URL] [--formats csv,xlsx]

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
    parser.add_argument(
        "--one", nargs=3, metavar=("URL", "FORMAT", "OUTPUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return
    urls = [f"sqlite:///{args.sqlite}"] + ([args.postgres] if args.postgres else [])
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
            result = subprocess.run(
                [sys.executable, "-m", "bench.exports.export_bench", "--one", url, fmt, output],
                capture_output=True,
                text=True,
                check=True,
            )
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            print(f"{url.split('@')[-1]} {fmt}: {figures}")


if __name__ == "__main__":
    main()
