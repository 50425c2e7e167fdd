"""Proposing meeting slots across a team's calendars.

    .venv/bin/python -m bench.slot_proposal.run [--teams 1,10,50,200] [--meetings 30]
        [--repeat 200] [--sqlite PATH]

For teams of N salespeople, each with M meetings already booked in the next
two weeks (random free slots), times the two slots the agent offers
(`propose_slots_across`) and the "other times" list (`free_slots_across`,
24 slots), in memory; then the whole service call (`appointments.propose`:
the team, its calendars read from a migrated SQLite file, the proposal) for
the largest team. Prints the median and the 99th percentile."""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from callcenter import migrate
from callcenter.db import Database
from callcenter.models import (
    Appointment,
    Call,
    Campaign,
    Customer,
    Lead,
    MeetingKind,
    Team,
    User,
    campaign_teams,
)
from callcenter.scheduling import SlotRules, free_slots, free_slots_across, propose_slots_across
from callcenter.services import appointments
from callcenter.states import CallState, Role

NOW = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)  # a Saturday morning in Tehran


def calendars(team: int, meetings: int, rng: random.Random) -> dict[int, list[Any]]:
    rules = SlotRules()
    grid = free_slots(NOW, (), rules, limit=2000)
    busy: dict[int, list[Any]] = {}
    for owner in range(1, team + 1):
        taken: list[Any] = []
        for slot in rng.sample(grid, len(grid)):
            if len(taken) == meetings:
                break
            if all(slot.end <= start or slot.start >= end for start, end in taken):
                taken.append((slot.start, slot.end))
        busy[owner] = taken
    return busy


def timed(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def in_memory(teams: list[int], meetings: int, repeat: int) -> None:
    rng = random.Random(7)
    print(f"in memory, {meetings} meetings per salesperson, {repeat} runs each")
    print("salespeople  propose p50/p99 ms  24 free times p50/p99 ms")
    for team in teams:
        busy = calendars(team, meetings, rng)
        propose = timed(lambda busy=busy: propose_slots_across(NOW, busy), repeat)
        listed = timed(lambda busy=busy: free_slots_across(NOW, busy, limit=24), repeat)
        times = f"{propose[0]:>8.2f} / {propose[1]:<8.2f}  {listed[0]:>8.2f} / {listed[1]:.2f}"
        print(f"{team:>11}  {times}")


def through_the_service(path: Path, team: int, meetings: int, repeat: int) -> None:
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    database = Database(url)
    rng = random.Random(11)
    busy = calendars(team, meetings, rng)
    with database.sessions() as session:
        crew = Team(name="closers")
        session.add(crew)
        campaign = Campaign(name="bench", status="active")
        session.add(campaign)
        session.flush()
        session.execute(insert(campaign_teams), [{"campaign_id": campaign.id, "team_id": crew.id}])
        agent = User(username="opener", full_name="Opener", password_hash="-", role=Role.AGENT,
                     team_id=crew.id)  # fmt: skip
        session.add(agent)
        customer = Customer(phone_e164="+989120000001")
        session.add(customer)
        session.flush()
        lead = Lead(campaign_id=campaign.id, customer_id=customer.id)
        session.add(lead)
        session.flush()
        call = Call(
            id=uuid.uuid4().hex,
            campaign_id=campaign.id,
            lead_id=lead.id,
            customer_id=customer.id,
            agent_id=agent.id,
            attempt=1,
            phone_e164=customer.phone_e164,
            state=CallState.CONNECTED,
            dialed_at=NOW,
        )
        session.add(call)
        owners = {}
        for number in busy:
            person = User(username=f"closer{number}", full_name=f"Closer {number}",
                          password_hash="-", role=Role.AGENT, team_id=crew.id,
                          is_salesperson=True)  # fmt: skip
            session.add(person)
            owners[number] = person
        session.flush()
        rows = [
            {
                "customer_id": customer.id,
                "campaign_id": campaign.id,
                "booked_by_id": agent.id,
                "owner_id": owners[number].id,
                "starts_at": start,
                "ends_at": end,
                "kind": MeetingKind.ONLINE,
                "location": "",
                "meeting_link": "",
                "contact_number": "",
                "status": "booked",
                "outcome_note": "",
                "created_at": NOW,
            }
            for number, taken in busy.items()
            for start, end in taken
        ]
        session.execute(insert(Appointment), rows)
        session.commit()
        call_id = call.id
    with database.sessions() as session:
        row = session.get(Call, call_id)
        assert row is not None
        offered = appointments.propose(session, row, now=NOW)
        assert len(offered) == 2
        p50, p99 = timed(lambda: appointments.propose(session, row, now=NOW), repeat)
    print(
        f"appointments.propose on SQLite, {team} salespeople x {meetings} meetings "
        f"({len(rows)} rows): p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--teams", default="1,10,50,200")
    parser.add_argument("--meetings", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--sqlite", type=Path)
    args = parser.parse_args()
    teams = [int(size) for size in args.teams.split(",")]
    in_memory(teams, args.meetings, args.repeat)
    with tempfile.TemporaryDirectory() as scratch:
        path = args.sqlite or Path(scratch) / "bench.sqlite"
        through_the_service(path, max(teams), args.meetings, max(20, args.repeat // 10))


if __name__ == "__main__":
    main()
