"""Redis for the dialer's multi-process tests: a database of its own (the
shared test database may be flushed by another suite running alongside)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

DIALER_REDIS_DB = 12


@pytest.fixture
def dialer_redis_url(redis_url: str) -> Iterator[str]:
    """`redis_url` (which fails when Redis is unreachable) on another database number."""
    url = urlunsplit(urlsplit(redis_url)._replace(path=f"/{DIALER_REDIS_DB}"))
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()
