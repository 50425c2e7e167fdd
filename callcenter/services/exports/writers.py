"""Streamed file writers. CSV is UTF-8 with a byte-order mark (so Excel reads
Persian text), produced in chunks as rows arrive; XLSX is written by
xlsxwriter in constant-memory mode to a temporary file that is then streamed
and removed. Memory stays flat however many rows there are. Text that looks
like a formula stays text in both (see `cells`)."""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import xlsxwriter

from callcenter.services.exports.cells import csv_row

BOM = "\ufeff".encode()
CHUNK_ROWS = 2000
READ_CHUNK = 1 << 20
# Excel's limit is 1,048,576 rows per sheet, header included.
XLSX_MAX_ROWS = 1_048_575
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


@dataclass
class Sheet:
    """One table: a title (sheet name / section line), headers, lazy rows."""

    title: str
    headers: Sequence[str]
    rows: Iterable[Sequence[Any]]
    # CSV lines written by the database, (bytes, rows) at a time, in place of
    # `rows` for CSV (exports.calls_pg).
    csv_encoded: Callable[[], Iterator[tuple[bytes, int]]] | None = None


class RowCounter:
    def __init__(self) -> None:
        self.rows = 0


def csv_chunks(sheets: Iterable[Sheet], counter: RowCounter, *, titles: bool) -> Iterator[bytes]:
    """One table per sheet; with `titles`, each preceded by its title line and
    followed by a blank line (for reports with several tables)."""
    yield BOM
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for index, sheet in enumerate(sheets):
        if titles:
            if index:
                writer.writerow([])
            writer.writerow(csv_row([sheet.title]))
        writer.writerow(csv_row(sheet.headers))
        if sheet.csv_encoded is not None:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            for data, rows in sheet.csv_encoded():
                counter.rows += rows
                yield data
            continue
        pending = 0
        for row in sheet.rows:
            writer.writerow(csv_row(row))
            counter.rows += 1
            pending += 1
            if pending >= CHUNK_ROWS:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
                pending = 0
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()


def write_xlsx(
    path: str, sheets: Iterable[Sheet], counter: RowCounter, *, right_to_left: bool
) -> None:
    workbook = xlsxwriter.Workbook(
        path,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    bold = workbook.add_format({"bold": True})
    used: set[str] = set()
    try:
        for sheet in sheets:
            worksheet, row_number, part = None, XLSX_MAX_ROWS, 0
            rows = iter(sheet.rows)
            while True:
                if row_number >= XLSX_MAX_ROWS:
                    part += 1
                    name = _sheet_name(sheet.title, part, used)
                    worksheet = workbook.add_worksheet(name)
                    if right_to_left:
                        worksheet.right_to_left()
                    worksheet.write_row(0, 0, sheet.headers, bold)
                    worksheet.freeze_panes(1, 0)
                    row_number = 0
                row = next(rows, None)
                if row is None:
                    break
                row_number += 1
                assert worksheet is not None
                worksheet.write_row(row_number, 0, row)
                counter.rows += 1
                if counter.rows % CHUNK_ROWS == 0:
                    time.sleep(0)  # the gevent worker's other greenlets run (see service._run)
    finally:
        workbook.close()


def xlsx_chunks(
    sheets: Iterable[Sheet], counter: RowCounter, *, right_to_left: bool
) -> Iterator[bytes]:
    handle, path = tempfile.mkstemp(prefix="cc-export-", suffix=".xlsx")
    os.close(handle)
    try:
        write_xlsx(path, sheets, counter, right_to_left=right_to_left)
        with open(path, "rb") as stream:
            while chunk := stream.read(READ_CHUNK):
                yield chunk
    finally:
        os.unlink(path)


def _sheet_name(title: str, part: int, used: set[str]) -> str:
    base = _SHEET_NAME_BAD.sub(" ", title).strip()[:28] or "Sheet"
    name = base if part == 1 else f"{base} {part}"
    suffix = 2
    while name.lower() in used:
        name = f"{base[:26]} {suffix}"
        suffix += 1
    used.add(name.lower())
    return name
