"""A small call-center history whose report figures are known by construction.

Range under test: Saturday 2025-05-10 and Sunday 2025-05-11 (Asia/Tehran).
Campaign C1 (team A: agents a1, a2; lists L1, L2) and C2 (team B: agent b1,
list L3, one customer in America/New_York). Edge cases: a call dialed at
23:59:30 that ends after midnight, a DST-observing lead zone, calls with no
agent, a rejection at step 1, a customer called twice, rows just outside
the range on both sides. The expected figures live beside each test."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from callcenter.models import (
    AgentStateChange,
    Appointment,
    AppointmentStatus,
    Call,
    Campaign,
    Customer,
    Disposition,
    DispositionCode,
    DncEntry,
    DncHit,
    DncHitSource,
    Lead,
    LeadList,
    LeadStateChange,
    MeetingKind,
    PauseReason,
    StepAction,
    StepOutcome,
    User,
)
from callcenter.services import disposition_codes
from callcenter.states import (
    AgentState,
    AmdAction,
    AmdResult,
    CallDirection,
    CallOutcome,
    CallState,
    LeadState,
    Role,
)
from tests.factories import make_campaign, make_customer, make_team, make_user

TEHRAN = ZoneInfo("Asia/Tehran")
_ids = itertools.count(1)


def tehran(text: str) -> datetime:
    """'2025-05-10 10:00' (Tehran wall clock) as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=TEHRAN).astimezone(UTC)


@dataclass
class Dataset:
    users: dict[str, User] = field(default_factory=dict)
    campaigns: dict[str, Campaign] = field(default_factory=dict)
    lists: dict[str, LeadList] = field(default_factory=dict)
    calls: dict[str, Call] = field(default_factory=dict)
    leads: dict[str, Lead] = field(default_factory=dict)


def build(session: Session) -> Dataset:
    data = Dataset()
    team_a, team_b = make_team(session, "Team A"), make_team(session, "Team B")
    for name, team in (("a1", team_a), ("a2", team_a), ("b1", team_b)):
        data.users[name] = make_user(
            session, Role.AGENT, username=name, full_name=f"Agent {name}", team=team
        )
    data.users["sup"] = make_user(session, Role.SUPERVISOR, username="sup", full_name="Sup A")
    data.users["sup"].supervised.append(team_a)
    data.users["boss"] = make_user(session, Role.MANAGER, username="boss", full_name="Boss")
    c1 = make_campaign(session, name="C1", teams=[team_a])
    c2 = make_campaign(session, name="C2", teams=[team_b])
    data.campaigns = {"C1": c1, "C2": c2}
    for name, campaign in (("L1", c1), ("L2", c1), ("L3", c2)):
        lead_list = LeadList(campaign_id=campaign.id, name=name)
        session.add(lead_list)
        data.lists[name] = lead_list
    session.merge(PauseReason(code="lunch", label_fa="ناهار", label_en="Lunch"))
    session.flush()
    _calls(session, data)
    _agent_states(session, data)
    _compliance_rows(session, data)
    session.flush()
    return data


def _lead(
    session: Session, data: Dataset, key: str, campaign: str, lead_list: str, **kw: Any
) -> Lead:
    if key in data.leads:
        return data.leads[key]
    customer = make_customer(session, **kw)
    lead = Lead(
        campaign_id=data.campaigns[campaign].id,
        customer_id=customer.id,
        lead_list_id=data.lists[lead_list].id,
    )
    session.add(lead)
    session.flush()
    data.leads[key] = lead
    return lead


def _call(
    session: Session,
    data: Dataset,
    name: str,
    *,
    campaign: str,
    lead: str,
    lead_list: str,
    dialed: str,
    outcome: CallOutcome,
    agent: str | None = None,
    attempt: int = 1,
    wait: float | None = None,
    talk: float | None = None,
    wrap: float | None = None,
    answered: bool = False,
    max_step: int = 0,
    reject: tuple[int, str] | None = None,
    disposition: DispositionCode | None = None,
    appointment: tuple[str, AppointmentStatus] | None = None,
    dialed_utc: datetime | None = None,
    customer: dict[str, Any] | None = None,
    amd: tuple[AmdResult, int, AmdAction] | None = None,
    direction: CallDirection = CallDirection.OUTBOUND,
) -> Call:
    row = _lead(session, data, lead, campaign, lead_list, **(customer or {}))
    phone = session.get(Customer, row.customer_id).phone_e164  # type: ignore[union-attr]
    dialed_at = dialed_utc or tehran(dialed)
    answered_at = dialed_at + timedelta(seconds=8) if answered or wait is not None else None
    connected_at = answered_at + timedelta(seconds=wait) if wait is not None else None  # type: ignore[operator]
    ended_at = (connected_at or answered_at or dialed_at) + timedelta(seconds=talk or 5)
    call = Call(
        id=f"{name}-{next(_ids)}",
        campaign_id=data.campaigns[campaign].id,
        lead_id=row.id,
        customer_id=row.customer_id,
        agent_id=data.users[agent].id if agent else None,
        attempt=attempt,
        phone_e164=phone,
        state=CallState.ENDED,
        outcome=outcome,
        dialed_at=dialed_at,
        answered_at=answered_at,
        connected_at=connected_at,
        ended_at=ended_at,
        wrap_up_ended_at=ended_at + timedelta(seconds=wrap) if wrap is not None else None,
        max_step_reached=max_step,
        direction=direction,
    )
    if amd is not None:
        call.amd_result, call.amd_decision_ms, call.amd_action = amd
    session.add(call)
    session.flush()
    for seq in range(1, max_step + 1):
        session.add(StepOutcome(call_id=call.id, seq=seq, step_number=seq, action=StepAction.ENTER))
    if reject:
        session.add(
            StepOutcome(
                call_id=call.id,
                seq=max_step + 1,
                step_number=reject[0],
                action=StepAction.REJECT,
                reason_code=reject[1],
            )
        )
    if disposition:
        chosen = disposition_codes.built_in(disposition)
        session.add(
            Disposition(
                call_id=call.id,
                code=chosen.code,
                category=chosen.category,
                agent_id=data.users[agent].id,
            )
        )  # type: ignore[index]
    if appointment:
        owner, status = appointment
        starts = dialed_at + timedelta(days=3)
        session.add(
            Appointment(
                customer_id=row.customer_id,
                lead_id=row.id,
                campaign_id=call.campaign_id,
                call_id=call.id,
                booked_by_id=call.agent_id,
                owner_id=data.users[owner].id,
                starts_at=starts,
                ends_at=starts + timedelta(hours=1),
                kind=MeetingKind.IN_PERSON,
                status=status,
            )
        )
    session.flush()
    data.calls[name] = call
    return call


def _calls(session: Session, data: Dataset) -> None:
    A, Out = AppointmentStatus, CallOutcome
    c1 = {"campaign": "C1"}
    _call(
        session,
        data,
        "k1",
        **c1,
        lead="p1",
        lead_list="L1",
        dialed="2025-05-10 10:00",
        agent="a1",
        outcome=Out.ANSWERED,
        wait=1,
        talk=120,
        wrap=30,
        max_step=7,
        disposition=DispositionCode.APPOINTMENT_SET,
        appointment=("a1", A.SOLD),
    )
    _call(
        session,
        data,
        "k2",
        **c1,
        lead="p2",
        lead_list="L1",
        dialed="2025-05-10 10:30",
        agent="a1",
        outcome=Out.ANSWERED,
        wait=3,
        talk=60,
        wrap=20,
        max_step=4,
        reject=(4, "not_interested_offer"),
        disposition=DispositionCode.NOT_INTERESTED,
    )
    _call(
        session,
        data,
        "k3",
        **c1,
        lead="p3",
        lead_list="L2",
        dialed="2025-05-10 11:00",
        agent="a2",
        outcome=Out.ANSWERED,
        wait=1,
        talk=10,
        wrap=5,
        max_step=1,
        reject=(1, "hung_up"),
        disposition=DispositionCode.NOT_INTERESTED,
    )
    _call(
        session,
        data,
        "k4",
        **c1,
        lead="p4",
        lead_list="L1",
        dialed="2025-05-10 11:05",
        outcome=Out.ABANDONED,
        answered=True,
    )
    _call(
        session,
        data,
        "k5",
        **c1,
        lead="p5",
        lead_list="L2",
        dialed="2025-05-10 11:10",
        outcome=Out.MACHINE,
        answered=True,
    )
    _call(
        session,
        data,
        "k6",
        **c1,
        lead="p6",
        lead_list="L1",
        dialed="2025-05-10 11:20",
        outcome=Out.BUSY,
    )
    # Dialed 23:59:30 Tehran (outside the 09-21 window), ends after midnight.
    _call(
        session,
        data,
        "k7",
        **c1,
        lead="p7",
        lead_list="L1",
        dialed="2025-05-10 23:59:30",
        agent="a2",
        outcome=Out.ANSWERED,
        wait=2,
        talk=200,
        wrap=10,
        max_step=2,
        reject=(2, "already_supplier"),
        disposition=DispositionCode.NOT_INTERESTED,
    )
    # The customer of k3, called again.
    _call(
        session,
        data,
        "k8",
        **c1,
        lead="p3",
        lead_list="L2",
        dialed="2025-05-11 09:30",
        attempt=2,
        agent="a2",
        outcome=Out.ANSWERED,
        wait=1,
        talk=200,
        wrap=40,
        max_step=7,
        disposition=DispositionCode.APPOINTMENT_SET,
        appointment=("a1", A.HELD),
    )
    _call(
        session,
        data,
        "k9",
        **c1,
        lead="p9",
        lead_list="L1",
        dialed="2025-05-11 09:40",
        agent="a1",
        outcome=Out.NO_ANSWER,
    )
    new_york = {"timezone": "America/New_York", "phone_e164": "+12125550100"}
    # 13:30 UTC = 09:30 EDT in New York: inside the window (08:30 if DST were ignored).
    _call(
        session,
        data,
        "k10",
        campaign="C2",
        lead="p10",
        lead_list="L3",
        dialed="",
        dialed_utc=datetime(2025, 5, 11, 13, 30, tzinfo=UTC),
        customer=new_york,
        agent="b1",
        outcome=Out.ANSWERED,
        wait=1,
        talk=90,
        wrap=10,
        max_step=5,
        reject=(5, "no_meeting"),
        disposition=DispositionCode.NOT_INTERESTED,
    )
    # 01:30 UTC = Saturday 21:30 EDT: outside (20:30 if DST were ignored).
    _call(
        session,
        data,
        "k11",
        campaign="C2",
        lead="p10",
        lead_list="L3",
        dialed="",
        attempt=2,
        dialed_utc=datetime(2025, 5, 11, 1, 30, tzinfo=UTC),
        agent="b1",
        outcome=Out.NO_ANSWER,
    )
    # Outside the range: the day before (counts in the rolling window) and just after.
    _call(
        session,
        data,
        "k12",
        **c1,
        lead="p12",
        lead_list="L1",
        dialed="2025-05-09 11:00",
        outcome=Out.ABANDONED,
        answered=True,
    )
    _call(session, data, "k13", **c1, lead="p13", lead_list="L1", dialed="2025-05-12 00:10",
          agent="a1", outcome=Out.ANSWERED, wait=1, talk=30, wrap=5, max_step=3)  # fmt: skip


def add_machines(session: Session, data: Dataset) -> None:
    """Answering machines on 2025-05-10 in C1, on top of `build`: one that
    detection hung up on, one it left the message, and two that reached
    agent a1 with detection off: one the agent marked "answering machine",
    one the agent clicked through to step 2 and marked rejected at step 1
    (its outcome came back "machine" from the carrier, as the simulated
    carrier once said). None of them is a live answer or a contact."""
    Out = CallOutcome
    c1 = {"campaign": "C1", "lead_list": "L1", "outcome": Out.MACHINE}
    _call(session, data, "m1", **c1, lead="q1", dialed="2025-05-10 12:00", answered=True,
          amd=(AmdResult.MACHINE, 1800, AmdAction.HUNG_UP))  # fmt: skip
    _call(session, data, "m2", **c1, lead="q2", dialed="2025-05-10 12:05", answered=True,
          talk=14, amd=(AmdResult.MACHINE, 2100, AmdAction.MESSAGE_PLAYED))  # fmt: skip
    _call(session, data, "m3", **c1, lead="q3", dialed="2025-05-10 12:10", agent="a1", wait=1,
          talk=20, wrap=5, max_step=1, disposition=DispositionCode.ANSWERING_MACHINE)  # fmt: skip
    _call(session, data, "m4", **c1, lead="q4", dialed="2025-05-10 12:20", agent="a1", wait=1,
          talk=25, wrap=10, max_step=2, reject=(1, "hung_up"))  # fmt: skip


def add_inbound(session: Session, data: Dataset) -> None:
    """Customers ringing C1's number back on 2025-05-10, on top of `build`:
    one agent a1 answered (script to step 3, an appointment booked, a sale
    disposition), one nobody took in time (abandoned: a callback for
    anyone), one at 03:00 local time from a number on the global DNC list.
    None of them is a dial, a live answer, a contact or an abandon."""
    Out = CallOutcome
    inbound = {"campaign": "C1", "lead_list": "L1", "direction": CallDirection.INBOUND}
    _call(session, data, "i1", **inbound, lead="r1", dialed="2025-05-10 11:00",
          outcome=Out.ANSWERED, agent="a1", wait=1, talk=90, wrap=10, max_step=3,
          disposition=DispositionCode.SALE,
          appointment=("a2", AppointmentStatus.SOLD))  # fmt: skip
    _call(session, data, "i2", **inbound, lead="r2", dialed="2025-05-10 11:10",
          outcome=Out.ABANDONED, answered=True)  # fmt: skip
    night = _call(session, data, "i3", **inbound, lead="r3", dialed="2025-05-10 03:00",
                  outcome=Out.ANSWERED, agent="a2", wait=2, talk=30, wrap=5)  # fmt: skip
    session.add(DncEntry(phone_e164=night.phone_e164, campaign_id=None,
                         created_at=tehran("2025-05-01 10:00")))  # fmt: skip
    session.flush()


def _states(
    session: Session, agent: User, changes: list[tuple[str, AgentState, str | None]]
) -> None:
    previous = AgentState.LOGGED_OUT
    for when, state, reason in changes:
        session.add(
            AgentStateChange(
                agent_id=agent.id,
                from_state=previous,
                to_state=state,
                reason=reason,
                at=tehran(when),
            )
        )
        previous = state


def _agent_states(session: Session, data: Dataset) -> None:
    S = AgentState
    _states(session, data.users["a1"], [
        ("2025-05-09 20:00", S.READY, None),          # before the range
        ("2025-05-09 21:00", S.LOGGED_OUT, None),
        ("2025-05-10 09:00", S.READY, None),
        ("2025-05-10 10:00", S.ON_CALL, None),
        ("2025-05-10 10:02", S.WRAP_UP, None),
        ("2025-05-10 10:02:30", S.READY, None),
        ("2025-05-10 10:30", S.ON_CALL, None),
        ("2025-05-10 10:31", S.WRAP_UP, None),
        ("2025-05-10 10:31:20", S.PAUSED, "lunch"),
        ("2025-05-10 11:31:20", S.READY, None),
        ("2025-05-10 12:00", S.LOGGED_OUT, None),
    ])  # fmt: skip
    _states(session, data.users["a2"], [
        ("2025-05-11 23:00", S.READY, None),          # runs past the end of the range
        ("2025-05-12 01:00", S.LOGGED_OUT, None),
    ])  # fmt: skip


def _compliance_rows(session: Session, data: Dataset) -> None:
    c1, c2 = data.campaigns["C1"], data.campaigns["C2"]
    # k6's number was on the global DNC list before it was dialed: a violation.
    session.add(DncEntry(phone_e164=data.calls["k6"].phone_e164, campaign_id=None,
                         created_at=tehran("2025-05-01 10:00")))  # fmt: skip
    # k9's number was listed after its call: not a violation.
    session.add(DncEntry(phone_e164=data.calls["k9"].phone_e164, campaign_id=c1.id,
                         created_at=tehran("2025-05-12 10:00")))  # fmt: skip
    blocked = _lead(session, data, "p20", "C1", "L1")
    session.add(LeadStateChange(lead_id=blocked.id, from_state=LeadState.NEW,
                                to_state=LeadState.DNC, reason="dnc: on the global list",
                                at=tehran("2025-05-10 12:00")))  # fmt: skip
    # A DNC move caused by the customer on a call is not a prevented dial.
    session.add(LeadStateChange(lead_id=data.leads["p2"].id, from_state=LeadState.DIALING,
                                to_state=LeadState.DNC, reason="asked", call_id=data.calls["k2"].id,
                                at=tehran("2025-05-10 10:35")))  # fmt: skip
    session.add(DncHit(campaign_id=c2.id, phone_e164="+989120000999",
                       source=DncHitSource.CLAIM, at=tehran("2025-05-11 12:00")))  # fmt: skip
