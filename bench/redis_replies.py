"""The CPU redis-py spends on a reply, with its pure-Python parser and with
hiredis (which it uses when installed), on replies the floor reads: the live
floor tick's HGETALL of 200 agents' rows, a small GET, a pipeline of 20.

    PYTHONPATH=. .venv/bin/python -m bench.redis_replies --redis-url redis://127.0.0.1:6379/10

The database given is flushed."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import redis
from redis._parsers import _HiredisParser, _RESP2Parser

ROW = json.dumps(
    {
        "agent_id": 1,
        "state": "ready",
        "since": "2026-12-04T20:00:00+00:00",
        "campaign_id": 1,
        "name": "آقای محمد رضایی",
        "calls": 3,
    }
)


def cpu_per_call(work: Callable[[], Any], times: int) -> float:
    started = time.process_time()
    for _ in range(times):
        work()
    return (time.process_time() - started) / times * 1e6


def measure(url: str, parser: type) -> dict[str, float]:
    client: Any = redis.Redis.from_url(url, parser_class=parser)

    def pipeline() -> None:
        pipe = client.pipeline(transaction=False)
        for number in range(20):
            pipe.hget("agents", str(number))
        pipe.execute()

    return {
        "HGETALL of 200 rows": cpu_per_call(lambda: client.hgetall("agents"), 500),
        "GET of a short value": cpu_per_call(lambda: client.get("short"), 5000),
        "pipeline of 20 HGET": cpu_per_call(pipeline, 1000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis-url", required=True, help="a Redis database the bench may flush")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    setup: Any = redis.Redis.from_url(args.redis_url)
    setup.flushdb()
    setup.hset("agents", mapping={str(n): ROW for n in range(200)})
    setup.set("short", "v")
    try:
        for round_number in range(1, args.rounds + 1):
            for name, parser_class in (("python", _RESP2Parser), ("hiredis", _HiredisParser)):
                figures = measure(args.redis_url, parser_class)
                print(
                    f"round {round_number}, {name:7}: "
                    + ", ".join(f"{what} {us:.1f} us" for what, us in figures.items())
                )
    finally:
        setup.flushdb()


if __name__ == "__main__":
    main()
