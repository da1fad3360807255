"""Rate limits on the shared "throttle" cache (a database table every web worker reads; settings.CACHES).

A limit of N requests per window is N slots, each kept for a window after it was taken: a request is allowed while
one of them is free, so "N in any window" holds exactly, with no burst at the turn of a minute. One read finds the
free slots; ``cache.add`` takes one atomically (two concurrent requests never share a slot), and a refused request
costs that one read. (``octoo_billing.security`` counts password-reset e-mails the same way.)
"""

from __future__ import annotations

import hashlib

from django.core.cache import caches

CACHE = "throttle"


def throttle_key(*parts: str) -> str:
    """A cache key for what is counted (a client address...), hashed: no address is stored as typed."""
    return hashlib.sha256(":".join(parts).encode()).hexdigest()


def throttle_take(*, key: str, limit: int, window: int) -> bool:
    """Take one of ``limit`` slots under ``key`` for ``window`` seconds: false when all are taken (over the limit)."""
    cache = caches[CACHE]
    slots = [f"{key}:{slot}" for slot in range(limit)]
    taken = cache.get_many(slots)
    return any(cache.add(slot, 1, timeout=window) for slot in slots if slot not in taken)
