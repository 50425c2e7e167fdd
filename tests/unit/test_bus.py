import threading

import pytest

from callcenter.bus import ALL_EVENTS, InProcessEventBus
from callcenter.events import CallAnswered, CallDialing, CallEnded, Event, event_from_dict


def test_events_round_trip_through_dicts() -> None:
    event = CallEnded(call_id="c1", outcome="busy", sip_status=486, sip_reason="Busy Here")
    again = event_from_dict(event.to_dict())
    assert again == event
    assert event.to_dict()["type"] == "call.ended"


def test_a_manual_dial_and_its_call_round_trip_through_json() -> None:
    """What crosses Redis between the web, the dialers and the consumers."""
    import json

    from callcenter.events import ManualDialRequested

    request = ManualDialRequested(
        agent_id=3,
        campaign_id=2,
        lead_id=9,
        phone_e164="+989121110000",
        attempt=1,
        claim_id=5,
        passed_on=2,
    )
    dialing = CallDialing(
        call_id="c2",
        campaign_id=2,
        lead_id=9,
        attempt=1,
        agent_id=3,
        phone_e164="+989121110000",
        is_manual=True,
    )
    for event in (request, dialing):
        assert event_from_dict(json.loads(json.dumps(event.to_dict()))) == event


def test_listening_in_round_trips_through_json() -> None:
    """The floor asks a dialer (which may pass it on); the dialer answers."""
    import json

    from callcenter.events import (
        MonitorEnded,
        MonitorModeChanged,
        MonitorRequested,
        MonitorStarted,
        MonitorStopRequested,
    )

    for event in (
        MonitorRequested(
            session_id=4, call_id="c", supervisor_id=7, phone="sip:2001@pbx", mode="listen"
        ),
        MonitorModeChanged(session_id=4, call_id="c", mode="barge", passed_on=3),
        MonitorStopRequested(session_id=4, call_id="c"),
        MonitorStarted(session_id=4, call_id="c"),
        MonitorEnded(session_id=4, call_id="c", reason="phone_hung_up"),
    ):
        assert event_from_dict(json.loads(json.dumps(event.to_dict()))) == event


def test_handlers_see_events_in_order_and_a_failing_handler_does_not_stop_the_bus() -> None:
    bus = InProcessEventBus()
    seen: list[str] = []
    everything: list[str] = []
    worker_threads: set[str] = set()

    def failing(_event: Event) -> None:
        raise RuntimeError("boom")

    def recording(event: Event) -> None:
        worker_threads.add(threading.current_thread().name)
        seen.append(event.call_id)  # type: ignore[attr-defined]

    bus.subscribe("call.answered", failing)
    bus.subscribe("call.answered", recording)
    bus.subscribe(ALL_EVENTS, lambda event: everything.append(event.TYPE))
    bus.start()
    try:
        for number in range(50):
            bus.publish(CallAnswered(call_id=f"c{number}"))
        bus.publish(CallEnded(call_id="c0", outcome="answered"))
        assert bus.wait_until_idle(timeout=10)
    finally:
        bus.stop()
    assert seen == [f"c{number}" for number in range(50)]
    assert everything[-1] == "call.ended" and len(everything) == 51
    assert worker_threads == {"event-bus"}
    assert not bus.ping()


def test_a_failing_handler_is_logged_with_the_ids_of_its_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def failing(_event: Event) -> None:
        raise RuntimeError("boom")

    bus = InProcessEventBus()
    bus.subscribe("call.dialing", failing)
    bus.start()
    try:
        bus.publish(CallDialing(call_id="c9", campaign_id=3, lead_id=41, attempt=1))
        assert bus.wait_until_idle(timeout=10)
    finally:
        bus.stop()
    (record,) = [r for r in caplog.records if "failed on call.dialing" in r.getMessage()]
    ids = {field: getattr(record, field, None) for field in ("call_id", "lead_id", "campaign_id")}
    assert ids == {"call_id": "c9", "lead_id": 41, "campaign_id": 3}
    assert not hasattr(record, "agent_id")  # absent ids are left out, not logged as None


def test_an_event_a_handler_could_not_apply_for_a_busy_database_is_applied_again() -> None:
    """SQLite busy past its timeout (or PostgreSQL restarting) fails a handler
    for a while: the event is given to it again, the other handlers run once,
    and the events behind wait their turn. Dropped, a call.ended would leave
    its agent on the call for good (`callcenter run` has only this bus)."""
    from sqlalchemy.exc import OperationalError

    bus = InProcessEventBus()
    applied: list[str] = []
    others: list[str] = []
    busy_left = [2]

    def calls_service(event: Event) -> None:
        if busy_left[0]:
            busy_left[0] -= 1
            raise OperationalError("UPDATE calls", {}, Exception("database is locked"))
        applied.append(event.call_id)  # type: ignore[attr-defined]

    bus.subscribe(CallEnded.TYPE, calls_service)
    bus.subscribe(CallEnded.TYPE, lambda event: others.append(event.call_id))  # type: ignore[attr-defined]
    bus.start()
    try:
        bus.publish(CallEnded(call_id="first", outcome="answered"))
        bus.publish(CallEnded(call_id="second", outcome="answered"))
        assert bus.wait_until_idle(timeout=10)
    finally:
        bus.stop()
    assert applied == ["first", "second"]
    assert others == ["first", "second"]
    assert busy_left == [0]


def test_stopping_the_bus_ends_a_retry_that_cannot_succeed() -> None:
    from sqlalchemy.exc import OperationalError

    bus = InProcessEventBus()
    tried = threading.Event()

    def never_reachable(_event: Event) -> None:
        tried.set()
        raise OperationalError("UPDATE calls", {}, Exception("database is locked"))

    bus.subscribe(CallEnded.TYPE, never_reachable)
    bus.start()
    bus.publish(CallEnded(call_id="c1", outcome="answered"))
    assert tried.wait(10)
    worker = bus._worker
    bus.stop()
    assert worker is not None and not worker.is_alive()


def test_an_event_that_came_before_its_call_is_not_waited_for_in_process() -> None:
    """In-process events are applied in publish order by one thread: the
    call.dialing a call.ended "came before" never comes later (the Redis bus
    waits for another member to apply it). The bus goes on."""
    from callcenter.bus import NotYet

    bus = InProcessEventBus()
    tried: list[str] = []

    def before_its_call(event: Event) -> None:
        tried.append(event.call_id)  # type: ignore[attr-defined]
        raise NotYet("call.ended came before its call.dialing")

    bus.subscribe(CallEnded.TYPE, before_its_call)
    bus.start()
    try:
        bus.publish(CallEnded(call_id="no-such-call", outcome="busy"))
        bus.publish(CallEnded(call_id="next", outcome="busy"))
        assert bus.wait_until_idle(timeout=10)
    finally:
        bus.stop()
    assert tried == ["no-such-call", "next"]


def test_a_database_that_stays_away_past_the_retry_time_lets_the_next_events_through() -> None:
    from sqlalchemy.exc import OperationalError

    bus = InProcessEventBus()
    bus.RETRY_FOR_S = 0.5
    seen: list[str] = []

    def never_reachable(event: Event) -> None:
        seen.append(event.call_id)  # type: ignore[attr-defined]
        if event.call_id == "stuck":  # type: ignore[attr-defined]
            raise OperationalError("UPDATE calls", {}, Exception("no such table: calls"))

    bus.subscribe(CallEnded.TYPE, never_reachable)
    bus.start()
    try:
        bus.publish(CallEnded(call_id="stuck", outcome="busy"))
        bus.publish(CallEnded(call_id="next", outcome="busy"))
        assert bus.wait_until_idle(timeout=10)
    finally:
        bus.stop()
    assert seen[0] == "stuck" and seen[-1] == "next" and seen.count("stuck") >= 2


class Together:
    """A handler that can apply events together: it records each go."""

    def __init__(self, *, refuse: bool = False) -> None:
        self.refuse = refuse
        self.together: list[list[str]] = []
        self.one_by_one: list[str] = []
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()

    def __call__(self, event: Event) -> None:
        self.entered.set()
        self.release.wait(10)
        self.one_by_one.append(event.call_id)  # type: ignore[attr-defined]

    def apply_together(self, events: list[Event]) -> bool:
        if self.refuse:
            return False
        self.together.append([event.call_id for event in events])  # type: ignore[attr-defined]
        return True


def _publish_while_busy(bus: InProcessEventBus, handler: Together, call_ids: list[str]) -> None:
    """The first event holds the worker; the rest queue up behind it."""
    handler.release.clear()
    bus.publish(CallEnded(call_id="first", outcome="busy"))
    assert handler.entered.wait(10)
    for call_id in call_ids:
        bus.publish(CallEnded(call_id=call_id, outcome="busy"))
    handler.release.set()


def test_events_that_wait_together_are_applied_together_by_a_handler_that_can() -> None:
    bus = InProcessEventBus()
    together = Together()
    each: list[str] = []
    bus.subscribe(CallEnded.TYPE, together)
    bus.subscribe(CallEnded.TYPE, lambda event: each.append(event.call_id))  # type: ignore[attr-defined]
    bus.start()
    try:
        _publish_while_busy(bus, together, [f"c{number}" for number in range(13)])
        assert bus.wait_until_idle(timeout=10)
    finally:
        bus.stop()
    assert together.one_by_one == ["first"]  # alone when it came
    assert together.together == [
        [f"c{number}" for number in range(10)],  # TAKE_AT_ONCE
        ["c10", "c11", "c12"],
    ]
    assert each == ["first", *(f"c{number}" for number in range(13))]


def test_events_a_handler_could_not_apply_together_reach_it_one_by_one_in_order() -> None:
    bus = InProcessEventBus()
    together = Together(refuse=True)
    bus.subscribe(CallEnded.TYPE, together)
    bus.start()
    try:
        _publish_while_busy(bus, together, ["a", "b", "c"])
        assert bus.wait_until_idle(timeout=10)
    finally:
        bus.stop()
    assert together.together == []
    assert together.one_by_one == ["first", "a", "b", "c"]
