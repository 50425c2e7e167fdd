"""The registrar's digest checks and bindings, with credentials minted the
way the web app mints them (callcenter.webphone)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from callcenter import webphone
from dialer.sip.auth import authorization_header, parse_challenge
from dialer.sip.message import SipMessage
from dialer.webphone.digest import NONCE_TTL_S, Nonces
from dialer.webphone.registrar import MAX_EXPIRES_S, MIN_EXPIRES_S, Registrar

SECRET = b"registrar test secret"
DOMAIN = "webphone.invalid"
NOW = 1_800_000_000.0


@dataclass
class Peer:
    label: str


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def register(
    agent: str = "agent-7",
    *,
    expires: str | None = "600",
    contact: str = "<sip:k2j3@x9.invalid;transport=ws>",
    authorization: str | None = None,
) -> SipMessage:
    msg = SipMessage(method="REGISTER", uri=f"sip:{DOMAIN}")
    msg.add("Via", "SIP/2.0/WSS x9.invalid;branch=z9hG4bK1")
    msg.add("From", f"<sip:{agent}@{DOMAIN}>;tag=a")
    msg.add("To", f"<sip:{agent}@{DOMAIN}>")
    msg.add("Call-ID", "reg-1")
    msg.add("CSeq", "1 REGISTER")
    msg.add("Contact", contact)
    if expires is not None:
        msg.add("Expires", expires)
    if authorization is not None:
        msg.add("Authorization", authorization)
    return msg


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registrar(clock: Clock) -> Registrar:
    return Registrar(domain=DOMAIN, secret=SECRET, clock=clock, nonces=Nonces(b"k" * 32))


def answered(
    registrar: Registrar,
    peer: Peer,
    *,
    agent_id: int = 7,
    aor: str = "agent-7",
    password: str | None = None,
    username: str | None = None,
    **fields: str,
) -> SipMessage:
    """REGISTER, take the challenge, answer it with (by default) good credentials."""
    first = registrar.register(register(aor, **fields), peer)
    assert first.status == 401
    challenge = parse_challenge(first.get("WWW-Authenticate") or "")
    credentials = webphone.mint(SECRET, agent_id, now=NOW, ttl_s=3600)
    header = authorization_header(
        challenge,
        username=username or credentials.username,
        password=password or credentials.password,
        method="REGISTER",
        uri=f"sip:{DOMAIN}",
    )
    return registrar.register(register(aor, authorization=header, **fields), peer)


def test_good_credentials_register_the_contact(registrar: Registrar) -> None:
    peer = Peer("ws#1")
    response = answered(registrar, peer)
    assert response.status == 200
    assert response.get("Contact") == "<sip:k2j3@x9.invalid;transport=ws>;expires=600"
    binding = registrar.binding(7)
    assert binding is not None and binding.peer is peer
    assert binding.contact == "sip:k2j3@x9.invalid;transport=ws"


def test_the_challenge_is_md5_with_qop_auth(registrar: Registrar) -> None:
    challenge = parse_challenge(registrar.register(register(), Peer("p")).get("WWW-Authenticate"))
    assert (challenge.realm, challenge.algorithm, challenge.qop) == (DOMAIN, "MD5", ("auth",))


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("wrong password", {"password": "bm90IHRoZSBwYXNzd29yZA=="}),
        ("expired username", {"username": f"{int(NOW) - 1}:agent-7"}),
        ("malformed username", {"username": "agent-7"}),
        ("another agent's credentials", {"agent_id": 8}),
    ],
)
def test_bad_credentials_are_forbidden_and_bind_nothing(
    registrar: Registrar, case: str, kwargs: dict[str, object]
) -> None:
    if "username" in kwargs:  # sign the odd username properly: only its form is wrong
        kwargs["password"] = webphone.password_for(SECRET, str(kwargs["username"]))
    response = answered(registrar, Peer("p"), **kwargs)  # type: ignore[arg-type]
    assert response.status == 403, case
    assert registrar.binding(7) is None and registrar.binding(8) is None


def test_a_nonce_from_elsewhere_is_challenged_again(registrar: Registrar) -> None:
    other = Registrar(domain=DOMAIN, secret=SECRET, clock=lambda: NOW, nonces=Nonces(b"o" * 32))
    challenge = parse_challenge(other.register(register(), Peer("p")).get("WWW-Authenticate"))
    credentials = webphone.mint(SECRET, 7, now=NOW, ttl_s=3600)
    header = authorization_header(
        challenge, username=credentials.username, password=credentials.password,
        method="REGISTER", uri=f"sip:{DOMAIN}",
    )  # fmt: skip
    assert registrar.register(register(authorization=header), Peer("p")).status == 401


def test_an_old_nonce_is_stale_not_forbidden(registrar: Registrar, clock: Clock) -> None:
    first = registrar.register(register(), Peer("p"))
    challenge = parse_challenge(first.get("WWW-Authenticate") or "")
    credentials = webphone.mint(SECRET, 7, now=NOW, ttl_s=3600)
    header = authorization_header(
        challenge, username=credentials.username, password=credentials.password,
        method="REGISTER", uri=f"sip:{DOMAIN}",
    )  # fmt: skip
    clock.now += NONCE_TTL_S + 1
    again = registrar.register(register(authorization=header), Peer("p"))
    assert again.status == 401
    assert "stale=true" in (again.get("WWW-Authenticate") or "")


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
        'Digest username="1:agent-7"',
        'Digest username="x", realm="other.invalid", nonce="n", uri="u", response="r"',
        'Digest username, realm="webphone.invalid"',
    ],
)
def test_malformed_authorization_is_forbidden(registrar: Registrar, authorization: str) -> None:
    response = registrar.register(register(authorization=authorization), Peer("p"))
    assert response.status == 403


def test_other_domains_and_non_agents_are_refused(registrar: Registrar) -> None:
    foreign = register()
    foreign.set("To", "<sip:agent-7@example.com>")
    assert registrar.register(foreign, Peer("p")).status == 403
    assert registrar.register(register("alice"), Peer("p")).status == 404


def test_a_newer_registration_replaces_the_older_connection(registrar: Registrar) -> None:
    first, second = Peer("ws#1"), Peer("ws#2")
    assert answered(registrar, first).status == 200
    assert answered(registrar, second, contact="<sip:zz@y.invalid;transport=ws>").status == 200
    binding = registrar.binding(7)
    assert binding is not None and binding.peer is second
    registrar.forget(first)  # the old tab closing does not unregister the new one
    assert registrar.binding(7) is not None
    registrar.forget(second)
    assert registrar.binding(7) is None


def test_expires_is_clamped_and_bindings_expire(registrar: Registrar, clock: Clock) -> None:
    answered(registrar, Peer("p"), expires="5")
    binding = registrar.binding(7)
    assert binding is not None and binding.expires_at == NOW + MIN_EXPIRES_S
    response = answered(registrar, Peer("p"), expires="999999")
    assert (response.get("Contact") or "").endswith(f";expires={MAX_EXPIRES_S}")
    clock.now += MAX_EXPIRES_S + 1
    assert registrar.binding(7) is None


def test_expires_zero_unregisters(registrar: Registrar) -> None:
    peer = Peer("p")
    answered(registrar, peer)
    assert answered(registrar, peer, expires="0").status == 200
    assert registrar.binding(7) is None


def test_a_wildcard_unregister_needs_expires_zero(registrar: Registrar) -> None:
    peer = Peer("p")
    answered(registrar, peer)
    assert answered(registrar, peer, contact="*", expires="60").status == 400
    assert answered(registrar, peer, contact="*", expires="0").status == 200
    assert registrar.binding(7) is None
