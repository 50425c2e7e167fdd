from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.calling_windows import (
    CLOSE_HORIZON,
    CallingWindows,
    CallingWindowsError,
    Window,
    is_callable,
    next_open,
    window_closes_at,
)

TEHRAN = "Asia/Tehran"
IRAN = CallingWindows.iran_default()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def every_day(*windows: Window) -> CallingWindows:
    return CallingWindows((tuple(windows),) * 7)


def test_iran_default_week_in_tehran():
    # 2025-03-15 is a Saturday; Tehran is UTC+03:30.
    assert is_callable(utc(2025, 3, 15, 5, 30), TEHRAN, IRAN)  # Sat 09:00
    assert not is_callable(utc(2025, 3, 15, 5, 29), TEHRAN, IRAN)
    assert not is_callable(utc(2025, 3, 15, 17, 30), TEHRAN, IRAN)  # Sat 21:00, end exclusive
    assert is_callable(utc(2025, 3, 20, 9, 29), TEHRAN, IRAN)  # Thu 12:59
    assert not is_callable(utc(2025, 3, 20, 9, 30), TEHRAN, IRAN)  # Thu 13:00
    assert not is_callable(utc(2025, 3, 21, 8, 0), TEHRAN, IRAN)  # Friday


def test_next_open_skips_thursday_afternoon_and_friday():
    thursday_afternoon = utc(2025, 3, 20, 11, 0)
    assert next_open(thursday_afternoon, TEHRAN, IRAN) == utc(2025, 3, 22, 5, 30)


def test_next_open_is_now_when_open():
    at = utc(2025, 3, 15, 8, 0)
    assert next_open(at, TEHRAN, IRAN) == at
    assert window_closes_at(at, TEHRAN, IRAN) == utc(2025, 3, 15, 17, 30)
    assert window_closes_at(utc(2025, 3, 21, 8, 0), TEHRAN, IRAN) is None


def test_holiday_is_closed_in_the_leads_local_date():
    nowruz = CallingWindows.iran_default(holidays=[date(2025, 3, 22)])
    assert not is_callable(utc(2025, 3, 22, 8, 0), TEHRAN, nowruz)
    assert next_open(utc(2025, 3, 22, 8, 0), TEHRAN, nowruz) == utc(2025, 3, 23, 5, 30)


def test_same_instant_differs_by_lead_zone():
    at = utc(2025, 6, 2, 14, 0)  # Monday: 17:30 Tehran, 10:00 New York, 15:00 London
    windows = every_day(Window.of("09:00", "12:00"))
    assert not is_callable(at, TEHRAN, windows)
    assert is_callable(at, "America/New_York", windows)
    assert not is_callable(at, "Europe/London", windows)


def test_no_windows_means_never():
    closed = every_day()
    assert next_open(utc(2025, 1, 1), TEHRAN, closed) is None
    assert not is_callable(utc(2025, 1, 1), TEHRAN, closed)


def test_start_in_skipped_hour_opens_at_the_jump():
    # New York 2025-03-09: 02:00 EST jumps to 03:00 EDT at 07:00 UTC.
    windows = every_day(Window.of("02:30", "05:00"))
    assert next_open(utc(2025, 3, 9, 5), "America/New_York", windows) == utc(2025, 3, 9, 7)
    assert not is_callable(utc(2025, 3, 9, 6, 59), "America/New_York", windows)


def test_windows_open_around_the_clock_are_said_to_close_at_the_horizon():
    around_the_clock = every_day(Window.of("00:00", "24:00"))
    at = utc(2025, 3, 15, 8, 0)
    assert window_closes_at(at, TEHRAN, around_the_clock) == at + CLOSE_HORIZON
    assert window_closes_at(at, TEHRAN, around_the_clock, horizon=timedelta(days=2)) == utc(
        2025, 3, 17, 8, 0
    )
    # A stretch that ends within the horizon is reported as it is.
    weekdays_all_day = CallingWindows(((Window.of("00:00", "24:00"),),) * 5 + ((), ()))
    monday = utc(2025, 3, 17, 8, 0)
    assert window_closes_at(monday, "UTC", weekdays_all_day) == utc(2025, 3, 22, 0, 0)


def test_end_in_skipped_hour_closes_at_the_jump():
    windows = every_day(Window.of("01:00", "02:30"))
    at = utc(2025, 3, 9, 6, 30)  # 01:30 EST
    assert window_closes_at(at, "America/New_York", windows) == utc(2025, 3, 9, 7)


def test_end_in_repeated_hour_gives_two_open_stretches():
    # London 2025-10-26: 02:00 BST falls back to 01:00 GMT at 01:00 UTC.
    windows = every_day(Window.of("00:30", "01:30"))
    first = utc(2025, 10, 25, 23, 30)  # 00:30 BST
    assert window_closes_at(first, "Europe/London", windows) == utc(2025, 10, 26, 0, 30)
    assert not is_callable(utc(2025, 10, 26, 0, 45), "Europe/London", windows)  # 01:45 BST
    assert next_open(utc(2025, 10, 26, 0, 45), "Europe/London", windows) == utc(2025, 10, 26, 1)
    assert window_closes_at(utc(2025, 10, 26, 1), "Europe/London", windows) == utc(
        2025, 10, 26, 1, 30
    )


def test_window_to_midnight_runs_into_next_day():
    windows = CallingWindows(
        ((Window.of("20:00", "24:00"),), (Window.of("00:00", "02:00"),), (), (), (), (), ())
    )
    monday_evening = utc(2025, 6, 2, 20)  # Monday 2025-06-02 in UTC
    assert window_closes_at(monday_evening, "UTC", windows) == utc(2025, 6, 3, 2)


def test_dict_round_trip_and_empty_dict_is_default():
    windows = CallingWindows(
        ((Window.of("08:00", "10:00"), Window.of("09:30", "12:00")),) * 7,
        frozenset({date(2025, 3, 21)}),
    )
    data = windows.to_dict()
    assert data["weekly"]["monday"] == [{"start": "08:00", "end": "12:00"}]  # merged
    assert CallingWindows.from_dict(data) == windows
    assert CallingWindows.from_dict({}) == IRAN
    assert CallingWindows.from_dict({"holidays": ["2025-03-21"]}).holidays == {date(2025, 3, 21)}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"weekly": {"saterday": []}}, "unknown weekday"),
        ({"weekly": {**IRAN.to_dict()["weekly"], "monday": [["21:00", "09:00"]]}}, "not before"),
        ({"weekly": {**IRAN.to_dict()["weekly"], "monday": [["9am", "5pm"]]}}, "not a time"),
        ({"weekly": {**IRAN.to_dict()["weekly"], "monday": [["24:00", "24:00"]]}}, "23:59"),
        ({"holidays": ["21/03/2025"]}, "holidays[0]"),
        ({"weekly": {"monday": []}}, "weekly.tuesday: missing"),
        ({"hours": {}}, "unknown keys: hours"),
    ],
)
def test_from_dict_says_what_is_wrong(data, message):
    with pytest.raises(CallingWindowsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        CallingWindows.from_dict(data)


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="aware"):
        is_callable(datetime(2025, 1, 1), TEHRAN, IRAN)


# Property tests across zones with DST (and Tehran, which had DST until 2022).

ZONES = st.sampled_from(
    ["Asia/Tehran", "America/New_York", "Europe/London", "Australia/Lord_Howe", "UTC"]
)
MINUTE = st.integers(min_value=0, max_value=24 * 60)


@st.composite
def windows_configs(draw):
    days = []
    for _ in range(7):
        cuts = sorted(draw(st.lists(MINUTE, max_size=4, unique=True)))
        pairs = [Window(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if a < b]
        days.append(tuple(pairs))
    return CallingWindows(tuple(days))


# Instants clustered around DST changes of 2021-2025 in the sampled zones.
EDGES = [
    utc(2021, 3, 21, 20, 30),
    utc(2021, 9, 21, 19, 30),
    utc(2025, 3, 9, 7),
    utc(2025, 11, 2, 6),
    utc(2025, 3, 30, 1),
    utc(2025, 10, 26, 1),
    utc(2025, 4, 5, 15),
]
INSTANTS = st.one_of(
    st.builds(
        lambda edge, seconds: edge + timedelta(seconds=seconds),
        st.sampled_from(EDGES),
        st.integers(min_value=-3 * 86400, max_value=3 * 86400),
    ),
    st.datetimes(
        min_value=datetime(2019, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
)


def local_minutes_in_window(at, zone, windows) -> bool:
    from zoneinfo import ZoneInfo

    local = at.astimezone(ZoneInfo(zone))
    seconds = local.hour * 3600 + local.minute * 60 + local.second
    return any(w.start * 60 <= seconds < w.end * 60 for w in windows.windows_on(local.date()))


@settings(max_examples=300, deadline=None)
@given(windows_configs(), ZONES, INSTANTS)
def test_callable_means_inside_a_local_window(windows, zone, at):
    at = at.replace(microsecond=0)
    assert is_callable(at, zone, windows) == local_minutes_in_window(at, zone, windows)


@settings(max_examples=200, deadline=None)
@given(windows_configs(), ZONES, INSTANTS)
def test_next_open_is_first_callable_instant(windows, zone, at):
    at = at.replace(second=0, microsecond=0)
    opens = next_open(at, zone, windows)
    if windows.is_never_open:
        assert opens is None
        return
    assert opens is not None and opens >= at
    assert is_callable(opens, zone, windows)
    # Nothing callable strictly between, minute by minute (and one second before).
    probe = at
    while probe < opens:
        assert not is_callable(probe, zone, windows), probe
        probe += timedelta(minutes=1)
    if opens > at:
        assert not is_callable(opens - timedelta(seconds=1), zone, windows)


@settings(max_examples=200, deadline=None)
@given(windows_configs(), ZONES, INSTANTS)
def test_window_closes_at_bounds_the_open_stretch(windows, zone, at):
    at = at.replace(second=0, microsecond=0)
    closes = window_closes_at(at, zone, windows)
    if not is_callable(at, zone, windows):
        assert closes is None
        return
    assert closes is not None and at < closes <= at + CLOSE_HORIZON
    assert is_callable(closes - timedelta(seconds=1), zone, windows)
    if closes < at + CLOSE_HORIZON:
        assert not is_callable(closes, zone, windows)
