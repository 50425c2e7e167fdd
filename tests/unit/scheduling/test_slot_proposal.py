from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from callcenter.scheduling import (
    NoFreeSlotsError,
    Slot,
    SlotRules,
    WorkingHours,
    free_slots,
    free_slots_across,
    half_day,
    propose_slots,
    propose_slots_across,
)

TEHRAN = ZoneInfo("Asia/Tehran")


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A Tehran wall-clock time in 2026; 23 November 2026 is a Monday."""
    return datetime(2026, month, day, hour, minute, tzinfo=TEHRAN)


def starts(slots):
    return [slot.start for slot in slots]


def test_first_slot_later_today_and_second_tomorrow_morning():
    first, second = propose_slots(at(23, 10))
    assert first == Slot(at(23, 12), at(23, 13))
    assert second == Slot(at(24, 9), at(24, 10))


def test_two_slots_are_on_different_half_days():
    first, second = propose_slots(at(23, 6))
    assert first.start == at(23, 9)
    assert second.start == at(23, 12)
    assert half_day(first) == (date(2026, 11, 23), "morning")
    assert half_day(second) == (date(2026, 11, 23), "afternoon")


def test_second_slot_does_not_overlap_the_first():
    # Earliest is 11:30 (morning); 12:00 is afternoon but overlaps 11:30-12:30.
    first, second = propose_slots(at(23, 9, 30))
    assert first.start == at(23, 11, 30)
    assert second.start == at(23, 12, 30)


def test_lead_time_is_respected_and_slots_sit_on_the_grid():
    rules = SlotRules(lead_time=timedelta(hours=2))
    slots = free_slots(at(23, 10, 10), rules=rules, limit=3)
    assert starts(slots) == [at(23, 12, 30), at(23, 13), at(23, 13, 30)]


def test_no_slot_that_would_run_past_the_end_of_the_day():
    slots = free_slots(at(23, 14), limit=3)
    assert starts(slots) == [at(23, 16), at(24, 9), at(24, 9, 30)]
    assert slots[0].end == at(23, 17)


def test_thursday_is_a_half_day_and_friday_is_off():
    slots = free_slots(at(26, 10), limit=3)
    # Thursday 12:00-13:00 is the last Thursday slot; Friday is skipped.
    assert starts(slots) == [at(26, 12), at(28, 9), at(28, 9, 30)]


def test_wednesday_evening_proposes_saturday():
    first, second = propose_slots(at(25, 18))
    assert first.start == at(26, 9)
    assert second.start == at(26, 12)


def test_holidays_are_skipped():
    rules = SlotRules(holidays=frozenset({date(2026, 11, 24)}))
    first, second = propose_slots(at(23, 16), rules=rules)
    assert first.start == at(25, 9)
    assert second.start == at(25, 12)


def test_busy_intervals_in_any_zone_are_avoided():
    busy = [
        (at(23, 12), at(23, 14)),
        # 10:30-11:30 UTC is 14:00-15:00 in Tehran.
        (datetime(2026, 11, 23, 10, 30, tzinfo=UTC), datetime(2026, 11, 23, 11, 30, tzinfo=UTC)),
    ]
    first, _ = propose_slots(at(23, 10), busy)
    assert first.start == at(23, 15)


def test_a_slot_touching_a_booking_is_free():
    busy = [Slot(at(23, 12), at(23, 13))]
    assert free_slots(at(23, 10), busy, limit=1)[0].start == at(23, 13)


def test_a_slot_partly_overlapping_a_booking_is_not_free():
    busy = [(at(23, 12, 45), at(23, 13, 15))]
    assert starts(free_slots(at(23, 10), busy, limit=2)) == [at(23, 13, 30), at(23, 14)]


def test_fully_booked_day_moves_to_the_next_working_day():
    busy = [(at(23, 0), at(24, 23, 59))]
    first, second = propose_slots(at(23, 8), busy)
    assert first.start == at(25, 9)
    assert second.start == at(25, 12)


def test_configurable_hours_duration_and_granularity():
    hours = WorkingHours.from_mapping(
        {"mon": ["08:00-12:00", "13:00-16:00"], "tue": ["08:00-12:00"]}, midday="12:30"
    )
    rules = SlotRules(
        working_hours=hours,
        duration=timedelta(minutes=45),
        granularity=timedelta(minutes=15),
        lead_time=timedelta(0),
    )
    slots = free_slots(at(23, 11), rules=rules, limit=3)
    # The lunch break splits the day: no 45-minute slot from 11:15 or 11:30.
    assert starts(slots) == [at(23, 11), at(23, 11, 15), at(23, 13)]
    first, second = propose_slots(at(23, 11), rules=rules)
    assert (first.start, second.start) == (at(23, 11), at(23, 13))


def test_no_two_half_days_within_the_horizon_raises():
    rules = SlotRules(horizon_days=1)
    with pytest.raises(NoFreeSlotsError, match="one free slot"):
        propose_slots(at(23, 14), rules=rules)
    with pytest.raises(NoFreeSlotsError, match="no free slot"):
        propose_slots(at(27, 10), rules=rules)


def test_slots_are_returned_in_the_meeting_zone_and_deterministic():
    now = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)  # 10:00 Tehran
    assert propose_slots(now) == propose_slots(at(23, 10))
    assert propose_slots(now)[0].start.tzinfo == TEHRAN


def test_other_meeting_zone():
    dubai = ZoneInfo("Asia/Dubai")
    rules = SlotRules(tz=dubai)
    first, _ = propose_slots(datetime(2026, 11, 23, 10, 0, tzinfo=dubai), rules=rules)
    assert first.start == datetime(2026, 11, 23, 12, 0, tzinfo=dubai)


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="naive"):
        free_slots(datetime(2026, 11, 23, 10, 0))


def test_working_hours_validation():
    with pytest.raises(ValueError, match="weekday"):
        WorkingHours.from_mapping({"someday": ["09:00-17:00"]})
    with pytest.raises(ValueError, match="ends before"):
        WorkingHours.from_mapping({"mon": ["17:00-09:00"]})
    with pytest.raises(ValueError, match="overlap"):
        WorkingHours.from_mapping({"mon": ["09:00-13:00", "12:00-17:00"]})
    with pytest.raises(ValueError, match="like"):
        WorkingHours.from_mapping({"mon": ["nine to five"]})


def test_default_hours():
    hours = SlotRules().working_hours
    assert hours.windows_on(date(2026, 11, 27)) == ()  # Friday
    assert hours.windows_on(date(2026, 11, 26))[0].end == time(13)  # Thursday
    assert hours.windows_on(date(2026, 11, 21))[0].start == time(9)  # Saturday


def test_across_calendars_a_slot_is_offered_while_anyone_is_free():
    busy = {
        1: [(at(23, 12), at(23, 14))],
        2: [(at(23, 12), at(23, 13)), (at(24, 9), at(24, 12))],
    }
    first, second = propose_slots_across(at(23, 10), busy)
    assert (first.start, first.free_for) == (at(23, 13), (2,))
    assert (second.start, second.free_for) == (at(24, 9), (1,))


def test_across_calendars_a_slot_taken_in_every_one_is_not_offered():
    busy = {1: [(at(23, 12), at(23, 13))], 2: [(at(23, 12), at(23, 13))], 3: []}
    assert free_slots_across(at(23, 10), busy, limit=1)[0].free_for == (3,)
    del busy[3]
    offered = free_slots_across(at(23, 10), busy, limit=3)
    assert [slot.start for slot in offered] == [at(23, 13), at(23, 13, 30), at(23, 14)]
    assert all(slot.free_for == (1, 2) for slot in offered)


def test_across_calendars_with_every_calendar_full():
    horizon = (at(23, 0), at(23, 0) + timedelta(days=20))
    with pytest.raises(NoFreeSlotsError):
        propose_slots_across(at(23, 10), {1: [horizon], 2: [horizon]})
