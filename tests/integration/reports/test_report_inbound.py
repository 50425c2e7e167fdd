"""Customers ringing back are not dials, on SQLite and PostgreSQL: the same
history with three inbound calls added (one an agent took, one missed, one
at night from a listed number) gives the same dial counts, contact rates,
abandons and compliance figures as without them, in every report and in the
live floor's totals; the inbound calls are counted apart."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from callcenter.services.floor.payloads import rates
from callcenter.services.floor.rebuild import totals_from_db
from callcenter.services.reports import ReportFilters, agents_report, funnel_report
from callcenter.services.reports.compliance import compliance_report
from callcenter.services.reports.funnel import GROUPS, contact_rate_by_hour
from tests.integration.reports.report_dataset import add_inbound, build

OUTBOUND_TODAY = ("dials", "live_answers", "contacts", "abandoned", "contact_rate", "abandon_rate")


def outbound_figures(session: Session, span: ReportFilters) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for group in GROUPS:
        figures[f"funnel {group}"] = [
            (row.label, row.key, row.counts)
            for row in funnel_report(session, span, "en", group).rows
        ]
    figures["hours"] = contact_rate_by_hour(session, span)
    figures["agents"] = [
        (row.name, row.calls, row.contacts) for row in agents_report(session, span).rows
    ]
    compliance = compliance_report(session, span)
    figures["abandon days"] = compliance.days
    figures["compliance"] = compliance.campaigns
    figures["violations"] = (compliance.outside_window_calls, compliance.dnc_violation_calls)
    totals, _ = totals_from_db(session, date(2025, 5, 10))
    figures["floor"] = {
        campaign: {name: rates(raw)[name] for name in OUTBOUND_TODAY}
        for campaign, raw in totals.items()
    }
    return figures


def test_inbound_calls_change_no_outbound_figure(session: Session, span: ReportFilters) -> None:
    data = build(session)
    session.flush()
    before = outbound_figures(session, span)
    add_inbound(session, data)
    after = outbound_figures(session, span)

    assert after == before
    total = funnel_report(session, span, "en").total
    assert total is not None and total.counts[0] == 11  # the dials, as test_report_funnel says
    assert sum(floor["dials"] for floor in before["floor"].values()) == 7  # dialed on 05-10


def test_inbound_calls_are_counted_apart(session: Session, span: ReportFilters) -> None:
    data = build(session)
    add_inbound(session, data)
    session.flush()

    total = funnel_report(session, span, "en").total
    assert total is not None and total.inbound_answered == 2
    by_agent = {
        row.label: row.inbound_answered for row in funnel_report(session, span, "en", "agent").rows
    }
    assert (by_agent["Agent a1"], by_agent["Agent a2"], by_agent.get("", 0)) == (1, 1, 0)

    agents = {row.name: row for row in agents_report(session, span).rows}
    assert (agents["Agent a1"].inbound_answered, agents["Agent a2"].inbound_answered) == (1, 1)
    assert agents_report(session, span).total.inbound_answered == 2
    # the inbound call a1 took and sold is a1's appointment, and a person talked to
    a1 = agents["Agent a1"]
    assert a1.conversion == a1.appointments / (a1.contacts + 1)

    c1 = data.campaigns["C1"].id
    totals, _ = totals_from_db(session, date(2025, 5, 10))
    shown = rates(totals[c1])
    assert (shown["inbound"], shown["inbound_answered"], shown["inbound_missed"]) == (3, 2, 1)
