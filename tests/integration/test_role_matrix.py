"""Walk every registered route and socket event and prove each role gets only
what it may. A route that declares no roles is a failure here."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.auth.access import SOCKET_EVENTS, is_token_authenticated, roles_for_endpoint
from callcenter.extensions import socketio
from callcenter.models import AuditEntry, CalendarFeed
from callcenter.services import api_tokens, calendar_feeds
from callcenter.states import Role
from tests.factories import log_in, make_user

PUBLIC_ENDPOINTS = {
    "auth.login",
    "auth.set_locale",
    "api.openapi_document",
    "calendars.feed",
    "sms.inbound",
    "ops.healthz",
    "ops.readyz",
    "ops.metrics",
    "static",
    "agent_ui.static",
    "supervisor.static",
}

# What an allowed role gets from a bare request (no form data, <id> = 1 where
# no such row exists): exactly this, so a 500 or a wrong redirect fails too.
ALLOWED_STATUS = {
    ("admin.create_user", "GET"): 200,
    ("admin.create_user", "POST"): 422,
    ("admin.edit_user", "GET"): 200,
    ("admin.edit_user", "POST"): 200,
    ("admin.reset_password", "POST"): 200,
    ("admin.users", "GET"): 200,
    ("admin.teams_index", "GET"): 200,
    ("admin.teams_index", "POST"): 422,
    ("admin.edit_team", "GET"): 404,
    ("admin.edit_team", "POST"): 404,
    ("admin.audit_log", "GET"): 200,
    ("admin.api_tokens_index", "GET"): 200,
    ("admin.api_tokens_index", "POST"): 422,
    ("admin.revoke_api_token", "POST"): 404,
    ("admin.webhooks_index", "GET"): 200,
    ("admin.calendar_feeds_index", "GET"): 200,
    ("admin.sms_log", "GET"): 200,
    ("admin.calendar_feeds_index", "POST"): 422,
    ("admin.revoke_calendar_feed", "POST"): 404,
    ("admin.webhooks_index", "POST"): 422,
    ("admin.webhook_detail", "GET"): 404,
    ("admin.webhook_test", "POST"): 404,
    ("admin.webhook_active", "POST"): 404,
    ("agent_ui.home", "GET"): 200,
    ("agent_ui.letter", "GET"): 404,
    ("agent_ui.my_meetings", "GET"): 200,
    ("agent_ui.meeting_outcome", "POST"): 302,
    # Only a salesperson has a calendar link; the matrix's users are not.
    ("agent_ui.make_calendar_link", "POST"): 403,
    ("agent_ui.revoke_calendar_link", "POST"): 404,
    ("agent_ui.phone_config", "GET"): 200,
    ("agent_ui.scripts", "GET"): 200,
    ("agent_ui.scripts", "POST"): 422,
    ("auth.change_password", "GET"): 200,
    ("auth.change_password", "POST"): 422,
    ("auth.home", "GET"): 302,
    ("campaigns.create", "GET"): 200,
    ("campaigns.create", "POST"): 422,
    ("campaigns.dnc_add", "POST"): 302,
    ("campaigns.dnc_export", "GET"): 200,
    ("campaigns.dnc_import", "POST"): 302,
    ("campaigns.disposition_add", "POST"): 404,
    ("campaigns.disposition_change", "POST"): 404,
    ("campaigns.disposition_list", "GET"): 404,
    ("campaigns.dnc_list", "GET"): 200,
    ("campaigns.edit", "GET"): 404,
    ("campaigns.edit", "POST"): 404,
    ("campaigns.index", "GET"): 200,
    ("campaigns.import_progress", "GET"): 404,
    ("campaigns.import_report_csv", "GET"): 404,
    ("campaigns.lead_list", "GET"): 404,
    ("campaigns.pause_code_add", "POST"): 302,
    ("campaigns.pause_code_change", "POST"): 302,
    ("campaigns.pause_code_list", "GET"): 200,
    ("campaigns.lists", "GET"): 404,
    ("campaigns.move_list", "POST"): 302,
    ("campaigns.recycle_list", "POST"): 302,
    ("campaigns.reset_list", "POST"): 404,
    ("campaigns.set_list_enabled", "POST"): 404,
    ("campaigns.set_status", "POST"): 404,
    ("campaigns.upload", "GET"): 404,
    ("campaigns.upload", "POST"): 404,
    ("campaigns.upload_preview", "POST"): 404,
    ("recordings.audio", "GET"): 404,
    ("recordings.download", "GET"): 404,
    ("recordings.index", "GET"): 200,
    ("recordings.legal_hold", "POST"): 404,
    ("recordings.player", "GET"): 404,
    ("recordings.record_now", "POST"): 404,
    ("recordings.score", "POST"): 404,
    ("recordings.scorecard", "GET"): 404,
    ("recordings.scorecard", "POST"): 404,
    ("supervisor.call_list", "GET"): 200,
    ("supervisor.floor", "GET"): 200,
    ("supervisor.phone_config", "GET"): 200,
    ("supervisor.reports", "GET"): 200,
    ("supervisor.reports_export", "GET"): 422,
}

# The API with a token of an allowed role, a bare request (no body, <id> = 1
# where no such row exists), the token for all campaigns.
API_ALLOWED_STATUS = {
    ("api.add_leads", "POST"): 422,
    ("api.search_leads", "GET"): 200,
    ("api.get_lead", "GET"): 404,
    ("api.update_lead", "PATCH"): 422,
    ("api.schedule_callback", "POST"): 422,
    ("api.add_dnc", "POST"): 422,
    ("api.remove_dnc", "DELETE"): 422,
    ("api.pause_campaign", "POST"): 404,
    ("api.resume_campaign", "POST"): 404,
    ("api.get_call", "GET"): 404,
    ("api.list_appointments", "GET"): 200,
}


def _routes(app: Flask) -> list[tuple[str, str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:int:)?[^>]+>", "1", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, path))
    return found


def test_every_route_declares_who_may_use_it(app: Flask) -> None:
    undeclared = []
    for endpoint in app.view_functions:
        try:
            roles = roles_for_endpoint(app, endpoint)
        except LookupError:
            undeclared.append(endpoint)
            continue
        if roles is None:
            assert endpoint in PUBLIC_ENDPOINTS, f"{endpoint} is public but not on the list"
    assert undeclared == []


@pytest.mark.parametrize("role", list(Role))
def test_each_role_reaches_only_its_routes(
    app: Flask, client: FlaskClient, app_session: Session, role: Role
) -> None:
    # The <id> routes act on user 1: another user (an admin resetting their
    # own password or role would end their own login, as it should).
    make_user(app_session, Role.AGENT, username="target")
    user = make_user(app_session, role)
    app_session.commit()
    log_in(client, user.username)
    checked = 0
    for endpoint, method, path in _routes(app):
        roles = roles_for_endpoint(app, endpoint)
        if roles is None or endpoint == "auth.logout":
            continue
        response = client.open(path, method=method)
        if is_token_authenticated(app, endpoint):
            assert response.status_code == 401, f"a session cookie opened {method} {path}"
            continue
        if role in roles:
            expected = ALLOWED_STATUS[(endpoint, method)]
            assert response.status_code == expected, (
                f"{role} got {response.status_code} on {method} {path}, not {expected}"
            )
        else:
            assert response.status_code == 403, f"{role} got {response.status_code} on {path}"
        checked += 1
    assert checked >= 6


@pytest.mark.parametrize("role", list(Role))
def test_each_api_token_role_reaches_only_its_endpoints(
    app: Flask, client: FlaskClient, app_session: Session, role: Role
) -> None:
    admin = make_user(app_session, Role.ADMIN)
    _row, token = api_tokens.create_token(
        app_session, name="matrix", role=role, campaigns=[], all_campaigns=True, actor=admin
    )
    app_session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    walked = set()
    for endpoint, method, path in _routes(app):
        if not is_token_authenticated(app, endpoint):
            continue
        roles = roles_for_endpoint(app, endpoint)
        assert roles is not None
        response = client.open(path, method=method, headers=headers)
        if role in roles:
            expected = API_ALLOWED_STATUS[(endpoint, method)]
            assert response.status_code == expected, (
                f"{role} got {response.status_code} on {method} {path}, not {expected}"
            )
        else:
            assert response.status_code == 403, f"{role} got {response.status_code} on {path}"
        walked.add((endpoint, method))
    assert walked == set(API_ALLOWED_STATUS)


def test_anonymous_users_are_sent_to_log_in(app: Flask, client: FlaskClient) -> None:
    for endpoint, method, path in _routes(app):
        if roles_for_endpoint(app, endpoint) is None:
            continue
        response = client.open(path, method=method)
        if is_token_authenticated(app, endpoint):
            assert response.status_code == 401, f"{method} {path}"
            assert response.get_json()["error"] == "not-authenticated"
            continue
        assert response.status_code == 302, f"{method} {path}"
        assert "/login" in response.headers["Location"]


def test_anonymous_json_clients_get_401(app: Flask, client: FlaskClient) -> None:
    response = client.get("/admin/users", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "not-logged-in"


def test_anonymous_socket_is_refused(app: Flask, client: FlaskClient) -> None:
    socket = socketio.test_client(app, flask_test_client=client)
    assert not socket.is_connected()


@pytest.mark.parametrize("role", list(Role))
def test_socket_events_check_the_role(
    app: Flask, client: FlaskClient, app_session: Session, role: Role
) -> None:
    user = make_user(app_session, role)
    app_session.commit()
    log_in(client, user.username)
    socket = socketio.test_client(app, flask_test_client=client)
    assert socket.is_connected()
    for (namespace, name), event in SOCKET_EVENTS.items():
        reply = socket.emit(name, {}, namespace=namespace, callback=True)
        refused = isinstance(reply, dict) and reply.get("error") == "forbidden"
        assert refused == (role not in event.roles), f"{role} on {name}: {reply}"
    socket.disconnect()


AGENT_WORK_EVENTS = {
    "manual_dial",
    "dial_customer",
    "dial_callback",
    "lead_search",
    "customer_open",
    "customer_update",
    "callbacks_mine",
    "callback_reschedule",
    "callback_cancel",
}


def test_the_agents_own_work_is_for_agents_alone(app: Flask) -> None:
    """Dialing by hand, searching and editing customers, and the callbacks
    list are registered (so the walk above covers them) and only for agents."""
    registered = {name: frozenset(event.roles) for (_, name), event in SOCKET_EVENTS.items()}
    for name in AGENT_WORK_EVENTS:
        assert registered.get(name) == frozenset({Role.AGENT}), name


TRANSFER_EVENTS = {"transfer_targets", "transfer_start", "transfer_action"}


def test_transfers_are_for_agents_alone(app: Flask) -> None:
    """Transferring is registered (so the walk above covers it) and only for
    agents; the service then allows an agent only their own live call."""
    registered = {name: frozenset(event.roles) for (_, name), event in SOCKET_EVENTS.items()}
    for name in TRANSFER_EVENTS:
        assert registered.get(name) == frozenset({Role.AGENT}), name


MONITORING_EVENTS = {
    "floor_monitor_start",
    "floor_monitor_mode",
    "floor_monitor_stop",
    "floor_monitor_mine",
}


def test_listening_in_is_for_supervisors_managers_and_admins(app: Flask) -> None:
    """Listen, whisper and barge are registered (so the walk above covers
    them) and never for agents; which calls is the service's check."""
    registered = {name: frozenset(event.roles) for (_, name), event in SOCKET_EVENTS.items()}
    for name in MONITORING_EVENTS:
        assert registered.get(name) == frozenset({Role.SUPERVISOR, Role.MANAGER, Role.ADMIN}), name


def test_a_salesperson_makes_sees_and_revokes_only_their_own_calendar_link(
    app: Flask, client: FlaskClient, app_session: Session
) -> None:
    seller = make_user(app_session, Role.AGENT)
    seller.is_salesperson = True
    colleague = make_user(app_session, Role.AGENT)
    colleague.is_salesperson = True
    plain_agent = make_user(app_session, Role.AGENT)
    admin = make_user(app_session, Role.ADMIN)
    colleagues_feed, _token = calendar_feeds.create_feed(app_session, owner=colleague, actor=admin)
    app_session.commit()

    not_selling = app.test_client()
    log_in(not_selling, plain_agent.username)
    assert 'id="make-calendar-link"' not in not_selling.get("/agent/meetings").text
    assert not_selling.post("/agent/meetings/calendar-links").status_code == 403

    log_in(client, seller.username)
    page = client.post("/agent/meetings/calendar-links")
    assert page.status_code == 200
    shown = re.search(r'id="my-calendar-url" dir="ltr">http://localhost([^<]+)<', page.text)
    assert shown, page.text
    feed = client.get(shown.group(1))
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    again = client.get("/agent/meetings").text
    assert 'id="my-calendar-url"' not in again  # shown once
    (own_id,) = [int(n) for n in re.findall(r'id="revoke-calendar-link-(\d+)"', again)]
    assert own_id != colleagues_feed.id

    other = f"/agent/meetings/calendar-links/{colleagues_feed.id}/revoke"
    assert client.post(other).status_code == 404
    assert client.post(f"/agent/meetings/calendar-links/{own_id}/revoke").status_code == 302
    assert client.get(shown.group(1)).status_code == 404
    assert 'id="revoke-calendar-link-' not in client.get("/agent/meetings").text
    app_session.expire_all()
    assert app_session.get(CalendarFeed, colleagues_feed.id).revoked_at is None  # type: ignore[union-attr]
    actions = app_session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.actor_id == seller.id, AuditEntry.action.startswith("calendar_feed.")
        )
    ).all()
    assert sorted(actions) == ["calendar_feed.created", "calendar_feed.revoked"]
