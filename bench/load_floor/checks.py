"""Nothing lost, nothing twice: the database, the event stream and what the
clients received must tell the same story, call by call."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from bench.load_floor.gather import Observed

CALL_HANDLER = "calls"
APPLIED_TYPES = ("call.dialing", "call.ringing", "call.answered", "call.connected", "call.ended")


@dataclass
class Check:
    name: str
    bad: int
    detail: str
    examples: list[str] = field(default_factory=list)


def _check(name: str, bad: list[str], detail: str) -> Check:
    return Check(name, len(bad), detail, bad[:3])


def run(observed: Observed) -> list[Check]:
    return [
        *_stream_against_rows(observed),
        *_calls_closed(observed),
        *_agents_saw_their_calls(observed),
        *_supervisors_saw_the_floor(observed),
        *_leads_and_agents_settled(observed),
    ]


def _stream_against_rows(observed: Observed) -> list[Check]:
    per_call: dict[str, Counter[str]] = defaultdict(Counter)
    for event in observed.events:
        if event.call_id is not None:
            per_call[event.call_id][event.type] += 1
    calls = observed.calls
    not_in_db = [
        cid for cid, types in per_call.items() if types["call.dialing"] and cid not in calls
    ]
    twice = [
        f"{cid} {kind} x{n}"
        for cid, types in per_call.items()
        for kind, n in types.items()
        if kind in APPLIED_TYPES and n > 1
    ]
    no_end = [cid for cid in calls if per_call[cid]["call.ended"] != 1]
    unapplied = [
        f"{e.type} {e.event_id} (call {e.call_id})"
        for e in observed.events
        if e.type in APPLIED_TYPES and (e.event_id, CALL_HANDLER) not in observed.applied
    ]
    connect_lost = [
        f"{e.call_id}: call.connected to {e.agent_id}, the row has "
        f"{calls[e.call_id].agent_id if e.call_id in calls else None} "
        f"connected_at {calls[e.call_id].connected_at if e.call_id in calls else None}"
        for e in observed.events
        if e.type == "call.connected"
        and (
            e.call_id not in calls
            or calls[e.call_id].connected_at is None
            or calls[e.call_id].agent_id != e.agent_id
        )
    ]
    applied_types = sum(1 for e in observed.events if e.type in APPLIED_TYPES)
    return [
        _check("call.dialing on the stream without a calls row", not_in_db, f"{len(calls)} rows"),
        _check("a call event published twice for one call", twice, f"{len(per_call)} calls"),
        _check("calls without exactly one call.ended on the stream", no_end, ""),
        _check(
            "call events not applied by the calls service",
            unapplied,
            f"{applied_types} call events on the stream",
        ),
        _check("call.connected not in its calls row (agent, connected_at)", connect_lost, ""),
        _check(
            "events dead-lettered",
            [f"{observed.dead_letters} in cc:events:dead"] if observed.dead_letters else [],
            "",
        ),
    ]


def _calls_closed(observed: Observed) -> list[Check]:
    calls = observed.calls.values()
    open_calls = [f"{c.id} {c.state}" for c in calls if c.state != "ended"]
    end_rows = [
        f"{c.id} x{observed.ended_changes[c.id]}"
        for c in calls
        if observed.ended_changes[c.id] != 1
    ]
    connected = [c for c in calls if c.connected_at is not None]
    undisposed = [c.id for c in connected if c.id not in observed.dispositions]
    return [
        _check("calls not ended", open_calls, ""),
        _check("calls without exactly one move to ended", end_rows, ""),
        _check("connected calls without a disposition", undisposed, f"{len(connected)} connected"),
    ]


def _agents_saw_their_calls(observed: Observed) -> list[Check]:
    pops: dict[str, list[int]] = defaultdict(list)
    ended: Counter[str] = Counter()
    wrapped: Counter[str] = Counter()
    state_events = updates = 0
    for client in observed.clients:
        for name, agent in client["agents"].items():
            agent_id = observed.user_ids[name]
            for call_id, _at in agent["pops"]:
                pops[call_id].append(agent_id)
            ended.update(call_id for call_id, _at in agent["ended"])
            wrapped.update(call_id for call_id, _at in agent["wrapped"])
            state_events += agent["state_events"]
            updates += agent["row_updates"]
    connected = {c.id: c for c in observed.calls.values() if c.connected_at is not None}
    wrong_pops = [
        f"{cid}: popped at {agents}, the call row says "
        f"{connected[cid].agent_id if cid in connected else 'not connected'}"
        for cid, agents in pops.items()
        if cid not in connected or agents != [connected[cid].agent_id]
    ]
    no_pop = [cid for cid in connected if cid not in pops]
    bad_end = [f"{cid} x{ended[cid]}" for cid in connected if ended[cid] != 1]
    bad_wrap = [f"{cid} x{wrapped[cid]}" for cid in connected if wrapped[cid] != 1]
    joins = sum(len(client["agents"]) for client in observed.clients)
    expected_states = observed.agent_changes + joins
    return [
        _check("connected calls that popped no screen", no_pop, f"{len(connected)} connected"),
        _check("pops twice, at another agent, or for a call not connected", wrong_pops, ""),
        _check("connected calls whose agent did not get call_ended once", bad_end, ""),
        _check("connected calls whose agent did not get wrap_up_done once", bad_wrap, ""),
        _check(
            "agent.state_changed to the agents themselves: changes received vs rows + joins",
            [f"{state_events} received, {expected_states} expected"]
            if state_events != expected_states
            else [],
            f"{expected_states} expected; and {updates} updates of a state's row",
        ),
    ]


def _supervisors_saw_the_floor(observed: Observed) -> list[Check]:
    all_calls = set(observed.calls)
    missing_dialing: list[str] = []
    missing_ended: list[str] = []
    duplicates: list[str] = []
    state_counts: list[str] = []
    joins = sum(len(client["agents"]) for client in observed.clients)
    expected_states = observed.agent_changes + joins
    supervisors = 0
    for client in observed.clients:
        for name, seen in client["supervisors"].items():
            supervisors += 1
            # Coalesced deltas carry a call's latest state: a call that was
            # dialed and answered within a second is never seen 'dialing'.
            for state, bucket in (("any", missing_dialing), ("ended", missing_ended)):
                lost = all_calls - set(seen["calls_seen"].get(state, seen["calls_seen"]["dialing"]))
                bucket.extend(f"{name}: {cid}" for cid in sorted(lost))
            if seen["call_duplicates"] or seen["state_duplicates"]:
                example = seen["duplicate_examples"][:1]
                duplicates.append(
                    f"{name}: {seen['call_duplicates']} call rows, "
                    f"{seen['state_duplicates']} agent states twice {example}"
                )
            # Coalesced: an agent's states within one second arrive as the last.
            if seen["state_events"] > expected_states:
                state_counts.append(f"{name}: {seen['state_events']} of {expected_states}")
    detail = f"{supervisors} supervisors x {len(all_calls)} calls"
    return [
        _check("calls a supervisor never got", missing_dialing, detail),
        _check("call 'ended' a supervisor never got", missing_ended, detail),
        _check("pushes a supervisor got twice", duplicates, ""),
        _check(
            "agent states per supervisor > rows + joins",
            state_counts,
            f"{expected_states} expected each",
        ),
    ]


def _leads_and_agents_settled(observed: Observed) -> list[Check]:
    attempts = Counter((c.lead_id, c.attempt) for c in observed.calls.values())
    reused = [f"lead {lead} attempt {n}" for (lead, n), k in attempts.items() if k > 1]
    overlapping = []
    by_lead: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for call in observed.calls.values():
        by_lead[call.lead_id].append((call.dialed_at, call.ended_at or float("inf")))
    for lead_id, spans in by_lead.items():
        spans.sort()
        if any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans)):
            overlapping.append(f"lead {lead_id}")
    stuck = [f"{n} {state}" for state, n in observed.agent_states.items() if state != "logged_out"]
    dialing = observed.lead_states.get("dialing", 0)
    return [
        _check("a lead attempt number used twice", reused, ""),
        _check("a lead dialed while its previous call was up", overlapping, ""),
        _check("leads left in 'dialing'", [f"{dialing} leads"] if dialing else [], ""),
        _check("agents not logged out at the end", stuck, ""),
    ]
