"""Times each report once the caches are warm, for bench.reports.run (run
as a script, so the callcenter imported is the one on PYTHONPATH: today's
tree or an older one). Prints one JSON object: report -> best ms."""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from typing import Any

from sqlalchemy import text

from callcenter.db import Database
from callcenter.services.reports import (
    ReportFilters,
    agents_report,
    compliance_report,
    dispositions_report,
    funnel_report,
    rejections_report,
)


def main() -> None:
    url, first, last, repeat, drop_index = sys.argv[1:6]
    filters = ReportFilters(date_from=date.fromisoformat(first), date_to=date.fromisoformat(last))
    reports: dict[str, Any] = {
        "rejections": lambda s: rejections_report(s, filters, "fa"),
        "funnel": lambda s: funnel_report(s, filters, "fa"),
        "funnel by agent": lambda s: funnel_report(s, filters, "fa", "agent"),
        "funnel by date": lambda s: funnel_report(s, filters, "fa", "date"),
        "agents": lambda s: agents_report(s, filters),
        "dispositions": lambda s: dispositions_report(s, filters, "fa"),
        "compliance": lambda s: compliance_report(s, filters),
    }
    database = Database(url)
    best: dict[str, float] = {}
    with database.sessions() as session:
        if drop_index != "-":  # PostgreSQL: DDL is transactional, the rollback restores it
            session.execute(text(f"DROP INDEX {drop_index}"))
        for name, report in reports.items():
            times = []
            for _ in range(int(repeat)):
                began = time.perf_counter()
                report(session)
                times.append(time.perf_counter() - began)
            best[name] = round(min(times) * 1000)
        session.rollback()
    print(json.dumps(best))


if __name__ == "__main__":
    main()
