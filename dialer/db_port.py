"""The worker's port into the product, over `callcenter.services` and one
database (one unit of work per call, so each commits on its own)."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.db import Database
from callcenter.errors import InvalidInput
from callcenter.models import AgentStatus, Campaign, ScriptVersion, User
from callcenter.services import (
    abandon_tallies,
    agents,
    call_recovery,
    calls,
    dialer_fleet,
    my_callbacks,
    pacing_log,
    phone_legs,
    ringback,
    wrap_ups,
)
from callcenter.services.dialer_fleet import DialerIdentity
from callcenter.states import AgentState, IllegalTransition
from dialer.carrier import AmdMode
from dialer.ports import AgentPhase, AgentSnapshot, CampaignPlan, ClaimedLead, Mode, Tally

log = logging.getLogger(__name__)

T = TypeVar("T")


def new_dialer_identity(trunk: str = "default") -> DialerIdentity:
    return DialerIdentity(
        id=uuid.uuid4().hex, host=socket.gethostname(), pid=os.getpid(), trunk=trunk
    )


class DatabaseServices:
    """:class:`dialer.ports.DialerServices` over the product's services."""

    def __init__(
        self,
        database: Database,
        *,
        identity: DialerIdentity | None = None,
        campaign_lease_s: float = 15.0,
    ) -> None:
        self.database = database
        self.identity = identity or new_dialer_identity()
        self.lease = timedelta(seconds=campaign_lease_s)
        self.tallies = abandon_tallies.RollingTallies()
        self._locales: dict[int, str] = {}
        """Each script version's language, by its id."""

    @property
    def dialer_id(self) -> str:
        return self.identity.id

    def sign_in(self, *, now: datetime) -> None:
        with self.database.unit_of_work() as session:
            dialer_fleet.sign_in(session, self.identity, now=now)

    def hold_campaigns(self, *, now: datetime) -> Sequence[CampaignPlan]:
        with self.database.unit_of_work() as session:
            held = dialer_fleet.hold_campaigns(session, self.dialer_id, now=now, lease=self.lease)
            self._learn_locales(session, held.campaigns)
            plans = [_plan(campaign, self._locale_of(campaign)) for campaign in held.campaigns]
        if held.taken_over:
            summary = self.recover_lost_work(held.taken_over, now=now)
            log.warning("took over campaigns %s: %s", held.taken_over, summary or "nothing open")
        return plans

    def _learn_locales(self, session: Session, campaigns: Sequence[Campaign]) -> None:
        """The languages of the campaigns' scripts not known yet (read every tick
        before, though a version's locale never changes)."""
        unknown = {c.script_version_id for c in campaigns if c.script_version_id is not None}
        unknown -= self._locales.keys()
        if unknown:
            self._locales.update(_script_locales(session, unknown))

    def _locale_of(self, campaign: Campaign) -> str | None:
        version_id = campaign.script_version_id
        return self._locales.get(version_id) if version_id is not None else None

    def report_trunk_status(self, status: dict[str, Any], *, now: datetime) -> None:
        with self.database.unit_of_work() as session:
            dialer_fleet.record_trunk_status(session, self.dialer_id, status, now=now)

    def recover_lost_work(self, campaign_ids: Sequence[int], *, now: datetime) -> str:
        with self.database.unit_of_work() as session:
            lost = dialer_fleet.recover_lost_work(
                session, self.dialer_id, campaign_ids, now=now, lease=self.lease
            )
        if not lost:
            return ""
        return (
            f"closed {len(lost.calls_closed)} calls of lost dialers, gave back "
            f"{lost.leads_released} leads, let go {len(lost.agents_released)} agents"
        )

    def open_call(
        self,
        call_id: str,
        lead: ClaimedLead,
        *,
        agent_id: int | None,
        now: datetime,
        is_manual: bool = False,
    ) -> None:
        with self.database.unit_of_work() as session:
            calls.open_call(
                session,
                call_id=call_id,
                campaign_id=lead.campaign_id,
                lead_id=lead.lead_id,
                attempt=lead.attempt,
                agent_id=agent_id,
                dialer_id=self.dialer_id,
                at=now,
                phone_e164=lead.phone_e164,
                is_manual=is_manual,
            )

    def open_calls(self, opening: Sequence[tuple[str, ClaimedLead]], *, now: datetime) -> None:
        attempts = [
            calls.OpeningCall(
                call_id=call_id,
                campaign_id=lead.campaign_id,
                lead_id=lead.lead_id,
                attempt=lead.attempt,
                phone_e164=lead.phone_e164,
            )
            for call_id, lead in opening
        ]
        with self.database.unit_of_work() as session:
            calls.open_calls(session, attempts, dialer_id=self.dialer_id, at=now)

    def open_inbound_call(
        self, call_id: str, campaign_id: int, caller: str, *, now: datetime
    ) -> ClaimedLead | None:
        try:
            with self.database.unit_of_work() as session:
                found = ringback.open_inbound_call(
                    session,
                    call_id=call_id,
                    campaign_id=campaign_id,
                    caller=caller,
                    dialer_id=self.dialer_id,
                    now=now,
                )
        except InvalidInput:
            log.info("inbound call %s: the caller's number is not one we can read", call_id)
            return None
        return ClaimedLead(
            lead_id=found.lead_id,
            campaign_id=found.campaign_id,
            attempt=found.attempt,
            phone_e164=found.phone_e164,
        )

    def sign_off(self, *, now: datetime) -> None:
        with self.database.unit_of_work() as session:
            dialer_fleet.sign_off(session, self.dialer_id, now=now)

    def agents(self) -> Sequence[AgentSnapshot]:
        # Columns, not entities: read every tick and while answers wait (4 a
        # second), loading 200 AgentStatus objects was most of this read's CPU.
        # On the session's connection: a read-only session has nothing to
        # flush, and the ORM's row wrapping was a quarter of the rest.
        with self.database.read_sessions() as session:
            rows = session.connection().execute(_AGENTS).all()
        return [
            AgentSnapshot(
                agent_id=agent_id,
                campaign_id=campaign_id,
                phase=_PHASES[state],
                since=since,
                phone=phone,
                call_id=call_id,
            )
            for agent_id, campaign_id, state, since, call_id, phone in rows
            if campaign_id is not None
        ]

    def reserve_agent(
        self, agent_id: int, *, call_id: str | None, now: datetime, reason: str
    ) -> bool:
        with self.database.unit_of_work() as session:
            return agents.reserve_ready(
                session, agent_id, call_id=call_id, reason=reason[:64], now=now
            )

    def release_agent(self, agent_id: int, *, now: datetime, reason: str) -> None:
        try:
            with self.database.unit_of_work() as session:
                status = agents.status_of(session, agent_id, lock=True)
                if status.state is AgentState.RESERVED:
                    agents.release_reserved(session, agent_id, reason=reason[:64], now=now)
        except IllegalTransition:
            log.info("agent %s moved on before the dialer let them go", agent_id)

    def phone_leg_calling(self, agent_id: int, leg_id: str) -> bool:
        with self.database.unit_of_work() as session:
            return phone_legs.calling(session, agent_id, leg_id)

    def phone_leg_answered(self, agent_id: int, leg_id: str) -> None:
        with self.database.unit_of_work() as session:
            phone_legs.answered(session, agent_id, leg_id)

    def phone_leg_hung_up(self, agent_id: int, leg_id: str) -> None:
        with self.database.unit_of_work() as session:
            phone_legs.hung_up(session, agent_id, leg_id)

    def phone_leg_lost(
        self, agent_id: int, leg_id: str | None, *, reason: str, now: datetime
    ) -> None:
        with self.database.unit_of_work() as session:
            phone_legs.lost(session, agent_id, leg_id, reason=reason, now=now)

    def record_dial_level(
        self, campaign_id: int, dial_level: float, reason: str, *, now: datetime
    ) -> None:
        with self.database.unit_of_work() as session:
            pacing_log.record_dial_level(
                session, campaign_id=campaign_id, dial_level=dial_level, reason=reason, at=now
            )

    def abandon_tallies(self, campaign_id: int, *, now: datetime) -> tuple[Tally, Tally]:
        with self.database.unit_of_work() as session:
            today, window = self.tallies.abandon_tallies(session, campaign_id, now=now)
        return (
            Tally(today.live_answers, today.abandoned),
            Tally(window.live_answers, window.abandoned),
        )

    def sweep_floor(self, *, now: datetime) -> str:
        with self.database.read_sessions() as session:
            agent_ids = wrap_ups.agents_to_sweep(session, now=now)
            callbacks_due = my_callbacks.any_due(session, now=now)
        done = wrap_ups.Sweep()
        for agent_id in agent_ids:  # one short transaction each
            with self.database.unit_of_work() as session:
                wrap_ups.sweep_agent(session, agent_id, now=now, done=done)
        wrap_ups.report(done)
        alerted = 0
        if callbacks_due:
            with self.database.unit_of_work() as session:
                alerted = my_callbacks.alert_due(session, now=now)
        if not done and not alerted:
            return ""
        return (
            f"timed out {len(done.timed_out_calls)} wrap-ups, paused "
            f"{len(done.paused_agents)} agents, logged out {len(done.logged_out_agents)}, "
            f"told agents of {alerted} callbacks due"
        )

    def recover(self, *, now: datetime, older_than_s: float) -> str:
        with self.database.unit_of_work() as session:
            result = call_recovery.recover_after_restart(
                session, now=now, older_than=timedelta(seconds=older_than_s)
            )
        return (
            f"closed {len(result.calls_closed)} calls left open, released "
            f"{result.leads_released} leads and {len(result.agents_released)} agents"
        )


_AGENTS = (
    select(
        AgentStatus.agent_id,
        AgentStatus.campaign_id,
        AgentStatus.state,
        AgentStatus.since,
        AgentStatus.current_call_id,
        User.sip_uri,
    )
    .join(User, User.id == AgentStatus.agent_id)
    .where(
        AgentStatus.campaign_id.is_not(None),
        AgentStatus.state != AgentState.LOGGED_OUT,
        User.is_active.is_(True),
    )
)
"""The agents' read, built once (it runs every tick and while answers wait)."""

_PHASES = {
    state: AgentPhase(state.value) for state in AgentState if state is not AgentState.LOGGED_OUT
}
"""The worker's phase of each state `_AGENTS` returns."""


def _script_locales(session: Session, version_ids: Collection[int]) -> dict[int, str]:
    """The language of each script version, in one query (not the script itself)."""
    rows = session.execute(
        select(ScriptVersion.id, ScriptVersion.locale).where(ScriptVersion.id.in_(version_ids))
    )
    return {version_id: locale for version_id, locale in rows}


def _plan(campaign: Campaign, locale: str | None = None) -> CampaignPlan:
    return CampaignPlan(
        id=campaign.id,
        mode=Mode(campaign.dial_mode.value),
        caller_id=campaign.caller_id,
        trunk=campaign.trunk,
        ring_timeout_s=float(campaign.ring_timeout_seconds),
        max_lines_per_agent=float(campaign.max_lines_per_agent),
        abandon_cap=float(campaign.abandon_cap_percent) / 100.0,
        preview_timeout_s=(
            float(campaign.preview_timeout_seconds)
            if campaign.preview_timeout_seconds is not None
            else None
        ),
        amd=AmdMode(campaign.amd_mode.value),
        voicemail_wav=campaign.voicemail_wav or None,
        wrap_up_limit_s=float(campaign.wrap_up_limit_seconds),
        locale=locale,
        recording=campaign.recording_mode.value,
        recording_consent=campaign.recording_consent,
        consent_wav=campaign.consent_wav or None,
        consent_wav_key=campaign.consent_wav_key,
        inbound_wait_s=float(campaign.inbound_wait_seconds),
    )
