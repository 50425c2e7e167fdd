"""Lead files to a stream of parsed leads and row errors.

    with open_lead_file(upload, filename="leads.csv") as leads:
        for result in leads:          # ParsedLead | RowError, in file order
            ...
        leads.stats                   # counts, complete once iterated

A bad row is a RowError and the stream goes on; only a file that cannot be
read at all (no phone column, empty, not CSV/XLSX) raises LeadFileError.

The header is the first row (of the first rows) that names a phone column,
so title rows above it are skipped; in a workbook, on the first worksheet
that has one. `sheet`, `header_line` and `delimiter` choose instead.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from types import TracebackType
from typing import IO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callcenter.errors import N_
from callcenter.leadfiles.errors import LeadFileError, Message
from callcenter.leadfiles.headers import Field, HeaderMap, find_columns, map_headers
from callcenter.leadfiles.names import locale_hint, normalize_title, split_full_name, split_title
from callcenter.leadfiles.phones import (
    DEFAULT_REGION,
    InvalidPhone,
    Phone,
    PhoneType,
    normalize_phone,
)
from callcenter.leadfiles.readers import (
    CellValue,
    CsvRows,
    FileFormat,
    Source,
    SourceRow,
    XlsxRows,
    detect_format,
    open_binary,
)
from callcenter.leadfiles.text import excerpt, normalize_text

HEADER_SEARCH_ROWS = 20
"""Non-blank rows looked at for the header (title rows, notes above it)."""


@dataclass(frozen=True, slots=True)
class ParsedLead:
    line: int
    phone_e164: str
    phone_type: PhoneType
    phone_region: str | None
    title: str  # normalised: آقای, خانم, دکتر, Mr, Ms, Dr, or as written
    first_name: str
    last_name: str
    company: str
    email: str | None
    city: str
    address: str
    notes: str
    priority: int | None  # None: not given, use the campaign's default
    timezone: str | None  # IANA key: from the file, else from the number if unambiguous
    locale: str | None  # "fa" / "en" from the name's script; None if it does not tell
    extra: dict[str, str]  # unmapped, non-empty columns by header name
    raw: dict[str, str]  # every cell of the row, by header name, as text
    warnings: tuple[Message, ...] = ()  # row kept, but something was dropped or looked off
    phone2_e164: str | None = None  # the first valid number of the other phone columns


class RowErrorCode(StrEnum):
    MISSING_PHONE = "missing_phone"
    INVALID_PHONE = "invalid_phone"
    DUPLICATE = "duplicate"
    UNREADABLE = "unreadable"  # an unclosed quote, a cell past csv's size limit


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: Message
    raw: dict[str, str]
    code: RowErrorCode
    duplicate_of: int | None = None  # DUPLICATE: line of the first row with this number
    lead: ParsedLead | None = None  # DUPLICATE: the parsed row, for a service that merges

    @property
    def reason(self) -> str:
        return str(self.message)


@dataclass(slots=True)
class ImportStats:
    rows: int = 0  # non-blank rows after the header
    leads: int = 0
    errors: int = 0  # includes duplicates
    duplicates: int = 0
    by_phone_type: dict[str, int] = field(default_factory=dict)


def open_lead_file(
    source: Source,
    *,
    filename: str | None = None,
    mapping: Mapping[str, str] | None = None,
    region: str = DEFAULT_REGION,
    sheet: str | None = None,
    header_line: int | None = None,
    delimiter: str | None = None,
    dedupe: bool = True,
) -> LeadFile:
    """Open a CSV or XLSX lead list and find its header.

    `source` is a path, bytes or a binary file object (not closed here unless
    we opened it). The format comes from the content (then `filename`'s
    extension). `mapping` names columns explicitly ({"Cell #": "phone"}).
    `header_line` is the header's line (CSV) or row (XLSX), 1-based.
    With `dedupe` (default) a repeated number is a DUPLICATE RowError that
    points at the first line; pass False to see every row as a ParsedLead."""
    stream, owned = open_binary(source)
    try:
        reader = open_rows(stream, filename=filename, sheet=sheet, delimiter=delimiter)
        try:
            return LeadFile(
                reader, mapping, region, dedupe, stream if owned else None, sheet, header_line
            )
        except BaseException:
            _let_go(reader, owned=owned)
            raise
    except BaseException:
        if owned:
            stream.close()
        raise


def open_rows(
    stream: IO[bytes],
    *,
    filename: str | None = None,
    sheet: str | None = None,
    delimiter: str | None = None,
) -> CsvRows | XlsxRows:
    """The file's raw rows, its format told by its bytes."""
    head = stream.read(8)
    stream.seek(-len(head), 1)
    kind = detect_format(head, filename)
    if kind is FileFormat.CSV:
        return CsvRows(stream, delimiter=delimiter)
    return XlsxRows(stream, sheet=sheet)


def _let_go(reader: CsvRows | XlsxRows, *, owned: bool) -> None:
    if isinstance(reader, XlsxRows):
        reader.close()
    elif not owned:
        reader.detach()


class LeadFile:
    """An opened lead list: what was detected, and its rows as a stream."""

    def __init__(
        self,
        reader: CsvRows | XlsxRows,
        mapping: Mapping[str, str] | None,
        region: str,
        dedupe: bool,
        owned: IO[bytes] | None,
        sheet: str | None = None,
        header_line: int | None = None,
    ) -> None:
        self.format = FileFormat.CSV if isinstance(reader, CsvRows) else FileFormat.XLSX
        self.encoding = reader.encoding if isinstance(reader, CsvRows) else None
        self.delimiter = reader.delimiter if isinstance(reader, CsvRows) else None
        self.sheets = reader.sheets if isinstance(reader, XlsxRows) else []
        self.stats = ImportStats()
        self._reader, self._owned = reader, owned
        self._region, self._dedupe = region, dedupe
        header, self._rows = self._find_header(mapping, sheet, header_line)
        self.sheet = reader.sheet if isinstance(reader, XlsxRows) else None
        self.header_line = header.line
        self.columns: HeaderMap = map_headers(header.cells, mapping)
        self.header_warnings = _header_warnings(header, self.columns)

    def _find_header(
        self, mapping: Mapping[str, str] | None, sheet: str | None, header_line: int | None
    ) -> tuple[SourceRow, Iterator[SourceRow]]:
        """The header row and the rows after it. A workbook's sheets are
        tried in order (unless one is chosen) for the first with a header."""
        reader = self._reader
        if not isinstance(reader, XlsxRows) or sheet is not None or header_line is not None:
            return _header_of(iter(reader), mapping, header_line)
        for name in reader.sheets:
            reader.select(name)
            rows = iter(reader)
            head = list(itertools.islice(rows, HEADER_SEARCH_ROWS))
            if any(_could_be_header(row, mapping) for row in head):
                return _header_of(itertools.chain(head, rows), mapping, None)
        reader.select(reader.sheets[0])
        return _header_of(iter(reader), mapping, None)

    def __iter__(self) -> Iterator[ParsedLead | RowError]:
        first_line: dict[str, int] = {}
        check_width = self.format is FileFormat.CSV
        for row in self._rows:
            result = parse_row(row, self.columns, self._region, check_width=check_width)
            if isinstance(result, ParsedLead) and self._dedupe:
                first = first_line.setdefault(result.phone_e164, result.line)
                if first != result.line:
                    result = duplicate_error(result, first)
            self._count(result)
            yield result

    def _count(self, result: ParsedLead | RowError) -> None:
        stats = self.stats
        stats.rows += 1
        if isinstance(result, ParsedLead):
            stats.leads += 1
            kind = result.phone_type.value
            stats.by_phone_type[kind] = stats.by_phone_type.get(kind, 0) + 1
        else:
            stats.errors += 1
            stats.duplicates += result.code is RowErrorCode.DUPLICATE

    def close(self) -> None:
        _let_go(self._reader, owned=self._owned is not None)
        if self._owned is not None:
            self._owned.close()

    def __enter__(self) -> LeadFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _could_be_header(row: SourceRow, mapping: Mapping[str, str] | None) -> bool:
    if row.problem is not None:
        return False
    try:
        return find_columns(row.cells, mapping) is not None
    except LeadFileError:  # the mapping names a column this row lacks
        return False


def _header_of(
    rows: Iterator[SourceRow], mapping: Mapping[str, str] | None, header_line: int | None
) -> tuple[SourceRow, Iterator[SourceRow]]:
    """The chosen line, or the first of the first rows that could be the
    header; without one, the first row (map_headers then says what is wrong)."""
    if header_line is not None:
        for row in rows:
            if row.line == header_line and row.problem is None:
                return row, rows
            if row.line >= header_line:
                break
        raise LeadFileError(
            N_("line %(line)s is empty or is not a row of the file; choose another header line"),
            line=header_line,
        )
    head = list(itertools.islice(rows, HEADER_SEARCH_ROWS))
    if not head:
        raise LeadFileError(N_("the file is empty: no header row"))
    found = next((i for i, row in enumerate(head) if _could_be_header(row, mapping)), 0)
    if (problem := head[found].problem) is not None:
        raise LeadFileError(problem.text, **problem.params)
    return head[found], itertools.chain(head[found + 1 :], rows)


def duplicate_error(lead: ParsedLead, first_line: int) -> RowError:
    """The RowError for a later row with a number already seen at `first_line`;
    for services that dedupe across several files themselves."""
    return RowError(
        line=lead.line,
        message=Message(
            N_("duplicate of line %(line)s (%(phone)s)"),
            {"line": first_line, "phone": lead.phone_e164},
        ),
        raw=lead.raw,
        code=RowErrorCode.DUPLICATE,
        duplicate_of=first_line,
        lead=lead,
    )


def parse_row(
    row: SourceRow, columns: HeaderMap, region: str = DEFAULT_REGION, *, check_width: bool = True
) -> ParsedLead | RowError:
    """One row to a lead, or the reason it cannot be one. Never raises for bad data."""
    if row.problem is not None:
        return RowError(row.line, row.problem, {}, RowErrorCode.UNREADABLE)
    texts = [cell if type(cell) is str else cell_text(cell) for cell in row.cells]
    raw = _raw(texts, columns.header)
    warnings: list[Message] = []
    width = len(columns.header)
    sizes = {"cells": len(texts), "header": width}
    if check_width and len(texts) < width:
        warnings.append(Message(N_("the row has %(cells)s cells, the header %(header)s"), sizes))
    if len(texts) > width and any(texts[width:]):
        warnings.append(
            Message(
                N_("the row has %(cells)s cells, the header %(header)s; the extra ones are kept"),
                sizes,
            )
        )
    if nul_in := _columns_with_nul(texts, columns.header):
        warnings.append(Message(N_("NUL characters were removed from %(columns)s"), nul_in))

    phone, other_phones, reason = _pick_phone(row.cells, columns, region)
    if phone is None:
        code = RowErrorCode.MISSING_PHONE if reason is None else RowErrorCode.INVALID_PHONE
        return RowError(row.line, reason or Message(N_("no phone number")), raw, code)

    mapped = {
        name: normalize_text(texts[i]) for name, i in columns.fields.items() if i < len(texts)
    }

    def text(name: Field) -> str:
        return mapped.get(name, "")

    title, first, last = _names(
        text(Field.TITLE), text(Field.FIRST_NAME), text(Field.LAST_NAME), text(Field.FULL_NAME)
    )
    extra = {
        columns.header[i]: normalize_text(texts[i])
        for i in columns.extra
        if i < len(texts) and texts[i].strip()
    }
    extra.update(
        (f"column_{i + 1}", normalize_text(value))
        for i, value in enumerate(texts[width:], start=width)
        if value.strip()
    )
    if other_phones:
        extra["other_phones"] = " ".join(other_phones)
    return ParsedLead(
        line=row.line,
        phone_e164=phone.e164,
        phone_type=phone.type,
        phone_region=phone.region,
        title=title,
        first_name=first,
        last_name=last,
        company=text(Field.COMPANY),
        email=_email(text(Field.EMAIL), warnings),
        city=text(Field.CITY),
        address=text(Field.ADDRESS),
        notes=text(Field.NOTES),
        priority=_priority(text(Field.PRIORITY), warnings),
        timezone=_timezone(text(Field.TIMEZONE), phone, warnings),
        locale=locale_hint(first, last) or _title_locale(title),
        extra=extra,
        raw=raw,
        warnings=tuple(warnings),
        phone2_e164=_second_phone(other_phones, phone, region),
    )


def _header_warnings(header: SourceRow, columns: HeaderMap) -> tuple[Message, ...]:
    """What the header row lost on the way to the column names, said as a
    data row says it (the import report lists it under the header's line)."""
    texts = [cell_text(cell) for cell in header.cells]
    if nul_in := _columns_with_nul(texts, columns.header):
        return (
            Message(N_("NUL characters were removed from the column names %(columns)s"), nul_in),
        )
    return ()


def _columns_with_nul(texts: list[str], header: tuple[str, ...]) -> dict[str, str]:
    """The columns whose cells hold NUL, which normalize_text drops (binary
    junk pasted in; PostgreSQL text cannot hold it): the row is kept, and
    the manager told what was taken out of it."""
    found = [i for i, text in enumerate(texts) if "\x00" in text]
    if not found:
        return {}
    names = (header[i] if i < len(header) else f"column_{i + 1}" for i in found)
    return {"columns": ", ".join(excerpt(name, 40) for name in names)}


def _second_phone(others: list[str], first: Phone, region: str) -> str | None:
    for text in others:
        try:
            second = _phone(text, region)
        except InvalidPhone:
            continue
        if second.e164 != first.e164:
            return second.e164
    return None


def cell_text(cell: CellValue) -> str:
    """A cell as text: whole floats without ".0" (Excel stores 0912... as
    9121234567.0), dates as ISO, a midnight datetime as a date."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float | Decimal):
        # Infinities and NaNs (seen by fuzzing XLSX cells) have no int().
        finite = cell.is_finite() if isinstance(cell, Decimal) else math.isfinite(cell)
        return str(int(cell)) if finite and cell == int(cell) else str(cell)
    if isinstance(cell, datetime):
        return cell.date().isoformat() if cell.time() == time(0) else cell.isoformat()
    if isinstance(cell, date | time):
        return cell.isoformat()
    if isinstance(cell, timedelta):
        return str(cell)
    return str(cell)


def _raw(texts: list[str], header: tuple[str, ...]) -> dict[str, str]:
    raw = dict(zip(header, texts, strict=False))
    raw.update((f"column_{i + 1}", t) for i, t in enumerate(texts[len(header) :], len(header)))
    return raw


_SEPARATORS = re.compile(r"\s*[,;/|،\n]\s*|\s+-\s+|\s{2,}")


def _pick_phone(
    cells: tuple[CellValue, ...], columns: HeaderMap, region: str
) -> tuple[Phone | None, list[str], Message | None]:
    """The first valid number among the phone columns (and among several
    numbers in one cell); the other numbers given; else the first reason."""
    found: Phone | None = None
    others: list[str] = []
    reason: Message | None = None
    for index in columns.phones:
        cell = cells[index] if index < len(cells) else None
        for candidate in _phone_candidates(cell):
            if found is not None:
                others.append(normalize_text(cell_text(candidate)))
                continue
            try:
                found = _phone(candidate, region)
            except InvalidPhone as exc:
                reason = reason or Message(exc.text, exc.params)
    if found is not None:
        return found, others, None
    return None, [], reason


def _phone_candidates(cell: CellValue) -> list[CellValue]:
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return []
    if isinstance(cell, str):
        return [part for part in _SEPARATORS.split(normalize_text(cell)) if part] or [cell]
    return [cell]


def _phone(cell: CellValue, region: str) -> Phone:
    if isinstance(cell, datetime | date | time | timedelta):
        raise InvalidPhone(
            N_(
                "the phone cell holds a date or time (%(cell)s); "
                "format the phone column as text in the spreadsheet"
            ),
            cell=excerpt(cell_text(cell)),
        )
    if isinstance(cell, str | int | float | Decimal):
        return normalize_phone(cell, region)
    raise InvalidPhone(N_("not a phone number: %(cell)s"), cell=excerpt(cell))


def _names(title: str, first: str, last: str, full: str) -> tuple[str, str, str]:
    if not first and not last and full:
        name_title, first, last = split_full_name(full)
        title = title or name_title
    elif first:
        name_title, first = split_title(first)
        title = title or name_title
    return normalize_title(title), first, last


def _title_locale(title: str) -> str | None:
    return locale_hint(title) if title else None


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str, warnings: list[Message]) -> str | None:
    if not value:
        return None
    value = value.replace(" ", "").lower()
    if _EMAIL.match(value):
        return value
    warnings.append(
        Message(N_("the email %(cell)s is not an address; left out"), {"cell": excerpt(value)})
    )
    return None


def _priority(value: str, warnings: list[Message]) -> int | None:
    if not value:
        return None
    try:
        number = Decimal(value)
        if number == int(number):
            return int(number)
    except (InvalidOperation, ValueError, OverflowError):
        pass
    warnings.append(
        Message(
            N_("the priority %(cell)s is not a whole number; left out"), {"cell": excerpt(value)}
        )
    )
    return None


def _timezone(value: str, phone: Phone, warnings: list[Message]) -> str | None:
    if value:
        if _is_zone(value):
            return value
        warnings.append(
            Message(
                N_("the time zone %(cell)s is unknown; the number's is used"),
                {"cell": excerpt(value)},
            )
        )
    return _zone_of_number(phone)


def _is_zone(key: str) -> bool:
    try:
        ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _zone_of_number(phone: Phone) -> str | None:
    single = _single_zone_of_country(str(phone.country_code))
    if single is not None:
        return single
    import phonenumbers
    from phonenumbers import timezone as phone_zones

    zones = phone_zones.time_zones_for_number(phonenumbers.parse(phone.e164))
    return zones[0] if len(zones) == 1 and _is_zone(zones[0]) else None


@functools.cache
def _single_zone_of_country(country: str) -> str | None:
    """The zone when every number of a country is in one (Iran), so the
    per-number lookup, a third of the parse time, is skipped."""
    from phonenumbers.tzdata import TIMEZONE_DATA

    zones = {
        zone
        for prefix, found in TIMEZONE_DATA.items()
        if prefix.startswith(country)
        for zone in found
    }
    if len(zones) == 1 and _is_zone(next(iter(zones))):
        return next(iter(zones))
    return None
