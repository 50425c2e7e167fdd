"""Issue 22: sockets must not exhaust the web tier. gunicorn as deployed
(callcenter.gunicorn_conf) with real websockets: anonymous and wrong-origin
sockets are refused before the upgrade, held sockets cost no thread (pages
still answer with more sockets open than the old gthread deployment had
threads), and the per-address and per-process bounds refuse the next one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from callcenter.db import Database
from callcenter.states import Role
from tests.factories import TEST_PASSWORD, make_user
from tests.integration.web_tier import (
    Refused,
    environment,
    get,
    log_in,
    open_socket,
    still_open,
    web_tier,
)

OLD_THREADS = 100  # deploy/ ran gunicorn -k gthread --threads 100: one socket, one thread
HELD = OLD_THREADS + 50
PAGE_TIMEOUT = 10.0  # "still answers": generous, a starved server never answers at all


def _agents(env: dict[str, str], count: int) -> list[str]:
    database = Database(f"sqlite:///{env['CC_INSTANCE_PATH']}/callcenter.db")
    try:
        with database.unit_of_work() as session:
            return [make_user(session, Role.AGENT).username for _ in range(count)]
    finally:
        database.dispose()


@pytest.fixture
def env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    return environment(tmp_path, redis_url)


@pytest.fixture
def flood_tier(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    agents = _agents(env, 2)
    env = {**env, "CC_WEB__SOCKETS_PER_IP": str(HELD + 10)}
    with web_tier(env, tmp_path) as base:
        yield base, agents


def _timed_get(url: str) -> tuple[int, float]:
    started = time.monotonic()
    status, _ = get(url, timeout=PAGE_TIMEOUT)
    return status, time.monotonic() - started


@pytest.mark.redis
@pytest.mark.timeout(180)
def test_a_socket_flood_leaves_pages_and_agents_served(flood_tier: tuple[str, list[str]]) -> None:
    base, (holder, agent) = flood_tier
    holder_cookie = log_in(base, holder, TEST_PASSWORD)
    agent_cookie = log_in(base, agent, TEST_PASSWORD)

    async def scenario() -> None:
        anonymous = await asyncio.gather(*(open_socket(base) for _ in range(HELD)))
        assert all(isinstance(a, Refused) and a.status == 401 for a in anonymous), {
            str(a) for a in anonymous
        }
        foreign = await open_socket(base, holder_cookie, origin="http://evil.example")
        assert foreign == Refused(403)

        held = await asyncio.gather(*(open_socket(base, holder_cookie) for _ in range(HELD)))
        assert not [h for h in held if isinstance(h, Refused)]
        try:
            status, seconds = await asyncio.to_thread(_timed_get, f"{base}/login")
            assert status == 200, f"GET /login answered {status} after {seconds:.1f}s"
            again = await asyncio.gather(*(open_socket(base) for _ in range(HELD)))
            assert all(isinstance(a, Refused) and a.status == 401 for a in again)
            late = await open_socket(base, agent_cookie)
            assert not isinstance(late, Refused), late
            assert await still_open(late)
            await late.close()
            assert all([await still_open(h) for h in held if not isinstance(h, Refused)])
        finally:
            await asyncio.gather(*(h.close() for h in held if not isinstance(h, Refused)))

    asyncio.run(scenario())


@pytest.mark.redis
@pytest.mark.timeout(120)
def test_the_bounds_refuse_the_next_socket_per_address_and_per_process(
    env: dict[str, str], tmp_path: Path
) -> None:
    per_ip, per_process = 5, 8
    [agent] = _agents(env, 1)
    env = {
        **env,
        "CC_WEB__SOCKETS_PER_IP": str(per_ip),
        "CC_WEB__SOCKETS_PER_PROCESS": str(per_process),
    }
    with web_tier(env, tmp_path) as base:
        here = log_in(base, agent, TEST_PASSWORD, source="127.0.0.1")
        there = log_in(base, agent, TEST_PASSWORD, source="127.0.0.2")

        async def scenario() -> None:
            first = [await open_socket(base, here) for _ in range(per_ip)]
            assert not [s for s in first if isinstance(s, Refused)]
            assert await open_socket(base, here) == Refused(429)
            # another address still gets in, up to the process's bound
            others = [
                await open_socket(base, there, source="127.0.0.2")
                for _ in range(per_process - per_ip)
            ]
            assert not [s for s in others if isinstance(s, Refused)]
            assert await open_socket(base, there, source="127.0.0.2") == Refused(503)
            # a closed socket gives its place back
            closing = first.pop()
            assert not isinstance(closing, Refused)
            await closing.close()
            replaced: object = Refused(0)
            for _ in range(50):
                replaced = await open_socket(base, here)
                if not isinstance(replaced, Refused):
                    break
                await asyncio.sleep(0.1)
            assert not isinstance(replaced, Refused), replaced
            for held in [*first, *others, replaced]:
                if not isinstance(held, Refused):
                    assert await still_open(held)
                    await held.close()

        asyncio.run(scenario())
