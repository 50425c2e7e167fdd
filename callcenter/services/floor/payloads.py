"""What the floor sends: a campaign's snapshot with today's rates and its
abandon window, and the rows of calls and abandons."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from callcenter import metrics
from callcenter.live_counters import Totals
from callcenter.services.floor.campaign_meta import CampaignMeta
from callcenter.states import AgentState

# The share of the cap at which the floor starts warning.
NEAR_CAP_SHARE = 0.8
# Agent time counted per state (occupancy uses on_call, wrap_up and ready).
STATE_SECONDS = {state: f"t_{state.value}" for state in AgentState}
CALL_STATES_SHOWN = ("dialing", "ringing", "answered", "connected")


def campaign_payload(
    meta: CampaignMeta,
    raw: Totals,
    window: Totals,
    *,
    agents: Mapping[int, Mapping[str, Any]],
    calls: Iterable[Mapping[str, Any]],
    agent_totals: Mapping[int, Totals],
    pause_limits: Mapping[str, int | None],
    now: datetime,
) -> dict[str, Any]:
    by_state = {state.value: 0 for state in AgentState}
    over_limit = 0
    for agent in agents.values():
        by_state[agent["state"]] = by_state.get(agent["state"], 0) + 1
        if _pause_over_limit(agent, pause_limits, now):
            over_limit += 1
    call_states = {state: 0 for state in CALL_STATES_SHOWN}
    for call in calls:
        call_states[call["state"]] = call_states.get(call["state"], 0) + 1
    window_rate = metrics.ratio(window.get("abandoned", 0), window.get("live_answers", 0))
    cap = meta.abandon_cap / 100
    return {
        "campaign_id": meta.id,
        "name": meta.name,
        "status": meta.status,
        "dial_mode": meta.dial_mode,
        "abandon_cap": meta.abandon_cap,
        "window_days": meta.window_days,
        "dial_level": meta.dial_level,
        "pacer_reason": meta.pacer_reason,
        "hopper_depth": None,
        "dialable_leads": meta.dialable_leads,
        "calling_hours": meta.calling_hours,
        "agents": by_state,
        "paused_over_limit": over_limit,
        "calls": {
            "dialing": call_states["dialing"],
            "ringing": call_states["ringing"],
            "waiting": call_states["answered"],
            "live": call_states["connected"],
        },
        "raw": {name: round(value, 3) for name, value in raw.items()},
        "today": rates(raw),
        "window": {
            "live_answers": int(window.get("live_answers", 0)),
            "abandoned": int(window.get("abandoned", 0)),
            "abandon_rate": window_rate,
            "level": _cap_level(window_rate, cap),
        },
        "agent_totals": {
            str(aid): {
                "calls": int(t.get("calls", 0)),
                "appointments": int(t.get("appointments", 0)),
            }
            for aid, t in agent_totals.items()
        },
        "at": now.isoformat(),
    }


def rates(raw: Mapping[str, float]) -> dict[str, Any]:
    """Today's headline numbers from the raw totals, with the metrics module's
    definitions (ratio, occupancy, AHT)."""

    def count(name: str) -> int:
        return round(raw.get(name, 0))

    talk, wrap_up = raw.get("talk_s", 0.0), raw.get("wrap_up_s", 0.0)
    return {
        "dials": count("dials"),
        "live_answers": count("live_answers"),
        "contacts": count("contacts"),
        "abandoned": count("abandoned"),
        "appointments": count("appointments"),
        "machines": count("machines"),
        "inbound": count("inbound"),
        "inbound_answered": count("inbound_answered"),
        "inbound_missed": count("inbound_missed"),
        "abandon_rate": metrics.ratio(count("abandoned"), count("live_answers")),
        "contact_rate": metrics.ratio(count("live_answers"), count("dials")),
        "conversion_rate": metrics.ratio(count("appointments"), count("contacts")),
        "service_level": metrics.ratio(count("connected_sl"), count("live_answers")),
        "connect_wait": metrics.ratio(raw.get("connect_wait_s", 0.0), count("connect_wait_n")),
        "aht": metrics.average_handle_time(talk, wrap_up, count("handled")),
        "occupancy": metrics.occupancy(
            raw.get(STATE_SECONDS[AgentState.ON_CALL], 0.0),
            raw.get(STATE_SECONDS[AgentState.WRAP_UP], 0.0),
            raw.get(STATE_SECONDS[AgentState.READY], 0.0),
        ),
    }


def _cap_level(rate: float | None, cap: float) -> str:
    if rate is None or cap <= 0:
        return "over" if rate and cap <= 0 else "ok"
    if rate >= cap:
        return "over"
    return "near" if rate >= cap * NEAR_CAP_SHARE else "ok"


def _pause_over_limit(
    agent: Mapping[str, Any], limits: Mapping[str, int | None], now: datetime
) -> bool:
    if agent.get("state") != AgentState.PAUSED.value:
        return False
    limit = limits.get(agent.get("reason") or "")
    return bool(limit) and (now - from_iso(agent["since"])) > timedelta(minutes=limit or 0)


def add_open_state_time(
    raw: Totals, agents: Iterable[Mapping[str, Any]], day_start: datetime, now: datetime
) -> None:
    """The time agents have spent in their current state so far today."""
    for agent in agents:
        since = max(from_iso(agent["since"]), day_start)
        if since < now:
            name = STATE_SECONDS[AgentState(agent["state"])]
            raw[name] = raw.get(name, 0.0) + (now - since).total_seconds()


def call_row(call: Mapping[str, Any]) -> dict[str, Any]:
    keys = (
        "call_id", "campaign_id", "state", "agent_id", "customer", "step", "dialed_at",
        "answered_at", "connected_at", "ended_at", "outcome", "amd_result", "amd_decision_ms",
    )  # fmt: skip
    return {key: call.get(key) for key in keys}


def abandon_row(call: Mapping[str, Any]) -> dict[str, Any]:
    wait = None
    if call.get("answered_at") and call.get("ended_at"):
        wait = (from_iso(call["ended_at"]) - from_iso(call["answered_at"])).total_seconds()
    return {
        "call_id": call["call_id"],
        "campaign_id": call["campaign_id"],
        "customer": call.get("customer"),
        "at": call.get("ended_at"),
        "wait": wait,
    }


def from_iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


def full_name(title: str | None, first: str | None, last: str | None) -> str:
    return " ".join(part for part in (title, first, last) if part)


def to_iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
