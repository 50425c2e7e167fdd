"""Several claimers at once: no lead is handed out twice, and none is lost
when a claimer dies holding leases (they come back when the leases expire).
Redis with separate processes, the in-process hopper with threads."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from callcenter.services.hopper_feed import DialableLead
from dialer.hopper import Hopper, MemoryHopper, RedisHopper

NOW = datetime(2025, 1, 4, 8, 0, tzinfo=UTC)
CAMPAIGN = 11
LEADS = 400
LEASE_SECONDS = 60
CLAIMERS = 4
DEAD_HOLDS = 7


def _offers() -> list[DialableLead]:
    return [
        DialableLead(
            lead_id=lead_id,
            campaign_id=CAMPAIGN,
            customer_id=lead_id,
            phone_e164=f"+98912{lead_id:07d}",
            timezone="Asia/Tehran",
            priority=lead_id % 3,
            attempts=0,
            due_at=NOW - timedelta(seconds=lead_id),
            closes_at=NOW + timedelta(hours=3),
            is_callback=lead_id % 10 == 0,
        )
        for lead_id in range(1, LEADS + 1)
    ]


def _drain(hopper: Hopper, now: datetime) -> list[int]:
    taken = []
    while (lease := hopper.claim(CAMPAIGN, now=now, lease_seconds=LEASE_SECONDS)) is not None:
        if hopper.complete(lease):
            taken.append(lease.lead.lead_id)
    return taken


def _redis_drainer(url: str, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    results.put(_drain(RedisHopper.from_url(url), NOW))


def _redis_dier(url: str) -> None:
    hopper = RedisHopper.from_url(url)
    for _ in range(DEAD_HOLDS):
        hopper.claim(CAMPAIGN, now=NOW, lease_seconds=LEASE_SECONDS)
    os._exit(0)  # dies holding its leases, without any clean-up


def _run_redis(url: str) -> tuple[list[int], RedisHopper]:
    hopper = RedisHopper.from_url(url)
    hopper.replace(CAMPAIGN, _offers())
    context = multiprocessing.get_context("fork")
    dier = context.Process(target=_redis_dier, args=(url,))
    dier.start()
    dier.join()
    results: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    workers = [context.Process(target=_redis_drainer, args=(url, results)) for _ in range(CLAIMERS)]
    for worker in workers:
        worker.start()
    taken = [lead for _ in workers for lead in results.get(timeout=120)]
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0
    return taken, hopper


def _run_memory() -> tuple[list[int], MemoryHopper]:
    hopper = MemoryHopper()
    hopper.replace(CAMPAIGN, _offers())
    dier = threading.Thread(
        target=lambda: [
            hopper.claim(CAMPAIGN, now=NOW, lease_seconds=LEASE_SECONDS) for _ in range(DEAD_HOLDS)
        ]
    )
    dier.start()
    dier.join()
    taken: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        mine = _drain(hopper, NOW)
        with lock:
            taken.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(CLAIMERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return taken, hopper


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_concurrent_claimers_never_share_a_lead_and_lose_none(
    kind: str, request: pytest.FixtureRequest
) -> None:
    run: Callable[[], tuple[list[int], Hopper]]
    if kind == "redis":
        url = request.getfixturevalue("redis_url")
        run = lambda: _run_redis(url)  # noqa: E731
    else:
        run = _run_memory
    taken, hopper = run()
    counts = Counter(taken)
    assert [lead for lead, n in counts.items() if n > 1] == []
    assert len(taken) == LEADS - DEAD_HOLDS
    assert hopper.leased(CAMPAIGN) == DEAD_HOLDS

    recovered = _drain(hopper, NOW + timedelta(seconds=LEASE_SECONDS))
    assert len(recovered) == DEAD_HOLDS
    assert sorted(taken + recovered) == list(range(1, LEADS + 1))
    assert hopper.leased(CAMPAIGN) == 0
    hopper.clear(CAMPAIGN)
