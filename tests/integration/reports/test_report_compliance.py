"""Compliance figures from the known data set, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy.orm import Session

from callcenter.services.reports import ReportFilters, compliance_report
from tests.integration.reports.report_dataset import Dataset


def test_abandon_rate_per_day_and_rolling(
    session: Session, dataset: Dataset, span: ReportFilters
) -> None:
    report = compliance_report(session, span)
    days = {(d.campaign, d.day): d for d in report.days}
    assert set(days) == {
        ("C1", date(2025, 5, 10)),
        ("C1", date(2025, 5, 11)),
        ("C2", date(2025, 5, 11)),
    }
    first = days[("C1", date(2025, 5, 10))]
    assert (first.abandoned, first.live_answers) == (1, 5)
    assert first.rate == pytest.approx(0.2)
    # The abandon of the 9th is outside the range but inside the 30-day window.
    assert (first.rolling_abandoned, first.rolling_live_answers) == (2, 6)
    second = days[("C1", date(2025, 5, 11))]
    assert (second.abandoned, second.live_answers) == (0, 1)
    assert (second.rolling_abandoned, second.rolling_live_answers) == (2, 7)
    assert second.over_cap  # 2/7 over 30 days is above 3%
    c2 = days[("C2", date(2025, 5, 11))]
    assert (c2.rate, c2.rolling_rate, c2.over_cap) == (0.0, 0.0, False)


def test_calls_outside_windows_and_dnc(
    session: Session, dataset: Dataset, span: ReportFilters
) -> None:
    report = compliance_report(session, span)
    by_campaign = {row.campaign: row for row in report.campaigns}
    # C1: k7 at 23:59:30 Tehran. C2: k11 at 21:30 in New York (EDT); k10 at 09:30 EDT is inside.
    assert (by_campaign["C1"].calls, by_campaign["C1"].outside_window) == (9, 1)
    assert (by_campaign["C2"].calls, by_campaign["C2"].outside_window) == (2, 1)
    assert sorted(report.outside_window_calls) == sorted(
        [dataset.calls["k7"].id, dataset.calls["k11"].id]
    )
    # k6's number was listed before it was dialed; k9's only afterwards.
    assert report.dnc_violation_calls == [dataset.calls["k6"].id]
    assert (by_campaign["C1"].dnc_violations, by_campaign["C2"].dnc_violations) == (1, 0)
    # One lead stopped before a call in C1, one refused dial audited in C2.
    assert (by_campaign["C1"].dnc_prevented, by_campaign["C2"].dnc_prevented) == (1, 1)
    assert (report.outside_window, report.dnc_violations, report.dnc_prevented) == (2, 1, 2)


def test_compliance_respects_the_viewers_campaigns(
    session: Session, dataset: Dataset, span: ReportFilters
) -> None:
    c1 = dataset.campaigns["C1"].id
    report = compliance_report(session, replace(span, visible_campaign_ids=frozenset({c1})))
    assert {row.campaign for row in report.campaigns} == {"C1"}
    assert {d.campaign for d in report.days} == {"C1"}
    assert report.dnc_prevented == 1
