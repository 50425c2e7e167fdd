"""Rows of a CSV or XLSX file with their line numbers, before any meaning is
given to the cells. The header is the first non-blank row."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import os
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import IO, TypeAlias

from callcenter.leadfiles.errors import LeadFileError

CellValue: TypeAlias = (
    str | int | float | Decimal | bool | datetime | date | time | timedelta | None
)
Source: TypeAlias = str | os.PathLike[str] | bytes | IO[bytes]

DELIMITERS = (",", ";", "\t", "|")
_SNIFF_LINES = 50
_CHUNK = 1 << 20
# Bounds on what a file may make us read, whatever its size on disk: an XLSX
# is a ZIP, and a few hundred KB can inflate to gigabytes or declare millions
# of blank rows. Declared member sizes bind (zipfile reads no further).
MAX_XLSX_INFLATED_BYTES = 256 * 1024 * 1024
MAX_XLSX_SHARED_STRINGS_BYTES = 64 * 1024 * 1024
MAX_ROWS = 1_000_000
"""Lines of a CSV or rows of a sheet, blank ones included."""
MAX_COLUMNS = 200
# A damaged ZIP container (seen by fuzzing): at open, and while rows stream.
# (zipfile raises RuntimeError / NotImplementedError for encrypted or unknown compression).
_BROKEN_XLSX = (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError)


class FileFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


@dataclass(frozen=True, slots=True)
class SourceRow:
    line: int  # 1-based physical line (CSV) or sheet row (XLSX) where the row starts
    cells: tuple[CellValue, ...]


def detect_format(head: bytes, filename: str | None) -> FileFormat:
    """By extension when there is a name, else by the first bytes."""
    ext = os.path.splitext(filename or "")[1].lower()
    if ext == ".xls" or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise LeadFileError("legacy Excel .xls files are not supported; save as .xlsx or CSV")
    if ext in (".xlsx", ".xlsm") or (not ext and head.startswith(b"PK\x03\x04")):
        return FileFormat.XLSX
    if ext in ("", ".csv", ".txt", ".tsv", ".tab"):
        return FileFormat.CSV
    raise LeadFileError(f"unsupported file type {ext!r}; use CSV or XLSX")


def open_binary(source: Source) -> tuple[IO[bytes], bool]:
    """A seekable binary stream and whether the caller must close it."""
    if isinstance(source, bytes | bytearray):
        return io.BytesIO(source), True
    if isinstance(source, str | os.PathLike):
        return open(source, "rb"), True
    if source.seekable():
        return source, False
    return io.BytesIO(source.read()), True


def detect_encoding(stream: IO[bytes]) -> str:
    """utf-8-sig / utf-16 by BOM, else utf-8 if every byte decodes, else cp1256
    (what Persian Windows and Excel write for "CSV"). Leaves the stream at 0."""
    start = stream.tell()
    head = stream.read(4)
    stream.seek(start)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := stream.read(_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1256"
    finally:
        stream.seek(start)
    return "utf-8"


def sniff_delimiter(sample: str) -> str:
    """The candidate that splits the header into the most columns and the most
    sample rows into the same number; "," when nothing splits (one column)."""
    lines = sample.splitlines(keepends=True)
    best, best_score = ",", (0.0, 1)
    for delimiter in DELIMITERS:
        rows = [row for row in csv.reader(lines, delimiter=delimiter) if any(row)]
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = sum(len(row) == width for row in rows) / len(rows)
        score = (consistent, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


class CsvRows:
    """Rows of a CSV; blank lines are skipped but counted, quoted fields may
    span lines. `encoding` and `delimiter` say what was detected."""

    def __init__(self, stream: IO[bytes], *, delimiter: str | None = None) -> None:
        self.encoding = detect_encoding(stream)
        self._text = io.TextIOWrapper(stream, encoding=self.encoding, newline="")
        try:
            self._head = list(itertools.islice(self._text, _SNIFF_LINES))
        except UnicodeDecodeError as exc:  # a BOM followed by bytes that are not that encoding
            self._text.detach()
            raise LeadFileError(f"not readable as {self.encoding} text ({exc.reason})") from exc
        self.delimiter = delimiter or sniff_delimiter("".join(self._head))

    def __iter__(self) -> Iterator[SourceRow]:
        lines = itertools.chain(self._head, self._text)
        reader = csv.reader(lines, delimiter=self.delimiter)
        end = 0
        while True:
            try:
                cells = next(reader, None)
            except (csv.Error, UnicodeDecodeError) as exc:
                raise LeadFileError(f"line {end + 1}: unreadable CSV ({exc})") from exc
            if cells is None:
                return
            line, end = end + 1, reader.line_num
            if line > MAX_ROWS:
                raise LeadFileError(f"more than {MAX_ROWS:,} lines; split the file")
            if len(cells) > MAX_COLUMNS:
                raise LeadFileError(f"line {line}: more than {MAX_COLUMNS} columns")
            if any(cell.strip() for cell in cells):
                yield SourceRow(line, tuple(cells))

    def detach(self) -> None:
        """Let go of the binary stream without closing it (it is not ours)."""
        self._text.detach()


class XlsxRows:
    """Rows of one worksheet (the first unless named) in openpyxl's read-only
    mode, values as Excel stored them: numbers, dates, text."""

    def __init__(self, stream: IO[bytes], *, sheet: str | None = None) -> None:
        import openpyxl  # only XLSX imports pay for it
        from openpyxl.utils.exceptions import InvalidFileException

        check_inflated_size(stream)
        try:
            self._book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
        except (*_BROKEN_XLSX, InvalidFileException, KeyError, ValueError) as exc:
            raise LeadFileError(f"not a readable XLSX file ({exc})") from exc
        if sheet is not None and sheet not in self._book.sheetnames:
            names = ", ".join(self._book.sheetnames)
            self._book.close()
            raise LeadFileError(f"no sheet named {sheet!r}; the sheets are {names}")
        if not self._book.worksheets:  # only chart sheets, or a damaged workbook (fuzzing)
            self._book.close()
            raise LeadFileError("the workbook has no worksheet")
        self._sheet = self._book[sheet] if sheet else self._book.worksheets[0]
        self.sheet = self._sheet.title
        # The stored <dimension> is often stale; trusting it drops rows.
        self._sheet.reset_dimensions()

    def __iter__(self) -> Iterator[SourceRow]:
        line = 0
        rows = self._sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
        while True:
            try:  # read-only mode inflates and parses the sheet as rows are asked for
                cells = next(rows, None)
            except (*_BROKEN_XLSX, SyntaxError, ValueError, KeyError, IndexError) as exc:
                raise LeadFileError(f"row {line + 1}: unreadable XLSX ({exc})") from exc
            if cells is None:
                return
            line += 1
            if line > MAX_ROWS:
                raise LeadFileError(f"more than {MAX_ROWS:,} rows (blank ones too); split the file")
            if any(_filled(cell) for cell in cells):
                yield SourceRow(line, tuple(cells))

    def close(self) -> None:
        self._book.close()


def _filled(cell: CellValue) -> bool:
    return cell is not None and not (isinstance(cell, str) and not cell.strip())


def check_inflated_size(stream: IO[bytes]) -> None:
    """Refuse an XLSX that would inflate past the bounds, before reading it."""
    start = stream.tell()
    try:
        with zipfile.ZipFile(stream) as archive:
            members = archive.infolist()
    except _BROKEN_XLSX as exc:
        raise LeadFileError(f"not a readable XLSX file ({exc})") from exc
    finally:
        stream.seek(start)
    total = sum(member.file_size for member in members)
    if total > MAX_XLSX_INFLATED_BYTES:
        raise LeadFileError(
            f"the workbook unpacks to {total // 2**20:,} MB, more than "
            f"{MAX_XLSX_INFLATED_BYTES // 2**20} MB; save the leads as CSV or split the file"
        )
    for member in members:
        if member.filename.endswith("sharedStrings.xml") and (
            member.file_size > MAX_XLSX_SHARED_STRINGS_BYTES
        ):
            raise LeadFileError(
                f"the workbook's text table unpacks to {member.file_size // 2**20:,} MB, "
                f"more than {MAX_XLSX_SHARED_STRINGS_BYTES // 2**20} MB"
            )
