"""The live counters after a busy hour equal what the reports compute from
the database, for the in-process and the Redis counters alike; and a restart
(rebuild from the database) gives the same numbers again."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any, cast

import pytest
import redis
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter import metrics
from callcenter.db import Database, utcnow
from callcenter.events import CallEnded, Event
from callcenter.live_counters import (
    CACHED_DAYS,
    Count,
    Fact,
    InProcessCounters,
    LiveCounters,
    RedisCounters,
    make_counters,
)
from callcenter.models import Call
from callcenter.services.floor.payloads import rates
from callcenter.services.floor.projection import LiveFloor
from callcenter.services.floor.rebuild import rebuild_counters_from_db, totals_from_db
from callcenter.services.floor.wiring import live_floor_of
from callcenter.services.reports.agents import agents_report
from callcenter.services.reports.filters import ReportFilters
from tests.integration.supervisor.busy_hour import BusyHour, Floor, build_floor

COUNTS = ("dials", "live_answers", "contacts", "abandoned", "appointments", "connected_sl")
SECONDS = ("connect_wait_s", "talk_s", "wrap_up_s", "t_ready", "t_on_call", "t_wrap_up")


@pytest.fixture(params=["in_process", "redis"])
def counters(request: pytest.FixtureRequest) -> Iterator[LiveCounters]:
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        # its own key prefix: an app left over from another test may still
        # count into the default keys of the same Redis database
        yield RedisCounters(url, prefix=f"cc:live:{uuid.uuid4().hex[:8]}:")
    else:
        yield InProcessCounters()


@pytest.fixture
def floor(app: Flask, counters: LiveCounters) -> LiveFloor:
    live = live_floor_of(app)
    live.counters = counters
    return live


def an_hour_within_one_local_day(floor: LiveFloor) -> datetime:
    """The start of a busy hour (it runs about 1.5 h) that ended before now
    and does not cross local midnight, whatever time the test runs."""
    start = utcnow() - timedelta(hours=2)
    while floor.local_day(start) != floor.local_day(start + timedelta(hours=1, minutes=45)):
        start -= timedelta(minutes=30)
    return start


def _close(a: dict[str, float], b: dict[str, float], names: tuple[str, ...]) -> list[str]:
    """Counts exactly; seconds to SQLite's julianday precision (about 1 ms a call)."""
    return [
        f"{name}: live {a.get(name, 0.0)} != db {b.get(name, 0.0)}"
        for name in names
        if abs(a.get(name, 0.0) - b.get(name, 0.0)) > (0.1 if name in SECONDS else 1e-9)
    ]


@pytest.mark.slow  # a simulated busy hour
def test_counters_equal_the_database_after_a_busy_hour(
    app: Flask, sqlite_database: Database, floor: LiveFloor
) -> None:
    site = build_floor(sqlite_database, agents_count=4)
    start = an_hour_within_one_local_day(floor)
    day = floor.local_day(start)
    floor.ensure_built(day)
    hour = BusyHour(sqlite_database, app.extensions["cc_bus"], site, start, pace_seconds=15)
    end = hour.run()
    assert floor.local_day(end) == day, "the simulated hour crossed local midnight"
    assert hour.outcomes.get("abandoned", 0) > 0 and hour.outcomes.get("answered", 0) > 10

    live = floor.counters.totals(day)[site.campaign_id]
    with sqlite_database.read_sessions() as session:
        db, db_agents = totals_from_db(session, day, tz=floor.tz)
        report = agents_report(
            session,
            ReportFilters(date_from=day, date_to=day, campaign_ids=(site.campaign_id,)),
        )
        row = session.execute(
            select(*metrics.CALL_COUNT_COLUMNS).where(Call.campaign_id == site.campaign_id)
        ).one()
    counts = metrics.call_counts(row)

    # the live counters against the same totals from the rows ...
    assert _close(live, db[site.campaign_id], COUNTS + SECONDS) == []
    assert floor.counters.agent_totals(day) == {
        agent: values for agent, values in db_agents.items() if agent in site.agent_ids
    }
    # ... and the headline numbers against the metrics module and the reports
    shown = rates(live)
    assert (shown["dials"], shown["live_answers"], shown["contacts"]) == (
        counts.dials,
        counts.live_answers,
        counts.contacts,
    )
    assert (shown["abandoned"], shown["appointments"]) == (counts.abandoned, counts.appointments)
    assert shown["abandon_rate"] == pytest.approx(counts.abandon_rate)
    assert shown["conversion_rate"] == pytest.approx(counts.conversion_rate)
    assert shown["aht"] == pytest.approx(report.total.aht, rel=1e-4)
    assert shown["occupancy"] == pytest.approx(report.total.occupancy, rel=1e-4)
    assert counts.appointments > 0

    # the snapshot shows the same, with everyone logged out at the end
    floor.refresh_meta(force=True)
    snapshot = floor.snapshot(end + timedelta(minutes=1))[site.campaign_id]
    assert snapshot["today"]["occupancy"] == pytest.approx(report.total.occupancy, rel=1e-4)
    assert snapshot["today"]["dials"] == counts.dials
    assert snapshot["window"]["abandoned"] == counts.abandoned
    assert snapshot["calls"] == {"dialing": 0, "ringing": 0, "waiting": 0, "live": 0}
    assert snapshot["agents"]["logged_out"] == len(site.agent_ids)

    # a restart: the counters rebuilt from the rows are the same numbers
    fresh = InProcessCounters()
    with sqlite_database.read_sessions() as session:
        rebuild_counters_from_db(session, day, counters=fresh, tz=floor.tz)
    assert _close(fresh.totals(day)[site.campaign_id], live, COUNTS + SECONDS) == []
    assert fresh.agents()[site.agent_ids[0]]["state"] == "logged_out"


@pytest.mark.slow  # a simulated busy hour
def test_machines_leave_the_live_answers_and_contacts_as_in_the_reports(
    app: Flask, sqlite_database: Database, floor: LiveFloor
) -> None:
    """Machines caught by detection, and machines agents took and marked so at
    wrap-up: the live floor counts them out of live answers and contacts at
    once, as the reports do from the rows."""
    site = build_floor(sqlite_database, agents_count=4)
    start = an_hour_within_one_local_day(floor)
    day = floor.local_day(start)
    floor.ensure_built(day)
    hour = BusyHour(
        sqlite_database,
        app.extensions["cc_bus"],
        site,
        start,
        pace_seconds=15,
        detected_machines=True,
        machines_marked_by_agents=0.3,
    )
    end = hour.run()
    assert floor.local_day(end) == day, "the simulated hour crossed local midnight"
    assert hour.outcomes["machine"] > 3 and hour.outcomes["marked_machine"] > 3

    live = floor.counters.totals(day)[site.campaign_id]
    with sqlite_database.read_sessions() as session:
        db, db_agents = totals_from_db(session, day, tz=floor.tz)
        row = session.execute(
            select(*metrics.CALL_COUNT_COLUMNS).where(Call.campaign_id == site.campaign_id)
        ).one()
    counts = metrics.call_counts(row)
    names = (*COUNTS, "machines", "handled")
    assert _close(live, db[site.campaign_id], names + SECONDS) == []
    assert floor.counters.agent_totals(day) == {
        agent: values for agent, values in db_agents.items() if agent in site.agent_ids
    }
    assert counts.machines == hour.outcomes["machine"] + hour.outcomes["marked_machine"]
    assert counts.contacts <= counts.live_answers
    assert counts.handled == counts.contacts + hour.outcomes["marked_machine"]
    shown = rates(live)
    assert (shown["live_answers"], shown["contacts"], shown["machines"]) == (
        counts.live_answers,
        counts.contacts,
        counts.machines,
    )
    assert shown["conversion_rate"] == pytest.approx(counts.conversion_rate)
    fresh = InProcessCounters()
    with sqlite_database.read_sessions() as session:
        rebuild_counters_from_db(session, day, counters=fresh, tz=floor.tz)
    assert _close(fresh.totals(day)[site.campaign_id], live, names + SECONDS) == []


def test_dialer_statuses_round_trip(counters: LiveCounters) -> None:
    counters.set_status("hopper:7", 42)
    counters.set_status("dialing_held", "default: trunk down")
    counters.set_status("dialing_held", None)
    assert counters.statuses() == {"hopper:7": 42, "dialing_held": None}


def test_a_redelivered_event_is_counted_once(
    app: Flask, sqlite_database: Database, floor: LiveFloor
) -> None:
    from callcenter.events import CallDialing

    site = build_floor(sqlite_database, leads=1)
    with sqlite_database.read_sessions() as session:
        from callcenter.models import Lead

        lead_id = session.scalars(select(Lead.id).where(Lead.campaign_id == site.campaign_id)).one()
    event = CallDialing(call_id="c-once", campaign_id=site.campaign_id, lead_id=lead_id, attempt=1)
    bus = app.extensions["cc_bus"]
    bus.publish(event)
    bus.publish(event)
    assert bus.wait_until_idle(10)
    day = floor.local_day(event.occurred_at)
    assert floor.counters.totals(day)[site.campaign_id]["dials"] == 1
    assert floor.counters.get_call("c-once")["state"] == "dialing"


def test_redis_counters_are_shared_by_every_process(redis_url: str) -> None:
    """Two web workers (or a worker and a consumer) see one set of numbers;
    one of them emits each tick; an event is counted by one of them only."""
    from datetime import date

    prefix = f"cc:live:{uuid.uuid4().hex[:8]}:"
    worker, consumer = (
        RedisCounters(redis_url, prefix=prefix),
        RedisCounters(redis_url, prefix=prefix),
    )
    day = date(2026, 3, 1)
    assert consumer.claim("event-1") and not worker.claim("event-1")
    consumer.add(day, 7, {"dials": 1, "talk_s": 12.5}, agent_id=3, agent_deltas={"calls": 1})
    worker.add(day, 7, {"dials": 1})
    consumer.set_call("c1", {"campaign_id": 7, "state": "ringing"})
    assert worker.totals(day) == {7: {"dials": 2.0, "talk_s": 12.5}}
    assert worker.agent_totals(day) == {3: {"calls": 1.0}}
    assert worker.calls() == {"c1": {"campaign_id": 7, "state": "ringing"}}
    assert worker.window([7], [day, date(2026, 2, 28)]) == {7: {"dials": 2.0, "talk_s": 12.5}}
    assert worker.lead(0.9) and not consumer.lead(0.9) and worker.lead(0.9)
    assert worker.first_build(day) and not consumer.first_build(day)


def test_a_fact_about_a_call_is_counted_once_whoever_counts_it(
    counters: LiveCounters, request: pytest.FixtureRequest
) -> None:
    """Two processes share the counters; a rebuild says which facts its totals hold."""
    day = date(2026, 3, 1)
    other = _shared_with(counters, request)
    counters.replace_day(
        day, {7: {"dials": 1.0, "abandoned": 1.0}}, {}, {"c1": Fact.DIALED | Fact.ENDED}
    )
    assert other.facts(day, "c1") == Fact.DIALED | Fact.ENDED
    assert not other.count_once(day, 7, "c1", [Count(Fact.ENDED, {"abandoned": 1})])
    answer = Count(Fact.ANSWERED, {"live_answers": 1})
    connect = Count(Fact.CONNECTED, {"contacts": 1, "talk_s": 12.25}, {"calls": 1})
    machine = Count(Fact.ENDED, {"machines": 1, "live_answers": -1, "contacts": -1}, {"calls": -1})
    assert counters.count_once(day, 7, "c2", [answer, connect, machine], agent_id=3) == (
        Fact.ANSWERED | Fact.CONNECTED | Fact.ENDED
    )
    assert not other.count_once(day, 7, "c2", [answer, connect], agent_id=3)
    assert other.count_once(day, 7, "c2", [Count(Fact.WRAP_UP, {"wrap_up_s": 3})]) == Fact.WRAP_UP
    assert other.totals(day) == {
        7: {"dials": 1.0, "abandoned": 1.0, "machines": 1.0, "talk_s": 12.25, "wrap_up_s": 3.0}
    }
    assert other.agent_totals(day) == {}


def test_a_rebuilds_write_keeps_what_was_counted_since_its_mark(
    counters: LiveCounters, request: pytest.FixtureRequest
) -> None:
    """Two rebuilds overlap while another process counts: each write holds
    its read plus the day's counts made since its mark, each fact once."""
    day, other_day = date(2026, 3, 1), date(2026, 2, 28)
    other = _shared_with(counters, request)
    dial = Count(Fact.DIALED, {"dials": 1})
    connect = Count(Fact.CONNECTED, {"contacts": 1, "talk_s": 12.25}, {"calls": 1})
    first = counters.begin_rebuild()
    other.count_once(day, 7, "c1", [dial])  # committed before the first read: in it
    other.count_once(day, 7, "c2", [dial])
    other.count_once(other_day, 7, "c3", [dial])
    second = other.begin_rebuild()
    other.count_once(day, 7, "c4", [dial, connect], agent_id=3)
    assert counters.replace_day(day, {7: {"dials": 1.0}}, {}, {"c1": Fact.DIALED}, since=first)
    assert other.totals(day) == {7: {"dials": 3.0, "contacts": 1.0, "talk_s": 12.25}}
    assert other.agent_totals(day) == {3: {"calls": 1.0}}
    assert other.facts(day, "c4") == Fact.DIALED | Fact.CONNECTED
    read = {"c1": Fact.DIALED, "c2": Fact.DIALED, "c4": Fact.DIALED}
    assert other.replace_day(day, {7: {"dials": 3.0}}, {}, read, since=second)
    assert other.totals(day) == {7: {"dials": 3.0, "contacts": 1.0, "talk_s": 12.25}}
    counters.end_rebuild(first)
    other.end_rebuild(second)
    other.count_once(day, 7, "c5", [dial])  # no rebuild runs: not recorded
    third = counters.begin_rebuild()
    assert counters.replace_day(day, {7: {"dials": 5.0}}, {}, {}, since=third)
    assert counters.totals(day) == {7: {"dials": 5.0}}
    counters.end_rebuild(third)


def test_a_rebuild_does_not_write_over_one_that_began_after_it(
    counters: LiveCounters, request: pytest.FixtureRequest
) -> None:
    """Two rebuilds overlap and the one that began later writes first: the
    earlier one's write is taken as done and changes nothing (the later read
    holds everything the earlier one does; a commit another process left to
    its own rebuild is only in the later one). A day the later one did not
    write is written."""
    day, other_day = date(2026, 3, 1), date(2026, 2, 28)
    other = _shared_with(counters, request)
    earlier = counters.begin_rebuild()
    later = other.begin_rebuild()
    later_facts = {"c1": Fact.DIALED | Fact.ENDED, "c2": Fact.DIALED}
    assert other.replace_day(day, {7: {"dials": 2.0}}, {}, later_facts, since=later)
    assert other.replace_live({"c2": {"state": "dialing"}}, {5: {"state": "ready"}}, since=later)
    assert counters.replace_day(day, {7: {"dials": 1.0}}, {}, {"c1": Fact.DIALED}, since=earlier)
    assert counters.replace_live({"c1": {"state": "ringing"}}, {}, since=earlier)
    assert other.totals(day) == {7: {"dials": 2.0}}
    assert other.facts(day, "c1") == Fact.DIALED | Fact.ENDED
    assert (other.calls(), other.agents()) == (
        {"c2": {"state": "dialing"}},
        {5: {"state": "ready"}},
    )
    assert counters.replace_day(other_day, {7: {"dials": 4.0}}, {}, {}, since=earlier)
    assert other.totals(other_day) == {7: {"dials": 4.0}}
    counters.end_rebuild(earlier)
    other.end_rebuild(later)


def test_a_rebuild_whose_mark_is_gone_writes_nothing(counters: LiveCounters) -> None:
    """The counts made since its read are not known (Redis lost them, or the
    rebuild took too long): its write is refused."""
    day = date(2026, 3, 1)
    counters.count_once(day, 7, "c1", [Count(Fact.DIALED, {"dials": 1})])
    mark = counters.begin_rebuild()
    counters.end_rebuild(mark)
    assert not counters.replace_day(day, {7: {"dials": 9.0}}, {}, {}, since=mark)
    assert counters.totals(day) == {7: {"dials": 1.0}}
    assert counters.replace_day(day, {7: {"dials": 9.0}}, {}, {})
    assert counters.totals(day) == {7: {"dials": 9.0}}


def test_a_rebuilds_live_write_keeps_what_was_written_since_its_mark(
    counters: LiveCounters, request: pytest.FixtureRequest
) -> None:
    """Another process writes the live maps while a rebuild reads: the
    rebuild's maps get each of those writes again, in order; one whose row
    the read already held leaves it as that write did."""
    other = _shared_with(counters, request)
    other.set_call("c0", {"state": "dialing"})  # before the mark: in the read
    mark = counters.begin_rebuild()
    other.set_call("c1", {"state": "dialing"})  # committed before the read: in it
    other.set_call("c2", {"state": "dialing"})
    other.set_call("c2", {"state": "ringing"})
    other.set_call("c3", {"state": "dialing"})
    other.drop_call("c3")
    other.drop_call("c0")
    assert other.step_call("c1", 2) == {"state": "dialing", "step": 2}
    assert other.step_call("c4", 1) is None
    other.set_agent(5, {"state": "paused"})
    other.set_agent(5, {"state": "ready"})
    read_calls = {"c0": {"state": "answered"}, "c1": {"state": "dialing"}, "c9": {"state": "x"}}
    read_agents = {5: {"state": "on_call"}, 6: {"state": "ready"}}
    assert counters.replace_live(read_calls, read_agents, since=mark)
    assert other.calls() == {
        "c1": {"state": "dialing", "step": 2},
        "c2": {"state": "ringing"},
        "c9": {"state": "x"},
    }
    assert other.agents() == {5: {"state": "ready"}, 6: {"state": "ready"}}
    counters.end_rebuild(mark)
    other.set_call("c5", {"state": "dialing"})  # no rebuild runs: not recorded
    assert not counters.replace_live({}, {}, since=mark)
    assert "c5" in other.calls()
    assert counters.replace_live({}, {6: {"state": "paused"}})
    assert (other.calls(), other.agents()) == ({}, {6: {"state": "paused"}})


def test_the_counters_are_in_redis_when_a_redis_url_is_set(redis_url: str) -> None:
    # (not through create_app: the shared SocketIO would keep the message
    # queue for every later test app)
    assert isinstance(make_counters(redis_url), RedisCounters)
    assert isinstance(make_counters(""), InProcessCounters)


def test_a_live_calls_step_is_set_but_an_ended_call_is_not_brought_back(
    counters: LiveCounters,
) -> None:
    """The agent's script step goes into the live row as it is: an ended
    (dropped) call's move must not revive it."""
    row = {
        "call_id": "c1",
        "campaign_id": 7,
        "lead_id": 12345678901,
        "state": "connected",
        "dialed_at": "2026-03-01T09:00:00.123456+00:00",
        "customer": 'Zoë O\'Brien "Jr" / ü',
        "step": None,
        "ringing_at": None,
        "in_sl": True,
        "inbound": False,
        "amd_decision_ms": 0,
    }
    counters.set_call("c1", row)
    assert counters.step_call("c1", 3) == {**row, "step": 3}
    assert counters.get_call("c1") == {**row, "step": 3}
    assert counters.calls() == {"c1": {**row, "step": 3}}
    counters.drop_call("c1")
    assert counters.step_call("c1", 4) is None
    assert counters.get_call("c1") is None
    assert "c1" not in counters.calls()


def test_a_call_whose_end_is_counted_before_its_start_is_counted_once_and_not_left_live(
    app: Flask, sqlite_database: Database, floor: LiveFloor
) -> None:
    """Consumers in several processes apply a call's events in any order; the
    dialer wrote the calls row before dialing."""
    from callcenter.events import CallAnswered, CallConnected, CallDialing, CallEnded

    site, agent_id, lead_id = _call_opened_for_a_ready_agent(sqlite_database, floor, "c-late")
    dialing = CallDialing(
        call_id="c-late", campaign_id=site.campaign_id, lead_id=lead_id, attempt=1
    )
    bus = app.extensions["cc_bus"]
    for event in (
        CallEnded(call_id="c-late", outcome="answered", agent_id=agent_id, talk_seconds=30),
        CallConnected(call_id="c-late", agent_id=agent_id),
        CallAnswered(call_id="c-late"),
        dialing,
    ):
        bus.publish(event)
        assert bus.wait_until_idle(10)
    totals = floor.counters.totals(floor.local_day(dialing.occurred_at))[site.campaign_id]
    assert (totals["dials"], totals["live_answers"], totals["contacts"]) == (1, 1, 1)
    assert round(totals["talk_s"]) == 30
    assert floor.counters.get_call("c-late") is None


def test_a_call_connected_before_its_dialing_is_applied_shows_live_with_its_agent(
    app: Flask, sqlite_database: Database, floor: LiveFloor
) -> None:
    """Consumers in several processes apply a call's events in any order: a
    read holding the call.dialing may wait for company while another process
    applies the connect at once. The floor shows the call connected to its
    agent from the connect on (it showed it dialing, with no agent, until the
    end), and the late dialing neither hides that nor counts a second dial."""
    from callcenter.events import CallAnswered, CallConnected, CallDialing

    site, agent_id, lead_id = _call_opened_for_a_ready_agent(sqlite_database, floor, "c-early")
    bus = app.extensions["cc_bus"]
    for event in (
        CallAnswered(call_id="c-early"),
        CallConnected(call_id="c-early", agent_id=agent_id),
    ):
        bus.publish(event)
        assert bus.wait_until_idle(10)
    shown = floor.counters.get_call("c-early")
    assert shown is not None
    assert (shown["state"], shown["agent_id"]) == ("connected", agent_id)
    assert shown["customer"]

    dialing = CallDialing(
        call_id="c-early", campaign_id=site.campaign_id, lead_id=lead_id, attempt=1
    )
    bus.publish(dialing)
    assert bus.wait_until_idle(10)
    shown = floor.counters.get_call("c-early")
    assert shown is not None
    assert (shown["state"], shown["agent_id"]) == ("connected", agent_id)
    totals = floor.counters.totals(floor.local_day(dialing.occurred_at))[site.campaign_id]
    assert (totals["dials"], totals["live_answers"], totals["contacts"]) == (1, 1, 1)


def test_a_dial_the_rebuild_counted_from_its_prewritten_row_is_not_counted_again(
    app: Flask, sqlite_database: Database, floor: LiveFloor
) -> None:
    """Redis restarted empty while the dialer had written a call's row but its
    call.dialing was not applied yet: the rebuild counts the row, so the late
    event must not count the dial a second time (issue 17, item 12)."""
    from callcenter.events import CallDialing
    from callcenter.models import Lead
    from callcenter.services import calls

    site = build_floor(sqlite_database, leads=2)
    with sqlite_database.read_sessions() as session:
        first, second = session.scalars(
            select(Lead.id).where(Lead.campaign_id == site.campaign_id).order_by(Lead.id)
        ).all()
    prewritten = CallDialing(
        call_id="c-pre", campaign_id=site.campaign_id, lead_id=first, attempt=1
    )
    with sqlite_database.unit_of_work() as session:
        calls.open_call(
            session,
            call_id="c-pre",
            campaign_id=site.campaign_id,
            lead_id=first,
            attempt=1,
            agent_id=None,
            dialer_id="d1",
            at=prewritten.occurred_at,
        )
    # The counters are new here, as after Redis restarted empty: the next event rebuilds them.
    bus = app.extensions["cc_bus"]
    bus.publish(
        CallDialing(call_id="c-other", campaign_id=site.campaign_id, lead_id=second, attempt=1)
    )
    assert bus.wait_until_idle(10)
    bus.publish(prewritten)
    assert bus.wait_until_idle(10)
    day = floor.local_day(prewritten.occurred_at)
    with sqlite_database.read_sessions() as session:
        db, _ = totals_from_db(session, day, tz=floor.tz)
    assert db[site.campaign_id]["dials"] == 2
    assert floor.counters.totals(day)[site.campaign_id]["dials"] == 2


@pytest.mark.slow  # a simulated busy hour
def test_customers_ringing_back_are_not_dials_on_the_floor(
    app: Flask, sqlite_database: Database, floor: LiveFloor
) -> None:
    """A fifth of the calls are customers ringing back: the floor's dials,
    live answers and contact rate count the outbound calls only, as the
    reports do from the rows, and the inbound calls are counted apart."""
    site = build_floor(sqlite_database, agents_count=4)
    start = an_hour_within_one_local_day(floor)
    day = floor.local_day(start)
    floor.ensure_built(day)
    hour = BusyHour(
        sqlite_database, app.extensions["cc_bus"], site, start, pace_seconds=15, inbound_share=0.2
    )
    end = hour.run()
    assert floor.local_day(end) == day, "the simulated hour crossed local midnight"
    assert hour.outcomes["inbound"] > 5 and hour.outcomes["outbound"] > 40

    live = floor.counters.totals(day)[site.campaign_id]
    with sqlite_database.read_sessions() as session:
        db, db_agents = totals_from_db(session, day, tz=floor.tz)
        row = session.execute(
            select(*metrics.CALL_COUNT_COLUMNS).where(Call.campaign_id == site.campaign_id)
        ).one()
    counts = metrics.call_counts(row)
    inbound = ("inbound", "inbound_answered", "inbound_missed", "handled")
    assert _close(live, db[site.campaign_id], COUNTS + inbound + SECONDS) == []
    assert floor.counters.agent_totals(day) == {
        agent: values for agent, values in db_agents.items() if agent in site.agent_ids
    }
    shown = rates(live)
    assert shown["dials"] == counts.dials == hour.outcomes["outbound"]
    assert shown["inbound"] == counts.inbound == hour.outcomes["inbound"]
    assert shown["inbound_answered"] == counts.inbound_answered > 0
    assert counts.inbound_answered + shown["inbound_missed"] == counts.inbound
    assert shown["contact_rate"] == pytest.approx(counts.live_answers / hour.outcomes["outbound"])
    assert counts.handled == counts.contacts + counts.inbound_answered

    fresh = InProcessCounters()
    with sqlite_database.read_sessions() as session:
        rebuild_counters_from_db(session, day, counters=fresh, tz=floor.tz)
    assert _close(fresh.totals(day)[site.campaign_id], live, COUNTS + inbound + SECONDS) == []


def test_an_answer_the_rebuild_counted_is_not_counted_again(
    app: Flask, sqlite_database: Database, floor: LiveFloor, request: pytest.FixtureRequest
) -> None:
    """Redis restarted empty. The consumer in another process commits a call's
    answer; before that process counts it, this one rebuilds the counters from
    the database (the answer is in them). The answer is counted once, as the
    reports count it (the Redis restart fault test saw live answers 9 against 8)."""
    from callcenter import after_commit
    from callcenter.events import CallAnswered, CallDialing
    from callcenter.models import Lead
    from callcenter.services import calls

    site = build_floor(sqlite_database, leads=2)
    with sqlite_database.read_sessions() as session:
        first, second = session.scalars(
            select(Lead.id).where(Lead.campaign_id == site.campaign_id).order_by(Lead.id)
        ).all()
    bus = app.extensions["cc_bus"]
    bus.publish(
        CallDialing(call_id="c-ans", campaign_id=site.campaign_id, lead_id=first, attempt=1)
    )
    assert bus.wait_until_idle(10)
    shared = floor.counters = _restarted_empty(floor.counters, request)

    def this_process_rebuilds(_committed: object) -> None:
        bus.publish(
            CallDialing(call_id="c-other", campaign_id=site.campaign_id, lead_id=second, attempt=1)
        )
        assert bus.wait_until_idle(10)

    other_process = Database(sqlite_database.url)
    after_commit.subscribe(other_process.sessions, this_process_rebuilds)
    LiveFloor(counters=shared, database=other_process, emit=lambda *_: None, tz=floor.tz).watch(
        other_process
    )
    answered = CallAnswered(call_id="c-ans")
    try:
        with other_process.unit_of_work() as session:
            calls.apply_event(session, answered)
    finally:
        other_process.dispose()
    day = floor.local_day(answered.occurred_at)
    with sqlite_database.read_sessions() as session:
        db, _ = totals_from_db(session, day, tz=floor.tz)
    assert db[site.campaign_id]["live_answers"] == 1
    assert shared.totals(day)[site.campaign_id]["live_answers"] == 1


def _call_opened_for_a_ready_agent(
    database: Database, floor: LiveFloor, call_id: str
) -> tuple[Floor, int, int]:
    """A campaign with one lead, its agent ready, and the calls row the dialer
    writes before dialing (no event applied yet); today's numbers exist
    before the call. Returns the site, the agent's and the lead's ids."""
    from callcenter.models import Lead
    from callcenter.services import agents, calls, lead_lifecycle

    site = build_floor(database, leads=1)
    agent_id = site.agent_ids[0]
    floor.ensure_built(floor.local_day(utcnow()))
    with database.unit_of_work() as session:
        lead_id = session.scalars(select(Lead.id).where(Lead.campaign_id == site.campaign_id)).one()
        agents.join_campaign(session, agent_id, site.campaign_id, "sip:1@pbx")
        agents.go_ready(session, agent_id)
        lead_lifecycle.claim_attempt(session, lead_id, now=utcnow())
        calls.open_call(
            session,
            call_id=call_id,
            campaign_id=site.campaign_id,
            lead_id=lead_id,
            attempt=1,
            agent_id=None,
            dialer_id="d1",
            at=utcnow(),
        )
    return site, agent_id, lead_id


def _answered_call(app: Flask, database: Database, call_id: str) -> tuple[int, int]:
    """A call dialed and answered through the bus; its campaign and a spare lead."""
    from callcenter.events import CallAnswered, CallDialing
    from callcenter.models import Lead

    site = build_floor(database, leads=2)
    with database.read_sessions() as session:
        first, second = session.scalars(
            select(Lead.id).where(Lead.campaign_id == site.campaign_id).order_by(Lead.id)
        ).all()
    bus = app.extensions["cc_bus"]
    for event in (
        CallDialing(call_id=call_id, campaign_id=site.campaign_id, lead_id=first, attempt=1),
        CallAnswered(call_id=call_id),
    ):
        bus.publish(event)
        assert bus.wait_until_idle(10)
    return site.campaign_id, second


def _before_the_write(
    shared: LiveCounters, write: str, interleave: Callable[[], None]
) -> LiveCounters:
    """`shared`, with `interleave` run once just before the rebuild's first
    `write` (replace_live or replace_day): another process's work between the
    rebuild's read of the database and its write."""
    pending = [interleave]

    class BeforeTheWrite:
        def __getattr__(self, name: str) -> object:
            attribute = getattr(shared, name)
            if name != write or not pending:
                return attribute

            def written(*args: Any, **kwargs: Any) -> object:
                pending.pop()()
                return attribute(*args, **kwargs)

            return written

    return cast(LiveCounters, BeforeTheWrite())


def _applied_in_another_process(
    database: Database,
    counters: LiveCounters,
    floor: LiveFloor,
    event: Event,
    between_commit_and_count: Callable[[object], None],
) -> None:
    """Another process commits the call event; `between_commit_and_count` runs
    after its commit and before its live floor counts the event."""
    from callcenter.services import calls

    _committed_in_another_process(
        database,
        counters,
        floor,
        lambda session: calls.apply_event(session, event),
        between_commit_and_count,
    )


def _committed_in_another_process(
    database: Database,
    counters: LiveCounters,
    floor: LiveFloor,
    work: Callable[[Session], object],
    between_commit_and_count: Callable[[object], None] = lambda _committed: None,
) -> None:
    """Another process runs `work` in a unit of work; its live floor applies
    what it committed."""
    from callcenter import after_commit

    other_process = Database(database.url)
    after_commit.subscribe(other_process.sessions, between_commit_and_count)
    LiveFloor(counters=counters, database=other_process, emit=lambda *_: None, tz=floor.tz).watch(
        other_process
    )
    try:
        with other_process.unit_of_work() as session:
            work(session)
    finally:
        other_process.dispose()


def _live_and_db(
    floor: LiveFloor, database: Database, counters: LiveCounters, campaign_id: int, day: date
) -> tuple[dict[str, float], dict[str, float]]:
    with database.read_sessions() as session:
        db, _ = totals_from_db(session, day, tz=floor.tz)
    names = ("dials", "live_answers", "contacts", "abandoned", "machines")
    live = counters.totals(day)[campaign_id]
    return (
        {name: live.get(name, 0.0) for name in names},
        {name: db[campaign_id].get(name, 0.0) for name in names},
    )


def test_an_end_the_rebuild_counted_after_a_restart_is_not_counted_again(
    app: Flask, sqlite_database: Database, floor: LiveFloor, request: pytest.FixtureRequest
) -> None:
    """Redis restarted empty. Another process commits a call's abandon; before
    it counts it, this process rebuilds the counters from the database (the
    abandon is in them, the call no longer live). The abandon is counted once."""
    from callcenter.events import CallDialing

    campaign_id, spare = _answered_call(app, sqlite_database, "c-end")
    shared = floor.counters = _restarted_empty(floor.counters, request)
    bus = app.extensions["cc_bus"]

    def this_process_rebuilds(_committed: object) -> None:
        bus.publish(
            CallDialing(call_id="c-other", campaign_id=campaign_id, lead_id=spare, attempt=1)
        )
        assert bus.wait_until_idle(10)

    ended = CallEnded(call_id="c-end", outcome="abandoned")
    _applied_in_another_process(sqlite_database, shared, floor, ended, this_process_rebuilds)
    day = floor.local_day(ended.occurred_at)
    live, db = _live_and_db(floor, sqlite_database, shared, campaign_id, day)
    assert db["abandoned"] == 1 and db["live_answers"] == 1
    assert live == db
    assert shared.get_call("c-end") is None


def test_an_end_counted_while_a_rebuild_reads_does_not_leave_the_call_live(
    app: Flask, sqlite_database: Database, floor: LiveFloor, request: pytest.FixtureRequest
) -> None:
    """Redis restarted empty. This process rebuilds the counters and reads the
    call in progress; before it writes the live calls, another process commits
    and counts the call's end, with no live call yet to drop. The floor shows
    no call in progress (the Redis restart fault test saw one 'connected' for
    good), and the end is counted once."""
    campaign_id, _spare = _answered_call(app, sqlite_database, "c-late")
    shared = _restarted_empty(floor.counters, request)
    ended = CallEnded(call_id="c-late", outcome="abandoned")

    floor.counters = _before_the_write(
        shared,
        "replace_live",
        lambda: _applied_in_another_process(sqlite_database, shared, floor, ended, lambda _: None),
    )
    day = floor.local_day(ended.occurred_at)
    assert floor.ensure_built(day)
    assert shared.calls() == {}
    live, db = _live_and_db(floor, sqlite_database, shared, campaign_id, day)
    assert db["abandoned"] == 1
    assert live == db


@pytest.mark.parametrize("write", ["replace_day", "replace_live"])
def test_a_rebuild_does_not_write_its_older_read_over_another_processs_rebuild(
    app: Flask,
    sqlite_database: Database,
    floor: LiveFloor,
    request: pytest.FixtureRequest,
    write: str,
) -> None:
    """Redis restarted empty and two processes rebuild. This one reads an
    answered call; before it writes, another process whose last count failed
    while Redis was down commits the call's end as a machine, rebuilds from
    rows that hold it and leaves that commit to its rebuild. This process's
    older read does not overwrite it: no call is left in progress and the
    machine is not a live answer (the Redis restart fault test saw a call
    left 'dialing', and 16 live answers against 15)."""
    from callcenter.services import calls

    campaign_id, _spare = _answered_call(app, sqlite_database, "c-both")
    shared = _restarted_empty(floor.counters, request)
    ended = CallEnded(call_id="c-both", outcome="machine")

    def ended_by_a_stale_process() -> None:
        other_process = Database(sqlite_database.url)
        other = LiveFloor(
            counters=shared, database=other_process, emit=lambda *_: None, tz=floor.tz
        )
        other._stale = True  # its last count failed: it rebuilds at its next commit
        other.watch(other_process)
        try:
            with other_process.unit_of_work() as session:
                calls.apply_event(session, ended)
        finally:
            other_process.dispose()

    floor.counters = _before_the_write(shared, write, ended_by_a_stale_process)
    day = floor.local_day(ended.occurred_at)
    assert floor.ensure_built(day)
    assert shared.calls() == {}
    live, db = _live_and_db(floor, sqlite_database, shared, campaign_id, day)
    assert (db["live_answers"], db["machines"]) == (0, 1)
    assert live == db


def test_a_late_dial_applied_while_an_end_is_rebuilt_for_does_not_leave_the_call_live(
    app: Flask, sqlite_database: Database, floor: LiveFloor, request: pytest.FixtureRequest
) -> None:
    """Redis restarted empty. This process commits a call's end, its first
    commit since, and rebuilds for it from rows that hold the end. Before its
    rebuild writes, another process applies the call's late call.dialing
    (consumers in several processes apply a call's events in any order) and
    shows the call dialing. The floor shows no call in progress, and a dial
    applied later still does not bring it back (the Redis restart fault test
    saw a call left 'dialing' and one left 'ringing')."""
    from callcenter.events import CallDialing
    from callcenter.services import calls

    campaign_id, _spare = _answered_call(app, sqlite_database, "c-late")
    with sqlite_database.read_sessions() as session:
        lead_id = session.scalars(select(Call.lead_id).where(Call.id == "c-late")).one()
    shared = _restarted_empty(floor.counters, request)

    def late_dial() -> None:
        dialed = CallDialing(call_id="c-late", campaign_id=campaign_id, lead_id=lead_id, attempt=1)
        _applied_in_another_process(sqlite_database, shared, floor, dialed, lambda _: None)

    this_process = Database(sqlite_database.url)
    LiveFloor(
        counters=_before_the_write(shared, "replace_live", late_dial),
        database=this_process,
        emit=lambda *_: None,
        tz=floor.tz,
    ).watch(this_process)
    ended = CallEnded(call_id="c-late", outcome="abandoned")
    try:
        with this_process.unit_of_work() as session:
            calls.apply_event(session, ended)
    finally:
        this_process.dispose()
    assert shared.calls() == {}
    late_dial()
    assert shared.calls() == {}
    live, db = _live_and_db(
        floor, sqlite_database, shared, campaign_id, floor.local_day(ended.occurred_at)
    )
    assert (db["dials"], db["abandoned"]) == (1, 1)
    assert live == db


def test_a_late_ringing_does_not_show_an_answered_call_ringing_again(
    app: Flask, sqlite_database: Database, floor: LiveFloor
) -> None:
    """Consumers in several processes apply a call's events in any order: a
    call.ringing applied after the call's answer leaves the floor showing the
    call answered (the Redis restart fault test's logs showed connected calls
    shown ringing until they ended)."""
    from callcenter.events import CallRinging

    _answered_call(app, sqlite_database, "c-order")
    late = CallRinging(call_id="c-order")
    _applied_in_another_process(sqlite_database, floor.counters, floor, late, lambda _: None)
    shown = floor.counters.get_call("c-order")
    assert shown is not None
    assert (shown["state"], shown["ringing_at"]) == ("answered", late.occurred_at.isoformat())


@pytest.mark.parametrize("outcome", ["answered", "abandoned"])
def test_an_answer_applied_after_its_end_is_a_live_answer_in_the_row_too(
    app: Flask, sqlite_database: Database, floor: LiveFloor, outcome: str
) -> None:
    """Consumers in several processes apply a call's events in any order: a
    call's end, saying it was answered but with no answer time (no
    answering-machine detection ran), applied before its call.answered. The
    floor counts the live answer at the end; the calls row gets the answer's
    time when it comes, so the reports count it too (the Redis restart fault
    test saw 10 live answers on the floor against 9 in the database)."""
    from callcenter.events import CallAnswered, CallDialing
    from callcenter.models import Lead

    site = build_floor(sqlite_database, leads=1)
    with sqlite_database.read_sessions() as session:
        lead_id = session.scalars(select(Lead.id).where(Lead.campaign_id == site.campaign_id)).one()
    bus = app.extensions["cc_bus"]
    dialed = CallDialing(
        call_id="c-end-first", campaign_id=site.campaign_id, lead_id=lead_id, attempt=1
    )
    for event in (dialed, CallEnded(call_id="c-end-first", outcome=outcome)):
        bus.publish(event)
        assert bus.wait_until_idle(10)
    answered = CallAnswered(call_id="c-end-first")
    bus.publish(answered)
    assert bus.wait_until_idle(10)
    with sqlite_database.read_sessions() as session:
        row = session.get(Call, "c-end-first")
        assert row is not None and row.answered_at is not None
    day = floor.local_day(dialed.occurred_at)
    live, db = _live_and_db(floor, sqlite_database, floor.counters, site.campaign_id, day)
    assert db["live_answers"] == 1
    assert live == db


def test_counts_made_between_a_rebuilds_read_and_its_write_are_not_lost(
    app: Flask, sqlite_database: Database, floor: LiveFloor, request: pytest.FixtureRequest
) -> None:
    """Redis restarted empty. This process rebuilds the counters; after its
    read of the rows and before its write, another process commits and counts
    a new call's dial and another call's abandon. The rebuilt numbers keep
    both (the Redis restart fault test saw 22 dials on the floor against 23
    in the database)."""
    from callcenter.events import CallDialing

    campaign_id, spare = _answered_call(app, sqlite_database, "c-mid")
    shared = _restarted_empty(floor.counters, request)
    dialed = CallDialing(call_id="c-new", campaign_id=campaign_id, lead_id=spare, attempt=1)
    ended = CallEnded(call_id="c-mid", outcome="abandoned")
    interleaved: list[Event] = []

    def counted() -> None:
        for event in (dialed, ended):
            interleaved.append(event)
            _applied_in_another_process(sqlite_database, shared, floor, event, lambda _: None)

    floor.counters = _before_the_write(shared, "replace_day", counted)
    day = floor.local_day(ended.occurred_at)
    assert floor.ensure_built(day)
    assert interleaved == [dialed, ended]
    live, db = _live_and_db(floor, sqlite_database, shared, campaign_id, day)
    assert db["dials"] == 2 and db["abandoned"] == 1
    assert live == db
    assert shared.get_call("c-mid") is None


def test_a_call_dialed_between_a_rebuilds_read_and_its_write_is_live(
    app: Flask, sqlite_database: Database, floor: LiveFloor, request: pytest.FixtureRequest
) -> None:
    """Redis restarted empty. This process rebuilds the live maps; after its
    read of the rows and before its write, another process commits and applies
    a new call's dial. The floor shows that call in progress next to the one
    the read held (the write wiped it until the call ended)."""
    from callcenter.events import CallDialing

    campaign_id, spare = _answered_call(app, sqlite_database, "c-held")
    shared = _restarted_empty(floor.counters, request)
    dialed = CallDialing(call_id="c-dialed", campaign_id=campaign_id, lead_id=spare, attempt=1)

    floor.counters = _before_the_write(
        shared,
        "replace_live",
        lambda: _applied_in_another_process(sqlite_database, shared, floor, dialed, lambda _: None),
    )
    assert floor.ensure_built(floor.local_day(dialed.occurred_at))
    calls = shared.calls()
    assert sorted(calls) == ["c-dialed", "c-held"]
    assert calls["c-dialed"]["state"] == "dialing"
    assert calls["c-held"]["state"] == "answered"


def test_an_agent_state_changed_between_a_rebuilds_read_and_its_write_is_shown(
    app: Flask, sqlite_database: Database, floor: LiveFloor, request: pytest.FixtureRequest
) -> None:
    """Redis restarted empty. This process rebuilds the live maps; after its
    read of the rows and before its write, another process commits and applies
    an agent's pause. The floor shows the agent paused, not ready until their
    next change."""
    from callcenter.services import agents

    site = build_floor(sqlite_database, agents_count=1, leads=1)
    agent_id = site.agent_ids[0]
    with sqlite_database.unit_of_work() as session:
        agents.join_campaign(session, agent_id, site.campaign_id, f"sip:{agent_id}@pbx")
        agents.go_ready(session, agent_id)
    shared = _restarted_empty(floor.counters, request)

    def paused(session: Session) -> None:
        agents.pause(session, agent_id, site.pause_reason)

    floor.counters = _before_the_write(
        shared,
        "replace_live",
        lambda: _committed_in_another_process(sqlite_database, shared, floor, paused),
    )
    assert floor.ensure_built(floor.local_day(utcnow()))
    shown = shared.get_agent(agent_id)
    assert shown is not None
    assert (shown["state"], shown["reason"]) == ("paused", site.pause_reason)


def test_live_writes_between_a_rebuilds_read_and_its_write_are_kept_in_order(
    app: Flask, sqlite_database: Database, floor: LiveFloor, request: pytest.FixtureRequest
) -> None:
    """Between the rebuild's read and its write, another process dials a call
    and ends it, and an agent pauses and comes back: the floor shows neither
    the ended call nor the pause."""
    from callcenter.events import CallDialing
    from callcenter.services import agents

    campaign_id, spare = _answered_call(app, sqlite_database, "c-held")
    site = build_floor(sqlite_database, agents_count=1, leads=1)
    agent_id = site.agent_ids[0]
    with sqlite_database.unit_of_work() as session:
        agents.join_campaign(session, agent_id, site.campaign_id, f"sip:{agent_id}@pbx")
        agents.go_ready(session, agent_id)
    shared = _restarted_empty(floor.counters, request)
    dialed = CallDialing(call_id="c-brief", campaign_id=campaign_id, lead_id=spare, attempt=1)
    ended = CallEnded(call_id="c-brief", outcome="no_answer")

    def changed() -> None:
        for event in (dialed, ended):
            _applied_in_another_process(sqlite_database, shared, floor, event, lambda _: None)
        for change in (
            lambda session: agents.pause(session, agent_id, site.pause_reason),
            lambda session: agents.go_ready(session, agent_id),
        ):
            _committed_in_another_process(sqlite_database, shared, floor, change)

    floor.counters = _before_the_write(shared, "replace_live", changed)
    assert floor.ensure_built(floor.local_day(dialed.occurred_at))
    assert sorted(shared.calls()) == ["c-held"]
    shown = shared.get_agent(agent_id)
    assert shown is not None and shown["state"] == "ready"


def test_an_end_a_new_days_rebuild_counted_is_not_counted_again(
    app: Flask, sqlite_database: Database, floor: LiveFloor, request: pytest.FixtureRequest
) -> None:
    """Another web process sharing the counters rebuilds the day's totals
    (the first event of a new day: the live calls are kept) between the commit
    of a call's end and its count. The end is counted once."""
    from callcenter.services.floor.rebuild import rebuild_counters_from_db

    campaign_id, _spare = _answered_call(app, sqlite_database, "c-day")
    shared = floor.counters
    ended = CallEnded(call_id="c-day", outcome="abandoned")
    day = floor.local_day(ended.occurred_at)
    web = _shared_with(shared, request)

    def another_process_rebuilds_the_day(_committed: object) -> None:
        with sqlite_database.read_sessions() as session:
            rebuild_counters_from_db(session, day, counters=web, tz=floor.tz, live=False)

    _applied_in_another_process(
        sqlite_database, shared, floor, ended, another_process_rebuilds_the_day
    )
    live, db = _live_and_db(floor, sqlite_database, shared, campaign_id, day)
    assert db["abandoned"] == 1 and db["live_answers"] == 1
    assert live == db
    assert shared.get_call("c-day") is None


def test_an_end_counted_before_a_rebuild_stays_counted_once(
    app: Flask, sqlite_database: Database, floor: LiveFloor, request: pytest.FixtureRequest
) -> None:
    """The opposite order: the end is counted, then another process rebuilds."""
    from callcenter.services.floor.rebuild import rebuild_counters_from_db

    campaign_id, _spare = _answered_call(app, sqlite_database, "c-before")
    shared = floor.counters
    ended = CallEnded(call_id="c-before", outcome="abandoned")
    _applied_in_another_process(sqlite_database, shared, floor, ended, lambda _committed: None)
    day = floor.local_day(ended.occurred_at)
    with sqlite_database.read_sessions() as session:
        rebuild_counters_from_db(session, day, counters=_shared_with(shared, request), tz=floor.tz)
    live, db = _live_and_db(floor, sqlite_database, shared, campaign_id, day)
    assert db["abandoned"] == 1
    assert live == db
    assert shared.get_call("c-before") is None


def test_an_appointment_a_rebuild_counted_is_not_counted_again(
    app: Flask, sqlite_database: Database, floor: LiveFloor, request: pytest.FixtureRequest
) -> None:
    """A conversion: another process books a meeting on a call; a web process
    sharing the counters rebuilds the day between that commit and its count."""
    from callcenter import after_commit
    from callcenter.models import Appointment, Lead, MeetingKind
    from callcenter.services import appointments
    from callcenter.services.floor.rebuild import rebuild_counters_from_db

    campaign_id, _spare = _answered_call(app, sqlite_database, "c-sold")
    shared = floor.counters
    day = floor.local_day(utcnow())
    web = _shared_with(shared, request)

    def another_process_rebuilds_the_day(_committed: object) -> None:
        with sqlite_database.read_sessions() as session:
            rebuild_counters_from_db(session, day, counters=web, tz=floor.tz, live=False)

    other_process = Database(sqlite_database.url)
    after_commit.subscribe(other_process.sessions, another_process_rebuilds_the_day)
    LiveFloor(counters=shared, database=other_process, emit=lambda *_: None, tz=floor.tz).watch(
        other_process
    )
    try:
        with other_process.unit_of_work() as session:
            call = session.get_one(Call, "c-sold")
            lead = session.get_one(Lead, call.lead_id)
            starts = utcnow() + timedelta(days=3)
            meeting = Appointment(
                customer_id=lead.customer_id,
                lead_id=lead.id,
                campaign_id=campaign_id,
                call_id=call.id,
                booked_by_id=call.agent_id or _any_agent(session),
                owner_id=call.agent_id or _any_agent(session),
                starts_at=starts,
                ends_at=starts + timedelta(minutes=30),
                kind=MeetingKind.IN_PERSON,
            )
            appointments.hold_calendar(session, meeting, by_id=None, now=utcnow())
    finally:
        other_process.dispose()
    with sqlite_database.read_sessions() as session:
        db, _ = totals_from_db(session, day, tz=floor.tz)
    assert db[campaign_id]["appointments"] == 1
    assert shared.totals(day)[campaign_id]["appointments"] == 1


def _any_agent(session: Session) -> int:
    from callcenter.models import User
    from callcenter.states import Role

    return session.scalars(select(User.id).where(User.role == Role.AGENT)).first() or 0


def _shared_with(counters: LiveCounters, request: pytest.FixtureRequest) -> LiveCounters:
    """What another process sees of `counters`: the same Redis keys through
    its own client, or (in-process counters) the same object."""
    if isinstance(counters, RedisCounters):
        return RedisCounters(request.getfixturevalue("redis_url"), prefix=counters.prefix)
    return counters


def _restarted_empty(counters: LiveCounters, request: pytest.FixtureRequest) -> LiveCounters:
    if isinstance(counters, RedisCounters):
        url = request.getfixturevalue("redis_url")
        return RedisCounters(url, prefix=f"cc:live:{uuid.uuid4().hex[:8]}:")
    return InProcessCounters()


def test_a_claim_reads_the_row_the_event_changes_only_the_first_time(
    counters: LiveCounters,
) -> None:
    """claim_call / claim_agent / claim_and_set_call / count_once(drop_call)
    do what the separate calls did, each in one step."""
    counters.set_call("c1", {"state": "ringing"})
    counters.set_agent(4, {"state": "ready"})
    assert counters.claim_call("e1", "c1") == (True, {"state": "ringing"})
    assert counters.claim_call("e1", "c1") == (False, None)
    assert counters.claim_call("e2", "c2", mark="m2") == (True, None)
    assert not counters.claim("m2")  # claimed with the event
    assert counters.claim_call("e2", "c2", mark="m3") == (False, None)
    assert counters.claim("m3")  # a redelivery claims no mark
    assert counters.claim_agent("e3", 4) == (True, {"state": "ready"})
    assert counters.claim_agent("e3", 4) == (False, None)
    assert counters.claim_agent("e4", 5) == (True, None)
    assert counters.claim_and_set_call("m4", "c4", {"state": "dialing"})
    assert not counters.claim_and_set_call("m4", "c4", {"state": "other"})
    assert counters.get_call("c4") == {"state": "dialing"}
    assert counters.first_builds(date(2026, 3, 1)) == (True, True)
    assert counters.first_builds(date(2026, 3, 1)) == (False, False)
    assert counters.first_builds(date(2026, 3, 2)) == (False, True)
    day = date(2026, 3, 1)
    ended = [Count(Fact.ENDED, {"talk_s": 3.0})]
    assert counters.count_once(day, 7, "c4", ended, drop_call=True) == Fact.ENDED
    assert counters.get_call("c4") is None and counters.totals(day) == {7: {"talk_s": 3.0}}


def test_the_combined_live_writes_are_journaled_for_a_rebuild(
    counters: LiveCounters, request: pytest.FixtureRequest
) -> None:
    """claim_and_set_call and count_once(drop_call=True) write the live map
    as set_call and drop_call do: a rebuild's write gets them again."""
    other = _shared_with(counters, request)
    other.set_call("c1", {"state": "ringing"})
    mark = counters.begin_rebuild()
    assert other.claim_and_set_call("m2", "c2", {"state": "dialing"})
    ended = [Count(Fact.ENDED, {"talk_s": 1.0})]
    other.count_once(date(2026, 3, 1), 7, "c1", ended, drop_call=True)
    assert counters.replace_live({"c1": {"state": "ringing"}}, {}, since=mark)
    assert other.calls() == {"c2": {"state": "dialing"}}
    counters.end_rebuild(mark)


def test_what_a_reader_kept_gives_way_to_every_later_write(
    counters: LiveCounters, request: pytest.FixtureRequest
) -> None:
    """The Redis counters keep what they read of a day's totals and of the
    live rows until these change: a write by any process (a count, an add, a
    rebuild's write, through another client) is read at the next ask, past
    days included (a call dialed before midnight ends after it)."""
    writer = _shared_with(counters, request)
    today, yesterday, older = date(2026, 3, 2), date(2026, 3, 1), date(2026, 2, 20)
    days = [today, yesterday, older]
    writer.add(older, 7, {"dials": 1})
    writer.add(yesterday, 7, {"dials": 2}, agent_id=3, agent_deltas={"calls": 1})
    assert counters.window([7, 8], days) == {7: {"dials": 3.0}, 8: {}}
    assert counters.agent_totals(yesterday) == {3: {"calls": 1.0}}
    writer.count_once(
        yesterday, 7, "c1", [Count(Fact.ENDED, {"talk_s": 5.0}, {"calls": 1})], agent_id=3
    )
    assert counters.window([7, 8], days) == {7: {"dials": 3.0, "talk_s": 5.0}, 8: {}}
    assert counters.agent_totals(yesterday) == {3: {"calls": 2.0}}
    writer.add(older, 8, {"dials": 4}, agent_id=5, agent_deltas={"calls": 1})
    assert counters.window([7, 8], days) == {7: {"dials": 3.0, "talk_s": 5.0}, 8: {"dials": 4.0}}
    assert writer.replace_day(yesterday, {7: {"dials": 9.0}}, {4: {"calls": 6.0}})
    assert counters.window([7], days) == {7: {"dials": 10.0}}
    assert counters.agent_totals(yesterday) == {4: {"calls": 6.0}}
    writer.set_agent(3, {"state": "ready", "campaign_id": 7})
    writer.set_call("c2", {"state": "ringing", "campaign_id": 7})
    seen = counters.agents()
    seen[3]["state"] = "changed by a caller"
    counters.calls()["c2"]["state"] = "changed by a caller"
    assert counters.agents() == {3: {"state": "ready", "campaign_id": 7}}
    assert counters.calls() == {"c2": {"state": "ringing", "campaign_id": 7}}
    writer.set_agent(3, {"state": "paused", "campaign_id": 7})
    writer.drop_call("c2")
    assert counters.agents() == {3: {"state": "paused", "campaign_id": 7}}
    assert counters.calls() == {}


def test_totals_redis_lost_and_got_again_are_read_anew(redis_url: str) -> None:
    """Redis restarted empty and the day was written again, as often as
    before: the versions are new, so what a reader kept is not taken for it."""
    prefix = f"cc:live:{uuid.uuid4().hex[:8]}:"
    reader, writer = (
        RedisCounters(redis_url, prefix=prefix),
        RedisCounters(redis_url, prefix=prefix),
    )
    day = date(2026, 3, 1)
    writer.add(day, 7, {"dials": 1}, agent_id=3, agent_deltas={"calls": 1})
    assert reader.window([7], [day]) == {7: {"dials": 1.0}}
    assert reader.agent_totals(day) == {3: {"calls": 1.0}}
    client = redis.Redis.from_url(redis_url)
    client.delete(*client.keys(f"{prefix}*"))
    RedisCounters(redis_url, prefix=prefix).add(
        day, 7, {"dials": 2}, agent_id=3, agent_deltas={"calls": 2}
    )
    assert reader.window([7], [day]) == {7: {"dials": 2.0}}
    assert reader.agent_totals(day) == {3: {"calls": 2.0}}


def test_a_day_whose_totals_may_have_expired_is_read_every_time(redis_url: str) -> None:
    """A day older than CACHED_DAYS may lose its totals to their TTL while
    the day's version lives on (another campaign wrote later): read anew."""
    prefix = f"cc:live:{uuid.uuid4().hex[:8]}:"
    counters = RedisCounters(redis_url, prefix=prefix)
    today = date(2026, 3, 1)
    old = today - timedelta(days=CACHED_DAYS)
    counters.add(old, 7, {"dials": 1})
    counters.add(old, 8, {"dials": 1})
    assert counters.window([7], [today, old]) == {7: {"dials": 1.0}}
    redis.Redis.from_url(redis_url).delete(f"{prefix}t:{old.isoformat()}:7")  # expired
    assert counters.window([7], [today, old]) == {7: {}}


def test_one_web_process_counts_the_dialable_leads_and_the_others_read_its_count(
    sqlite_database: Database, redis_url: str
) -> None:
    """Counting reads the campaign's leads (most of a second at a million):
    the first process to find the shared count older than DIALABLE_SECONDS
    counts it for all of them."""
    from callcenter.models import Campaign
    from callcenter.services.floor.projection import DIALABLE_SECONDS
    from tests.factories import make_customer, make_lead
    from tests.integration.dialer.floor import ALWAYS_OPEN

    site = build_floor(sqlite_database, leads=3)
    with sqlite_database.unit_of_work() as session:
        session.get_one(Campaign, site.campaign_id).calling_windows = ALWAYS_OPEN
    prefix, now = f"cc:live:{uuid.uuid4().hex[:8]}:", [utcnow()]

    def process() -> LiveFloor:
        counters = RedisCounters(redis_url, prefix=prefix)
        return LiveFloor(counters, sqlite_database, lambda *_: None, clock=lambda: now[0])

    def dialable(floor: LiveFloor) -> int | None:
        floor.refresh_meta(force=True)
        return floor.snapshot(now[0])[site.campaign_id]["dialable_leads"]

    ticking, other = process(), process()
    assert dialable(ticking) == 3
    with sqlite_database.unit_of_work() as session:
        campaign = session.get_one(Campaign, site.campaign_id)
        for _ in range(2):
            make_lead(session, campaign, make_customer(session))
    assert dialable(other) == 3  # the shared count: this process read no lead
    now[0] += timedelta(seconds=DIALABLE_SECONDS + 1)
    assert dialable(other) == 5  # stale: counted again, and shared
    with sqlite_database.unit_of_work() as session:
        make_lead(session, session.get_one(Campaign, site.campaign_id), make_customer(session))
    assert dialable(ticking) == 5
