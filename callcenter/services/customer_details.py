"""The agent corrects a customer's details from the screen: title, names,
email, and a second number to call. Each change is audited with what it
was before; the screen pop and the script read the new values."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callcenter.errors import N_, Conflict, InvalidInput
from callcenter.leadfiles.names import normalize_title
from callcenter.leadfiles.text import normalize_text
from callcenter.models import Customer
from callcenter.scheduling import format_phone
from callcenter.services import agents, audit, manual_dial

EDITABLE = ("title", "first_name", "last_name", "email", "phone2")
LIMITS = {"title": 32, "first_name": 120, "last_name": 120, "email": 255}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def details(customer: Customer, locale: str) -> dict[str, Any]:
    """What the edit form and the customer card show."""
    return {
        "id": customer.id,
        "title": customer.title,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email": customer.email or "",
        "phone_display": format_phone(customer.phone_e164, locale),
        "phone2": customer.phone2_e164 or "",
        "phone2_display": format_phone(customer.phone2_e164, locale)
        if customer.phone2_e164
        else "",
    }


def update(session: Session, agent_id: int, customer_id: Any, changes: Any) -> Customer:
    """Apply the fields given (others are left as they are); refuse the whole
    change when one field is wrong, naming it."""
    agent = agents.agent_user(session, agent_id)
    customer = manual_dial.visible_customer(session, agent, customer_id)
    given = changes if isinstance(changes, dict) else {}
    new: dict[str, str | None] = {}
    for field in EDITABLE:
        if field in given:
            new[field] = _checked(session, customer, field, given[field])
    before: dict[str, str | None] = {}
    for field, value in new.items():
        attribute = "phone2_e164" if field == "phone2" else field
        old = getattr(customer, attribute)
        if (old or None) != (value or None):
            before[field] = old
            setattr(customer, attribute, value if field in ("email", "phone2") else value or "")
    if before:
        audit.record(
            session,
            "customer.updated",
            actor=agent,
            target_type="customer",
            target_id=customer.id,
            details={"before": before, "after": {field: new[field] for field in before}},
        )
        session.flush()
    return customer


def _checked(session: Session, customer: Customer, field: str, value: Any) -> str | None:
    text = normalize_text(str(value or "")).strip()
    if field == "phone2":
        return _second_number(session, customer, text)
    if len(text) > LIMITS[field]:
        raise InvalidInput(
            N_("Too long: at most %(n)s characters."),
            details={"field": field},
            n=LIMITS[field],
        )
    if field == "title":
        return normalize_title(text)
    if field == "email":
        if text and not _EMAIL.match(text):
            raise InvalidInput(
                N_("%(email)s is not an email address."), details={"field": field}, email=text
            )
        return text or None
    return text


def _second_number(session: Session, customer: Customer, text: str) -> str | None:
    if not text:
        return None
    try:
        phone = manual_dial.normalized(text)
    except InvalidInput as exc:
        exc.details["field"] = "phone2"
        raise
    if phone == customer.phone_e164:
        raise InvalidInput(
            N_("That is already the customer's first number."), details={"field": "phone2"}
        )
    other = session.scalar(
        select(Customer.id).where(
            Customer.id != customer.id,
            or_(Customer.phone_e164 == phone, Customer.phone2_e164 == phone),
        )
    )
    if other is not None:
        raise Conflict(
            N_("%(number)s belongs to another customer."),
            details={"field": "phone2"},
            number=text,
        )
    return phone
