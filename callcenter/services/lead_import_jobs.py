"""Lead files imported in the background, so a big file never holds the
database (SQLite's single write lock above all) while calls are placed.

1. `queue_import` (the upload): checks that the file can be read (its
   header), keeps it in `lead_import_files`, and answers at once.
2. A worker (`callcenter.lead_import_worker`: the web process in the
   embedded default, `callcenter consume` in production) `claim`s it.
3. `run_import` writes a chunk of rows per transaction, each committed with
   the job's counters and its part of the report; the dialer's and the
   agents' writes go in between. The worker beats on every chunk; a job
   whose worker stopped beating for STALE_AFTER is taken over and goes on
   after the last committed chunk (the rows before it are read again, not
   written again), so nothing is imported twice. A worker that stops
   cleanly gives the job back at once.
4. At the end the chunks' parts become LeadList.report, as `import_leads`
   writes it; a file that turns out unreadable half-way (a bound of
   `leadfiles.readers`) fails there, with the rows before it imported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import delete, func, literal, or_, select, update
from sqlalchemy.orm import Session

from callcenter.db import Database, UTCDateTime, utcnow
from callcenter.errors import N_, NotFound
from callcenter.leadfiles import (
    AS_DETECTED,
    DEFAULT_REGION,
    LeadFileError,
    Message,
    ParsedLead,
    ReadOptions,
    RowError,
    open_lead_file,
)
from callcenter.models import Campaign, LeadImport, LeadImportChunk, LeadImportFile, LeadList
from callcenter.services import lead_import
from callcenter.states import IMPORT_TRANSITIONS, ImportState, advance

log = logging.getLogger(__name__)

# Rows per transaction. SQLite has one write lock for the whole database: the
# dialer and the agents wait for at most one chunk. PostgreSQL locks only the
# new rows, and fewer commits import 100,000 rows in ~9 s instead of ~12.
CHUNK_ROWS = {"sqlite": 500, "postgresql": 2000}
STALE_AFTER = timedelta(seconds=60)
MAX_TRIES = 3
FINISHED = frozenset({ImportState.DONE, ImportState.FAILED})


class ImportLost(Exception):
    """Another worker holds this import now (this one was taken for lost)."""


@dataclass(frozen=True)
class ImportProgress:
    lead_list_id: int
    state: ImportState
    rows_expected: int | None
    rows_read: int
    rows_imported: int
    rows_rejected: int
    error: str

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "state": str(self.state), "finished": self.finished}


def queue_import(
    session: Session,
    data: bytes,
    *,
    campaign_id: int,
    filename: str,
    actor_id: int | None = None,
    mapping: Mapping[str, str] | None = None,
    options: ReadOptions = AS_DETECTED,
    region: str = DEFAULT_REGION,
) -> LeadList:
    """The LeadList the file will fill, its import queued to read the file
    with these `mapping` and `options`. The same file uploaded again to the
    same campaign gives the first list back. Raises LeadFileError when the
    file cannot be read at all (nothing is kept)."""
    lead_import.get_campaign(session, campaign_id)
    digest = lead_import.file_digest(data)
    previous = lead_import.find_lead_list(session, campaign_id, digest)
    if previous is not None:
        return previous
    with open_lead_file(
        data, filename=filename or None, mapping=mapping, region=region, **options.kwargs()
    ):
        pass  # the header is read on opening: an unreadable file is refused now
    lead_list = lead_import.new_lead_list(session, campaign_id, filename, digest, actor_id)
    job = LeadImport(
        lead_list_id=lead_list.id,
        mapping=dict(mapping) if mapping else None,
        options=options.as_json(),
        region=region,
        rows_expected=lead_import.estimate_rows(data, filename),
    )
    session.add(job)
    session.flush()
    session.add(LeadImportFile(import_id=job.id, data=data))
    session.flush()
    return lead_list


def import_id_of(session: Session, lead_list_id: int) -> int | None:
    return session.scalar(select(LeadImport.id).where(LeadImport.lead_list_id == lead_list_id))


def progress(session: Session, lead_list_id: int) -> ImportProgress:
    """Where the list's import stands (a list imported before imports ran in
    the background, or by `import_leads`, is done)."""
    lead_list = session.get(LeadList, lead_list_id)
    if lead_list is None:
        raise NotFound(N_("no such lead list"), details={"lead_list_id": lead_list_id})
    job = session.scalar(select(LeadImport).where(LeadImport.lead_list_id == lead_list_id))
    if job is None:
        return ImportProgress(
            lead_list.id,
            ImportState.DONE,
            lead_list.rows_total,
            lead_list.rows_total,
            lead_list.rows_imported,
            lead_list.rows_rejected,
            "",
        )
    return ImportProgress(
        lead_list.id,
        job.state,
        job.rows_expected,
        job.rows_read,
        job.rows_imported,
        job.rows_rejected,
        job.error,
    )


def states_of(session: Session, lead_list_ids: list[int]) -> dict[int, ImportProgress]:
    """The unfinished imports among these lists, by list id."""
    if not lead_list_ids:
        return {}
    query = select(LeadImport.lead_list_id).where(
        LeadImport.lead_list_id.in_(lead_list_ids), LeadImport.state.not_in(FINISHED)
    )
    return {list_id: progress(session, list_id) for list_id in session.scalars(query)}


def _claimable(now: datetime) -> Any:
    stale = now - STALE_AFTER
    return or_(
        LeadImport.state == ImportState.QUEUED,
        (LeadImport.state == ImportState.RUNNING) & (LeadImport.heartbeat_at < stale),
    )


def claim(database: Database, import_id: int, worker: str, *, now: datetime | None = None) -> bool:
    """Take the import if it is queued or its worker stopped beating; one
    conditional UPDATE, so of several workers trying, one wins."""
    now = now or utcnow()
    with database.unit_of_work() as session:
        taken = session.execute(
            update(LeadImport)
            .where(LeadImport.id == import_id, _claimable(now))
            .values(
                state=ImportState.RUNNING,
                worker=worker,
                heartbeat_at=now,
                started_at=func.coalesce(LeadImport.started_at, literal(now, UTCDateTime())),
                tries=LeadImport.tries + 1,
            )
            .execution_options(synchronize_session=False)
        )
        return taken.rowcount == 1  # type: ignore[attr-defined]


def claim_next(database: Database, worker: str, *, now: datetime | None = None) -> int | None:
    """The oldest import this worker could take, taken; None when none waits."""
    now = now or utcnow()
    with database.read_sessions() as session:
        waiting = list(
            session.scalars(
                select(LeadImport.id).where(_claimable(now)).order_by(LeadImport.id).limit(5)
            )
        )
    for import_id in waiting:
        if claim(database, import_id, worker, now=now):
            return import_id
    return None


@dataclass(frozen=True)
class _Job:
    id: int
    lead_list_id: int
    campaign_id: int
    filename: str
    mapping: dict[str, str] | None
    options: ReadOptions
    region: str
    rows_read: int
    chunks_done: int
    tries: int


def run_import(
    database: Database,
    import_id: int,
    worker: str,
    *,
    chunk_rows: int | None = None,
    after_chunk: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ImportState:
    """Run a claimed import to its end (or until `should_stop()`, checked
    between chunks: then it is given back, QUEUED). `after_chunk(rows_read)`
    is called after each committed chunk. Raises ImportLost if another worker
    took it over meanwhile."""
    chunk_rows = chunk_rows or CHUNK_ROWS.get(database.engine.dialect.name, 500)
    job, data = _load(database, import_id, worker)
    if job.tries > MAX_TRIES:
        stopped = Message(
            N_("the import stopped %(tries)s times before its end; not tried again"),
            {"tries": MAX_TRIES},
        )
        return _end(database, job, worker, {}, error=str(stopped), error_message=stopped)
    if data is None:
        gone = Message(N_("the uploaded file is gone"))
        return _end(database, job, worker, {}, error=str(gone), error_message=gone)
    rows_read, seq = job.rows_read, job.chunks_done
    info: dict[str, Any] = {}
    header: list[dict[str, Any]] = []
    try:
        with open_lead_file(
            data,
            filename=job.filename or None,
            mapping=job.mapping,
            region=job.region,
            **job.options.kwargs(),
        ) as leads:
            header = lead_import.header_warnings(leads)
            results = iter(leads)
            for _ in islice(results, job.rows_read):
                pass  # committed by an earlier try; read again for the duplicates' first lines
            listed = _listed_so_far(database, job) if job.chunks_done else {}
            for chunk in lead_import.chunks(results, chunk_rows):
                _commit_chunk(database, job, worker, seq, chunk, listed)
                seq, rows_read = seq + 1, rows_read + len(chunk)
                if after_chunk is not None:
                    after_chunk(rows_read)
                if should_stop is not None and should_stop():
                    return _give_back(database, job, worker)
            info = lead_import.file_info(leads)
    except LeadFileError as exc:
        reason = Message(exc.text, exc.params)
        return _end(database, job, worker, info, header, error=str(reason), error_message=reason)
    return _end(database, job, worker, info, header, error=None)


def _load(database: Database, import_id: int, worker: str) -> tuple[_Job, bytes | None]:
    with database.read_sessions() as session:
        row = session.get(LeadImport, import_id)
        if row is None:
            raise NotFound(N_("no such lead import"), details={"import_id": import_id})
        if row.worker != worker or row.state is not ImportState.RUNNING:
            raise ImportLost(f"lead import {import_id} is held by {row.worker} ({row.state})")
        lead_list = session.get(LeadList, row.lead_list_id)
        assert lead_list is not None
        data = session.scalar(
            select(LeadImportFile.data).where(LeadImportFile.import_id == import_id)
        )
        job = _Job(
            id=row.id,
            lead_list_id=row.lead_list_id,
            campaign_id=lead_list.campaign_id,
            filename=lead_list.name,
            mapping=row.mapping,
            options=ReadOptions.from_json(row.options),
            region=row.region,
            rows_read=row.rows_read,
            chunks_done=row.chunks_done,
            tries=row.tries,
        )
    return job, data


def _hold(session: Session, job: _Job, worker: str, now: datetime) -> None:
    """First in every transaction of the run: beat, or find the job taken.
    On PostgreSQL the row stays locked until the commit, so two workers
    that both believe they hold the job never write a chunk at once."""
    beat = session.execute(
        update(LeadImport)
        .where(
            LeadImport.id == job.id,
            LeadImport.worker == worker,
            LeadImport.state == ImportState.RUNNING,
        )
        .values(heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    if beat.rowcount != 1:  # type: ignore[attr-defined]
        raise ImportLost(f"lead import {job.id} was taken over")


def _listed_so_far(database: Database, job: _Job) -> dict[str, int]:
    """Rows of each kind the committed chunks list (a job taken over)."""
    listed: dict[str, int] = {}
    with database.read_sessions() as session:
        for part in session.scalars(
            select(LeadImportChunk.tally).where(LeadImportChunk.import_id == job.id)
        ):
            for kind in lead_import.LISTED:
                listed[kind] = listed.get(kind, 0) + len(part[kind])
    return listed


def _commit_chunk(
    database: Database,
    job: _Job,
    worker: str,
    seq: int,
    chunk: list[ParsedLead | RowError],
    listed: dict[str, int],
) -> None:
    """One chunk in one transaction; `listed` (rows of each kind the
    chunks so far list) grows by this one's."""
    with database.unit_of_work() as session:
        _hold(session, job, worker, utcnow())
        campaign = session.get(Campaign, job.campaign_id)
        assert campaign is not None
        tally = lead_import.Tally(listed_before=dict(listed))
        lead_import.import_chunk(session, campaign, job.lead_list_id, chunk, tally)
        session.add(LeadImportChunk(import_id=job.id, seq=seq, tally=tally.as_json()))
        session.execute(
            update(LeadImport)
            .where(LeadImport.id == job.id)
            .values(
                rows_read=LeadImport.rows_read + len(chunk),
                rows_imported=LeadImport.rows_imported + tally.imported,
                rows_rejected=LeadImport.rows_rejected + tally.not_imported,
                chunks_done=seq + 1,
            )
            .execution_options(synchronize_session=False)
        )
    for kind in lead_import.LISTED:
        listed[kind] = listed.get(kind, 0) + len(getattr(tally, kind))


def _give_back(database: Database, job: _Job, worker: str) -> ImportState:
    with database.unit_of_work() as session:
        _hold(session, job, worker, utcnow())
        row = session.get(LeadImport, job.id)
        assert row is not None
        row.state = advance(IMPORT_TRANSITIONS, row.state, ImportState.QUEUED, subject="import")
        row.worker = None
        row.tries -= 1  # a clean stop is not a failed try
    log.info("lead import %s given back after %s chunks", job.id, row.chunks_done)
    return ImportState.QUEUED


def _end(
    database: Database,
    job: _Job,
    worker: str,
    info: dict[str, Any],
    header: Sequence[dict[str, Any]] = (),
    *,
    error: str | None,
    error_message: Message | None = None,
) -> ImportState:
    """The report from the header's warnings and every chunk's part; the
    file and the parts removed."""
    state = ImportState.DONE if error is None else ImportState.FAILED
    with database.unit_of_work() as session:
        now = utcnow()
        _hold(session, job, worker, now)
        tally = lead_import.Tally()
        tally.keep("warnings", header)
        parts = session.scalars(
            select(LeadImportChunk.tally)
            .where(LeadImportChunk.import_id == job.id)
            .order_by(LeadImportChunk.seq)
        )
        for part in parts:
            tally.add(part)
        lead_list = session.get(LeadList, job.lead_list_id)
        assert lead_list is not None
        lead_import.write_report(
            session, lead_list, tally, info, error=error, error_message=error_message
        )
        row = session.get(LeadImport, job.id)
        assert row is not None
        row.state = advance(IMPORT_TRANSITIONS, row.state, state, subject="import")
        row.error = error or ""
        row.finished_at = now
        session.execute(delete(LeadImportChunk).where(LeadImportChunk.import_id == job.id))
        session.execute(delete(LeadImportFile).where(LeadImportFile.import_id == job.id))
    if error is not None:
        log.warning("lead import %s failed: %s", job.id, error)
    return state
