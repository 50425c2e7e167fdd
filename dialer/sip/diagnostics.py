"""``callcenter call test NUMBER``: one real call with the dialer's own SIP
settings, every message sent and received printed (retransmissions marked),
the outcome and its cause last. Exit code 0 only when the call was answered.

The password never reaches the output: only digest answers go on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import sys
from collections.abc import Callable
from typing import TextIO

from dialer.carrier import CallProgress, OriginateRequest
from dialer.sip.message import SipMessage, quoted_display_name
from dialer.sip.trunk import SipTrunk, SipTrunkConfig

# A hostile peer's bytes must not drive the terminal: control characters are shown escaped.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def run_test_call(
    number: str,
    config: SipTrunkConfig,
    *,
    ring_timeout_s: float = 30.0,
    hold_s: float = 3.0,
    out: TextIO | None = None,
) -> int:
    """Place one call to ``number`` (E.164); an answered call is held for
    ``hold_s`` seconds and then hung up by us. Returns the exit code."""
    write = (out or sys.stdout).write
    return asyncio.run(_test_call(number, config, ring_timeout_s, hold_s, write))


def _printable(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _tracer(transport: str, write: Callable[[str], object]) -> Callable[..., None]:
    def trace(direction: str, msg: SipMessage, addr: tuple[str, int], retransmission: bool) -> None:
        head = f"{direction} {addr[0]}:{addr[1]} {transport}"
        if retransmission:
            write(f"{head} (retransmission) {_printable(msg.summary())}\n")
            return
        write(f"{head}  {_printable(msg.summary())}\n")
        text = msg.to_bytes().decode("utf-8", errors="replace")
        for line in text.rstrip("\r\n").split("\r\n"):
            write(f"    {_printable(line)}\n")

    return trace


def _describe(config: SipTrunkConfig, trunk: SipTrunk) -> str:
    ua = config.ua
    bound = "{}:{}".format(*trunk.ua.local_address)
    advertised = "{}:{}".format(*trunk.ua.advertised_address)
    caller_uri = f"<{config.caller_id}>"
    lines = [
        f"trunk {ua.trunk_uri} over {ua.transport.upper()}, "
        f"bound {bound}, advertising {advertised} (media {trunk.ua.media_host})",
        f"outbound proxy {ua.outbound_proxy or '-'}; user {ua.username or '-'}, "
        f"password {'set' if ua.password else '-'}, realm {ua.realm or 'any'}; "
        f"register {'yes' if config.register else 'no'}; "
        "caller "
        + " ".join(filter(None, [quoted_display_name(config.caller_name or ""), caller_uri])),
    ]
    return "".join(f"== {line}\n" for line in lines)


async def _test_call(
    number: str,
    config: SipTrunkConfig,
    ring_timeout_s: float,
    hold_s: float,
    write: Callable[[str], object],
) -> int:
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

    trunk = SipTrunk(config, trace=_tracer(config.ua.transport.upper(), write))
    try:
        await trunk.start()
    except OSError as exc:
        write(
            f"cannot start SIP on {config.ua.local_host}:{config.ua.local_port} "
            f"toward {config.ua.trunk_uri}: {exc}\n"
        )
        return 1
    write(_describe(config, trunk))
    health = trunk.health()
    if not health.healthy:
        write(f"== trunk unhealthy: {health.reason}\n")
    call_id = f"test-{secrets.token_hex(4)}"
    try:
        await trunk.originate(OriginateRequest(call_id, number, "", ring_timeout_s), on_progress)
        await answered_or_ended.wait()
        if answered.is_set() and not ended.done():
            with contextlib.suppress(TimeoutError):  # the far end may hang up first
                await asyncio.wait_for(asyncio.shield(ended), hold_s)
            await trunk.hang_up(call_id)
        result = await asyncio.wait_for(ended, config.ua.timers.b + ring_timeout_s)
    finally:
        await trunk.stop()
    write(f"outcome: {result.outcome} (SIP {result.sip_status or '-'} {result.sip_reason or ''})\n")
    if trunk.ua.seen_as is not None:
        write(
            "NAT: the trunk sees us at {}:{}, we advertise {}:{}; "
            "set dialer.sip.public_host / public_port (--public-address)\n".format(
                *trunk.ua.seen_as, *trunk.ua.advertised_address
            )
        )
    return 0 if result.outcome == "answered" else 1
