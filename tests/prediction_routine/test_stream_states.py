"""The bounded, expiring table of per-stream states."""

from __future__ import annotations

import pytest

from prediction_routine.stream_states import StreamStates


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_same_stream_gets_the_same_state_and_new_streams_new_ones():
    states = StreamStates(object, capacity=4, ttl_s=10)
    first = states.get("a")
    assert states.get("a") is first
    assert states.get("b") is not first
    assert states.created == 2


def test_least_recently_used_goes_first_and_is_closed():
    evicted = []
    states = StreamStates(list, capacity=2, ttl_s=100, on_evict=evicted.append)
    a, b = states.get("a"), states.get("b")
    states.get("a")            # a is now the most recent
    states.get("c")            # b goes
    assert "b" not in states and "a" in states and "c" in states and len(states) == 2
    assert evicted == [b] and evicted[0] is b and a is states.get("a")


def test_states_expire_after_the_time_to_live():
    clock = Clock()
    evicted = []
    states = StreamStates(dict, capacity=8, ttl_s=5, clock=clock, on_evict=evicted.append)
    old = states.get("a")
    states.get("b")
    clock.now = 4.0
    states.get("b")            # b refreshed, a not
    clock.now = 6.0
    assert states.get("a") is not old   # expired: a new state starts
    assert "b" in states
    assert evicted == [old]


def test_capacity_must_be_positive():
    with pytest.raises(ValueError):
        StreamStates(dict, capacity=0)
