"""The phones for the recording benchmark, in a process of their own: for each
call a customer and an agent socket, each sending a G.711 tone every 20 ms to
its leg of the dialer and counting what the bridge relays back to it.

Reads {"targets": [[customer_port, agent_port], ...], "seconds": S} on stdin,
prints {"ports": [...]} once bound, {"sent": n} when done sending and, told
that the dialer has relayed everything, {"received": n}."""

from __future__ import annotations

import asyncio
import json
import math
import struct
import sys

FRAME = 160


class Phone(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received += 1


def tone(frequency: float) -> bytes:
    from dialer.sip import g711

    pcm = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * frequency * n / 8000)))
        for n in range(8000)
    )
    return g711.encode(pcm, 0)


async def main() -> None:
    request = json.loads(sys.stdin.readline())
    loop = asyncio.get_running_loop()
    phones: list[tuple[Phone, int]] = []
    for customer_port, agent_port in request["targets"]:
        for port in (customer_port, agent_port):
            _, phone = await loop.create_datagram_endpoint(Phone, local_addr=("127.0.0.1", 0))
            phones.append((phone, port))
    ports = [phone.transport.get_extra_info("sockname")[1] for phone, _ in phones]  # type: ignore[union-attr]
    print(json.dumps({"ports": ports}), flush=True)
    sys.stdin.readline()  # go
    voices = [tone(440.0), tone(1200.0)]
    sent = 0
    start = loop.time()
    frames = int(request["seconds"] / 0.02)
    for index in range(frames):
        for number, (phone, port) in enumerate(phones):
            offset = (index * FRAME) % (len(voices[0]) - FRAME)
            payload = voices[number % 2][offset : offset + FRAME]
            header = struct.pack("!BBHII", 0x80, 0, index & 0xFFFF, index * FRAME, number)
            phone.transport.sendto(header + payload, ("127.0.0.1", port))  # type: ignore[union-attr]
            sent += 1
        delay = start + (index + 1) * 0.02 - loop.time()
        await asyncio.sleep(max(0.0, delay))
    print(json.dumps({"sent": sent}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # the dialer has relayed all it got
    await asyncio.sleep(0.2)
    print(json.dumps({"received": sum(p.received for p, _ in phones)}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
