"""The simulated carrier's odds, ring and talk times come from settings
(CC_DIALER__SIMULATION__*), so a demo or a test can make every call answer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from callcenter.settings import Settings, SettingsError, load_settings
from dialer.carrier import CallProgress, OriginateRequest
from dialer.embedded import carrier_for, simulation_profile
from dialer.simulated_carrier import SimulationProfile


def test_defaults_are_the_profiles_own(tmp_path: Path) -> None:
    settings = load_settings(environ={"CC_INSTANCE_PATH": str(tmp_path)})
    assert simulation_profile(settings) == SimulationProfile()


def test_every_call_answered_and_a_long_talk(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "CC_INSTANCE_PATH": str(tmp_path),
            "CC_DIALER__SIMULATION__ANSWER": "1",
            "CC_DIALER__SIMULATION__MACHINE": "0",
            "CC_DIALER__SIMULATION__BUSY": "0",
            "CC_DIALER__SIMULATION__NO_ANSWER": "0",
            "CC_DIALER__SIMULATION__FAILED": "0",
            "CC_DIALER__SIMULATION__TALK_MEDIAN_SECONDS": "3600",
        }
    )
    profile = simulation_profile(settings, time_scale=0.01)
    assert profile.fates() == [
        ("answer", 1.0),
        ("machine", 0.0),
        ("busy", 0.0),
        ("no_answer", 0.0),
        ("failed", 0.0),
    ]
    assert profile.talk_time.median_s == 3600
    assert profile.talk_time.low_s <= 3600 <= profile.talk_time.high_s
    assert profile.ring_time == SimulationProfile().ring_time  # not set: the profile's own
    assert profile.time_scale == 0.01

    phases = asyncio.run(_first_call_phases(settings))
    assert phases == ["dialing", "ringing", "answered"]


async def _first_call_phases(settings: Settings) -> list[str]:
    carrier = carrier_for(settings, time_scale=0.01)
    await carrier.start()
    seen: list[CallProgress] = []
    answered = asyncio.Event()

    def progress(event: CallProgress) -> None:
        seen.append(event)
        if event.phase == "answered":
            answered.set()

    # The ring time is drawn up to the profile's 40 s, past the default 30 s
    # ring timeout (a no-answer about once in 1,500 calls): this call waits
    # for any ring. The simulated times are a hundredth of that; the timeout
    # is only there to end a hang on a loaded machine.
    ring_timeout_s = SimulationProfile().ring_time.high_s + 1
    await carrier.originate(
        OriginateRequest(
            call_id="c1",
            to_number="+989121234567",
            caller_id="anonymous",
            ring_timeout_s=ring_timeout_s,
        ),
        progress,
    )
    await asyncio.wait_for(answered.wait(), 30)
    await carrier.stop()
    return [event.phase for event in seen[:3]]


def test_a_short_ring(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "CC_INSTANCE_PATH": str(tmp_path),
            "CC_DIALER__SIMULATION__RING_MEDIAN_SECONDS": "0.5",
        }
    )
    ring = simulation_profile(settings).ring_time
    assert ring.median_s == 0.5
    assert ring.low_s <= 0.5 <= ring.high_s == SimulationProfile().ring_time.high_s
    assert simulation_profile(settings).talk_time == SimulationProfile().talk_time


def test_negative_odds_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="CC_DIALER__SIMULATION__BUSY"):
        load_settings(
            environ={"CC_INSTANCE_PATH": str(tmp_path), "CC_DIALER__SIMULATION__BUSY": "-1"}
        )
