"""Leads and do-not-call numbers through /api/v1/: the lead file's rules,
row errors named by line, every write audited."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import AuditEntry, Customer, DncEntry, Lead
from callcenter.services import dnc, lead_import
from callcenter.states import Role
from tests.factories import make_campaign, make_customer, make_lead
from tests.integration.api.conftest import Api, new_token

RECORDS = [
    {"phone": "0912 345 6701", "first_name": "Sara", "last_name": "Ahmadi", "plan": "gold"},
    {"phone": "not a number", "first_name": "Bad"},
    {"phone": "+989123456702", "title": "آقای", "last_name": "رضایی", "email": "not-an-email"},
    {"phone": "09123456701", "first_name": "Sara again"},
    {"phone": "09123456709", "first_name": "On the list"},
    {"first_name": "No phone"},
]


def test_added_leads_get_the_same_verdicts_as_the_same_rows_in_a_file(
    api: Api, app_session: Session
) -> None:
    through_api = make_campaign(app_session)
    through_file = make_campaign(app_session)
    dnc.add_number(
        app_session, "+989123456709", campaign_id=None, source="test", reason="", actor_id=None
    )
    token = new_token(app_session, Role.MANAGER, [through_api])

    answer = api.with_token(token).call(
        "POST", f"/api/v1/campaigns/{through_api.id}/leads", json={"leads": RECORDS}
    )

    assert answer.status_code == 200
    rows = answer.json()["rows"]
    assert [row["status"] for row in rows] == [
        "imported", "rejected", "imported", "duplicate", "dnc", "rejected",
    ]  # fmt: skip
    assert [row["code"] for row in rows] == [
        None, "invalid_phone", None, "duplicate", "dnc", "missing_phone",
    ]  # fmt: skip
    assert all(row["message"] for row in rows if row["status"] != "imported")
    assert rows[2]["warnings"], "the bad e-mail is said, as in a file's report"
    assert answer.json()["imported"] == 2

    file_list = lead_import.import_leads(
        app_session, _as_csv(RECORDS), campaign_id=through_file.id, filename="same.csv"
    )
    app_session.commit()
    report = file_list.report
    assert report is not None
    assert report["imported"] == answer.json()["imported"]
    assert {kind: report["counts"][kind] for kind in ("rejected", "dnc", "duplicates")} == {
        "rejected": 2,
        "dnc": 1,
        "duplicates": 1,
    }

    lead_id = rows[0]["lead_id"]
    lead = app_session.get(Lead, lead_id)
    assert lead is not None and lead.campaign_id == through_api.id
    assert lead.fields["plan"] == "gold"
    assert lead.customer.phone_e164 == "+989123456701"
    app_session.commit()
    app_session.expire_all()
    assert app_session.scalar(
        select(AuditEntry).where(AuditEntry.action == "api.leads.added")
    ).details["imported"] == 2  # fmt: skip


def _as_csv(records: list[dict[str, str]]) -> bytes:
    names = list(dict.fromkeys(key for record in records for key in record))
    out = io.StringIO()
    writer = csv.DictWriter(out, names)
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue().encode()


def test_the_same_leads_again_change_nothing(api: Api, app_session: Session) -> None:
    campaign = make_campaign(app_session)
    client = api.with_token(new_token(app_session, Role.ADMIN, [campaign]))
    first = client.call("POST", f"/api/v1/campaigns/{campaign.id}/leads", json={"leads": RECORDS})
    again = client.call("POST", f"/api/v1/campaigns/{campaign.id}/leads", json={"leads": RECORDS})
    assert again.json() == first.json()
    leads = app_session.scalars(select(Lead.id).where(Lead.campaign_id == campaign.id)).all()
    assert first.json()["imported"] == 3
    assert sorted(leads) == sorted(row["lead_id"] for row in first.json()["rows"] if row["lead_id"])


def test_a_campaign_outside_the_tokens_scope_does_not_exist(api: Api, app_session: Session) -> None:
    mine, other = make_campaign(app_session), make_campaign(app_session)
    lead = make_lead(app_session, other)
    client = api.with_token(new_token(app_session, Role.MANAGER, [mine]))
    assert (
        client.call(
            "POST", f"/api/v1/campaigns/{other.id}/leads", json={"leads": RECORDS[:1]}
        ).status_code
        == 404
    )
    assert client.call("GET", f"/api/v1/leads/{lead.id}").status_code == 404
    assert client.call("GET", "/api/v1/leads", params={"campaign_id": other.id}).json() == {
        "leads": []
    }


def test_bad_bodies_are_named(api: Api, app_session: Session) -> None:
    campaign = make_campaign(app_session)
    client = api.with_token(new_token(app_session, Role.MANAGER, [campaign]))
    path = f"/api/v1/campaigns/{campaign.id}/leads"
    nested = client.call("POST", path, json={"leads": [{"phone": "09121111111"}, {"phone": [1]}]})
    assert nested.status_code == 422
    assert nested.json()["details"] == {"line": 2}
    assert client.call("POST", path, json={"leads": []}).status_code == 422
    assert client.call("POST", path, data="no json").status_code == 422


def test_a_lead_is_updated_with_the_files_checks_and_found_by_number(
    api: Api, app_session: Session
) -> None:
    campaign = make_campaign(app_session)
    customer = make_customer(app_session, phone_e164="+989121234567")
    lead = make_lead(app_session, campaign, customer)
    client = api.with_token(new_token(app_session, Role.MANAGER, [campaign]))

    changed = client.call(
        "PATCH", f"/api/v1/leads/{lead.id}", json={"first_name": "  Mina ", "priority": "7"}
    )
    assert changed.status_code == 200
    assert changed.json()["first_name"] == "Mina"
    assert changed.json()["priority"] == 7

    refused = client.call("PATCH", f"/api/v1/leads/{lead.id}", json={"email": "nope"})
    assert refused.status_code == 422
    assert "nope" in refused.json()["message"]
    assert client.call("PATCH", f"/api/v1/leads/{lead.id}", json={"phone": "1"}).status_code == 422

    found = client.call("GET", "/api/v1/leads", params={"phone": "0912 123 4567"}).json()
    assert [row["id"] for row in found["leads"]] == [lead.id]
    assert client.call("GET", "/api/v1/leads", params={"phone": "12"}).status_code == 422
    app_session.commit()
    app_session.expire_all()
    updated = app_session.get(Customer, customer.id)
    assert updated is not None and updated.first_name == "Mina" and updated.email is None
    audited = app_session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.startswith("api."))
    ).all()
    assert audited == ["api.lead.updated"]


def test_do_not_call_numbers_are_added_and_removed(api: Api, app_session: Session) -> None:
    campaign = make_campaign(app_session)
    scoped = api.with_token(new_token(app_session, Role.MANAGER, [campaign]))
    everywhere = api.with_token(new_token(app_session, Role.ADMIN))

    added = scoped.call(
        "POST", "/api/v1/dnc", json={"phone": "0912 000 0001", "campaign_id": campaign.id}
    )
    assert added.status_code == 201
    assert added.json()["phone"] == "+989120000001"
    assert scoped.call("POST", "/api/v1/dnc", json={"phone": "09120000002"}).status_code == 403
    assert everywhere.call("POST", "/api/v1/dnc", json={"phone": "09120000002"}).status_code == 201
    garbage = {"phone": "garbage", "campaign_id": campaign.id}
    assert scoped.call("POST", "/api/v1/dnc", json=garbage).status_code == 422

    removed = scoped.call(
        "DELETE", "/api/v1/dnc", params={"phone": "+989120000001", "campaign_id": campaign.id}
    )
    assert removed.status_code == 204
    again = scoped.call(
        "DELETE", "/api/v1/dnc", params={"phone": "+989120000001", "campaign_id": campaign.id}
    )
    assert again.status_code == 404
    app_session.commit()
    app_session.expire_all()
    assert app_session.scalars(select(DncEntry.phone_e164)).all() == ["+989120000002"]
    actions = app_session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.action.startswith("api."))
        .order_by(AuditEntry.id)
    ).all()
    assert actions == ["api.dnc.added", "api.dnc.added", "api.dnc.removed"]
