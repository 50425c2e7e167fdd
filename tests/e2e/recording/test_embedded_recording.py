"""`callcenter run` records its demo calls: a real embedded server (simulated
carrier, built-in browser-phone gateway, folder store), every campaign set to
record all calls, an agent on the browser phone whose fake microphone plays a
1000 Hz tone. The call's FLAC, downloaded by the manager through the audited
player route, holds the customer's recorded voice on the left and the agent's
tone on the right."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from tests.e2e.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    EmbeddedServer,
    WatchedBrowser,
    open_every_campaign_around_the_clock,
    run_embedded,
)
from tests.e2e.test_browser_phone import write_tone

pytestmark = pytest.mark.browser
AGENT_TONE_HZ = 1000


@pytest.fixture(scope="module")
def recording_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """Every simulated call is answered by a person who stays on the line 8 s or
    more; every call recorded, with no notice first (the customer's time on the
    line counts from the answer: a 7.6 s notice would leave a bridge too short
    to measure)."""
    odds = {"ANSWER": "1", "MACHINE": "0", "BUSY": "0", "NO_ANSWER": "0", "FAILED": "0"}
    env = {f"CC_DIALER__SIMULATION__{name}": value for name, value in odds.items()}
    env["CC_DIALER__SIMULATION__TALK_MEDIAN_SECONDS"] = "8"
    env["CC_DIALER__SIMULATION__RING_MEDIAN_SECONDS"] = "1"  # not 6: no test here is about ringing
    with run_embedded(tmp_path_factory.mktemp("instance"), env) as server:
        open_every_campaign_around_the_clock(server, recording_mode="all", recording_consent=False)
        yield server


@pytest.fixture(scope="module")
def chromium_with_tone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    tone = write_tone(tmp_path_factory.mktemp("media") / "agent.wav", AGENT_TONE_HZ, seconds=30)
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


def _log_in(page: Any, server: EmbeddedServer, username: str, home: str) -> None:
    page.goto(f"{server.url}/login")
    page.fill("#username", username)
    page.fill("#password", server.passwords[username])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}{home}")


def _peak_hz(channel: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(channel.astype(np.float64) * np.hanning(len(channel))))
    return float(np.argmax(spectrum[1:]) + 1) * 8000 / len(channel)


def _rms(channel: np.ndarray) -> float:
    return float(np.sqrt(np.mean(channel.astype(np.float64) ** 2)))


def test_a_demo_call_on_the_browser_phone_makes_a_playable_stereo_recording(
    chromium_with_tone: Any, recording_server: EmbeddedServer, tmp_path: Path
) -> None:
    agent = chromium_with_tone.new_page(viewport={"width": 1280, "height": 800})
    _log_in(agent, recording_server, "agent1", "/agent/")
    agent.wait_for_function("() => window.ccWebPhone.state() === 'registered'", timeout=20_000)
    agent.keyboard.press("F2")
    agent.wait_for_selector("#call:not([hidden])", timeout=120_000)
    agent.wait_for_function("() => window.ccAgent.pops.length > 0")
    call_id = agent.evaluate("() => window.ccAgent.pops[0].call_id")
    agent.wait_for_selector("#agent-state[data-state=wrap_up]", timeout=120_000)
    agent.close()

    manager = chromium_with_tone.new_page(viewport={"width": 1280, "height": 800})
    _log_in(manager, recording_server, "manager", "/supervisor/reports")
    manager.goto(f"{recording_server.url}/recordings/")
    manager.locator(f"#recordings tbody tr[data-call='{call_id}']").wait_for(timeout=30_000)
    # Wait until this call's file is in the store.
    for _ in range(60):
        manager.goto(f"{recording_server.url}/recordings/{call_id}")
        if manager.locator("#recording-audio").count():
            break
        manager.wait_for_timeout(500)
    assert manager.locator("#recording-audio").count(), manager.content()
    download = manager.request.get(f"{recording_server.url}/recordings/{call_id}/download")
    assert download.status == 200
    audio, rate = soundfile.read(io.BytesIO(download.body()), dtype="int16")
    manager.close()

    assert rate == 8000 and audio.ndim == 2 and audio.shape[1] == 2
    seconds = len(audio) / rate
    assert seconds > 3, seconds
    customer, agent_side = audio[:, 0], audio[:, 1]
    assert _rms(customer) > 300, "the customer's recorded lines are not on the left"
    # The browser's audio reaches the gateway a moment after the bridge: the last seconds.
    tail = agent_side[-2 * rate :]
    assert _rms(tail) > 300, "the agent's tone is not on the right"
    assert abs(_peak_hz(tail) - AGENT_TONE_HZ) < 20, _peak_hz(tail)
    assert abs(_peak_hz(customer[-2 * rate :]) - AGENT_TONE_HZ) > 50  # no bleed of the agent
