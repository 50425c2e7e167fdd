"""Lead import throughput: 100,000 generated rows through the import service.

    /work/venv/bin/python -m bench.lead_import.run [--rows 100000] [--postgres URL]
        [--compare] [--only sqlite|postgresql]

Prints rows/s on a fresh SQLite file, and on a fresh database on the given
PostgreSQL server (or CC_TEST_DATABASE_URL) when one is named. With
--compare each database also imports the file as before the fast path for
Iranian mobiles (every number through the phonenumbers parser), first, in
the same run."""

from __future__ import annotations

import argparse
import os
import random
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


def run(url: str, data: bytes, label: str, *, reference: bool = False) -> None:
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
    started = time.perf_counter()
    with database.unit_of_work() as session:
        result = lead_import.import_leads(
            session, data, campaign_id=campaign_id, filename="bench.csv"
        )
        rows, imported, rejected = result.rows_total, result.rows_imported, result.rows_rejected
    elapsed = time.perf_counter() - started
    phones._iranian_mobile = fast_path  # type: ignore[assignment]
    if reference:
        label += " (reference: the parser for every number)"
    print(
        f"{label}: {rows} rows in {elapsed:.1f} s = {rows / elapsed:,.0f} rows/s "
        f"({imported} imported, {rejected} rejected)"
    )
    database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", default=os.environ.get("CC_TEST_DATABASE_URL"))
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    data = generate_csv(args.rows)
    for reference in (True, False) if args.compare else (False,):
        if args.only != "postgresql":
            with tempfile.TemporaryDirectory() as tmp:
                run(f"sqlite:///{Path(tmp) / 'bench.db'}", data, "sqlite", reference=reference)
        if args.postgres and args.only != "sqlite":
            run_postgres(args.postgres, data, reference)


def run_postgres(url: str, data: bytes, reference: bool) -> None:
    if url:
        admin_url = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
        name = f"cc_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(
                admin_url.set(database=name).render_as_string(hide_password=False),
                data,
                "postgresql",
                reference=reference,
            )
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
