"""SIP over TCP at the socket level, with peers written here where sipp cannot
do what is tested: a peer opening its own connection to our listening socket,
messages split across and packed into TCP segments, a garbled stream, a
trunk that drops the connection, and a trunk that never answers."""

from __future__ import annotations

import asyncio
import secrets

from dialer.sip.message import SipMessage, parse_message
from dialer.sip.tcp import StreamFramer
from dialer.sip.ua import Timers, TransactionTimeout, UaConfig, UserAgent
from tests.integration.sip.helpers import FAST

HOST = "127.0.0.1"


def options(n: int, via_host: str = "198.51.100.9") -> bytes:
    return (
        f"OPTIONS sip:dialer@{HOST} SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP {via_host}:5060;branch=z9hG4bK-peer-{n}\r\n"
        f"From: <sip:peer@{via_host}>;tag=p{n}\r\n"
        f"To: <sip:dialer@{HOST}>\r\n"
        f"Call-ID: peer-{n}@{via_host}\r\n"
        f"CSeq: {n} OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


async def read_messages(reader: asyncio.StreamReader, count: int) -> list[SipMessage]:
    framer = StreamFramer()
    found: list[bytes] = []
    while len(found) < count:
        data = await asyncio.wait_for(reader.read(4096), 5)
        assert data, f"connection closed after {len(found)} of {count} messages"
        found += framer.feed(data)
    return [parse_message(raw) for raw in found]


async def tcp_ua(trunk_port: int = 9, timers: Timers = FAST) -> UserAgent:
    ua = UserAgent(
        UaConfig(
            trunk_uri=f"sip:{HOST}:{trunk_port}", local_host=HOST, transport="tcp", timers=timers
        )
    )
    await ua.start()
    return ua


def out_of_dialog_options(ua: UserAgent) -> SipMessage:
    msg = SipMessage(method="OPTIONS", uri=ua.config.trunk_uri)
    msg.add("Via", ua.via())
    msg.add("Max-Forwards", "70")
    msg.add("From", f"<sip:dialer@{HOST}>;tag={secrets.token_hex(4)}")
    msg.add("To", f"<{ua.config.trunk_uri}>")
    msg.add("Call-ID", f"{secrets.token_hex(8)}@test")
    msg.add("CSeq", "1 OPTIONS")
    return msg


def test_a_peer_opening_its_own_connection_is_answered_on_it_whatever_the_segments():
    async def scenario() -> None:
        ua = await tcp_ua()
        host, port = ua.local_address
        reader, writer = await asyncio.open_connection(host, port)
        first, second, third = options(1), options(2), options(3)
        writer.write(b"\r\n\r\n" + first + second)  # a keepalive, then two messages at once
        writer.write(third[:25])
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(third[25:])  # the rest of the third, later
        answers = await read_messages(reader, 3)
        assert [(a.status, a.cseq[0]) for a in answers] == [(200, 1), (200, 2), (200, 3)]

        # A stream that cannot be framed closes that connection only.
        bad_reader, bad_writer = await asyncio.open_connection(host, port)
        bad_writer.write(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 198.51.100.9\r\n\r\n")
        assert await asyncio.wait_for(bad_reader.read(), 5) == b""
        writer.write(options(4))
        (answer,) = await read_messages(reader, 1)
        assert (answer.status, answer.cseq[0]) == (200, 4)
        assert ua.transport.malformed == 1
        writer.close()
        bad_writer.close()
        await ua.stop()

    asyncio.run(scenario())


def test_a_connection_the_trunk_dropped_is_opened_again():
    async def scenario() -> None:
        connections = 0

        async def answer_once_and_hang_up(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            nonlocal connections
            connections += 1
            (request,) = await read_messages(reader, 1)
            response = SipMessage(status=200, reason="OK")
            for name in ("Via", "From", "To", "Call-ID", "CSeq"):
                response.add(name, request.get(name) or "")
            writer.write(response.to_bytes())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer_once_and_hang_up, HOST, 0)
        ua = await tcp_ua(server.sockets[0].getsockname()[1])
        for _ in range(2):
            answer = await ua.request(out_of_dialog_options(ua), ua.trunk_address)
            assert answer.status == 200
            await asyncio.sleep(0.1)  # the trunk's close reaches us
        assert connections == 2
        await ua.stop()
        server.close()

    asyncio.run(scenario())


def test_nothing_is_retransmitted_over_tcp_and_timers_b_and_f_still_end_it():
    async def scenario() -> None:
        received: list[SipMessage] = []

        async def listen_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            framer = StreamFramer()
            while data := await reader.read(4096):
                received.extend(parse_message(raw) for raw in framer.feed(data))

        server = await asyncio.start_server(listen_only, HOST, 0)
        # Timers B and F: 64 x T1 = 1.9 s; with Timers A/E there would be six resends.
        ua = await tcp_ua(server.sockets[0].getsockname()[1], Timers(t1=0.03, t2=0.12))
        try:
            await ua.request(out_of_dialog_options(ua), ua.trunk_address)
            raise AssertionError("a silent trunk answered")
        except TransactionTimeout as exc:
            assert str(exc) == "Timer F: no answer to OPTIONS"
        events: list[str] = []
        call = ua.new_call(
            "c1",
            ua.trunk_target("+989121234567"),
            "anonymous",
            30,
            lambda _call, event: events.append(f"{event.phase} {event.sip_reason or ''}"),
        )
        await call.run()
        assert events[-1] == "ended Timer B: no response"
        assert [m.method for m in received] == ["OPTIONS", "INVITE"]
        assert received[1].uri == f"sip:+989121234567@{HOST}:{ua.trunk_address[1]};transport=tcp"
        await ua.stop()
        await asyncio.sleep(0.05)  # the peer reads the end of the stream
        server.close()

    asyncio.run(scenario())
