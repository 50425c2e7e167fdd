"""Where each browser phone can be reached: REGISTER with digest auth against
the ephemeral credentials, one binding per agent (the newest registration
wins), bindings that expire."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from callcenter import webphone
from dialer.sip.message import (
    SipMessage,
    build_response,
    header_param,
    new_tag,
    uri_of,
)
from dialer.webphone import digest

log = logging.getLogger(__name__)

MIN_EXPIRES_S = 60
MAX_EXPIRES_S = 3600
DEFAULT_EXPIRES_S = 600
_USER_HOST = re.compile(r"^sips?:([^@;>]+)@([^;>?]+)", re.IGNORECASE)


class Peer(Protocol):
    """The connection a binding lives on (a WebSocket, for the gateway)."""

    @property
    def label(self) -> str: ...


@dataclass(frozen=True)
class Binding:
    agent_id: int
    contact: str  # the browser's Contact URI: where requests to it are addressed
    peer: Peer
    expires_at: float


def user_and_host(uri: str) -> tuple[str, str] | None:
    match = _USER_HOST.match(uri.strip())
    return (match.group(1), match.group(2).lower()) if match else None


class Registrar:
    def __init__(
        self, *, domain: str, secret: bytes, clock: Callable[[], float], nonces: digest.Nonces
    ) -> None:
        self.domain = domain.lower()
        self._secret = secret
        self._clock = clock
        self._nonces = nonces
        self._bindings: dict[int, Binding] = {}

    def binding(self, agent_id: int) -> Binding | None:
        binding = self._bindings.get(agent_id)
        if binding is not None and binding.expires_at <= self._clock():
            del self._bindings[agent_id]
            return None
        return binding

    def bindings_of(self, peer: Peer) -> list[Binding]:
        return [b for b in self._bindings.values() if b.peer is peer]

    def forget(self, peer: Peer) -> None:
        """The peer is gone: its bindings go with it."""
        for agent_id in [b.agent_id for b in self.bindings_of(peer)]:
            del self._bindings[agent_id]

    def register(self, request: SipMessage, peer: Peer) -> SipMessage:
        """The response to a REGISTER that came in on ``peer``."""
        aor = user_and_host(uri_of(request.get("To") or ""))
        if aor is None:
            return build_response(request, 400, "Bad To", new_tag())
        user, host = aor
        if host != self.domain:
            return build_response(request, 403, "Not This Domain", new_tag())
        agent_id = webphone.agent_id_of(user)
        if agent_id is None:
            return build_response(request, 404, "Not A Browser Phone", new_tag())
        now = self._clock()
        checked = digest.check(
            request.get("Authorization"),
            method="REGISTER",
            aor_user=user,
            realm=self.domain,
            secret=self._secret,
            nonces=self._nonces,
            now=now,
        )
        if checked.verdict in (digest.Verdict.MISSING, digest.Verdict.STALE):
            response = build_response(request, 401, "Unauthorized", new_tag())
            stale = checked.verdict is digest.Verdict.STALE
            response.add(
                "WWW-Authenticate",
                digest.challenge(self.domain, self._nonces.mint(now), stale=stale),
            )
            return response
        if checked.verdict is not digest.Verdict.OK:
            log.warning("browser phone %s refused on %s: %s", user, peer.label, checked.verdict)
            return build_response(request, 403, "Forbidden", new_tag())
        return self._bind(request, peer, agent_id, now)

    def _bind(self, request: SipMessage, peer: Peer, agent_id: int, now: float) -> SipMessage:
        contacts = request.get_all("Contact")
        default = _expires(request.get("Expires"), DEFAULT_EXPIRES_S)
        current = self._bindings.get(agent_id)
        response = build_response(request, 200, "OK", new_tag())
        if contacts == ["*"]:
            if default != 0:
                return build_response(request, 400, "Wildcard Needs Expires 0", new_tag())
            self._unbind(agent_id, peer)
            return response
        if len(contacts) != 1:
            return build_response(request, 400, "One Contact Per Phone", new_tag())
        contact = contacts[0]
        expires = _expires(header_param(contact, "expires"), default)
        uri = uri_of(contact)
        if expires == 0:
            if current is not None and current.contact == uri:
                self._unbind(agent_id, peer)
            return response
        expires = min(max(expires, MIN_EXPIRES_S), MAX_EXPIRES_S)
        if current is None or current.peer is not peer:
            log.info("browser phone agent-%s registered on %s", agent_id, peer.label)
        self._bindings[agent_id] = Binding(agent_id, uri, peer, now + expires)
        response.add("Contact", f"{_without_expires(contact)};expires={expires}")
        return response

    def _unbind(self, agent_id: int, peer: Peer) -> None:
        current = self._bindings.get(agent_id)
        if current is not None and current.peer is peer:
            del self._bindings[agent_id]
            log.info("browser phone agent-%s unregistered", agent_id)


def _expires(value: str | None, default: int) -> int:
    if value is None:
        return default
    try:
        return max(0, int(value.strip()))
    except ValueError:
        return default


def _without_expires(contact: str) -> str:
    head, sep, params = contact.partition(">")
    kept = [p for p in params.split(";") if p and not p.strip().lower().startswith("expires")]
    return head + sep + "".join(";" + p for p in kept)
