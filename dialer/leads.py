"""The worker's lead source: the hopper (in-process or Redis) fed from the
database, with the database's final guard (`lead_lifecycle.claim_attempt`)
on every lead before it is dialed."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from callcenter.db import Database
from callcenter.errors import Conflict, NotFound
from callcenter.services import lead_lifecycle
from dialer.hopper import Hopper, HopperFeeder, Lease
from dialer.hopper.feeder import ClaimedLead as FeederClaim
from dialer.ports import ClaimedLead, HeldLead

log = logging.getLogger(__name__)

PREVIEW_LEASE_SECONDS = 15 * 60.0  # an agent may read a lead for a while


class HopperLeadSource:
    """:class:`dialer.ports.LeadSource` over :class:`dialer.hopper.HopperFeeder`."""

    def __init__(self, database: Database, hopper: Hopper) -> None:
        self.database = database
        self.hopper = hopper
        self.feeder = HopperFeeder(database, hopper)

    def refill(self, campaign_ids: Sequence[int], *, now: datetime) -> None:
        for campaign_id in campaign_ids:
            self.hopper.reap(campaign_id, now=now)
            self.feeder.refill(campaign_id, now=now)

    def rebuild(self, campaign_ids: Sequence[int], *, now: datetime) -> None:
        for campaign_id in campaign_ids:
            self.hopper.clear(campaign_id)
            self.feeder.refill(campaign_id, now=now)

    def depth(self, campaign_id: int) -> int:
        return self.hopper.size(campaign_id)

    def next_leads(self, campaign_id: int, count: int, *, now: datetime) -> list[ClaimedLead]:
        claimed = self.feeder.next_leads(campaign_id, count, now=now)
        return [lead for lead in map(_claimed, claimed) if lead is not None]

    def with_own_callbacks(self, campaign_id: int, agent_ids: Sequence[int]) -> set[int]:
        return self.hopper.agents_with_callbacks(campaign_id, agent_ids)

    def own_callback(self, campaign_id: int, *, agent_id: int, now: datetime) -> ClaimedLead | None:
        return _claimed(self.feeder.own_callback(campaign_id, agent_id=agent_id, now=now))

    def hold(self, campaign_id: int, *, agent_id: int, now: datetime) -> HeldLead | None:
        lease = self.hopper.claim(
            campaign_id, now=now, for_agent_id=agent_id, lease_seconds=PREVIEW_LEASE_SECONDS
        )
        if lease is None:
            return None
        return HeldLead(lead_id=lease.lead.lead_id, campaign_id=campaign_id, lease=lease)

    def claim_held(self, held: HeldLead, *, now: datetime) -> ClaimedLead | None:
        lease: Lease = held.lease
        try:
            attempt = lead_lifecycle.claim_counting_dnc(
                self.database, held.lead_id, now=now, campaign_id=held.campaign_id
            )
        except (Conflict, NotFound) as exc:
            log.info(
                "previewed lead %s refused at dial time: %s",
                held.lead_id,
                exc.message,
                extra={"lead_id": held.lead_id, "campaign_id": held.campaign_id},
            )
            self.hopper.complete(lease)
            return None
        self.hopper.complete(lease)
        return ClaimedLead(
            lead_id=held.lead_id,
            campaign_id=held.campaign_id,
            attempt=attempt,
            phone_e164=lease.lead.phone_e164,
        )

    def claim_stands(self, claimed: ClaimedLead) -> bool:
        assert claimed.claim_id is not None
        with self.database.sessions() as session:
            return lead_lifecycle.claim_stands(
                session, claimed.lead_id, attempt=claimed.attempt, claim_id=claimed.claim_id
            )

    def give_back_unplaced(self, claimed: ClaimedLead, *, reason: str, now: datetime) -> None:
        assert claimed.claim_id is not None
        with self.database.unit_of_work() as session:
            given_back = lead_lifecycle.give_back_unplaced(
                session,
                claimed.lead_id,
                attempt=claimed.attempt,
                claim_id=claimed.claim_id,
                reason=reason,
                now=now,
            )
        if not given_back:
            log.info(
                "lead %s had moved on: its unplaced attempt %s is not given back",
                claimed.lead_id,
                claimed.attempt,
                extra={"lead_id": claimed.lead_id},
            )

    def give_back(self, held: HeldLead) -> None:
        self.hopper.release(held.lease)


def _claimed(claimed: FeederClaim | None) -> ClaimedLead | None:
    if claimed is None:
        return None
    return ClaimedLead(
        lead_id=claimed.lead_id,
        campaign_id=claimed.campaign_id,
        attempt=claimed.attempt,
        phone_e164=claimed.phone_e164,
    )
