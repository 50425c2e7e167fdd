"""The Redis queue's lexical member order is the in-process heap's order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from callcenter.services.hopper_feed import DialableLead
from dialer.hopper.redis_store import _member

BASE = datetime(2025, 1, 1, tzinfo=UTC)

offers = st.builds(
    lambda lead_id, priority, seconds, callback: DialableLead(
        lead_id=lead_id,
        campaign_id=1,
        customer_id=lead_id,
        phone_e164="+989121234567",
        timezone="Asia/Tehran",
        priority=priority,
        attempts=0,
        due_at=BASE + timedelta(seconds=seconds),
        closes_at=BASE + timedelta(days=900),
        is_callback=callback,
    ),
    st.integers(min_value=1, max_value=10**11),
    st.integers(min_value=-1000, max_value=1000),
    st.integers(min_value=0, max_value=10**8),
    st.booleans(),
)


@given(st.lists(offers, min_size=2, max_size=30, unique_by=lambda offer: offer.lead_id))
def test_member_order_matches_sort_key(items: list[DialableLead]) -> None:
    assert sorted(items, key=_member) == sorted(items, key=DialableLead.sort_key)


def test_callbacks_first_then_priority_then_oldest() -> None:
    def offer(lead_id: int, **fields: object) -> DialableLead:
        values: dict[str, object] = {
            "lead_id": lead_id, "campaign_id": 1, "customer_id": lead_id, "phone_e164": "+98",
            "timezone": "UTC", "priority": 0, "attempts": 0, "due_at": BASE, "closes_at": BASE,
        }  # fmt: skip
        values.update(fields)
        return DialableLead(**values)  # type: ignore[arg-type]

    items = [
        offer(1),
        offer(2, priority=3),
        offer(3, is_callback=True, due_at=BASE + timedelta(hours=1)),
        offer(4, due_at=BASE - timedelta(hours=1)),
    ]
    assert [o.lead_id for o in sorted(items, key=DialableLead.sort_key)] == [3, 2, 4, 1]
