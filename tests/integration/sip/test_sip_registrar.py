"""Registration, digest auth and keepalives against kamailio as the trunk's
registrar and proxy on another host (the dialer binds every address, as by
default, and finds its own): REGISTER answered 401 then 200 and refreshed, INVITE
answered 407 then relayed to the carrier (sipp), a wrong password said in
words, and a trunk that never answers OPTIONS still dialed."""

from __future__ import annotations

import asyncio
import re

import pytest

from dialer.carrier import OriginateRequest
from dialer.sip.trunk import SipTrunk, SipTrunkConfig
from dialer.sip.ua import Timers, UaConfig
from tests.integration.sip.conftest import HOST, free_udp_port
from tests.integration.sip.helpers import Recorder
from tests.integration.sip.kamailio import registrar_config, start_kamailio

pytestmark = pytest.mark.sipp

FAST = Timers(t1=0.05, t2=0.2, t4=0.3)
# An unanswered OPTIONS counts after its Timer F, 64 x T1: 1.28 s, not 3.2 s.
FASTER = Timers(t1=0.02, t2=0.08, t4=0.1)


@pytest.fixture
def registrar(tmp_path, sipp, netns):
    """On another host (a network namespace): kamailio asking for user "dialer"
    / "s3cret", relaying INVITEs to a sipp carrier beside it."""
    started = []

    def start(carrier_scenario: str = "uas_answer_local_bye.xml", **options):
        ns = netns("10.231.16", "ccr")
        carrier = sipp(carrier_scenario, netns=ns, port=5070)
        config = registrar_config(
            ns.peer_address, 5060, carrier=f"{ns.peer_address}:{carrier.port}", **options
        )
        workdir = tmp_path / "kamailio"
        proxy = start_kamailio(config, workdir, ns.peer_address, 5060, wrapper=ns.command([]))
        started.append(proxy)
        return proxy, carrier

    yield start
    for proxy in started:
        proxy.stop()


async def _until(condition, limit_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not condition() and loop.time() < deadline:
        await asyncio.sleep(0.02)


def _trunk(uri: str, password: str = "s3cret", timers: Timers = FAST, **config: object) -> SipTrunk:
    ua = UaConfig(trunk_uri=uri, username="dialer", password=password, timers=timers)
    options = {"register": True, "register_expires_s": 2, "keepalive_interval_s": None}
    options.update(config)
    return SipTrunk(SipTrunkConfig(ua=ua, **options))  # type: ignore[arg-type]


async def _call(trunk: SipTrunk, hold_s: float = 0.3) -> Recorder:
    rec = Recorder()
    await trunk.originate(OriginateRequest("call-1", "+989121234567", "+982100000000", 8), rec)
    await asyncio.wait_for(rec.answered.wait(), 10)
    await asyncio.sleep(hold_s)
    await trunk.hang_up("call-1")
    await asyncio.wait_for(rec.ended.wait(), 10)
    return rec


def test_registers_refreshes_and_calls_through_an_authenticating_registrar(registrar):
    proxy, carrier = registrar()

    async def go():
        trunk = _trunk(proxy.uri)
        await trunk.start()
        registered = trunk.status()
        first_until = registered.registered_until
        await _until(lambda: trunk.status().registered_until != first_until, 5)
        refreshed = trunk.status()
        rec = await _call(trunk)
        await trunk.stop()
        return registered, refreshed, rec, trunk.status()

    registered, refreshed, rec, stopped = asyncio.run(go())
    assert registered.registration == "registered", registered
    assert registered.healthy
    assert refreshed.registration == "registered"
    assert refreshed.registered_until > registered.registered_until
    assert (rec.final.outcome, rec.final.sip_status) == ("answered", 200)
    assert (stopped.registration, stopped.registration_detail) == ("off", "unregistered")
    assert carrier.wait() == 0, carrier.errors()
    invite = carrier.messages().split("INVITE sip:", 1)[1]
    assert re.search(r"^Proxy-Authorization: Digest username=\"dialer\"", invite, re.M)
    assert "s3cret" not in carrier.messages()


def test_a_wrong_password_is_named_and_holds_dialing(registrar):
    proxy, carrier = registrar()

    async def go():
        trunk = _trunk(proxy.uri, password="not-the-password")
        await trunk.start()
        status, health = trunk.status(), trunk.health()
        await trunk.stop()
        return status, health

    status, health = asyncio.run(go())
    carrier.process.kill()
    assert status.registration == "failed"
    assert "wrong username or password for realm 'registrar.test'" in status.registration_detail
    assert not health.healthy and "wrong username or password" in health.reason
    assert "not-the-password" not in status.registration_detail + health.reason


def test_a_trunk_that_never_answers_options_is_still_dialed(registrar):
    proxy, carrier = registrar(answer_options=False)

    async def go():
        trunk = _trunk(proxy.uri, timers=FASTER, register=False, keepalive_interval_s=0.1)
        await trunk.start()
        await _until(lambda: trunk.options.state.unanswered >= 2)
        quiet = trunk.status()
        rec = await _call(trunk)
        await trunk.stop()
        return quiet, rec

    quiet, rec = asyncio.run(go())
    assert quiet.options == "never answered"
    assert quiet.healthy, quiet.reason
    assert (rec.final.outcome, rec.final.sip_status) == ("answered", 200)
    assert carrier.wait() == 0, carrier.errors()


def test_a_trunk_silent_to_calls_and_options_is_tried_again_after_the_probe_interval():
    port = free_udp_port()  # nobody there

    async def go():
        ua = UaConfig(trunk_uri=f"sip:{HOST}:{port}", local_host=HOST, timers=Timers(t1=0.02))
        config = SipTrunkConfig(ua=ua, keepalive_interval_s=None, unhealthy_probe_s=0.5)
        trunk = SipTrunk(config)
        await trunk.start()
        for number in range(ua.unhealthy_after):
            request = OriginateRequest(f"call-{number}", "+989121234567", "+982100000000", 5)
            await trunk.originate(request, lambda _progress: None)
        await _until(lambda: not trunk.health().healthy)
        held = trunk.health()
        await _until(lambda: trunk.health().healthy)
        trying = trunk.health()
        await trunk.stop()
        return held, trying

    held, trying = asyncio.run(go())
    assert not held.healthy and "did not answer 3 requests in a row" in held.reason
    assert trying.healthy and trying.reason.startswith("trying the trunk again")
