"""Reports and exports on the codes a business configured: each campaign's
disposition labels, what they did to the lead, paid and unpaid pause time."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from callcenter.services import disposition_codes, pause_codes
from callcenter.services.exports.tables import build_sheets
from callcenter.services.reports import ReportFilters, agents_report, dispositions_report
from tests.factories import log_in
from tests.integration.reports.report_dataset import Dataset

RANGE = {"from": "2025-05-10", "to": "2025-05-11"}


def relabel(session: Session, data: Dataset, code: str, fa: str, en: str) -> None:
    campaign_id = data.campaigns["C1"].id
    row = disposition_codes.get(session, campaign_id, code)
    disposition_codes.update(
        session,
        campaign_id,
        code,
        actor=None,
        label_fa=fa,
        label_en=en,
        category=row.category.value,
        retry_minutes=row.retry_minutes,
    )
    session.commit()


def test_dispositions_by_campaign_with_the_campaigns_labels(
    session: Session, dataset: Dataset, span: ReportFilters
) -> None:
    relabel(session, dataset, "not_interested", "نخواست", "Said no")
    english = dispositions_report(session, span, "en")
    by_code = {(row.campaign, row.code): row for row in english.rows}
    said_no = by_code[("C1", "not_interested")]
    assert said_no.label == "Said no" and said_no.category == "final"
    assert said_no.calls >= 1
    c1_total = sum(row.calls for row in english.rows if row.campaign == "C1")
    assert said_no.share == said_no.calls / c1_total
    assert sum(row.calls for row in english.by_category) == english.total
    persian = dispositions_report(session, span, "fa")
    assert {row.label for row in persian.rows if row.code == "not_interested"} >= {"نخواست"}
    assert any(row.label == "قرار ملاقات گذاشته شد" for row in persian.rows)


def test_a_deactivated_code_keeps_its_label_in_reports(
    session: Session, dataset: Dataset, span: ReportFilters
) -> None:
    campaign_id = dataset.campaigns["C1"].id
    disposition_codes.set_active(session, campaign_id, "appointment_set", False, actor=None)
    session.commit()
    rows = dispositions_report(session, span, "en").rows
    assert "Appointment set" in {row.label for row in rows if row.code == "appointment_set"}


def test_paid_and_unpaid_pause_in_the_agents_report(
    session: Session, dataset: Dataset, span: ReportFilters
) -> None:
    def lunch_paid(paid: bool) -> None:
        lunch = pause_codes.get(session, "lunch")
        pause_codes.update(
            session, "lunch", actor=None, label_fa=lunch.label_fa, label_en=lunch.label_en,
            limit_minutes=lunch.limit_minutes, is_paid=paid,
        )  # fmt: skip
        session.commit()

    lunch_paid(False)
    a1 = next(row for row in agents_report(session, span).rows if row.name == "Agent a1")
    assert (a1.paid_pause_seconds, a1.unpaid_pause_seconds) == (0, 3600)
    lunch_paid(True)
    report = agents_report(session, span)
    a1 = next(row for row in report.rows if row.name == "Agent a1")
    assert (a1.paid_pause_seconds, a1.unpaid_pause_seconds) == (3600, 0)
    assert report.total.paid_pause_seconds == 3600


def test_exports_carry_the_configured_labels(
    session: Session, dataset: Dataset, span: ReportFilters
) -> None:
    relabel(session, dataset, "not_interested", "نخواست", "Said no")
    sheets = build_sheets(session, "dispositions", span, "en")
    assert [sheet.title for sheet in sheets] == ["Dispositions", "By category"]
    rows = list(sheets[0].rows)
    assert rows[[r[1] for r in rows].index("not_interested")][:4] == [
        "C1",
        "not_interested",
        "Said no",
        "Final",
    ]
    calls = build_sheets(session, "calls", span, "fa")[0]
    disposition_column = calls.headers.index("نتیجهٔ تماس")
    labels = {row[disposition_column] for row in calls.rows}
    assert "نخواست" in labels
    agents = build_sheets(session, "agents", span, "en")[0]
    assert "Paid pause (s)" in agents.headers and "Unpaid pause (s)" in agents.headers
    assert "Pause: Lunch (s)" in agents.headers


def test_the_dispositions_tab_in_both_languages(client: FlaskClient, app_session: Session) -> None:
    from tests.integration.reports.report_dataset import build

    data = build(app_session)
    app_session.commit()
    relabel(app_session, data, "not_interested", "نخواست", "Said no")
    log_in(client, "boss")
    for locale, label, title in (
        ("en", "Said no", "Dispositions"),
        ("fa", "نخواست", "نتیجه‌های تماس"),
    ):
        client.post("/account/locale", data={"locale": locale})
        page = client.get("/supervisor/reports", query_string={"report": "dispositions", **RANGE})
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert label in html and 'data-code="not_interested"' in html
        assert title in html
