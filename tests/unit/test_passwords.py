"""Passwords are hashed with Argon2id at RFC 9106's recommended cost (the
tests themselves swap in the cheapest cost; see tests/conftest.py)."""

from __future__ import annotations

from argon2 import Type

from tests.conftest import PRODUCTION_HASHER


def test_the_product_hashes_with_argon2id_at_the_recommended_cost() -> None:
    hashed = PRODUCTION_HASHER.hash("correct-horse-battery")
    assert hashed.startswith("$argon2id$")
    assert PRODUCTION_HASHER.type is Type.ID
    # RFC 9106's second recommended option: t=3, 64 MiB
    assert PRODUCTION_HASHER.time_cost >= 3 and PRODUCTION_HASHER.memory_cost >= 64 * 1024
    assert PRODUCTION_HASHER.verify(hashed, "correct-horse-battery")
