"""Redis for the dialer's multi-process tests: a database of its own (the
shared test database may be flushed by another suite running alongside),
eight numbers from this worker's (`redis_url`), so two pytest-xdist workers
never flush each other's (one fixed number for all of them did)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

REDIS_DATABASES = 16


@pytest.fixture
def dialer_redis_url(redis_url: str) -> Iterator[str]:
    """`redis_url` (which fails when Redis is unreachable) on another database number."""
    parts = urlsplit(redis_url)
    database = (int(parts.path.lstrip("/") or 0) + REDIS_DATABASES // 2) % REDIS_DATABASES
    url = urlunsplit(parts._replace(path=f"/{database}"))
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()
