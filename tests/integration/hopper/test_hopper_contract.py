"""The same suite for both hopper stores: in-process and a real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from callcenter.services.hopper_feed import DialableLead
from dialer.hopper import Hopper, MemoryHopper, RedisHopper

NOW = datetime(2025, 1, 4, 8, 0, tzinfo=UTC)
CAMPAIGN = 7


@pytest.fixture(params=["memory", "redis"])
def hopper(request: pytest.FixtureRequest) -> Iterator[Hopper]:
    if request.param == "memory":
        yield MemoryHopper()
        return
    store = RedisHopper.from_url(request.getfixturevalue("redis_url"))
    yield store
    store.clear(CAMPAIGN)


def offer(lead_id: int, **fields: object) -> DialableLead:
    values: dict[str, object] = {
        "lead_id": lead_id,
        "campaign_id": CAMPAIGN,
        "customer_id": 1000 + lead_id,
        "phone_e164": f"+98912{lead_id:07d}",
        "timezone": "Asia/Tehran",
        "priority": 0,
        "attempts": 0,
        "due_at": NOW - timedelta(minutes=lead_id),
        "closes_at": NOW + timedelta(hours=5),
    }
    values.update(fields)
    return DialableLead(**values)  # type: ignore[arg-type]


def drain(hopper: Hopper, *, now: datetime = NOW, agent: int | None = None) -> list[int]:
    taken = []
    while (lease := hopper.claim(CAMPAIGN, now=now, for_agent_id=agent)) is not None:
        taken.append(lease.lead.lead_id)
        assert hopper.complete(lease)
    return taken


def test_empty_hopper_gives_nothing(hopper: Hopper) -> None:
    assert hopper.claim(CAMPAIGN, now=NOW) is None
    assert hopper.size(CAMPAIGN) == 0


def test_order_is_callbacks_then_priority_then_oldest_due(hopper: Hopper) -> None:
    offers = [
        offer(1, due_at=NOW - timedelta(hours=1)),
        offer(2, due_at=NOW - timedelta(hours=3)),
        offer(3, priority=5),
        offer(4, is_callback=True, due_at=NOW - timedelta(minutes=1)),
        offer(5, priority=-2, due_at=NOW - timedelta(days=3)),
        offer(6, is_callback=True, due_at=NOW - timedelta(minutes=9)),
    ]
    assert hopper.replace(CAMPAIGN, offers) == 6
    assert hopper.size(CAMPAIGN) == 6
    assert drain(hopper) == [6, 4, 3, 2, 1, 5]


def test_agent_only_callbacks_go_only_to_that_agent(hopper: Hopper) -> None:
    hopper.replace(
        CAMPAIGN,
        [
            offer(1),
            offer(2, is_callback=True, agent_id=42),
            offer(3, is_callback=True, agent_id=43),
        ],
    )
    assert hopper.size(CAMPAIGN, for_agent_id=42) == 1
    assert drain(hopper) == [1]
    assert drain(hopper, agent=44) == []
    assert drain(hopper, agent=42) == [2]
    assert drain(hopper, agent=43) == [3]


def test_an_agent_gets_their_callback_before_general_leads(hopper: Hopper) -> None:
    hopper.replace(CAMPAIGN, [offer(1, priority=9), offer(2, is_callback=True, agent_id=42)])
    assert drain(hopper, agent=42) == [2, 1]


def test_an_offer_whose_window_closed_is_dropped(hopper: Hopper) -> None:
    hopper.replace(CAMPAIGN, [offer(1, closes_at=NOW + timedelta(minutes=1)), offer(2)])
    assert drain(hopper, now=NOW + timedelta(minutes=1)) == [2]
    assert hopper.claim(CAMPAIGN, now=NOW) is None


def test_a_leased_lead_is_not_given_twice(hopper: Hopper) -> None:
    hopper.replace(CAMPAIGN, [offer(1)])
    lease = hopper.claim(CAMPAIGN, now=NOW)
    assert lease is not None
    assert hopper.claim(CAMPAIGN, now=NOW) is None
    assert hopper.leased(CAMPAIGN) == 1
    hopper.replace(CAMPAIGN, [offer(1), offer(2)])  # a refill must not queue it again
    assert drain(hopper) == [2]
    assert hopper.complete(lease)
    assert hopper.leased(CAMPAIGN) == 0


def test_an_expired_lease_returns_the_lead(hopper: Hopper) -> None:
    hopper.replace(CAMPAIGN, [offer(1)])
    dead = hopper.claim(CAMPAIGN, now=NOW, lease_seconds=30)
    assert dead is not None
    assert hopper.claim(CAMPAIGN, now=NOW + timedelta(seconds=29)) is None
    again = hopper.claim(CAMPAIGN, now=NOW + timedelta(seconds=30))
    assert again is not None and again.lead == dead.lead
    assert not hopper.complete(dead)  # the dead claimer lost it
    assert hopper.complete(again)


def test_reap_returns_expired_leases(hopper: Hopper) -> None:
    hopper.replace(CAMPAIGN, [offer(1), offer(2)])
    assert hopper.claim(CAMPAIGN, now=NOW, lease_seconds=10) is not None
    assert hopper.reap(CAMPAIGN, now=NOW + timedelta(seconds=5)) == 0
    assert hopper.reap(CAMPAIGN, now=NOW + timedelta(seconds=10)) == 1
    assert sorted(drain(hopper)) == [1, 2]


def test_release_puts_the_lead_back_in_its_place(hopper: Hopper) -> None:
    hopper.replace(CAMPAIGN, [offer(1, priority=3), offer(2)])
    lease = hopper.claim(CAMPAIGN, now=NOW)
    assert lease is not None and lease.lead.lead_id == 1
    assert hopper.release(lease)
    assert not hopper.release(lease)
    assert drain(hopper) == [1, 2]


def test_replace_drops_offers_no_longer_dialable(hopper: Hopper) -> None:
    hopper.replace(CAMPAIGN, [offer(1), offer(2), offer(3)])
    hopper.replace(CAMPAIGN, [offer(3)])
    assert drain(hopper) == [3]


def test_the_offer_survives_the_round_trip(hopper: Hopper) -> None:
    original = offer(
        5, priority=-3, is_callback=True, agent_id=9, attempts=2, timezone="Europe/Berlin"
    )
    hopper.replace(CAMPAIGN, [original])
    lease = hopper.claim(CAMPAIGN, now=NOW, for_agent_id=9)
    assert lease is not None
    assert lease.lead == original
    assert lease.expires_at > NOW


def test_clear_forgets_the_campaign(hopper: Hopper) -> None:
    hopper.replace(CAMPAIGN, [offer(1), offer(2, agent_id=3, is_callback=True)])
    hopper.claim(CAMPAIGN, now=NOW)
    hopper.clear(CAMPAIGN)
    assert hopper.size(CAMPAIGN) == 0 and hopper.leased(CAMPAIGN) == 0
    assert hopper.claim(CAMPAIGN, now=NOW, for_agent_id=3) is None


def test_agents_with_callbacks_are_those_with_their_own_queued(hopper: Hopper) -> None:
    hopper.replace(
        CAMPAIGN,
        [
            offer(1),
            offer(2, is_callback=True, agent_id=42),
            offer(3, is_callback=True, agent_id=43),
            offer(4, is_callback=True, agent_id=44),
        ],
    )
    assert hopper.agents_with_callbacks(CAMPAIGN, [41, 42, 43, 45]) == {42, 43}
    assert drain(hopper, agent=42) == [2, 1]
    assert hopper.agents_with_callbacks(CAMPAIGN, [41, 42, 43, 45]) == {43}
    lease = hopper.claim(CAMPAIGN, now=NOW, for_agent_id=43)
    assert lease is not None and hopper.agents_with_callbacks(CAMPAIGN, [43]) == set()
    assert hopper.release(lease)  # back in its agent's queue
    assert hopper.agents_with_callbacks(CAMPAIGN, [43, 44]) == {43, 44}
    assert hopper.agents_with_callbacks(CAMPAIGN + 1, [43, 44]) == set()
    hopper.replace(CAMPAIGN, [offer(1)])
    assert hopper.agents_with_callbacks(CAMPAIGN, [43, 44]) == set()


def test_claim_many_leases_as_claims_one_after_another_would(hopper: Hopper) -> None:
    offers = [
        offer(1, closes_at=NOW + timedelta(minutes=1)),  # its window closed by then
        offer(2, priority=4),
        offer(3, is_callback=True, agent_id=42),  # never from the general queue
        offer(4),
        offer(5, due_at=NOW - timedelta(hours=2)),
    ]
    hopper.replace(CAMPAIGN, offers)
    held = hopper.claim(CAMPAIGN, now=NOW, lease_seconds=30)  # 2, leased elsewhere
    assert held is not None and held.lead.lead_id == 2
    later = NOW + timedelta(minutes=1)
    leases = hopper.claim_many(CAMPAIGN, 2, now=later, lease_seconds=10)
    # the expired lease of 2 is reaped first, as `claim` does
    assert [lease.lead.lead_id for lease in leases] == [2, 5]
    assert len({lease.token for lease in leases}) == 2
    assert all(lease.expires_at == later + timedelta(seconds=10) for lease in leases)
    assert not hopper.complete(held)
    rest = hopper.claim_many(CAMPAIGN, 5, now=later)
    assert [lease.lead.lead_id for lease in rest] == [4]
    assert hopper.claim_many(CAMPAIGN, 3, now=later) == []
    assert hopper.leased(CAMPAIGN) == 3


def test_complete_many_completes_each_lease_it_still_holds(hopper: Hopper) -> None:
    hopper.replace(CAMPAIGN, [offer(1), offer(2), offer(3)])
    dead = hopper.claim(CAMPAIGN, now=NOW, lease_seconds=10)
    assert dead is not None
    later = NOW + timedelta(seconds=10)
    leases = hopper.claim_many(CAMPAIGN, 3, now=later)
    assert sorted(lease.lead.lead_id for lease in leases) == [1, 2, 3]
    assert hopper.complete_many([leases[0], dead, leases[2]]) == [True, False, True]
    assert hopper.leased(CAMPAIGN) == 1
    assert hopper.complete_many([]) == []
    assert hopper.release(leases[1])
    assert drain(hopper, now=later) == [leases[1].lead.lead_id]
