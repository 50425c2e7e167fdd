import threading

from callcenter.bus import ALL_EVENTS, InProcessEventBus
from callcenter.events import CallAnswered, CallEnded, Event, event_from_dict


def test_events_round_trip_through_dicts() -> None:
    event = CallEnded(call_id="c1", outcome="busy", sip_status=486, sip_reason="Busy Here")
    again = event_from_dict(event.to_dict())
    assert again == event
    assert event.to_dict()["type"] == "call.ended"


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
