"""The phones for the monitoring benchmark, in a process of their own: one
socket per leg (customer, agent, supervisor of each call), each sending a
G.711 tone every 20 ms to its leg of the dialer and counting what comes back.

Reads {"targets": [port, ...], "seconds": S} on stdin, prints {"ports": [...]}
once bound, {"sent": n} when done sending and, asked, {"received": [n, ...]}
(per socket, in the order of the targets)."""

from __future__ import annotations

import asyncio
import json
import sys

from bench.recording.phones import FRAME, Phone, tone


async def main() -> None:
    request = json.loads(sys.stdin.readline())
    loop = asyncio.get_running_loop()
    phones: list[tuple[Phone, int]] = []
    for port in request["targets"]:
        _, phone = await loop.create_datagram_endpoint(Phone, local_addr=("127.0.0.1", 0))
        phones.append((phone, port))
    ports = [phone.transport.get_extra_info("sockname")[1] for phone, _ in phones]  # type: ignore[union-attr]
    print(json.dumps({"ports": ports}), flush=True)
    sys.stdin.readline()  # go
    voices = [tone(440.0), tone(1000.0), tone(2000.0)]
    sent = 0
    start = loop.time()
    for index in range(int(request["seconds"] / 0.02)):
        offset = (index * FRAME) % (len(voices[0]) - FRAME)
        header_base = (index & 0xFFFF, index * FRAME)
        for number, (phone, port) in enumerate(phones):
            payload = voices[number % 3][offset : offset + FRAME]
            header = bytes([0x80, 0]) + header_base[0].to_bytes(2, "big")
            header += (header_base[1] & 0xFFFFFFFF).to_bytes(4, "big") + number.to_bytes(4, "big")
            phone.transport.sendto(header + payload, ("127.0.0.1", port))  # type: ignore[union-attr]
            sent += 1
        delay = start + (index + 1) * 0.02 - loop.time()
        await asyncio.sleep(max(0.0, delay))
    print(json.dumps({"sent": sent}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    await asyncio.sleep(0.2)
    print(json.dumps({"received": [p.received for p, _ in phones]}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
