"""A published call.ended moves the outcome counter, and /metrics shows it."""

from __future__ import annotations

from prometheus_client import REGISTRY

from callcenter.events import CallEnded
from callcenter.prometheus import set_dial_level, set_hopper_depth


def _ended(outcome: str) -> float:
    value = REGISTRY.get_sample_value("callcenter_calls_ended_total", {"outcome": outcome})
    return value or 0.0


def test_call_ended_counts_once_by_outcome_and_metrics_shows_it(app, client):
    bus = app.extensions["cc_bus"]
    before = _ended("busy")
    event = CallEnded(call_id="fuzz-no-such-call", outcome="busy", sip_status=486)
    bus.publish(event)
    bus.publish(event)  # a redelivery (at-least-once) is not counted again
    assert bus.wait_until_idle()
    assert _ended("busy") == before + 1
    lag = REGISTRY.get_sample_value("callcenter_event_bus_lag_seconds")
    assert lag is not None and 0 <= lag < 10

    set_hopper_depth(7, 42)
    set_dial_level(7, 2.5)
    body = client.get("/metrics").get_data(as_text=True)
    assert f'callcenter_calls_ended_total{{outcome="busy"}} {before + 1}' in body
    assert 'callcenter_hopper_depth{campaign_id="7"} 42.0' in body
    assert 'callcenter_pacer_dial_level{campaign_id="7"} 2.5' in body
    assert "callcenter_socket_clients" in body
