"""Working a large lead list: penetration, recycle and reset timed.

    .venv/bin/python -m bench.lead_lists.run [--leads 200000] [--postgres URL]

Builds one list of LEADS leads (a third never dialed, the rest with one call
each; of those, a fifth contacted and a tenth of the contacts converted; half
of the dialed ones exhausted as busy or no answer), then times `penetration`,
`recycle` (the busy ones, 24 h) and `reset_exhausted`, each in its own
transaction, on a fresh SQLite file and, when named (or CC_TEST_DATABASE_URL
is set), a fresh PostgreSQL database."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from callcenter import migrate
from callcenter.db import Database, utcnow
from callcenter.models import (
    Appointment,
    Call,
    Campaign,
    Customer,
    Lead,
    LeadList,
    MeetingKind,
    User,
)
from callcenter.services import lead_lists
from callcenter.states import CallOutcome, LeadState, Role

CHUNK = 10_000


def build(database: Database, leads: int) -> int:
    now = utcnow()
    long_ago = now - timedelta(days=2)
    with database.unit_of_work() as session:
        campaign = Campaign(name="bench")
        agent = User(username="bench", full_name="Bench", password_hash="x", role=Role.AGENT)
        session.add_all([campaign, agent])
        session.flush()
        lead_list = LeadList(campaign_id=campaign.id, name="big.csv")
        session.add(lead_list)
        session.flush()
        ids = (campaign.id, agent.id, lead_list.id)
    campaign_id, agent_id, list_id = ids
    for start in range(0, leads, CHUNK):
        numbers = range(start, min(leads, start + CHUNK))
        with database.unit_of_work() as session:
            customers = [{"id": n + 1, "phone_e164": f"+98912{n:07d}"} for n in numbers]
            session.execute(insert(Customer), customers)
            rows, calls, appointments = [], [], []
            for n in numbers:
                dialed = n % 3 != 0
                exhausted = dialed and n % 2 == 0
                rows.append(
                    {
                        "id": n + 1,
                        "campaign_id": campaign_id,
                        "customer_id": n + 1,
                        "lead_list_id": list_id,
                        "state": LeadState.EXHAUSTED if exhausted else LeadState.NEW,
                        "attempts": 5 if exhausted else int(dialed),
                        "last_outcome": ("busy" if n % 4 == 0 else "no_answer")
                        if exhausted
                        else None,
                        "last_attempt_at": long_ago if dialed else None,
                        "created_at": long_ago,
                        "updated_at": long_ago,
                    }
                )
                if dialed:
                    contacted = n % 5 == 1
                    calls.append(
                        {
                            "id": f"b{n}",
                            "campaign_id": campaign_id,
                            "lead_id": n + 1,
                            "customer_id": n + 1,
                            "attempt": 1,
                            "phone_e164": f"+98912{n:07d}",
                            "dialed_at": long_ago,
                            "outcome": CallOutcome.ANSWERED if contacted else CallOutcome.BUSY,
                            "answered_at": long_ago if contacted else None,
                            "connected_at": long_ago if contacted else None,
                            "agent_id": agent_id if contacted else None,
                        }
                    )
                    if contacted and n % 50 == 1:
                        appointments.append(
                            {
                                "customer_id": n + 1,
                                "lead_id": n + 1,
                                "campaign_id": campaign_id,
                                "call_id": f"b{n}",
                                "booked_by_id": agent_id,
                                "owner_id": agent_id,
                                "starts_at": now,
                                "ends_at": now + timedelta(minutes=30),
                                "kind": MeetingKind.ONLINE,
                            }
                        )
            session.execute(insert(Lead), rows)
            session.execute(insert(Call), calls)
            if appointments:
                session.execute(insert(Appointment), appointments)
    return list_id


def timed(database: Database, label: str, work: Callable[[Any, LeadList], object]) -> None:
    with database.unit_of_work() as session:
        lead_list = session.get(LeadList, 1)
        assert lead_list is not None
        started = time.perf_counter()
        result = work(session, lead_list)
        session.flush()
    elapsed = time.perf_counter() - started
    print(f"  {label}: {elapsed * 1000:,.0f} ms -> {result}")


def run(url: str, leads: int, label: str) -> None:
    migrate.upgrade(url)
    database = Database(url)
    started = time.perf_counter()
    build(database, leads)
    print(f"{label}: {leads:,} leads built in {time.perf_counter() - started:.1f} s")
    timed(database, "penetration", lambda s, lst: lead_lists.penetration(s, [lst.id])[lst.id])
    timed(
        database,
        "recycle busy > 24 h",
        lambda s, lst: lead_lists.recycle(
            s, lst, outcome="busy", older_than_hours=24, actor=None, now=utcnow()
        ),
    )
    timed(
        database,
        "reset exhausted",
        lambda s, lst: lead_lists.reset_exhausted(s, lst, actor=None, now=utcnow()),
    )
    timed(database, "penetration again", lambda s, lst: lead_lists.penetration(s, [lst.id])[lst.id])
    database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--postgres", default=os.environ.get("CC_TEST_DATABASE_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{Path(tmp) / 'bench.db'}", args.leads, "sqlite")
    if args.postgres:
        admin_url = make_url(args.postgres.replace("postgresql://", "postgresql+psycopg://", 1))
        name = f"cc_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(
                admin_url.set(database=name).render_as_string(hide_password=False),
                args.leads,
                "postgresql",
            )
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
