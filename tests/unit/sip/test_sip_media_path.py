"""One RTP leg on real loopback sockets: where it sends, when it must not, and its ports."""

from __future__ import annotations

import asyncio
import logging
import re
import socket

import pytest

from dialer.sip.media import peer_media
from dialer.sip.rtp import RtpPacket
from dialer.sip.rtp_ports import RtpPortError, RtpPortRange
from dialer.sip.sdp import PCMA, PCMU, SdpError

FRAME = b"\xff" * 160


def answer(host: str, port: int, direction: str = "sendrecv") -> bytes:
    return (
        f"v=0\r\no=peer 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na={direction}\r\n"
    ).encode()


class Receiver(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.packets: list[bytes] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.packets.append(data)


async def receiver() -> tuple[asyncio.DatagramTransport, Receiver, int]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        Receiver, local_addr=("127.0.0.1", 0), family=socket.AF_INET
    )
    return transport, protocol, transport.get_extra_info("sockname")[1]


def even_free_pair() -> int:
    """An even port with the next one free too, on loopback."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port % 2:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
            try:
                other.bind(("127.0.0.1", port + 2))
            except OSError:
                continue
        return port
    raise RuntimeError("no free even port")


async def settle(condition, limit_s: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not condition() and loop.time() < deadline:
        await asyncio.sleep(0.01)


def test_host_name_is_resolved_once_per_sdp_and_never_per_packet():
    async def go():
        loop = asyncio.get_running_loop()
        lookups: list[str] = []
        real = loop.getaddrinfo

        async def counting(host, *args, **kwargs):
            lookups.append(host)
            return await real(host, *args, **kwargs)

        loop.getaddrinfo = counting  # type: ignore[method-assign]
        transport, got, port = await receiver()
        leg = await RtpPortRange("127.0.0.1", 10000, 60000).open("leg-1")
        try:
            media = await peer_media(answer("localhost", port), (PCMU, PCMA), True)
            assert leg.remote is None  # nothing goes out before the address is known
            leg.apply(media)
            await leg.play(FRAME * 25)
            await settle(lambda: len(got.packets) == 25)
        finally:
            leg.close()
            transport.close()
        return lookups, media, got.packets, leg.stats

    lookups, media, packets, stats = asyncio.run(go())
    assert lookups == ["localhost"]
    assert media.address == "127.0.0.1" and media.target[0] == "127.0.0.1"
    assert len(packets) == 25 and stats.sent == 25


def test_literal_address_needs_no_lookup_and_an_unknown_host_is_bad_sdp():
    async def go():
        loop = asyncio.get_running_loop()
        lookups: list[str] = []
        real = loop.getaddrinfo

        async def counting(host, *args, **kwargs):
            lookups.append(host)
            return await real(host, *args, **kwargs)

        loop.getaddrinfo = counting  # type: ignore[method-assign]
        literal = await peer_media(answer("10.1.2.3", 4000), (PCMU,), True)
        with pytest.raises(
            SdpError, match=re.escape("cannot resolve media host 'no-such-host.invalid'")
        ):
            await peer_media(answer("no-such-host.invalid", 4000), (PCMU,), True)
        return lookups, literal

    lookups, literal = asyncio.run(go())
    assert literal.target == ("10.1.2.3", 4000)
    assert lookups == ["no-such-host.invalid"]


def test_a_held_leg_sends_nothing_until_taken_off_hold():
    async def go():
        transport, got, port = await receiver()
        leg = await RtpPortRange("127.0.0.1", 10000, 60000).open("leg-1")
        try:
            leg.apply(await peer_media(answer("127.0.0.1", port, "sendonly"), (PCMU,), True))
            await leg.play(FRAME * 5)
            held = leg.stats.sent
            leg.apply(await peer_media(answer("127.0.0.1", port, "sendrecv"), (PCMU,), True))
            await leg.play(FRAME * 5)
            await settle(lambda: len(got.packets) == 5)
        finally:
            leg.close()
            transport.close()
        return held, len(got.packets)

    assert asyncio.run(go()) == (0, 5)


def test_send_errors_are_counted_logged_once_and_the_socket_lives_on(caplog):
    async def go():
        transport, got, port = await receiver()
        leg = await RtpPortRange("127.0.0.1", 10000, 60000).open("leg-1")
        try:
            # No SO_BROADCAST on the socket: the kernel refuses each send with EACCES.
            leg.apply(await peer_media(answer("255.255.255.255", 4000), (PCMU,), True))
            await leg.play(FRAME * 20)
            alive = not leg.transport.is_closing()
            leg.apply(await peer_media(answer("127.0.0.1", port), (PCMU,), True))
            await leg.play(FRAME)
            await settle(lambda: len(got.packets) == 1)
        finally:
            leg.close()
            transport.close()
        return leg.stats, alive, len(got.packets)

    with caplog.at_level(logging.WARNING, logger="dialer.sip.rtp"):
        stats, alive, delivered = asyncio.run(go())
    assert (stats.send_errors, stats.sent, alive, delivered) == (20, 1, True, 1)
    warnings = [r for r in caplog.records if "send failed" in r.getMessage()]
    assert len(warnings) == 1 and "leg-1" in warnings[0].getMessage()


def test_ports_are_even_within_the_range_and_exhaustion_fails_only_that_open():
    low = even_free_pair()

    async def go():
        ports = RtpPortRange("127.0.0.1", low, low + 3)  # two even ports: low, low + 2
        first = await ports.open("a")
        second = await ports.open("b")
        with pytest.raises(
            RtpPortError, match=re.escape(f"no free RTP port in {low}-{low + 3} on 127.0.0.1")
        ):
            await ports.open("c")
        first.close()
        await asyncio.sleep(0)
        third = await ports.open("d")
        used = (first.port, second.port, third.port)
        second.close()
        third.close()
        return used

    first, second, third = asyncio.run(go())
    assert {first, second} == {low, low + 2}
    assert third == first


def test_an_address_we_do_not_have_is_a_clear_error():
    async def go():
        with pytest.raises(RtpPortError, match=re.escape("cannot bind RTP on 192.0.2.1:")):
            await RtpPortRange("192.0.2.1", 10000, 10010).open("a")

    asyncio.run(go())


def test_relay_transcodes_audio_and_maps_dtmf_to_the_other_legs_payload_type():
    async def go():
        transport, got, port = await receiver()
        ports = RtpPortRange("127.0.0.1", 10000, 60000)
        customer, agent = await ports.open("cust"), await ports.open("agent")
        try:
            pcma_dtmf_96 = (
                f"v=0\r\no=p 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                f"m=audio {port} RTP/AVP 8 96\r\na=rtpmap:96 telephone-event/8000\r\n"
            ).encode()
            agent.apply(await peer_media(pcma_dtmf_96, (PCMA,), True))
            customer.dtmf_payload_type = 101
            for pt in (0, 101, 13):  # PCMU audio, DTMF, comfort noise
                agent.relay(RtpPacket(pt, 1, 160, 7, b"\xff" * 4), customer.dtmf_payload_type)
            await settle(lambda: len(got.packets) == 2)
        finally:
            customer.close()
            agent.close()
            transport.close()
        return [RtpPacket.parse(p) for p in got.packets]

    audio, dtmf = asyncio.run(go())
    assert (audio.payload_type, audio.payload) == (PCMA, b"\xd5" * 4)  # mu-law silence -> A-law
    assert (dtmf.payload_type, dtmf.payload) == (96, b"\xff" * 4)
