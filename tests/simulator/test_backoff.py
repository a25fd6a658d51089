"""Reconnect back-off: exponential growth to a cap, bounded jitter, seeded reproducibility."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp_chaos.simulator.backoff import Backoff


def test_grows_exponentially_to_the_cap_without_jitter() -> None:
    backoff = Backoff(random.Random(1), wait_minimum=3.0, random_range=0.0, repeat_times=5)
    waits = [backoff.next() for _ in range(8)]
    assert waits == [3.0, 6.0, 12.0, 24.0, 48.0, 96.0, 96.0, 96.0]
    assert backoff.attempts == 8


def test_maximum_caps_the_wait() -> None:
    backoff = Backoff(
        random.Random(1), wait_minimum=10.0, random_range=0.0, repeat_times=10, maximum=50.0
    )
    assert [backoff.next() for _ in range(5)] == [10.0, 20.0, 40.0, 50.0, 50.0]


def test_huge_repeat_times_does_not_overflow() -> None:
    backoff = Backoff(random.Random(1), random_range=0.0, repeat_times=10**9, maximum=300.0)
    backoff.attempts = 10**6
    assert backoff.next() == 300.0


@given(st.integers(min_value=0), st.integers(min_value=0, max_value=40))
def test_jitter_stays_within_the_random_range(seed: int, failures: int) -> None:
    backoff = Backoff(random.Random(seed), wait_minimum=3.0, random_range=10.0, repeat_times=5)
    for n in range(failures + 1):
        base = min(3.0 * 2 ** min(n, 5), 300.0)
        wait = backoff.next()
        assert base <= wait <= base + 10.0


def test_seeded_reproducibility() -> None:
    first = Backoff(random.Random(42))
    second = Backoff(random.Random(42))
    assert [first.next() for _ in range(10)] == [second.next() for _ in range(10)]
    other = Backoff(random.Random(43))
    assert [other.next() for _ in range(10)] != [
        Backoff(random.Random(42)).next() for _ in range(10)
    ]


def test_reset_starts_again_from_the_minimum() -> None:
    backoff = Backoff(random.Random(7), wait_minimum=2.0, random_range=0.0)
    for _ in range(4):
        backoff.next()
    backoff.reset()
    assert backoff.attempts == 0
    assert backoff.next() == 2.0


def test_uses_only_the_given_rng() -> None:
    random.seed(0)
    a = Backoff(random.Random(5)).next()
    random.seed(1)
    b = Backoff(random.Random(5)).next()
    assert a == b


@pytest.mark.parametrize("field", ["wait_minimum", "random_range", "repeat_times", "maximum"])
def test_negative_settings_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Backoff(random.Random(0), **{field: -1})
