"""A fleet of virtual chargers: started at a ramp, driven by EVs that come and go.

Each charger runs its own firmware (`VirtualCharger.run`); a driver per charger
plays the EVs: one arrives after a while, plugs in, starts a transaction,
charges for some minutes (or until the car is full), stops and leaves. All
random choices come from one seed, so the same seed gives the same fleet.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from ocpp_chaos.aio import spawn
from ocpp_chaos.simulator.charger import ChargerState, VirtualCharger
from ocpp_chaos.simulator.charger201 import VirtualCharger201

__all__ = ["FleetConfig", "FleetSummary", "parse_ramp", "run_fleet"]

log = structlog.get_logger("ocpp_chaos.fleet")

FLEET_GC_THRESHOLD = 50_000
"""Allocations between young-generation collections while a fleet runs."""

_RAMP = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*s)?\s*$")


def parse_ramp(text: str) -> float:
    """`50/s` or `50` → 50.0 chargers per second (must be > 0)."""
    m = _RAMP.match(text)
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a ramp (chargers per second, e.g. '50/s')")
    return float(m.group(1))


@dataclass
class FleetConfig:
    """What `ocpp-chaos fleet` was asked for."""

    target: str
    count: int = 10
    protocol: str = "1.6"
    ramp: float = 50.0
    id_pattern: str = "SIM-{n:05}"
    duration: float | None = None
    seed: int = 1
    password: str | None = None
    connectors: int = 1
    sessions: bool = True
    """Drive EVs through charging sessions (False: chargers only boot and heartbeat)."""
    idle_mean: float = 30.0
    """Mean seconds between an EV leaving and the next one arriving."""
    charge_seconds: tuple[float, float] = (60.0, 300.0)
    """How long an EV stays plugged in (uniform range), unless it is full first."""
    config: dict[str, str] = field(default_factory=dict)
    """Settings for every charger: 1.6 configuration keys (`MeterValueSampleInterval`) go to
    1.6 chargers, 2.0.1 device-model variables (`SampledDataCtrlr.TxUpdatedInterval`, with a
    dot) to 2.0.1 chargers."""

    def config_16(self) -> dict[str, str]:
        return {k: v for k, v in self.config.items() if "." not in k}

    def config_201(self) -> dict[str, str]:
        return {k: v for k, v in self.config.items() if "." in k}

    def protocol_of(self, n: int) -> str:
        """The OCPP version of charger n (a mixed fleet alternates, starting with 1.6)."""
        if self.protocol == "mixed":
            return "1.6" if n % 2 else "2.0.1"
        return self.protocol

    def charger_ids(self) -> list[str]:
        ids = [self.id_pattern.format(n=n) for n in range(1, self.count + 1)]
        if len(set(ids)) != len(ids):
            raise ValueError(f"--id-pattern {self.id_pattern!r} gives the same id twice")
        return ids


@dataclass
class FleetSummary:
    """What the fleet did."""

    chargers: int = 0
    states: dict[str, int] = field(default_factory=dict)
    booted: int = 0
    transactions: int = 0
    calls: int = 0
    call_errors: int = 0
    connects: int = 0
    connect_failures: int = 0
    replayed: int = 0
    queued: int = 0
    duration: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "chargers": self.chargers,
            "states": self.states,
            "booted": self.booted,
            "transactions": self.transactions,
            "calls": self.calls,
            "call_errors": self.call_errors,
            "connects": self.connects,
            "connect_failures": self.connect_failures,
            "replayed": self.replayed,
            "queued": self.queued,
            "duration_s": round(self.duration, 2),
        }

    def line(self) -> str:
        s = self.states
        return (
            f"{self.chargers} chargers: {s.get('accepted', 0)} accepted, "
            f"{s.get('pending', 0)} pending, {s.get('rejected', 0)} rejected, "
            f"{s.get('offline', 0) + s.get('connecting', 0)} connecting/offline, "
            f"{self.transactions} transactions, {self.calls} calls, "
            f"{self.call_errors} errors, {self.queued} queued"
        )


def summarise(chargers: list[VirtualCharger], started: float) -> FleetSummary:
    out = FleetSummary(chargers=len(chargers), duration=time.monotonic() - started)
    out.states = dict(Counter(c.state for c in chargers))
    for c in chargers:
        out.booted += c.booted
        out.transactions += c.counters.transactions
        out.calls += c.counters.calls
        out.call_errors += c.counters.call_errors
        out.connects += c.counters.connects
        out.connect_failures += c.counters.connect_failures
        out.replayed += c.counters.replayed
        out.queued += len(c.queue)
    return out


async def drive(charger: VirtualCharger, cfg: FleetConfig, rng: random.Random) -> None:
    """EVs come and go at this charger, for ever (cancelled when the fleet stops)."""
    while True:
        await asyncio.sleep(rng.expovariate(1.0 / max(cfg.idle_mean, 0.001)))
        if charger.state != ChargerState.ACCEPTED:
            continue
        await charger.plug_in(1)
        await asyncio.sleep(rng.uniform(0.5, 3.0))
        if not await charger.start_transaction(1, f"TAG-{rng.randrange(1000, 9999)}"):
            await charger.unplug(1)
            continue
        low, high = cfg.charge_seconds
        deadline = time.monotonic() + rng.uniform(low, high)
        ev = charger.evs.get(1)
        while time.monotonic() < deadline and not (ev is not None and ev.full):  # noqa: ASYNC110
            await asyncio.sleep(1.0)  # the car's state changes by charging: poll each second
        await charger.stop_transaction(1, "Local")
        await asyncio.sleep(rng.uniform(1.0, 5.0))
        await charger.unplug(1)


async def run_fleet(
    cfg: FleetConfig,
    stop: asyncio.Event,
    *,
    progress: Callable[[FleetSummary], None] | None = None,
    progress_every: float = 1.0,
) -> tuple[FleetSummary, list[VirtualCharger]]:
    """Start the fleet at `cfg.ramp` chargers/s, run until `stop` or `cfg.duration`."""
    if cfg.protocol not in ("1.6", "2.0.1", "mixed"):
        raise ValueError(f"protocol {cfg.protocol!r}: choose 1.6, 2.0.1 or mixed")
    rng = random.Random(cfg.seed)
    ids = cfg.charger_ids()
    chargers: list[VirtualCharger] = []
    tasks: list[asyncio.Task[Any]] = []
    started = time.monotonic()
    deadline = None if cfg.duration is None else started + cfg.duration
    stop_chargers = asyncio.Event()

    async def launch() -> None:
        for i, charger_id in enumerate(ids):
            due = started + i / cfg.ramp
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if stop.is_set():
                return
            charger_rng = random.Random(rng.getrandbits(64))
            kind, config = (
                (VirtualCharger201, cfg.config_201())
                if cfg.protocol_of(i + 1) == "2.0.1"
                else (VirtualCharger, cfg.config_16())
            )
            charger = kind(
                charger_id,
                cfg.target,
                connectors=cfg.connectors,
                rng=charger_rng,
                password=cfg.password,
                config=config,
            )
            chargers.append(charger)
            tasks.append(spawn(charger.run(stop_chargers), name=f"fleet-{charger_id}"))
            if cfg.sessions:
                tasks.append(
                    spawn(
                        drive(charger, cfg, random.Random(charger_rng.getrandbits(64))),
                        name=f"driver-{charger_id}",
                    )
                )

    launcher = spawn(launch(), name="fleet-launcher")
    # Thousands of chargers are thousands of long-lived objects: with the default
    # thresholds the collector scans them every 700 allocations and halves the boot rate
    # (bench/fleet_scale.py). Young collections every 50,000 allocations instead.
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], FLEET_GC_THRESHOLD), *thresholds[1:])
    try:
        while not stop.is_set():
            timeout = progress_every
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout <= 0:
                    break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await stop.wait()
            if progress is not None:
                progress(summarise(chargers, started))
    finally:
        launcher.cancel()
        stop_chargers.set()
        drivers = [t for t in tasks if t.get_name().startswith("driver-")]
        for t in drivers:
            t.cancel()
        await asyncio.gather(launcher, *drivers, return_exceptions=True)
        try:
            async with asyncio.timeout(15):
                await asyncio.gather(*tasks, return_exceptions=True)
        except TimeoutError:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        gc.set_threshold(*thresholds)
    return summarise(chargers, started), chargers
