"""REGISTER toward the trunk or PBX: one binding, refreshed before it lapses.

Every REGISTER of a :class:`Registration` reuses one Call-ID and From tag
with a rising CSeq (RFC 3261 10.2.4), so the registrar sees refreshes of one
binding. Digest challenges (401/407) are answered; a second challenge for
the same realm that is not ``stale`` means the registrar refused our
credentials, which is said in those words. ``423 Interval Too Brief`` is
answered once with the registrar's Min-Expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from dialer.carrier import utc_now
from dialer.sip import auth
from dialer.sip.message import SipMessage, header_param, new_tag, uri_host_port, uri_of
from dialer.sip.ua import TransactionTimeout, UserAgent

log = logging.getLogger(__name__)

RegistrationPhase = Literal["off", "registering", "registered", "failed"]


@dataclass(frozen=True)
class RegistrationState:
    phase: RegistrationPhase
    detail: str = ""
    expires_at: datetime | None = None
    changed_at: datetime | None = None


class RegistrationFailed(Exception):
    """The registrar did not grant the binding; the message says why."""


class Registration:
    def __init__(
        self,
        ua: UserAgent,
        *,
        expires_s: int,
        retry_after_s: float = 30.0,
    ) -> None:
        self.ua = ua
        self.expires_s = expires_s
        self.retry_after_s = retry_after_s
        self.state = RegistrationState("registering", "not yet sent", changed_at=utc_now())
        self._call_id = f"{secrets.token_hex(10)}@callcenter"
        self._tag = new_tag()
        self._cseq = 0

    @property
    def registered(self) -> bool:
        return self.state.phase == "registered"

    async def register(self) -> int:
        """One REGISTER exchange; the granted expiry in seconds, 0 when refused."""
        try:
            granted = await self._exchange(self.expires_s)
        except (TransactionTimeout, auth.DigestError, RegistrationFailed) as exc:
            self._set("failed", f"REGISTER failed: {exc}")
            log.error("registration with %s failed: %s", self._registrar, exc)
            return 0
        until = utc_now() + timedelta(seconds=granted)
        if not self.registered:
            log.info("registered with %s for %d s", self._registrar, granted)
        self._set("registered", f"registered for {granted} s", expires_at=until)
        return granted

    async def keep_registered(self, granted: int) -> None:
        """Refresh before the binding lapses; after a failure, try again later."""
        while True:
            await asyncio.sleep(granted * 0.8 if granted else self.retry_after_s)
            granted = await self.register()

    async def unregister(self, limit_s: float = 2.0) -> None:
        """Remove our binding (Expires: 0), bounded: a dead registrar does not hold a stop."""
        if not self.registered:
            return
        detail = "unregistered"
        try:
            await asyncio.wait_for(self._exchange(0), limit_s)
        except TimeoutError:
            detail = f"stopped; the registrar did not confirm the unregister in {limit_s:g} s"
        except (TransactionTimeout, auth.DigestError, RegistrationFailed) as exc:
            detail = f"stopped; unregister failed: {exc}"
        self._set("off", detail)

    # one exchange ---------------------------------------------------------------------------

    @property
    def _registrar(self) -> str:
        return self.ua.trunk_target()

    async def _exchange(self, expires: int) -> int:
        cfg = self.ua.config
        resp = await self._send(expires, None)
        answered_realms: set[str] = set()
        interval_retried = False
        while True:
            status = resp.status or 0
            if 200 <= status < 300:
                return self._granted(resp, expires)
            if status in (401, 407):
                challenge = self._challenge(resp)
                if cfg.username is None or cfg.password is None:
                    raise RegistrationFailed(
                        f"{status} {resp.reason}: the registrar asks for credentials "
                        f"(realm {challenge.realm!r}); set dialer.sip.username and password"
                    )
                if challenge.realm in answered_realms and not challenge.stale:
                    raise RegistrationFailed(
                        f"{status} {resp.reason}: wrong username or password "
                        f"for realm {challenge.realm!r} (user {cfg.username!r})"
                    )
                answered_realms.add(challenge.realm)
                reply = "Authorization" if status == 401 else "Proxy-Authorization"
                answer = auth.authorization_header(
                    challenge,
                    username=cfg.username,
                    password=cfg.password,
                    method="REGISTER",
                    uri=self._registrar,
                )
                resp = await self._send(expires, (reply, answer))
                continue
            if status == 423 and not interval_retried and resp.get("Min-Expires"):
                interval_retried = True
                with contextlib.suppress(ValueError):
                    expires = int(resp.get("Min-Expires") or "")
                    self.expires_s = expires
                resp = await self._send(expires, None)
                continue
            if status == 403:
                raise RegistrationFailed(
                    f"403 {resp.reason}: the registrar refuses user {cfg.username!r}"
                )
            raise RegistrationFailed(f"refused: {status} {resp.reason}")

    def _challenge(self, resp: SipMessage) -> auth.Challenge:
        header = "WWW-Authenticate" if resp.status == 401 else "Proxy-Authenticate"
        realm = self.ua.config.realm
        problems: list[str] = []
        for value in resp.get_all(header):
            try:
                challenge = auth.parse_challenge(value)
            except auth.DigestError as exc:
                problems.append(str(exc))
                continue
            if realm and challenge.realm != realm:
                problems.append(f"realm {challenge.realm!r} is not the configured {realm!r}")
                continue
            return challenge
        raise auth.DigestError("; ".join(problems) or f"{resp.status} without a {header} header")

    def _granted(self, resp: SipMessage, asked: int) -> int:
        """The expiry the registrar gave our Contact (RFC 3261 10.2.4)."""
        ours = uri_of(self.ua.contact())
        for contact in resp.get_all("Contact"):
            if uri_of(contact) == ours:
                value = header_param(contact, "expires")
                if value is not None:
                    with contextlib.suppress(ValueError):
                        return int(value)
        with contextlib.suppress(TypeError, ValueError):
            return int(resp.get("Expires") or "")
        return asked

    async def _send(self, expires: int, authorization: tuple[str, str] | None) -> SipMessage:
        return await self.ua.request(self._request(expires, authorization), self.ua.trunk_address)

    def _request(self, expires: int, authorization: tuple[str, str] | None) -> SipMessage:
        cfg = self.ua.config
        user = cfg.username or "dialer"
        aor = f"<sip:{user}@{cfg.domain or uri_host_port(cfg.trunk_uri)[0]}>"
        self._cseq += 1
        msg = SipMessage(method="REGISTER", uri=self._registrar)
        msg.add("Via", self.ua.via())
        if cfg.outbound_proxy:
            msg.add("Route", f"<{cfg.outbound_proxy};lr>")
        msg.add("Max-Forwards", "70")
        msg.add("From", f"{aor};tag={self._tag}")
        msg.add("To", aor)
        msg.add("Call-ID", self._call_id)
        msg.add("CSeq", f"{self._cseq} REGISTER")
        msg.add("Contact", self.ua.contact())
        msg.add("Expires", str(expires))
        msg.add("User-Agent", cfg.user_agent)
        if authorization is not None:
            msg.add(*authorization)
        return msg

    def _set(
        self, phase: RegistrationPhase, detail: str, expires_at: datetime | None = None
    ) -> None:
        self.state = replace(
            self.state, phase=phase, detail=detail, expires_at=expires_at, changed_at=utc_now()
        )
