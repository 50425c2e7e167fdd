"""Rows per second through open_lead_file for a generated 100,000-row CSV and XLSX.

/work/venv/bin/python -m bench.import_parse [rows]
"""

from __future__ import annotations

import io
import random
import sys
import time

from callcenter.leadfiles import ParsedLead, open_lead_file

PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def rows(count: int) -> list[list[object]]:
    rng = random.Random(7)
    out: list[list[object]] = []
    for i in range(count):
        national = f"9{rng.choice(['12', '35', '01', '90'])}{rng.randrange(10**7):07d}"
        phone = rng.choice(
            ["0" + national, "+98 " + national, ("0" + national).translate(PERSIAN), national]
        )
        out.append([rng.choice(["آقای", "خانم", "Mr"]), f"علی{i}", "رضایی", phone, "شرکت", "x"])
    return out


def csv_bytes(data: list[list[object]]) -> bytes:
    lines = ["عنوان,نام,نام خانوادگی,موبایل,شرکت,منبع"]
    lines += [",".join(map(str, row)) for row in data]
    return ("\n".join(lines) + "\n").encode()


def xlsx_bytes(data: list[list[object]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["عنوان", "نام", "نام خانوادگی", "موبایل", "شرکت", "منبع"])
    for row in data:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def measure(label: str, payload: bytes, filename: str) -> None:
    started = time.perf_counter()
    with open_lead_file(payload, filename=filename) as leads:
        ok = sum(isinstance(result, ParsedLead) for result in leads)
        total = leads.stats.rows
    seconds = time.perf_counter() - started
    print(f"{label}: {total} rows ({ok} leads) in {seconds:.2f} s = {total / seconds:,.0f} rows/s")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    data = rows(count)
    measure("csv ", csv_bytes(data), "leads.csv")
    measure("xlsx", xlsx_bytes(data), "leads.xlsx")


if __name__ == "__main__":
    main()
