"""Client-side request and token budgets, so an endpoint's limits are met, not hit.

The openai client retries 429s, but retries are the fallback: a judge configured with
``rpm``/``tpm`` spaces its calls so the endpoint rarely refuses one. ``aiolimiter`` does
the same but is not a dependency; this is a FIFO token bucket in a few lines.
"""

from __future__ import annotations

import asyncio
import time

from monitor.errors import ConfigError

__all__ = ["RateLimiter"]


class RateLimiter:
    """A token bucket refilled at ``per_minute / 60`` per second, served first come first.

    ``capacity`` is the largest burst. It defaults to one unit for request limits
    (strict spacing: an endpoint counting per second never sees a burst) — pass a larger
    one for token limits, where a single call costs hundreds of units.
    """

    def __init__(self, per_minute: float, capacity: float | None = None) -> None:
        if per_minute <= 0:
            raise ConfigError(f"rate limit must be positive, got {per_minute} per minute")
        self.rate = per_minute / 60.0
        self.capacity = float(capacity) if capacity is not None else 1.0
        if self.capacity <= 0:
            raise ConfigError(f"rate limit burst must be positive, got {capacity}")
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def acquire(self, amount: float = 1.0) -> None:
        """Wait until ``amount`` units are free, then take them (capped at the capacity)."""
        amount = min(amount, self.capacity)
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop = asyncio.Lock(), loop
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= amount:
                    self._tokens -= amount
                    return
                await asyncio.sleep((amount - self._tokens) / self.rate)
