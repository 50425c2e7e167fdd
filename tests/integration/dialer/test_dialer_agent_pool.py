"""The ready-agent pool: longest idle first, each agent claimed once, in
process (a lock) and in Redis (ZPOPMIN, shared by dialer processes)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis

from dialer.agent_pool import AgentPool, InProcessAgentPool, RedisAgentPool

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "redis"])
def pool(request: pytest.FixtureRequest) -> Iterator[AgentPool]:
    if request.param == "memory":
        yield InProcessAgentPool()
        return
    client = redis.Redis.from_url(request.getfixturevalue("dialer_redis_url"))
    yield RedisAgentPool(client, prefix="test:ready")
    client.close()


def test_longest_idle_agent_first(pool: AgentPool) -> None:
    pool.sync(1, [(7, T0), (3, T0 - timedelta(minutes=5)), (9, T0 + timedelta(seconds=1))])
    pool.sync(2, [(4, T0 - timedelta(hours=1))])
    assert [pool.claim(1), pool.claim(1), pool.claim(1), pool.claim(1)] == [3, 7, 9, None]
    assert pool.size(2) == 1 and 2 in pool.campaigns()


def test_sync_withdraws_agents_no_longer_ready(pool: AgentPool) -> None:
    pool.sync(1, [(1, T0), (2, T0)])
    pool.sync(1, [(2, T0)])
    assert pool.claim(1) == 2 and pool.claim(1) is None
    pool.sync(1, [])
    assert pool.size(1) == 0


def test_each_agent_is_claimed_once_under_contention(pool: AgentPool) -> None:
    agents = [(number, T0 + timedelta(seconds=number)) for number in range(200)]
    pool.sync(1, agents)
    claimed: list[int] = []
    lock = threading.Lock()

    def claim_all() -> None:
        while (agent := pool.claim(1)) is not None:
            with lock:
                claimed.append(agent)

    threads = [threading.Thread(target=claim_all) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == list(range(200))
