"""Lead search for agents: by name or by number (either of the customer's
numbers, typed in any common form), only among the leads of the agent's
team's campaigns."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from callcenter.errors import N_, InvalidInput
from callcenter.leadfiles.phones import InvalidPhone, normalize_phone
from callcenter.leadfiles.text import normalize_text
from callcenter.models import Campaign, Customer, Lead
from callcenter.scheduling import format_phone
from callcenter.services import agents, customer_details, manual_dial, workstation

MAX_RESULTS = 25
MIN_LETTERS = 2
MAX_QUERY = 80


def search(session: Session, agent_id: int, query: Any) -> list[dict[str, Any]]:
    agent = agents.agent_user(session, agent_id)
    text = normalize_text(str(query or "")).strip()[:MAX_QUERY]
    if len(text) < MIN_LETTERS:
        raise InvalidInput(
            N_("Type at least %(n)s letters or digits."), details={"field": "query"}, n=MIN_LETTERS
        )
    campaign_ids = [campaign.id for campaign in agents.assigned_campaigns(session, agent)]
    statement = (
        select(Lead, Customer, Campaign.name)
        .join(Customer, Customer.id == Lead.customer_id)
        .join(Campaign, Campaign.id == Lead.campaign_id)
        .where(Lead.campaign_id.in_(campaign_ids), _matching(text))
        .order_by(Customer.last_name, Customer.first_name, Lead.id)
        .limit(MAX_RESULTS)
    )
    locale = agent.locale if agent.locale in ("fa", "en") else "fa"
    return [
        {
            "lead_id": lead.id,
            "customer_id": customer.id,
            "name": _name(customer) or format_phone(customer.phone_e164, locale),
            "company": customer.company,
            "phone_display": format_phone(customer.phone_e164, locale),
            "phone2_display": format_phone(customer.phone2_e164, locale)
            if customer.phone2_e164
            else "",
            "campaign": campaign_name,
            "state": str(lead.state),
        }
        for lead, customer, campaign_name in session.execute(statement)
    ]


def open_customer(session: Session, agent_id: int, customer_id: Any) -> dict[str, Any]:
    """The customer's card as the agent sees it: details, their lead in the
    agent's current campaign (or another of theirs), and the whole history."""
    agent = agents.agent_user(session, agent_id)
    customer = manual_dial.visible_customer(session, agent, customer_id)
    status = agents.status_of(session, agent_id)
    campaign_ids = [campaign.id for campaign in agents.assigned_campaigns(session, agent)]
    leads = list(
        session.scalars(
            select(Lead).where(Lead.customer_id == customer.id, Lead.campaign_id.in_(campaign_ids))
        )
    )
    lead = next((row for row in leads if row.campaign_id == status.campaign_id), leads[0])
    locale = agent.locale if agent.locale in ("fa", "en") else "fa"
    card = workstation.lead_card(session, lead, locale)
    card["details"] = customer_details.details(customer, locale)
    return card


def _matching(text: str) -> Any:
    try:
        phone = normalize_phone(text).e164
    except InvalidPhone:
        phone = None
    if phone is not None:
        return or_(Customer.phone_e164 == phone, Customer.phone2_e164 == phone)
    digits = "".join(ch for ch in text if ch.isdigit())
    conditions = []
    if len(digits) >= 4 and len(digits) == len(text.replace(" ", "")):
        conditions.append(Customer.phone_e164.contains(digits.lstrip("0")))
        conditions.append(Customer.phone2_e164.contains(digits.lstrip("0")))
    pattern = f"%{_escaped(text.lower())}%"
    full_name = func.lower(Customer.first_name + " " + Customer.last_name)
    conditions.append(full_name.like(pattern, escape="\\"))
    conditions.append(func.lower(Customer.last_name).like(pattern, escape="\\"))
    conditions.append(func.lower(Customer.company).like(pattern, escape="\\"))
    return or_(*conditions)


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _name(customer: Customer) -> str:
    return " ".join(
        part for part in (customer.title, customer.first_name, customer.last_name) if part
    )
