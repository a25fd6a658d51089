"""Reconnect back-off timed on a fake clock: the charger's waits between connection
attempts follow the back-off (minimum, doubling, cap, jitter), it does not retry early,
and a successful boot starts the next loss from the minimum again.

Real sockets: a reference CSMS behind the proxy, whose reject_connect rule refuses the
charger's connections (HTTP 503) until the test removes it. Only the waiting is fake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ocpp_chaos.csms import ReferenceCSMS
from ocpp_chaos.rules.model import Rule
from ocpp_chaos.simulator.backoff import Backoff
from ocpp_chaos.simulator.charger import ChargerState, VirtualCharger
from tests.simulator.test_charger import Running, until


class FakeClock:
    """Time that moves only when the charger sleeps. Each sleep notes how many connection
    attempts had failed by then, and may run a hook (the test's next step)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.failures_at_sleep: list[int] = []
        self.charger: VirtualCharger | None = None
        self.hook: Callable[[int], None] = lambda n: None

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert self.charger is not None
        self.sleeps.append(seconds)
        self.failures_at_sleep.append(self.charger.counters.connect_failures)
        self.hook(len(self.sleeps))
        self.now += seconds
        await asyncio.sleep(0)


REFUSE = {"name": "refuse", "match": {"charger": "BO-1"}, "fault": {"type": "reject_connect"}}


async def test_waits_double_with_jitter_up_to_the_cap_and_reset_after_a_boot(make_proxy) -> None:
    clock = FakeClock()
    async with ReferenceCSMS(port=0, heartbeat_interval=60) as csms:
        proxy = await make_proxy(csms.url)
        proxy.rules.add(Rule.model_validate(REFUSE))
        charger = VirtualCharger(
            "BO-1", proxy.url, call_timeout=5, clock=clock.time, sleep=clock.sleep
        )
        clock.charger = charger
        charger.backoff = Backoff(
            charger.rng, wait_minimum=3, random_range=10, repeat_times=4, maximum=40
        )

        def let_in_after_eight(n: int) -> None:
            if n == 8:
                proxy.rules.remove("refuse")

        clock.hook = let_in_after_eight
        async with Running(charger):
            await until(lambda: charger.state == ChargerState.ACCEPTED, timeout=20)
            assert charger.backoff.attempts == 0  # reset by the accepted connection
            refused = list(clock.sleeps)
            failures = list(clock.failures_at_sleep)
            proxy.rules.fire({"type": "disconnect", "abrupt": True}, "BO-1")
            await until(lambda: len(clock.sleeps) > len(refused), timeout=10)
            first_after_loss = clock.sleeps[len(refused)]

    assert len(refused) == 8
    # exactly one refused attempt per wait: the charger never tried again before its wait
    # was over (time moves only in the waits)
    assert failures == list(range(1, 9))
    # wait n is min(3 * 2**min(n, 4), 40) plus 0..10 s of jitter
    for n, wait in enumerate(refused):
        base = min(3.0 * 2 ** min(n, 4), 40.0)
        assert base <= wait <= base + 10.0, (n, wait)
    assert refused[-1] >= 40.0  # capped, still jittered
    jitter = [w - min(3.0 * 2 ** min(n, 4), 40.0) for n, w in enumerate(refused)]
    assert len({round(j, 6) for j in jitter}) > 1
    # after a good connection the back-off starts again from the minimum
    assert 3.0 <= first_after_loss <= 13.0
    assert csms.received_actions("BO-1").count("BootNotification") == 1


async def test_the_same_seed_gives_the_same_waits() -> None:
    import random

    def waits(seed: int) -> list[float]:
        backoff = Backoff(random.Random(seed))
        return [backoff.next() for _ in range(8)]

    assert waits(5) == waits(5) and waits(5) != waits(6)
