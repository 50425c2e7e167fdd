"""The hopper: the next leads to dial per campaign, claimed with a lease.

Two stores behind one interface (`Hopper`): `MemoryHopper` (in-process, the
embedded default) and `RedisHopper` (several dialer processes). The database
is the source of truth; `HopperFeeder` refills a store from it and turns a
hopper claim into a database claim (`lead_lifecycle.claim_attempt`), the
final guard against double dialing and do-not-call numbers.
"""

from dialer.hopper.base import Hopper, Lease
from dialer.hopper.feeder import ClaimedLead, HopperFeeder
from dialer.hopper.memory import MemoryHopper
from dialer.hopper.redis_store import RedisHopper

__all__ = ["ClaimedLead", "Hopper", "HopperFeeder", "Lease", "MemoryHopper", "RedisHopper"]
