"""A supervisor listens in from the live floor with the browser phone, on the
embedded default (`callcenter run`): the agent takes a simulated call in
Chromium, the supervisor (another Chromium context) opens the call on the
floor and presses Listen; their browser phone registers, the dialer calls it,
it answers and the simulated customer's voice arrives (WebRTC statistics).
The agent's screen says who is listening, then whispering; Stop ends it."""

from __future__ import annotations

import math
import struct
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


def _tone(path: Path, hz: float, seconds: float = 4.0, rate: int = 48000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(
            b"".join(
                struct.pack("<h", int(0.3 * 32767 * math.sin(2 * math.pi * hz * n / rate)))
                for n in range(int(seconds * rate))
            )
        )
    return path


@pytest.fixture(scope="module")
def floor_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """Every simulated call is answered by a person who stays on the line a while."""
    odds = {"ANSWER": "1", "MACHINE": "0", "BUSY": "0", "NO_ANSWER": "0", "FAILED": "0"}
    env = {f"CC_DIALER__SIMULATION__{name}": value for name, value in odds.items()}
    env["CC_DIALER__SIMULATION__TALK_MEDIAN_SECONDS"] = "90"
    env["CC_DIALER__SIMULATION__RING_MEDIAN_SECONDS"] = "1"  # not 6: no test here is about ringing
    with run_embedded(tmp_path_factory.mktemp("instance"), env) as server:
        open_every_campaign_around_the_clock(server)
        yield server


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    tone = _tone(tmp_path_factory.mktemp("media") / "voice.wav", 1000)
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={tone}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield WatchedBrowser(browser)
        browser.close()


def _log_in(page: Any, server: EmbeddedServer, username: str, landing: str) -> None:
    page.goto(f"{server.url}/login")
    page.fill("#username", username)
    page.fill("#password", server.passwords[username])
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{server.url}{landing}")


def test_a_supervisor_listens_from_the_floor_with_the_browser_phone(
    chromium: Any, floor_server: EmbeddedServer
) -> None:
    agent = chromium.new_context().new_page()
    _log_in(agent, floor_server, "agent1", "/agent/")
    agent.wait_for_function("() => window.ccWebPhone.state() === 'registered'", timeout=20_000)
    agent.keyboard.press("F2")
    agent.wait_for_selector("#call:not([hidden])", timeout=120_000)

    supervisor = chromium.new_context().new_page()
    _log_in(supervisor, floor_server, "supervisor", "/supervisor/")
    supervisor.click("#calls-table tr.call-connected", timeout=30_000)
    supervisor.wait_for_selector("#monitor-box:not([hidden])", timeout=10_000)
    assert supervisor.input_value("#monitor-phone") == ""  # the browser phone, then
    supervisor.click("#monitor-box [data-mode=listen]")
    supervisor.wait_for_function("() => window.ccWebPhone.state() === 'in_call'", timeout=30_000)
    supervisor.wait_for_selector(
        "#monitor-box [data-mode=listen][aria-pressed=true]", timeout=10_000
    )
    # The simulated customer's recorded line reaches the supervisor's browser.
    supervisor.wait_for_function(
        """async () => {
            const s = await window.ccWebPhone.stats();
            return s && s.packetsReceived > 50 && s.audioLevel > 0.01;
        }""",
        timeout=20_000,
        polling=250,
    )
    agent.wait_for_selector("#monitor-notice[data-mode=listen]:not([hidden])", timeout=10_000)
    assert "سرپرست سالن" in agent.text_content("#monitor-notice")

    supervisor.click("#monitor-box [data-mode=whisper]")
    agent.wait_for_selector("#monitor-notice[data-mode=whisper]", timeout=10_000)
    assert supervisor.evaluate("() => window.ccWebPhone.state()") == "in_call"  # same leg

    supervisor.click("#monitor-stop")
    agent.wait_for_selector("#monitor-notice", state="hidden", timeout=10_000)
    supervisor.wait_for_function("() => window.ccWebPhone.state() === 'registered'", timeout=20_000)
    assert agent.is_visible("#call")  # the agent's call goes on
