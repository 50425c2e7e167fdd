"""Report pages' queries on a big data set, today's code beside an older
commit's, in one run.

    PYTHONPATH=. .venv/bin/python -m bench.reports.run --postgres URL [--sqlite PATH]
        [--from 2025-05-01 --to 2025-05-07] [--old 875dc2a] [--repeat 3]

The data is bench.exports' (1,000,000 calls: `python -m bench.exports.export_bench
--formats csv --postgres URL` generates it, or gen in the closing note). The
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
from pathlib import Path

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
    args = parser.parse_args()
    urls = [url for url in (args.postgres, args.sqlite and f"sqlite:///{args.sqlite}") if url]
    with tempfile.TemporaryDirectory() as tmp:
        old = old_tree(args.old, Path(tmp))
        for url in urls:
            sides = {"new": measure(ROOT, url, args), f"old {args.old}": measure(old, url, args)}
            if not url.startswith("sqlite"):
                sides[f"old {args.old}, no date index"] = measure(old, url, args, DATE_INDEX)
            print(f"\n{url.split('@')[-1]}  {args.date_from} .. {args.date_to}, best of "
                  f"{args.repeat}, ms")  # fmt: skip
            names = list(sides["new"])
            print(f"{'report':<18}" + "".join(f"{side:>34}" for side in sides))
            for name in names:
                print(f"{name:<18}" + "".join(f"{sides[side][name]:>34}" for side in sides))


if __name__ == "__main__":
    main()
