"""Drive one call through a real SipTrunk and collect its progress events."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from dialer.carrier import CallProgress, OriginateRequest
from dialer.sip.trunk import SipTrunk, SipTrunkConfig
from dialer.sip.ua import Timers, UaConfig

FAST = Timers(t1=0.1, t2=0.4, t4=0.5)


@dataclass
class Recorder:
    events: list[CallProgress] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    answered: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, progress: CallProgress) -> None:
        self.events.append(progress)
        if progress.phase == "answered":
            self.answered.set()
        if progress.phase == "ended":
            self.ended.set()

    @property
    def phases(self) -> list[str]:
        return [e.phase for e in self.events]

    @property
    def final(self) -> CallProgress:
        assert self.events and self.events[-1].phase == "ended", self.phases
        return self.events[-1]


def trunk_for(uri: str, **ua: object) -> SipTrunk:
    timers = ua.pop("timers", FAST)
    config = UaConfig(trunk_uri=uri, timers=timers, **ua)  # type: ignore[arg-type]
    return SipTrunk(SipTrunkConfig(ua=config, keepalive_interval_s=None))


def place_call(
    uri: str,
    ring_timeout_s: float = 8.0,
    while_answered: Callable[[SipTrunk, str], Awaitable[None]] | None = None,
    during: Callable[[SipTrunk], Awaitable[None]] | None = None,
    **ua: object,
) -> tuple[Recorder, SipTrunk]:
    async def go() -> tuple[Recorder, SipTrunk]:
        trunk = trunk_for(uri, **ua)
        await trunk.start()
        rec = Recorder()
        try:
            request = OriginateRequest("call-1", "+989121234567", "+982100000000", ring_timeout_s)
            await trunk.originate(request, rec)
            if during is not None:
                await during(trunk)
            if while_answered is not None:
                await asyncio.wait_for(rec.answered.wait(), 15)
                await while_answered(trunk, "call-1")
            await asyncio.wait_for(rec.ended.wait(), 20)
            await asyncio.sleep(0.2)  # let late retransmissions be answered
        finally:
            await trunk.stop()
        return rec, trunk

    return asyncio.run(go())
