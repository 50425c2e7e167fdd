"""The report pages and downloads: roles, supervisor scope, streamed files."""

from __future__ import annotations

import csv
import io

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import AuditEntry
from tests.factories import log_in
from tests.integration.reports.report_dataset import Dataset, build

RANGE = {"from": "1404/02/20", "to": "2025-05-11"}


@pytest.fixture
def data(app_session: Session) -> Dataset:
    dataset = build(app_session)
    app_session.commit()
    return dataset


@pytest.mark.parametrize("report", ["rejections", "funnel", "agents", "dispositions", "compliance"])
def test_manager_sees_every_report(client: FlaskClient, data: Dataset, report: str) -> None:
    log_in(client, "boss")
    page = client.get("/supervisor/reports", query_string={"report": report, **RANGE})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<svg" in html or report in ("agents", "compliance")
    assert "C2" in html or report == "agents"


def test_funnel_groups_and_bad_dates(client: FlaskClient, data: Dataset) -> None:
    log_in(client, "boss")
    for group in ("campaign", "agent", "date"):
        page = client.get(
            "/supervisor/reports", query_string={"report": "funnel", "group": group, **RANGE}
        )
        assert page.status_code == 200
    page = client.get("/supervisor/reports", query_string={"from": "not a date"})
    assert page.status_code == 200
    assert "flash error" in page.get_data(as_text=True)


def test_supervisor_sees_only_their_teams_campaigns(
    client: FlaskClient, data: Dataset, app_session: Session
) -> None:
    log_in(client, "sup")
    page = client.get("/supervisor/reports", query_string={"report": "compliance", **RANGE})
    html = page.get_data(as_text=True)
    assert ">C1<" in html and ">C2<" not in html
    download = client.get(
        "/supervisor/reports/export", query_string={"kind": "calls", "format": "csv", **RANGE}
    )
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(download.get_data().decode("utf-8-sig"))))
    assert {row[1] for row in rows[1:]} == {"C1"}
    assert len(rows) - 1 == 9
    # Asking for C2 explicitly does not widen the scope.
    c2 = data.campaigns["C2"].id
    download = client.get(
        "/supervisor/reports/export", query_string={"kind": "calls", "campaign": c2, **RANGE}
    )
    assert len(download.get_data().decode("utf-8-sig").splitlines()) == 1
    entries = app_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "report.exported")
    ).all()
    assert [(e.actor_id, e.details["rows"]) for e in entries] == [
        (data.users["sup"].id, 9),
        (data.users["sup"].id, 0),
    ]


def test_agents_are_refused(client: FlaskClient, data: Dataset) -> None:
    log_in(client, "a1")
    assert client.get("/supervisor/reports").status_code == 403
    assert (
        client.get("/supervisor/reports/export", query_string={"kind": "calls"}).status_code == 403
    )


def test_xlsx_download(client: FlaskClient, data: Dataset) -> None:
    import openpyxl

    log_in(client, "boss")
    download = client.get(
        "/supervisor/reports/export", query_string={"kind": "agents", "format": "xlsx", **RANGE}
    )
    assert download.status_code == 200
    assert download.mimetype.endswith("spreadsheetml.sheet")
    book = openpyxl.load_workbook(io.BytesIO(download.get_data()), read_only=True)
    assert book.worksheets[0].max_row == 5  # header, three agents, total
