"""Migration 0010_codes on a database that already has campaigns, calls and
dispositions (SQLite file and PostgreSQL): every campaign gets the default
dispositions, old disposition rows their category, the install its default
pause codes (a pause code added before is kept as it was)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, Table, create_engine, insert, make_url, text
from sqlalchemy.orm import Session

from callcenter import migrate
from callcenter.db import Database, utcnow, with_installed_driver
from callcenter.models import Call, Campaign, CampaignStatus, Customer, Lead, User
from callcenter.states import Role
from tests.conftest import postgres_admin_url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    admin_url = make_url(with_installed_driver(postgres_admin_url()))
    name = f"cc_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(postgres_admin_url()).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _old_floor(session: Session) -> None:
    """Rows as the revision before 0010_codes knew them: two campaigns, a
    call closed as not_interested and one the wrap-up timed out, and a pause
    code a demo load made."""
    agent_id = _insert_as_the_schema_was(
        session, User, username="old_agent", full_name="Old", role=Role.AGENT, password_hash="-"
    )
    first_id = _insert_as_the_schema_was(
        session, Campaign, name="Old one", status=CampaignStatus.ACTIVE
    )
    _insert_as_the_schema_was(session, Campaign, name="Old two", status=CampaignStatus.PAUSED)
    customer = Customer(phone_e164="+989120000001")
    session.add(customer)
    session.flush()
    lead = Lead(campaign_id=first_id, customer_id=customer.id)
    session.add(lead)
    session.flush()
    for number, code in enumerate(("not_interested", "wrap_up_timeout"), start=1):
        call_id = _insert_as_the_schema_was(
            session,
            Call,
            id=f"old{number}",
            campaign_id=first_id,
            lead_id=lead.id,
            customer_id=customer.id,
            agent_id=agent_id,
            attempt=number,
            phone_e164=customer.phone_e164,
            dialed_at=utcnow(),
        )
        session.execute(
            text(
                "INSERT INTO dispositions (call_id, code, notes, agent_id, created_at) "
                "VALUES (:call, :code, '', :agent, :at)"
            ),
            {"call": call_id, "code": code, "agent": agent_id, "at": utcnow()},
        )
    session.execute(
        text(
            "INSERT INTO pause_reasons (code, label_fa, label_en, limit_minutes, is_active, "
            "is_system) VALUES ('break', 'چای', 'Tea', 10, true, false)"
        )
    )


def _insert_as_the_schema_was(session: Session, model: Any, **values: Any) -> Any:
    """A row of `model` with only the columns its table had at this revision
    (later migrations add columns the model already maps), each left out
    filled with the model's own default."""
    table = Table(model.__tablename__, MetaData(), autoload_with=session.connection())
    row: dict[str, Any] = {}
    for column in table.columns:
        mapped = model.__table__.columns.get(column.name)
        default = mapped.default if mapped is not None else None
        if column.name in values:
            row[column.name] = values[column.name]
        elif default is not None and default.is_scalar:
            row[column.name] = default.arg
        elif default is not None and default.is_callable:
            row[column.name] = default.arg(None)
    return session.execute(insert(table).values(row).returning(table.c.id)).scalar_one()


def _revision_before_codes(url: str) -> str:
    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    before = script.get_revision("0010_codes").down_revision
    assert isinstance(before, str)
    return before


def test_0010_fills_codes_for_what_is_there(empty_url: str) -> None:
    migrate.upgrade(empty_url, _revision_before_codes(empty_url))
    database = Database(empty_url)
    try:
        with database.unit_of_work() as session:
            _old_floor(session)
        migrate.upgrade(empty_url)
        with database.engine.connect() as connection:
            per_campaign = connection.execute(
                text(
                    "SELECT c.name, count(d.id) FROM campaigns c JOIN campaign_dispositions d "
                    "ON d.campaign_id = c.id GROUP BY c.name ORDER BY c.name"
                )
            ).all()
            categories = dict(
                connection.execute(text("SELECT code, category FROM dispositions")).tuples().all()
            )
            pauses = {
                row.code: row
                for row in connection.execute(
                    text(
                        "SELECT code, label_en, limit_minutes, is_paid, position "
                        "FROM pause_reasons WHERE is_system = false"
                    )
                )
            }
        assert per_campaign == [("Old one", 8), ("Old two", 8)]
        assert categories == {"not_interested": "final", "wrap_up_timeout": "retry"}
        assert set(pauses) == {"break", "lunch", "training", "meeting", "technical"}
        assert (pauses["break"].label_en, pauses["break"].limit_minutes) == ("Tea", 10)
        assert not pauses["lunch"].is_paid and pauses["training"].is_paid
        assert sorted(pauses, key=lambda code: pauses[code].position)[:2] == ["break", "lunch"]
    finally:
        database.dispose()
