"""One hopper refill of a very large campaign, on PostgreSQL: wall time,
CPU (this process and the database's backends) and every statement the
refill runs with its EXPLAIN (ANALYZE, BUFFERS).

    PYTHONPATH=. .venv/bin/python -m bench.hopper.refill build \
        --postgres postgresql://postgres@127.0.0.1:5432 --leads 1000000 --keep
    PYTHONPATH=. .venv/bin/python -m bench.hopper.refill measure --url URL [--plans]

`build` makes a fresh database (named `--database-prefix`_...), migrated by
the tree on the path, with one active campaign (09:00-20:00 every day in each
lead's zone) of LEADS leads in dialable states, plus a tenth as many closed
ones (sale, exhausted), all made by the server (INSERT ... SELECT
generate_series), then VACUUM ANALYZE. The leads' customers are in seven
zones by area code, so at the bench's instant (a Monday, 14:00 UTC) Tehran,
London and New York are open (60% of them) and Chicago, Denver, Los Angeles
and Tokyo closed. Of the dialable leads 60% are new, 29% retries (half not
due yet, 1 in 109 at max attempts), 1% callbacks (1 in 48 due, the others
later; half kept for an agent) and 10% new with a later start; 2% of the priorities are
2, 5% are 1 and 3% are -1; 1% of the numbers are on the global DNC list and
0.5% on the campaign's; 5% of the leads are on a disabled list.

`measure` refills the campaign's hopper (a MemoryHopper) as the dialer does,
`--refills` times, and prints ms a refill (p50, mean), CPU ms a refill here
and in the database's backends (read from /proc: the server runs on this
machine), then the EXPLAIN ANALYZE of each statement of one refill: rows
read by its scans and shared buffers (hit + read)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from bench.load_floor.floor_data import fresh_database
from callcenter import migrate
from callcenter.calling_windows import WEEKDAYS
from callcenter.db import Database
from callcenter.models import Campaign, CampaignStatus, LeadList, User
from callcenter.states import Role
from dialer.hopper import HopperFeeder, MemoryHopper

NOW = datetime(2025, 1, 6, 14, 0, tzinfo=UTC)
WINDOWS = {"weekly": {day: [{"start": "09:00", "end": "20:00"}] for day in WEEKDAYS}}
MAX_ATTEMPTS = 5

# n -> one customer; zones and area codes by n*37 % 101. Each trait of a lead
# is taken modulo its own prime, so the traits do not go together.
FILL_CUSTOMERS = """
INSERT INTO customers (phone_e164, title, first_name, last_name, company, address,
                       city, locale, timezone, created_at)
SELECT z.area || lpad(n::text, 8, '0'), '', 'Bench', 'Lead ' || n, '', '', '', 'fa',
       z.zone, :now - interval '40 days'
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS n
CROSS JOIN LATERAL (
    SELECT CASE WHEN n * 37 % 101 < 30 THEN 'Asia/Tehran'
                WHEN n * 37 % 101 < 40 THEN 'Europe/London'
                WHEN n * 37 % 101 < 60 THEN 'America/New_York'
                WHEN n * 37 % 101 < 75 THEN 'America/Chicago'
                WHEN n * 37 % 101 < 80 THEN 'America/Denver'
                WHEN n * 37 % 101 < 95 THEN 'America/Los_Angeles'
                ELSE 'Asia/Tokyo' END AS zone,
           CASE WHEN n * 37 % 101 < 30 THEN '+98912'
                WHEN n * 37 % 101 < 40 THEN '+4420'
                WHEN n * 37 % 101 < 60 THEN '+1212'
                WHEN n * 37 % 101 < 75 THEN '+1312'
                WHEN n * 37 % 101 < 80 THEN '+1303'
                WHEN n * 37 % 101 < 95 THEN '+1213'
                ELSE '+813' END AS area
) AS z
ORDER BY n
"""
# Customer n + :offset is lead n's.
FILL_LEADS = """
INSERT INTO leads (campaign_id, customer_id, lead_list_id, state, priority, attempts,
                   attempts_before_reset, next_attempt_at, last_attempt_at, fields,
                   created_at, updated_at)
SELECT :campaign_id, :offset + n,
       CASE WHEN n % 20 = 0 THEN :disabled_list WHEN n % 2 = 0 THEN :list_a ELSE :list_b END,
       s.state,
       CASE WHEN n * 7 % 107 < 2 THEN 2 WHEN n * 7 % 107 < 7 THEN 1
            WHEN n * 7 % 107 < 104 THEN 0 ELSE -1 END,
       CASE WHEN s.state = 'new' THEN 0 WHEN n % 109 = 3 THEN :max_attempts
            ELSE 1 + n * 17 % 4 END,
       0,
       CASE WHEN s.state = 'retry' THEN :now + (n * 31 % 480 - 240) * interval '1 minute'
            WHEN s.state = 'callback' THEN :now + (n * 31 % 2880 - 60) * interval '1 minute'
            WHEN n * 13 % 103 >= 93 THEN :now + (n * 31 % 2880) * interval '1 minute'
            END,
       CASE WHEN s.state <> 'new' THEN :now - interval '1 day' END,
       '{}',
       :now - (n * 7907 % 2592000) * interval '1 second',
       :now - interval '1 day'
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS n
CROSS JOIN LATERAL (
    SELECT CASE WHEN CAST(:closed AS boolean)
                     THEN (CASE WHEN n % 2 = 0 THEN 'sale' ELSE 'exhausted' END)
                WHEN n * 13 % 103 < 62 THEN 'new'
                WHEN n * 13 % 103 < 92 THEN 'retry'
                WHEN n * 13 % 103 < 93 THEN 'callback'
                ELSE 'new' END AS state
) AS s
ORDER BY n
"""
FILL_CALLBACKS = """
INSERT INTO callbacks (lead_id, customer_id, campaign_id, due_at, assigned_agent_id,
                       status, note, created_at)
SELECT id, customer_id, campaign_id, next_attempt_at,
       CASE WHEN id % 2 = 0 THEN :agent_id END, 'pending', '', :now - interval '2 days'
FROM leads WHERE campaign_id = :campaign_id AND state = 'callback'
"""
FILL_DNC = """
INSERT INTO dnc_entries (phone_e164, campaign_id, source, reason, created_at)
SELECT phone_e164, CASE WHEN id % 97 = 0 THEN NULL ELSE :campaign_id END, 'bench', '',
       :now - interval '3 days'
FROM customers WHERE id % 97 = 0 OR id % 211 = 5
"""


def build(server: str, leads: int, *, prefix: str) -> None:
    with fresh_database(server, keep=True, prefix=prefix) as url:
        migrate.upgrade(url)
        database = Database(url)
        started = time.perf_counter()
        closed = leads // 10
        with database.unit_of_work() as session:
            campaign = Campaign(
                name="bench",
                status=CampaignStatus.ACTIVE,
                calling_windows=WINDOWS,
                max_attempts=MAX_ATTEMPTS,
            )
            agent = User(username="bench", full_name="Bench", password_hash="x", role=Role.AGENT)
            session.add_all([campaign, agent])
            session.flush()
            lists = [LeadList(campaign_id=campaign.id, name=f"{name}.csv") for name in "abc"]
            lists[2].is_enabled = False
            session.add_all(lists)
            session.flush()
            ids = {
                "campaign_id": campaign.id,
                "agent_id": agent.id,
                "list_a": lists[0].id,
                "list_b": lists[1].id,
                "disabled_list": lists[2].id,
            }
        with database.engine.begin() as connection:
            offset = connection.scalar(text("SELECT coalesce(max(id), 0) FROM customers")) or 0
            connection.execute(
                text(FILL_CUSTOMERS), {"now": NOW, "first": 1, "last": leads + closed}
            )
            for first, last, is_closed in ((1, leads, False), (leads + 1, leads + closed, True)):
                connection.execute(
                    text(FILL_LEADS),
                    {**ids, "now": NOW, "first": first, "last": last, "offset": offset,
                     "closed": is_closed, "max_attempts": MAX_ATTEMPTS},
                )  # fmt: skip
            connection.execute(text(FILL_CALLBACKS), {**ids, "now": NOW})
            connection.execute(text(FILL_DNC), {**ids, "now": NOW})
        with database.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE")
            )
        print(f"built {leads:,} dialable leads in {time.perf_counter() - started:.0f} s")
        print(f"url {url}")
        database.dispose()


def measure(url: str, refills: int, *, plans: bool) -> None:
    database = Database(url)
    with database.unit_of_work() as session:
        campaign_id = session.scalar(text("SELECT id FROM campaigns WHERE name = 'bench'"))
    assert campaign_id is not None
    feeder = HopperFeeder(database, MemoryHopper())
    queued = feeder.refill(campaign_id, now=NOW)  # warm: connection, caches
    walls: list[float] = []
    cpu_here = 0.0
    cpu_server = 0.0
    for _ in range(refills):
        server_before = backends_cpu(database)
        here_before = time.process_time()
        started = time.perf_counter()
        feeder.refill(campaign_id, now=NOW)
        walls.append((time.perf_counter() - started) * 1000)
        cpu_here += time.process_time() - here_before
        cpu_server += backends_cpu(database) - server_before
    print(
        f"queued {queued}  ms a refill p50 {statistics.median(walls):.1f} "
        f"mean {statistics.fmean(walls):.1f} max {max(walls):.1f} ({refills} refills)  "
        f"cpu ms a refill: here {cpu_here * 1000 / refills:.1f}, "
        f"database {cpu_server * 1000 / refills:.1f}"
    )
    with captured(database) as statements:
        feeder.refill(campaign_id, now=NOW)
    explain_all(database, statements, plans=plans)
    database.dispose()


@contextmanager
def captured(database: Database) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(database.engine, "before_cursor_execute", keep)


def explain_all(database: Database, statements: list[tuple[str, Any]], *, plans: bool) -> None:
    total_rows = total_buffers = 0
    with database.engine.connect() as connection:
        for number, (statement, parameters) in enumerate(statements, 1):
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            plan = explain(connection, statement, parameters)
            root = plan["Plan"]
            rows = scanned_rows(root)
            buffers = root.get("Shared Hit Blocks", 0) + root.get("Shared Read Blocks", 0)
            total_rows += rows
            total_buffers += buffers
            first_line = " ".join(statement.split())[:90]
            print(
                f"  #{number} {plan['Execution Time']:8.1f} ms  rows read {rows:>9,}  "
                f"buffers {buffers:>8,}  {first_line}"
            )
            if plans:
                for line in connection.exec_driver_sql(
                    f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters
                ).scalars():
                    print(f"      {line}")
    print(f"  total rows read {total_rows:,}  buffers {total_buffers:,}")


def explain(connection: Connection, statement: str, parameters: Any) -> dict[str, Any]:
    result = connection.exec_driver_sql(
        f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}", parameters
    ).scalar_one()
    document = json.loads(result) if isinstance(result, str) else result
    return document[0]


_SCANS = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan"}


def scanned_rows(node: dict[str, Any]) -> int:
    """Rows the plan's scans produced (before their filters): what it read."""
    own = 0
    if node["Node Type"] in _SCANS:
        removed = node.get("Rows Removed by Filter", 0)
        removed += node.get("Rows Removed by Index Recheck", 0)
        own = int((node["Actual Rows"] + removed) * node["Actual Loops"])
    return own + sum(scanned_rows(child) for child in node.get("Plans", ()))


def backends_cpu(database: Database) -> float:
    """CPU seconds used so far by this database's backends (same machine)."""
    with database.engine.connect() as connection:
        pids = connection.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).all()
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    building = commands.add_parser("build")
    building.add_argument("--postgres", required=True, help="a PostgreSQL server URL")
    building.add_argument("--leads", type=int, default=1_000_000)
    building.add_argument("--database-prefix", default="cc_hopper")
    measuring = commands.add_parser("measure")
    measuring.add_argument("--url", required=True, help="a database `build` made")
    measuring.add_argument("--refills", type=int, default=10)
    measuring.add_argument("--plans", action="store_true", help="print the plans too")
    args = parser.parse_args()
    if args.command == "build":
        build(args.postgres, args.leads, prefix=args.database_prefix)
    else:
        measure(args.url, args.refills, plans=args.plans)


if __name__ == "__main__":
    main()
