"""The code services on a SQLite file and on PostgreSQL: defaults, order,
what may be deleted, and what is refused."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from callcenter.db import utcnow
from callcenter.errors import Conflict, InvalidInput, NotFound
from callcenter.models import AuditEntry, Call, Disposition
from callcenter.services import disposition_codes, pause_codes
from callcenter.states import DispositionCategory, Role
from tests.factories import make_campaign, make_customer, make_lead, make_user

GOOD = {"label_fa": "برچسب", "label_en": "Label"}


def test_a_campaign_starts_with_the_defaults_once(session: Session) -> None:
    campaign = make_campaign(session)
    assert disposition_codes.seed_defaults(session, campaign) == []
    rows = disposition_codes.for_campaign(session, campaign.id)
    assert [row.code for row in rows] == [str(code) for code, *_ in disposition_codes.DEFAULTS]
    assert [row.position for row in rows] == list(range(len(rows)))


def test_dispositions_move_and_only_unused_ones_are_deleted(session: Session) -> None:
    campaign = make_campaign(session)
    agent = make_user(session, Role.AGENT)
    other = make_campaign(session)
    disposition_codes.create(
        session, campaign, actor=agent, code="later", category="retry", retry_minutes="45", **GOOD
    )
    rows = disposition_codes.move(session, campaign.id, "later", -100, actor=None)
    assert rows[0].code == "later"
    lead = make_lead(session, campaign, make_customer(session))
    call = Call(
        id="used1", campaign_id=campaign.id, lead_id=lead.id, customer_id=lead.customer_id,
        agent_id=agent.id, attempt=1, phone_e164="+989120000000", dialed_at=utcnow(),
    )  # fmt: skip
    session.add(call)
    session.flush()
    session.add(
        Disposition(
            call_id=call.id, code="later", category=DispositionCategory.RETRY, agent_id=agent.id
        )
    )
    session.flush()
    assert disposition_codes.used_codes(session, campaign.id) == {"later"}
    assert disposition_codes.used_codes(session, other.id) == set()
    with pytest.raises(Conflict):
        disposition_codes.delete(session, campaign.id, "later", actor=None)
    disposition_codes.delete(session, other.id, "sale", actor=None)
    assert "sale" not in [row.code for row in disposition_codes.for_campaign(session, other.id)]
    assert session.query(AuditEntry).filter_by(action="disposition_code.deleted").count() == 1


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"code": "x", "category": "nonsense", **GOOD}, "category"),
        ({"code": "9lives", "category": "final", **GOOD}, "code"),
        ({"code": "ok", "category": "retry", "retry_minutes": "0", **GOOD}, "retry_minutes"),
        ({"code": "ok", "category": "final", "label_fa": "", "label_en": "x"}, "label_fa"),
        ({"code": "ok", "category": "final", "label_fa": "x" * 121, "label_en": "x"}, "label_fa"),
    ],
)
def test_bad_dispositions_are_refused(session: Session, values: dict, field: str) -> None:
    campaign = make_campaign(session)
    with pytest.raises(InvalidInput) as refused:
        disposition_codes.create(session, campaign, actor=None, **values)
    assert refused.value.details["field"] == field


def test_retry_minutes_belong_to_retry_codes_only(session: Session) -> None:
    campaign = make_campaign(session)
    row = disposition_codes.create(
        session, campaign, actor=None, code="done", category="final", retry_minutes="30", **GOOD
    )
    assert row.retry_minutes is None


def test_pause_codes_are_added_ordered_and_retired(session: Session) -> None:
    reason = pause_codes.create(
        session, actor=None, code="prayer", limit_minutes="۱۵", is_paid="yes", **GOOD
    )
    assert (reason.limit_minutes, reason.is_paid, reason.is_active) == (15, True, True)
    pause_codes.create(session, actor=None, code="prayer_two", **GOOD)
    first = pause_codes.move(session, "prayer", -100, actor=None)[0]
    assert first.code == "prayer"
    pause_codes.set_active(session, "prayer", False, actor=None)
    with pytest.raises(Conflict):
        pause_codes.create(session, actor=None, code="prayer", **GOOD)
    with pytest.raises(NotFound):
        pause_codes.get(session, "phone_lost")
    with pytest.raises(InvalidInput):
        pause_codes.update(session, "prayer", actor=None, limit_minutes="481", **GOOD)


def test_the_last_active_code_stays(session: Session) -> None:
    campaign = make_campaign(session)
    codes = [row.code for row in disposition_codes.for_campaign(session, campaign.id)]
    for code in codes[:-1]:
        disposition_codes.set_active(session, campaign.id, code, False, actor=None)
    with pytest.raises(Conflict):
        disposition_codes.set_active(session, campaign.id, codes[-1], False, actor=None)
    with pytest.raises(Conflict):
        disposition_codes.delete(session, campaign.id, codes[-1], actor=None)

    pause_codes.create(session, actor=None, code="only_one", **GOOD)
    for reason in pause_codes.all_codes(session):
        if reason.code != "only_one":
            pause_codes.set_active(session, reason.code, False, actor=None)
    with pytest.raises(Conflict):
        pause_codes.set_active(session, "only_one", False, actor=None)
