"""The conversion funnel from the known data set, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from callcenter.services.reports import ReportFilters, funnel_report
from callcenter.services.reports.funnel import contact_rate_by_hour, stages
from tests.integration.reports.report_dataset import Dataset

KEYS = [stage.key for stage in stages()]


def counts(row) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return dict(zip(KEYS, row.counts, strict=True))


def test_total_funnel(session: Session, dataset: Dataset, span: ReportFilters) -> None:
    report = funnel_report(session, span, "en")
    assert report.total is not None
    assert counts(report.total) == {
        "dials": 11, "live_answers": 7, "contacts": 6,
        "step_1": 6, "step_2": 5, "step_3": 4, "step_4": 4, "step_5": 3,
        "step_6": 2, "step_7": 2, "step_8": 0, "step_9": 0,
        "appointments": 2, "held": 2, "sales": 1,
    }  # fmt: skip
    rates = report.total.rates()
    assert rates[0] is None
    assert rates[1] == pytest.approx(7 / 11)  # contact rate
    assert rates[2] == pytest.approx(6 / 7)
    assert rates[KEYS.index("step_9")] is None  # nothing reached step 8
    assert rates[KEYS.index("sales")] == pytest.approx(1 / 2)


def test_funnel_by_campaign_agent_and_date(
    session: Session, dataset: Dataset, span: ReportFilters
) -> None:
    by_campaign = {
        row.label: counts(row) for row in funnel_report(session, span, "en", "campaign").rows
    }
    assert by_campaign["C1"]["dials"] == 9
    assert by_campaign["C1"]["live_answers"] == 6  # the machine is not live, the abandon is
    assert by_campaign["C1"]["contacts"] == 5
    assert (by_campaign["C1"]["appointments"], by_campaign["C1"]["sales"]) == (2, 1)
    assert (by_campaign["C2"]["dials"], by_campaign["C2"]["contacts"]) == (2, 1)
    by_agent = {row.label: counts(row) for row in funnel_report(session, span, "en", "agent").rows}
    assert by_agent[""]["dials"] == 3  # k4, k5, k6 had no agent
    assert (by_agent["Agent a1"]["dials"], by_agent["Agent a1"]["sales"]) == (3, 1)
    assert (by_agent["Agent a2"]["contacts"], by_agent["Agent a2"]["held"]) == (3, 1)
    by_date = {row.key: counts(row) for row in funnel_report(session, span, "en", "date").rows}
    assert set(by_date) == {date(2025, 5, 10), date(2025, 5, 11)}
    assert (by_date[date(2025, 5, 10)]["dials"], by_date[date(2025, 5, 11)]["dials"]) == (7, 4)
    assert by_date[date(2025, 5, 11)]["sales"] == 0


def test_contact_rate_by_hour(session: Session, dataset: Dataset, span: ReportFilters) -> None:
    hours = {row.hour: (row.dials, row.live_answers) for row in contact_rate_by_hour(session, span)}
    assert hours[11] == (4, 2)  # k3 live, k4 abandoned (live), k5 machine, k6 busy
    assert hours[23] == (1, 1)
    assert hours[5] == (1, 0)  # k11, 05:00 Tehran
    assert sum(d for d, _ in hours.values()) == 11
