"""The production topology of the browser phone, shared by a module's tests:
the relay (Kamailio + rtpengine from deploy/webphone/) and the customer
(baresip) each in a network namespace, the harness page on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.sip.kamailio import Kamailio
from tests.integration.sip.netns import Netns, NetnsError
from tests.integration.webphone_production.phone import harness_server
from tests.integration.webphone_production.topology import (
    CUSTOMER_SUBNET,
    RELAY_SUBNET,
    SIP_PORT,
    TURN_PORT,
    WS_PORT,
    WSS_PORT,
    Customer,
    Daemon,
    start_coturn,
    start_customer,
    start_relay_kamailio,
    start_rtpengine,
)

SECRET = "webphone-test-secret"
AGENT_TONE_HZ = 1000
CUSTOMER_TONE_HZ = 600


@dataclass
class Relay:
    ns: Netns
    kamailio: Kamailio
    rtpengine: Daemon

    @property
    def ws_url(self) -> str:
        return f"ws://{self.ns.peer_address}:{WS_PORT}"

    @property
    def wss_url(self) -> str:
        return f"wss://{self.ns.peer_address}:{WSS_PORT}"

    def agent_uri(self, agent_id: int) -> str:
        """[webphone] agent_uri for this Kamailio."""
        return f"sip:agent-{agent_id}@{self.ns.peer_address}:{SIP_PORT}"

    def logs(self) -> str:
        return (
            self.kamailio.log.read_text(errors="replace")[-4000:] + self.rtpengine.output()[-4000:]
        )


@dataclass
class Network:
    relay_ns: Netns
    customer_ns: Netns

    @property
    def dialer_host(self) -> str:
        """The dialer binds this host's end toward the customer; the relay
        reaches it through this host."""
        return self.customer_ns.host_address


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    made: list[Netns] = []
    try:
        for subnet in (RELAY_SUBNET, CUSTOMER_SUBNET):
            made.append(Netns.create(subnet))
    except NetnsError as exc:
        for ns in made:
            ns.close()
        pytest.fail(f"cannot make a network namespace: {exc}")
    relay_ns, customer_ns = made
    relay_ns.run(
        ["ip", "route", "add", "default", "via", relay_ns.host_address],
        check=True,
        capture_output=True,
    )
    try:
        yield Network(relay_ns, customer_ns)
    finally:
        for ns in made:
            ns.close()


@pytest.fixture(scope="module")
def relay(network: Network, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relay]:
    workdir = tmp_path_factory.mktemp("relay")
    rtpengine = start_rtpengine(network.relay_ns, workdir)
    try:
        kamailio = start_relay_kamailio(
            network.relay_ns, workdir / "kamailio", f"{network.dialer_host}/32", SECRET
        )
    except BaseException:
        rtpengine.stop()
        raise
    try:
        yield Relay(network.relay_ns, kamailio, rtpengine)
    finally:
        kamailio.stop()
        rtpengine.stop()


@pytest.fixture(scope="module")
def turn(network: Network, relay: Relay, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """coturn beside rtpengine, relaying only to it; its URL for the browser."""
    daemon = start_coturn(
        network.relay_ns, tmp_path_factory.mktemp("turn"), SECRET, network.relay_ns.peer_address
    )
    try:
        yield f"turn:{network.relay_ns.peer_address}:{TURN_PORT}?transport=udp"
    finally:
        daemon.stop()


@pytest.fixture(scope="module")
def customer(network: Network, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Customer]:
    phone = start_customer(
        network.customer_ns, tmp_path_factory.mktemp("customer"), CUSTOMER_TONE_HZ
    )
    try:
        yield phone
    finally:
        phone.daemon.stop()


@pytest.fixture(scope="module")
def harness_url() -> Iterator[str]:
    with harness_server() as url:
        yield url


@pytest.fixture(scope="module")
def agent_microphone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.integration.webphone_production.topology import write_tone_wav

    return write_tone_wav(tmp_path_factory.mktemp("mic") / "agent.wav", AGENT_TONE_HZ)
