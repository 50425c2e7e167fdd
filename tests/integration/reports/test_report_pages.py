"""The report pages and downloads: roles, supervisor scope, streamed files."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import AuditEntry, User
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


class _Figures(HTMLParser):
    """The texts a reader takes as figures: number cells, the summary's
    strong figures and the charts' value labels."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._open: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        figure = (
            (tag == "td" and "num" in classes)
            or (tag == "strong")
            or (tag == "text" and ("chart-value" in classes or "chart-tick" in classes))
        )
        if tag in ("td", "strong", "text"):
            self._open.append(figure)
            if figure:
                self.texts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "strong", "text") and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if any(self._open):
            self.texts[-1] += data


def _figures(html: str) -> list[str]:
    parser = _Figures()
    parser.feed(html)
    return [text.strip() for text in parser.texts if text.strip() not in ("", "—")]


@pytest.mark.parametrize(
    "report", ["rejections", "funnel", "agents", "dispositions", "compliance", "call_list"]
)
def test_a_persian_page_shows_figures_in_persian_digits(
    client: FlaskClient, data: Dataset, report: str
) -> None:
    log_in(client, "boss")  # Persian, as every user is unless they choose English
    path = "/supervisor/reports/calls" if report == "call_list" else "/supervisor/reports"
    html = client.get(path, query_string={"report": report, **RANGE}).get_data(as_text=True)
    figures = _figures(html)
    assert figures
    latin = [text for text in figures if re.search(r"[0-9]", text)]
    assert latin == []
    assert all(re.search(r"[۰-۹]", text) for text in figures)
    assert "." not in "".join(figures) and "%" not in "".join(figures)


def test_persian_rates_and_durations_are_written_the_persian_way(
    client: FlaskClient, data: Dataset
) -> None:
    log_in(client, "boss")
    html = client.get("/supervisor/reports", query_string={"report": "agents", **RANGE}).get_data(
        as_text=True
    )
    figures = _figures(html)
    assert any(re.fullmatch(r"[۰-۹]+٫[۰-۹]٪", text) for text in figures)
    assert any(re.fullmatch(r"[۰-۹]+:[۰-۹]{2}:[۰-۹]{2}", text) for text in figures)


def test_an_english_page_keeps_latin_digits(
    client: FlaskClient, data: Dataset, app_session: Session
) -> None:
    app_session.scalar(select(User).where(User.username == "boss")).locale = "en"
    app_session.commit()
    log_in(client, "boss")
    for report in ("rejections", "agents", "compliance"):
        html = client.get("/supervisor/reports", query_string={"report": report, **RANGE}).get_data(
            as_text=True
        )
        figures = _figures(html)
        assert figures
        assert not any(re.search(r"[۰-۹]", text) for text in figures)
        assert any(re.fullmatch(r"\d+\.\d%", text) for text in figures)
