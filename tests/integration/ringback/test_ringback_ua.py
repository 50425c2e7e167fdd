"""The user agent's side of a customer ringing back, against a real sipp UAC:
a caller who hangs up before we answer gets 200 to the CANCEL and 487 to
the INVITE, and the call ends unanswered."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

from dialer.carrier import Outcome
from dialer.sip.message import SipMessage
from dialer.sip.transport import Address
from dialer.sip.ua import Call, CallEvent, UaConfig, UserAgent
from tests.integration.sip.conftest import HOST, free_udp_port
from tests.integration.sip.helpers import FAST

pytestmark = pytest.mark.sipp

HERE = Path(__file__).parent


def test_a_caller_who_hangs_up_before_the_answer_gets_487(tmp_path: Path) -> None:
    binary = shutil.which("sipp")
    assert binary is not None, "sipp is not installed (Debian package sip-tester)"
    events: list[CallEvent] = []

    async def go() -> tuple[int, Call]:
        port = free_udp_port()
        ua = UserAgent(
            UaConfig(trunk_uri=f"sip:{HOST}:{free_udp_port()}", local_host=HOST,
                     local_port=port, timers=FAST)
        )  # fmt: skip
        await ua.start()
        taken: list[Call] = []

        def on_invite(req: SipMessage, addr: Address) -> bool:
            # Taken, but not answered yet (the worker is still deciding).
            taken.append(ua.answer_invite(req, addr, "c1", lambda _c, e: events.append(e)))
            return True

        ua.on_invite = on_invite
        customer = await asyncio.create_subprocess_exec(
            binary, f"{HOST}:{port}", "-sf", str(HERE / "uac_customer_hangs_up_ringing.xml"),
            "-s", "02188776655", "-key", "caller", "09121234567", "-i", HOST,
            "-p", str(free_udp_port()), "-m", "1", "-nostdin", "-timeout", "20s",
            "-timeout_error", "-trace_err", cwd=tmp_path,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            status = await asyncio.wait_for(customer.wait(), 30)
            (call,) = taken
            await asyncio.wait_for(call.run(), 10)  # the decision comes late
        finally:
            await ua.stop()
        return status, call

    status, call = asyncio.run(go())
    assert status == 0, list(tmp_path.glob("*errors.log"))
    assert call.ended is not None
    assert (call.ended.outcome, call.ended.sip_status) == (Outcome.NO_ANSWER, 487)
    assert [event.phase for event in events] == ["dialing", "ended"]
