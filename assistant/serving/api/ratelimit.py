"""Questions per minute per client address: token buckets, answered with 429 and Retry-After."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from fastapi import HTTPException, Request

MAX_TRACKED_CLIENTS = 10_000


class RateLimiter:
    """Token buckets per client: ``burst`` requests at once, then ``per_minute``; a per-minute rate of 0 turns it off."""

    def __init__(self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when last updated)
        self._lock = threading.Lock()  # routes run in a threadpool

    def wait(self, client: str) -> float:
        """Seconds until ``client`` may send a request; 0.0 means now, and the request is counted."""
        if not self.per_minute:
            return 0.0
        rate = self.per_minute / 60
        with self._lock:
            now = self.clock()
            tokens, updated = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - updated) * rate)
            if tokens < 1:
                self._buckets[client] = (tokens, now)
                return (1 - tokens) / rate
            self._buckets[client] = (tokens - 1, now)
            if len(self._buckets) > MAX_TRACKED_CLIENTS:
                refill = self.burst / rate  # a bucket idle this long is full again, the same as a forgotten one
                self._buckets = {key: value for key, value in self._buckets.items() if now - value[1] < refill}
            return 0.0


def rate_limit(limiter: RateLimiter) -> Callable[[Request], None]:
    """A dependency that answers 429 with Retry-After once the calling address has used up its questions."""
    def limit(request: Request) -> None:
        wait = limiter.wait(request.client.host if request.client else "")
        if wait:
            seconds = math.ceil(wait)
            raise HTTPException(
                429,
                f"Too many questions from this address: the limit is {limiter.per_minute} a minute, in bursts of at "
                f"most {limiter.burst}. Try again in {seconds} s.",
                headers={"Retry-After": str(seconds)},
            )

    return limit
