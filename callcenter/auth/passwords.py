"""Password hashing with Argon2id (argon2-cffi: the reference implementation's
bindings, with parameters that follow RFC 9106's recommendations)."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
T = TypeVar("T")


def _off_the_event_loop(work: Callable[..., T], *args: str) -> T:
    """Under gunicorn's gevent worker every socket of the process shares one
    loop: a 0.2 s hash runs in gevent's thread pool (argon2 releases the
    GIL), not on the loop. Elsewhere (threads) it runs where it is asked."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("socket"):
        import gevent

        result: T = gevent.get_hub().threadpool.apply(work, args)
        return result
    return work(*args)


def hash_password(password: str) -> str:
    return _off_the_event_loop(_hasher.hash, password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _off_the_event_loop(_hasher.verify, password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def generate_password() -> str:
    """A random password for first start and resets, shown to a person once."""
    return secrets.token_urlsafe(12)
