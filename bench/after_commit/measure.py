"""CPU cost of the after-commit path itself (`callcenter.after_commit`): a
session with no database work queues what a consumer's commit typically
queues (browser emits, floor deltas, bus events, domain events) and commits.

    .venv/bin/python -m bench.after_commit.measure [--commits 20000]

Prints the best of 5 runs in microseconds of process CPU time per commit."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from callcenter import after_commit
from callcenter.events import FollowUpQueued
from callcenter.realtime import BROADCASTER, emit_after_commit, push_after_commit
from callcenter.services.bus_outbox import publish_after_commit


class Sink:
    """Takes what a commit sends and does nothing with it."""

    def emit(self, event: str, data: Any, *, to: str, namespace: str = "/") -> None:
        pass

    def publish(self, event: Any) -> None:
        pass

    def domain_events(self, events: Sequence[Any]) -> None:
        pass


def one_commit(session: Session, sink: Sink, event: FollowUpQueued) -> None:
    for number in range(4):
        emit_after_commit(session, "changed", number, room="agent:1")
        after_commit.record_event(session, number)
    for number in range(2):
        push_after_commit(session, "supervisor:campaign:1", "agents", {"agent_id": number})
        publish_after_commit(session, sink, event)
    session.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=20000)
    args = parser.parse_args()
    sink = Sink()
    sessions = sessionmaker(info={BROADCASTER: sink})
    after_commit.subscribe(sessions, sink.domain_events)
    session = sessions()
    event = FollowUpQueued(follow_up_id=1)
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(args.commits):
            one_commit(session, sink, event)
        best = min(best, (time.process_time() - started) / args.commits)
    print(
        f"{best * 1e6:.1f} us CPU per commit "
        f"(4 emits, 2 floor deltas, 2 bus events, 4 domain events; best of 5 x {args.commits})"
    )


if __name__ == "__main__":
    main()
