"""The browser phone on the embedded default (`callcenter run`, nothing else
installed): a real Chromium whose fake microphone plays a 1000 Hz tone, the
dialer's built-in gateway, and the simulated carrier's customers, who speak.
The agent's tone reaches the customer (what the customer heard is logged) and
the customer's voice reaches the browser (WebRTC statistics); a blocked
microphone and a tab closed mid-call leave the floor's state true."""

from __future__ import annotations

import math
import os
import re
import struct
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    EmbeddedServer,
    WatchedBrowser,
    open_every_campaign_around_the_clock,
    run_embedded,
)

pytestmark = pytest.mark.browser
SCREENSHOTS = os.environ.get("CC_TEST_SCREENSHOT_DIR")
AGENT_TONE_HZ = 1000
HEARD = re.compile(r"customer heard .*?(?P<hz>\d+(?:\.\d+)?) Hz")


def write_tone(path: Path, hz: float, seconds: float = 4.0, rate: int = 48000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = (
            int(0.3 * 32767 * math.sin(2 * math.pi * hz * n / rate))
            for n in range(int(seconds * rate))
        )
        out.writeframes(b"".join(struct.pack("<h", sample) for sample in frames))
    return path


@pytest.fixture(scope="module")
def phone_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """Every simulated call is answered by a person who talks for a few seconds."""
    odds = {"ANSWER": "1", "MACHINE": "0", "BUSY": "0", "NO_ANSWER": "0", "FAILED": "0"}
    env = {f"CC_DIALER__SIMULATION__{name}": value for name, value in odds.items()}
    env["CC_DIALER__SIMULATION__TALK_MEDIAN_SECONDS"] = "8"
    env["CC_DIALER__SIMULATION__RING_MEDIAN_SECONDS"] = "1"  # not 6: no test here is about ringing
    with run_embedded(tmp_path_factory.mktemp("instance"), env) as server:
        open_every_campaign_around_the_clock(server)
        yield server


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def chromium_with_microphone(
    playwright: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """Chromium whose microphone is granted and plays a tone."""
    tone = write_tone(tmp_path_factory.mktemp("media") / "agent.wav", AGENT_TONE_HZ)
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={tone}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
    yield WatchedBrowser(browser)
    browser.close()


def log_in(page: Any, server: EmbeddedServer, username: str) -> None:
    page.goto(f"{server.url}/login")
    page.fill("#username", username)
    page.fill("#password", server.passwords[username])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/agent/")


def phone_state(page: Any) -> str:
    return str(page.evaluate("() => window.ccWebPhone.state()"))


def test_agent_and_customer_hear_each_other(
    chromium_with_microphone: Any, phone_server: EmbeddedServer
) -> None:
    page = chromium_with_microphone.new_page(viewport={"width": 1280, "height": 800})
    log_in(page, phone_server, "agent1")
    assert page.is_checked('input[name="phone_kind"][value="browser"]')
    page.wait_for_function("() => window.ccWebPhone.state() === 'registered'", timeout=20_000)
    assert page.is_enabled("#btn-ready")
    page.keyboard.press("F2")
    page.wait_for_selector("#agent-state[data-phone=up]", timeout=20_000)
    page.wait_for_selector("#call:not([hidden])", timeout=120_000)
    assert phone_state(page) == "in_call"
    # A reload by mistake would drop the customer: the browser asks first, and
    # staying keeps the page, the call and the phone as they were.
    asked: list[str] = []

    def stay(dialog: Any) -> None:
        asked.append(dialog.type)
        dialog.dismiss()

    page.once("dialog", stay)
    page.evaluate("() => { window.ccNotReloaded = true; setTimeout(() => location.reload(), 0); }")
    page.wait_for_function("() => window.ccNotReloaded && !document.hidden", timeout=10_000)
    deadline = time.monotonic() + 10
    while not asked and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert asked == ["beforeunload"]
    assert page.evaluate("() => window.ccNotReloaded === true")
    assert phone_state(page) == "in_call" and page.is_visible("#call")
    # The customer's recorded voice arrives in the browser.
    page.wait_for_function(
        """async () => {
            const s = await window.ccWebPhone.stats();
            return s && s.packetsReceived > 50 && s.audioLevel > 0.01;
        }""",
        timeout=15_000,
        polling=250,
    )
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "browser-phone.png"))
    assert page.evaluate("() => document.getElementById('wp-level').value") > 0
    # The customer hangs up after talking; what they heard was the agent's tone.
    page.wait_for_selector("#agent-state[data-state=wrap_up]", timeout=120_000)
    heard = wait_for_line(phone_server, HEARD)
    assert abs(float(heard.group("hz")) - AGENT_TONE_HZ) < 40, heard.group(0)
    page.close()


@pytest.mark.parametrize(
    ("devices", "said"),
    [
        # A microphone is there, but no permission is given: Chromium refuses it.
        (["--use-fake-device-for-media-stream"], "microphone is blocked"),
        # No audio device at all (headless Chromium has none of its own).
        ([], "No microphone was found"),
    ],
)
def test_a_microphone_problem_is_said_and_ready_stays_off(
    playwright: Any, phone_server: EmbeddedServer, devices: list[str], said: str
) -> None:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *devices])
    try:
        page = WatchedBrowser(browser).new_context(permissions=[]).new_page()
        log_in(page, phone_server, "agent4")
        page.wait_for_function("() => window.ccWebPhone.state() === 'failed'", timeout=20_000)
        assert said in page.text_content("#wp-error")
        assert page.is_disabled("#btn-ready")
        page.keyboard.press("F2")
        page.wait_for_timeout(1000)
        assert page.get_attribute("#agent-state", "data-state") in ("logged_out", "paused")
    finally:
        browser.close()


def test_a_tab_closed_mid_call_loses_the_phone_and_ends_the_call(
    chromium_with_microphone: Any, phone_server: EmbeddedServer
) -> None:
    page = chromium_with_microphone.new_page()
    log_in(page, phone_server, "agent2")
    page.wait_for_function("() => window.ccWebPhone.state() === 'registered'", timeout=20_000)
    page.keyboard.press("F2")
    page.wait_for_selector("#call:not([hidden])", timeout=120_000)
    page.close()
    # Back on the screen: the phone was lost with the tab, the call ended
    # (the customer was not left talking to nobody), the agent wraps it up.
    again = chromium_with_microphone.new_page()
    log_in(again, phone_server, "agent2")
    again.wait_for_selector("#phone-alert:not([hidden])", timeout=20_000)
    assert again.get_attribute("#agent-state", "data-state") in ("wrap_up", "paused")
    assert again.get_attribute("#agent-state", "data-phone") == "lost"
    again.close()


def wait_for_line(server: EmbeddedServer, pattern: re.Pattern[str]) -> re.Match[str]:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in list(server.output):
            if match := pattern.search(line):
                return match
        time.sleep(0.2)
    pytest.fail(f"the server never logged {pattern.pattern!r}")
