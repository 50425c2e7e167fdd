"""The browser phone's identity and credentials, shared by the web app that
hands them out and every server that checks them.

A browser phone is ``agent-<id>``. Its credentials expire: the username is
``<unix expiry>:agent-<id>`` and the password base64(HMAC-SHA1(secret,
username)), the scheme Kamailio's auth_ephemeral and coturn's
static-auth-secret check, so the web app never shares a stored password with
the proxy or TURN server, only the secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from callcenter.settings import Settings

_USERNAME = re.compile(r"^(\d{1,12}):(agent-(\d{1,12}))$")
_SECRET_CONTEXT = b"callcenter webphone credentials"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    expires_at: int


def phone_user(agent_id: int) -> str:
    return f"agent-{agent_id}"


def agent_phone_uri(settings: Settings, agent_id: int) -> str:
    """What the dialer calls to reach the agent's browser phone."""
    return settings.webphone.agent_uri.format(agent_id=agent_id, domain=settings.webphone.domain)


def shared_secret(settings: Settings) -> bytes:
    if settings.webphone.secret is not None:
        return settings.webphone.secret.get_secret_value().encode()
    return hmac.new(settings.secret_key.encode(), _SECRET_CONTEXT, hashlib.sha256).digest()


def password_for(secret: bytes, username: str) -> str:
    digest = hmac.new(secret, username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def mint(secret: bytes, agent_id: int, *, now: float, ttl_s: int) -> Credentials:
    expires_at = int(now) + ttl_s
    username = f"{expires_at}:{phone_user(agent_id)}"
    return Credentials(username, password_for(secret, username), expires_at)


def phone_user_of(username: str, *, now: float) -> str | None:
    """The phone user (``agent-<id>``) a credential username names, if it is
    well formed and not expired; the caller still checks the password."""
    match = _USERNAME.match(username)
    if match is None or int(match.group(1)) < now:
        return None
    return match.group(2)


def agent_id_of(phone_user_name: str) -> int | None:
    match = re.fullmatch(r"agent-(\d{1,12})", phone_user_name)
    return int(match.group(1)) if match else None


def available(settings: Settings) -> bool:
    """A browser phone needs somewhere to register: the proxy named by
    ws_url, or the built-in gateway that runs beside the simulated carrier."""
    phone = settings.webphone
    return phone.enabled and (bool(phone.ws_url) or settings.dialer.carrier == "simulated")


def is_browser_phone(settings: Settings, agent_id: int, phone: str | None) -> bool:
    return phone is not None and phone == agent_phone_uri(settings, agent_id)


def browser_config(
    settings: Settings, agent_id: int, *, page_host: str, now: float
) -> dict[str, Any]:
    """What the agent's browser needs to register its phone: where, as whom,
    fresh credentials, and the ICE servers (TURN takes the same credentials)."""
    phone = settings.webphone
    credentials = mint(
        shared_secret(settings), agent_id, now=now, ttl_s=phone.credential_ttl_seconds
    )
    ice_servers: list[dict[str, str]] = []
    for url in phone.ice_servers:
        server = {"urls": url}
        if url.startswith(("turn:", "turns:")):
            server |= {"username": credentials.username, "credential": credentials.password}
        ice_servers.append(server)
    return {
        "ws_url": phone.ws_url or f"ws://{_bracketed(page_host)}:{phone.gateway_port}",
        "uri": f"sip:{phone_user(agent_id)}@{phone.domain}",
        "authorization_user": credentials.username,
        "password": credentials.password,
        "expires_at": credentials.expires_at,
        "ice_servers": ice_servers,
    }


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
