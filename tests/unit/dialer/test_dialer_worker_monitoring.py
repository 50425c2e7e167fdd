"""The worker and a supervisor's phone leg: called on monitor.requested, joined
to the call's mix when it answers, switched in place, hung up when the
supervisor stops or the call ends; a dropped supervisor leaves the call alone."""

from __future__ import annotations

from callcenter.events import (
    CallEnded,
    MonitorEnded,
    MonitorModeChanged,
    MonitorRequested,
    MonitorStarted,
    MonitorStopRequested,
)
from dialer.ports import AgentPhase, Mode
from tests.unit.dialer.test_dialer_worker_decisions import Harness, settle

READY = AgentPhase.READY
PHONE = "sip:2001@10.0.0.9"


async def _connected_call(h: Harness) -> str:
    await h.tick()
    call_id = h.carrier.originated[0].call_id
    h.carrier.answer(call_id)
    await settle()
    assert h.carrier.bridged, "the call was not bridged to the agent"
    return call_id


def _requested(call_id: str, mode: str = "listen") -> MonitorRequested:
    return MonitorRequested(session_id=5, call_id=call_id, supervisor_id=9, phone=PHONE, mode=mode)


def test_listen_then_whisper_then_barge_then_stop_on_one_leg() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY])

    async def scenario(h: Harness) -> None:
        call_id = await _connected_call(h)
        await h.worker.on_agent_request(_requested(call_id))
        await settle()
        for mode in ("whisper", "barge"):
            await h.worker.on_agent_request(
                MonitorModeChanged(session_id=5, call_id=call_id, mode=mode)
            )
        await h.worker.on_agent_request(MonitorStopRequested(session_id=5, call_id=call_id))
        h.carrier.end_leg("monitor-5", 200, "BYE", answered=True)
        await settle()
        assert call_id in h.carrier.up  # the customer is still there
        await h.worker.shutdown()

    h.run(scenario)
    assert h.carrier.legs.count("monitor-5") == 1  # called once, whatever the modes
    assert [mode for _, leg, mode in h.carrier.monitored if leg == "monitor-5"] == [
        "listen",
        "whisper",
        "barge",
    ]
    assert "monitor-5" in h.carrier.disconnected
    assert len(h.bus.of(MonitorStarted)) == 1
    (ended,) = h.bus.of(MonitorEnded)
    assert ended.reason == "supervisor"


def test_the_supervisor_hanging_up_ends_the_session_not_the_call() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY])

    async def scenario(h: Harness) -> None:
        call_id = await _connected_call(h)
        await h.worker.on_agent_request(_requested(call_id, "barge"))
        await settle()
        h.carrier.end_leg("monitor-5", 200, "BYE", answered=True)
        await settle()
        assert call_id in h.carrier.up and call_id not in h.carrier.hung_up
        await h.worker.shutdown()

    h.run(scenario)
    (ended,) = h.bus.of(MonitorEnded)
    assert ended.reason == "phone_hung_up"


def test_the_call_ending_hangs_the_supervisor_up() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY])

    async def scenario(h: Harness) -> None:
        call_id = await _connected_call(h)
        await h.worker.on_agent_request(_requested(call_id))
        await settle()
        h.carrier.end(call_id, "answered")
        await settle()
        h.carrier.end_leg("monitor-5", 200, "BYE", answered=True)
        await settle()
        await h.worker.shutdown()

    h.run(scenario)
    assert "monitor-5" in h.carrier.disconnected
    (ended,) = h.bus.of(MonitorEnded)
    assert ended.reason == "call_ended"
    assert h.bus.of(CallEnded)


def test_a_phone_that_does_not_answer_ends_the_session() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY])

    async def scenario(h: Harness) -> None:
        call_id = await _connected_call(h)
        h.carrier.answer_legs = False
        await h.worker.on_agent_request(_requested(call_id))
        h.carrier.end_leg("monitor-5", 486, "Busy Here", answered=False)
        await settle()
        assert call_id in h.carrier.up
        await h.worker.shutdown()

    h.run(scenario)
    assert h.carrier.monitored == []
    (ended,) = h.bus.of(MonitorEnded)
    assert ended.reason == "phone_failed"


def test_a_call_this_dialer_does_not_hold_is_passed_on() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY])

    async def scenario(h: Harness) -> None:
        await h.worker.on_agent_request(_requested("someone-elses"))
        await h.worker.shutdown()

    h.run(scenario)
    (passed,) = [e for e in h.bus.of(MonitorRequested) if e.passed_on == 1]
    assert passed.call_id == "someone-elses"
    assert "monitor-5" not in h.carrier.legs
