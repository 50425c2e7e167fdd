"""Feeds a hopper from the database and turns hopper claims into attempts.

    feeder = HopperFeeder(database, MemoryHopper())      # or RedisHopper.from_url(url)
    feeder.refill_all(now=utcnow())                       # periodically, and at start
    claimed = feeder.next_lead(campaign_id, now=utcnow())  # ClaimedLead | None

`next_lead` leases an offer from the hopper, then claims the attempt in the
database (`lead_lifecycle.claim_attempt`: state, attempts and the DNC list
are checked again there, atomically). An offer the database refuses is
dropped and the next one tried, so a stale hopper can delay a lead but never
cause a double dial or a call to a blocked number."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from callcenter.db import Database
from callcenter.errors import Conflict, NotFound
from callcenter.services import campaigns, hopper_feed, lead_lifecycle
from dialer.hopper.base import DEFAULT_LEASE_SECONDS, Hopper, Lease

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClaimedLead:
    """A lead whose attempt is claimed (DIALING in the database): dial it."""

    lead_id: int
    campaign_id: int
    customer_id: int
    phone_e164: str
    attempt: int
    agent_id: int | None  # an agent-only callback
    is_callback: bool


class HopperFeeder:
    def __init__(
        self,
        database: Database,
        hopper: Hopper,
        *,
        target_size: int = hopper_feed.DEFAULT_LIMIT,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self.database = database
        self.hopper = hopper
        self.target_size = target_size
        self.lease_seconds = lease_seconds

    def refill(self, campaign_id: int, *, now: datetime) -> int:
        """Rebuild the campaign's queue from the database; how many are queued."""
        with self.database.unit_of_work() as session:
            offers = hopper_feed.select_dialable(
                session, campaign_id, now=now, limit=self.target_size
            )
        return self.hopper.replace(campaign_id, offers)

    def refill_all(self, *, now: datetime) -> dict[int, int]:
        """Refill every active campaign (after a Redis restart too)."""
        with self.database.unit_of_work() as session:
            active = campaigns.active_campaign_ids(session)
        return {campaign_id: self.refill(campaign_id, now=now) for campaign_id in active}

    def next_lead(
        self, campaign_id: int, *, now: datetime, for_agent_id: int | None = None
    ) -> ClaimedLead | None:
        while True:
            lease = self.hopper.claim(
                campaign_id, now=now, for_agent_id=for_agent_id, lease_seconds=self.lease_seconds
            )
            if lease is None:
                return None
            claimed = self._claimed(lease, now)
            if claimed is not None:
                return claimed

    def next_leads(self, campaign_id: int, count: int, *, now: datetime) -> list[ClaimedLead]:
        """Up to `count` leads, leased and then claimed in the database
        together (one transaction); offers it refuses are dropped and others
        leased in their place. Fewer when the queue runs out."""
        claimed: list[ClaimedLead] = []
        while len(claimed) < count:
            leases = self.hopper.claim_many(
                campaign_id, count - len(claimed), now=now, lease_seconds=self.lease_seconds
            )
            if not leases:
                break
            claimed += self._claimed_together(campaign_id, leases, now)
        return claimed

    def own_callback(self, campaign_id: int, *, agent_id: int, now: datetime) -> ClaimedLead | None:
        """A due callback booked for this agent alone, claimed; None when
        none is queued (never a lead of the general queue)."""
        while self.hopper.size(campaign_id, for_agent_id=agent_id):
            lease = self.hopper.claim(
                campaign_id, now=now, for_agent_id=agent_id, lease_seconds=self.lease_seconds
            )
            if lease is None:
                return None
            if lease.lead.agent_id != agent_id:
                self.hopper.release(lease)
                return None
            claimed = self._claimed(lease, now)
            if claimed is not None:
                return claimed
        return None

    def _claimed(self, lease: Lease, now: datetime) -> ClaimedLead | None:
        """The lease's attempt claimed in the database; None (and the offer
        dropped) when the database refuses it."""
        try:
            attempt = self._claim_in_database(lease.lead.lead_id, lease.lead.campaign_id, now)
        except (Conflict, NotFound) as exc:
            log.info(
                "hopper offer of lead %s refused: %s",
                lease.lead.lead_id,
                exc.message,
                extra={"lead_id": lease.lead.lead_id, "campaign_id": lease.lead.campaign_id},
            )
            self.hopper.complete(lease)
            return None
        except BaseException:
            self.hopper.release(lease)
            raise
        return self._completed(lease, attempt)

    def _completed(self, lease: Lease, attempt: int) -> ClaimedLead:
        """A lease whose attempt the database claimed, taken off the hopper."""
        try:
            self.hopper.complete(lease)
        except Exception:
            _dialed_anyway([lease])
        return _claimed_lead(lease, attempt)

    def _claimed_together(
        self, campaign_id: int, leases: list[Lease], now: datetime
    ) -> list[ClaimedLead]:
        """`_claimed` for several leases, their claims in one transaction and
        every lease then taken off the hopper at once."""
        try:
            results = lead_lifecycle.claim_many_counting_dnc(
                self.database,
                [lease.lead.lead_id for lease in leases],
                now=now,
                campaign_id=campaign_id,
            )
        except BaseException:
            for lease in leases:
                self.hopper.release(lease)
            raise
        claimed = []
        for lease in leases:
            result = results[lease.lead.lead_id]
            if isinstance(result, int):
                claimed.append(_claimed_lead(lease, result))
                continue
            log.info(
                "hopper offer of lead %s refused: %s",
                lease.lead.lead_id,
                result.message,
                extra={"lead_id": lease.lead.lead_id, "campaign_id": campaign_id},
            )
        try:
            self.hopper.complete_many(leases)
        except Exception:
            _dialed_anyway(
                [lease for lease in leases if isinstance(results[lease.lead.lead_id], int)]
            )
        return claimed

    def _claim_in_database(self, lead_id: int, campaign_id: int, now: datetime) -> int:
        """The attempt number (the database's claim is the last guard)."""
        return lead_lifecycle.claim_counting_dnc(
            self.database, lead_id, now=now, campaign_id=campaign_id
        )


def _claimed_lead(lease: Lease, attempt: int) -> ClaimedLead:
    offer = lease.lead
    return ClaimedLead(
        lead_id=offer.lead_id,
        campaign_id=offer.campaign_id,
        customer_id=offer.customer_id,
        phone_e164=offer.phone_e164,
        attempt=attempt,
        agent_id=offer.agent_id,
        is_callback=offer.is_callback,
    )


def _dialed_anyway(leases: list[Lease]) -> None:
    """The hopper failed after the database claimed these leads: they are
    dialed all the same (dropped with the error, they would stay 'dialing'
    undialed). Their leases expire and the offers come back, and the
    database refuses those attempts then (they are taken)."""
    for lease in leases:
        log.warning(
            "hopper unreachable after lead %s was claimed; dialing it anyway",
            lease.lead.lead_id,
            exc_info=True,
            extra={"lead_id": lease.lead.lead_id, "campaign_id": lease.lead.campaign_id},
        )
