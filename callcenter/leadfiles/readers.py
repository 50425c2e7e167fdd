"""Rows of a CSV or XLSX file with their line numbers, before any meaning is
given to the cells (which row is the header is decided by `leads`).

What a file is comes from its bytes, not its name: an XLSX renamed .csv is
read as XLSX. A CSV's encoding and delimiter are sniffed; a row that cannot
be read (an unclosed quote, a cell past the size limit) is a SourceRow with
a `problem`, and the rows after it are read as usual."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import os
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import IO, TypeAlias

from callcenter.errors import N_
from callcenter.leadfiles.errors import LeadFileError, Message
from callcenter.leadfiles.text import excerpt

CellValue: TypeAlias = (
    str | int | float | Decimal | bool | datetime | date | time | timedelta | None
)
Source: TypeAlias = str | os.PathLike[str] | bytes | IO[bytes]

ARABIC_SEMICOLON = "\u061b"  # ؛ what a Persian keyboard types for ;
DELIMITERS = (",", ";", "\t", "|", ARABIC_SEMICOLON)
DELIMITER_NAMES = {
    "comma": ",",
    "semicolon": ";",
    "tab": "\t",
    "pipe": "|",
    "arabic-semicolon": ARABIC_SEMICOLON,
}
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
# A quoted cell may run over several lines (an address typed with Enter in
# Excel), but no further than this: an unclosed quote must not eat the file.
MAX_QUOTED_LINES = 50
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
    problem: Message | None = None  # the row could not be read into cells


def detect_format(head: bytes, filename: str | None) -> FileFormat:
    """By the first bytes (a ZIP is an XLSX whatever its name), then by the
    extension."""
    ext = os.path.splitext(filename or "")[1].lower()
    if head.startswith(b"PK\x03\x04"):
        return FileFormat.XLSX
    if ext == ".xls" or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise LeadFileError(
            N_("old Excel .xls files cannot be read; save the sheet as .xlsx or CSV")
        )
    if ext in (".xlsx", ".xlsm"):
        return FileFormat.XLSX
    if ext in ("", ".csv", ".txt", ".tsv", ".tab"):
        return FileFormat.CSV
    raise LeadFileError(
        N_("files of type %(type)s cannot be read; use CSV or XLSX"), type=excerpt(ext, 20)
    )


def delimiter_of(name: str | None) -> str | None:
    """A delimiter given by name (comma, semicolon, tab, pipe,
    arabic-semicolon) or as the character itself; None: sniff it."""
    if not name:
        return None
    if name in DELIMITER_NAMES:
        return DELIMITER_NAMES[name]
    if name == "\\t":
        return "\t"
    if len(name) == 1 and name not in '"\r\n':
        return name
    raise LeadFileError(
        N_("unknown delimiter %(name)s; use comma, semicolon, tab, pipe or arabic-semicolon"),
        name=excerpt(name, 20),
    )


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


def sniff_delimiter(sample: str) -> tuple[str, int]:
    """The delimiter and the row width it gives: the candidate under which the
    most lines split into the same number (two or more) of cells, so a title
    line or a ragged row above the header does not decide it; "," and 1 when
    nothing splits (one column). Lines are split one by one, so an unclosed
    quote in the sample cannot hide the rest."""
    lines = [line for line in sample.splitlines() if line.strip()]
    best, best_score = ",", (0, 1)
    for delimiter in DELIMITERS:
        if not any(delimiter in line for line in lines):
            continue
        widths = Counter(len(_split_line(line, delimiter)) for line in lines)
        for width, count in widths.items():
            if width >= 2 and (count, width) > best_score:
                best, best_score = delimiter, (count, width)
    return best, best_score[1]


def _split_line(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return [line]


def ends_in_quote(text: str, delimiter: str, in_quote: bool) -> bool:
    """Whether a quoted cell is still open after `text`, read as csv reads it
    (a quote opens a cell only at its start; "" inside is a quote)."""
    if '"' not in text:
        return in_quote
    at_start = not in_quote
    index, size = 0, len(text)
    while index < size:
        char = text[index]
        if in_quote:
            if char == '"':
                if index + 1 < size and text[index + 1] == '"':
                    index += 2
                    continue
                in_quote = False
        elif char == '"' and at_start:
            in_quote = True
        at_start = not in_quote and char in (delimiter, "\r", "\n")
        index += 1
    return in_quote


class CsvRows:
    """Rows of a CSV; blank lines are skipped but counted, quoted fields may
    span lines. `encoding` and `delimiter` say what was detected.

    A quote left open is a bad row, not the start of one long cell: when the
    next line holds no quote and is a row of its own (as many cells as the
    file's rows have), the open line is reported and reading goes on there."""

    def __init__(self, stream: IO[bytes], *, delimiter: str | None = None) -> None:
        self.encoding = detect_encoding(stream)
        self._text = io.TextIOWrapper(stream, encoding=self.encoding, newline="")
        try:
            self._head = list(itertools.islice(self._text, _SNIFF_LINES))
        except UnicodeDecodeError as exc:  # a BOM followed by bytes that are not that encoding
            self._text.detach()
            raise LeadFileError(
                N_("the file is not readable as %(encoding)s text"), encoding=self.encoding
            ) from exc
        sniffed, self.width = sniff_delimiter("".join(self._head))
        self.delimiter = delimiter or sniffed

    def __iter__(self) -> Iterator[SourceRow]:
        lines = enumerate(itertools.chain(self._head, self._text), start=1)
        pending: list[tuple[int, str]] = []  # lines read ahead, to read again
        while True:
            try:
                record = self._record(pending, lines)
            except UnicodeDecodeError as exc:
                raise LeadFileError(
                    N_("the file is not readable as %(encoding)s text"), encoding=self.encoding
                ) from exc
            if record is None:
                return
            line, texts, closed = record
            if line > MAX_ROWS:
                raise LeadFileError(N_("more than %(count)s lines; split the file"), count=MAX_ROWS)
            if not closed:
                yield SourceRow(line, (), _unclosed(texts[0]))
                pending[:0] = list(enumerate(texts[1:], start=line + 1))
                continue
            row = self._row(line, texts)
            if row is not None:
                yield row

    def _record(
        self, pending: list[tuple[int, str]], lines: Iterator[tuple[int, str]]
    ) -> tuple[int, list[str], bool] | None:
        """The physical lines of the next record, and whether its quotes close."""

        def next_line() -> tuple[int, str] | None:
            return pending.pop(0) if pending else next(lines, None)

        first = next_line()
        if first is None:
            return None
        line, text = first
        texts = [text]
        in_quote = ends_in_quote(text, self.delimiter, False)
        while in_quote:
            following = next_line()
            if following is None:
                return line, texts, False
            if len(texts) >= MAX_QUOTED_LINES or self._row_of_its_own(following[1]):
                pending.insert(0, following)
                return line, texts, False
            texts.append(following[1])
            in_quote = ends_in_quote(following[1], self.delimiter, True)
        return line, texts, True

    def _row_of_its_own(self, text: str) -> bool:
        """Whether a line read inside an open quote is a row, not more of the
        cell: it has no quote and as many cells as the file's rows, or the
        quote it has does not close a cell (`"Sara",0912...` opens one)."""
        if '"' not in text:
            return len(text.split(self.delimiter)) >= max(2, self.width - 1)
        closing = _closing_quote(text)
        if closing < 0:
            return False
        after = text[closing + 1 : closing + 2]
        return after not in ("", self.delimiter, "\r", "\n")

    def _row(self, line: int, texts: list[str]) -> SourceRow | None:
        try:
            cells = _cells(texts, self.delimiter)
        except csv.Error:
            return SourceRow(line, (), _unreadable(texts[0]))
        if not any(cell.strip() for cell in cells):
            return None
        if len(cells) > MAX_COLUMNS:
            return SourceRow(
                line,
                (),
                Message(
                    N_("the row has %(count)s cells, more than %(limit)s"),
                    {"count": len(cells), "limit": MAX_COLUMNS},
                ),
            )
        return SourceRow(line, tuple(cells))

    def detach(self) -> None:
        """Let go of the binary stream without closing it (it is not ours)."""
        self._text.detach()


def _cells(texts: list[str], delimiter: str) -> list[str]:
    """A record's cells as csv reads them; a line without quotes (nearly
    every line of a lead file) split directly, which is what csv would do."""
    if len(texts) == 1 and '"' not in (text := texts[0]) and len(text) <= csv.field_size_limit():
        text = text.rstrip("\r\n")
        return text.split(delimiter) if text else []
    return next(csv.reader(texts, delimiter=delimiter), [])


def _closing_quote(text: str) -> int:
    """Where a quote open before `text` closes in it ("" is a quote); -1: it does not."""
    index = text.find('"')
    while index >= 0:
        if text[index + 1 : index + 2] != '"':
            return index
        index = text.find('"', index + 2)
    return -1


def _unclosed(text: str) -> Message:
    return Message(
        N_('a quote (") opened in this row is never closed: %(cell)s'),
        {"cell": excerpt(text.rstrip("\r\n"))},
    )


def _unreadable(text: str) -> Message:
    return Message(
        N_("the row cannot be read as CSV: %(cell)s"), {"cell": excerpt(text.rstrip("\r\n"))}
    )


class XlsxRows:
    """Rows of one worksheet in openpyxl's read-only mode, values as Excel
    stored them: numbers, dates, text. The first worksheet until `select`
    chooses another (`sheets` names them all)."""

    def __init__(self, stream: IO[bytes], *, sheet: str | None = None) -> None:
        import openpyxl  # only XLSX imports pay for it
        from openpyxl.utils.exceptions import InvalidFileException

        check_inflated_size(stream)
        try:
            self._book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
        except (*_BROKEN_XLSX, InvalidFileException, KeyError, ValueError) as exc:
            raise LeadFileError(N_("the file is not a readable XLSX workbook")) from exc
        self.sheets = [worksheet.title for worksheet in self._book.worksheets]
        if not self.sheets:  # only chart sheets, or a damaged workbook (fuzzing)
            self._book.close()
            raise LeadFileError(N_("the workbook has no worksheet"))
        try:
            self.select(sheet or self.sheets[0])
        except LeadFileError:
            self._book.close()
            raise

    def select(self, sheet: str) -> None:
        if sheet not in self.sheets:
            raise LeadFileError(
                N_("the workbook has no sheet named %(sheet)s; its sheets are %(sheets)s"),
                sheet=excerpt(sheet, 40),
                sheets=", ".join(excerpt(name, 40) for name in self.sheets),
            )
        self._sheet = self._book[sheet]
        self.sheet = sheet
        # The stored <dimension> is often stale; trusting it drops rows.
        self._sheet.reset_dimensions()

    def __iter__(self) -> Iterator[SourceRow]:
        line = 0
        rows = self._sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
        while True:
            try:  # read-only mode inflates and parses the sheet as rows are asked for
                cells = next(rows, None)
            except (*_BROKEN_XLSX, SyntaxError, ValueError, KeyError, IndexError) as exc:
                raise LeadFileError(
                    N_("row %(line)s of the workbook cannot be read"), line=line + 1
                ) from exc
            if cells is None:
                return
            line += 1
            if line > MAX_ROWS:
                raise LeadFileError(
                    N_("more than %(count)s rows (blank ones too); split the file"), count=MAX_ROWS
                )
            width = len(cells)
            while width and not _filled(cells[width - 1]):
                width -= 1  # read-only rows come padded to max_col with empty cells
            if width:
                yield SourceRow(line, tuple(cells[:width]))

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
        raise LeadFileError(N_("the file is not a readable XLSX workbook")) from exc
    finally:
        stream.seek(start)
    total = sum(member.file_size for member in members)
    if total > MAX_XLSX_INFLATED_BYTES:
        raise LeadFileError(
            N_(
                "the workbook unpacks to %(size)s MB, more than %(limit)s MB; "
                "save the leads as CSV or split the file"
            ),
            size=total // 2**20,
            limit=MAX_XLSX_INFLATED_BYTES // 2**20,
        )
    for member in members:
        if member.filename.endswith("sharedStrings.xml") and (
            member.file_size > MAX_XLSX_SHARED_STRINGS_BYTES
        ):
            raise LeadFileError(
                N_("the workbook's text table unpacks to %(size)s MB, more than %(limit)s MB"),
                size=member.file_size // 2**20,
                limit=MAX_XLSX_SHARED_STRINGS_BYTES // 2**20,
            )
