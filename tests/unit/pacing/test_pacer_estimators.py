"""The learned answer and service-time models."""

from __future__ import annotations

import pytest

from dialer.pacing.estimators import AnswerModel, ServiceModel
from dialer.pacing.state import CallOutcome, CallResult, ServiceRecord


def test_answer_model_learns_the_live_rate_and_forgets_old_data() -> None:
    model = AnswerModel(half_life_calls=200)
    for i in range(3000):
        live = i % 10 < 2
        model.observe(CallOutcome(CallResult.LIVE if live else CallResult.NO_ANSWER, 9.0))
    assert model.live_rate == pytest.approx(0.2, abs=0.02)
    for i in range(1500):
        live = i % 10 < 4
        model.observe(CallOutcome(CallResult.LIVE if live else CallResult.NO_ANSWER, 9.0))
    assert model.live_rate == pytest.approx(0.4, abs=0.03)


def test_answer_hazard_is_conditional_on_ringing_time() -> None:
    model = AnswerModel()
    for i in range(4000):
        if i % 4 == 0:
            model.observe(CallOutcome(CallResult.LIVE, 5.5))
        else:
            model.observe(CallOutcome(CallResult.NO_ANSWER, 20.0))
    assert model.live_within(0, 10) == pytest.approx(0.25, abs=0.02)
    # A call that rang past every live answer time will not be answered live.
    assert model.live_within(10, 10) < 0.02
    assert model.live_within(0, 3) < 0.02


def test_cold_start_prior_is_pessimistic_but_sane() -> None:
    model = AnswerModel()
    assert 0.25 <= model.live_rate <= 0.5
    service = ServiceModel()
    service.refresh()
    assert 0.0 < service.talk_free_within(30, 20) < 0.2
    assert service.wrap_free_within(5, 60) == pytest.approx(1.0)


def test_busy_agent_free_probability_uses_elapsed_time() -> None:
    service = ServiceModel()
    for _ in range(2000):
        service.observe(ServiceRecord(talk_seconds=100.0, wrap_seconds=10.0))
    service.refresh()
    # Talk ends at 100 s and wrap-up takes 10 s more.
    assert service.talk_free_within(95, 20) > 0.9
    assert service.talk_free_within(20, 20) < 0.05
    assert service.wrap_free_within(8, 5) > 0.9
    assert service.wrap_free_within(0, 5) < 0.05
