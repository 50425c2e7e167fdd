"""Report pages' queries on a big data set, today's code beside an older
commit's, in one run.

    PYTHONPATH=. .venv/bin/python -m bench.reports.run --postgres URL [--sqlite PATH]
        [--from 2025-05-01 --to 2025-05-07] [--old 875dc2a] [--repeat 3] [--rounds 1]
        [--generate]

The data is bench.exports' (1,000,000 calls). --generate builds it into
each database named (a PostgreSQL database's tables are emptied first: use a
scratch database; the SQLite file is made anew); without it the data already
there is reused, so a database is built once and measured many times. Each
database is migrated to today's schema before it is measured. The
older commit is checked out with `git archive` into a temporary directory
and each side runs in a process of its own (bench/reports/measure.py), on the
same database, migrated to today's schema. On PostgreSQL the older code runs
twice: with today's indexes, and without the date-range index (dropped
inside a transaction that is rolled back), as it ran before."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from bench.exports.export_bench import _truncate, generate
from callcenter import migrate
from callcenter.db import Database

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DATE_INDEX = "ix_calls_dialed_campaign_outcome"


def measure(tree: Path, url: str, args: argparse.Namespace, drop_index: str = "-") -> dict:
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    result = subprocess.run(
        [sys.executable, str(HERE / "measure.py"), url, args.date_from, args.date_to,
         str(args.repeat), drop_index],
        capture_output=True, text=True, check=True, env=environment,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def old_tree(commit: str, into: Path) -> Path:
    archive = into / "old.tar"
    with archive.open("wb") as stream:
        subprocess.run(
            ["git", "archive", commit, "callcenter"], cwd=ROOT, stdout=stream, check=True
        )
    with tarfile.open(archive) as tar:
        tar.extractall(into / "old", filter="data")
    return into / "old"


def build(url: str, calls: int) -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    migrate.upgrade(url)
    database = Database(url)
    if not url.startswith("sqlite"):
        _truncate(database)
    began = time.perf_counter()
    generate(database, calls)
    if not url.startswith("sqlite"):  # autovacuum's statistics (SQLite runs no ANALYZE)
        with database.engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
    database.dispose()
    print(f"{url.split('@')[-1]}: generated {calls} calls in {time.perf_counter() - began:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres")
    parser.add_argument("--sqlite")
    parser.add_argument("--from", dest="date_from", default="2025-05-01")
    parser.add_argument("--to", dest="date_to", default="2025-05-07")
    parser.add_argument("--old", default="875dc2a")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1, help="Turns each side takes.")
    parser.add_argument("--generate", action="store_true", help="Build the data first.")
    parser.add_argument("--calls", type=int, default=1_000_000, help="With --generate.")
    args = parser.parse_args()
    urls = [url for url in (args.postgres, args.sqlite and f"sqlite:///{args.sqlite}") if url]
    with tempfile.TemporaryDirectory() as tmp:
        old = old_tree(args.old, Path(tmp))
        for url in urls:
            if args.generate:
                build(url, args.calls)
            migrate.upgrade(url)
            runs = {"new": (ROOT, "-"), f"old {args.old}": (old, "-")}
            if not url.startswith("sqlite"):
                runs[f"old {args.old}, no date index"] = (old, DATE_INDEX)
            # The sides take turns, round after round (a busy machine's load
            # drifts), and each report keeps its best time.
            sides: dict[str, dict[str, int]] = {}
            for _ in range(args.rounds):
                for side, (tree, drop_index) in runs.items():
                    best = measure(tree, url, args, drop_index)
                    sides[side] = {
                        name: min(ms, sides.get(side, best)[name]) for name, ms in best.items()
                    }
            print(f"\n{url.split('@')[-1]}  {args.date_from} .. {args.date_to}, best of "
                  f"{args.repeat}, ms")  # fmt: skip
            names = list(sides["new"])
            print(f"{'report':<18}" + "".join(f"{side:>34}" for side in sides))
            for name in names:
                print(f"{name:<18}" + "".join(f"{sides[side][name]:>34}" for side in sides))


if __name__ == "__main__":
    main()
