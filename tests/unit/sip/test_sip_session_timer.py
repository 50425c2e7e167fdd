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


class Dialog:
    """A dialog as the timer sees it: records what it is asked to do, answers from a script."""

    call_id = "call-1"

    def __init__(self, *answers: SipMessage | None, allows_update: bool = True) -> None:
        self.peer_allows_update = allows_update
        self.answers = list(answers)
        self.sent: list[tuple[float, str, dict[str, str]]] = []
        self.ended: list[tuple[float, str]] = []
        self.sdp_answers: list[bytes] = []
        self.done = asyncio.Event()
        self.start = 0.0

    def now(self) -> float:
        return asyncio.get_running_loop().time() - self.start

    async def send_refresh(self, method, headers):
        self.sent.append((self.now(), method, dict(headers)))
        answer = self.answers.pop(0) if self.answers else None
        if not self.answers:
            self.done.set()
        return answer

    async def take_answer(self, body):
        self.sdp_answers.append(body)
        return None

    async def end_session(self, reason):
        self.ended.append((self.now(), reason))
        self.done.set()


def response(status: int, body: bytes = b"", **headers: str) -> SipMessage:
    msg = SipMessage(status=status, reason="x", body=body)
    for name, value in headers.items():
        msg.add(name.replace("_", "-"), value)
    return msg


def run(dialog: Dialog, interval: SessionInterval, settle_s: float = 0.0) -> SessionTimer:
    async def go():
        dialog.start = asyncio.get_running_loop().time()
        timer = SessionTimer(dialog, 1800, 1)
        timer.start(interval)
        await asyncio.wait_for(dialog.done.wait(), 10)
        await asyncio.sleep(settle_s)
        timer.close()
        return timer

    return asyncio.run(go())


def test_refresher_sends_update_at_half_the_interval_and_keeps_going():
    dialog = Dialog(
        response(200, Session_Expires="1;refresher=uac"),
        response(200, Session_Expires="1;refresher=uac"),
    )
    run(dialog, SessionInterval(1, we_refresh=True))
    (first, method, headers), (second, _, _) = dialog.sent
    assert method == "UPDATE" and first >= 0.5 and second - first >= 0.5
    assert headers == {"Supported": "timer", "Session-Expires": "1;refresher=uac", "Min-SE": "1"}
    assert dialog.ended == []


def test_refresh_is_a_reinvite_when_the_peer_does_not_allow_update_and_its_sdp_is_taken():
    dialog = Dialog(response(200, b"v=0", Session_Expires="1"), allows_update=False)
    timer = run(dialog, SessionInterval(1, we_refresh=True))
    assert [method for _, method, _ in dialog.sent] == ["INVITE"]
    assert dialog.sdp_answers == [b"v=0"]
    assert timer.interval == SessionInterval(1, we_refresh=True)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (response(408), "session refresh failed: 408"),
        (response(481), "session refresh failed: 481"),
        (None, "session refresh failed: no response"),
    ],
)
def test_refresh_answered_408_481_or_unanswered_ends_the_call(answer, reason):
    dialog = Dialog(answer)
    run(dialog, SessionInterval(1, we_refresh=True))
    assert [r for _, r in dialog.ended] == [reason]


def test_refresh_answered_422_is_sent_again_with_the_larger_interval():
    dialog = Dialog(response(422, Min_SE="5"), response(200, Session_Expires="5"))
    timer = run(dialog, SessionInterval(1, we_refresh=True))
    assert [h["Session-Expires"] for _, _, h in dialog.sent] == [
        "1;refresher=uac",
        "5;refresher=uac",
    ]
    assert dialog.sent[1][2]["Min-SE"] == "5"
    assert timer.interval == SessionInterval(5, we_refresh=True)


def test_other_refresh_failures_are_retried_then_the_session_expires():
    dialog = Dialog(response(500), response(491))
    dialog.done = asyncio.Event()  # wait for the end, not for the scripted answers
    dialog.answers.append(response(500))

    async def go():
        dialog.start = asyncio.get_running_loop().time()
        timer = SessionTimer(dialog, 1800, 1)
        timer.start(SessionInterval(2, we_refresh=True))
        while not dialog.ended:
            await asyncio.sleep(0.05)
        timer.close()

    asyncio.run(go())
    times = [at for at, _, _ in dialog.sent]
    assert len(times) == 2 and times[0] >= 1.0 and times[1] >= 1.5  # half, then halfway again
    [(at, reason)] = dialog.ended
    assert reason == "session timer expired" and at >= 2.0


def test_without_a_refresh_the_session_expires_at_interval_minus_a_third():
    dialog = Dialog()
    run(dialog, SessionInterval(3, we_refresh=False))
    [(at, reason)] = dialog.ended
    assert reason == "session timer expired" and at >= 2.0  # 3 - min(32, 3/3)
    assert dialog.sent == []


def test_restart_and_stop_cancel_the_pending_deadline():
    async def go():
        dialog = Dialog()
        timer = SessionTimer(dialog, 1800, 1)
        timer.start(SessionInterval(1, we_refresh=False))
        await asyncio.sleep(0.5)
        timer.start(SessionInterval(1, we_refresh=False))  # a refresh arrived
        await asyncio.sleep(0.4)
        before = list(dialog.ended)
        timer.start(None)  # a refresh without Session-Expires: no timer any more
        await asyncio.sleep(0.5)
        timer.start(SessionInterval(1, we_refresh=True))
        timer.close()  # the call ended
        await asyncio.sleep(0.7)
        return before, dialog

    before, dialog = asyncio.run(go())
    assert before == [] and dialog.ended == [] and dialog.sent == []


def test_our_invite_asks_for_what_is_configured_and_a_422_raises_it_once():
    timer = SessionTimer(Dialog(), 90, 90)
    assert timer.invite_headers() == [
        ("Supported", "timer"),
        ("Session-Expires", "90"),
        ("Min-SE", "90"),
    ]
    assert timer.accept_422(response(422, Min_SE="600"))
    assert timer.invite_headers()[1:] == [("Session-Expires", "600"), ("Min-SE", "600")]
    assert not timer.accept_422(response(422))  # no usable Min-SE: give up
    off = SessionTimer(Dialog(), 0, 90)
    assert off.invite_headers() == [] and not off.accept_422(response(422, Min_SE="600"))
