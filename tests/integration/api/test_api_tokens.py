"""API tokens: made by an admin in the admin screen (shown once, kept as a
SHA-256), scoped to a role, revocable, last use shown; a session cookie never
opens the API."""

from __future__ import annotations

import hashlib
import re

import requests
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import ApiToken, AuditEntry
from callcenter.states import Role
from tests.factories import log_in, make_campaign, make_user
from tests.integration.api.conftest import Api, new_token


def test_an_admin_makes_a_token_sees_it_once_and_revokes_it(
    client: FlaskClient, api: Api, app_session: Session
) -> None:
    campaign = make_campaign(app_session, name="Autumn offer")
    admin = make_user(app_session, Role.ADMIN)
    app_session.commit()
    log_in(client, admin.username)

    shown = client.post(
        "/admin/api-tokens",
        data={"name": "CRM", "role": "manager", "campaigns": [str(campaign.id)]},
    )
    assert shown.status_code == 200
    match = re.search(r'<code id="api-token" dir="ltr">([^<]+)</code>', shown.text)
    assert match, shown.text
    token = match.group(1)

    row = app_session.scalar(select(ApiToken).where(ApiToken.name == "CRM"))
    assert row is not None
    assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(row.__dict__), "only the hash is kept"
    assert [c.name for c in row.campaigns] == ["Autumn offer"]
    listing = client.get("/admin/api-tokens").text
    assert token not in listing and row.prefix in listing

    assert api.with_token(token).call("GET", "/api/v1/leads").status_code == 200
    app_session.commit()
    app_session.expire_all()
    assert app_session.get(ApiToken, row.id).last_used_at is not None  # type: ignore[union-attr]
    assert "Autumn offer" in client.get("/admin/api-tokens").text

    client.post(f"/admin/api-tokens/{row.id}/revoke")
    refused = api.with_token(token).call("GET", "/api/v1/leads")
    assert refused.status_code == 401
    app_session.commit()
    actions = app_session.scalars(
        select(AuditEntry.action).where(AuditEntry.target_type == "api_token")
    ).all()
    assert actions == ["api_token.created", "api_token.revoked"]


def test_a_token_needs_a_name_and_campaigns(client: FlaskClient, app_session: Session) -> None:
    admin = make_user(app_session, Role.ADMIN)
    app_session.commit()
    log_in(client, admin.username)
    refused = client.post("/admin/api-tokens", data={"name": "Forms", "role": "manager"})
    assert refused.status_code == 422
    assert app_session.scalar(select(ApiToken.id)) is None


def test_a_session_cookie_does_not_open_the_api(
    client: FlaskClient, server: str, app_session: Session
) -> None:
    admin = make_user(app_session, Role.ADMIN)
    app_session.commit()
    browser = requests.Session()
    page = browser.get(f"{server}/login").text
    browser.post(
        f"{server}/login",
        data={"username": admin.username, "password": "correct-horse-battery"},
    )
    assert browser.get(f"{server}/admin/users").status_code == 200, page[:100]
    answer = browser.get(f"{server}/api/v1/leads")
    assert answer.status_code == 401
    assert answer.json()["error"] == "not-authenticated"


def test_unknown_tokens_and_roles_without_the_right_are_refused(
    api: Api, app_session: Session
) -> None:
    supervisor = new_token(app_session, Role.SUPERVISOR)
    assert api.call("GET", "/api/v1/leads").status_code == 401
    assert api.with_token("cc_made-up").call("GET", "/api/v1/leads").status_code == 401
    assert (
        api.call("GET", "/api/v1/leads", headers={"Authorization": "Basic eDp5"}).status_code == 401
    )
    refused = api.with_token(supervisor).call("GET", "/api/v1/leads")
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert api.with_token(supervisor).call("GET", "/api/v1/appointments").status_code == 200
