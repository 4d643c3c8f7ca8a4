"""Circuit breaker for the prediction routine, shared by all connections of one worker process.

When a predict call fails because the routine is unreachable or erroring, the breaker opens for
``retry_after_s`` (default 1 s): frames then come back ``degraded`` at once instead of each
waiting for a connection timeout. After that time the next frame (of any connection) tries the
routine again; success closes the breaker and every stream recovers by itself, failure opens it
for another ``retry_after_s``. The breaker also remembers when the routine last answered, which
/healthz uses instead of probing when a stream proved it alive recently.
"""

from __future__ import annotations

import logging
import time

logger = logging.getLogger(__name__)


class RoutineBreaker:
    """Open (skip the routine) for ``retry_after_s`` after each failure; closed after a success."""

    def __init__(self, retry_after_s: float = 1.0, clock=time.monotonic):
        self.retry_after_s = retry_after_s
        self._clock = clock
        self._open_until = 0.0
        self.reason: str | None = None
        self.last_success_at: float | None = None
        self.last_failure_at: float | None = None

    def allows_call(self) -> bool:
        """False while open: the caller should degrade at once with ``self.reason``."""
        return self._clock() >= self._open_until

    @property
    def is_open(self) -> bool:
        return self.reason is not None

    def record_success(self) -> None:
        if self.reason is not None:
            logger.info("prediction routine answers again; streams recover")
        self.reason = None
        self._open_until = 0.0
        self.last_success_at = self._clock()

    def record_failure(self, reason: str) -> None:
        if self.reason is None:
            logger.warning("prediction routine unavailable, frames are sent back unchanged "
                           "(retrying every %.1f s): %s", self.retry_after_s, reason)
        self.reason = reason
        self.last_failure_at = self._clock()
        self._open_until = self.last_failure_at + self.retry_after_s
