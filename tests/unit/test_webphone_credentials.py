"""The browser phone's credentials: the auth_ephemeral / coturn REST scheme,
so Kamailio and coturn accept what the web app mints with the same secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from callcenter import webphone
from callcenter.settings import Settings, load_settings


def settings_with(tmp_path: Path, **webphone_settings: object) -> Settings:
    return load_settings(
        environ={},
        overrides={"instance_path": str(tmp_path), "webphone": webphone_settings},
    )


def test_the_password_is_hmac_sha1_of_the_username_as_kamailio_checks_it() -> None:
    minted = webphone.mint(b"s3cret", 42, now=1_000_000, ttl_s=3600)
    assert minted.username == "1003600:agent-42"
    expected = base64.b64encode(
        hmac.new(b"s3cret", b"1003600:agent-42", hashlib.sha1).digest()
    ).decode()
    assert minted.password == expected
    assert minted.expires_at == 1_003_600


@pytest.mark.parametrize(
    ("username", "now", "user"),
    [
        ("2000:agent-7", 1999, "agent-7"),
        ("2000:agent-7", 2001, None),
        ("agent-7", 0, None),
        ("2000:agent-7:x", 0, None),
        ("2000:supervisor-1", 0, None),
        ("x:agent-7", 0, None),
    ],
)
def test_only_a_well_formed_unexpired_username_names_a_phone(
    username: str, now: float, user: str | None
) -> None:
    assert webphone.phone_user_of(username, now=now) == user


def test_the_secret_is_derived_from_the_secret_key_unless_set(tmp_path: Path) -> None:
    derived = settings_with(tmp_path)
    assert webphone.shared_secret(derived) not in (b"", derived.secret_key.encode())
    assert webphone.shared_secret(settings_with(tmp_path, secret="shared")) == b"shared"


def test_the_browser_gets_the_built_in_gateway_on_the_host_it_opened(tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    config = webphone.browser_config(settings, 7, page_host="192.0.2.10", now=100)
    assert config["ws_url"] == "ws://192.0.2.10:5066"
    assert config["uri"] == "sip:agent-7@webphone.invalid"
    assert config["authorization_user"] == f"{100 + 43200}:agent-7"
    assert config["password"] == webphone.password_for(
        webphone.shared_secret(settings), config["authorization_user"]
    )
    assert config["ice_servers"] == []
    ipv6 = webphone.browser_config(settings, 7, page_host="::1", now=100)
    assert ipv6["ws_url"] == "ws://[::1]:5066"


def test_turn_servers_get_the_same_credentials_stun_servers_none(tmp_path: Path) -> None:
    settings = settings_with(
        tmp_path,
        ws_url="wss://sip.example.net:8443",
        ice_servers="stun:stun.example.net:3478, turn:turn.example.net:3478?transport=udp",
    )
    config = webphone.browser_config(settings, 3, page_host="ignored", now=0)
    assert config["ws_url"] == "wss://sip.example.net:8443"
    stun, turn = config["ice_servers"]
    assert stun == {"urls": "stun:stun.example.net:3478"}
    assert turn["urls"] == "turn:turn.example.net:3478?transport=udp"
    assert (turn["username"], turn["credential"]) == (
        config["authorization_user"],
        config["password"],
    )


def test_the_dialer_calls_the_configured_agent_uri(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, agent_uri="sip:agent-{agent_id}@10.0.0.5:5060")
    assert webphone.agent_phone_uri(settings, 9) == "sip:agent-9@10.0.0.5:5060"
    assert webphone.is_browser_phone(settings, 9, "sip:agent-9@10.0.0.5:5060")
    assert not webphone.is_browser_phone(settings, 8, "sip:agent-9@10.0.0.5:5060")


def test_a_browser_phone_is_offered_only_where_it_can_register(tmp_path: Path) -> None:
    assert webphone.available(settings_with(tmp_path))
    assert not webphone.available(settings_with(tmp_path, enabled=False))
    trunk_only = load_settings(
        environ={},
        overrides={"instance_path": str(tmp_path), "dialer": {"carrier": "sip"}},
    )
    assert not webphone.available(trunk_only)


@pytest.mark.parametrize(
    ("field", "value"),
    [("ws_url", "http://sip.example.net"), ("agent_uri", "sip:agent@pbx"), ("gateway_port", 0)],
)
def test_bad_webphone_settings_are_refused(tmp_path: Path, field: str, value: object) -> None:
    from callcenter.settings import SettingsError

    with pytest.raises(SettingsError):
        settings_with(tmp_path, **{field: value})
