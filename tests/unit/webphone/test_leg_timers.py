"""When the gateway refreshes a browser leg's session (RFC 4028, refresher
us). The Chromium test sees JsSIP take our refreshes with a short
``refresh_s``; these pin the schedule a real call gets."""

from __future__ import annotations

from dialer.webphone import LegTimers


def test_a_refresh_comes_at_half_the_interval_before_jssip_would_end_the_call() -> None:
    # JsSIP (not the refresher) ends the call at 1.1 times the interval: 99 s for 90.
    assert LegTimers(session_expires_s=90).refresh_after_s(90) == 45.0
    assert LegTimers().refresh_after_s(1800) == 900.0


def test_a_refresh_never_comes_sooner_than_30_s_unless_set() -> None:
    assert LegTimers().refresh_after_s(40) == 30.0
    assert LegTimers(refresh_s=2.0).refresh_after_s(90) == 2.0
