"""kill -9 of a dialer in a busy period, against real processes: two
`callcenter dialer` processes on PostgreSQL and Redis, the first holding the
campaign. After the kill the second takes the campaign over when its lease
expires: the calls the dead one had in flight end with a clear outcome, no
lead is lost or dialed twice, no agent stays held, and dialing goes on."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callcenter.bus_redis import RedisStreamsEventBus
from callcenter.consumers import CALL_EVENTS, CallEventConsumer
from callcenter.db import Database, utcnow
from callcenter.models import AgentStatus, Call, Lead
from callcenter.models.fleet import CampaignLease, DialerProcess
from callcenter.services.dialer_fleet import LOST_REASON
from callcenter.states import AgentState, CallOutcome, CallState, LeadState
from tests.integration.dialer.floor import AgentsFinishing, build_floor
from tests.support import wait_until as wait_for

LEASE_SECONDS = "2"
DIALER_OPTIONS = ("--tick", "0.2", "--sim-time-scale", "0.05")


def test_a_killed_dialer_is_taken_over_without_losing_or_redialing_a_lead(
    postgres_database: Database, postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    database = postgres_database  # emptied first: other tests' campaigns would be dialed too
    floor = build_floor(database, agents_count=5, leads_count=30)
    floor.bus.stop()  # the call events go over Redis to the consumer below
    consumers = RedisStreamsEventBus(redis_url, group="callcenter", block_ms=200)
    consumer = CallEventConsumer(database)
    for event_class in CALL_EVENTS:
        consumers.subscribe(event_class.TYPE, consumer)
    consumers.start()
    finishing = AgentsFinishing(database)
    finishing.start()
    first = _start_dialer(postgres_url, redis_url, tmp_path / "first")
    second: subprocess.Popen[bytes] | None = None
    try:
        wait_for(lambda: _holder(database) is not None, 30, "the first dialer to take the campaign")
        first_id = _holder(database)
        second = _start_dialer(postgres_url, redis_url, tmp_path / "second")
        wait_for(lambda: len(_dialers(database)) == 2, 30, "the second dialer to sign in")
        (second_id,) = set(_dialers(database)) - {first_id}
        wait_for(lambda: len(_open_calls(database)) >= 2, 60, "calls in flight on the first dialer")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = utcnow()
        in_flight = _open_calls(database)

        wait_for(lambda: _holder(database) == second_id, 30, "the second dialer to take over")
        try:
            wait_for(floor.settled, 180, "the second dialer to dial every lead")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {_floor_state(database)}; {finishing.errors}") from None
        second.send_signal(signal.SIGTERM)
        second.wait(60)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(10)
        finishing.stop()
        consumers.stop()

    output = (tmp_path / "second" / "dialer.log").read_text()
    assert second.returncode == 0, output
    assert "took over campaigns" in output, output
    calls, leads = floor.rows()
    by_id = {call.id: call for call in calls}

    # The calls the killed dialer had in flight ended with a clear outcome.
    assert in_flight and {call.dialer_id for call in in_flight} == {first_id}
    closed = [by_id[call.id] for call in in_flight]
    assert all(call.state is CallState.ENDED and call.outcome is not None for call in closed)
    lost = [call for call in closed if call.sip_reason == LOST_REASON]
    assert lost, [(call.id, call.outcome, call.sip_reason) for call in closed]
    assert all(call.outcome is CallOutcome.FAILED for call in lost)

    # Another dialer took over and went on dialing.
    assert any(call.dialer_id == second_id and call.dialed_at > killed_at for call in calls)
    assert {call.dialer_id for call in calls} == {first_id, second_id}

    # No lead lost, none dialed twice.
    assert all(call.state is CallState.ENDED for call in calls)
    assert not [lead.id for lead in leads if lead.state in (LeadState.NEW, LeadState.DIALING)]
    _assert_no_lead_dialed_twice_at_once(calls)
    assert len({(call.lead_id, call.attempt) for call in calls}) == len(calls)

    # No agent held for a call that is gone; the clean stop gave the campaign back.
    with database.sessions() as session:
        held = session.scalars(
            select(AgentStatus.agent_id).where(
                AgentStatus.state.in_([AgentState.RESERVED, AgentState.ON_CALL])
            )
        ).all()
        leases = session.scalars(select(CampaignLease)).all()
    assert held == []
    assert leases == []
    assert finishing.errors == []


def _assert_no_lead_dialed_twice_at_once(calls: list[Call]) -> None:
    spans: dict[int, list[tuple[datetime, datetime]]] = {}
    for call in calls:
        assert call.ended_at is not None
        spans.setdefault(call.lead_id, []).append((call.dialed_at, call.ended_at))
    for lead_id, lead_spans in spans.items():
        lead_spans.sort()
        for (_, ended), (dialed, _) in itertools.pairwise(lead_spans):
            assert dialed >= ended, f"lead {lead_id} dialed again while a call to it was up"


def _floor_state(database: Database) -> str:
    with database.sessions() as session:
        leads = session.execute(select(Lead.state, func.count()).group_by(Lead.state)).all()
        open_calls = session.execute(
            select(Call.id, Call.state, Call.dialer_id).where(Call.state != CallState.ENDED)
        ).all()
        agent_states = session.execute(
            select(AgentStatus.agent_id, AgentStatus.state, AgentStatus.current_call_id)
        ).all()
        leases = session.execute(select(CampaignLease.dialer_id, CampaignLease.expires_at)).all()
    return f"leads {leads}, open calls {open_calls}, agents {agent_states}, leases {leases}"


def _holder(database: Database) -> str | None:
    with database.sessions() as session:
        return session.scalar(select(CampaignLease.dialer_id))


def _dialers(database: Database) -> list[str]:
    with database.sessions() as session:
        return list(
            session.scalars(select(DialerProcess.id).where(DialerProcess.stopped_at.is_(None)))
        )


def _open_calls(database: Database) -> list[Call]:
    with database.sessions() as session:
        calls = list(session.scalars(select(Call).where(Call.state != CallState.ENDED)))
        session.expunge_all()
    return calls


def _start_dialer(database_url: str, redis_url: str, home: Path) -> subprocess.Popen[bytes]:
    home.mkdir(parents=True)
    env = {
        **os.environ,
        "CC_ENV": "test",
        "CC_DATABASE_URL": database_url,
        "CC_REDIS_URL": redis_url,
        "CC_INSTANCE_PATH": str(home),
        "CC_DIALER__CAMPAIGN_LEASE_SECONDS": LEASE_SECONDS,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "callcenter.cli", "dialer", *DIALER_OPTIONS],
        env=env,
        stdout=(home / "dialer.log").open("wb"),
        stderr=subprocess.STDOUT,
    )


pytestmark = pytest.mark.timeout(300)
