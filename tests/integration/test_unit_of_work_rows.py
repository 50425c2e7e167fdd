"""What one transaction keeps of the rows it read: rows it loaded stay in its
identity map until it ends (no second read for session.get), and an agent's
state row it locked is read once, afresh, and read again after a savepoint
rolled back."""

from __future__ import annotations

import gc

from sqlalchemy import select

from callcenter.db import Database
from callcenter.models import AgentStatus, Campaign
from callcenter.services import agents
from callcenter.states import AgentState, Role
from tests.factories import make_campaign, make_user
from tests.support import statements


def test_a_row_read_and_dropped_is_not_read_again_in_the_same_transaction(
    database: Database,
) -> None:
    with database.unit_of_work() as session:
        campaign_id = make_campaign(session).id
    with database.sessions() as session, statements(database) as seen:
        session.scalar(select(Campaign).where(Campaign.id == campaign_id))  # dropped at once
        again = session.get(Campaign, campaign_id)
        assert again is not None and again.id == campaign_id
        del again
        session.commit()  # the transaction lets go of what it held
        gc.collect()
        after = session.get(Campaign, campaign_id)
        assert after is not None
    campaign_reads = [s for s in seen if s.startswith("SELECT") and "FROM campaigns" in s]
    assert len(campaign_reads) == 2


def test_a_locked_agent_row_is_read_once_per_transaction_and_afresh(database: Database) -> None:
    with database.unit_of_work() as session:
        agent_id = make_user(session, role=Role.AGENT).id
        agents.status_of(session, agent_id)
    with database.sessions() as session, statements(database) as seen:
        first = agents.status_of(session, agent_id, lock=True)
        second = agents.status_of(session, agent_id, lock=True)
        assert first is second
        savepoint = session.begin_nested()
        agents.status_of(session, agent_id, lock=True)
        savepoint.rollback()
        agents.status_of(session, agent_id, lock=True)  # its lock may be gone: locked again
        session.rollback()
    locking = [s for s in seen if "FROM agent_status" in s]
    assert len(locking) == 2


def test_a_flush_keeps_the_agent_row_locked(database: Database) -> None:
    """A flush ends a transaction of its own inside the session's: the row
    stays locked (an agent's two state changes of one connect read it once)."""
    with database.unit_of_work() as session:
        agent_id = make_user(session, role=Role.AGENT).id
        agents.status_of(session, agent_id)
    with database.sessions() as session, statements(database) as seen:
        first = agents.status_of(session, agent_id, lock=True)
        first.log_out_after_call = True
        session.flush()
        assert agents.status_of(session, agent_id, lock=True) is first
        session.rollback()
    locking = [s for s in seen if s.startswith("SELECT") and "FROM agent_status" in s]
    assert len(locking) == 1


def test_locking_an_agent_row_read_earlier_sees_what_another_transaction_committed(
    postgres_database: Database,
) -> None:
    database = postgres_database
    with database.unit_of_work() as session:
        agent_id = make_user(session, role=Role.AGENT).id
        agents.status_of(session, agent_id)
    with database.sessions() as reader:
        before = agents.status_of(reader, agent_id)
        assert before.state is AgentState.LOGGED_OUT
        reader.commit()  # keeps the object; the next read is a new transaction
        with database.unit_of_work() as writer:
            writer.get(AgentStatus, agent_id).state = AgentState.PAUSED  # type: ignore[union-attr]
        locked = agents.status_of(reader, agent_id, lock=True)
        assert locked.state is AgentState.PAUSED
        reader.rollback()
