"""Counting failed API-key authentications per client address, to answer 429 after too many.

A fixed window per address, kept in Django's cache (`CACHES["default"]`; locmem is per process,
so production with several workers should point `CACHE_URL` at Redis): the first failure starts
a window of `API_KEY_FAILURE_WINDOW_SECONDS`; once `API_KEY_FAILURE_LIMIT` failures are counted
in it, further requests from that address with a missing or wrong key get 429 with
`Retry-After` (RFC 6585 section 4, RFC 9110 section 10.2.3) until the window ends. A valid key
is always let in, so a PBX that shares an address (NAT, proxy) with a misconfigured device keeps
working; keys are 32 random characters, so the block is back-pressure, not a guessing defence.
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache

_COUNT_KEY = "api-key-failures:count:{}"
_START_KEY = "api-key-failures:start:{}"


def failure_limit() -> int:
    """Failed authentications allowed per address and window (setting `API_KEY_FAILURE_LIMIT`)."""
    return int(getattr(settings, "API_KEY_FAILURE_LIMIT", 20))


def failure_window_seconds() -> int:
    """Length of the counting window in seconds (setting `API_KEY_FAILURE_WINDOW_SECONDS`)."""
    return int(getattr(settings, "API_KEY_FAILURE_WINDOW_SECONDS", 300))


def blocked_for_seconds(address: str) -> int | None:
    """Seconds until `address` may try keys again, or None when it is not blocked."""
    count = cache.get(_COUNT_KEY.format(address))
    if count is None or int(count) < failure_limit():
        return None
    start = cache.get(_START_KEY.format(address))
    window = failure_window_seconds()
    if start is None:
        return window
    return max(1, math.ceil(float(start) + window - time.time()))


def record_failure(address: str) -> None:
    """Count one failed authentication from `address` in its current window."""
    window = failure_window_seconds()
    count_key = _COUNT_KEY.format(address)
    if cache.add(count_key, 1, timeout=window):
        cache.set(_START_KEY.format(address), time.time(), timeout=window)
        return
    try:
        cache.incr(count_key)
    except ValueError:  # the window ended between add() and incr()
        if cache.add(count_key, 1, timeout=window):
            cache.set(_START_KEY.format(address), time.time(), timeout=window)
