"""Chromium with fake media running the test harness page (the vendored
JsSIP, registering and answering by itself), and the dialer's SipTrunk set
up for the topology in topology.py."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from callcenter.webphone import Credentials, mint, phone_user
from dialer.sip.transport import TraceHook
from dialer.sip.trunk import SipTrunk, SipTrunkConfig
from dialer.sip.ua import UaConfig
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.integration.sip.helpers import FAST
from tests.integration.webphone_production.topology import DIALER_RTP_PORTS, DIALER_SIP_PORT
from tests.support import serve_in_thread

ROOT = Path(__file__).resolve().parents[3]
JSSIP = ROOT / "callcenter" / "static" / "vendor" / "jssip.min.js"
HARNESS = Path(__file__).with_name("harness.html")
PHONE_DOMAIN = "webphone.test"


@contextmanager
def harness_server() -> Iterator[str]:
    """The harness page and JsSIP over http://127.0.0.1 (a secure context,
    so the page may ask for the microphone)."""
    files = {"/harness.html": HARNESS, "/jssip.min.js": JSSIP}

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            path = files.get(self.path.split("?")[0])
            if path is None:
                self.send_error(404)
                return
            body = path.read_bytes()
            self.send_response(200)
            kind = "text/html" if path.suffix == ".html" else "text/javascript"
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler))
    serve_in_thread(server)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/harness.html"
    finally:
        server.shutdown()
        server.server_close()


def chromium_args(microphone_wav: Path, *extra: str) -> list[str]:
    return [
        *CHROMIUM_ARGS,
        *extra,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone_wav}",
        "--autoplay-policy=no-user-gesture-required",
    ]


@asynccontextmanager
async def chromium(microphone_wav: Path, *extra_args: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=chromium_args(microphone_wav, *extra_args)
        )
        try:
            yield browser
        finally:
            with contextlib.suppress(Exception):  # e.g. a browser the test killed
                await browser.close()


def kill_chromium(marker: Path) -> None:
    """SIGKILL the Chromium started with ``marker`` (its fake microphone file)
    on its command line, and all its processes: a crash, no goodbye."""
    import psutil

    doomed = []
    for process in psutil.process_iter(["cmdline"]):
        if any(str(marker) in arg for arg in process.info["cmdline"] or ()):
            with contextlib.suppress(psutil.NoSuchProcess):
                doomed += [process, *process.children(recursive=True)]
    for process in doomed:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


@dataclass
class BrowserPhone:
    page: Any

    async def start(
        self,
        ws_url: str,
        credentials: Credentials,
        agent_id: int,
        pc_config: dict[str, Any] | None = None,
        password: str | None = None,
    ) -> None:
        config = {
            "wsUrl": ws_url,
            "uri": f"sip:{phone_user(agent_id)}@{PHONE_DOMAIN}",
            "username": credentials.username,
            "password": password if password is not None else credentials.password,
            "pcConfig": pc_config or {},
        }
        await self.page.evaluate("cfg => window.startPhone(cfg)", config)

    async def state(self) -> dict[str, Any]:
        return dict(
            await self.page.evaluate(
                "({registered: phone.registered, failures: phone.registrationFailures,"
                " calls: phone.calls, ice: phone.iceStates})"
            )
        )

    async def until(self, what: str, limit_s: float = 10.0) -> dict[str, Any]:
        """Wait until the JavaScript expression ``what`` (about ``phone``) is true."""
        deadline = time.monotonic() + limit_s
        while True:
            if await self.page.evaluate(what):
                return await self.state()
            if time.monotonic() > deadline:
                raise AssertionError(f"not {what} after {limit_s} s: {await self.state()}")
            await asyncio.sleep(0.05)

    async def stats(self) -> dict[str, Any]:
        return dict(await self.page.evaluate("phone.stats()") or {})

    async def dominant(self) -> dict[str, float] | None:
        found = await self.page.evaluate("phone.dominant()")
        return dict(found) if found else None


async def open_phone(browser: Any, harness_url: str) -> BrowserPhone:
    page = await browser.new_page()
    await page.goto(harness_url)
    return BrowserPhone(page)


def credentials(secret: str, agent_id: int, *, ttl_s: int = 600, age_s: int = 0) -> Credentials:
    """What the web app would hand the agent's screen (``age_s`` ago)."""
    return mint(secret.encode(), agent_id, now=time.time() - age_s, ttl_s=ttl_s)


def dialer_trunk(customer_uri: str, bind_host: str, trace: TraceHook | None = None) -> SipTrunk:
    ua = UaConfig(
        trunk_uri=customer_uri,
        local_host=bind_host,
        local_port=DIALER_SIP_PORT,
        rtp_port_min=DIALER_RTP_PORTS[0],
        rtp_port_max=DIALER_RTP_PORTS[1],
        timers=FAST,
    )
    return SipTrunk(SipTrunkConfig(ua=ua, keepalive_interval_s=None), trace)
