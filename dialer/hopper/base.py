"""The interface both hopper stores implement, and what a claim returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from callcenter.services.hopper_feed import DialableLead

DEFAULT_LEASE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Lease:
    """A lead held by one claimer until `expires_at`; after that the hopper
    gives it to someone else (the claimer is presumed dead)."""

    lead: DialableLead
    token: str
    expires_at: datetime


class Hopper(Protocol):
    """Per campaign: a queue of offers in DialableLead.sort_key order, a
    queue per agent for callbacks only that agent may take, and leases.

    Every method takes `now` (aware UTC) so the caller owns the clock. An
    offer whose `closes_at` has passed is dropped, never handed out; an
    expired lease returns its lead to the queue on the next claim or reap."""

    def replace(self, campaign_id: int, offers: Sequence[DialableLead]) -> int:
        """Make `offers` the campaign's queue (leased leads stay leased and
        are not queued twice). Returns how many were queued."""
        ...

    def claim(
        self,
        campaign_id: int,
        *,
        now: datetime,
        for_agent_id: int | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> Lease | None:
        """The best offer open at `now`, leased to the caller; None when empty.
        With `for_agent_id`, that agent's own callbacks come first; without
        it, agent-only callbacks are never returned."""
        ...

    def claim_many(
        self,
        campaign_id: int,
        count: int,
        *,
        now: datetime,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> list[Lease]:
        """Up to `count` of the best offers of the general queue, as `count`
        claims one after another would lease them (fewer when it runs out)."""
        ...

    def complete(self, lease: Lease) -> bool:
        """Forget the lead (dialed, or refused by the database). False when the
        lease had expired and the lead went back to the queue."""
        ...

    def complete_many(self, leases: Sequence[Lease]) -> list[bool]:
        """`complete` for each lease, in order."""
        ...

    def release(self, lease: Lease) -> bool:
        """Put the lead back at its place in the queue without dialing it."""
        ...

    def reap(self, campaign_id: int, *, now: datetime) -> int:
        """Return leads whose leases expired to the queue; how many."""
        ...

    def size(self, campaign_id: int, *, for_agent_id: int | None = None) -> int:
        """Queued offers (the general queue, or one agent's callbacks)."""
        ...

    def agents_with_callbacks(self, campaign_id: int, agent_ids: Sequence[int]) -> set[int]:
        """Those of these agents with a callback queued for them alone: what
        `size(for_agent_id=...)` says for each, asked once for all of them."""
        ...

    def leased(self, campaign_id: int) -> int: ...

    def clear(self, campaign_id: int) -> None: ...
