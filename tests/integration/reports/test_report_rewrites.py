"""The reports' rewritten queries (joins in place of per-call EXISTS, calling
windows judged in SQL) against the definitions they replace, on rows built
to sit where the two could differ: several meetings on one call, a sale both
booked and dispositioned, calls with no agent, the edges of a Tehran date
range, customers in zones with daylight saving across its change."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from callcenter.calling_windows import is_callable
from callcenter.metrics import (
    ABANDONED,
    APPOINTMENT_HELD,
    APPOINTMENT_SET,
    CONTACT,
    DIALS,
    LIVE_ANSWER,
    SALE,
    count_if,
    reached_step,
)
from callcenter.models import Appointment, Call, Disposition, Lead, StepOutcome
from callcenter.models.calls import StepAction
from callcenter.models.scheduling import MeetingKind
from callcenter.services.reports import (
    ReportFilters,
    agents_report,
    call_conditions,
    compliance_report,
    funnel_report,
    rejections_report,
)
from callcenter.services.reports.compliance import _as_date, _daily_abandons, campaign_windows
from callcenter.services.reports.rejections import RejectionsReport
from callcenter.states import (
    AppointmentStatus,
    CallOutcome,
    CallState,
    DispositionCategory,
    Role,
)
from tests.factories import make_campaign, make_customer, make_user

TEHRAN = ZoneInfo("Asia/Tehran")
_numbers = itertools.count(1)


def _call(
    session: Session,
    lead: Lead,
    dialed_at: datetime,
    *,
    agent_id: int | None = None,
    answered: bool = False,
) -> Call:
    call = Call(
        id=f"rw{next(_numbers):06d}",
        campaign_id=lead.campaign_id,
        lead_id=lead.id,
        customer_id=lead.customer_id,
        agent_id=agent_id,
        attempt=next(_numbers),
        phone_e164="+989120000000",
        state=CallState.ENDED,
        outcome=CallOutcome.ANSWERED if answered else CallOutcome.NO_ANSWER,
        dialed_at=dialed_at,
        answered_at=dialed_at + timedelta(seconds=5) if answered else None,
        connected_at=dialed_at + timedelta(seconds=6) if answered and agent_id else None,
        ended_at=dialed_at + timedelta(seconds=60),
        max_step_reached=3 if answered and agent_id else 0,
    )
    session.add(call)
    session.flush()
    return call


def _meeting(session: Session, call: Call, owner_id: int, status: AppointmentStatus) -> Appointment:
    starts = call.dialed_at + timedelta(days=2)
    meeting = Appointment(
        customer_id=call.customer_id,
        lead_id=call.lead_id,
        campaign_id=call.campaign_id,
        call_id=call.id,
        booked_by_id=owner_id,
        owner_id=owner_id,
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
        kind=MeetingKind.ONLINE,
        status=status,
    )
    session.add(meeting)
    session.flush()
    return meeting


def _tehran(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TEHRAN).astimezone(UTC)


def _results_floor(session: Session) -> tuple[ReportFilters, dict[str, int]]:
    """Calls whose meetings and dispositions would be counted twice by a
    careless join; returns the filters and the agent ids."""
    campaign = make_campaign(session, name="Rewrites")
    agent = make_user(session, Role.AGENT, username="rw_agent", full_name="RW Agent")
    closer = make_user(session, Role.AGENT, username="rw_closer", full_name="RW Closer")
    lead = Lead(campaign_id=campaign.id, customer_id=make_customer(session).id)
    session.add(lead)
    session.flush()
    day = "2025-06-01"
    # A meeting moved twice and then sold, on one call: one appointment, held, one sale.
    moved = _call(session, lead, _tehran(f"{day} 10:00"), agent_id=agent.id, answered=True)
    for status in (AppointmentStatus.RESCHEDULED, AppointmentStatus.RESCHEDULED):
        _meeting(session, moved, closer.id, status)
    _meeting(session, moved, closer.id, AppointmentStatus.SOLD)
    # A sold meeting and a sale disposition on the same call: one sale.
    both = _call(session, lead, _tehran(f"{day} 11:00"), agent_id=agent.id, answered=True)
    _meeting(session, both, closer.id, AppointmentStatus.SOLD)
    session.add(
        Disposition(
            call_id=both.id, code="sale", category=DispositionCategory.SALE, agent_id=agent.id
        )
    )
    # A sale by disposition only, a booked meeting, a no-show.
    sold = _call(session, lead, _tehran(f"{day} 12:00"), agent_id=agent.id, answered=True)
    session.add(
        Disposition(
            call_id=sold.id, code="sale", category=DispositionCategory.SALE, agent_id=agent.id
        )
    )
    booked = _call(session, lead, _tehran(f"{day} 13:00"), agent_id=agent.id, answered=True)
    _meeting(session, booked, closer.id, AppointmentStatus.BOOKED)
    no_show = _call(session, lead, _tehran(f"{day} 14:00"), agent_id=closer.id, answered=True)
    _meeting(session, no_show, closer.id, AppointmentStatus.NO_SHOW)
    # Calls no agent took: a live answer abandoned, an unanswered one.
    _call(session, lead, _tehran(f"{day} 15:00"), answered=True)
    _call(session, lead, _tehran(f"{day} 16:00"))
    # The edges of the range in Tehran: its first instant is in, the first
    # instant of the day after is out, as is the last instant of the day before.
    _call(session, lead, _tehran(f"{day} 00:00"), agent_id=agent.id, answered=True)
    _call(session, lead, _tehran("2025-06-03 00:00"), agent_id=agent.id, answered=True)
    _call(
        session,
        lead,
        _tehran(f"{day} 00:00") - timedelta(microseconds=1),
        agent_id=agent.id,
        answered=True,
    )
    _call(
        session,
        lead,
        _tehran("2025-06-03 00:00") - timedelta(microseconds=1),
        agent_id=closer.id,
        answered=True,
    )
    session.commit()
    filters = ReportFilters(date_from=date(2025, 6, 1), date_to=date(2025, 6, 2))
    return filters, {"agent": agent.id, "closer": closer.id}


def _reference(session: Session, filters: ReportFilters, by_agent: bool) -> dict[object, tuple]:
    """The counts as the EXISTS definitions in callcenter.metrics give them."""
    columns = [
        DIALS,
        count_if(LIVE_ANSWER),
        count_if(CONTACT),
        count_if(APPOINTMENT_SET),
        count_if(APPOINTMENT_HELD),
        count_if(SALE),
    ]
    key = Call.agent_id if by_agent else Call.campaign_id
    rows = session.execute(select(key, *columns).where(*call_conditions(filters)).group_by(key))
    return {row[0]: tuple(int(value) for value in row[1:]) for row in rows}


def test_funnel_counts_as_the_per_call_definitions(session: Session) -> None:
    filters, agents = _results_floor(session)
    expected = _reference(session, filters, by_agent=True)
    # Nine calls in the range; two of them with no agent.
    assert sum(counts[0] for counts in expected.values()) == 9
    assert expected[None][0] == 2
    report = funnel_report(session, filters, "en", group_by="agent")
    keys = [stage.key for stage in report.stages]
    picked = ("dials", "live_answers", "contacts", "appointments", "held", "sales")
    found = {row.key: tuple(row.counts[keys.index(name)] for name in picked) for row in report.rows}
    assert found == expected
    assert found[agents["agent"]] == (5, 5, 5, 3, 2, 3)
    assert report.total is not None
    total = tuple(report.total.counts[keys.index(name)] for name in picked)
    assert total == tuple(sum(column) for column in zip(*expected.values(), strict=True))


def test_agents_report_counts_as_the_per_call_definitions(session: Session) -> None:
    filters, agents = _results_floor(session)
    expected = _reference(session, filters, by_agent=True)
    report = agents_report(session, filters)
    rows = {row.agent_id: row for row in report.rows}
    assert None not in rows  # calls no agent took belong to no agent's row
    for agent_id in agents.values():
        dials, _live, contacts, appointments, _held, sales = expected[agent_id]
        row = rows[agent_id]
        assert (row.calls, row.contacts, row.appointments, row.sales) == (
            dials,
            contacts,
            appointments,
            sales,
        )
    # The closer holds every meeting; moved ones are counted once, at their last time.
    closer = rows[agents["closer"]]
    assert (closer.owned_appointments, closer.held_appointments) == (4, 2)
    assert closer.sold_appointments == 2


def test_outside_windows_in_sql_as_is_callable_judges_them(session: Session) -> None:
    """Calls every 47 minutes for two weeks across New York's and London's
    change to summer time, to customers in four zones, under a campaign with
    two windows a day, a day off and a holiday."""
    windows = {
        "version": 1,
        "weekly": {
            "monday": [["08:30", "12:00"], ["13:00", "20:45"]],
            "tuesday": [["00:00", "02:30"], ["09:00", "24:00"]],
            "wednesday": [["09:00", "21:00"]],
            "thursday": [["09:00", "13:00"]],
            "friday": [],
            "saturday": [["01:30", "03:15"], ["10:00", "18:00"]],
            "sunday": [["09:00", "21:00"]],
        },
        "holidays": ["2025-03-12"],
    }
    campaign = make_campaign(session, name="Windows", calling_windows=windows)
    campaign.holidays = ["2025-03-14"]
    zones = ["Asia/Tehran", "America/New_York", "Europe/London", "Asia/Kolkata"]
    leads = []
    for zone in zones:
        lead = Lead(campaign_id=campaign.id, customer_id=make_customer(session, timezone=zone).id)
        session.add(lead)
        leads.append(lead)
    session.flush()
    start = datetime(2025, 3, 5, 0, 0, 7, tzinfo=UTC)
    judge = campaign_windows(windows, campaign.holidays)
    expected_outside = []
    for index in range(2 * 24 * 60 // 47 * 7):
        lead = leads[index % len(leads)]
        at = start + timedelta(minutes=47 * index)
        call = _call(session, lead, at)
        if not is_callable(at, zones[index % len(zones)], judge):
            expected_outside.append((at, call.id))
    session.commit()
    filters = ReportFilters(date_from=date(2025, 3, 5), date_to=date(2025, 3, 18))
    report = compliance_report(session, filters)
    row = next(row for row in report.campaigns if row.campaign_id == campaign.id)
    in_range = [
        call_id
        for at, call_id in expected_outside
        if filters.start is not None
        and filters.end is not None
        and filters.start <= at < filters.end
    ]
    assert 0 < row.outside_window < row.calls
    assert row.outside_window == len(in_range)
    assert report.outside_window_calls == in_range[:100]


def test_rejection_steps_count_as_the_per_call_definitions(session: Session) -> None:
    """Steps reached and rejections by step and reason from one pass, against
    a count per step and a plain join: contacts rejected at several steps
    (one with no reason), contacts that went on, a machine an agent clicked
    through (handled, not a contact, with a no recorded) and a script deeper than the columns
    counted in the pass."""
    campaign = make_campaign(session, name="Rejections")
    agent = make_user(session, Role.AGENT, username="rj_agent", full_name="RJ Agent")
    lead = Lead(campaign_id=campaign.id, customer_id=make_customer(session).id)
    session.add(lead)
    session.flush()
    at = _tehran("2025-06-01 09:00")
    rejected = [(1, "hung_up"), (2, "already_supplier"), (2, "already_supplier"), (4, None)]
    for minutes, (step, code) in enumerate(rejected):
        call = _call(
            session, lead, at + timedelta(minutes=minutes), agent_id=agent.id, answered=True
        )
        call.max_step_reached = step
        session.add(
            StepOutcome(
                call_id=call.id, seq=1, step_number=step, action=StepAction.REJECT, reason_code=code
            )
        )
    went_on = _call(session, lead, at + timedelta(hours=2), agent_id=agent.id, answered=True)
    went_on.max_step_reached = 6
    machine = _call(session, lead, at + timedelta(hours=3), agent_id=agent.id, answered=True)
    machine.outcome, machine.max_step_reached = CallOutcome.MACHINE, 5
    # A no the agent recorded on a machine: not a person's, not counted.
    session.add(
        StepOutcome(
            call_id=machine.id,
            seq=1,
            step_number=2,
            action=StepAction.REJECT,
            reason_code="hung_up",
        )
    )
    _call(session, lead, at + timedelta(hours=4))
    # The next day, a contact deeper than the steps the one pass counts.
    deep = _call(session, lead, at + timedelta(days=1), agent_id=agent.id, answered=True)
    deep.max_step_reached = 14
    session.commit()
    for last, steps in ((date(2025, 6, 1), 9), (date(2025, 6, 2), 14)):
        filters = ReportFilters(date_from=date(2025, 6, 1), date_to=last)
        contacts = [*call_conditions(filters), CONTACT]
        reached = session.execute(
            select(*(count_if(reached_step(n)) for n in range(1, steps + 1))).where(*contacts)
        ).one()
        reasons = session.execute(
            select(StepOutcome.step_number, StepOutcome.reason_code, func.count())
            .join(Call, Call.id == StepOutcome.call_id)
            .where(StepOutcome.action == StepAction.REJECT, *contacts)
            .group_by(StepOutcome.step_number, StepOutcome.reason_code)
        ).all()

        report = rejections_report(session, filters, "en")

        assert [row.reached for row in report.by_step] == [int(value) for value in reached]
        assert report.by_step[0].reached == 5 + (steps == 14)
        assert sorted((r.step, r.code or None, r.rejections) for r in report.by_reason) == sorted(
            (step, code, int(count)) for step, code, count in reasons
        )
        assert report.rejections == 4
        _assert_breakdowns_as_per_call(session, filters, report)


def _assert_breakdowns_as_per_call(
    session: Session, filters: ReportFilters, report: RejectionsReport
) -> None:
    """The report's contacts and rejected contacts by agent, campaign, list,
    local hour, weekday and date, against each call's added up here."""
    rejected = exists().where(
        StepOutcome.call_id == Call.id, StepOutcome.action == StepAction.REJECT
    )
    calls = session.execute(
        select(
            Call.agent_id,
            Call.campaign_id,
            Lead.lead_list_id,
            Call.dialed_at,
            count_if(CONTACT),
            count_if(and_(CONTACT, rejected)),
        )
        .join(Lead, Lead.id == Call.lead_id)
        .where(*call_conditions(filters))
        .group_by(Call.id, Lead.lead_list_id)
    ).all()
    expected: list[dict[Any, list[int]]] = [{} for _ in range(6)]
    for agent_id, campaign_id, list_id, dialed_at, contact, rejection in calls:
        local = dialed_at.replace(tzinfo=dialed_at.tzinfo or UTC).astimezone(TEHRAN)
        keys = (agent_id, campaign_id, list_id, local.hour, local.weekday(), local.date())
        for index, key in enumerate(keys):
            counts = expected[index].setdefault(key, [0, 0])
            counts[0] += int(contact)
            counts[1] += int(rejection)
    found = [
        report.by_agent,
        report.by_campaign,
        report.by_list,
        report.by_hour,
        report.by_weekday,
        report.by_date,
    ]
    for rows, wanted in zip(found, expected, strict=True):
        assert {row.key: [row.contacts, row.rejections] for row in rows if row.contacts} == {
            key: counts for key, counts in wanted.items() if counts[0]
        }
    assert report.contacts == sum(contacts for contacts, _r in expected[0].values())


def test_abandons_a_day_at_a_time_as_grouped_by_local_date(session: Session) -> None:
    """The compliance report's daily abandons and live answers, read a day at
    a time, against the calls grouped by their local date: calls at the
    first and last instants of Tehran days, in two campaigns, one filtered out."""
    counted = make_campaign(session, name="Abandons")
    other = make_campaign(session, name="Other abandons")
    leads = []
    for campaign in (counted, other):
        lead = Lead(campaign_id=campaign.id, customer_id=make_customer(session).id)
        session.add(lead)
        leads.append(lead)
    session.flush()
    outcomes = [CallOutcome.ABANDONED, CallOutcome.ANSWERED, CallOutcome.MACHINE]
    for index in range(60):
        day = _tehran("2025-05-20 00:00") + timedelta(days=index // 4)
        # Each day: its first instant, its last, noon and a minute before midnight UTC.
        at = [
            day,
            day + timedelta(days=1) - timedelta(microseconds=1),
            day + timedelta(hours=12),
            day.replace(hour=23, minute=59),
        ][index % 4]
        call = _call(session, leads[index % 2], at, answered=True)
        call.outcome = outcomes[index % 3]
    session.commit()
    filters = ReportFilters(
        date_from=date(2025, 5, 22), date_to=date(2025, 6, 2), campaign_ids=(counted.id,)
    )
    day = filters.clock(session).date(Call.dialed_at)
    expected = session.execute(
        select(Call.campaign_id, day, count_if(ABANDONED), count_if(LIVE_ANSWER))
        .where(*call_conditions(filters))
        .group_by(Call.campaign_id, day)
    ).all()

    found = session.execute(_daily_abandons(session, filters)).all()

    def normal(rows: Sequence[Any]) -> set[tuple[Any, ...]]:
        return {(c, _as_date(d), int(a), int(lv)) for c, d, a, lv in rows}

    assert len(expected) > 5
    assert normal(found) == normal(expected)
