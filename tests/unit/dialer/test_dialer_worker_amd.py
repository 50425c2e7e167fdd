"""The worker and answering-machine detection: each call carries its campaign's
choice; a detected machine never reaches an agent and reaches the pacer as a
machine; the verdict travels on the call events."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from callcenter.events import CallAnswered, CallConnected, CallEnded
from dialer.carrier import AmdAction, AmdMode, AmdResult, AmdVerdict, CallProgress
from dialer.pacing import CallResult
from dialer.ports import AgentPhase, Mode
from tests.unit.dialer.fakes import T0
from tests.unit.dialer.test_dialer_worker_decisions import Harness, settle

READY = AgentPhase.READY


def _with_amd(mode: AmdMode, voicemail: str | None = None) -> Harness:
    h = Harness(Mode.PROGRESSIVE, [READY])
    h.plan = replace(h.plan, amd=mode, voicemail_wav=voicemail)
    h.services.plans = [h.plan]
    return h


def _report(h: Harness, call_id: str, progress: CallProgress) -> None:
    callback = h.carrier.callbacks[call_id]
    if progress.phase == "ended":
        del h.carrier.callbacks[call_id]
    callback(progress)


def test_each_call_carries_its_campaigns_amd_choice() -> None:
    h = _with_amd(AmdMode.MESSAGE, "/srv/prompts/ours.wav")

    async def scenario(h: Harness) -> None:
        await h.tick()

    h.run(scenario)
    (request,) = h.carrier.originated
    assert (request.amd, request.voicemail_wav) == (AmdMode.MESSAGE, "/srv/prompts/ours.wav")


def test_a_detected_machine_never_reaches_an_agent_and_paces_as_a_machine() -> None:
    h = _with_amd(AmdMode.HANGUP)
    verdict = AmdVerdict(AmdResult.MACHINE, 1800, T0, AmdAction.HUNG_UP)
    results: list[CallResult] = []

    async def scenario(h: Harness) -> None:
        await h.tick()
        call_id = h.carrier.originated[0].call_id
        ended_at = T0 + timedelta(seconds=2.5)
        _report(
            h, call_id, CallProgress(call_id, "ended", ended_at, outcome="machine", amd=verdict)
        )
        await settle()
        results.extend(outcome.result for outcome in h.worker.pacing[1].outcomes)

    h.run(scenario)
    assert h.bus.of(CallAnswered) == [] and h.bus.of(CallConnected) == []
    assert h.carrier.bridged == []
    assert h.services.agent_rows[1].phase is READY  # never reserved for it
    (ended,) = h.bus.of(CallEnded)
    assert (ended.outcome, ended.agent_id) == ("machine", None)
    assert (ended.amd_result, ended.amd_decision_ms, ended.amd_action) == (
        "machine",
        1800,
        "hung_up",
    )
    assert ended.answered_seconds == 2.5
    assert results == [CallResult.MACHINE]


def test_a_person_goes_to_an_agent_with_the_verdict_on_call_answered() -> None:
    h = _with_amd(AmdMode.HANGUP)
    verdict = AmdVerdict(AmdResult.HUMAN, 1200, T0, AmdAction.PASSED_TO_AGENT)

    async def scenario(h: Harness) -> None:
        await h.tick()
        call_id = h.carrier.originated[0].call_id
        _report(h, call_id, CallProgress(call_id, "answered", T0, amd=verdict))
        await settle()
        h.carrier.end(call_id, "answered")

    h.run(scenario)
    (answered,) = h.bus.of(CallAnswered)
    assert (answered.amd_result, answered.amd_decision_ms, answered.amd_action) == (
        "human",
        1200,
        "passed_to_agent",
    )
    assert [event.agent_id for event in h.bus.of(CallConnected)] == [1]
    (ended,) = h.bus.of(CallEnded)
    assert (ended.outcome, ended.amd_result, ended.answered_seconds) == ("answered", None, None)
