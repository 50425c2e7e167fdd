"""A real Chromium (Debian's, driven by Playwright) and a real `callcenter run`."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.dialer.floor import ALWAYS_OPEN
from tests.support import free_port

CHROMIUM = os.environ.get("CC_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class CspViolations:
    """Every Content-Security-Policy violation Chromium reports on a watched
    page; `no_csp_violations` fails the test that caused one."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def watch(self, target: Any) -> Any:
        target.on("console", self._console)
        return target

    def _console(self, message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.seen.append(message.text)


CSP = CspViolations()

# What a page loads to look and work right; a page's own 404 (a test asking
# for a missing record) is the test's business, not a broken screen.
ASSET_TYPES = frozenset({"stylesheet", "script", "image", "font", "media"})
# Chromium refuses a stylesheet or script served as the HTML 404 page before
# Playwright sees a response; only the console says so.
REFUSED_ASSET = re.compile(r"^Refused to (apply style|execute script) from '([^']+)'")


class MissingAssets:
    """Every stylesheet, script, image or font a watched page asked for and
    did not get; `no_missing_assets` fails the test that saw one, so a wrong
    file name in a template cannot leave a screen unstyled."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def watch(self, target: Any) -> Any:
        target.on("response", self._response)
        target.on("console", self._console)
        return target

    def take_back(self, url_part: str) -> None:
        """For a test that asks for a missing asset on purpose."""
        self.seen[:] = [seen for seen in self.seen if url_part not in seen]

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.request.resource_type in ASSET_TYPES:
            self.seen.append(f"{response.status} {response.url}")

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        if refused := REFUSED_ASSET.match(message.text):
            self.seen.append(f"refused {refused.group(2)}: {message.text}")
        elif (
            message.text.startswith("Failed to load resource")
            and "/static/" in str(message.location.get("url", ""))
            # Another test's network namespace coming or going on this host:
            # Chromium drops what it was loading, the asset is not missing.
            and "ERR_NETWORK_CHANGED" not in message.text
        ):
            self.seen.append(f"{message.location['url']}: {message.text}")


ASSETS = MissingAssets()


def _watched(target: Any) -> Any:
    return ASSETS.watch(CSP.watch(target))


class WatchedBrowser:
    """A Playwright Browser whose every page is watched for CSP violations
    and for assets it could not load."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser

    def new_context(self, *args: Any, **kwargs: Any) -> Any:
        return _watched(self._browser.new_context(*args, **kwargs))

    def new_page(self, *args: Any, **kwargs: Any) -> Any:
        return _watched(self._browser.new_page(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


@pytest.fixture(autouse=True)
def no_csp_violations() -> Iterator[None]:
    before = len(CSP.seen)
    yield
    if violations := CSP.seen[before:]:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(violations))


@pytest.fixture(autouse=True)
def no_missing_assets() -> Iterator[None]:
    before = len(ASSETS.seen)
    yield
    if missing := ASSETS.seen[before:]:
        pytest.fail("Assets the page could not load:\n" + "\n".join(missing))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Per module: Playwright's sync API keeps an asyncio loop running in this
    thread while it is open, and later tests call asyncio.run()."""
    from playwright.sync_api import sync_playwright

    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield WatchedBrowser(launched)
        launched.close()


@dataclass
class EmbeddedServer:
    url: str
    process: subprocess.Popen[str]
    env: dict[str, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    output: list[str] = field(default_factory=list)


SERVER_LOG_TAIL = 120


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed test that used a `callcenter run` shows the end of what that
    server logged: the other half of what went wrong."""
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        for name, value in funcargs.items():
            if isinstance(value, EmbeddedServer):
                tail = "".join(list(value.output)[-SERVER_LOG_TAIL:])
                report.sections.append((f"callcenter run ({name}), last lines", tail))
    return report


CREDENTIAL_LINE = re.compile(r"^\s{2}(\S+)\s+(agent|supervisor|manager|admin)\s+(\S+)$")


@pytest.fixture(scope="module")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """`callcenter run` exactly as the README starts it, on a free port."""
    with run_embedded(tmp_path_factory.mktemp("instance")) as server:
        yield server


@contextmanager
def run_embedded(
    instance: Path, extra_env: dict[str, str] | None = None
) -> Iterator[EmbeddedServer]:
    """`callcenter run` on free ports (web, and the browser phone's gateway)."""
    port = free_port()
    env = {
        **os.environ,
        "CC_INSTANCE_PATH": str(instance),
        "PYTHONUNBUFFERED": "1",
        "CC_WEBPHONE__GATEWAY_PORT": str(free_port()),
        **(extra_env or {}),
    }
    env.pop("CC_CONFIG", None)
    env.pop("CC_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "callcenter.cli", "run", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    server = EmbeddedServer(url=f"http://127.0.0.1:{port}", process=process, env=env)
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            pytest.fail("callcenter run exited:\n" + "".join(server.output))
        server.output.append(line)
        if match := CREDENTIAL_LINE.match(line.rstrip("\n")):
            server.passwords[match.group(1)] = match.group(3)
        if "serving on" in line:
            break
    _wait_for_port(port)
    # Keeps reading, so a chatty server never blocks on a full pipe; the
    # tests read what it logged from server.output.
    threading.Thread(target=server.output.extend, args=(process.stdout,), daemon=True).start()
    try:
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"nothing listens on port {port}")


def use_desk_phone(page: Any, address: str) -> None:
    """On the workstation: a desk phone or extension instead of the browser phone."""
    desk = page.locator('input[name="phone_kind"][value="sip"]')
    if desk.count():
        desk.check()
    page.fill("#phone", address)


def open_every_campaign_around_the_clock(server: EmbeddedServer, **changes: Any) -> None:
    """The demo campaigns call 09:00-21:00 Tehran time; the test runs at any hour.
    ``changes``: more campaign settings for every campaign (service names).
    Changed on the server's own database through the campaign service, as
    `callcenter campaigns edit` does (each CLI run spends seconds importing the app)."""
    from callcenter.db import Database
    from callcenter.services import campaigns
    from callcenter.settings import load_settings

    database = Database(load_settings(server.env).database_url)
    try:
        with database.unit_of_work() as session:
            listed = campaigns.list_campaigns(session)
            assert listed
            for campaign in listed:
                campaigns.update_campaign(
                    session, campaign, actor=None, calling_windows=ALWAYS_OPEN, **changes
                )
    finally:
        database.dispose()
