"""Per-connection frame-rate limit: a token bucket.

The bucket holds at most ``burst`` tokens (default: one second's worth) and refills at
``frames_per_second``; each message takes one token. A client sending faster than the limit gets
an ``error`` result for each message over it, and its connection stays open.
"""

from __future__ import annotations

import time


class FrameRateLimiter:
    """Token bucket: ``allow()`` is True while the client stays under ``frames_per_second``."""

    def __init__(self, frames_per_second: float, burst: float | None = None, clock=time.monotonic):
        if frames_per_second <= 0:
            raise ValueError("frames_per_second must be positive")
        self.frames_per_second = float(frames_per_second)
        self.burst = float(burst if burst is not None else max(1.0, frames_per_second))
        self._clock = clock
        self._tokens = self.burst
        self._updated = clock()

    def allow(self) -> bool:
        """Take one token if there is one; False means the message is over the limit."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.frames_per_second)
        self._updated = now
        if self._tokens >= 1.0 - 1e-9:  # tolerate float rounding of the refill
            self._tokens -= 1.0
            return True
        return False
