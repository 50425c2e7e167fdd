"""Leads, callbacks and campaigns as other systems change them through the
API. Validation is the lead file's (`lead_import`), never a copy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callcenter.db import utcnow
from callcenter.errors import N_, Forbidden, InvalidInput, NotFound
from callcenter.leadfiles import InvalidPhone, ParsedLead, normalize_phone
from callcenter.models import (
    ApiToken,
    Callback,
    CampaignStatus,
    Customer,
    DncEntry,
    Lead,
    LeadStateChange,
    User,
)
from callcenter.services import api_tokens, campaigns, dnc, lead_import, sms
from callcenter.services.lead_import import RecordResult
from callcenter.states import LEAD_TRANSITIONS, LeadState, Role, advance

UPDATABLE = ("title", "first_name", "last_name", "company", "email", "city", "address", "notes",
             "priority")  # fmt: skip
SEARCH_LIMIT = 100


def add_leads(
    session: Session, token: ApiToken, campaign_id: int, records: Any
) -> tuple[int, list[RecordResult]]:
    """The lead list's id and what became of each record."""
    api_tokens.check_campaign(token, campaign_id)
    checked = _records(records)
    lead_list, results = lead_import.import_records(
        session, checked, campaign_id=campaign_id, name=f"API: {token.name}"
    )
    api_tokens.audit_write(
        session,
        token,
        "leads.added",
        target_type="lead_list",
        target_id=lead_list.id,
        details={
            "campaign_id": campaign_id,
            "rows": len(results),
            "imported": sum(1 for r in results if r.status == "imported"),
        },
    )
    return lead_list.id, results


def _records(records: Any) -> list[Mapping[str, Any]]:
    if not isinstance(records, list):
        raise InvalidInput(N_("leads must be a list of objects"), details={"field": "leads"})
    for line, record in enumerate(records, start=1):
        if not isinstance(record, dict) or not all(
            isinstance(value, str | int | float) or value is None for value in record.values()
        ):
            raise InvalidInput(
                N_("lead %(line)s: each field must be text or a number"),
                details={"line": line},
                line=line,
            )
    return records


def lead_ids_by_phone(session: Session, campaign_id: int, phones: Sequence[str]) -> dict[str, int]:
    query = (
        select(Customer.phone_e164, Lead.id)
        .join(Lead, Lead.customer_id == Customer.id)
        .where(Lead.campaign_id == campaign_id, Customer.phone_e164.in_(list(phones)))
    )
    return dict(session.execute(query).tuples().all())


def get_lead(session: Session, token: ApiToken, lead_id: int) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None or not api_tokens.may_use_campaign(token, lead.campaign_id):
        raise NotFound(N_("no such lead"), details={"lead_id": lead_id})
    return lead


def update_lead(session: Session, token: ApiToken, lead_id: int, changes: Any) -> Lead:
    """New details for the lead's customer, read as a file's row with the
    customer's number would be; a value the file import would drop (a bad
    e-mail or priority) is refused, named."""
    lead = get_lead(session, token, lead_id)
    if not isinstance(changes, dict) or not changes:
        raise InvalidInput(N_("nothing to change"))
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise InvalidInput(
            N_("these fields cannot be changed: %(fields)s"),
            details={"fields": unknown},
            fields=", ".join(unknown),
        )
    customer = lead.customer
    record: dict[str, Any] = {"phone": customer.phone_e164, **changes}
    (parsed,) = lead_import.parse_records([record])
    if not isinstance(parsed, ParsedLead):
        raise InvalidInput(parsed.message.text, **dict(parsed.message.params))
    if parsed.warnings:
        warning = parsed.warnings[0]
        raise InvalidInput(warning.text, details={"fields": sorted(changes)}, **warning.params)
    for name in ("title", "first_name", "last_name", "company", "email", "city", "address"):
        if name in changes:
            setattr(customer, name, getattr(parsed, name))
    if "notes" in changes:
        lead.fields = {**lead.fields, "notes": parsed.notes}
    if "priority" in changes and parsed.priority is not None:
        lead.priority = parsed.priority
    lead.updated_at = utcnow()
    session.flush()
    api_tokens.audit_write(
        session,
        token,
        "lead.updated",
        target_type="lead",
        target_id=lead.id,
        details={"fields": sorted(changes)},
    )
    return lead


def search_leads(
    session: Session,
    token: ApiToken,
    *,
    campaign_id: int | None,
    phone: str | None,
    state: str | None,
    limit: int = SEARCH_LIMIT,
) -> list[Lead]:
    conditions: list[Any] = []
    scope = api_tokens.campaign_scope(token)
    if scope is not None:
        conditions.append(Lead.campaign_id.in_(scope))
    if campaign_id is not None:
        conditions.append(Lead.campaign_id == campaign_id)
    if phone:
        try:
            number = normalize_phone(phone).e164
        except InvalidPhone as exc:
            raise InvalidInput(exc.text, details={"field": "phone"}, **exc.params) from None
        conditions.append(or_(Customer.phone_e164 == number, Customer.phone2_e164 == number))
    if state:
        try:
            conditions.append(Lead.state == LeadState(state))
        except ValueError:
            raise InvalidInput(
                N_("no such lead state: %(state)s"), details={"field": "state"}, state=state
            ) from None
    query = (
        select(Lead)
        .join(Customer, Customer.id == Lead.customer_id)
        .where(*conditions)
        .order_by(Lead.id)
        .limit(max(1, min(limit, SEARCH_LIMIT)))
    )
    return list(session.scalars(query))


def schedule_callback(
    session: Session,
    token: ApiToken,
    lead_id: int,
    *,
    due_at: Any,
    agent_id: Any = None,
    note: Any = "",
    now: datetime | None = None,
) -> Callback:
    """A callback for the lead, for one agent or for anyone; the lead waits for it."""
    now = now or utcnow()
    lead = session.get(Lead, lead_id, with_for_update=True)
    if lead is None or not api_tokens.may_use_campaign(token, lead.campaign_id):
        raise NotFound(N_("no such lead"), details={"lead_id": lead_id})
    when = _future(due_at, now)
    agent = _agent(session, agent_id)
    advance(LEAD_TRANSITIONS, lead.state, LeadState.CALLBACK, subject=f"lead {lead.id}")
    pending = lead.next_attempt_at if lead.state is LeadState.CALLBACK else None
    callback = Callback(
        lead_id=lead.id,
        customer_id=lead.customer_id,
        campaign_id=lead.campaign_id,
        due_at=when,
        assigned_agent_id=agent.id if agent is not None else None,
        created_by_id=token.created_by_id,
        note=str(note or "")[:2000],
    )
    session.add(callback)
    session.add(
        LeadStateChange(
            lead_id=lead.id,
            from_state=lead.state,
            to_state=LeadState.CALLBACK,
            reason="callback scheduled through the API",
            at=now,
        )
    )
    lead.state = LeadState.CALLBACK
    lead.next_attempt_at = min(when, pending) if pending is not None else when
    lead.updated_at = now
    session.flush()
    sms.queue_for_callback(session, callback, now=now)
    api_tokens.audit_write(
        session,
        token,
        "callback.scheduled",
        target_type="callback",
        target_id=callback.id,
        details={
            "lead_id": lead.id,
            "due_at": when.isoformat(),
            "agent_id": callback.assigned_agent_id,
        },
    )
    return callback


def _future(value: Any, now: datetime) -> datetime:
    try:
        when = datetime.fromisoformat(str(value or ""))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise InvalidInput(
            N_("due_at must be a date and time with its UTC offset"), details={"field": "due_at"}
        )
    if when <= now:
        raise InvalidInput(N_("The new time must be in the future."), details={"field": "due_at"})
    return when


def _agent(session: Session, agent_id: Any) -> User | None:
    if agent_id is None:
        return None
    agent = session.get(User, agent_id) if isinstance(agent_id, int) else None
    if agent is None or agent.role is not Role.AGENT or not agent.is_active:
        raise InvalidInput(
            N_("no such agent: %(agent_id)s"), details={"field": "agent_id"}, agent_id=agent_id
        )
    return agent


def set_campaign_running(
    session: Session, token: ApiToken, campaign_id: int, *, running: bool
) -> CampaignStatus:
    api_tokens.check_campaign(token, campaign_id)
    campaign = campaigns.get_campaign(session, campaign_id)
    wanted = CampaignStatus.ACTIVE if running else CampaignStatus.PAUSED
    campaigns.set_status(session, campaign, wanted, actor=None)
    api_tokens.audit_write(
        session,
        token,
        "campaign.resumed" if running else "campaign.paused",
        target_type="campaign",
        target_id=campaign.id,
    )
    return campaign.status


def add_dnc(
    session: Session, token: ApiToken, phone: Any, *, campaign_id: int | None, reason: Any
) -> DncEntry:
    """On the campaign's list, or the global one (a token for all campaigns only)."""
    _check_dnc_scope(token, campaign_id)
    entry = dnc.add_number(
        session,
        str(phone or ""),
        campaign_id=campaign_id,
        source="api",
        reason=str(reason or ""),
        actor_id=None,
    )
    api_tokens.audit_write(
        session,
        token,
        "dnc.added",
        target_type="dnc_entry",
        target_id=entry.id,
        details={"phone": entry.phone_e164, "campaign_id": campaign_id},
    )
    return entry


def remove_dnc(session: Session, token: ApiToken, phone: Any, *, campaign_id: int | None) -> None:
    _check_dnc_scope(token, campaign_id)
    dnc.remove_number(session, str(phone or ""), campaign_id=campaign_id, actor_id=None)
    api_tokens.audit_write(
        session,
        token,
        "dnc.removed",
        target_type="dnc_entry",
        target_id=None,
        details={"phone": str(phone), "campaign_id": campaign_id},
    )


def _check_dnc_scope(token: ApiToken, campaign_id: int | None) -> None:
    if campaign_id is None:
        if not token.all_campaigns:
            raise Forbidden(N_("only a token for all campaigns may change the global list"))
        return
    api_tokens.check_campaign(token, campaign_id)
