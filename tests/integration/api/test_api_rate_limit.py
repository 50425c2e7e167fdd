"""Each API token is rate-limited, and with Redis the limit holds across web
processes (two gunicorn tiers as deployed, one Redis, one database)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from sqlalchemy.orm import Session

from callcenter.db import Database
from callcenter.states import Role
from tests.integration.api.conftest import check_against_document, new_token
from tests.integration.web_tier import environment, web_tier

pytestmark = pytest.mark.redis
LIMIT = 5


def _get(base: str, token: str) -> int:
    response = requests.get(
        f"{base}/api/v1/appointments", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    check_against_document("GET", "/api/v1/appointments", response)
    return response.status_code


def test_a_tokens_limit_holds_across_two_web_processes(tmp_path: Path, redis_url: str) -> None:
    env = environment(tmp_path, redis_url, CC_AUTH__API_RATE_LIMIT=f"{LIMIT} per hour")
    database = Database(f"sqlite:///{tmp_path / 'instance' / 'callcenter.db'}")
    with database.sessions() as session:
        busy, other = _tokens(session)
    database.dispose()
    with web_tier(env, tmp_path) as first, web_tier(env, tmp_path) as second:
        answers = [_get(first if n % 2 else second, busy) for n in range(LIMIT)]
        assert answers == [200] * LIMIT
        assert _get(first, busy) == 429
        assert _get(second, busy) == 429
        assert _get(second, other) == 200, "another token has its own limit"


def _tokens(session: Session) -> tuple[str, str]:
    return new_token(session, Role.MANAGER), new_token(session, Role.SUPERVISOR)
