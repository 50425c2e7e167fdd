"""A real headless Chromium running JsSIP on a test page, in a network
namespace of its own, and the built-in gateway on this host's end of the
pair: signalling and WebRTC media go over the veth pair and nowhere else."""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import stat
import struct
import subprocess
import threading
import time
import wave
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import pytest

from callcenter import webphone
from dialer.webphone import BrowserPhoneGateway, LegEvent, LegTimers
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.integration.sip.netns import Netns

ROOT = Path(__file__).resolve().parents[3]
JSSIP = ROOT / "callcenter/static/vendor/jssip.min.js"
# Each file here builds its own namespace; files run in different pytest-xdist
# workers at once, so each worker has a subnet of its own (10.231.60-69).
SUBNET = f"10.231.{60 + int(os.environ.get('PYTEST_XDIST_WORKER', 'gw0').removeprefix('gw'))}"
PAGE_PORT = 8099  # inside the namespace, where nothing else listens
PAGE_ORIGIN = f"http://127.0.0.1:{PAGE_PORT}"
SECRET = b"webphone test secret"
AGENT_TONE_HZ = 1000.0
T = TypeVar("T")


def write_tone(path: Path, frequency: float, seconds: float = 4.0, rate: int = 48000) -> Path:
    amplitude = 0.5 * 32767
    samples = (
        int(amplitude * math.sin(2 * math.pi * frequency * i / rate))
        for i in range(int(rate * seconds))
    )
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return path


def tone_pcm8k(frequency: float, seconds: float, amplitude: float = 0.5) -> bytes:
    count = int(8000 * seconds)
    return b"".join(
        struct.pack("<h", int(amplitude * 32767 * math.sin(2 * math.pi * frequency * i / 8000)))
        for i in range(count)
    )


class GatewayThread:
    """The gateway on an event loop of its own (Playwright's sync API owns this thread's)."""

    def __init__(self, host: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.gateway = BrowserPhoneGateway(
            domain="webphone.invalid",
            secret=SECRET,
            host=host,
            port=0,
            allowed_origins=[PAGE_ORIGIN],  # the harness page is not on the gateway's host
            # JsSIP's shortest session interval: the gateway refreshes it every 45 s.
            timers=LegTimers(answer_s=10.0, media_s=10.0, session_expires_s=90),
        )
        self.run(self.gateway.start())

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call_soon(self, fn: Callable[[], Any]) -> None:
        self.loop.call_soon_threadsafe(fn)

    def close(self) -> None:
        self.run(self.gateway.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@dataclass
class EventLog:
    """A leg's events as they arrive on the gateway's loop."""

    events: list[LegEvent] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def __call__(self, event: LegEvent) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait_for(self, kind: str, timeout: float = 15.0) -> LegEvent:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events:
                    if event.kind == kind:
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {kind} event in {timeout} s: {self.events}")
                self._changed.wait(left)

    @property
    def kinds(self) -> list[str]:
        return [event.kind for event in self.events]


@dataclass
class Bench:
    netns: Netns
    gateway_thread: GatewayThread
    page_url: str
    browser: Any

    @property
    def gateway(self) -> BrowserPhoneGateway:
        return self.gateway_thread.gateway

    def phone_url(self, agent_id: int, *, password: str | None = None, **extra: str) -> str:
        credentials = webphone.mint(SECRET, agent_id, now=time.time(), ttl_s=3600)
        query = {
            "ws": f"ws://{self.netns.host_address}:{self.gateway.port}",
            "uri": f"sip:agent-{agent_id}@webphone.invalid",
            "user": credentials.username,
            "password": password or credentials.password,
            **extra,
        }
        return f"{self.page_url}?{urlencode(query)}"

    def open_phone(self, agent_id: int, **options: str) -> Any:
        page = self.browser.new_page()
        page.goto(self.phone_url(agent_id, **options))
        return page

    def wait_registered(self, agent_id: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.gateway.registered(agent_id):
            if time.monotonic() > deadline:
                raise AssertionError(f"agent-{agent_id} never registered")
            time.sleep(0.05)

    def call(self, agent_id: int, events: EventLog) -> Any:
        uri = f"sip:agent-{agent_id}@webphone.invalid"
        return self.gateway_thread.run(self.gateway.call(uri, events))


def _wait_listening(netns: Netns, port: int) -> None:
    deadline = time.monotonic() + 10
    while not netns.listening(port, "tcp"):
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing listens on {port} in {netns.name}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def webphone_bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    from playwright.sync_api import sync_playwright

    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    files = tmp_path_factory.mktemp("webphone")
    shutil.copy(Path(__file__).with_name("harness.html"), files / "phone.html")
    shutil.copy(JSSIP, files / "jssip.min.js")
    tone = write_tone(files / "agent-tone.wav", AGENT_TONE_HZ)
    netns = Netns.create(SUBNET)
    chromium = files / "chromium-in-netns"
    chromium.write_text(f'#!/bin/sh\nexec ip netns exec {netns.name} {CHROMIUM} "$@"\n')
    chromium.chmod(chromium.stat().st_mode | stat.S_IEXEC)
    gateway_thread = None
    try:
        netns.popen(
            ["python3", "-m", "http.server", str(PAGE_PORT), "--bind", "127.0.0.1"],
            cwd=files,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_listening(netns, PAGE_PORT)
        gateway_thread = GatewayThread(netns.host_address)
        args = [
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={tone}",
            "--autoplay-policy=no-user-gesture-required",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
        ]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(chromium), args=args)
            yield Bench(netns, gateway_thread, f"{PAGE_ORIGIN}/phone.html", browser)
            browser.close()
    finally:
        if gateway_thread is not None:
            gateway_thread.close()
        netns.close()
