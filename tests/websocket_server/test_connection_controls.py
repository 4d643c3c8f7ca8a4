"""The per-connection controls: one-slot mailbox (latest frame wins), frame-rate token bucket,
routine circuit breaker. Clocks are injected so time is exact."""

from __future__ import annotations

import gevent
import pytest

from websocket_server.frame_rate_limiter import FrameRateLimiter
from websocket_server.latest_frame_mailbox import LatestFrameMailbox
from websocket_server.websocket_io import unmask
from websocket_server.routine_breaker import RoutineBreaker


class ManualClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_mailbox_keeps_only_the_latest_waiting_frame():
    mailbox = LatestFrameMailbox()
    assert mailbox.put(1) is None
    assert mailbox.put(2) == 1
    assert mailbox.put(3) == 2
    assert mailbox.take() == 3
    assert mailbox.put(4) is None


def test_mailbox_take_waits_for_a_frame_and_close_ends_the_worker():
    mailbox = LatestFrameMailbox()
    taken = []

    def worker():
        while (item := mailbox.take()) is not None:
            taken.append(item)

    greenlet = gevent.spawn(worker)
    gevent.sleep(0)
    mailbox.put("a")
    gevent.sleep(0)
    mailbox.put("b")
    gevent.sleep(0)
    mailbox.close()
    greenlet.join(timeout=2)
    assert greenlet.dead and taken == ["a", "b"]
    assert mailbox.take() is None


def test_rate_limiter_allows_a_burst_then_the_steady_rate():
    clock = ManualClock()
    limiter = FrameRateLimiter(10, clock=clock)
    assert all(limiter.allow() for _ in range(10))
    assert not limiter.allow()
    clock.now += 0.1
    assert limiter.allow()
    assert not limiter.allow()
    clock.now += 5.0
    assert sum(limiter.allow() for _ in range(20)) == 10


def test_rate_limiter_refuses_a_non_positive_rate():
    with pytest.raises(ValueError):
        FrameRateLimiter(0)


def test_breaker_skips_the_routine_for_the_retry_time_then_probes_again():
    clock = ManualClock()
    breaker = RoutineBreaker(retry_after_s=1.0, clock=clock)
    assert breaker.allows_call() and not breaker.is_open
    breaker.record_failure("connection refused")
    assert not breaker.allows_call() and breaker.is_open and breaker.reason == "connection refused"
    clock.now += 0.99
    assert not breaker.allows_call()
    clock.now += 0.02
    assert breaker.allows_call()
    breaker.record_success()
    assert breaker.allows_call() and not breaker.is_open and breaker.last_success_at == clock.now


@pytest.mark.parametrize("length", [0, 1, 3, 4, 5, 65537])
def test_unmask_matches_the_rfc_6455_definition(length):
    payload = bytes((i * 7) % 256 for i in range(length))
    mask = b"\x12\x34\xab\xcd"
    assert unmask(payload, mask) == bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))


def test_fair_scheduler_serves_addresses_in_turn_and_caps_each():
    from websocket_server.fair_scheduler import FairScheduler, SlotWaitTimeout

    scheduler = FairScheduler(slots=2, per_address=1)
    scheduler.acquire("flooder")
    scheduler.acquire("user")
    order = []

    def wait_for(address: str, label: str) -> None:
        scheduler.acquire(address)
        order.append(label)

    waiters = [gevent.spawn(wait_for, "flooder", f"flooder-{n}") for n in range(3)]
    waiters.append(gevent.spawn(wait_for, "user", "user-2"))
    gevent.sleep(0)
    with pytest.raises(SlotWaitTimeout):
        scheduler.acquire("third", timeout=0.01)
    scheduler.release("flooder")        # the flooder's next stream gets its one slot back
    gevent.sleep(0)
    scheduler.release("user")           # ... and the user's waiting stream is served next
    gevent.sleep(0)
    assert order == ["flooder-0", "user-2"] and scheduler.in_use == 2
    # A waiter whose client left gives its turn back: no slot leaks.
    waiters[1].kill()
    scheduler.release("flooder")
    gevent.sleep(0)
    assert order[-1] == "flooder-2" and scheduler.in_use == 2
    for greenlet in waiters:
        greenlet.kill()


def test_address_read_budget_holds_a_fast_address_back():
    from websocket_server.fair_scheduler import AddressReadBudget

    clock = ManualClock()
    budget = AddressReadBudget(rate=10, clock=clock)
    assert all(budget.wait("a") == 0.0 for _ in range(10))   # one second's burst
    assert budget.wait("b") == 0.0                             # another address has its own budget
    real = AddressReadBudget(rate=100, burst=1)
    assert real.wait("a") == 0.0
    assert 0.005 < real.wait("a") < 0.05      # the second message waits for its token (10 ms)
