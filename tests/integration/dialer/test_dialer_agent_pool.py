"""The ready-agent pool: longest idle first, each agent claimed once, in
process (a lock) and in Redis (ZPOPMIN, shared by dialer processes)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

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


@pytest.fixture
def redis_client(dialer_redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(dialer_redis_url)
    yield client
    client.close()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _members(client: redis.Redis, campaign_id: int) -> set[int]:
    members: list[bytes] = client.zrange(f"test:changes:{campaign_id}", 0, -1)  # type: ignore[assignment]
    return {int(m) for m in members}


def test_redis_sync_sends_what_changed_and_the_whole_set_each_second(
    redis_client: redis.Redis,
) -> None:
    clock = Clock()
    pool = RedisAgentPool(redis_client, prefix="test:changes", clock=clock)
    pool.sync(1, [(1, T0), (2, T0), (3, T0)])
    assert _members(redis_client, 1) == {1, 2, 3}
    # What this process does not see (here: the set lost, as in a Redis
    # restart) stays until the next whole write; changes go out meanwhile.
    redis_client.delete("test:changes:1")
    pool.sync(1, [(1, T0), (2, T0), (3, T0)])
    assert _members(redis_client, 1) == set()
    pool.sync(1, [(1, T0), (2, T0), (4, T0)])
    assert _members(redis_client, 1) == {4}
    clock.now += 1.0
    pool.sync(1, [(1, T0), (2, T0), (4, T0)])
    assert _members(redis_client, 1) == {1, 2, 4}
    pool.sync(1, [])
    assert _members(redis_client, 1) == set() and 1 not in pool.campaigns()


def test_redis_sync_offers_again_a_claimed_agent_still_ready(redis_client: redis.Redis) -> None:
    """A claim the database refused leaves the agent ready: the next sync,
    though the same agents as the last, puts them back."""
    pool = RedisAgentPool(redis_client, prefix="test:changes", clock=Clock())
    ready = [(1, T0 - timedelta(minutes=1)), (2, T0)]
    pool.sync(1, ready)
    assert pool.claim(1) == 1
    pool.sync(1, ready)
    assert pool.claim(1) == 1 and pool.claim(1) == 2 and pool.claim(1) is None


class FailingOnce:
    """The Redis client, but the next pipeline's write fails (a connection lost)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.fail_next = False

    def pipeline(self, transaction: bool = True) -> Any:
        pipe = self.client.pipeline(transaction=transaction)
        if self.fail_next:
            self.fail_next = False

            def lost() -> None:
                raise redis.ConnectionError("lost")

            pipe.execute = lost  # type: ignore[method-assign,assignment]
        return pipe

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_redis_sync_after_a_failed_whole_write_writes_it_whole_again(
    redis_client: redis.Redis,
) -> None:
    clock, client = Clock(), FailingOnce(redis_client)
    pool = RedisAgentPool(client, prefix="test:changes", clock=clock)
    pool.sync(1, [(1, T0), (2, T0)])
    clock.now += 1.0
    client.fail_next = True
    with pytest.raises(redis.ConnectionError):
        pool.sync(1, [(3, T0)])
    pool.sync(1, [(3, T0)])
    assert _members(redis_client, 1) == {3}
