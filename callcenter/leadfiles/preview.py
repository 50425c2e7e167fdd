"""What a lead file looks like before it is imported: what was detected, the
columns with the field each goes to, and the first rows with what becomes of
them. The manager checks (or changes) the sheet, header line, delimiter and
mapping here; the import reads the file with the same choices."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callcenter.leadfiles.errors import LeadFileError, Message
from callcenter.leadfiles.headers import Field, clean_names, guess_field
from callcenter.leadfiles.leads import (
    HEADER_SEARCH_ROWS,
    ParsedLead,
    cell_text,
    open_lead_file,
    open_rows,
)
from callcenter.leadfiles.phones import DEFAULT_REGION
from callcenter.leadfiles.readers import DELIMITER_NAMES, CsvRows, Source, XlsxRows, open_binary
from callcenter.leadfiles.text import EXCERPT_CHARS

PREVIEW_ROWS = 10


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How to read a file, when detection is not what the manager wants."""

    sheet: str | None = None
    header_line: int | None = None
    delimiter: str | None = None  # the character itself

    def as_json(self) -> dict[str, Any] | None:
        chosen = {k: v for k, v in self.kwargs().items() if v is not None}
        return chosen or None

    def kwargs(self) -> dict[str, Any]:
        return {"sheet": self.sheet, "header_line": self.header_line, "delimiter": self.delimiter}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ReadOptions:
        data = data or {}
        line = data.get("header_line")
        return cls(data.get("sheet"), int(line) if line else None, data.get("delimiter"))


AS_DETECTED = ReadOptions()


@dataclass(frozen=True, slots=True)
class PreviewColumn:
    name: str
    field: Field | None  # None: kept as the lead's own field under its name
    second_phone: bool = False  # a phone column after the first: kept as other_phones


@dataclass(frozen=True, slots=True)
class PreviewRow:
    line: int
    cells: tuple[str, ...]  # as text, each cut for the screen
    problem: Message | None = None  # why the row would not be imported


@dataclass(slots=True)
class FilePreview:
    format: str
    encoding: str | None
    delimiter: str | None
    delimiter_name: str | None
    sheet: str | None
    sheets: list[str]
    header_line: int | None
    columns: list[PreviewColumn] = field(default_factory=list)
    rows: list[PreviewRow] = field(default_factory=list)
    error: LeadFileError | None = None  # the file cannot be imported as read now


def preview_lead_file(
    source: Source,
    *,
    filename: str | None = None,
    mapping: Mapping[str, str] | None = None,
    options: ReadOptions = AS_DETECTED,
    region: str = DEFAULT_REGION,
    rows: int = PREVIEW_ROWS,
) -> FilePreview:
    """The file as the import would read it. When it cannot be (no phone
    column found, say), its first rows as they are, and the error: the
    manager then chooses the header line or a phone column. Raises
    LeadFileError only when there are no rows to show at all."""
    data = source if isinstance(source, bytes) else _read(source)
    try:
        leads = open_lead_file(
            data,
            filename=filename,
            mapping=mapping,
            region=region,
            dedupe=False,
            **options.kwargs(),
        )
    except LeadFileError as exc:
        return _raw_preview(data, filename, options, rows, exc)
    with leads:
        columns = leads.columns
        first_phone = columns.phones[0]
        by_index = {index: name for name, index in columns.fields.items()}
        shown = FilePreview(
            format=str(leads.format),
            encoding=leads.encoding,
            delimiter=leads.delimiter,
            delimiter_name=_delimiter_name(leads.delimiter),
            sheet=leads.sheet,
            sheets=leads.sheets,
            header_line=leads.header_line,
            columns=[
                PreviewColumn(
                    name,
                    Field.PHONE if index in columns.phones else by_index.get(index),
                    second_phone=index in columns.phones and index != first_phone,
                )
                for index, name in enumerate(columns.header)
            ],
        )
        for result in itertools.islice(leads, rows):
            cells = tuple(_cut(result.raw.get(name, "")) for name in columns.header)
            problem = None if isinstance(result, ParsedLead) else result.message
            shown.rows.append(PreviewRow(result.line, cells, problem))
    return shown


def _raw_preview(
    data: bytes,
    filename: str | None,
    options: ReadOptions,
    rows: int,
    error: LeadFileError,
) -> FilePreview:
    """The rows as they are, under the chosen header line (else the first
    row), each column with the field its name suggests, if any."""
    stream, _ = open_binary(data)
    with stream:
        reader = open_rows(
            stream, filename=filename, sheet=options.sheet, delimiter=options.delimiter
        )
        try:
            head = list(itertools.islice(reader, HEADER_SEARCH_ROWS + rows))
        finally:
            if isinstance(reader, XlsxRows):
                reader.close()
            else:
                reader.detach()
    chosen = options.header_line
    at = next((i for i, row in enumerate(head) if row.line == chosen), None) if chosen else 0
    header = head[at] if at is not None and head else None
    names = clean_names(header.cells) if header is not None else []
    body = head[at + 1 :] if at is not None else head
    width = max([len(names), *(len(row.cells) for row in body)])
    names += [f"column_{i + 1}" for i in range(len(names), width)]
    csv_reader = reader if isinstance(reader, CsvRows) else None
    xlsx_reader = reader if isinstance(reader, XlsxRows) else None
    return FilePreview(
        format="csv" if csv_reader else "xlsx",
        encoding=csv_reader.encoding if csv_reader else None,
        delimiter=csv_reader.delimiter if csv_reader else None,
        delimiter_name=_delimiter_name(csv_reader.delimiter) if csv_reader else None,
        sheet=xlsx_reader.sheet if xlsx_reader else None,
        sheets=xlsx_reader.sheets if xlsx_reader else [],
        header_line=header.line if header is not None else None,
        columns=[PreviewColumn(name, guess_field(name)) for name in names],
        rows=[
            PreviewRow(
                row.line,
                tuple(_cut(cell_text(cell)) for cell in row.cells)
                + ("",) * (width - len(row.cells)),
                row.problem,
            )
            for row in body[:rows]
        ],
        error=error,
    )


def _delimiter_name(delimiter: str | None) -> str | None:
    names = {char: name for name, char in DELIMITER_NAMES.items()}
    return names.get(delimiter or "", delimiter)


def _cut(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def _read(source: Source) -> bytes:
    stream, owned = open_binary(source)
    try:
        return stream.read()
    finally:
        if owned:
            stream.close()
