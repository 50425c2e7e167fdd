"""Property tests for the lead importer: any upload either reads as a stream
of ParsedLead / RowError or is refused with LeadFileError as a whole; never
another exception, never a hang. Bounded so CI stays fast (CC_FUZZ_EXAMPLES
raises the count and turns on random seeds for a longer hunt by hand)."""

from __future__ import annotations

import io
import os
from datetime import date, datetime

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.leadfiles import (
    AS_DETECTED,
    LeadFileError,
    ParsedLead,
    ReadOptions,
    RowError,
    open_lead_file,
    preview_lead_file,
)

# A reason quotes a cell cut to 60 characters: no upload makes a long one.
LONGEST_REASON = 400


def _fuzz(examples: int) -> settings:
    return settings(
        max_examples=int(os.environ.get("CC_FUZZ_EXAMPLES", examples)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        derandomize="CC_FUZZ_EXAMPLES" not in os.environ,
        database=None,
    )


PHONES = st.sampled_from(
    [
        "09121234567",
        "۰۹۱۲۱۲۳۴۵۶۷",
        "٠٩٣٥١٢٣٤٥٦٧",
        "+98 912 123 4567",
        "00989121234567",
        "9121234567",
        "021-88776655",
        "+1 202 555 0143",
        "12345",
        "+",
        "0",
        "+98",
        "۰",
    ]
)
HEADERS = st.sampled_from(
    [
        "phone",
        "mobile",
        "موبایل",
        "تلفن",
        "name",
        "نام",
        "first_name",
        "last_name",
        "title",
        "عنوان",
        "company",
        "email",
        "city",
        "priority",
        "timezone",
        "notes",
        "",
        "phone",
    ]
)
CELL_TEXT = st.one_of(
    PHONES,
    HEADERS,
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=30),
    st.sampled_from(
        ['"', '""', "a,b", "x;y", "\t", "|", "\r\n", "\n", "\r", "\x00", "آقای", "Ms."]
    ),
)


def _read_all(data: bytes, filename: str | None, options: ReadOptions = AS_DETECTED) -> None:
    _preview(data, filename, options)
    try:
        with open_lead_file(data, filename=filename, **options.kwargs()) as leads:
            results = list(leads)
    except LeadFileError as exc:
        assert len(exc.message) < LONGEST_REASON * 3  # the columns it names are cut too
        return
    assert all(isinstance(result, ParsedLead | RowError) for result in results)
    assert leads.stats.rows == len(results) == leads.stats.leads + leads.stats.errors
    lines = [result.line for result in results]
    assert lines == sorted(lines) and all(line > leads.header_line for line in lines)
    for result in results:
        if isinstance(result, RowError):
            assert len(result.reason) < LONGEST_REASON, result.reason
        else:
            assert all(len(str(warning)) < LONGEST_REASON for warning in result.warnings)


def _preview(data: bytes, filename: str | None, options: ReadOptions) -> None:
    try:
        shown = preview_lead_file(data, filename=filename, options=options)
    except LeadFileError:
        return
    assert len(shown.rows) <= 10
    assert all(len(cell) <= 60 for row in shown.rows for cell in row.cells)


@st.composite
def csv_text(draw: st.DrawFn) -> tuple[bytes, str | None]:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|", " ", "؛"]))
    newline = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    rows = draw(st.lists(st.lists(CELL_TEXT, max_size=8), min_size=0, max_size=12))
    if rows and draw(st.booleans()):
        rows[0] = [draw(HEADERS) for _ in range(draw(st.integers(1, 6)))]

    def quote(cell: str) -> str:
        return '"' + cell.replace('"', '""') + '"' if draw(st.booleans()) else cell

    text = newline.join(delimiter.join(quote(cell) for cell in row) for row in rows)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1256"]))
    data = text.encode(encoding, errors="replace")
    return data, draw(st.sampled_from([None, "leads.csv", "leads.txt", "leads.tsv"]))


@pytest.mark.timeout(60)
@_fuzz(200)
@given(
    csv_text(),
    st.builds(
        ReadOptions,
        st.none(),
        st.one_of(st.none(), st.integers(1, 14)),
        st.sampled_from([None, ",", ";", "\t", "|", "؛"]),
    ),
)
def test_random_csv_text_read_as_chosen_import_or_refuse(
    upload: tuple[bytes, str | None], options: ReadOptions
) -> None:
    _read_all(*upload, options)


def _xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


XLSX_CELL = st.one_of(
    st.none(),
    CELL_TEXT.map(lambda text: "".join(ch for ch in text if ch >= " " or ch in "\t\n\r")),
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=True, allow_infinity=False),
    st.booleans(),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(2100, 1, 1)),
    st.dates(min_value=date(1900, 3, 1), max_value=date(2100, 1, 1)),
    st.times(),
    st.sampled_from([9121234567, 989121234567, 0, -1, 9.121234567e9, 1e20]),
)
# Made once: the seed every XLSX mutation starts from.
REAL_XLSX = _xlsx(
    [["name", "phone", "company"], ["Ali Rezaei", "09121234567", "ACME"], ["x", 9351234567, None]]
)


@pytest.mark.timeout(60)
@_fuzz(1000)
@given(st.binary(max_size=4096), st.sampled_from([None, "a.csv", "a.xlsx", "a.txt"]))
def test_random_bytes_import_or_refuse(data: bytes, filename: str | None) -> None:
    _read_all(data, filename)


@pytest.mark.timeout(60)
@_fuzz(500)
@given(csv_text())
def test_random_csv_text_import_or_refuse(upload: tuple[bytes, str | None]) -> None:
    _read_all(*upload)


@pytest.mark.timeout(60)
@_fuzz(100)
@given(
    st.lists(
        st.lists(XLSX_CELL, max_size=6),
        min_size=1,
        max_size=8,
    ).map(lambda rows: [[*[h for h in ("phone", "name") if rows[0]], *rows[0]], *rows[1:]])
)
def test_random_xlsx_cells_import_or_refuse(rows: list[list[object]]) -> None:
    _read_all(_xlsx(rows), "leads.xlsx")


@pytest.mark.timeout(60)
@_fuzz(300)
@given(
    st.lists(st.tuples(st.integers(0, len(REAL_XLSX) - 1), st.integers(0, 255)), max_size=8),
    st.integers(0, len(REAL_XLSX)),
)
def test_mutated_xlsx_import_or_refuse(changes: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(REAL_XLSX)
    for where, byte in changes:
        data[where] = byte
    _read_all(bytes(data[:cut] if changes and cut < 64 else data), "leads.xlsx")


def test_seed_files_import() -> None:
    with open_lead_file(REAL_XLSX, filename="leads.xlsx") as leads:
        assert sum(isinstance(result, ParsedLead) for result in leads) == 2
    _read_all(b"phone\n09121234567\n", None)
