"""Per-stream state of the prediction routine (the landmark smoother and face tracker of each stream).

Requests carry an optional ``stream_id``. Frames of one stream reuse its state, so landmarks are
smoothed over time; the states live in a bounded least-recently-used table whose entries also
expire after ``ttl_s`` seconds without a frame. A stream that lands on another replica (or whose
state expired) simply starts a new state there — smoothing restarts, nothing breaks.

The expensive part of a state (a MediaPipe face tracker, ~40 MB) is rationed by a ``SlotLimit``:
streams beyond it keep their cheap state and use the shared detector until a slot frees, so
going past the limit costs a little speed per frame instead of rebuilding state every frame.

Not thread-safe by itself: the predictor holds its pipeline lock while using it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Generic, TypeVar

State = TypeVar("State")


class StreamStates(Generic[State]):
    """``get(stream_id)`` returns the stream's state, creating it with ``factory()`` when new;
    ``on_evict(state)`` is called for every state dropped (least recently used or expired)."""

    def __init__(self, factory: Callable[[], State], capacity: int = 256, ttl_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, on_evict: Callable[[State], None] | None = None):
        if capacity < 1:
            raise ValueError("stream state capacity must be at least 1")
        self._factory = factory
        self.capacity = capacity
        self.ttl_s = ttl_s
        self._clock = clock
        self._on_evict = on_evict
        self._states: OrderedDict[str, tuple[State, float]] = OrderedDict()
        self.created = 0

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, stream_id: str) -> bool:
        return stream_id in self._states

    def get(self, stream_id: str) -> State:
        now = self._clock()
        self._expire(now)
        entry = self._states.pop(stream_id, None)
        state = entry[0] if entry is not None else self._new()
        self._states[stream_id] = (state, now)
        while len(self._states) > self.capacity:
            self._evict(self._states.popitem(last=False)[1][0])
        return state

    def _evict(self, state: State) -> None:
        if self._on_evict is not None:
            self._on_evict(state)

    def _new(self) -> State:
        self.created += 1
        return self._factory()

    def _expire(self, now: float) -> None:
        while self._states:
            oldest_id, (_, last_used) = next(iter(self._states.items()))
            if now - last_used <= self.ttl_s:
                break
            self._evict(self._states.pop(oldest_id)[0])


class SlotLimit:
    """At most ``limit`` holders at once; ``try_take()`` never waits (thread-safe)."""

    def __init__(self, limit: int):
        if limit < 0:
            raise ValueError("a slot limit cannot be negative")
        self.limit = limit
        self.in_use = 0
        self.granted = 0
        self._lock = threading.Lock()

    def try_take(self) -> bool:
        """Take a slot if one is free; False when all ``limit`` are held."""
        with self._lock:
            if self.in_use >= self.limit:
                return False
            self.in_use += 1
            self.granted += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.in_use = max(0, self.in_use - 1)
