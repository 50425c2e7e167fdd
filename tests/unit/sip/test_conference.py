"""Who hears whom for listen/whisper/barge, and which legs are relayed or mixed."""

from __future__ import annotations

import asyncio

import pytest

from dialer.sip.conference import Conference, MixClock, MonitorMode, monitor_matrix
from dialer.sip.mixer import MixerError
from dialer.sip.rtp import RtpEndpoint


def test_monitor_matrix_per_mode():
    def matrix(mode: str) -> dict[str, set[str]]:
        return monitor_matrix("c", "a", {"s": mode})

    assert matrix("listen") == {"c": {"a"}, "a": {"c"}, "s": {"c", "a"}}
    assert matrix("whisper") == {"c": {"a"}, "a": {"c", "s"}, "s": {"c", "a"}}
    assert matrix("barge") == {"c": {"a", "s"}, "a": {"c", "s"}, "s": {"c", "a"}}


def test_two_supervisors_hear_a_barging_one_but_not_a_listening_one():
    got = monitor_matrix("c", "a", {"s1": MonitorMode.LISTEN, "s2": MonitorMode.BARGE})
    assert got["s1"] == {"c", "a", "s2"}
    assert got["s2"] == {"c", "a"}
    assert got["c"] == {"a", "s2"}


def _legs() -> tuple[Conference, dict[str, RtpEndpoint]]:
    conference = Conference("call", MixClock())
    legs = {name: RtpEndpoint(name) for name in ("c", "a", "s")}
    for name, endpoint in legs.items():
        conference.join(name, endpoint)
    return conference, legs


def test_listen_keeps_the_customer_and_agent_on_the_plain_relay():
    async def go():
        conference, legs = _legs()
        conference.set_matrix(monitor_matrix("c", "a", {"s": "listen"}))
        assert legs["c"].peer is legs["a"] and legs["a"].peer is legs["c"]
        assert legs["s"].peer is None
        conference.set_matrix(monitor_matrix("c", "a", {"s": "whisper"}))
        assert legs["a"].peer is legs["c"]  # the customer still hears the agent straight
        assert legs["c"].peer is None  # the agent is fed by the mix now
        conference.set_matrix(monitor_matrix("c", "a", {"s": "barge"}))
        assert all(leg.peer is None for leg in legs.values())
        conference.leave("s")
        assert legs["c"].peer is legs["a"] and legs["a"].peer is legs["c"]
        assert legs["s"].mix_in is None
        conference.close()
        assert all(leg.peer is None and leg.mix_in is None for leg in legs.values())

    asyncio.run(go())


def test_a_bad_matrix_changes_nothing():
    async def go():
        conference, legs = _legs()
        conference.set_matrix(monitor_matrix("c", "a", {"s": "listen"}))
        with pytest.raises(MixerError):
            conference.set_matrix({"c": {"nobody"}})
        assert legs["c"].peer is legs["a"]
        conference.close()

    asyncio.run(go())
