"""The floor as a state machine (issue 17): random interleavings of what
agents press, what supervisors do, what the dialer reports and how the clock
moves, applied to the real services on a real SQLite file, with the floor's
invariants checked after every step.

The dialer's side follows what the worker does: it connects a live answer
only to an agent the database agrees to reserve and whose phone leg is up,
hangs up a connected call when the agent's phone leg drops, calls the phone
of a ready agent and hangs up the phone of one who left, and runs the
server's floor sweep on its tick (here: whenever the clock moves)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import func, select

from callcenter import migrate
from callcenter.db import Database
from callcenter.errors import DomainError
from callcenter.models import (
    AgentStatus,
    Call,
    Callback,
    CallbackStatus,
    Campaign,
    CampaignStatus,
    DialMode,
    Disposition,
    Lead,
    User,
)
from callcenter.services import accounts, hopper_feed, workstation
from callcenter.services.floor.rebuild import totals_from_db
from callcenter.states import (
    DIALABLE_LEAD_STATES,
    AgentState,
    CallState,
    LeadState,
    PhoneLegState,
)
from tests.integration.floor.service_floor import ServiceFloor, build_service_floor

WRAP_UP_LIMIT = 60
_TEMPLATE: Path | None = None
# Hundreds of small commits per example: on tmpfs they cost no disk flush.
_SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None


def _migrated_template() -> Path:
    global _TEMPLATE
    if _TEMPLATE is None:
        path = Path(tempfile.mkdtemp(prefix="cc-floor-model-", dir=_SCRATCH)) / "template.db"
        migrate.upgrade(f"sqlite:///{path}")
        _TEMPLATE = path
    return _TEMPLATE


AGENTS = st.integers(min_value=0, max_value=1)
LEADS = st.integers(min_value=0, max_value=3)
CODES = st.sampled_from(["no_decision", "not_interested", "callback", "wrong_number", "sale"])


class FloorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.workdir = Path(tempfile.mkdtemp(prefix="cc-floor-run-", dir=_SCRATCH))
        shutil.copy(_migrated_template(), self.workdir / "floor.db")
        self.database = Database(f"sqlite:///{self.workdir / 'floor.db'}")
        self.floor: ServiceFloor = build_service_floor(
            self.database, wrap_up_limit_seconds=WRAP_UP_LIMIT
        )
        self.open_calls: list[str] = []

    def teardown(self) -> None:
        self.database.dispose()
        shutil.rmtree(self.workdir, ignore_errors=True)

    @initialize()
    def agents_join_and_get_ready(self) -> None:
        for agent in self.floor.agent_ids:
            self.floor.join(agent)
            self.floor.ready(agent)
        self.dialer_keeps_phone_legs()

    # -- helpers

    def _agent(self, index: int) -> int:
        return self.floor.agent_ids[index]

    def _refused(self, action: Any, *args: Any, **kwargs: Any) -> None:
        """An agent's or supervisor's action: a refusal with a message is fine."""
        with contextlib.suppress(DomainError):
            action(*args, **kwargs)

    def _calls(self, *states: CallState) -> list[Call]:
        with self.database.read_sessions() as session:
            rows = list(
                session.scalars(
                    select(Call)
                    .where(Call.state.in_(states))
                    .order_by(Call.dialed_at, Call.lead_id, Call.attempt)
                )
            )
            for row in rows:
                session.expunge(row)
            return rows

    def _campaign_active(self) -> bool:
        with self.database.read_sessions() as session:
            campaign = session.get(Campaign, self.floor.campaign_id)
            return campaign is not None and campaign.status is CampaignStatus.ACTIVE

    # -- agents at their screens

    @rule(index=AGENTS, key=st.sampled_from(["F2", "F2", "F4", "F4", "break", "lunch", "join"]))
    def agent_presses(self, index: int, key: str) -> None:
        """F2 (ready), F4 (leave the queue), a pause, or joining again, in any state."""
        agent = self._agent(index)
        if key == "F2":
            self._refused(self.floor.ready, agent)
            self.dialer_keeps_phone_legs()
        elif key == "F4":
            self._refused(self.floor.leave, agent)
        elif key == "join":
            self._refused(self.floor.join, agent)
        else:
            self._refused(self.floor.pause, agent, key)

    @rule(index=AGENTS, code=CODES, mine=st.booleans())
    def dispose(self, index: int, code: str, mine: bool) -> None:
        agent = self._agent(index)
        status = self.floor.status(agent)
        if status.current_call_id is None:
            return
        extra: dict[str, Any] = {}
        if code == "callback":
            extra = {
                "callback_at": (self.floor.now + timedelta(minutes=5)).isoformat(),
                "callback_mine": mine,
            }
        if code == "not_interested":
            extra = {"rejection": {"step": 4, "reason_code": "no_budget"}}
        self._refused(self.floor.dispose, agent, status.current_call_id, code, **extra)

    @rule(index=AGENTS, what=st.sampled_from(["reload", "tab closed", "log out"]))
    def the_browser(self, index: int, what: str) -> None:
        """A reload asks for the screen again; a closed tab does nothing (the
        server's clock takes over); logging out of the site ends the session."""
        agent = self._agent(index)
        if what == "reload":
            with self.database.unit_of_work() as session:
                workstation.current_view(session, agent, now=self.floor.now)
        elif what == "log out":
            with self.database.unit_of_work() as session:
                user = session.get(User, agent)
                assert user is not None
                accounts.record_logout(session, user)

    # -- supervisors

    @rule(
        index=AGENTS,
        what=st.sampled_from(["force pause", "pause campaign", "resume campaign", "mode"]),
        mode=st.sampled_from(list(DialMode)),
    )
    def supervisor(self, index: int, what: str, mode: DialMode) -> None:
        if what == "force pause":
            self._refused(self.floor.pause, self._agent(index), "break")
            return
        with self.database.unit_of_work() as session:
            campaign = session.get(Campaign, self.floor.campaign_id)
            assert campaign is not None
            if what == "mode":
                campaign.dial_mode = mode
            else:
                active = what == "resume campaign"
                campaign.status = CampaignStatus.ACTIVE if active else CampaignStatus.PAUSED

    # -- the dialer

    def dialer_keeps_phone_legs(self) -> None:
        """Ready agents' phones are called (and answer); a leaver's is hung up."""
        for agent in self.floor.agent_ids:
            status = self.floor.status(agent)
            if status.state is AgentState.READY and status.phone_leg is PhoneLegState.DOWN:
                self.floor.phone_up(agent)
            elif status.state is AgentState.LOGGED_OUT and status.phone_leg_id is not None:
                self.floor.port.phone_leg_hung_up(agent, status.phone_leg_id)

    @rule(lead=LEADS, answered=st.booleans())
    def dialer_dials(self, lead: int, answered: bool) -> None:
        """A call placed; answered by a person, it goes to the longest-idle
        ready agent whose phone is up, as the worker does within 2 s."""
        if not self._campaign_active():
            return
        self.dialer_keeps_phone_legs()
        call_id = self.floor.dial(self.floor.lead_ids[lead])
        if call_id is None or not answered:
            return
        self.floor.answer(call_id)
        self._connect(call_id)

    def _connect(self, call_id: str) -> None:
        for snapshot in sorted(self.floor.port.agents(), key=lambda a: (a.since, a.agent_id)):
            if snapshot.phase.value != "ready":
                continue
            if self.floor.status(snapshot.agent_id).phone_leg is not PhoneLegState.UP:
                continue
            if self.floor.reserve(snapshot.agent_id, call_id):
                self.floor.connect(call_id, snapshot.agent_id)
                return

    @rule(
        data=st.data(),
        what=st.sampled_from(
            ["answer", "connect", "busy", "no_answer", "machine", "abandon"] + ["hang up"] * 4
        ),
    )
    def call_progress(self, data: st.DataObject, what: str) -> None:
        if what == "hang up":  # the customer or the agent, either side
            talking = self._calls(CallState.CONNECTED)
            if talking:
                call = data.draw(st.sampled_from(talking))
                self.floor.end(call.id, "answered", agent_id=call.agent_id)
            return
        if what in ("connect", "abandon"):
            waiting = self._calls(CallState.ANSWERED)
            if waiting:
                call = data.draw(st.sampled_from(waiting))
                if what == "connect":
                    self._connect(call.id)
                else:
                    self.floor.end(call.id, "abandoned")
            return
        ringing = self._calls(CallState.DIALING, CallState.RINGING)
        if not ringing:
            return
        call = data.draw(st.sampled_from(ringing))
        if what == "answer":
            self.floor.answer(call.id)
        else:
            self.floor.end(call.id, what)

    @rule(index=AGENTS)
    def phone_leg_lost(self, index: int) -> None:
        agent = self._agent(index)
        if self.floor.status(agent).phone_leg is not PhoneLegState.UP:
            return
        self.floor.phone_lost(agent)
        for call in self._calls(CallState.CONNECTED):
            if call.agent_id == agent:  # the worker hangs up a call bridged to a lost leg
                self.floor.end(call.id, "answered", agent_id=agent)

    # -- the clock (the dialer's tick sweeps the floor)

    @rule(seconds=st.sampled_from([1, 20, 45, 61, 300, 3600]))
    def time_passes(self, seconds: int) -> None:
        self.floor.tick(seconds)
        self.floor.sweep()

    # -- invariants

    @invariant()
    def no_lead_is_orphaned_in_dialing(self) -> None:
        with self.database.read_sessions() as session:
            for lead in session.scalars(select(Lead)):
                if lead.state in DIALABLE_LEAD_STATES or lead.state is not LeadState.DIALING:
                    continue
                call = session.scalar(
                    select(Call).where(Call.lead_id == lead.id, Call.attempt == lead.attempts)
                )
                assert call is not None, f"lead {lead.id} in dialing with no call"
                if call.state is not CallState.ENDED:
                    continue
                assert call.connected_at is not None, f"lead {lead.id}: unconnected call ended"
                assert call.wrap_up_ended_at is None, f"lead {lead.id}: wrap-up over, not settled"
                status = session.get(AgentStatus, call.agent_id)
                assert status is not None and status.state is AgentState.WRAP_UP
                assert status.current_call_id == call.id, f"lead {lead.id}: nobody wraps it up"

    @invariant()
    def every_wrapped_up_call_has_exactly_one_disposition(self) -> None:
        with self.database.read_sessions() as session:
            counts = dict(
                session.execute(
                    select(Disposition.call_id, func.count()).group_by(Disposition.call_id)
                ).all()
            )
            for call in session.scalars(select(Call).where(Call.connected_at.is_not(None))):
                if call.wrap_up_ended_at is not None:
                    assert counts.get(call.id) == 1, f"call {call.id}: {counts.get(call.id)}"
                else:
                    assert call.id not in counts

    @invariant()
    def agents_are_where_the_rules_put_them(self) -> None:
        now = self.floor.now
        in_pool = {
            a.agent_id for a in self.floor.port.agents() if a.phase.value in ("ready", "reserved")
        }
        with self.database.read_sessions() as session:
            for status in session.scalars(select(AgentStatus)):
                user = session.get(User, status.agent_id)
                assert user is not None
                if status.state is AgentState.READY:
                    assert status.phone_leg is not PhoneLegState.LOST
                    assert user.is_active
                if status.state is AgentState.LOGGED_OUT:
                    assert status.agent_id not in in_pool
                if status.state is AgentState.WRAP_UP:
                    wrapping = (now - status.since).total_seconds()
                    assert wrapping < WRAP_UP_LIMIT, f"agent {status.agent_id} wraps up {wrapping}s"
                if status.state is AgentState.ON_CALL:
                    call = session.get(Call, status.current_call_id)
                    assert call is not None and call.state is CallState.CONNECTED

    @invariant()
    def no_customer_is_connected_to_nobody(self) -> None:
        with self.database.read_sessions() as session:
            for call in session.scalars(select(Call).where(Call.state == CallState.CONNECTED)):
                status = session.get(AgentStatus, call.agent_id)
                assert status is not None and status.state is AgentState.ON_CALL
                assert status.current_call_id == call.id

    @invariant()
    def callbacks_wait_for_their_agent_then_go_to_anyone(self) -> None:
        now = self.floor.now
        with self.database.read_sessions() as session:
            campaign = session.get(Campaign, self.floor.campaign_id)
            assert campaign is not None
            if campaign.status is not CampaignStatus.ACTIVE:
                return
            offers = {
                offer.lead_id: offer
                for offer in hopper_feed.select_dialable(session, campaign.id, now=now)
            }
            wait = timedelta(minutes=campaign.callback_open_after_minutes)
            pending = session.scalars(
                select(Callback).where(Callback.status == CallbackStatus.PENDING)
            )
            for callback in pending:
                offer = offers.get(callback.lead_id)
                if offer is None:
                    continue  # not due yet, or outside the calling window
                kept = callback.assigned_agent_id if callback.due_at + wait > now else None
                assert offer.agent_id == kept

    @invariant()
    def the_live_floor_counts_what_the_database_has(self) -> None:
        with self.database.read_sessions() as session:
            day = self.floor.now.date()
            totals, _ = totals_from_db(session, day, tz="UTC", now=self.floor.now)
            dials = session.scalar(select(func.count(Call.id))) or 0
            assert totals.get(self.floor.campaign_id, {}).get("dials", 0) <= dials


FloorMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_the_floor_rules_hold_whatever_anyone_clicks = FloorMachine.TestCase


def test_regression_f2_in_wrap_up_after_a_connected_call() -> None:
    """The sequence the machine found with the wrap-up refusal taken out:
    a live answer connected, hung up, then F2 before the disposition."""
    machine = FloorMachine()
    try:
        machine.agents_join_and_get_ready()
        machine.dialer_dials(0, answered=True)
        (call,) = machine._calls(CallState.CONNECTED)
        machine.floor.end(call.id, "answered", agent_id=call.agent_id)
        machine.agent_presses(0, "F2")
        machine.agent_presses(0, "F4")
        machine.no_lead_is_orphaned_in_dialing()
        machine.agents_are_where_the_rules_put_them()
        machine.time_passes(61)
        machine.no_lead_is_orphaned_in_dialing()
        machine.every_wrapped_up_call_has_exactly_one_disposition()
        machine.agents_are_where_the_rules_put_them()
    finally:
        machine.teardown()
