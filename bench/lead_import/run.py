"""Lead import throughput: 100,000 generated rows through the import service.

    PYTHONPATH=$PWD .venv/bin/python -m bench.lead_import.run [--rows 100000]
        [--postgres URL] [--only sqlite|postgresql] [--repeat N]
        [--background] [--reference CHECKOUT] [--compare]

Prints rows/s on a fresh SQLite file, and on a fresh database on the given
PostgreSQL server (or CC_TEST_DATABASE_URL) when one is named: the best of
--repeat runs, its wall time and this process's CPU time (the database
server's not included), and the machine's load average. `import_leads` (one
transaction) unless --background: then as the web and the CLI do it
(`queue_import`, then `run_import` committing a chunk at a time).

--reference runs the same rows first through the code of another checkout
(e.g. `git worktree add ../main-ref main`), in a subprocess, side by side.
With --compare each database also imports the file as before the fast path
for Iranian mobiles (every number through the phonenumbers parser), first."""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from callcenter import migrate
from callcenter.db import Database
from callcenter.models import Campaign
from callcenter.services import dnc, lead_import

FIRST = ["علی", "مریم", "رضا", "زهرا", "Sara", "John", "حسین", "فاطمه"]
LAST = ["احمدی", "کریمی", "رضایی", "Nouri", "Smith", "موسوی"]
PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def generate_csv(rows: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    lines = ["نام,نام خانوادگی,موبایل,شهر,توضیحات"]
    for index in range(rows):
        number = f"09{rng.choice(['12', '35', '19', '01'])}{index:07d}"
        style = index % 4
        if style == 1:
            number = number.translate(PERSIAN_DIGITS)
        elif style == 2:
            number = "+98 " + number[1:]
        elif style == 3 and index % 50 == 3:
            number = "12345"  # a bad row now and then
        lines.append(f"{rng.choice(FIRST)},{rng.choice(LAST)},{number},تهران,ردیف {index}")
    return ("\n".join(lines) + "\n").encode()


def run(
    url: str,
    data: bytes,
    label: str,
    *,
    reference: bool = False,
    background: bool = False,
) -> tuple[float, float]:
    """One import into a fresh database; prints and returns (wall, cpu) seconds."""
    from callcenter.leadfiles import phones

    fast_path = phones._iranian_mobile
    if reference:
        phones._iranian_mobile = lambda text: None  # type: ignore[assignment]
    migrate.upgrade(url)
    database = Database(url)
    with database.unit_of_work() as session:
        campaign = Campaign(name="bench")
        session.add(campaign)
        session.flush()
        for index in range(0, 2000, 2):
            dnc.add_number(
                session,
                f"+98912{index:07d}",
                campaign_id=None,
                source="bench",
                reason="",
                actor_id=None,
            )
        campaign_id = campaign.id
    started, cpu_started = time.perf_counter(), time.process_time()
    if background:
        rows, imported, rejected = _run_in_background(database, data, campaign_id)
    else:
        with database.unit_of_work() as session:
            result = lead_import.import_leads(
                session, data, campaign_id=campaign_id, filename="bench.csv"
            )
            rows, imported, rejected = (
                result.rows_total,
                result.rows_imported,
                result.rows_rejected,
            )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    phones._iranian_mobile = fast_path  # type: ignore[assignment]
    if reference:
        label += " (reference: the parser for every number)"
    print(
        f"{label}: {rows} rows in {elapsed:.1f} s (cpu {cpu:.1f} s) = {rows / elapsed:,.0f} rows/s "
        f"({imported} imported, {rejected} rejected; load {_load()})",
        flush=True,
    )
    database.dispose()
    return elapsed, cpu


def _run_in_background(database: Database, data: bytes, campaign_id: int) -> tuple[int, int, int]:
    from callcenter.services import lead_import_jobs

    with database.unit_of_work() as session:
        lead_list = lead_import_jobs.queue_import(
            session, data, campaign_id=campaign_id, filename="bench.csv"
        )
        import_id = lead_import_jobs.import_id_of(session, lead_list.id)
    assert import_id is not None
    assert lead_import_jobs.claim(database, import_id, "bench")
    lead_import_jobs.run_import(database, import_id, "bench")
    with database.read_sessions() as session:
        done = lead_import.get_lead_list(session, lead_list.id)
        return done.rows_total, done.rows_imported, done.rows_rejected


def _load() -> str:
    return " ".join(f"{figure:.1f}" for figure in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", default=os.environ.get("CC_TEST_DATABASE_URL"))
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs")
    parser.add_argument("--background", action="store_true")
    parser.add_argument("--reference", metavar="CHECKOUT")
    parser.add_argument("--tag", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    data = generate_csv(args.rows)
    databases = [name for name in ("sqlite", "postgresql") if args.only in (None, name)]
    if not args.postgres and "postgresql" in databases:
        databases.remove("postgresql")
    for name in databases:
        if args.reference:
            _run_reference(args, name)
        for reference in (True, False) if args.compare else (False,):
            best = min(_run_once(name, args, data, reference=reference) for _ in range(args.repeat))
            print(f"{name}{args.tag}: best of {args.repeat}: {best[0]:.1f} s (cpu {best[1]:.1f} s)")


def _run_once(
    name: str, args: argparse.Namespace, data: bytes, *, reference: bool
) -> tuple[float, float]:
    label = name + args.tag
    if name == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            return run(url, data, label, reference=reference, background=args.background)
    return run_postgres(args.postgres, data, reference, label=label, background=args.background)


def _run_reference(args: argparse.Namespace, name: str) -> None:
    """This very script, on the other checkout's code (found first on the path)."""
    command = [sys.executable, __file__, "--rows", str(args.rows), "--only", name]
    command += ["--repeat", str(args.repeat), "--tag", f" [reference {args.reference}]"]
    if args.postgres:
        command += ["--postgres", args.postgres]
    if args.background:
        command.append("--background")
    environment = {**os.environ, "PYTHONPATH": os.path.abspath(args.reference)}
    subprocess.run(command, env=environment, cwd=args.reference, check=True)


def run_postgres(
    url: str, data: bytes, reference: bool, *, label: str = "postgresql", background: bool = False
) -> tuple[float, float]:
    admin_url = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"cc_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        return run(
            admin_url.set(database=name).render_as_string(hide_password=False),
            data,
            label,
            reference=reference,
            background=background,
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
