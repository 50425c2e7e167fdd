"""Lead files to a stream of parsed leads and row errors.

    with open_lead_file(upload, filename="leads.csv") as leads:
        for result in leads:          # ParsedLead | RowError, in file order
            ...
        leads.stats                   # counts, complete once iterated

A bad row is a RowError and the stream goes on; only a file that cannot be
read at all (no phone column, empty, not CSV/XLSX, a CSV broken mid-way)
raises LeadFileError.
"""

from __future__ import annotations

import functools
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

from callcenter.leadfiles.errors import LeadFileError
from callcenter.leadfiles.headers import Field, HeaderMap, map_headers
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
from callcenter.leadfiles.text import normalize_text


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
    warnings: tuple[str, ...] = ()  # row kept, but something was dropped or looked off


class RowErrorCode(StrEnum):
    MISSING_PHONE = "missing_phone"
    INVALID_PHONE = "invalid_phone"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: str
    raw: dict[str, str]
    code: RowErrorCode
    duplicate_of: int | None = None  # DUPLICATE: line of the first row with this number
    lead: ParsedLead | None = None  # DUPLICATE: the parsed row, for a service that merges


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
    delimiter: str | None = None,
    dedupe: bool = True,
) -> LeadFile:
    """Open a CSV or XLSX lead list and read its header.

    `source` is a path, bytes or a binary file object (not closed here unless
    we opened it). The format comes from `filename`'s extension or the
    content. `mapping` names columns explicitly ({"Cell #": "phone"}).
    With `dedupe` (default) a repeated number is a DUPLICATE RowError that
    points at the first line; pass False to see every row as a ParsedLead."""
    stream, owned = open_binary(source)
    try:
        head = stream.read(8)
        stream.seek(-len(head), 1)
        kind = detect_format(head, filename)
        reader: CsvRows | XlsxRows = (
            CsvRows(stream, delimiter=delimiter)
            if kind is FileFormat.CSV
            else XlsxRows(stream, sheet=sheet)
        )
        return LeadFile(reader, kind, mapping, region, dedupe, stream if owned else None)
    except BaseException:
        if owned:
            stream.close()
        raise


class LeadFile:
    """An opened lead list: what was detected, and its rows as a stream."""

    def __init__(
        self,
        reader: CsvRows | XlsxRows,
        kind: FileFormat,
        mapping: Mapping[str, str] | None,
        region: str,
        dedupe: bool,
        owned: IO[bytes] | None,
    ) -> None:
        self.format = kind
        self.encoding = reader.encoding if isinstance(reader, CsvRows) else None
        self.delimiter = reader.delimiter if isinstance(reader, CsvRows) else None
        self.sheet = reader.sheet if isinstance(reader, XlsxRows) else None
        self.stats = ImportStats()
        self._reader, self._owned = reader, owned
        self._region, self._dedupe = region, dedupe
        self._rows = iter(reader)
        try:
            header = next(self._rows, None)
            if header is None:
                raise LeadFileError("the file is empty: no header row")
            self.header_line = header.line
            self.columns: HeaderMap = map_headers(header.cells, mapping)
        except BaseException:
            self.close()
            raise

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
        if isinstance(self._reader, XlsxRows):
            self._reader.close()
        elif self._owned is None:
            self._reader.detach()
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


def duplicate_error(lead: ParsedLead, first_line: int) -> RowError:
    """The RowError for a later row with a number already seen at `first_line`;
    for services that dedupe across several files themselves."""
    return RowError(
        line=lead.line,
        reason=f"duplicate of line {first_line} ({lead.phone_e164})",
        raw=lead.raw,
        code=RowErrorCode.DUPLICATE,
        duplicate_of=first_line,
        lead=lead,
    )


def parse_row(
    row: SourceRow, columns: HeaderMap, region: str = DEFAULT_REGION, *, check_width: bool = True
) -> ParsedLead | RowError:
    """One row to a lead, or the reason it cannot be one. Never raises for bad data."""
    texts = [cell_text(cell) for cell in row.cells]
    raw = _raw(texts, columns.header)
    warnings: list[str] = []
    width = len(columns.header)
    if check_width and len(texts) < width:
        warnings.append(f"row has {len(texts)} cells, the header has {width}")
    if len(texts) > width and any(texts[width:]):
        warnings.append(f"row has {len(texts)} cells, the header has {width}; extra kept")

    phone, other_phones, reason = _pick_phone(row.cells, columns, region)
    if phone is None:
        code = RowErrorCode.MISSING_PHONE if reason is None else RowErrorCode.INVALID_PHONE
        return RowError(row.line, reason or "no phone number", raw, code)

    def text(name: Field) -> str:
        index = columns.fields.get(name)
        return normalize_text(texts[index]) if index is not None and index < len(texts) else ""

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
    )


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
) -> tuple[Phone | None, list[str], str | None]:
    """The first valid number among the phone columns (and among several
    numbers in one cell); the other numbers given; else the first reason."""
    found: Phone | None = None
    others: list[str] = []
    reason: str | None = None
    for index in columns.phones:
        cell = cells[index] if index < len(cells) else None
        for candidate in _phone_candidates(cell):
            if found is not None:
                others.append(normalize_text(cell_text(candidate)))
                continue
            try:
                found = _phone(candidate, region)
            except InvalidPhone as exc:
                reason = reason or exc.reason
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
            f"the phone cell holds a date or time ({cell_text(cell)}); "
            "format the phone column as text in the spreadsheet"
        )
    if isinstance(cell, str | int | float | Decimal):
        return normalize_phone(cell, region)
    raise InvalidPhone(f"not a phone number: {cell!r}")


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


def _email(value: str, warnings: list[str]) -> str | None:
    if not value:
        return None
    value = value.replace(" ", "").lower()
    if _EMAIL.match(value):
        return value
    warnings.append(f"email {value!r} is not an address; dropped")
    return None


def _priority(value: str, warnings: list[str]) -> int | None:
    if not value:
        return None
    try:
        number = Decimal(value)
        if number == int(number):
            return int(number)
    except (InvalidOperation, ValueError, OverflowError):
        pass
    warnings.append(f"priority {value!r} is not a whole number; dropped")
    return None


def _timezone(value: str, phone: Phone, warnings: list[str]) -> str | None:
    if value:
        if _is_zone(value):
            return value
        warnings.append(f"time zone {value!r} is unknown; using the number's")
    return _zone_of_number(phone)


def _is_zone(key: str) -> bool:
    try:
        ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _zone_of_number(phone: Phone) -> str | None:
    import phonenumbers
    from phonenumbers import timezone as phone_zones

    single = _single_zone_of_country(str(phone.country_code))
    if single is not None:
        return single
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
