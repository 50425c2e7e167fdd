"""Choosing the browser phone on the workstation: the agent gets credentials
for their own phone only, and the dialer is told to call that phone."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from callcenter import webphone
from callcenter.models import User
from tests.factories import log_in
from tests.integration.agent.agent_floor import Floor


def test_the_agent_gets_fresh_credentials_for_their_own_phone(
    agent_app: Flask, floor: Floor
) -> None:
    client = agent_app.test_client()
    log_in(client, floor.agent_username)
    reply = client.get("/agent/phone/config")
    assert reply.status_code == 200
    assert reply.headers["Cache-Control"] == "no-store"
    config = reply.get_json()
    assert config["uri"] == f"sip:agent-{floor.agent_id}@webphone.invalid"
    assert config["ws_url"] == "ws://localhost:5066"
    settings = agent_app.extensions["cc_settings"]
    assert webphone.phone_user_of(config["authorization_user"], now=time.time()) == (
        f"agent-{floor.agent_id}"
    )
    assert config["password"] == webphone.password_for(
        webphone.shared_secret(settings), config["authorization_user"]
    )


def test_supervisors_get_no_phone_credentials(agent_app: Flask, floor: Floor) -> None:
    client = agent_app.test_client()
    log_in(client, floor.supervisor_username)
    assert client.get("/agent/phone/config").status_code == 403


def test_choosing_the_browser_phone_has_the_dialer_call_it(
    agent_socket: Any, floor: Floor, app_session: Session
) -> None:
    reply = agent_socket.emit(
        "join_campaign", {"campaign_id": floor.campaign_id, "phone": "browser"}, callback=True
    )
    assert reply["ok"], reply
    app_session.expire_all()
    agent = app_session.get(User, floor.agent_id)
    assert agent is not None
    assert agent.sip_uri == f"sip:agent-{floor.agent_id}@webphone.invalid"


def test_another_agents_browser_phone_cannot_be_typed_in(agent_socket: Any, floor: Floor) -> None:
    reply = agent_socket.emit(
        "join_campaign",
        {
            "campaign_id": floor.campaign_id,
            "phone": f"sip:agent-{floor.other_agent_id}@webphone.invalid",
        },
        callback=True,
    )
    assert reply["ok"] is False
    assert reply["details"] == {"field": "phone"}


def test_the_workstation_shows_the_browser_phone_chosen(agent_app: Flask, floor: Floor) -> None:
    client = agent_app.test_client()
    log_in(client, floor.agent_username)
    page = client.get("/agent/").get_data(as_text=True)
    assert 'id="webphone"' in page and "vendor/jssip.min.js" in page
    assert 'value="browser" checked' in page
