"""Bus events published only once the session commits, like browser emits
(`callcenter.after_commit`): a consumer never acts on a change that was
rolled back."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Sequence

from sqlalchemy.orm import Session

from callcenter import after_commit
from callcenter.after_commit import Outlet
from callcenter.bus import EventBus
from callcenter.events import Event


def publish_after_commit(session: Session, bus: EventBus | None, published: Event) -> None:
    if bus is not None:
        after_commit.defer(session, Outlet.BUS_EVENTS, (bus, published))


def publish(_session: Session, events: Sequence[tuple[EventBus, Event]]) -> None:
    """A commit's events, each run of them for one bus in one go."""
    for bus, run in itertools.groupby(events, key=operator.itemgetter(0)):
        bus.publish_many([published for _bus, published in run])


after_commit.deliver_with(Outlet.BUS_EVENTS, publish)
