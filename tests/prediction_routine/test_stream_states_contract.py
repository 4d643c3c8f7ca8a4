"""The edges of the per-stream state table and the tracker slot limit (prediction_routine/
stream_states.py): capacity and time-to-live at their boundaries, defaults, and slots that are
never over-granted, also from many threads."""

from __future__ import annotations

import threading

import pytest

from prediction_routine.stream_states import SlotLimit, StreamStates


def test_defaults_and_the_smallest_table():
    states = StreamStates(dict)
    assert (states.capacity, states.ttl_s, len(states), states.created) == (256, 60.0, 0, 0)
    single = StreamStates(list, capacity=1)
    first = single.get("a")
    assert single.get("a") is first and len(single) == 1
    single.get("b")
    assert "a" not in single and "b" in single and single.created == 2
    for capacity in (0, -3):
        with pytest.raises(ValueError) as raised:
            StreamStates(dict, capacity=capacity)
        assert str(raised.value) == "stream state capacity must be at least 1"


def test_a_state_lives_exactly_its_time_to_live():
    now = [100.0]
    evicted = []
    states = StreamStates(list, capacity=4, ttl_s=5.0, clock=lambda: now[0], on_evict=evicted.append)
    kept = states.get("a")
    now[0] = 105.0                  # exactly ttl_s later: still the same stream state
    assert states.get("a") is kept and evicted == []
    now[0] = 110.0 + 1e-6           # just over ttl_s since the last frame: expired, closed, replaced
    assert states.get("a") is not kept and evicted == [kept]


def test_slots_are_granted_up_to_the_limit_and_given_back():
    slots = SlotLimit(2)
    assert (slots.limit, slots.in_use, slots.granted) == (2, 0, 0)
    assert slots.try_take() and slots.try_take()
    assert not slots.try_take()
    assert (slots.in_use, slots.granted) == (2, 2)
    slots.give_back()
    assert slots.in_use == 1 and slots.try_take() and slots.granted == 3
    for _ in range(5):
        slots.give_back()
    assert slots.in_use == 0            # never below zero
    assert not SlotLimit(0).try_take()
    with pytest.raises(ValueError) as raised:
        SlotLimit(-1)
    assert str(raised.value) == "a slot limit cannot be negative"


def test_slots_are_never_over_granted_from_many_threads():
    slots = SlotLimit(3)
    start = threading.Barrier(16)
    taken, over = [], []

    def take() -> None:
        start.wait()
        for _ in range(200):
            if slots.try_take():
                taken.append(1)
                if slots.in_use > 3:
                    over.append(slots.in_use)   # asserted below: an assert here would die with its thread
                slots.give_back()

    threads = [threading.Thread(target=take) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not over
    assert slots.in_use == 0 and slots.granted == len(taken) > 0
