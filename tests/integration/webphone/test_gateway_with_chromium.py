"""The built-in gateway against a real Chromium running JsSIP: registration,
calls both ways of ending, and WebRTC audio both ways (the browser's fake
microphone plays a 1000 Hz tone; the gateway plays 600 Hz)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from tests.integration.webphone.conftest import AGENT_TONE_HZ, Bench, EventLog, tone_pcm8k

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

CUSTOMER_TONE_HZ = 600.0


def wait_js(page: Any, expression: str, timeout_s: float = 10.0) -> Any:
    page.wait_for_function(expression, timeout=timeout_s * 1000)
    return page.evaluate(expression)


def test_a_call_carries_audio_both_ways(webphone_bench: Bench) -> None:
    page = webphone_bench.open_phone(7)
    try:
        webphone_bench.wait_registered(7)
        events = EventLog()
        leg = webphone_bench.call(7, events)
        answered = events.wait_for("answered")
        assert answered.status == 200
        assert wait_js(page, "window.phone.calls.length && window.phone.calls[0].state") in (
            "confirmed",
            "ringing",
        )
        webphone_bench.gateway_thread.call_soon(lambda: leg.play(tone_pcm8k(CUSTOMER_TONE_HZ, 6)))
        time.sleep(1.0)
        peak = page.evaluate("window.phone.peakFrequency(2500)")
        inbound = page.evaluate("window.phone.inbound()")
        heard = leg.heard()

        print("browser", inbound, peak, "gateway", heard)
        assert inbound["packets"] > 50, inbound
        assert inbound["level"] > 0.05, inbound
        assert abs(peak - CUSTOMER_TONE_HZ) < 30, peak
        assert heard.seconds > 2.0, heard
        assert heard.frequency_hz is not None and abs(heard.frequency_hz - AGENT_TONE_HZ) < 15
        assert -35 < heard.level_dbfs < -3, heard  # Chrome processes the microphone (AGC)

        webphone_bench.gateway_thread.run(leg.hang_up())
        assert events.wait_for("ended").reason == "local hangup"
        assert wait_js(
            page, "window.phone.calls[0].state === 'ended' && window.phone.calls[0].ended"
        )
    finally:
        page.close()


def test_closing_the_tab_ends_the_leg_at_once(webphone_bench: Bench) -> None:
    page = webphone_bench.open_phone(8)
    webphone_bench.wait_registered(8)
    events = EventLog()
    webphone_bench.call(8, events)
    events.wait_for("answered")
    closed_at = time.monotonic()
    page.close()
    ended = events.wait_for("ended", timeout=5)
    assert ended.reason == "browser disconnected"
    assert ended.status is None
    print(f"leg ended {time.monotonic() - closed_at:.2f} s after the tab closed")
    assert not webphone_bench.gateway.registered(8)


def test_calling_an_agent_with_no_registered_phone_fails_with_480(webphone_bench: Bench) -> None:
    events = EventLog()
    webphone_bench.call(99, events)
    ended = events.wait_for("ended", timeout=2)
    assert ended.status == 480
    assert events.kinds == ["ended"]


def test_a_wrong_password_never_registers(webphone_bench: Bench) -> None:
    page = webphone_bench.open_phone(9, password="c2VjcmV0IGd1ZXNz")
    try:
        failed = wait_js(page, "window.phone.failed")
        assert "403" in failed or "401" in failed, failed
        assert not page.evaluate("window.phone.registered")
        assert not webphone_bench.gateway.registered(9)
    finally:
        page.close()


def test_a_browser_that_rejects_the_call_fails_the_leg_with_its_status(
    webphone_bench: Bench,
) -> None:
    page = webphone_bench.open_phone(10, reject="486")
    try:
        webphone_bench.wait_registered(10)
        events = EventLog()
        webphone_bench.call(10, events)
        ended = events.wait_for("ended")
        assert ended.status == 486
        assert "answered" not in events.kinds
    finally:
        page.close()


def test_a_renegotiation_from_the_browser_keeps_the_call(webphone_bench: Bench) -> None:
    page = webphone_bench.open_phone(11)
    try:
        webphone_bench.wait_registered(11)
        events = EventLog()
        leg = webphone_bench.call(11, events)
        events.wait_for("answered")
        page.evaluate(
            "new Promise((ok, fail) => window.phone.session.renegotiate({}, ok) || fail('busy'))"
        )
        time.sleep(1.0)
        leg.reset_heard()
        time.sleep(1.5)
        assert "ended" not in events.kinds
        assert leg.heard().seconds > 1.0
        webphone_bench.gateway_thread.run(leg.hang_up())
    finally:
        page.close()


def _inbound_rtp(page: Any) -> dict[str, Any]:
    """The browser's inbound RTP counters; just after an ICE restart or a
    network cut its stats may have no inbound report for a moment."""
    for _ in range(50):
        stats = page.evaluate("window.phone.inbound()")
        if stats is not None:
            return stats  # type: ignore[no-any-return]
        time.sleep(0.1)
    pytest.fail("the browser reports no inbound RTP for 5 s")


def test_an_ice_restart_from_the_browser_keeps_the_call_and_its_audio(
    webphone_bench: Bench,
) -> None:
    page = webphone_bench.open_phone(12)
    try:
        webphone_bench.wait_registered(12)
        events = EventLog()
        leg = webphone_bench.call(12, events)
        events.wait_for("answered")
        webphone_bench.gateway_thread.call_soon(lambda: leg.play(tone_pcm8k(CUSTOMER_TONE_HZ, 8)))
        outcome = page.evaluate(
            """new Promise((done) => window.phone.session.renegotiate(
                {rtcOfferConstraints: {iceRestart: true}}, () => done('accepted'))
                || done('not sent'))"""
        )
        assert outcome == "accepted"
        time.sleep(1.0)
        leg.reset_heard()
        before = _inbound_rtp(page)
        time.sleep(2.0)
        after = _inbound_rtp(page)
        heard = leg.heard()
        print("after the ICE restart:", before, after, heard)
        assert "ended" not in events.kinds
        assert page.evaluate("window.phone.calls[0].state") == "confirmed"
        assert heard.seconds > 1.5 and heard.frequency_hz is not None
        assert abs(heard.frequency_hz - AGENT_TONE_HZ) < 15
        assert after["packets"] - before["packets"] > 50  # 2 s of the gateway's 20 ms packets
        webphone_bench.gateway_thread.run(leg.hang_up())
        assert events.wait_for("ended").reason == "local hangup"
    finally:
        page.close()


def test_the_gateway_refreshes_the_session_before_jssip_would_end_it(
    webphone_bench: Bench,
) -> None:
    """Session-Expires 90 s (JsSIP's shortest), refresher us: JsSIP ends the
    call at 99 s unless an UPDATE comes. A real leg's comes at 45 s
    (tests/unit/webphone/test_leg_timers.py); this leg refreshes every 2 s,
    so two refreshes taken by JsSIP are seen in seconds, not minutes."""
    gateway = webphone_bench.gateway
    timers = gateway.timers
    gateway.timers = dataclasses.replace(timers, refresh_s=2.0)
    page = webphone_bench.open_phone(13)
    try:
        webphone_bench.wait_registered(13)
        events = EventLog()
        leg = webphone_bench.call(13, events)
        gateway.timers = timers  # the leg has its own now
        events.wait_for("answered")
        assert wait_js(page, "window.phone.calls[0].updates >= 2", timeout_s=30)
        assert page.evaluate("window.phone.calls[0].state") == "confirmed"
        assert "ended" not in events.kinds
        webphone_bench.gateway_thread.run(leg.hang_up())
        assert events.wait_for("ended").reason == "local hangup"
    finally:
        gateway.timers = timers
        page.close()


def test_a_five_second_network_cut_does_not_end_the_call(webphone_bench: Bench) -> None:
    """Everything to and from the browser's host dropped for 5 s (signalling and
    media): the WebSocket and ICE outlive it and the audio comes back."""
    netns = webphone_bench.netns
    rules = [["INPUT", "-i"], ["OUTPUT", "-o"]]
    page = webphone_bench.open_phone(14)
    try:
        webphone_bench.wait_registered(14)
        events = EventLog()
        leg = webphone_bench.call(14, events)
        events.wait_for("answered")
        webphone_bench.gateway_thread.call_soon(lambda: leg.play(tone_pcm8k(CUSTOMER_TONE_HZ, 20)))
        for chain, direction in rules:
            netns.run(["iptables", "-I", chain, direction, netns.peer_interface, "-j", "DROP"])
        time.sleep(5.0)
        for chain, direction in rules:
            netns.run(["iptables", "-D", chain, direction, netns.peer_interface, "-j", "DROP"])
        time.sleep(2.0)
        leg.reset_heard()
        before = _inbound_rtp(page)
        time.sleep(2.0)
        after = _inbound_rtp(page)
        heard = leg.heard()
        print("after the cut:", before, after, heard)
        assert "ended" not in events.kinds
        assert heard.seconds > 1.5 and heard.frequency_hz is not None
        assert after["packets"] - before["packets"] > 50
        webphone_bench.gateway_thread.run(leg.hang_up())
    finally:
        for chain, direction in rules:
            netns.run(
                ["iptables", "-D", chain, direction, netns.peer_interface, "-j", "DROP"],
                capture_output=True,
            )
        page.close()
