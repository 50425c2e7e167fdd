"""The simulated carrier with the built-in gateway: an agent leg to a browser
phone is a real call, a customer bridged into it speaks (its recorded line
reaches the browser), and when the bridge ends one INFO line says what the
customer heard from the agent (the browser's 1000 Hz microphone tone)."""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

import pytest

from dialer.agent_legs import loss_reason
from dialer.carrier import AgentLegRequest, CallProgress, OriginateRequest
from dialer.simulated_carrier import SimulatedCarrier, SimulationProfile
from tests.integration.webphone.conftest import AGENT_TONE_HZ, Bench
from tests.support import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

HEARD_LINE = re.compile(
    r"customer heard the agent on \S+: ([\d.]+) s of audio, level (-?[\d.]+) dBFS, "
    r"dominant frequency (\d+) Hz"
)


class Progress:
    def __init__(self) -> None:
        self.events: list[CallProgress] = []
        self._changed = threading.Condition()

    def __call__(self, event: CallProgress) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait_for(self, phase: str, timeout: float = 15.0) -> CallProgress:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events:
                    if event.phase == phase:
                        return event
                if time.monotonic() > deadline:
                    raise AssertionError(f"no {phase} in {timeout} s: {self.events}")
                self._changed.wait(0.1)


def live_answers(talk_s: float) -> SimulationProfile:
    return SimulationProfile.every_call("answer", talk_s=talk_s)


def carrier_on(bench: Bench, profile: SimulationProfile) -> SimulatedCarrier:
    carrier = SimulatedCarrier(profile, seed=1, browser_phones=bench.gateway, language="en")
    bench.gateway_thread.run(carrier.start())  # the gateway is already serving
    return carrier


def test_a_bridged_customer_speaks_and_says_what_it_heard(
    webphone_bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dialer.simulated_carrier")
    run = webphone_bench.gateway_thread.run
    page = webphone_bench.open_phone(21)
    try:
        webphone_bench.wait_registered(21)
        carrier = carrier_on(webphone_bench, live_answers(talk_s=6.0))
        agent, customer = Progress(), Progress()
        request = AgentLegRequest("leg-21", "sip:agent-21@webphone.invalid")
        run(carrier.connect_agent(request, agent))
        assert agent.wait_for("answered").sip_status == 200
        run(
            carrier.originate(
                OriginateRequest("call-1", "+441234567", "100", locale="en"), customer
            )
        )
        customer.wait_for("answered")
        run(carrier.bridge("call-1", "leg-21"))
        # audioLevel is the level of the last few packets: the customer's line
        # has pauses, so it is sampled until a word is heard ("Hello? ...").
        heard: list[Any] = []

        def customer_heard() -> bool:
            heard.append(page.evaluate("window.phone.inbound()"))
            return heard[-1]["packets"] > 25 and heard[-1]["level"] > 0.01

        wait_until(
            customer_heard,
            5.0,
            "the customer's voice in the browser",
            state=lambda: str(heard[-5:]),
        )

        ended = customer.wait_for("ended", timeout=15)
        assert ended.sip_reason == "remote hangup" and ended.bridged_to == "leg-21"
        lines = [m for r in caplog.records if (m := HEARD_LINE.search(r.getMessage()))]
        assert len(lines) == 1, [r.getMessage() for r in caplog.records]
        seconds, level, frequency = (float(g) for g in lines[0].groups())
        assert seconds > 4.0 and -35 < level < -3
        assert abs(frequency - AGENT_TONE_HZ) < 15

        run(carrier.disconnect_agent("leg-21"))
        assert agent.wait_for("ended").sip_reason == "local hangup"
    finally:
        page.close()


def test_a_browser_phone_that_goes_away_is_a_lost_agent_leg(webphone_bench: Bench) -> None:
    run = webphone_bench.gateway_thread.run
    carrier = carrier_on(webphone_bench, live_answers(talk_s=60.0))
    page = webphone_bench.open_phone(22)
    webphone_bench.wait_registered(22)
    agent = Progress()
    run(carrier.connect_agent(AgentLegRequest("leg-22", "sip:agent-22@webphone.invalid"), agent))
    agent.wait_for("answered")
    page.close()
    ended = agent.wait_for("ended", timeout=5)
    assert ended.outcome == "answered"
    assert loss_reason(ended, answered=True) == "phone hung up: browser disconnected"

    unregistered = Progress()
    run(
        carrier.connect_agent(
            AgentLegRequest("leg-23", "sip:agent-23@webphone.invalid"), unregistered
        )
    )
    gone = unregistered.wait_for("ended", timeout=2)
    assert (gone.outcome, gone.sip_status) == ("no_answer", 480)
    assert loss_reason(gone, answered=False).startswith("phone did not answer: 480")
