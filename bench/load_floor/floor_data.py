"""The bench's data: a fresh PostgreSQL database, migrated, with a team of
agents, their supervisors, a predictive campaign open around the clock on
the built-in script, and a lead list imported through the lead importer."""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from callcenter import migrate
from callcenter.calling_windows import WEEKDAYS
from callcenter.db import Database
from callcenter.services import accounts, campaigns, lead_import, scripts_catalog
from callcenter.states import Role

PASSWORD = "bench-floor-password-1"
ALWAYS_OPEN = {"weekly": {day: [{"start": "00:00", "end": "24:00"}] for day in WEEKDAYS}}
FIRST = ["علی", "مریم", "رضا", "زهرا", "Sara", "John", "حسین", "فاطمه"]
LAST = ["احمدی", "کریمی", "رضایی", "Nouri", "Smith", "موسوی"]


@dataclass(frozen=True)
class FloorData:
    database_url: str
    campaign_id: int
    agents: list[str]
    supervisors: list[str]
    leads: int
    ring_timeout_s: int


@contextlib.contextmanager
def fresh_database(
    server_url: str, *, keep: bool = False, prefix: str = "cc_load"
) -> Iterator[str]:
    """A new database on the server, named `prefix`_..., dropped
    (connections and all) on exit unless `keep`."""
    admin_url = make_url(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        if keep:
            print(f"database {name} kept")
        else:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def lead_csv(rows: int, seed: int = 11) -> bytes:
    rng = random.Random(seed)
    lines = ["title,first_name,last_name,mobile,city"]
    for index in range(rows):
        title = rng.choice(["آقای", "خانم", "Mr", "Ms"])
        number = f"09{rng.choice(['12', '35', '19', '01'])}{index:07d}"
        lines.append(f"{title},{rng.choice(FIRST)},{rng.choice(LAST)},{number},تهران")
    return ("\n".join(lines) + "\n").encode()


def offset_room_ids(database: Database) -> None:
    """Start user and campaign ids far from 1. Socket.IO rooms are named by
    these ids, and every process on this Redis server, whatever its db
    number, shares the message queue's pub/sub channel: a test elsewhere
    emitting to `agent:1` would otherwise reach this bench's agent 1."""
    base = random.randrange(10_000_000, 90_000_000, 100_000)
    with database.unit_of_work() as session:
        for table in ("users", "campaigns"):
            session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {base})"))


def build(
    database_url: str, *, agents: int, supervisors: int, leads: int, ring_timeout_s: int
) -> FloorData:
    migrate.upgrade(database_url)
    database = Database(database_url)
    run = uuid.uuid4().hex[:4]
    try:
        offset_room_ids(database)
        with database.unit_of_work() as session:
            versions = {v.locale: v for v in scripts_catalog.ensure_builtin_scripts(session)}
            team = accounts.get_or_create_team(session, f"floor-{run}")
            agent_names = []
            for number in range(1, agents + 1):
                user, _ = accounts.create_user(
                    session,
                    username=f"agent{number:03d}_{run}",
                    full_name=f"Agent {number}",
                    role=Role.AGENT,
                    actor=None,
                    password=PASSWORD,
                    team=team,
                    locale="fa" if number % 2 else "en",
                )
                agent_names.append(user.username)
            supervisor_names = []
            for number in range(1, supervisors + 1):
                user, _ = accounts.create_user(
                    session,
                    username=f"super{number:02d}_{run}",
                    full_name=f"Supervisor {number}",
                    role=Role.SUPERVISOR,
                    actor=None,
                    password=PASSWORD,
                    locale="en",
                )
                user.supervised = [team]
                supervisor_names.append(user.username)
            campaign = campaigns.create_campaign(
                session,
                actor=None,
                teams=[team],
                active=True,
                name=f"Load floor {run}",
                company_name="Contoso",
                product="accounting software",
                dial_mode="predictive",
                script_version_id=versions["fa"].id,
                calling_windows=ALWAYS_OPEN,
                ring_timeout_seconds=ring_timeout_s,
            )
            campaign_id = campaign.id
        started = time.perf_counter()
        with database.unit_of_work() as session:
            lead_list = lead_import.import_leads(
                session, lead_csv(leads), campaign_id=campaign_id, filename="load-floor.csv"
            )
            imported = lead_list.rows_imported
        print(
            f"  {imported} leads imported through the importer in "
            f"{time.perf_counter() - started:.1f} s"
        )
    finally:
        database.dispose()
    return FloorData(
        database_url=database_url,
        campaign_id=campaign_id,
        agents=agent_names,
        supervisors=supervisor_names,
        leads=imported,
        ring_timeout_s=ring_timeout_s,
    )
