"""OPTIONS toward the trunk: is it there, and how far away.

With keepalives on, an OPTIONS goes out every interval; with them off, only
while the trunk is unhealthy (nothing is dialed then, so a probe is the only
way to learn it is back). Many trunks never answer OPTIONS at all: an
unanswered OPTIONS counts against the trunk's health only once the trunk has
answered one, so such a trunk is judged by its calls alone and never held
for ignoring a keepalive.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from dialer.carrier import utc_now
from dialer.sip.message import SipMessage, new_tag, uri_host_port
from dialer.sip.ua import TransactionTimeout, UserAgent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OptionsState:
    enabled: bool
    answered_ever: bool = False
    last_status: int | None = None
    last_reason: str = ""
    last_rtt_ms: float | None = None
    last_at: datetime | None = None
    unanswered: int = 0
    """OPTIONS left unanswered in a row."""


class OptionsProbe:
    def __init__(
        self, ua: UserAgent, *, interval_s: float | None, unhealthy_probe_s: float
    ) -> None:
        self.ua = ua
        self.interval_s = interval_s
        self.unhealthy_probe_s = unhealthy_probe_s
        self.state = OptionsState(enabled=bool(interval_s))

    async def run(self) -> None:
        interval = self.interval_s or self.unhealthy_probe_s
        while True:
            if self.interval_s or not self.ua.health().healthy:
                await self.probe()
            await asyncio.sleep(interval)

    async def probe(self) -> None:
        loop = asyncio.get_running_loop()
        sent = loop.time()
        try:
            resp = await self.ua.request(
                self._options(), self.ua.trunk_address, counts_for_health=False
            )
        except TransactionTimeout as exc:
            self._unanswered(str(exc))
            return
        self.state = OptionsState(
            enabled=self.state.enabled,
            answered_ever=True,
            last_status=resp.status,
            last_reason=resp.reason or "",
            last_rtt_ms=round((loop.time() - sent) * 1000, 1),
            last_at=utc_now(),
        )

    def _unanswered(self, why: str) -> None:
        state = self.state
        self.state = OptionsState(
            enabled=state.enabled,
            answered_ever=state.answered_ever,
            last_reason=why,
            last_at=utc_now(),
            unanswered=state.unanswered + 1,
        )
        if state.answered_ever:
            self.ua.mark_unhealthy("OPTIONS keepalive to the trunk timed out")
        elif state.unanswered == 0:
            log.warning(
                "the trunk does not answer OPTIONS (%s); its health is judged by its calls", why
            )

    def _options(self) -> SipMessage:
        cfg = self.ua.config
        domain = cfg.domain or uri_host_port(cfg.trunk_uri)[0]
        msg = SipMessage(method="OPTIONS", uri=self.ua.trunk_target())
        msg.add("Via", self.ua.via())
        if cfg.outbound_proxy:
            msg.add("Route", f"<{cfg.outbound_proxy};lr>")
        msg.add("Max-Forwards", "70")
        msg.add("From", f"<sip:{cfg.username or 'dialer'}@{domain}>;tag={new_tag()}")
        msg.add("To", f"<{cfg.trunk_uri}>")
        msg.add("Call-ID", f"{secrets.token_hex(10)}@callcenter")
        msg.add("CSeq", "1 OPTIONS")
        msg.add("User-Agent", cfg.user_agent)
        return msg
