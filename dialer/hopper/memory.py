"""In-process hopper: a lock, a heap per queue, leases in a dict."""

from __future__ import annotations

import heapq
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from callcenter.services.hopper_feed import DialableLead
from dialer.hopper.base import DEFAULT_LEASE_SECONDS, Lease

_HeapItem = tuple[tuple[int, int, float, int], int]


@dataclass
class _Campaign:
    offers: dict[int, DialableLead] = field(default_factory=dict)
    queues: dict[int | None, list[_HeapItem]] = field(default_factory=dict)
    queued: set[int] = field(default_factory=set)
    leases: dict[int, Lease] = field(default_factory=dict)

    def push(self, offer: DialableLead) -> None:
        self.offers[offer.lead_id] = offer
        self.queued.add(offer.lead_id)
        heapq.heappush(
            self.queues.setdefault(offer.agent_id, []), (offer.sort_key(), offer.lead_id)
        )

    def pop_open(self, agent_id: int | None, now: datetime) -> DialableLead | None:
        heap = self.queues.get(agent_id, [])
        while heap:
            _, lead_id = heapq.heappop(heap)
            if lead_id not in self.queued:
                continue  # stale heap item: the offer was replaced or leased
            self.queued.discard(lead_id)
            offer = self.offers[lead_id]
            if offer.agent_id != agent_id:
                continue
            if offer.closes_at <= now:
                del self.offers[lead_id]  # its window closed; a later refill offers it again
                continue
            return offer
        return None


class MemoryHopper:
    """Thread-safe; one per process (the embedded default)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._campaigns: dict[int, _Campaign] = {}

    def replace(self, campaign_id: int, offers: Sequence[DialableLead]) -> int:
        with self._lock:
            old = self._campaigns.get(campaign_id, _Campaign())
            fresh = _Campaign(leases=old.leases)
            for offer in offers:
                if offer.lead_id not in fresh.leases:
                    fresh.push(offer)
            for lease in old.leases.values():
                fresh.offers[lease.lead.lead_id] = lease.lead
            self._campaigns[campaign_id] = fresh
            return len(fresh.queued)

    def claim(
        self,
        campaign_id: int,
        *,
        now: datetime,
        for_agent_id: int | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> Lease | None:
        with self._lock:
            state = self._campaigns.get(campaign_id)
            if state is None:
                return None
            self._reap(state, now)
            offer = None
            if for_agent_id is not None:
                offer = state.pop_open(for_agent_id, now)
            offer = offer or state.pop_open(None, now)
            if offer is None:
                return None
            lease = Lease(offer, uuid.uuid4().hex, now + timedelta(seconds=lease_seconds))
            state.leases[offer.lead_id] = lease
            return lease

    def claim_many(
        self,
        campaign_id: int,
        count: int,
        *,
        now: datetime,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> list[Lease]:
        leases: list[Lease] = []
        while len(leases) < count:
            lease = self.claim(campaign_id, now=now, lease_seconds=lease_seconds)
            if lease is None:
                break
            leases.append(lease)
        return leases

    def complete(self, lease: Lease) -> bool:
        with self._lock:
            state = self._campaigns.get(lease.lead.campaign_id)
            if state is None or not _holds(state, lease):
                return False
            del state.leases[lease.lead.lead_id]
            state.offers.pop(lease.lead.lead_id, None)
            return True

    def complete_many(self, leases: Sequence[Lease]) -> list[bool]:
        return [self.complete(lease) for lease in leases]

    def release(self, lease: Lease) -> bool:
        with self._lock:
            state = self._campaigns.get(lease.lead.campaign_id)
            if state is None or not _holds(state, lease):
                return False
            del state.leases[lease.lead.lead_id]
            state.push(lease.lead)
            return True

    def reap(self, campaign_id: int, *, now: datetime) -> int:
        with self._lock:
            state = self._campaigns.get(campaign_id)
            return 0 if state is None else self._reap(state, now)

    def size(self, campaign_id: int, *, for_agent_id: int | None = None) -> int:
        with self._lock:
            state = self._campaigns.get(campaign_id)
            if state is None:
                return 0
            return sum(
                1 for lead_id in state.queued if state.offers[lead_id].agent_id == for_agent_id
            )

    def agents_with_callbacks(self, campaign_id: int, agent_ids: Sequence[int]) -> set[int]:
        with self._lock:
            state = self._campaigns.get(campaign_id)
            if state is None:
                return set()
            queued_for = {state.offers[lead_id].agent_id for lead_id in state.queued}
        return {agent_id for agent_id in agent_ids if agent_id in queued_for}

    def leased(self, campaign_id: int) -> int:
        with self._lock:
            state = self._campaigns.get(campaign_id)
            return 0 if state is None else len(state.leases)

    def clear(self, campaign_id: int) -> None:
        with self._lock:
            self._campaigns.pop(campaign_id, None)

    @staticmethod
    def _reap(state: _Campaign, now: datetime) -> int:
        expired = [lease for lease in state.leases.values() if lease.expires_at <= now]
        for lease in expired:
            del state.leases[lease.lead.lead_id]
            state.push(lease.lead)
        return len(expired)


def _holds(state: _Campaign, lease: Lease) -> bool:
    current = state.leases.get(lease.lead.lead_id)
    return current is not None and current.token == lease.token
