"""Session timers (RFC 4028): negotiation rules and the clock that acts on them."""

from __future__ import annotations

import asyncio

import pytest

from dialer.sip.message import SipMessage
from dialer.sip.session_timer import (
    SessionInterval,
    SessionTimer,
    answer_request,
    interval_from_2xx,
    min_se_of,
    parse_session_expires,
    request_headers,
)


def message(**headers: str) -> SipMessage:
    msg = SipMessage(method="UPDATE", uri="sip:dialer@127.0.0.1")
    for name, value in headers.items():
        msg.add(name.replace("_", "-"), value)
    return msg


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("1800", (1800, None)),
        ("90;refresher=uac", (90, "uac")),
        ("90 ; Refresher = UAS ; x=1", (90, "uas")),
        ("90;refresher=both", (90, None)),
        ("0", None),
        ("-5", None),
        ("soon", None),
        ("99999999999", None),
        ("", None),
        (None, None),
    ],
)
def test_session_expires_values(value, parsed):
    assert parse_session_expires(value) == parsed


def test_our_request_asks_for_a_timer():
    assert request_headers(1800, 90) == [
        ("Supported", "timer"),
        ("Session-Expires", "1800"),
        ("Min-SE", "90"),
    ]
    assert request_headers(600, 120, refresher="uac")[1] == ("Session-Expires", "600;refresher=uac")


def test_2xx_to_our_request_decides_who_refreshes():
    assert interval_from_2xx(message(Session_Expires="120;refresher=uac")) == SessionInterval(
        120, we_refresh=True
    )
    assert interval_from_2xx(message(Session_Expires="120")) == SessionInterval(120, True)
    assert interval_from_2xx(message(Session_Expires="120;refresher=uas")) == SessionInterval(
        120, we_refresh=False
    )
    assert interval_from_2xx(message()) is None  # no timer at all


def test_min_se_of_a_422():
    assert min_se_of(message(Min_SE="600")) == 600
    assert min_se_of(message(Min_SE="junk")) is None
    assert min_se_of(message()) is None


def test_peer_refresh_keeps_the_refresher_it_asked_for():
    uac = answer_request(message(Session_Expires="300;refresher=uac", Supported="timer"), 90)
    assert uac.interval == SessionInterval(300, we_refresh=False)
    assert uac.headers == [("Session-Expires", "300;refresher=uac"), ("Require", "timer")]
    uas = answer_request(
        message(Session_Expires="300;refresher=uas", Supported="100rel, timer"), 90
    )
    assert uas.interval == SessionInterval(300, we_refresh=True)
    assert uas.headers == [("Session-Expires", "300;refresher=uas"), ("Require", "timer")]


def test_peer_refresh_without_refresher_makes_the_peer_refresh_when_it_can():
    able = answer_request(message(Session_Expires="300", Supported="timer"), 90)
    assert able.interval == SessionInterval(300, we_refresh=False)
    assert able.headers == [("Session-Expires", "300;refresher=uac"), ("Require", "timer")]
    unable = answer_request(message(Session_Expires="300"), 90)  # a proxy added the header
    assert unable.interval == SessionInterval(300, we_refresh=True)
    assert unable.headers == [("Session-Expires", "300;refresher=uas")]


def test_peer_interval_below_our_minimum_gets_422_and_no_header_means_no_timer():
    small = answer_request(message(Session_Expires="30", Supported="timer"), 90)
    assert small.too_small and small.headers == [("Min-SE", "90")] and small.interval is None
    none = answer_request(message(), 90)
    assert (none.too_small, none.interval, none.headers) == (False, None, [])


def _clock(interval: SessionInterval, fail_first_refresh: bool = False) -> list[tuple[str, float]]:
    async def go():
        loop = asyncio.get_running_loop()
        fired: list[tuple[str, float]] = []
        done = asyncio.Event()
        start = loop.time()

        def refresh_due():
            fired.append(("refresh", loop.time() - start))
            if fail_first_refresh and len(fired) == 1:
                timer.retry_refresh()
            else:
                done.set()

        def expired():
            fired.append(("expired", loop.time() - start))
            done.set()

        timer = SessionTimer(refresh_due, expired)
        timer.start(interval)
        await asyncio.wait_for(done.wait(), 10)
        timer.stop()
        return fired

    return asyncio.run(go())


def test_refresher_is_called_at_half_the_interval():
    [(what, at)] = _clock(SessionInterval(1, we_refresh=True))
    assert what == "refresh" and at >= 0.5


def test_failed_refresh_is_retried_before_expiry_then_the_session_expires():
    fired = _clock(SessionInterval(1, we_refresh=True), fail_first_refresh=True)
    assert [what for what, _ in fired] == ["refresh", "expired"]
    assert fired[1][1] >= 1.0  # not before the session actually expires


def test_without_a_refresh_the_session_expires_at_interval_minus_a_third():
    [(what, at)] = _clock(SessionInterval(3, we_refresh=False))
    assert what == "expired" and at >= 2.0  # 3 - min(32, 3/3)


def test_restart_and_stop_cancel_the_pending_deadline():
    async def go():
        fired: list[str] = []
        timer = SessionTimer(lambda: fired.append("refresh"), lambda: fired.append("expired"))
        timer.start(SessionInterval(1, we_refresh=False))
        await asyncio.sleep(0.5)
        timer.start(SessionInterval(1, we_refresh=False))  # a refresh arrived
        await asyncio.sleep(0.4)
        before = list(fired)
        timer.start(None)  # a refresh without Session-Expires: no timer any more
        await asyncio.sleep(0.5)
        return before, fired

    before, fired = asyncio.run(go())
    assert before == [] and fired == []
