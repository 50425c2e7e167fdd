"""After the run: what the database holds, what went through the event
stream, what the clients received and what the processes logged."""

from __future__ import annotations

import json
import re
from array import array
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import func, select

from callcenter.bus_redis import DEAD_LETTERS, STREAM
from callcenter.db import Database
from callcenter.models import (
    AgentStateChange,
    AgentStatus,
    Call,
    CallStateChange,
    DialLevelChange,
    Disposition,
    Lead,
    ProcessedEvent,
    User,
)
from callcenter.states import CallState

LEVEL = re.compile(r'"level": "([A-Z]+)"')
MESSAGE = re.compile(r'"message": "((?:[^"\\]|\\.)*)"')
HEX_ID = re.compile(r"\b[0-9a-f]{32}\b|0x[0-9a-f]+")


@dataclass(frozen=True)
class CallRow:
    id: str
    lead_id: int
    attempt: int
    agent_id: int | None
    state: str
    outcome: str | None
    dialed_at: float
    answered_at: float | None
    connected_at: float | None
    ended_at: float | None


@dataclass
class StreamEvent:
    event_id: str
    type: str
    call_id: str | None
    agent_id: int | None
    occurred_at: float


@dataclass
class Observed:
    calls: dict[str, CallRow]
    ended_changes: Counter[str]  # call id -> call_state_changes rows into ENDED
    dispositions: set[str]
    applied: dict[tuple[str, str], float]  # (event id, handler) -> processed_at
    agent_changes: int  # agent_state_changes rows of the campaign
    agent_changes_by_agent: Counter[int]
    agent_states: Counter[str]
    lead_states: Counter[str]
    user_ids: dict[str, int]
    dial_levels: list[tuple[float, float, str]]  # at, level, reason
    events: list[StreamEvent]
    dead_letters: int
    clients: list[dict[str, Any]]
    supervisor_delays: dict[str, tuple[array[float], array[float]]] = field(default_factory=dict)
    log_problems: dict[str, list[str]] = field(default_factory=dict)
    log_warnings: dict[str, Counter[str]] = field(default_factory=dict)


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def from_database(database: Database, campaign_id: int) -> dict[str, Any]:
    with database.read_sessions() as session:
        rows = session.execute(
            select(
                Call.id, Call.lead_id, Call.attempt, Call.agent_id, Call.state, Call.outcome,
                Call.dialed_at, Call.answered_at, Call.connected_at, Call.ended_at,
            ).where(Call.campaign_id == campaign_id)
        ).all()  # fmt: skip
        calls = {
            row.id: CallRow(
                id=row.id,
                lead_id=row.lead_id,
                attempt=row.attempt,
                agent_id=row.agent_id,
                state=str(row.state),
                outcome=str(row.outcome) if row.outcome is not None else None,
                dialed_at=row.dialed_at.timestamp(),
                answered_at=_ts(row.answered_at),
                connected_at=_ts(row.connected_at),
                ended_at=_ts(row.ended_at),
            )
            for row in rows
        }
        ended_changes = Counter(
            session.scalars(
                select(CallStateChange.call_id).where(CallStateChange.to_state == CallState.ENDED)
            )
        )
        dispositions = set(session.scalars(select(Disposition.call_id)))
        applied = {
            (row.event_id, row.handler): row.processed_at.timestamp()
            for row in session.execute(
                select(ProcessedEvent.event_id, ProcessedEvent.handler, ProcessedEvent.processed_at)
            )
        }
        by_agent = Counter(
            session.scalars(
                select(AgentStateChange.agent_id).where(AgentStateChange.campaign_id == campaign_id)
            )
        )
        agent_states = Counter(
            str(state)
            for state in session.scalars(
                select(AgentStatus.state).where(AgentStatus.campaign_id == campaign_id)
            )
        )
        lead_states = Counter(
            {
                str(state): count
                for state, count in session.execute(
                    select(Lead.state, func.count())
                    .where(Lead.campaign_id == campaign_id)
                    .group_by(Lead.state)
                )
            }
        )
        user_ids = {name: uid for uid, name in session.execute(select(User.id, User.username))}
        dial_levels = [
            (row.at.timestamp(), float(row.dial_level), row.reason)
            for row in session.execute(
                select(DialLevelChange.at, DialLevelChange.dial_level, DialLevelChange.reason)
                .where(DialLevelChange.campaign_id == campaign_id)
                .order_by(DialLevelChange.at)
            )
        ]
    return {
        "calls": calls,
        "ended_changes": ended_changes,
        "dispositions": dispositions,
        "applied": applied,
        "agent_changes": sum(by_agent.values()),
        "agent_changes_by_agent": by_agent,
        "agent_states": agent_states,
        "lead_states": lead_states,
        "user_ids": user_ids,
        "dial_levels": dial_levels,
    }


def from_stream(redis_url: str) -> tuple[list[StreamEvent], int]:
    client: Any = redis.Redis.from_url(redis_url)
    events: list[StreamEvent] = []
    start = "-"
    while True:
        batch = client.xrange(STREAM, start, "+", count=10_000)
        for _entry_id, fields in batch:
            data = json.loads(fields[b"data"])
            events.append(
                StreamEvent(
                    event_id=data["event_id"],
                    type=data["type"],
                    call_id=data.get("call_id"),
                    agent_id=data.get("agent_id"),
                    occurred_at=datetime.fromisoformat(data["occurred_at"]).timestamp(),
                )
            )
        if len(batch) < 10_000:
            break
        start = f"({batch[-1][0].decode()}"
    return events, int(client.xlen(DEAD_LETTERS))


def supervisor_delays(
    clients: list[dict[str, Any]],
) -> dict[str, tuple[array[float], array[float]]]:
    merged: dict[str, tuple[array[float], array[float]]] = defaultdict(
        lambda: (array("d"), array("d"))
    )
    for client in clients:
        for kind, path in client["supervisor_delays"].items():
            raw = array("d")
            with open(path, "rb") as handle:
                raw.frombytes(handle.read())
            half = len(raw) // 2
            merged[kind][0].extend(raw[:half])
            merged[kind][1].extend(raw[half:])
    return dict(merged)


def from_logs(logs: dict[str, Path]) -> tuple[dict[str, list[str]], dict[str, Counter[str]]]:
    """Errors (level ERROR/CRITICAL, tracebacks) and warnings, by process."""
    problems: dict[str, list[str]] = {}
    warnings: dict[str, Counter[str]] = {}
    for label, path in logs.items():
        found: list[str] = []
        warned: Counter[str] = Counter()
        for line in path.read_text(errors="replace").splitlines():
            # Threads of one process can interleave their lines: read fields, not JSON.
            level = LEVEL.search(line)
            message = MESSAGE.search(line)
            text = message.group(1)[:160] if message else line[:160]
            if level and level.group(1) in ("ERROR", "CRITICAL"):
                found.append(f"{level.group(1)}: {text}")
            elif level and level.group(1) == "WARNING":
                warned[HEX_ID.sub("…", text)[:110]] += 1
            elif not level and ("Traceback" in line or "[ERROR]" in line or "[CRITICAL]" in line):
                found.append(line[:200])
        problems[label] = found
        warnings[label] = warned
    return problems, warnings
