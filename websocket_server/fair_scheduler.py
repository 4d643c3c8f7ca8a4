"""Fair shares of the prediction routine between client addresses (issue 12, item 2).

Each stream has at most one frame in flight (latest_frame_mailbox.py), but one client with many
streams would still take as many routine calls as it opens streams. ``FairScheduler`` hands out
``slots`` concurrent routine calls per worker process:

- an address holds at most ``per_address`` of them at once; its other streams wait;
- when a slot frees, waiting addresses are served in turn (round robin), so a well-behaved client
  from another address waits for at most one call to finish, however many streams the flooding
  address has open.

``AddressReadBudget`` bounds what one address costs the relay before any routine call: all
streams of an address together are read at most ``rate`` messages per second. A stream over its
address's budget is simply not read for a while; TCP flow control then holds its sender back at no
cost to the relay, however many sockets the address opens.

Cooperative (gevent): waiting is a gevent Event or sleep; nothing yields while tables change.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict, deque

import gevent
from gevent.event import Event


class SlotWaitTimeout(Exception):
    """No routine slot came free in time."""


class FairScheduler:
    """``acquire(address, timeout)`` / ``release(address)`` around each routine call."""

    def __init__(self, slots: int, per_address: int):
        if slots < 1 or per_address < 1:
            raise ValueError("slots and per_address must be at least 1")
        self.slots = slots
        self.per_address = per_address
        self.in_use = 0
        self.in_use_by: Counter[str] = Counter()
        self._waiting: OrderedDict[str, deque[Event]] = OrderedDict()

    def _can_start(self, address: str) -> bool:
        return self.in_use < self.slots and self.in_use_by[address] < self.per_address

    def _grant(self, address: str) -> None:
        self.in_use += 1
        self.in_use_by[address] += 1

    def acquire(self, address: str, timeout: float | None = None) -> None:
        """Wait for a slot for ``address``; SlotWaitTimeout after ``timeout`` seconds."""
        if self._can_start(address) and address not in self._waiting:
            self._grant(address)
            return
        granted = Event()
        self._waiting.setdefault(address, deque()).append(granted)
        try:
            if granted.wait(timeout) or granted.is_set():
                return
        except BaseException:  # the waiting greenlet was killed (its client left): give the turn back
            self._leave(address, granted)
            raise
        self._leave(address, granted)
        raise SlotWaitTimeout(f"no routine slot within {timeout:.1f} s")

    def _leave(self, address: str, granted: Event) -> None:
        """Take a waiter out of the queue; a slot already granted to it is released."""
        if granted.is_set():
            self.release(address)
            return
        queue = self._waiting.get(address)
        if queue is not None and granted in queue:
            queue.remove(granted)
            if not queue:
                del self._waiting[address]

    def release(self, address: str) -> None:
        self.in_use -= 1
        self.in_use_by[address] -= 1
        if self.in_use_by[address] <= 0:
            del self.in_use_by[address]
        self._dispatch()

    def _dispatch(self) -> None:
        """Grant free slots to waiting addresses, oldest-served address first (round robin)."""
        while self.in_use < self.slots and self._waiting:
            for address in list(self._waiting):
                if self.in_use_by[address] < self.per_address:
                    break
            else:
                return  # every waiting address is at its own limit
            queue = self._waiting.pop(address)
            event = queue.popleft()
            if queue:
                self._waiting[address] = queue  # re-inserted last: the next turn goes to another address
            self._grant(address)
            event.set()


class AddressReadBudget:
    """Token bucket per client address: ``wait(address)`` returns once the address may send one more
    message (sleeping the calling greenlet meanwhile)."""

    def __init__(self, rate: float, burst: float | None = None, clock=time.monotonic):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else rate)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, updated)

    def wait(self, address: str) -> float:
        """Take one token for ``address``, sleeping until there is one; returns seconds slept."""
        slept = 0.0
        while True:
            now = self._clock()
            tokens, updated = self._buckets.get(address, (self.burst, now))
            tokens = min(self.burst, tokens + (now - updated) * self.rate)
            if tokens >= 1.0 - 1e-9:
                self._buckets[address] = (tokens - 1.0, now)
                if len(self._buckets) > 4096:
                    self._forget_full(now)
                return slept
            self._buckets[address] = (tokens, now)
            pause = (1.0 - tokens) / self.rate
            gevent.sleep(pause)
            slept += pause

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled completely (their addresses cost nothing to forget)."""
        for address, (tokens, updated) in list(self._buckets.items()):
            if tokens + (now - updated) * self.rate >= self.burst:
                del self._buckets[address]
