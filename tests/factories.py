"""Small factories for test data, exposed as fixtures."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from callcenter.db import Database
from callcenter.models import Campaign, CampaignStatus, Customer, Lead, Team, User
from callcenter.services import accounts, agents, disposition_codes
from callcenter.states import Role

TEST_PASSWORD = "correct-horse-battery"
_sequence = itertools.count(1)


def make_user(session: Session, role: Role = Role.AGENT, **fields: Any) -> User:
    number = next(_sequence)
    user, _ = accounts.create_user(
        session,
        username=fields.pop("username", f"{role.value}{number}"),
        full_name=fields.pop("full_name", f"Test {role.value} {number}"),
        role=role,
        password=fields.pop("password", TEST_PASSWORD),
        actor=None,
        **fields,
    )
    session.flush()
    return user


def make_team(session: Session, name: str | None = None) -> Team:
    return accounts.get_or_create_team(session, name or f"team-{next(_sequence)}")


def make_campaign(session: Session, **fields: Any) -> Campaign:
    fields.setdefault("name", f"campaign-{next(_sequence)}")
    fields.setdefault("status", CampaignStatus.ACTIVE)
    campaign = Campaign(**fields)
    session.add(campaign)
    session.flush()
    disposition_codes.seed_defaults(session, campaign)
    return campaign


def make_customer(session: Session, **fields: Any) -> Customer:
    fields.setdefault("phone_e164", f"+98912{next(_sequence):07d}")
    fields.setdefault("first_name", "Sara")
    fields.setdefault("last_name", "Ahmadi")
    fields.setdefault("title", "Ms")
    customer = Customer(**fields)
    session.add(customer)
    session.flush()
    return customer


def make_lead(
    session: Session, campaign: Campaign, customer: Customer | None = None, **fields: Any
) -> Lead:
    lead = Lead(
        campaign_id=campaign.id, customer_id=(customer or make_customer(session)).id, **fields
    )
    session.add(lead)
    session.flush()
    return lead


def log_in(client: FlaskClient, username: str, password: str = TEST_PASSWORD) -> Any:
    return client.post("/login", data={"username": username, "password": password})


@pytest.fixture
def user_factory() -> Callable[..., User]:
    return make_user


@pytest.fixture
def login() -> Callable[..., Any]:
    return log_in


@dataclass
class SmallFloor:
    """A campaign with its leads and one agent ready on it."""

    campaign_id: int
    agent_id: int
    lead_ids: list[int]


def make_small_floor(database: Database, leads: int = 1) -> SmallFloor:
    with database.unit_of_work() as session:
        team = make_team(session)
        campaign = make_campaign(session, teams=[team])
        lead_ids = [make_lead(session, campaign).id for _ in range(leads)]
        agent_id = make_user(session, Role.AGENT, team=team).id
        agents.join_campaign(session, agent_id, campaign.id, "sip:1001@127.0.0.1")
        agents.go_ready(session, agent_id)
        return SmallFloor(campaign.id, agent_id, lead_ids)
