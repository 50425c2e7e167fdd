"""The browser phone on the production media path (deploy/webphone/), on a
real network: Chromium (JsSIP, a fake microphone saying 1000 Hz) registered
over WebSocket with Kamailio, rtpengine turning its DTLS-SRTP into RTP, our
dialer's SipTrunk calling that agent and a customer (baresip saying 600 Hz)
and bridging the two."""

from __future__ import annotations

import asyncio
import math
import statistics
import time
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dialer.carrier import AgentLegRequest, OriginateRequest
from dialer.sip.trunk import SipTrunk
from tests.integration.sip.helpers import Recorder
from tests.integration.sip.tone import read_wav_samples, tone_levels
from tests.integration.webphone_production.conftest import (
    AGENT_TONE_HZ,
    CUSTOMER_TONE_HZ,
    SECRET,
    Network,
    Relay,
)
from tests.integration.webphone_production.phone import (
    BrowserPhone,
    chromium,
    credentials,
    dialer_trunk,
    kill_chromium,
    open_phone,
)
from tests.integration.webphone_production.topology import (
    CUSTOMER_NUMBER,
    Customer,
    cut_browser_off,
    reconnect_browser,
    write_tone_wav,
)

pytestmark = [pytest.mark.browser, pytest.mark.sipp, pytest.mark.timeout(120)]

AGENT_ID = 7
CALLER_ID = "+982100000000"
OTHER_HZ = (400.0, 700.0, 1400.0, 2200.0)


@dataclass
class Bridged:
    trunk: SipTrunk
    agent_leg: str
    call_id: str
    agent: Recorder
    customer: Recorder


@asynccontextmanager
async def running_trunk(network: Network, customer: Customer) -> AsyncIterator[SipTrunk]:
    trunk = dialer_trunk(customer.uri, network.dialer_host)
    await trunk.start()
    try:
        yield trunk
    finally:
        await trunk.stop()


async def bridge_agent_and_customer(trunk: SipTrunk, relay: Relay, tag: str) -> Bridged:
    """The agent's nailed-up leg to the browser, a customer call, the bridge."""
    legs = Bridged(trunk, f"agent-leg-{tag}", f"cust-{tag}", Recorder(), Recorder())
    await trunk.connect_agent(
        AgentLegRequest(legs.agent_leg, relay.agent_uri(AGENT_ID)), legs.agent
    )
    await asyncio.wait_for(legs.agent.answered.wait(), 10)
    await trunk.originate(
        OriginateRequest(legs.call_id, CUSTOMER_NUMBER, CALLER_ID, 10), legs.customer
    )
    await asyncio.wait_for(legs.customer.answered.wait(), 10)
    await trunk.bridge(legs.call_id, legs.agent_leg)
    return legs


async def registered_phone(
    browser: Any,
    harness_url: str,
    relay: Relay,
    pc_config: dict[str, Any] | None = None,
    ws_url: str | None = None,
) -> BrowserPhone:
    phone = await open_phone(browser, harness_url)
    minted = credentials(SECRET, AGENT_ID)
    await phone.start(ws_url or relay.ws_url, minted, AGENT_ID, pc_config)
    state = await phone.until("phone.registered || phone.registrationFailures.length > 0")
    assert state["registered"], (state, relay.logs())
    return phone


async def after_media(phone: BrowserPhone, packets: int, limit_s: float = 10.0) -> None:
    """Until the browser has received `packets` RTP packets, or `limit_s`: on
    a loaded machine ICE (a TURN relay most) can take seconds, and a fixed
    wait then measured the first moment of the audio, or none of it. The
    assertions after say what did arrive."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        inbound = (await phone.stats()).get("inbound") or {}
        if inbound.get("packetsReceived", 0) >= packets:
            return
        await asyncio.sleep(0.1)


def decoded_once_closed(customer: Customer, limit_s: float = 10.0) -> list[int]:
    """What the customer's phone decoded; its WAV header is complete once the
    call is torn down."""
    deadline = time.monotonic() + limit_s
    while True:
        recording = customer.heard()
        try:
            samples = read_wav_samples(recording) if recording is not None else []
        except (EOFError, wave.Error):
            samples = []
        if samples or time.monotonic() > deadline:
            return samples
        time.sleep(0.1)


def frame_levels(samples: list[int]) -> list[float]:
    """The RMS level of each 20 ms frame."""
    frames = [samples[i : i + 160] for i in range(0, len(samples) - 159, 160)]
    return [math.sqrt(sum(s * s for s in frame) / len(frame)) for frame in frames]


def test_agent_and_customer_hear_each_other_through_rtpengine(
    network: Network, relay: Relay, customer: Customer, harness_url: str, agent_microphone: Path
):
    async def go() -> dict[str, Any]:
        async with chromium(agent_microphone) as browser:
            phone = await registered_phone(browser, harness_url, relay)
            async with running_trunk(network, customer) as trunk:
                dialed = time.monotonic()
                legs = await bridge_agent_and_customer(trunk, relay, "1")
                setup_s = time.monotonic() - dialed
                await after_media(phone, 150)
                heard, stats = await phone.dominant(), await phone.stats()
                await trunk.hang_up(legs.call_id)
                await asyncio.wait_for(legs.customer.ended.wait(), 10)
                await trunk.disconnect_agent(legs.agent_leg)
                await asyncio.wait_for(legs.agent.ended.wait(), 10)
                browser_state = await phone.until("phone.calls[0].state === 'ended'")
        return {"setup_s": setup_s, "heard": heard, "stats": stats, "browser": browser_state}

    result = asyncio.run(go())
    print("webphone through rtpengine:", result)
    # The browser hears the customer: the WebRTC stream's dominant frequency and level.
    heard, inbound = result["heard"], result["stats"]["inbound"]
    assert heard is not None and abs(heard["hz"] - CUSTOMER_TONE_HZ) < 15, result
    assert heard["db"] > -40, result
    assert inbound["packetsReceived"] > 100 and inbound["audioLevel"] > 0.1, result
    assert result["stats"]["localCandidate"]["type"] == "host", result
    assert result["browser"]["calls"][0]["endedBy"] == "remote", result
    # The customer hears the browser's microphone for the ~3 s bridged: 1000 Hz
    # at the level of the microphone file (7071 RMS), through G.711 both ways.
    samples = decoded_once_closed(customer)
    loud = [level for level in frame_levels(samples) if level > 2000]
    assert len(loud) * 0.02 > 2.5, frame_levels(samples)
    assert 6000 < statistics.median(loud) < 8000, frame_levels(samples)
    levels = tone_levels(samples, (AGENT_TONE_HZ, *OTHER_HZ))
    assert all(levels[AGENT_TONE_HZ] > 100 * levels[other] for other in OTHER_HZ), levels


@pytest.mark.parametrize("how", ["tab closed", "browser killed"])
def test_a_browser_gone_mid_call_ends_the_agent_leg(
    network: Network, relay: Relay, customer: Customer, harness_url: str, tmp_path: Path, how
):
    """No BYE from the browser: Kamailio sees its connection close and says
    BYE to the dialer, which then treats the agent's phone as lost."""
    microphone = write_tone_wav(tmp_path / "agent.wav", AGENT_TONE_HZ)

    async def go() -> tuple[float | None, Bridged, list[str]]:
        async with chromium(microphone) as browser:
            phone = await registered_phone(browser, harness_url, relay)
            async with running_trunk(network, customer) as trunk:
                legs = await bridge_agent_and_customer(trunk, relay, "2")
                await asyncio.sleep(1)
                gone = time.monotonic()
                if how == "tab closed":
                    await phone.page.close()
                else:
                    kill_chromium(microphone)
                try:
                    await asyncio.wait_for(legs.agent.ended.wait(), 15)
                    noticed: float | None = time.monotonic() - gone
                except TimeoutError:
                    noticed = None
                customer_phases = list(legs.customer.phases)
                await trunk.hang_up(legs.call_id)
                await asyncio.wait_for(legs.customer.ended.wait(), 10)
        return noticed, legs, customer_phases

    noticed, legs, customer_phases = asyncio.run(go())
    print(f"{how}: the agent leg ended {noticed} s later")
    assert noticed is not None and noticed < 3, (legs.agent.phases, relay.logs())
    assert legs.agent.final.sip_reason == "remote hangup", legs.agent.final
    assert legs.agent.final.bridged_to == legs.call_id, legs.agent.final
    # What becomes of the customer is the dialer's decision (here: still up).
    assert customer_phases == ["dialing", "ringing", "answered"], customer_phases


def test_a_5_s_network_cut_then_audio_resumes_on_the_same_leg(
    network: Network, relay: Relay, customer: Customer, harness_url: str, agent_microphone: Path
):
    """The relay's firewall drops everything between it and the browser
    (WebSocket and media) for 5 s; the dialer's side is untouched."""

    async def go() -> dict[str, Any]:
        async with chromium(agent_microphone) as browser:
            phone = await registered_phone(browser, harness_url, relay)
            async with running_trunk(network, customer) as trunk:
                legs = await bridge_agent_and_customer(trunk, relay, "3")

                async def received() -> tuple[int, int]:
                    to_browser = (await phone.stats())["inbound"]["packetsReceived"]
                    return to_browser, trunk.media_stats(legs.agent_leg)["received"]

                await asyncio.sleep(1)
                cut_browser_off(relay.ns)
                try:
                    await asyncio.sleep(1)
                    early_in_cut = await received()
                    await asyncio.sleep(4)
                    end_of_cut = await received()
                finally:
                    reconnect_browser(relay.ns)
                await asyncio.sleep(3)
                resumed = await received()
                heard, state = await phone.dominant(), await phone.state()
                agent_phases = list(legs.agent.phases)
                await trunk.hang_up(legs.call_id)
                await trunk.disconnect_agent(legs.agent_leg)
                await asyncio.wait_for(legs.agent.ended.wait(), 10)
        return {
            "received": (early_in_cut, end_of_cut, resumed),
            "heard": heard,
            "call": state["calls"][0],
            "ice": state["ice"],
            "agent": agent_phases,
        }

    result = asyncio.run(go())
    print("network cut:", result)
    early_in_cut, end_of_cut, resumed = result["received"]
    for direction in (0, 1):  # 0: dialer -> browser, 1: browser -> dialer
        assert end_of_cut[direction] - early_in_cut[direction] < 10, result  # the cut is real
        assert resumed[direction] - end_of_cut[direction] > 100, result  # ~150 in 3 s
    assert result["agent"] == ["dialing", "ringing", "answered"], result
    assert result["call"]["state"] == "answered", result
    assert result["heard"] is not None and abs(result["heard"]["hz"] - CUSTOMER_TONE_HZ) < 15


@pytest.mark.timeout(90)
def test_a_browser_whose_network_is_gone_for_good_loses_its_leg(
    network: Network, relay: Relay, customer: Customer, harness_url: str, agent_microphone: Path
):
    """No FIN, no BYE: Kamailio's WebSocket pings go unanswered, it closes
    the connection and ends the call, so the dialer sees the phone lost."""

    async def go() -> tuple[float | None, Bridged]:
        async with chromium(agent_microphone) as browser:
            await registered_phone(browser, harness_url, relay)
            async with running_trunk(network, customer) as trunk:
                legs = await bridge_agent_and_customer(trunk, relay, "4")
                cut = time.monotonic()
                cut_browser_off(relay.ns)
                try:
                    await asyncio.wait_for(legs.agent.ended.wait(), 60)
                    noticed: float | None = time.monotonic() - cut
                except TimeoutError:
                    noticed = None
                finally:
                    reconnect_browser(relay.ns)
                await trunk.hang_up(legs.call_id)
        return noticed, legs

    noticed, legs = asyncio.run(go())
    print("network gone: the agent leg ended", noticed, "s later")
    assert noticed is not None and noticed < 40, (legs.agent.phases, relay.logs())
    assert legs.agent.final.sip_reason == "remote hangup", legs.agent.final


@pytest.mark.parametrize(
    ("case", "agent_id", "age_s", "password"),
    [
        ("wrong password", AGENT_ID, 0, "bm90IHRoZSBwYXNzd29yZA=="),
        ("expired", AGENT_ID, 700, None),
        ("another agent's phone", AGENT_ID + 1, 0, None),
    ],
)
def test_a_register_with_bad_credentials_is_refused(
    relay: Relay, harness_url: str, agent_microphone: Path, case, agent_id, age_s, password
):
    async def go() -> dict[str, Any]:
        async with chromium(agent_microphone) as browser:
            phone = await open_phone(browser, harness_url)
            minted = credentials(SECRET, AGENT_ID, ttl_s=600, age_s=age_s)
            await phone.start(relay.ws_url, minted, agent_id, password=password)
            return await phone.until("phone.registered || phone.registrationFailures.length > 0")

    state = asyncio.run(go())
    assert not state["registered"], (case, state)
    # Credentials that do not check out: 401 again; another agent's phone: 403.
    expected = "Rejected" if agent_id != AGENT_ID else "Authentication Error"
    assert state["failures"] == [expected], (case, state)


def test_only_the_dialer_calls_browsers_and_browsers_call_no_one(
    network: Network, relay: Relay, customer: Customer, harness_url: str, agent_microphone: Path
):
    """An INVITE from an address outside DIALER_NET, and one from a
    registered browser, are refused (403)."""

    async def go() -> tuple[Recorder, dict[str, Any]]:
        async with chromium(agent_microphone) as browser:
            phone = await registered_phone(browser, harness_url, relay)
            # This host's end toward the relay: not the dialer's address.
            stranger = dialer_trunk(customer.uri, network.relay_ns.host_address)
            await stranger.start()
            agent = Recorder()
            try:
                await stranger.connect_agent(
                    AgentLegRequest("agent-leg-8", relay.agent_uri(AGENT_ID)), agent
                )
                await asyncio.wait_for(agent.ended.wait(), 5)
            finally:
                await stranger.stop()
            await phone.page.evaluate(
                "target => phone.call(target)", f"sip:{CUSTOMER_NUMBER}@{relay.ns.peer_address}"
            )
            await phone.until("phone.outgoing.state !== 'calling'")
            outgoing = dict(await phone.page.evaluate("phone.outgoing"))
        return agent, outgoing

    agent, outgoing = asyncio.run(go())
    assert agent.phases == ["dialing", "ended"] and agent.final.sip_status == 403, agent.events
    assert outgoing == {"state": "failed", "cause": "Rejected"}, outgoing


def test_calling_an_agent_whose_browser_is_not_registered_fails_at_once(
    network: Network, relay: Relay, customer: Customer
):
    async def go() -> Recorder:
        async with running_trunk(network, customer) as trunk:
            agent = Recorder()
            await trunk.connect_agent(AgentLegRequest("agent-leg-5", relay.agent_uri(99)), agent)
            await asyncio.wait_for(agent.ended.wait(), 5)
        return agent

    agent = asyncio.run(go())
    assert agent.phases == ["dialing", "ended"], agent.phases
    assert agent.final.sip_status == 480, agent.final


def test_a_remote_agent_through_turn(
    network: Network,
    relay: Relay,
    turn: str,
    customer: Customer,
    harness_url: str,
    agent_microphone: Path,
):
    """coturn (deploy/webphone/turnserver.conf) takes the same ephemeral
    credentials; the browser may only use relayed candidates."""

    async def go() -> dict[str, Any]:
        minted = credentials(SECRET, AGENT_ID)
        ice = {
            "iceServers": [
                {"urls": [turn], "username": minted.username, "credential": minted.password}
            ],
            "iceTransportPolicy": "relay",
        }
        async with chromium(agent_microphone) as browser:
            phone = await registered_phone(browser, harness_url, relay, pc_config=ice)
            async with running_trunk(network, customer) as trunk:
                legs = await bridge_agent_and_customer(trunk, relay, "6")
                await after_media(phone, 150)
                heard, stats = await phone.dominant(), await phone.stats()
                from_agent = trunk.media_stats(legs.agent_leg)["received"]
                await trunk.hang_up(legs.call_id)
                await trunk.disconnect_agent(legs.agent_leg)
                await asyncio.wait_for(legs.agent.ended.wait(), 10)
        return {"heard": heard, "stats": stats, "from_agent": from_agent}

    result = asyncio.run(go())
    print("through TURN:", result)
    assert result["stats"]["localCandidate"]["type"] == "relay", result
    assert result["stats"]["inbound"]["packetsReceived"] > 100, result
    assert result["heard"] is not None and abs(result["heard"]["hz"] - CUSTOMER_TONE_HZ) < 15
    assert result["from_agent"] > 100, result


def test_the_phone_over_secure_websocket(
    network: Network, relay: Relay, customer: Customer, harness_url: str, agent_microphone: Path
):
    """wss:// as browsers need it outside localhost: Kamailio's tls module
    (WITH_TLS), here with a self-signed certificate the browser is told to
    accept."""

    async def go() -> dict[str, Any]:
        async with chromium(agent_microphone, "--ignore-certificate-errors") as browser:
            phone = await registered_phone(browser, harness_url, relay, ws_url=relay.wss_url)
            async with running_trunk(network, customer) as trunk:
                legs = await bridge_agent_and_customer(trunk, relay, "7")
                await after_media(phone, 100)
                heard, stats = await phone.dominant(), await phone.stats()
                from_agent = trunk.media_stats(legs.agent_leg)["received"]
                await trunk.hang_up(legs.call_id)
                await trunk.disconnect_agent(legs.agent_leg)
                await asyncio.wait_for(legs.agent.ended.wait(), 10)
                browser_state = await phone.until("phone.calls[0].state === 'ended'")
        return {"heard": heard, "stats": stats, "from_agent": from_agent, "browser": browser_state}

    result = asyncio.run(go())
    assert result["heard"] is not None and abs(result["heard"]["hz"] - CUSTOMER_TONE_HZ) < 15
    assert result["stats"]["inbound"]["packetsReceived"] > 50, result
    assert result["from_agent"] > 50, result
    assert result["browser"]["calls"][0]["endedBy"] == "remote", result
