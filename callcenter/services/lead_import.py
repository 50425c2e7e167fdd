"""Importing a lead file into a campaign: the rules, chunk by chunk.

One customer per phone number: a number already known joins the existing
customer (their history follows them across campaigns). Rows are written in
chunks (bulk look-ups and inserts, no round trip per row). A bad row never
aborts the file: it is reported by line with the reason. Numbers on a DNC
list are not queued. Importing the same file again changes nothing.
The result is kept on LeadList.report for the result page: counts, and the
first REPORT_ROWS rows of each kind by line (a reason is kept as its
untranslated text and values, translated where it is shown).

`import_leads` runs a whole file in the caller's session (one transaction);
the web and the CLI import in the background, a chunk per transaction
(`lead_import_jobs`), with the same `import_chunk`, `Tally` and
`write_report`, so both give the same report."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.db import utcnow
from callcenter.errors import N_, InvalidInput, NotFound
from callcenter.leadfiles import (
    AS_DETECTED,
    DEFAULT_REGION,
    Field,
    LeadFile,
    Message,
    ParsedLead,
    ReadOptions,
    RowError,
    RowErrorCode,
    SourceRow,
    duplicate_error,
    map_headers,
    open_lead_file,
    parse_row,
)
from callcenter.models import Campaign, LeadList, User
from callcenter.services import audit, lead_staging

CHUNK = 1000
REPORT_ROWS = 1000
"""Rows listed per kind (rejected, warnings, ...); the rest are counted."""
LISTED = ("already_in_campaign", "duplicates", "dnc", "rejected", "warnings")
Source = str | os.PathLike[str] | bytes | IO[bytes]
Progress = Callable[[int], None]


@dataclass
class Tally:
    """What became of the rows: counts, and the first REPORT_ROWS rows of
    each kind by line for the report (`more` counts the rows not listed)."""

    rows: int = 0
    imported: int = 0
    existing_customers: int = 0
    already_in_campaign: list[int] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    dnc: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    more: dict[str, int] = field(default_factory=dict)
    # Rows of each kind listed by earlier chunks (kept apart): this tally lists
    # only what is left of REPORT_ROWS, so the chunks of a big bad file are small.
    listed_before: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str) -> int:
        return len(getattr(self, kind)) + self.more.get(kind, 0)

    @property
    def not_imported(self) -> int:
        """Rows refused: bad ones and numbers on a do-not-call list."""
        return self.count("rejected") + self.count("dnc")

    def keep(self, kind: str, items: Sequence[Any], more: int = 0) -> None:
        listed: list[Any] = getattr(self, kind)
        room = max(REPORT_ROWS - self.listed_before.get(kind, 0) - len(listed), 0)
        listed.extend(items[:room])
        unlisted = more + max(len(items) - room, 0)
        if unlisted:
            self.more[kind] = self.more.get(kind, 0) + unlisted

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["listed_before"]
        return data

    def add(self, other: Mapping[str, Any]) -> None:
        """Add another tally's `as_json()` (a later chunk's) to this one."""
        self.rows += other["rows"]
        self.imported += other["imported"]
        self.existing_customers += other["existing_customers"]
        more = other.get("more", {})
        for kind in LISTED:
            self.keep(kind, other[kind], more.get(kind, 0))


def message_entry(line: int, message: Message, **extra: Any) -> dict[str, Any]:
    """A row of the report with its reason, the text and values apart so it
    reads in the reader's language (`entry_message`)."""
    return {"line": line, **message.as_json(), **extra}


def entry_message(entry: Mapping[str, Any]) -> Message:
    """The reason of a report row (a rejected row, a warning); reports
    written before reasons were translatable hold the English sentence."""
    if "text" in entry:
        return Message(entry["text"], entry.get("params") or {})
    return Message(entry.get("reason") or entry.get("warning") or "")


def report_rows(report: Mapping[str, Any]) -> Iterator[tuple[int | None, str, Message]]:
    """The rows a report lists, by kind, each with what to say about it;
    after each kind's list, a line without a number for the rows not listed."""
    counts = report.get("counts", {})
    for kind in ("rejected", "dnc", "duplicates", "already_in_campaign", "warnings"):
        listed = report.get(kind, [])
        for item in listed:
            yield _report_row(kind, item)
        unlisted = counts.get(kind, len(listed)) - len(listed)
        if unlisted > 0:
            yield None, kind, Message(N_("and %(count)s more rows not listed"), {"count": unlisted})


def _report_row(kind: str, item: Any) -> tuple[int | None, str, Message]:
    if kind == "already_in_campaign":
        return item, kind, Message(N_("the customer is already in this campaign"))
    if kind == "dnc":
        return item["line"], kind, Message(N_("%(phone)s is on a do-not-call list"), item)
    if kind == "duplicates":
        return (
            item["line"],
            kind,
            Message(
                N_("the same number as line %(first_line)s"), {"first_line": item["first_line"]}
            ),
        )
    return item["line"], kind, entry_message(item)


def import_leads(
    session: Session,
    source: Source,
    *,
    campaign_id: int,
    filename: str | None = None,
    actor_id: int | None = None,
    mapping: Mapping[str, str] | None = None,
    options: ReadOptions = AS_DETECTED,
    region: str = DEFAULT_REGION,
    progress: Progress | None = None,
) -> LeadList:
    """Import a CSV/XLSX file; returns its LeadList with `report` filled.

    The same file (by SHA-256) imported again into the same campaign returns
    the first LeadList untouched. `progress(rows_done)` is called after each
    chunk. Raises LeadFileError when the file cannot be read at all."""
    campaign = get_campaign(session, campaign_id)
    data = _read_all(source)
    digest = file_digest(data)
    previous = find_lead_list(session, campaign_id, digest)
    if previous is not None:
        return previous
    name = filename or (
        Path(os.fspath(source)).name if isinstance(source, str | os.PathLike) else ""
    )
    lead_list = new_lead_list(session, campaign_id, name, digest, actor_id)
    tally = Tally()
    with open_lead_file(
        data, filename=filename or name or None, mapping=mapping, region=region, **options.kwargs()
    ) as leads:
        tally.keep("warnings", header_warnings(leads))
        for chunk in chunks(leads, CHUNK):
            import_chunk(session, campaign, lead_list.id, chunk, tally)
            if progress is not None:
                progress(tally.rows)
        info = file_info(leads)
    write_report(session, lead_list, tally, info)
    return lead_list


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(N_("no such campaign"), details={"campaign_id": campaign_id})
    return campaign


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def find_lead_list(session: Session, campaign_id: int, digest: str) -> LeadList | None:
    """The campaign's first list of this very file (by SHA-256), if any."""
    return session.scalar(
        select(LeadList)
        .where(LeadList.campaign_id == campaign_id, LeadList.file_sha256 == digest)
        .order_by(LeadList.id)
        .limit(1)
    )


def new_lead_list(
    session: Session, campaign_id: int, name: str, digest: str, actor_id: int | None
) -> LeadList:
    lead_list = LeadList(
        campaign_id=campaign_id,
        name=(name or "upload")[:255],
        file_sha256=digest,
        imported_by_id=actor_id,
    )
    session.add(lead_list)
    session.flush()
    return lead_list


def file_info(leads: LeadFile) -> dict[str, Any]:
    """What was detected in the file, for the report (after every row was read)."""
    return {
        "format": str(leads.format),
        "encoding": leads.encoding,
        "delimiter": leads.delimiter,
        "sheet": leads.sheet,
        "sheets": leads.sheets,
        "header_line": leads.header_line,
        "columns": {
            str(key): leads.columns.header[index] for key, index in leads.columns.fields.items()
        },
        "by_phone_type": dict(leads.stats.by_phone_type),
    }


def header_warnings(leads: LeadFile) -> list[dict[str, Any]]:
    """The header row's warnings as report rows, listed before the data rows'."""
    return [message_entry(leads.header_line, warning) for warning in leads.header_warnings]


def write_report(
    session: Session,
    lead_list: LeadList,
    tally: Tally,
    info: dict[str, Any],
    *,
    error: str | None = None,
    error_message: Message | None = None,
) -> None:
    """The list's counts and report, and the audit entry; with `error` the
    import stopped there (the rows before it stay imported); `error_message`
    is that error for translation."""
    lead_list.rows_total = tally.rows
    lead_list.rows_imported = tally.imported
    lead_list.rows_rejected = tally.not_imported
    listed = Tally()
    for kind in LISTED:
        listed.keep(kind, getattr(tally, kind), tally.more.get(kind, 0))
    report: dict[str, Any] = {
        "file": info,
        "rows": tally.rows,
        "imported": tally.imported,
        "existing_customers": tally.existing_customers,
        **{kind: getattr(listed, kind) for kind in LISTED},
        "counts": {kind: listed.count(kind) for kind in LISTED},
        "listed_at_most": REPORT_ROWS,
    }
    if error is not None:
        report["error"] = error
        if error_message is not None:
            report["error_message"] = error_message.as_json()
    lead_list.report = report
    session.flush()
    actor_id = lead_list.imported_by_id
    actor = session.get(User, actor_id) if actor_id is not None else None
    details: dict[str, Any] = {
        "campaign_id": lead_list.campaign_id,
        "file": lead_list.name,
        "rows": tally.rows,
        "imported": tally.imported,
        "rejected": lead_list.rows_rejected,
    }
    if error is not None:
        details["error"] = error
    audit.record(
        session,
        "leads.imported" if error is None else "leads.import_failed",
        actor=actor,
        target_type="lead_list",
        target_id=lead_list.id,
        details=details,
    )


def get_lead_list(session: Session, lead_list_id: int) -> LeadList:
    lead_list = session.get(LeadList, lead_list_id)
    if lead_list is None:
        raise NotFound(N_("no such lead list"), details={"lead_list_id": lead_list_id})
    return lead_list


def list_lead_lists(session: Session, campaign_id: int) -> list[LeadList]:
    query = select(LeadList).where(LeadList.campaign_id == campaign_id).order_by(LeadList.id.desc())
    return list(session.scalars(query))


def import_chunk(
    session: Session,
    campaign: Campaign,
    lead_list_id: int,
    chunk: Sequence[ParsedLead | RowError],
    tally: Tally,
) -> None:
    """Write one chunk of parsed rows (bulk look-ups and inserts) and count them."""
    tally.rows += len(chunk)
    parsed: list[ParsedLead] = []
    warnings: list[dict[str, Any]] = []
    duplicates: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for result in chunk:
        if isinstance(result, ParsedLead):
            parsed.append(result)
            warnings.extend(message_entry(result.line, w) for w in result.warnings)
        elif result.code is RowErrorCode.DUPLICATE:
            duplicates.append({"line": result.line, "first_line": result.duplicate_of})
        else:
            rejected.append(message_entry(result.line, result.message, code=str(result.code)))
    tally.keep("warnings", warnings)
    tally.keep("duplicates", duplicates)
    tally.keep("rejected", rejected)
    if not parsed:
        return
    written = lead_staging.write_leads(
        session,
        parsed,
        campaign_id=campaign.id,
        default_timezone=campaign.timezone,
        lead_list_id=lead_list_id,
        now=utcnow(),
    )
    tally.keep("dnc", [{"line": line, "phone": phone} for line, phone in written.dnc])
    tally.existing_customers += written.existing_customers
    tally.keep("already_in_campaign", written.already_in_campaign)
    tally.imported += written.imported


def chunks(items: Iterable[ParsedLead | RowError], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _read_all(source: Source) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, str | os.PathLike):
        return Path(source).read_bytes()
    return source.read()


def estimate_rows(data: bytes, filename: str | None) -> int | None:
    """Rows to expect, for a progress bar: lines of a CSV; None for XLSX."""
    if data[:2] == b"PK" or (filename or "").lower().endswith((".xlsx", ".xlsm")):
        return None
    return max(data.count(b"\n") - 1, 0) + (0 if data.endswith(b"\n") else 1)


# --- leads given as records (the API), through the same rows and chunks -------------------

RECORD_FIELDS = tuple(str(field) for field in Field if field is not Field.EXTRA)
RECORDS_AT_ONCE = 1000
Scalar = str | int | float | None


@dataclass(frozen=True)
class RecordResult:
    """What became of one record, by its 1-based position in the request."""

    line: int
    status: str  # imported, rejected, dnc, duplicate, already_in_campaign
    phone: str | None = None
    code: str | None = None
    message: Message | None = None
    warnings: tuple[Message, ...] = ()


def parse_records(records: Sequence[Mapping[str, Scalar]]) -> list[ParsedLead | RowError]:
    """Records ({"phone": ..., "first_name": ...}; other keys are the lead's
    own fields) read exactly as the rows of a file with those columns are;
    a number seen earlier in the same records is a duplicate, as in a file."""
    if not records:
        raise InvalidInput(N_("no leads given"))
    if len(records) > RECORDS_AT_ONCE:
        raise InvalidInput(
            N_("at most %(limit)s leads at once"),
            details={"given": len(records)},
            limit=RECORDS_AT_ONCE,
        )
    header: list[str] = []
    for record in records:
        header.extend(key for key in record if key not in header)
    columns = map_headers(header, {key: key for key in header if key in RECORD_FIELDS})
    seen: dict[str, int] = {}
    results: list[ParsedLead | RowError] = []
    for line, record in enumerate(records, start=1):
        row = SourceRow(line=line, cells=tuple(record.get(key) for key in header))
        result = parse_row(row, columns, check_width=False)
        if isinstance(result, ParsedLead):
            first_line = seen.setdefault(result.phone_e164, line)
            if first_line != line:
                result = duplicate_error(result, first_line)
        results.append(result)
    return results


def import_records(
    session: Session,
    records: Sequence[Mapping[str, Scalar]],
    *,
    campaign_id: int,
    name: str,
    actor_id: int | None = None,
) -> tuple[LeadList, list[RecordResult]]:
    """Import records into a campaign as one lead list, with the file
    import's rules (`import_chunk`) and report; the same records again
    change nothing and answer as the first time."""
    campaign = get_campaign(session, campaign_id)
    parsed = parse_records(records)
    digest = file_digest(json.dumps(list(records), sort_keys=True, default=str).encode())
    lead_list = find_lead_list(session, campaign_id, digest)
    if lead_list is None:
        lead_list = new_lead_list(session, campaign_id, name, digest, actor_id)
        tally = Tally()
        import_chunk(session, campaign, lead_list.id, parsed, tally)
        write_report(session, lead_list, tally, {"format": "records", "rows": len(parsed)})
    return lead_list, record_results(parsed, lead_list.report or {})


def record_results(
    parsed: Sequence[ParsedLead | RowError], report: Mapping[str, Any]
) -> list[RecordResult]:
    lines: dict[int, tuple[str, Message]] = {}
    for line, kind, message in report_rows(report):
        if line is not None and kind != "warnings":
            lines[line] = (_RECORD_STATUS[kind], message)
    results = []
    for result in parsed:
        if isinstance(result, RowError):
            status, message = lines.get(result.line, ("rejected", result.message))
            code = str(result.code)
            results.append(RecordResult(result.line, status, None, code, message))
            continue
        found = lines.get(result.line)
        status = found[0] if found is not None else "imported"
        results.append(
            RecordResult(
                result.line,
                status,
                result.phone_e164,
                None if found is None else status,
                None if found is None else found[1],
                result.warnings,
            )
        )
    return results


_RECORD_STATUS = {
    "rejected": "rejected",
    "dnc": "dnc",
    "duplicates": "duplicate",
    "already_in_campaign": "already_in_campaign",
}
