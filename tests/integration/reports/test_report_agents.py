"""Agent performance from the known data set, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.orm import Session

from callcenter.services.reports import ReportFilters, agents_report
from tests.integration.reports.report_dataset import Dataset


def test_agent_performance(session: Session, dataset: Dataset, span: ReportFilters) -> None:
    rows = {row.name: row for row in agents_report(session, span).rows}
    a1, a2, b1 = rows["Agent a1"], rows["Agent a2"], rows["Agent b1"]
    assert (a1.calls, a1.contacts, a1.appointments, a1.sales) == (3, 2, 1, 1)
    assert (a1.talk_seconds, a1.wrap_up_seconds) == (180, 50)
    # 09:00-10:00, 10:02:30-10:30, 11:31:20-12:00; the evening of the 9th is outside.
    assert a1.wait_seconds == 3600 + 1650 + 1720
    assert a1.pause_seconds == {"lunch": 3600}
    assert a1.aht == pytest.approx((180 + 50) / 2)
    assert a1.occupancy == pytest.approx(230 / (230 + 6970))
    assert a1.conversion == pytest.approx(1 / 2)
    # a1 owns the meetings of k1 (sold) and k8 (held, booked by a2): the closer.
    assert (a1.owned_appointments, a1.held_appointments, a1.sold_appointments) == (2, 2, 1)
    assert a1.close_rate == pytest.approx(1 / 2)
    assert a1.role == "both"
    # k7 spans midnight: its 200 s of talk count whole for the call.
    assert (a2.calls, a2.contacts, a2.call_talk_seconds, a2.call_wrap_up_seconds) == (3, 3, 410, 55)
    assert a2.aht == pytest.approx(465 / 3)
    # Ready from 23:00 on the 11th until 01:00: only the hour inside the range counts.
    assert a2.wait_seconds == 3600
    assert (a2.appointments, a2.owned_appointments, a2.role) == (1, 0, "opener")
    assert (b1.calls, b1.contacts, b1.appointments) == (2, 1, 0)
    assert b1.occupancy is None


def test_agent_filters(session: Session, dataset: Dataset, span: ReportFilters) -> None:
    team_a = dataset.users["a1"].team_id
    assert team_a is not None
    names = {row.name for row in agents_report(session, replace(span, team_ids=(team_a,))).rows}
    assert names == {"Agent a1", "Agent a2"}
    c2 = dataset.campaigns["C2"].id
    only_c2 = agents_report(session, replace(span, campaign_ids=(c2,)))
    assert [(row.name, row.calls) for row in only_c2.rows] == [("Agent b1", 2)]
    total = agents_report(session, span).total
    assert (total.calls, total.contacts) == (8, 6)
