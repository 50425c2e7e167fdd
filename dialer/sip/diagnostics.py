"""``callcenter call test NUMBER [--trunk URI]``: one real call, every SIP step printed."""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Callable
from typing import TextIO

from dialer.carrier import CallProgress, OriginateRequest
from dialer.sip.message import SipMessage
from dialer.sip.trunk import SipTrunk, SipTrunkConfig
from dialer.sip.ua import UaConfig


def run_test_call(
    number: str,
    trunk_uri: str,
    *,
    caller_id: str = "anonymous",
    username: str | None = None,
    password: str | None = None,
    ring_timeout_s: float = 30.0,
    local_host: str = "127.0.0.1",
    hold_s: float = 3.0,
    out: TextIO | None = None,
) -> int:
    """Place one call, print each SIP message and the outcome; exit code 0 if answered.

    An answered call is held for ``hold_s`` seconds and then hung up by us.
    """
    stream = out or sys.stdout
    config = SipTrunkConfig(
        ua=UaConfig(
            trunk_uri=trunk_uri, local_host=local_host, username=username, password=password
        ),
        keepalive_interval_s=None,
    )
    return asyncio.run(_test_call(number, caller_id, ring_timeout_s, hold_s, config, stream.write))


async def _test_call(
    number: str,
    caller_id: str,
    ring_timeout_s: float,
    hold_s: float,
    config: SipTrunkConfig,
    write: Callable[[str], object],
) -> int:
    def trace(direction: str, msg: SipMessage, addr: tuple[str, int]) -> None:
        write(f"{direction} {addr[0]}:{addr[1]}  {msg.summary()}\n")

    ended: asyncio.Future[CallProgress] = asyncio.get_running_loop().create_future()
    answered = asyncio.Event()
    answered_or_ended = asyncio.Event()

    def on_progress(progress: CallProgress) -> None:
        write(f"== {progress.phase}" + (f" {progress.sip_status}" if progress.sip_status else ""))
        write(f" ({progress.sip_reason})\n" if progress.sip_reason else "\n")
        if progress.phase == "answered":
            answered.set()
            answered_or_ended.set()
        if progress.phase == "ended" and not ended.done():
            ended.set_result(progress)
            answered_or_ended.set()

    trunk = SipTrunk(config, trace=trace)
    await trunk.start()
    call_id = f"test-{secrets.token_hex(4)}"
    try:
        await trunk.originate(
            OriginateRequest(call_id, number, caller_id, ring_timeout_s), on_progress
        )
        await answered_or_ended.wait()
        if answered.is_set() and not ended.done():
            await asyncio.sleep(hold_s)
            await trunk.hang_up(call_id)
        result = await asyncio.wait_for(ended, config.ua.timers.b + ring_timeout_s)
    finally:
        await trunk.stop()
    write(f"outcome: {result.outcome} (SIP {result.sip_status or '-'} {result.sip_reason or ''})\n")
    return 0 if result.outcome == "answered" else 1
