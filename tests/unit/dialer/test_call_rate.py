"""The trunk's limit on new calls a second, on a clock the test moves."""

from __future__ import annotations

import math

import pytest

from dialer.call_rate import CallRate


class Seconds:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def take(rate: CallRate, calls: int) -> None:
    for _ in range(calls):
        rate.take()


def test_zero_is_no_limit() -> None:
    rate = CallRate(0, clock=Seconds())
    take(rate, 1000)
    assert rate.room() is None
    assert not rate.limited


def test_a_full_bucket_lets_one_seconds_worth_start_at_once() -> None:
    rate = CallRate(5, clock=Seconds())
    assert rate.room() == 5
    take(rate, 5)
    assert rate.room() == 0


def test_calls_come_back_at_the_rate() -> None:
    clock = Seconds()
    rate = CallRate(5, clock=clock)
    take(rate, 5)
    clock.now += 0.2
    assert rate.room() == 1
    clock.now += 0.3
    assert rate.room() == 2  # 2.5 calls' worth: whole calls only
    take(rate, 2)
    clock.now += 0.1
    assert rate.room() == 1  # the half call kept plus another half


def test_an_idle_trunk_never_saves_up_more_than_one_second() -> None:
    clock = Seconds()
    rate = CallRate(8, clock=clock)
    take(rate, 3)
    clock.now += 3600
    assert rate.room() == 8


def test_less_than_one_a_second_still_lets_one_call_start() -> None:
    clock = Seconds()
    rate = CallRate(0.5, clock=clock)
    assert rate.room() == 1
    rate.take()
    clock.now += 1.0
    assert rate.room() == 0
    clock.now += 1.0
    assert rate.room() == 1


def test_calls_placed_past_the_limit_are_paid_back_first() -> None:
    """An agent's own dial is placed even on an empty bucket; the pacer then
    places that many fewer."""
    clock = Seconds()
    rate = CallRate(4, clock=clock)
    take(rate, 6)
    assert rate.room() == 0
    clock.now += 0.5
    assert rate.room() == 0  # 2 calls' worth came in, 2 were owed
    clock.now += 0.25
    assert rate.room() == 1


@pytest.mark.parametrize("limit", [-1.0, math.inf, math.nan])
def test_a_limit_not_zero_or_more_is_refused(limit: float) -> None:
    with pytest.raises(ValueError):
        CallRate(limit, clock=Seconds())
