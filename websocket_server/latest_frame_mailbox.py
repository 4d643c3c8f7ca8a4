"""A one-slot mailbox between a connection's receive loop and its worker (latest frame wins).

The receive loop ``put``s every frame; if the worker has not yet taken the previous one, the
newer frame replaces it and ``put`` reports the replacement (the caller counts it as dropped).
The worker ``take``s frames one at a time, so at most one frame per connection is in flight to
the prediction routine and at most one waits: latency stays bounded when the routine is slower
than the camera. Cooperative (gevent); one producer and one consumer.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from gevent.event import Event

T = TypeVar("T")


class LatestFrameMailbox(Generic[T]):
    """Holds at most one item; a newer item replaces a waiting one."""

    def __init__(self) -> None:
        self._item: T | None = None
        self._full = Event()
        self._closed = False

    def put(self, item: T) -> T | None:
        """Leave ``item`` for the worker; return the waiting item it replaced (dropped), if any."""
        replaced = self._item if self._full.is_set() else None
        self._item = item
        self._full.set()
        return replaced

    def take(self) -> T | None:
        """Wait for an item and remove it; None once the mailbox is closed (the worker should end)."""
        while True:
            if self._closed:
                return None
            if self._full.is_set():
                item, self._item = self._item, None
                self._full.clear()
                return item
            self._full.wait()

    def take_nowait(self) -> T | None:
        """The waiting item, removed, or None when there is none (or the mailbox is closed)."""
        if self._closed or not self._full.is_set():
            return None
        item, self._item = self._item, None
        self._full.clear()
        return item

    def close(self) -> None:
        """Wake the worker and make every later ``take`` return None; a waiting item is discarded."""
        self._closed = True
        self._item = None
        self._full.set()

    @property
    def closed(self) -> bool:
        return self._closed
