"""Issue 22: lead imports in the background, a chunk per transaction, on a
real SQLite file and on PostgreSQL: the floor keeps writing while a big file
imports, the counters are visible as it goes, a killed import is taken over
without a lead imported twice, and the report is the synchronous one's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.db import Database, utcnow
from callcenter.lead_import_worker import LeadImportWorker
from callcenter.leadfiles import LeadFileError
from callcenter.models import (
    AuditEntry,
    DncEntry,
    Lead,
    LeadImport,
    LeadImportChunk,
    LeadImportFile,
    LeadList,
    LeadStateChange,
)
from callcenter.services import lead_import, lead_import_jobs
from callcenter.states import ImportState
from dialer.db_port import DatabaseServices
from tests.factories import make_campaign, make_customer

BIN = Path(sys.executable).parent


def lead_file(rows: int, *, first: int = 0) -> bytes:
    """`rows` leads with distinct mobile numbers; every 97th row's number is
    bad, every 89th repeats the row before, one warning (a bad email) every 101."""
    lines = ["\ufeffنام,نام خانوادگی,موبایل,ایمیل"]
    for index in range(first, first + rows):
        number = f"0912{index:07d}"
        if index % 97 == 5:
            number = "12345"
        elif index % 89 == 7:
            number = f"0912{index - 1:07d}"
        email = "not-an-email" if index % 101 == 3 else ""
        lines.append(f"علی{index},رضایی,{number},{email}")
    return ("\n".join(lines) + "\n").encode()


def _campaign(database: Database) -> int:
    with database.unit_of_work() as session:
        campaign = make_campaign(session)
        session.add(DncEntry(phone_e164="+989120000011", campaign_id=None))
        make_customer(session, phone_e164="+989120000012")
        return campaign.id


def _queue(database: Database, data: bytes, campaign_id: int, name: str = "leads.csv") -> int:
    with database.unit_of_work() as session:
        lead_list = lead_import_jobs.queue_import(
            session, data, campaign_id=campaign_id, filename=name
        )
        return lead_list.id


def _import_id(database: Database, lead_list_id: int) -> int:
    with database.read_sessions() as session:
        import_id = lead_import_jobs.import_id_of(session, lead_list_id)
    assert import_id is not None
    return import_id


def _synchronous_report(database: Database, data: bytes, campaign_id: int) -> dict[str, Any]:
    """What `import_leads` (one transaction) reports for the file, rolled back."""
    with database.sessions() as session:
        report = dict(
            lead_import.import_leads(
                session, data, campaign_id=campaign_id, filename="leads.csv"
            ).report
        )
        session.rollback()
    return report


def _leftovers(session: Session, import_id: int) -> tuple[int, int]:
    files = session.scalar(
        select(func.count())
        .select_from(LeadImportFile)
        .where(LeadImportFile.import_id == import_id)
    )
    chunks = session.scalar(
        select(func.count())
        .select_from(LeadImportChunk)
        .where(LeadImportChunk.import_id == import_id)
    )
    return files or 0, chunks or 0


def test_the_background_report_is_the_synchronous_one(database: Database) -> None:
    campaign_id = _campaign(database)
    data = lead_file(1300)
    expected = _synchronous_report(database, data, campaign_id)
    assert expected["rejected"] and expected["duplicates"] and expected["dnc"]
    assert expected["warnings"] and expected["existing_customers"] == 1

    lead_list_id = _queue(database, data, campaign_id)
    import_id = _import_id(database, lead_list_id)
    assert lead_import_jobs.claim(database, import_id, "worker-a")
    assert not lead_import_jobs.claim(database, import_id, "worker-b")  # one holder
    seen: list[int] = []
    state = lead_import_jobs.run_import(
        database, import_id, "worker-a", chunk_rows=100, after_chunk=seen.append
    )
    assert state is ImportState.DONE
    assert seen == [*range(100, 1301, 100)]
    with database.read_sessions() as session:
        lead_list = session.get(LeadList, lead_list_id)
        assert lead_list is not None
        assert lead_list.report == expected
        assert (lead_list.rows_total, lead_list.rows_imported) == (1300, expected["imported"])
        assert lead_list.rows_rejected == len(expected["rejected"]) + len(expected["dnc"])
        leads = session.scalar(select(func.count()).select_from(Lead))
        assert leads == expected["imported"]
        progress = lead_import_jobs.progress(session, lead_list_id)
        assert progress.finished and progress.rows_read == 1300
        assert progress.rows_imported == expected["imported"]
        assert _leftovers(session, import_id) == (0, 0)
        actions = session.scalars(select(AuditEntry.action)).all()
        assert actions.count("leads.imported") == 1

    # the same file again: the same list, nothing queued
    assert _queue(database, data, campaign_id) == lead_list_id


def test_the_background_report_names_nul_in_the_header_too(database: Database) -> None:
    campaign_id = _campaign(database)
    data = b"phone,na\x00me\n09121234567,Ali\x00\n09351234567,Sara\n"
    expected = _synchronous_report(database, data, campaign_id)
    assert [w["line"] for w in expected["warnings"]] == [1, 2]
    import_id = _import_id(database, _queue(database, data, campaign_id))
    assert lead_import_jobs.claim(database, import_id, "worker-a")
    assert lead_import_jobs.run_import(database, import_id, "worker-a") is ImportState.DONE
    with database.read_sessions() as session:
        lead_list = session.scalar(select(LeadList))
        assert lead_list is not None and lead_list.report == expected


def test_a_transaction_holds_a_chunk_as_large_as_the_database_bears(
    database: Database,
) -> None:
    """SQLite's one write lock is held for 500 rows at a time; PostgreSQL,
    which locks only the new rows, commits 2,000 at a time."""
    campaign_id = _campaign(database)
    import_id = _import_id(database, _queue(database, lead_file(4500), campaign_id))
    assert lead_import_jobs.claim(database, import_id, "worker-a")
    seen: list[int] = []
    state = lead_import_jobs.run_import(database, import_id, "worker-a", after_chunk=seen.append)
    assert state is ImportState.DONE
    expected = {"sqlite": [*range(500, 4501, 500)], "postgresql": [2000, 4000, 4500]}
    assert seen == expected[database.engine.dialect.name]


def test_an_unreadable_file_is_refused_at_the_upload(database: Database) -> None:
    campaign_id = _campaign(database)
    with pytest.raises(LeadFileError), database.unit_of_work() as session:
        lead_import_jobs.queue_import(
            session, b"name,city\nAli,Tehran\n", campaign_id=campaign_id, filename="x.csv"
        )
    with database.read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(LeadImport)) == 0


def test_a_file_that_breaks_half_way_fails_there(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callcenter.leadfiles import readers

    campaign_id = _campaign(database)
    data = lead_file(1200)
    import_id = _import_id(database, _queue(database, data, campaign_id))
    monkeypatch.setattr(readers, "MAX_ROWS", 1100)  # line 1101 is past the bound
    assert lead_import_jobs.claim(database, import_id, "w")
    state = lead_import_jobs.run_import(database, import_id, "w", chunk_rows=500)
    assert state is ImportState.FAILED
    with database.read_sessions() as session:
        job = session.get(LeadImport, import_id)
        assert job is not None and "more than 1100 lines" in job.error
        lead_list = session.get(LeadList, job.lead_list_id)
        assert lead_list is not None and "more than 1100 lines" in lead_list.report["error"]
        assert lead_list.report["error_message"] == {
            "text": "more than %(count)s lines; split the file",
            "params": {"count": 1100},
        }
        # the chunks committed before it stay, and the report says so
        assert lead_list.report["rows"] == job.rows_read == 1000
        leads = session.scalar(select(func.count()).select_from(Lead))
        assert leads == lead_list.rows_imported == lead_list.report["imported"] > 0
        assert _leftovers(session, import_id) == (0, 0)
        assert "leads.import_failed" in session.scalars(select(AuditEntry.action)).all()


def _cli(database: Database, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("CC_")}
    env.update(CC_DATABASE_URL=database.url, CC_INSTANCE_PATH=str(tmp_path / "instance"))
    return subprocess.Popen(
        [str(BIN / "callcenter"), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.timeout(180)
def test_a_killed_import_is_taken_over_without_duplicates(
    database: Database, tmp_path: Path
) -> None:
    campaign_id = _campaign(database)
    rows = 30_000
    data = lead_file(rows)
    expected = _synchronous_report(database, data, campaign_id)
    source = tmp_path / "leads.csv"
    source.write_bytes(data)
    importer = _cli(
        database, tmp_path, "import", "leads", str(source), "--campaign", str(campaign_id)
    )
    deadline = time.monotonic() + 60
    try:
        while True:
            with database.read_sessions() as session:
                read = session.scalar(select(LeadImport.rows_read)) or 0
            if read >= 2000:
                break
            assert importer.poll() is None, importer.communicate()
            assert time.monotonic() < deadline, "the CLI import did not start"
            time.sleep(0.02)
        importer.send_signal(signal.SIGKILL)  # mid-import, mid-chunk as likely as not
    finally:
        importer.wait(30)
    with database.read_sessions() as session:
        job = session.scalars(select(LeadImport)).one()
        assert job.state is ImportState.RUNNING and 2000 <= job.rows_read < rows
        committed = session.scalar(select(func.count()).select_from(Lead))
        assert committed == job.rows_imported  # counters and rows committed together
    # not taken over while its worker might still be beating ...
    assert lead_import_jobs.claim_next(database, "taker") is None
    # ... and taken over once it stopped
    later = utcnow() + lead_import_jobs.STALE_AFTER
    assert lead_import_jobs.claim_next(database, "taker", now=later) == job.id
    assert lead_import_jobs.run_import(database, job.id, "taker") is ImportState.DONE
    with database.read_sessions() as session:
        lead_list = session.get(LeadList, job.lead_list_id)
        assert lead_list is not None and lead_list.report == expected
        leads = session.scalar(select(func.count()).select_from(Lead))
        changes = session.scalar(
            select(func.count())
            .select_from(LeadStateChange)
            .where(LeadStateChange.reason == "imported")
        )
        assert leads == changes == expected["imported"]
        assert session.scalar(select(LeadImport.tries)) == 2


@dataclass
class FloorWriter:
    """The dialer's writes through its database port, timed, in a thread."""

    database: Database
    campaign_id: int
    commits: list[tuple[float, float]] = field(default_factory=list)  # (started, took)
    errors: list[BaseException] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        port = DatabaseServices(self.database)
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                port.record_dial_level(self.campaign_id, 1.5, "import test", now=utcnow())
            except Exception as exc:
                self.errors.append(exc)
                return
            self.commits.append((started, time.monotonic() - started))
            time.sleep(0.01)


@pytest.fixture
def floor_writer(database: Database) -> Iterator[FloorWriter]:
    writer = FloorWriter(database, _campaign(database))
    thread = threading.Thread(target=writer.run, daemon=True)
    thread.start()
    yield writer
    writer.stop.set()
    thread.join(30)


@pytest.mark.timeout(240)
def test_the_floor_keeps_writing_while_a_big_file_imports(
    database: Database, floor_writer: FloorWriter
) -> None:
    rows = 40_000
    lead_list_id = _queue(database, lead_file(rows), floor_writer.campaign_id)
    seen: list[tuple[float, int]] = []
    worker = LeadImportWorker(database, poll_seconds=0.2)
    started = time.monotonic()
    worker.start().wake()
    try:
        while True:
            with database.read_sessions() as session:
                progress = lead_import_jobs.progress(session, lead_list_id)
            seen.append((time.monotonic(), progress.rows_read))
            if progress.finished:
                break
            assert time.monotonic() - started < 200, f"the import did not end: {progress}"
            time.sleep(0.05)
    finally:
        worker.stop()
    finished = time.monotonic()
    assert progress.state is ImportState.DONE and progress.rows_read == rows
    assert not floor_writer.errors, floor_writer.errors
    partial = [read for _, read in seen if 0 < read < rows]
    assert len(set(partial)) >= 3, "the import's progress was not visible as it went"
    first_chunk = next(at for at, read in seen if read > 0)
    during = [took for at, took in floor_writer.commits if first_chunk <= at <= finished]
    longest = max(took for _, took in floor_writer.commits)
    print(
        f"\n{database.engine.dialect.name}: {rows} rows imported in {finished - started:.1f} s; "
        f"the dialer committed {len(during)} times meanwhile, its longest wait {longest:.3f} s"
    )
    # one transaction for the whole file would have let none in until the end
    assert len(during) >= 20, f"only {len(during)} dialer commits during the import"
    assert longest < (finished - first_chunk) / 4


def test_the_worker_reads_the_file_as_the_manager_chose(database: Database) -> None:
    """Sheet, header line and mapping chosen in the preview are kept with the
    import; the worker in another process reads the file the same way."""
    import io

    import openpyxl

    from callcenter.leadfiles import ReadOptions

    book = openpyxl.Workbook()
    book.active.append(["phone"])
    book.active.append(["09120000001"])
    other = book.create_sheet("مشتریان")
    for row in (["گزارش مهر"], ["شماره", "نام", "شهر"], ["09120000002", "علی", "قم"]):
        other.append(row)
    out = io.BytesIO()
    book.save(out)
    campaign_id = _campaign(database)
    options = ReadOptions(sheet="مشتریان", header_line=2)
    with database.unit_of_work() as session:
        lead_list_id = lead_import_jobs.queue_import(
            session,
            out.getvalue(),
            campaign_id=campaign_id,
            filename="leads.csv",  # a workbook renamed .csv
            mapping={"شهر": "extra"},
            options=options,
        ).id
    import_id = _import_id(database, lead_list_id)
    with database.read_sessions() as session:
        job = session.get(LeadImport, import_id)
        assert job is not None and job.options == {"sheet": "مشتریان", "header_line": 2}
    assert lead_import_jobs.claim(database, import_id, "w")
    assert lead_import_jobs.run_import(database, import_id, "w") is ImportState.DONE
    with database.read_sessions() as session:
        lead_list = session.get(LeadList, lead_list_id)
        assert lead_list is not None and lead_list.rows_imported == 1
        assert lead_list.report["file"]["sheet"] == "مشتریان"
        lead = session.scalars(select(Lead)).one()
        assert lead.fields["شهر"] == "قم"


def test_the_report_lists_the_first_bad_rows_and_counts_the_rest(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lead_import, "REPORT_ROWS", 30)
    junk = "z" * 5000
    lines = ["name,phone", "Ali,09121234567"] + [f"Bad{i},{junk}{i}" for i in range(70)]
    campaign_id = _campaign(database)
    import_id = _import_id(
        database, _queue(database, ("\n".join(lines) + "\n").encode(), campaign_id)
    )
    stored: list[int] = []

    def rejected_rows_stored(rows_read: int) -> None:
        with database.read_sessions() as session:
            parts = session.scalars(
                select(LeadImportChunk.tally).where(LeadImportChunk.import_id == import_id)
            )
            stored.append(sum(len(part["rejected"]) for part in parts))

    assert lead_import_jobs.claim(database, import_id, "w")
    lead_import_jobs.run_import(
        database, import_id, "w", chunk_rows=20, after_chunk=rejected_rows_stored
    )
    # the chunks past the first 30 bad rows keep counts, not rows
    assert stored == [19, 30, 30, 30]
    with database.read_sessions() as session:
        job = session.get(LeadImport, import_id)
        assert job is not None
        lead_list = session.get(LeadList, job.lead_list_id)
        assert lead_list is not None
        report = lead_list.report
    assert report["imported"] == 1 and lead_list.rows_rejected == 70
    assert report["counts"]["rejected"] == 70 and len(report["rejected"]) == 30
    assert [item["line"] for item in report["rejected"]] == list(range(3, 33))
    first = report["rejected"][0]
    assert first["text"] == "contains characters that are not part of a phone number: %(cell)s"
    assert len(first["params"]["cell"]) == 62
    assert len(str(report)) < 30 * 250
