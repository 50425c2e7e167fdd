"""Digest checks for the browsers' REGISTER (RFC 2617 / RFC 3261 section 22):
stateless nonces the gateway can verify (signed, with the time they were
minted), and the check of an Authorization header against the ephemeral
password of its username (:mod:`callcenter.webphone`)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from callcenter import webphone
from dialer.sip.auth import Challenge, digest_response
from dialer.sip.message import split_header_values

NONCE_TTL_S = 300


class Verdict(StrEnum):
    OK = "ok"
    MISSING = "missing"  # no credentials: challenge
    STALE = "stale"  # right password, old nonce: challenge again with stale=true
    MALFORMED = "malformed"
    EXPIRED_OR_BAD_USERNAME = "bad username"
    WRONG_AGENT = "wrong agent"  # credentials of another agent than the AOR
    WRONG_REALM = "wrong realm"
    WRONG_PASSWORD = "wrong password"


@dataclass(frozen=True)
class Checked:
    verdict: Verdict
    phone_user: str | None = None  # agent-<id>, when OK


class Nonces:
    """Nonces that carry their minting time and a MAC; no state to keep."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def mint(self, now: float) -> str:
        stamp = f"{int(now):x}.{secrets.token_hex(4)}"
        return f"{stamp}.{self._mac(stamp)}"

    def fresh(self, nonce: str, now: float) -> bool | None:
        """True if ours and young, False if ours and too old, None if not ours."""
        stamp, _, mac = nonce.rpartition(".")
        if not stamp or not hmac.compare_digest(mac, self._mac(stamp)):
            return None
        try:
            minted = int(stamp.split(".", 1)[0], 16)
        except ValueError:
            return None
        return 0 <= now - minted <= NONCE_TTL_S

    def _mac(self, stamp: str) -> str:
        return hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:32]


def challenge(realm: str, nonce: str, *, stale: bool = False) -> str:
    value = f'Digest realm="{realm}", nonce="{nonce}", qop="auth", algorithm=MD5'
    return value + ", stale=true" if stale else value


def parse_authorization(value: str) -> dict[str, str] | None:
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    params: dict[str, str] = {}
    for item in split_header_values(rest):
        key, sep, val = item.partition("=")
        if not sep:
            return None
        params[key.strip().lower()] = val.strip().strip('"')
    return params


def check(
    authorization: str | None,
    *,
    method: str,
    aor_user: str,
    realm: str,
    secret: bytes,
    nonces: Nonces,
    now: float,
) -> Checked:
    """Whether ``authorization`` proves the caller holds unexpired credentials
    of the phone user ``aor_user`` (the user part of the To of the REGISTER)."""
    if authorization is None:
        return Checked(Verdict.MISSING)
    params = parse_authorization(authorization)
    needed = ("username", "realm", "nonce", "uri", "response")
    if params is None or any(not params.get(key) for key in needed):
        return Checked(Verdict.MALFORMED)
    if params["realm"] != realm:
        return Checked(Verdict.WRONG_REALM)
    if params.get("algorithm", "MD5").upper() != "MD5":
        return Checked(Verdict.MALFORMED)
    qop = params.get("qop")
    if qop not in (None, "auth") or (qop and not (params.get("nc") and params.get("cnonce"))):
        return Checked(Verdict.MALFORMED)
    username = params["username"]
    phone_user = webphone.phone_user_of(username, now=now)
    if phone_user is None:
        return Checked(Verdict.EXPIRED_OR_BAD_USERNAME)
    if phone_user != aor_user:
        return Checked(Verdict.WRONG_AGENT)
    fresh = nonces.fresh(params["nonce"], now)
    if fresh is None:
        return Checked(Verdict.MISSING)  # not our nonce: a new challenge
    try:
        nc = int(params.get("nc", "1"), 16)
    except ValueError:
        return Checked(Verdict.MALFORMED)
    expected = digest_response(
        Challenge(realm=realm, nonce=params["nonce"], qop=(qop,) if qop else ()),
        username=username,
        password=webphone.password_for(secret, username),
        method=method,
        uri=params["uri"],
        cnonce=params.get("cnonce", ""),
        nc=nc,
    )
    if not hmac.compare_digest(expected, params["response"].lower()):
        return Checked(Verdict.WRONG_PASSWORD)
    return Checked(Verdict.OK, phone_user) if fresh else Checked(Verdict.STALE)
