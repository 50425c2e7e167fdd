"""The worker's decisions against in-memory ports and a carrier the test drives."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from callcenter.events import (
    CallConnected,
    CallDialing,
    CallEnded,
    DialingHeld,
    HopperDepth,
    ManualDialRequested,
    PacerLevelChanged,
    PreviewCallRequested,
    PreviewOffered,
    PreviewSkipped,
)
from dialer.agent_legs import phone_target
from dialer.agent_pool import InProcessAgentPool
from dialer.call_rate import CallRate
from dialer.carrier import CallProgress, TrunkHealth
from dialer.ports import AgentPhase, CampaignPlan, Mode
from dialer.worker import MANUAL_DIAL_PASSES, DialerWorker, WorkerConfig, outcome_of_ended
from tests.unit.dialer.fakes import (
    T0,
    FakeCarrier,
    FakeClock,
    FakeLeads,
    FakeServices,
    RecordingBus,
)

READY, PAUSED, RESERVED = AgentPhase.READY, AgentPhase.PAUSED, AgentPhase.RESERVED


class Harness:
    def __init__(
        self,
        mode: Mode,
        phases: list[AgentPhase],
        leads: int = 10,
        *,
        cps: float = 0.0,
        **config: object,
    ):
        self.clock = FakeClock()
        self.seconds = 0.0
        """The calls-a-second bucket's clock (`cps`: its limit)."""
        self.plan = CampaignPlan(id=1, mode=mode, preview_timeout_s=config.pop("preview", None))  # type: ignore[arg-type]
        self.services = FakeServices(plans=[self.plan])
        for number, phase in enumerate(phases, start=1):
            # Agent 1 has been idle longest.
            self.services.add_agent(number, 1, phase, T0 - timedelta(seconds=100 - number))
        self.leads = FakeLeads(queue={1: list(range(1, leads + 1))})
        self.carrier = FakeCarrier()
        self.bus = RecordingBus()
        config.setdefault("abandon_after_s", 0.05)
        config.setdefault("agent_poll_s", 0.01)
        self.worker = DialerWorker(
            services=self.services,
            leads=self.leads,
            carrier=self.carrier,
            bus=self.bus,
            pool=InProcessAgentPool(),
            config=WorkerConfig(**config),  # type: ignore[arg-type]
            clock=self.clock,
            call_rate=CallRate(cps, clock=lambda: self.seconds),
        )

    def run(self, scenario: Callable[[Harness], Awaitable[None]]) -> None:
        async def go() -> None:
            await self.worker.start()
            await scenario(self)
            await settle()

        asyncio.run(go())

    async def tick(self) -> None:
        await self.worker.tick()
        await settle()


async def settle(rounds: int = 20) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0.001)


def test_progressive_places_one_call_per_ready_agent() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY, READY, READY, PAUSED])

    async def scenario(h: Harness) -> None:
        await h.tick()
        assert len(h.carrier.originated) == 3
        await h.tick()
        assert len(h.carrier.originated) == 3  # still ringing: never more than the ready agents

    h.run(scenario)
    assert [e.lead_id for e in h.bus.of(CallDialing)] == [1, 2, 3]


@pytest.mark.parametrize("mode", [Mode.PROGRESSIVE, Mode.PREDICTIVE])
def test_no_ready_agents_no_calls(mode: Mode) -> None:
    h = Harness(mode, [PAUSED, PAUSED])
    h.run(Harness.tick)
    assert h.carrier.originated == []


@pytest.mark.parametrize("mode", [Mode.PROGRESSIVE, Mode.PREDICTIVE])
def test_a_hopper_found_dry_is_refilled_again_at_the_next_regular_refill(mode: Mode) -> None:
    h = Harness(mode, [READY, READY], leads=0, refill_every_s=3600)

    async def scenario(h: Harness) -> None:
        for _ in range(3):
            await h.tick()
        # The tick's regular refill, then one in the middle of the first tick
        # that found nothing; not one a tick.
        assert h.leads.refills == [1, 1]
        h.leads.in_database[1] = [7]  # dialable now, but nobody asks the database yet
        await h.tick()
        assert h.carrier.originated == []
        h.worker.pacers.hopper_refilled()  # as the worker's regular refill does
        await h.tick()
        assert h.leads.refills == [1, 1, 1]
        assert h.leads.claimed == [7]
        await h.tick()  # the refill found a lead: a dry hopper is refilled mid-tick again
        assert h.leads.refills == [1, 1, 1, 1]

    h.run(scenario)


def test_a_paused_campaign_places_nothing() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY, READY])
    h.services.plans = []  # the database lists active campaigns only
    h.run(Harness.tick)
    assert h.carrier.originated == []


def test_the_trunk_limit_caps_calls_up_at_once() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY] * 5, max_concurrent_calls=2)

    async def scenario(h: Harness) -> None:
        await h.tick()
        assert len(h.carrier.up) == 2
        h.carrier.end(h.carrier.up[0], "busy")
        await settle()
        await h.tick()
        assert len(h.carrier.up) == 2

    h.run(scenario)
    assert len(h.carrier.originated) == 3


@pytest.mark.parametrize("mode", [Mode.PROGRESSIVE, Mode.PREDICTIVE])
def test_the_trunk_calls_a_second_cap_what_a_tick_claims_and_dials(
    mode: Mode, caplog: pytest.LogCaptureFixture
) -> None:
    """A whole floor ready at once: each tick starts at most the limit, and
    claims no lead it does not dial (the rest stay in the hopper)."""
    h = Harness(mode, [READY] * 30, leads=100, cps=5)
    caplog.set_level(logging.INFO, logger="dialer.campaign_pacing")

    async def scenario(h: Harness) -> None:
        await h.tick()
        assert len(h.carrier.originated) == 5
        assert len(h.leads.claimed) == 5
        await h.tick()  # no time has passed: nothing more
        assert len(h.carrier.originated) == 5
        h.seconds += 1.0
        await h.tick()
        assert len(h.carrier.originated) == 10
        assert len(h.leads.claimed) == 10

    h.run(scenario)
    assert h.leads.depth(1) == 90
    held_back = [r for r in caplog.records if "held back" in r.getMessage()]
    assert len(held_back) == 1  # once a minute at most
    assert "limit of 5 calls a second" in held_back[0].getMessage()


def test_calls_held_back_are_said_again_after_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(Mode.PROGRESSIVE, [READY] * 30, leads=100, cps=2)
    caplog.set_level(logging.INFO, logger="dialer.campaign_pacing")

    async def scenario(h: Harness) -> None:
        for _ in range(3):
            await h.tick()
            h.seconds += 30.0

    h.run(scenario)
    held_back = [r.getMessage() for r in caplog.records if "held back" in r.getMessage()]
    # At 0 s and at 60 s (2 calls started each tick, none ended); not at 30 s.
    assert [message.split(" calls held back")[0] for message in held_back] == [
        "campaign 1: 28 of 30",
        "campaign 1: 24 of 26",
    ]


def test_campaigns_share_the_calls_a_second() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY] * 10, leads=50, cps=4)
    second = replace(h.plan, id=2)
    h.services.plans.append(second)
    for number in range(11, 21):
        h.services.add_agent(number, 2, READY, T0 - timedelta(seconds=200 - number))
    h.leads.queue[2] = list(range(101, 151))
    h.run(Harness.tick)
    assert sorted(e.campaign_id for e in h.bus.of(CallDialing)) == [1, 1, 2, 2]


def two_campaigns(mode: Mode, *, cps: float, ready: tuple[int, int] = (10, 10)) -> Harness:
    """Campaigns 1 and 2 in `mode`, with `ready` agents ready each and leads enough."""
    h = Harness(mode, [READY] * ready[0], leads=50, cps=cps)
    h.services.plans.append(replace(h.plan, id=2))
    for number in range(ready[0] + 1, sum(ready) + 1):
        h.services.add_agent(number, 2, READY, T0 - timedelta(seconds=200 - number))
    h.leads.queue[2] = list(range(101, 151))
    return h


@pytest.mark.parametrize("mode", [Mode.PREDICTIVE, Mode.PROGRESSIVE])
@pytest.mark.parametrize("cps", [1, 3])
def test_a_scarce_calls_a_second_is_shared_in_turn(mode: Mode, cps: float) -> None:
    """Two campaigns both wanting more calls than the limit lets start: over
    a few ticks each gets half (the odd call of a tick goes to each in turn,
    not always to the campaign paced first)."""
    h = two_campaigns(mode, cps=cps)

    async def scenario(h: Harness) -> None:
        for _ in range(4):
            await h.tick()
            h.seconds += 1.0

    h.run(scenario)
    dialed = [e.campaign_id for e in h.bus.of(CallDialing)]
    assert len(dialed) == 4 * cps
    assert dialed.count(1) == dialed.count(2)
    if cps == 1:
        assert dialed == [1, 2, 1, 2]


def test_without_a_calls_a_second_campaigns_are_paced_as_listed() -> None:
    """Each tick campaign 1 places more calls than campaign 2, and is paced first all the same."""
    h = two_campaigns(Mode.PROGRESSIVE, cps=0, ready=(3, 2))

    async def scenario(h: Harness) -> None:
        for _ in range(3):
            await h.tick()
            for call_id in list(h.carrier.up):
                h.carrier.end(call_id, "busy")
            await settle()

    h.run(scenario)
    assert [e.campaign_id for e in h.bus.of(CallDialing)] == [1, 1, 1, 2, 2] * 3


def test_own_callbacks_are_not_claimed_past_the_calls_a_second() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY, READY, READY], cps=1)
    h.leads.callbacks[(1, 2)] = [50]
    h.leads.callbacks[(1, 3)] = [60]

    async def scenario(h: Harness) -> None:
        await h.tick()
        assert h.leads.claimed == [50]
        h.seconds += 1.0
        await h.tick()
        assert h.leads.claimed == [50, 60]

    h.run(scenario)


def test_an_agents_manual_dial_is_placed_past_the_calls_a_second() -> None:
    """The agent asked for it: placed at once, and paid back from the pacer's next calls."""
    h = Harness(Mode.PROGRESSIVE, [READY, READY, READY], leads=5, cps=1)

    async def scenario(h: Harness) -> None:
        await h.tick()
        assert len(h.carrier.originated) == 1
        h.services.set_phase(3, RESERVED)
        await h.worker.on_agent_request(_manual_dial(3, attempt=2))
        assert len(h.carrier.originated) == 2
        h.seconds += 1.0
        await h.tick()
        assert len(h.carrier.originated) == 2  # the manual dial's call was paid back
        h.seconds += 1.0
        await h.tick()
        assert len(h.carrier.originated) == 3

    h.run(scenario)
    assert h.leads.claimed == [1, 2]  # the workstation claimed lead 42 with the request
    assert h.carrier.originated[1].to_number == "+989121110000"
    assert [(e.lead_id, e.attempt) for e in h.bus.of(CallDialing)][1] == (42, 2)


def test_an_unhealthy_trunk_holds_dialing_with_its_reason() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY, READY])
    h.carrier.healthy = TrunkHealth(False, "OPTIONS keepalive to the trunk timed out")

    async def scenario(h: Harness) -> None:
        await h.tick()
        await h.tick()
        assert h.carrier.originated == []
        h.carrier.healthy = TrunkHealth(True)
        await h.tick()

    h.run(scenario)
    held = h.bus.of(DialingHeld)
    assert [(e.held, e.reason) for e in held] == [
        (True, "OPTIONS keepalive to the trunk timed out"),
        (False, "trunk healthy again"),
    ]
    assert len(h.carrier.originated) == 2


def test_a_starting_dialer_says_once_that_its_trunk_dials() -> None:
    """A dialer stopped while its trunk was held left "held" on the floor; the
    next one on that trunk clears it with its first tick."""
    h = Harness(Mode.PROGRESSIVE, [READY, READY])

    async def scenario(h: Harness) -> None:
        await h.tick()
        await h.tick()

    h.run(scenario)
    assert [(e.trunk, e.held) for e in h.bus.of(DialingHeld)] == [("default", False)]


def test_the_hopper_depth_is_reported_when_it_changes() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY, READY], leads=5)

    async def scenario(h: Harness) -> None:
        await h.tick()  # two leads dialed: 3 left
        await h.tick()  # nothing dialed (both agents' calls still ringing): no new report

    h.run(scenario)
    assert [(e.campaign_id, e.depth) for e in h.bus.of(HopperDepth)] == [(1, 3)]


def test_dial_level_changes_are_recorded_with_the_reason() -> None:
    h = Harness(Mode.PREDICTIVE, [READY, READY, READY])
    h.run(Harness.tick)
    assert h.services.levels
    published = h.bus.of(PacerLevelChanged)
    assert [(e.campaign_id, e.dial_level, e.reason) for e in published] == h.services.levels
    assert all(reason for _, _, reason in h.services.levels)


def test_a_lead_refused_at_dial_time_is_dropped_for_the_next() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY])
    h.leads.refused = {1, 2}
    h.run(Harness.tick)
    assert [e.lead_id for e in h.bus.of(CallDialing)] == [3]
    assert h.leads.claimed == [3]


def test_a_live_answer_goes_to_the_longest_idle_agent() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY, READY])

    async def scenario(h: Harness) -> None:
        await h.tick()
        first = h.carrier.originated[0].call_id
        h.carrier.answer(first)
        await settle()
        h.carrier.end(first, "answered")

    h.run(scenario)
    (connected,) = h.bus.of(CallConnected)
    assert connected.agent_id == 1
    assert h.carrier.bridged and h.carrier.bridged[0][1].startswith("agent-1-")
    assert h.bus.of(CallEnded)[0].outcome == "answered"


def test_a_live_answer_no_agent_takes_in_time_gets_the_abandon_message() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY])

    async def scenario(h: Harness) -> None:
        await h.tick()
        call_id = h.carrier.originated[0].call_id
        h.services.set_phase(1, PAUSED)  # the only agent paused while it rang
        h.carrier.answer(call_id)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if h.carrier.abandoned:
                break

    h.run(scenario)
    assert h.carrier.abandoned == [h.carrier.originated[0].call_id]
    assert [e.outcome for e in h.bus.of(CallEnded)] == ["abandoned"]
    assert h.bus.of(CallConnected) == []


@pytest.mark.parametrize(
    ("carrier_outcome", "answered", "connected", "recorded"),
    [
        ("answered", True, True, "answered"),
        ("answered", True, False, "abandoned"),  # the customer hung up while waiting
        ("machine", True, False, "machine"),
        ("busy", False, False, "busy"),
        (None, False, False, "failed"),
    ],
)
def test_outcome_of_an_ended_call(
    carrier_outcome: str | None, answered: bool, connected: bool, recorded: str
) -> None:
    assert outcome_of_ended(carrier_outcome, answered=answered, connected=connected) == recorded


def test_preview_offers_a_lead_and_dials_it_when_the_agent_asks() -> None:
    h = Harness(Mode.PREVIEW, [READY, PAUSED])

    async def scenario(h: Harness) -> None:
        await h.tick()
        (offer,) = h.bus.of(PreviewOffered)
        h.services.set_phase(1, RESERVED)  # what the workstation does with the offer
        await h.tick()
        assert h.carrier.originated == []  # waits for the agent
        await h.worker.on_agent_request(
            PreviewCallRequested(agent_id=1, campaign_id=1, lead_id=offer.lead_id)
        )
        call_id = h.carrier.originated[0].call_id
        h.carrier.answer(call_id)
        await settle()
        h.carrier.end(call_id, "answered")

    h.run(scenario)
    (dialing,) = h.bus.of(CallDialing)
    assert (dialing.agent_id, dialing.lead_id) == (1, 1)
    assert [e.agent_id for e in h.bus.of(CallConnected)] == [1]


def test_a_skipped_preview_gives_the_lead_back() -> None:
    h = Harness(Mode.PREVIEW, [READY])

    async def scenario(h: Harness) -> None:
        await h.tick()
        h.services.set_phase(1, RESERVED)
        await h.worker.on_agent_request(
            PreviewSkipped(agent_id=1, campaign_id=1, lead_id=1, reason="wrong_person")
        )

    h.run(scenario)
    assert h.leads.given_back == [1]
    assert h.carrier.originated == []


def test_a_preview_timeout_dials_the_lead() -> None:
    h = Harness(Mode.PREVIEW, [READY], preview=0.0)

    async def scenario(h: Harness) -> None:
        await h.tick()
        h.services.set_phase(1, RESERVED)
        await h.tick()

    h.run(scenario)
    assert [e.agent_id for e in h.bus.of(CallDialing)] == [1]


def test_a_paused_campaign_still_connects_the_answers_it_has_up() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY])

    async def scenario(h: Harness) -> None:
        await h.tick()
        h.services.plans = []  # paused while the call rings
        await h.tick()
        call_id = h.carrier.originated[0].call_id
        h.carrier.answer(call_id)
        for _ in range(50):
            await asyncio.sleep(0.005)
        h.carrier.end(call_id, "answered")

    h.run(scenario)
    assert len(h.carrier.originated) == 1
    assert [e.agent_id for e in h.bus.of(CallConnected)] == [1]
    assert h.carrier.abandoned == []


def test_an_agent_phone_leg_is_nailed_up_once_and_dropped_at_logout() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY], leads=0)
    h.carrier.answer_legs = False

    async def scenario(h: Harness) -> None:
        await h.tick()
        await h.tick()  # still ringing: not called twice
        assert len(h.carrier.legs) == 1
        (leg_id,) = h.carrier.legs
        h.carrier.leg_callbacks[leg_id](CallProgress(leg_id, "answered", T0))
        del h.services.agent_rows[1]  # logged out
        await h.tick()
        assert h.carrier.disconnected == [leg_id]

    h.run(scenario)


def test_each_call_carries_its_campaigns_caller_id_and_name() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY])
    h.services.plans = [replace(h.plan, caller_id="+982100000000", caller_name="Sales")]
    h.run(Harness.tick)
    (request,) = h.carrier.originated
    assert (request.caller_id, request.caller_name) == ("+982100000000", "Sales")


def test_no_call_is_placed_for_an_agent_whose_phone_has_not_answered() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY])
    h.carrier.answer_legs = False

    async def scenario(h: Harness) -> None:
        await h.tick()
        await h.tick()
        assert h.carrier.originated == [] and h.worker.pool.size(1) == 0
        (leg_id,) = h.carrier.legs
        h.carrier.leg_callbacks[leg_id](CallProgress(leg_id, "answered", T0))
        await h.tick()
        assert len(h.carrier.originated) == 1

    h.run(scenario)
    (leg_id,) = h.carrier.legs
    assert h.services.leg_reports == [("calling", 1, leg_id), ("up", 1, leg_id)]


def test_a_refused_leg_is_reported_lost_and_not_called_again() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY], leads=0)
    h.carrier.answer_legs = False

    async def scenario(h: Harness) -> None:
        await h.tick()
        (leg_id,) = h.carrier.legs
        h.carrier.end_leg(leg_id, 486, "Busy Here", answered=False)
        await settle()
        await h.tick()

    h.run(scenario)
    (leg_id,) = h.carrier.legs
    assert h.services.leg_reports == [("calling", 1, leg_id), ("lost", 1, leg_id)]
    assert h.services.agent_rows[1].phase is PAUSED


def test_a_leg_dropped_during_a_call_ends_the_call_with_the_reason() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY], leads=1)

    async def scenario(h: Harness) -> None:
        await h.tick()
        call_id = h.carrier.originated[0].call_id
        h.carrier.answer(call_id)
        await settle()
        (leg_id,) = h.carrier.legs
        h.carrier.end_leg(leg_id, 200, "remote hangup", answered=True)

    h.run(scenario)
    (call_id,) = h.carrier.hung_up
    (ended,) = h.bus.of(CallEnded)
    assert (ended.call_id, ended.outcome, ended.agent_id) == (call_id, "answered", 1)
    assert ended.sip_reason == "agent phone hung up: remote hangup"


def test_an_answer_is_never_bridged_to_an_agent_whose_leg_is_gone() -> None:
    """The leg dropped at the carrier before the worker heard of it: the
    agent it claimed is let go (phone lost) and the next agent takes the call."""
    h = Harness(Mode.PROGRESSIVE, [READY, READY], leads=1)

    async def scenario(h: Harness) -> None:
        await h.tick()
        first_leg = next(leg for leg in h.carrier.legs if leg.startswith("agent-1-"))
        h.carrier.gone_legs.add(first_leg)
        h.carrier.answer(h.carrier.originated[0].call_id)
        for _ in range(50):
            await asyncio.sleep(0.005)

    h.run(scenario)
    assert [e.agent_id for e in h.bus.of(CallConnected)] == [2]
    first_leg = next(leg for leg in h.carrier.legs if leg.startswith("agent-1-"))
    assert h.carrier.disconnected == [first_leg]  # a leg no call can be bridged into is dropped
    assert {("lost", 1, first_leg), ("lost", 1, None)} <= set(h.services.leg_reports)
    assert h.services.agent_rows[1].phase is PAUSED
    assert h.carrier.abandoned == []


def test_with_no_other_agent_the_answer_gets_the_abandon_message() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY], leads=1)

    async def scenario(h: Harness) -> None:
        await h.tick()
        h.carrier.gone_legs.update(h.carrier.legs)
        h.carrier.answer(h.carrier.originated[0].call_id)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if h.carrier.abandoned:
                break

    h.run(scenario)
    assert h.carrier.abandoned == [h.carrier.originated[0].call_id]
    assert [e.outcome for e in h.bus.of(CallEnded)] == ["abandoned"]
    assert h.bus.of(CallConnected) == []


def test_a_preview_answer_without_the_agents_leg_gets_the_abandon_message() -> None:
    h = Harness(Mode.PREVIEW, [READY])

    async def scenario(h: Harness) -> None:
        await h.tick()
        (offer,) = h.bus.of(PreviewOffered)
        h.services.set_phase(1, RESERVED)
        await h.worker.on_agent_request(
            PreviewCallRequested(agent_id=1, campaign_id=1, lead_id=offer.lead_id)
        )
        h.carrier.gone_legs.update(h.carrier.legs)
        h.carrier.answer(h.carrier.originated[0].call_id)
        await settle()

    h.run(scenario)
    assert h.carrier.abandoned == [h.carrier.originated[0].call_id]
    assert h.bus.of(CallConnected) == []
    assert h.services.agent_rows[1].phase is PAUSED


@pytest.mark.parametrize(
    ("phone", "domain", "target"),
    [
        ("1001", "10.0.0.5:5060", "sip:1001@10.0.0.5:5060"),
        ("sip:1001@pbx.example.com", "10.0.0.5:5060", "sip:1001@pbx.example.com"),
        ("1001", None, "1001"),
    ],
)
def test_an_extension_is_called_at_the_pbx_behind_the_trunk(
    phone: str, domain: str | None, target: str
) -> None:
    assert phone_target(phone, domain) == target


def test_an_agents_own_callback_is_dialed_for_them_before_the_general_leads() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY, READY])
    h.leads.callbacks[(1, 2)] = [50]

    async def scenario(h: Harness) -> None:
        await h.tick()

    h.run(scenario)
    dialing = h.bus.of(CallDialing)
    assert (dialing[0].lead_id, dialing[0].agent_id) == (50, 2)
    assert len(h.carrier.originated) == 2  # the callback's agent is not paced twice
    assert h.services.agent_rows[2].phase is RESERVED


@pytest.mark.parametrize("mode", [Mode.PROGRESSIVE, Mode.PREDICTIVE])
def test_the_floor_sweep_runs_every_tick(mode: Mode) -> None:
    h = Harness(mode, [READY])

    async def scenario(h: Harness) -> None:
        await h.tick()
        await h.tick()

    h.run(scenario)
    assert h.services.sweeps == 2


def test_an_agent_in_wrap_up_past_its_limit_is_not_about_to_be_free() -> None:
    h = Harness(Mode.PREDICTIVE, [AgentPhase.WRAP_UP])
    h.worker._plans = {1: replace(h.plan, wrap_up_limit_s=60.0)}

    async def scenario(h: Harness) -> None:
        await h.worker.refresh_agents()
        plan = replace(h.plan, wrap_up_limit_s=60.0)
        (view,) = h.worker.pacer_state(plan, *_no_tallies()).agents
        assert view.status.value == "paused"  # since T0 - 99 s
        (view,) = h.worker.pacer_state(replace(plan, wrap_up_limit_s=300.0), *_no_tallies()).agents
        assert view.status.value == "wrapup"

    h.run(scenario)


def _no_tallies() -> tuple[object, object]:
    from dialer.pacing import AbandonTally

    return AbandonTally(0, 0), AbandonTally(0, 0)


def _manual_dial(agent_id: int, *, campaign_id: int = 1, attempt: int = 3) -> ManualDialRequested:
    """The workstation's request: lead 42 claimed for `attempt` (claim 7)."""
    return ManualDialRequested(
        agent_id=agent_id,
        campaign_id=campaign_id,
        lead_id=42,
        phone_e164="+989121110000",
        attempt=attempt,
        claim_id=7,
    )


def test_a_manual_dial_is_placed_for_its_agent_alone_at_the_number_asked() -> None:
    h = Harness(Mode.PREDICTIVE, [READY, READY], leads=0)

    async def scenario(h: Harness) -> None:
        await h.tick()
        h.services.set_phase(1, RESERVED)  # what the workstation does with the request
        await h.worker.on_agent_request(_manual_dial(1))
        call_id = h.carrier.originated[0].call_id
        h.carrier.answer(call_id)
        await settle()
        h.carrier.end(call_id, "answered")

    h.run(scenario)
    assert [r.to_number for r in h.carrier.originated] == ["+989121110000"]
    (dialing,) = h.bus.of(CallDialing)
    assert (dialing.agent_id, dialing.lead_id, dialing.is_manual) == (1, 42, True)
    assert dialing.attempt == 3  # the attempt the workstation claimed
    assert h.leads.claimed == [] and h.leads.unplaced_given_back == []
    assert dialing.phone_e164 == "+989121110000"
    assert [e.agent_id for e in h.bus.of(CallConnected)] == [1]


def test_a_manual_dial_with_the_trunk_full_gives_its_claim_back_and_lets_the_agent_go() -> None:
    h = Harness(Mode.PROGRESSIVE, [READY, PAUSED], leads=5, max_concurrent_calls=1)

    async def scenario(h: Harness) -> None:
        await h.tick()
        assert len(h.carrier.up) == 1
        h.services.set_phase(2, RESERVED)
        await h.worker.on_agent_request(_manual_dial(2, attempt=4))

    h.run(scenario)
    assert len(h.carrier.originated) == 1
    assert h.leads.unplaced_given_back == [(42, 4)]
    assert h.services.agent_rows[2].phase is READY


def test_a_manual_dial_whose_claim_moved_on_is_not_placed_and_leaves_the_agent_alone() -> None:
    """Delivered twice, or after recovery released it: no second call."""
    h = Harness(Mode.PREDICTIVE, [READY, READY], leads=0)
    h.leads.claims_moved_on.add(7)

    async def scenario(h: Harness) -> None:
        await h.tick()
        h.services.set_phase(1, RESERVED)
        await h.worker.on_agent_request(_manual_dial(1))

    h.run(scenario)
    assert h.carrier.originated == [] and h.leads.unplaced_given_back == []
    assert h.services.agent_rows[1].phase is RESERVED


def test_a_manual_dial_for_a_campaign_not_dialed_here_lets_the_agent_go() -> None:
    h = Harness(Mode.PROGRESSIVE, [PAUSED], leads=0)

    async def scenario(h: Harness) -> None:
        await h.tick()
        h.services.set_phase(1, RESERVED)
        await h.worker.on_agent_request(_manual_dial(1, campaign_id=9))

        passed = h.bus.of(ManualDialRequested)
        assert [e.passed_on for e in passed] == [1]  # round again, for the dialer holding it
        for _ in range(MANUAL_DIAL_PASSES):
            await h.worker.on_agent_request(h.bus.of(ManualDialRequested)[-1])

    h.run(scenario)
    assert h.carrier.originated == []
    assert len(h.bus.of(ManualDialRequested)) == MANUAL_DIAL_PASSES
    assert h.services.agent_rows[1].phase is READY  # no dialer holds it: let go
    assert h.leads.unplaced_given_back == [(42, 3)]  # and the claim undone
