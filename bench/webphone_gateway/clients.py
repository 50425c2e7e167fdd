"""Browser phones without a browser, for the gateway benchmark: aiortc peers
that register over WebSocket, answer the gateway's call, send a 1000 Hz tone
and, when the gateway hangs up, print what they received (one JSON line per
phone: packets received and lost, jitter).

    python -m bench.webphone_gateway.clients --url ws://10.231.61.1:5066 \
        --first 1 --count 20 --secret-hex 6b6579 --timeout 300
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import sys
import time
from typing import Any

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from callcenter import webphone
from dialer.sip.auth import authorization_header, parse_challenge
from dialer.sip.message import SipMessage, build_response, new_tag, parse_message
from dialer.webphone.framing import new_request
from dialer.webphone.hearing import Hearing
from dialer.webphone.tracks import PlayoutTrack, listen

DOMAIN = "webphone.invalid"


def tone(frequency: float, seconds: float) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    return (0.4 * 32767 * np.sin(2 * math.pi * frequency * t)).astype("<i2").tobytes()


class Phone:
    def __init__(self, agent_id: int, url: str, secret: bytes, talk_tone: bytes) -> None:
        self.agent_id = agent_id
        self.url = url
        self.credentials = webphone.mint(secret, agent_id, now=time.time(), ttl_s=3600)
        self.tone = talk_tone
        self.pc: RTCPeerConnection | None = None
        self.hearing = Hearing()
        self.result: dict[str, Any] = {"agent": agent_id, "answered": False}
        self.done = asyncio.Event()
        self.registered = asyncio.Event()
        self._contact = f"<sip:phone{agent_id}@bench.invalid;transport=ws>"
        self._tasks: set[asyncio.Task[Any]] = set()

    async def run(self) -> None:
        async with connect(self.url, subprotocols=[Subprotocol("sip")], max_size=2**16) as ws:
            await self._register(ws)
            async for frame in ws:
                message = parse_message(frame.encode() if isinstance(frame, str) else frame)
                if message.is_request:
                    await self._on_request(ws, message)
                if self.done.is_set():
                    return

    async def _register(self, ws: ClientConnection, authorization: str | None = None) -> None:
        aor = f"<sip:agent-{self.agent_id}@{DOMAIN}>"
        headers = [("Contact", self._contact), ("Expires", "600")]
        if authorization:
            headers.append(("Authorization", authorization))
        request = new_request(
            "REGISTER", f"sip:{DOMAIN}", call_id=f"reg-{self.agent_id}",
            cseq=2 if authorization else 1, from_=f"{aor};tag={new_tag()}", to=aor,
            headers=headers,
        )  # fmt: skip
        await ws.send(request.to_bytes().decode())
        response = parse_message((await ws.recv()).encode())  # type: ignore[union-attr]
        if response.status == 401 and authorization is None:
            challenge = parse_challenge(response.get("WWW-Authenticate") or "")
            header = authorization_header(
                challenge, username=self.credentials.username, password=self.credentials.password,
                method="REGISTER", uri=f"sip:{DOMAIN}",
            )  # fmt: skip
            await self._register(ws, header)
        elif response.status == 200:
            self.registered.set()
        else:
            raise RuntimeError(f"agent-{self.agent_id}: REGISTER {response.status}")

    async def _on_request(self, ws: ClientConnection, request: SipMessage) -> None:
        if request.method == "INVITE":
            response = await self._answer(request)
        elif request.method == "BYE":
            await self._collect()
            response = build_response(request, 200, "OK")
            self.done.set()
        elif request.method in ("UPDATE", "OPTIONS"):
            response = build_response(request, 200, "OK")
        else:
            return
        await ws.send(response.to_bytes().decode())

    async def _answer(self, invite: SipMessage) -> SipMessage:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        talk = PlayoutTrack()
        talk.play(self.tone)

        def on_track(track: Any) -> None:
            task = asyncio.get_running_loop().create_task(listen(track, self.hearing))
            self._tasks.add(task)

        self.pc.on("track", on_track)
        await self.pc.setRemoteDescription(RTCSessionDescription(invite.body.decode(), "offer"))
        self.pc.addTrack(talk)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        response = build_response(invite, 200, "OK", new_tag())
        response.add("Contact", self._contact)
        response.add("Content-Type", "application/sdp")
        response.body = self.pc.localDescription.sdp.encode()
        self.result["answered"] = True
        return response

    async def _collect(self) -> None:
        if self.pc is None:
            return
        for stats in (await self.pc.getStats()).values():
            if stats.type == "inbound-rtp":
                self.result.update(
                    received=stats.packetsReceived,
                    lost=max(0, stats.packetsLost),
                    jitter_ms=stats.jitter / 8.0,  # PCMU clock: 8 samples per ms
                )
        heard = self.hearing.heard()
        self.result.update(heard_hz=heard.frequency_hz, heard_dbfs=heard.level_dbfs)
        await self.pc.close()
        for task in self._tasks:
            task.cancel()


async def main(args: argparse.Namespace) -> None:
    secret = bytes.fromhex(args.secret_hex)
    talk_tone = tone(1000.0, args.tone_seconds)
    phones = [
        Phone(agent_id, args.url, secret, talk_tone)
        for agent_id in range(args.first, args.first + args.count)
    ]
    tasks = [asyncio.create_task(phone.run()) for phone in phones]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), args.timeout)
    for phone in phones:
        print(json.dumps(phone.result), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--first", type=int, default=1)
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--secret-hex", required=True)
    parser.add_argument("--tone-seconds", type=float, default=120.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    asyncio.run(main(parser.parse_args()))
    sys.exit(0)
