"""Reconnect back-off with jitter for a virtual charger (sans-IO).

OCPP 2.0.1 (B04/A-block reconnection, keys RetryBackOffWaitMinimum,
RetryBackOffRandomRange, RetryBackOffRepeatTimes): the first reconnection attempt
waits RetryBackOffWaitMinimum plus a random part up to RetryBackOffRandomRange;
after each failed attempt the wait doubles, at most RetryBackOffRepeatTimes
times, with a new random part each time. OCPP 1.6 leaves reconnection to the
charger; the same scheme with the same defaults keeps a fleet of chargers from
reconnecting in lockstep after a CSMS outage.
"""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """The waits before successive reconnection attempts.

    `next()` before attempt n (0-based, counting attempts since the last `reset()`)
    is `min(wait_minimum * 2**min(n, repeat_times), maximum)` plus
    `rng.uniform(0, random_range)`. The cap applies before the jitter, so a capped
    wait still varies between chargers. The randomness comes only from `rng`, so a
    seeded Random gives the same waits every run.
    """

    def __init__(
        self,
        rng: random.Random,
        *,
        wait_minimum: float = 3.0,
        random_range: float = 10.0,
        repeat_times: int = 5,
        maximum: float = 300.0,
    ) -> None:
        for name, value in (
            ("wait_minimum", wait_minimum),
            ("random_range", random_range),
            ("repeat_times", repeat_times),
            ("maximum", maximum),
        ):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, not {value}")
        self._rng = rng
        self.wait_minimum = float(wait_minimum)
        self.random_range = float(random_range)
        self.repeat_times = repeat_times
        self.maximum = float(maximum)
        self.attempts = 0
        """Reconnection attempts scheduled by `next()` since the last `reset()`."""

    def next(self) -> float:
        """The wait in seconds before the next reconnection attempt; counts that attempt."""
        wait = self.wait_minimum
        # Doubling step by step, stopping at the cap, cannot overflow for any repeat_times.
        for _ in range(min(self.attempts, self.repeat_times)):
            if wait >= self.maximum or wait == 0.0:
                break
            wait *= 2.0
        self.attempts += 1
        return min(wait, self.maximum) + self._rng.uniform(0.0, self.random_range)

    def reset(self) -> None:
        """A connection succeeded: the next loss starts again from `wait_minimum`."""
        self.attempts = 0
