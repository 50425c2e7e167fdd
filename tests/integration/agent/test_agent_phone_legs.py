"""The rules of the agent's phone leg (services.phone_legs and agents), on
SQLite and PostgreSQL: ready is a request to call the phone, a lost leg is a
visible, audited phone_lost pause (after the call and wrap-up when there was
one), and the phone address is kept and dialed whole."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.db import Database, utcnow
from callcenter.errors import InvalidInput
from callcenter.events import CallAnswered, CallConnected, CallDialing, CallEnded
from callcenter.models import AgentStateChange, AuditEntry, Call, Campaign, PauseReason
from callcenter.services import agents, calls, dispositions, phone_legs
from callcenter.states import AgentState, PhoneLegState, Role
from dialer.db_port import DatabaseServices
from tests.factories import make_campaign, make_lead, make_team, make_user

BUSY = "phone did not answer: 486 Busy Here"


@dataclass(frozen=True)
class Desk:
    agent_id: int
    campaign_id: int


@pytest.fixture
def desk(database: Database) -> Desk:
    """An agent on an active campaign (ready after wrap-up), phone registered."""
    with database.unit_of_work() as session:
        team = make_team(session)
        campaign = make_campaign(session, teams=[team], auto_ready_after_wrap_up=True)
        agent = make_user(session, Role.AGENT, team=team)
        agents.join_campaign(session, agent.id, campaign.id, "sip:1001@pbx.example.com")
        return Desk(agent.id, campaign.id)


def ready_with_leg(database: Database, desk: Desk, *, answered: bool = True) -> str:
    leg_id = f"agent-{desk.agent_id}-{uuid.uuid4().hex[:8]}"
    with database.unit_of_work() as session:
        agents.go_ready(session, desk.agent_id)
        assert phone_legs.calling(session, desk.agent_id, leg_id)
    if answered:
        with database.unit_of_work() as session:
            phone_legs.answered(session, desk.agent_id, leg_id)
    return leg_id


def status(database: Database, desk: Desk) -> tuple[AgentState, str | None, PhoneLegState]:
    with database.sessions() as session:
        row = agents.status_of(session, desk.agent_id)
        return row.state, row.pause_reason, row.phone_leg


def test_ready_is_a_request_to_call_the_phone(database: Database, desk: Desk) -> None:
    leg_id = ready_with_leg(database, desk, answered=False)
    assert status(database, desk) == (AgentState.READY, None, PhoneLegState.CALLING)
    with database.sessions() as session:
        payload = agents.state_payload(session, agents.status_of(session, desk.agent_id))
    assert payload["phone_leg"] == "calling" and payload["phone"] == "sip:1001@pbx.example.com"
    with database.unit_of_work() as session:
        phone_legs.answered(session, desk.agent_id, leg_id)
    assert status(database, desk) == (AgentState.READY, None, PhoneLegState.UP)


def test_a_refused_leg_puts_the_agent_in_the_phone_lost_pause(
    database: Database, desk: Desk
) -> None:
    leg_id = ready_with_leg(database, desk, answered=False)
    with database.unit_of_work() as session:
        phone_legs.lost(session, desk.agent_id, leg_id, reason=BUSY)
    assert status(database, desk) == (AgentState.PAUSED, "phone_lost", PhoneLegState.LOST)
    with database.sessions() as session:
        change = session.scalars(
            select(AgentStateChange).order_by(AgentStateChange.id.desc()).limit(1)
        ).one()
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == phone_legs.LOST)
        ).one()
        row = agents.status_of(session, desk.agent_id)
        reason = session.get(PauseReason, "phone_lost")
        assert (change.from_state, change.to_state, change.reason) == (
            AgentState.READY, AgentState.PAUSED, "phone_lost",
        )  # fmt: skip
        assert audit.target_id == str(desk.agent_id) and audit.details["reason"] == BUSY
        assert row.phone_leg_detail == BUSY
        assert reason is not None and reason.is_system and reason.label_en == "Phone lost"


def test_pressing_ready_again_asks_for_a_new_call_to_the_phone(
    database: Database, desk: Desk
) -> None:
    leg_id = ready_with_leg(database, desk)
    with database.unit_of_work() as session:
        phone_legs.lost(session, desk.agent_id, leg_id, reason="phone hung up: remote hangup")
    with database.unit_of_work() as session:
        agents.go_ready(session, desk.agent_id)
    assert status(database, desk) == (AgentState.READY, None, PhoneLegState.DOWN)
    with database.unit_of_work() as session:
        assert phone_legs.calling(session, desk.agent_id, "agent-leg-2")


def test_a_paused_agents_phone_is_not_called(database: Database, desk: Desk) -> None:
    with database.unit_of_work() as session:
        agents.pause(session, desk.agent_id, _break(session))
        assert not phone_legs.calling(session, desk.agent_id, "agent-leg-1")
    assert status(database, desk) == (AgentState.PAUSED, "break", PhoneLegState.DOWN)


def test_a_replaced_legs_reports_change_nothing(database: Database, desk: Desk) -> None:
    old = ready_with_leg(database, desk)
    with database.unit_of_work() as session:
        assert phone_legs.calling(session, desk.agent_id, "agent-new-leg")  # the dialer restarted
        phone_legs.lost(session, desk.agent_id, old, reason="phone hung up: dialer stopped")
        phone_legs.hung_up(session, desk.agent_id, old)
    assert status(database, desk) == (AgentState.READY, None, PhoneLegState.CALLING)


def test_a_leg_the_dialer_hangs_up_is_no_loss(database: Database, desk: Desk) -> None:
    leg_id = ready_with_leg(database, desk)
    with database.unit_of_work() as session:
        phone_legs.hung_up(session, desk.agent_id, leg_id)
    assert status(database, desk) == (AgentState.READY, None, PhoneLegState.DOWN)


def test_a_leg_lost_on_a_call_pauses_the_agent_after_the_wrap_up(
    database: Database, desk: Desk
) -> None:
    leg_id = ready_with_leg(database, desk)
    call_id = uuid.uuid4().hex
    with database.unit_of_work() as session:
        campaign = session.get(Campaign, desk.campaign_id)
        assert campaign is not None
        lead = make_lead(session, campaign)
        for event in (
            CallDialing(call_id=call_id, campaign_id=campaign.id, lead_id=lead.id, attempt=1),
            CallAnswered(call_id=call_id),
            CallConnected(call_id=call_id, agent_id=desk.agent_id),
        ):
            calls.apply_event(session, event)
    with database.unit_of_work() as session:
        phone_legs.lost(session, desk.agent_id, leg_id, reason="phone hung up: remote hangup")
    assert status(database, desk) == (AgentState.ON_CALL, None, PhoneLegState.LOST)
    ended = CallEnded(
        call_id=call_id,
        outcome="answered",
        sip_status=200,
        sip_reason="agent phone hung up: remote hangup",
        agent_id=desk.agent_id,
    )
    with database.unit_of_work() as session:
        calls.apply_event(session, ended)
    assert status(database, desk) == (AgentState.WRAP_UP, None, PhoneLegState.LOST)
    with database.unit_of_work() as session:
        dispositions.set_disposition(session, desk.agent_id, call_id, "no_decision")
    assert status(database, desk) == (AgentState.PAUSED, "phone_lost", PhoneLegState.LOST)
    with database.sessions() as session:
        call = session.get(Call, call_id)
        assert call is not None and call.sip_reason == "agent phone hung up: remote hangup"


def test_no_leg_at_connect_lets_the_agent_go_to_the_phone_lost_pause(
    database: Database, desk: Desk
) -> None:
    """The dialer found no leg when a call came (`lost` with no leg id), then
    lets the agent it reserved go: that is the pause, not ready."""
    ready_with_leg(database, desk)
    services = DatabaseServices(database)
    call_id = uuid.uuid4().hex
    with database.unit_of_work() as session:
        campaign = session.get(Campaign, desk.campaign_id)
        assert campaign is not None
        lead = make_lead(session, campaign)
        calls.apply_event(
            session,
            CallDialing(call_id=call_id, campaign_id=campaign.id, lead_id=lead.id, attempt=1),
        )
    assert services.reserve_agent(
        desk.agent_id, call_id=call_id, now=utcnow(), reason="live answer"
    )
    services.phone_leg_lost(desk.agent_id, None, reason="no phone leg up", now=utcnow())
    assert status(database, desk) == (AgentState.RESERVED, None, PhoneLegState.LOST)
    services.release_agent(desk.agent_id, now=utcnow(), reason="phone lost")
    assert status(database, desk) == (AgentState.PAUSED, "phone_lost", PhoneLegState.LOST)


def test_phone_lost_is_not_a_reason_people_choose(database: Database, desk: Desk) -> None:
    ready_with_leg(database, desk)
    with database.unit_of_work() as session:
        _break(session)
        codes = [r.code for r in agents.pause_reasons(session)]
        assert "break" in codes and "phone_lost" not in codes
        with pytest.raises(InvalidInput):
            agents.pause(session, desk.agent_id, "phone_lost")


def test_the_phone_address_is_kept_and_dialed_whole(database: Database, desk: Desk) -> None:
    longest = "sip:" + "1" * 195 + "@" + "pbx-" * 11 + "example.com"
    assert len(longest) == agents.MAX_PHONE_LENGTH
    with database.unit_of_work() as session:
        agents.join_campaign(session, desk.agent_id, desk.campaign_id, f"  {longest} ")
        agents.go_ready(session, desk.agent_id)
    (snapshot,) = DatabaseServices(database).agents()
    assert snapshot.phone == longest
    with database.unit_of_work() as session, pytest.raises(InvalidInput) as refused:
        agents.join_campaign(session, desk.agent_id, desk.campaign_id, longest + "m")
    assert refused.value.details == {"field": "phone"} and "255" in refused.value.message


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("1001", "1001"),
        ("sip:1001@10.0.0.5:5060;transport=udp", "sip:1001@10.0.0.5:5060;transport=udp"),
        ("SIPS:agent.7@pbx.example.com", "SIPS:agent.7@pbx.example.com"),
        ("1001@pbx.local", "sip:1001@pbx.local"),
        ("sip:[2001:db8::5]:5070", "sip:[2001:db8::5]:5070"),
    ],
)
def test_usable_phone_addresses(typed: str, kept: str) -> None:
    assert agents.phone_address(typed) == kept


@pytest.mark.parametrize(
    "typed",
    ["", "  ", "pbx.example.com", "http://pbx", "sip:1001@", "sip:1001@pbx:99999", "sip:a b@pbx",
     "10 01", "sip:1001@pbx\nVia: evil", "tel:+98912"],
)  # fmt: skip
def test_unusable_phone_addresses_are_refused_with_a_reason(typed: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        agents.phone_address(typed)
    assert refused.value.details == {"field": "phone"}


def _break(session: Session) -> str:
    if session.get(PauseReason, "break") is None:
        session.merge(PauseReason(code="break", label_fa="استراحت", label_en="Break"))
        session.flush()
    return "break"


@pytest.mark.parametrize(
    ("typed", "allowed"),
    [
        ("1001", True),
        ("sip:1001@pbx.example.com", True),
        ("sip:7@desk-7.pbx.example.com", True),
        ("sip:1001@10.20.3.4:5060", True),
        ("sip:agent-9@webphone.invalid", True),
        ("sip:1001@attacker.example.net", False),
        ("sip:1001@192.0.2.10", False),
        ("sip:1001@pbx.example.com.evil.net", False),
        ("sip:1001@notpbx.example.com", False),
    ],
)
def test_with_real_calls_desk_phones_are_only_where_the_admin_allowed(
    typed: str, allowed: bool
) -> None:
    """Customer audio never goes to an address an agent made up."""
    hosts = ["pbx.example.com", "*.pbx.example.com", "10.20.0.0/16"]
    browser = "sip:agent-9@webphone.invalid"
    if allowed:
        assert agents.phone_address(typed, browser, hosts)
    else:
        with pytest.raises(InvalidInput) as refused:
            agents.phone_address(typed, browser, hosts)
        assert refused.value.details == {"field": "phone"}


def test_the_allowed_hosts_apply_only_to_real_calls(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from callcenter.settings import load_settings

    base = {"instance_path": str(tmp_path)}
    simulated = load_settings(environ={}, overrides=base)
    assert simulated.dialer.allowed_agent_phone_hosts() is None
    real = load_settings(
        environ={"CC_DIALER__AGENT_PHONE_HOSTS": "pbx.example.com, 10.20.0.0/16"},
        overrides={**base, "dialer": {"carrier": "sip"}},
    )
    assert real.dialer.allowed_agent_phone_hosts() == ["pbx.example.com", "10.20.0.0/16"]
