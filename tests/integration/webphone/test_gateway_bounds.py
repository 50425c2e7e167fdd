"""The gateway's WebSocket bounds, with a plain WebSocket client on loopback:
the "sip" subprotocol is required, connections and frames are limited, a
connection that registers nothing is closed, and what is not SIP is dropped
without harm."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin, Subprotocol

from dialer.sip.message import parse_message
from dialer.webphone import BrowserPhoneGateway, Limits

pytestmark = pytest.mark.timeout(30)

SIP = [Subprotocol("sip")]
OPTIONS = (
    "OPTIONS sip:webphone.invalid SIP/2.0\r\n"
    "Via: SIP/2.0/WS x.invalid;branch=z9hG4bK1\r\n"
    "From: <sip:agent-1@webphone.invalid>;tag=1\r\n"
    "To: <sip:webphone.invalid>\r\n"
    "Call-ID: o1\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "Content-Length: 0\r\n\r\n"
)


async def started(limits: Limits, allowed_origins: tuple[str, ...] = ()) -> BrowserPhoneGateway:
    gateway = BrowserPhoneGateway(
        domain="webphone.invalid",
        secret=b"s",
        host="127.0.0.1",
        port=0,
        limits=limits,
        allowed_origins=allowed_origins,
    )
    await gateway.start()
    return gateway


async def client(gateway: BrowserPhoneGateway) -> ClientConnection:
    return await connect(f"ws://127.0.0.1:{gateway.port}", subprotocols=SIP)


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_a_page_from_another_site_is_refused() -> None:
    run(_origins())


async def _origins() -> None:
    gateway = await started(Limits(), allowed_origins=("https://CC.example.net/",))
    address = f"ws://127.0.0.1:{gateway.port}"
    try:
        with pytest.raises(InvalidStatus) as foreign:
            await connect(address, subprotocols=SIP, origin=Origin("https://evil.example"))
        assert foreign.value.response.status_code == 403
        for page in ("http://127.0.0.1:5000", "https://cc.example.net"):
            screen = await connect(address, subprotocols=SIP, origin=Origin(page))
            assert screen.subprotocol == "sip"
            await screen.close()
    finally:
        await gateway.stop()


def test_bounds() -> None:
    run(_bounds())


async def _bounds() -> None:
    gateway = await started(
        Limits(max_connections=2, max_message_bytes=4096, register_within_s=0.5)
    )
    try:
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"ws://127.0.0.1:{gateway.port}")
        assert refused.value.response.status_code == 400  # no "sip" subprotocol

        first = await client(gateway)
        assert first.subprotocol == "sip"
        await first.send("not SIP at all\r\n\r\n")  # dropped, the connection stays
        await first.send(OPTIONS)
        answer = parse_message((await first.recv()).encode())  # type: ignore[union-attr]
        assert (answer.status, answer.get("Allow") is not None) == (200, True)

        second = await client(gateway)
        with pytest.raises(InvalidStatus) as full:
            await client(gateway)
        assert full.value.response.status_code == 503

        await second.send("x" * 5000)
        with pytest.raises(ConnectionClosed) as too_big:
            await second.recv()
        assert too_big.value.rcvd is not None and too_big.value.rcvd.code == 1009

        with pytest.raises(ConnectionClosed) as unregistered:
            await asyncio.wait_for(first.recv(), 3)
        assert unregistered.value.rcvd is not None and unregistered.value.rcvd.code == 1008
    finally:
        await gateway.stop()


def test_an_invite_from_a_browser_is_refused() -> None:
    async def scenario() -> None:
        gateway = await started(Limits())
        try:
            ws = await client(gateway)
            await ws.send(OPTIONS.replace("OPTIONS", "INVITE"))
            answer = parse_message((await ws.recv()).encode())  # type: ignore[union-attr]
            assert answer.status == 403
            await ws.close()
        finally:
            await gateway.stop()

    run(scenario())
