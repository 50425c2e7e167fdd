"""Rejections computed from the known data set, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.orm import Session

from callcenter.services.reports import ReportFilters, parse_filters, rejections_report
from callcenter.services.reports.filters import InvalidFilter
from tests.integration.reports.report_dataset import Dataset


def test_rejections_by_step_and_reason(
    session: Session, dataset: Dataset, span: ReportFilters
) -> None:
    report = rejections_report(session, span, "en")
    assert (report.contacts, report.rejections) == (6, 4)
    steps = {row.step: (row.reached, row.rejections) for row in report.by_step}
    assert steps == {
        1: (6, 1), 2: (5, 1), 3: (4, 0), 4: (4, 1), 5: (3, 1),
        6: (2, 0), 7: (2, 0), 8: (0, 0), 9: (0, 0),
    }  # fmt: skip
    assert report.by_step[0].rate == pytest.approx(1 / 6)
    assert report.by_step[7].rate is None
    reasons = [(r.step, r.code, r.rejections, r.reached) for r in report.by_reason]
    assert reasons == [
        (1, "hung_up", 1, 6),
        (2, "already_supplier", 1, 5),
        (4, "not_interested_offer", 1, 4),
        (5, "no_meeting", 1, 3),
    ]
    assert report.by_reason[0].share == 1.0


def test_rejections_by_agent_campaign_and_list(
    session: Session, dataset: Dataset, span: ReportFilters
) -> None:
    report = rejections_report(session, span, "en")
    by_agent = {row.label: (row.contacts, row.rejections) for row in report.by_agent}
    # Calls with no agent (abandoned, machine, busy) form their own row.
    assert by_agent == {"Agent a1": (2, 1), "Agent a2": (3, 2), "Agent b1": (1, 1), "": (0, 0)}
    by_campaign = {row.label: (row.contacts, row.rejections) for row in report.by_campaign}
    assert by_campaign == {"C1": (5, 3), "C2": (1, 1)}
    by_list = {row.label: (row.contacts, row.rejections) for row in report.by_list}
    # k8 re-called k3's customer: both count in L2.
    assert by_list == {"L1": (3, 2), "L2": (2, 1), "L3": (1, 1)}


def test_rejections_by_tehran_hour_weekday_and_date(
    session: Session, dataset: Dataset, span: ReportFilters
) -> None:
    report = rejections_report(session, span, "en")
    hours = {row.key: (row.contacts, row.rejections) for row in report.by_hour if row.contacts}
    # k7 was dialed at 23:59:30 and ended after midnight: it stays in hour 23 of the 10th.
    assert hours == {9: (1, 0), 10: (2, 1), 11: (1, 1), 17: (1, 1), 23: (1, 1)}
    assert len(report.by_hour) == 24
    weekdays = {row.key: (row.contacts, row.rejections) for row in report.by_weekday}
    assert weekdays[5] == (4, 3)  # Saturday 10 May
    assert weekdays[6] == (2, 1)  # Sunday 11 May
    assert sum(c for c, _ in weekdays.values()) == 6
    dates = [(row.key.isoformat(), row.contacts, row.rejections) for row in report.by_date]
    assert dates == [("2025-05-10", 4, 3), ("2025-05-11", 2, 1)]


def test_filters_narrow_the_calls(session: Session, dataset: Dataset, span: ReportFilters) -> None:
    c1 = dataset.campaigns["C1"].id
    only_c1 = rejections_report(session, replace(span, campaign_ids=(c1,)), "en")
    assert (only_c1.contacts, only_c1.rejections) == (5, 3)
    a2 = dataset.users["a2"].id
    only_a2 = rejections_report(session, replace(span, agent_ids=(a2,)), "en")
    assert (only_a2.contacts, only_a2.rejections) == (3, 2)
    team_b = dataset.users["b1"].team_id
    assert team_b is not None
    only_team_b = rejections_report(session, replace(span, team_ids=(team_b,)), "en")
    assert (only_team_b.contacts, only_team_b.rejections) == (1, 1)
    l2 = dataset.lists["L2"].id
    only_l2 = rejections_report(session, replace(span, lead_list_ids=(l2,)), "en")
    assert (only_l2.contacts, only_l2.rejections) == (2, 1)
    first_day = rejections_report(session, replace(span, date_to=span.date_from), "en")
    assert (first_day.contacts, first_day.rejections) == (4, 3)
    nothing_visible = rejections_report(
        session, replace(span, visible_campaign_ids=frozenset()), "en"
    )
    assert (nothing_visible.contacts, nothing_visible.rejections) == (0, 0)


def test_jalali_and_gregorian_dates_give_the_same_range(session: Session, dataset: Dataset) -> None:
    jalali = parse_filters({"from": "۱۴۰۴/۰۲/۲۰", "to": "1404/2/21"})
    gregorian = parse_filters({"from": "2025-05-10", "to": "2025-05-11"})
    assert jalali == gregorian
    assert rejections_report(session, jalali, "en").contacts == 6
    with pytest.raises(InvalidFilter):
        parse_filters({"from": "1404/13/01"})
    with pytest.raises(InvalidFilter):
        parse_filters({"from": "2025-05-12", "to": "2025-05-11"})
