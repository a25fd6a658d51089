"""A fleet of virtual chargers: started at a ramp, driven by EVs that come and go.

Each charger runs its own firmware (`VirtualCharger.run`); a driver per connector
plays the EVs: one arrives after a while, plugs in, starts a transaction, stays
for its dwell time (charging until the car reaches its target, then SuspendedEV),
stops and leaves. Drivers are timers on the event loop, with a task only while an
action runs. Templates (`template.py`) set the charger models, the EV mix and the
arrival and dwell processes. All random choices come from one seed, so the same
seed gives the same fleet.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog

from ocpp_chaos.aio import spawn, wind_down
from ocpp_chaos.simulator.charger import ChargerState, VirtualCharger
from ocpp_chaos.simulator.charger201 import VirtualCharger201
from ocpp_chaos.simulator.ev import VirtualEV
from ocpp_chaos.simulator.template import ChargerTemplate

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
    templates: list[ChargerTemplate] = field(default_factory=list)
    """Charger models: charger n is templates[(n - 1) % len]; they set the protocol, the
    connectors, the EV mix and the arrival and dwell times (`config` still applies)."""

    def config_16(self) -> dict[str, str]:
        return {k: v for k, v in self.config.items() if "." not in k}

    def config_201(self) -> dict[str, str]:
        return {k: v for k, v in self.config.items() if "." in k}

    def template_of(self, n: int) -> ChargerTemplate | None:
        """The template of charger n (1-based), if the fleet has templates."""
        return self.templates[(n - 1) % len(self.templates)] if self.templates else None

    def protocol_of(self, n: int) -> str:
        """The OCPP version of charger n (a mixed fleet alternates, starting with 1.6)."""
        template = self.template_of(n)
        if template is not None:
            return template.protocol
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
            f"{self.connect_failures} failed connects, "
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


class DefaultPlan:
    """EVs without a template: exponential gaps of `idle_mean` seconds, dwell uniform in
    `charge_seconds`, cars from `VirtualEV.random`."""

    def __init__(self, cfg: FleetConfig) -> None:
        self._idle_mean = max(cfg.idle_mean, 0.001)
        self._dwell = cfg.charge_seconds

    def next_arrival_s(self, rng: random.Random) -> float:
        return rng.expovariate(1.0 / self._idle_mean)

    def dwell_s(self, rng: random.Random) -> float:
        return rng.uniform(*self._dwell)

    def make_ev(self, rng: random.Random, dc: bool) -> VirtualEV:
        return VirtualEV.random(rng)


class Driver:
    """EVs coming and going at one connector, for as long as the fleet runs.

    A small state machine on loop timers: arrive (plug in) → present the tag a moment
    later → stay for the dwell time → stop the transaction → unplug a moment later →
    the next car's arrival. Only the actions (which send messages) run as tasks, as the
    charger's background work, so they end with the charger.
    """

    def __init__(
        self,
        charger: VirtualCharger,
        connector_id: int,
        plan: DefaultPlan | ChargerTemplate,
        rng: random.Random,
        *,
        dc: bool = False,
    ) -> None:
        self.charger = charger
        self.connector_id = connector_id
        self.plan = plan
        self.rng = rng
        self.dc = dc
        self.sessions = 0
        self._timer: asyncio.TimerHandle | None = None
        self._stopped = False

    def start(self) -> None:
        self._after(self.plan.next_arrival_s(self.rng), self._arrive)

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _after(self, delay: float, action: Callable[[], Coroutine[Any, Any, None]]) -> None:
        if self._stopped:
            return
        self._timer = asyncio.get_running_loop().call_later(max(0.0, delay), self._run, action)

    def _run(self, action: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._timer = None
        if not self._stopped:
            self.charger.background(action())

    async def _arrive(self) -> None:
        n = self.connector_id
        if self.charger.state != ChargerState.ACCEPTED or self.charger.evs.get(n) is not None:
            self._after(self.plan.next_arrival_s(self.rng), self._arrive)
            return
        await self.charger.plug_in(n, self.plan.make_ev(self.rng, self.dc))
        self._after(self.rng.uniform(0.5, 3.0), self._present_tag)

    async def _present_tag(self) -> None:
        tag = f"TAG-{self.rng.randrange(1000, 9999)}"
        if not await self.charger.start_transaction(self.connector_id, tag):
            await self.charger.unplug(self.connector_id)
            self._after(self.plan.next_arrival_s(self.rng), self._arrive)
            return
        self.sessions += 1
        self._after(self.plan.dwell_s(self.rng), self._leave)

    async def _leave(self) -> None:
        # Stopped by the driver at the end of the dwell; the car may have been full for a
        # while (SuspendedEV), or the CSMS may have stopped it already.
        await self.charger.stop_transaction(self.connector_id, "Local")
        self._after(self.rng.uniform(1.0, 5.0), self._unplug)

    async def _unplug(self) -> None:
        await self.charger.unplug(self.connector_id)
        self._after(self.plan.next_arrival_s(self.rng), self._arrive)


def build_charger(
    cfg: FleetConfig, n: int, charger_id: str, rng: random.Random
) -> tuple[VirtualCharger, DefaultPlan | ChargerTemplate]:
    """Charger n (1-based) of the fleet, and the plan its EVs follow."""
    template = cfg.template_of(n)
    protocol = cfg.protocol_of(n)
    config = cfg.config_201() if protocol == "2.0.1" else cfg.config_16()
    if template is not None:
        charger = template.build(
            charger_id, cfg.target, rng=rng, password=cfg.password, extra_config=config
        )
        return charger, template
    kind = VirtualCharger201 if protocol == "2.0.1" else VirtualCharger
    charger = kind(
        charger_id,
        cfg.target,
        connectors=cfg.connectors,
        rng=rng,
        password=cfg.password,
        config=config,
    )
    return charger, DefaultPlan(cfg)


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
    drivers: list[Driver] = []
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
            charger, plan = build_charger(cfg, i + 1, charger_id, charger_rng)
            chargers.append(charger)
            tasks.append(spawn(charger.run(stop_chargers), name=f"fleet-{charger_id}"))
            if cfg.sessions:
                driver_rng = random.Random(charger_rng.getrandbits(64))
                template = plan if isinstance(plan, ChargerTemplate) else None
                for n in charger.connectors:
                    driver = Driver(
                        charger,
                        n,
                        plan,
                        random.Random(driver_rng.getrandbits(64)),
                        dc=template is not None and template.is_dc(n),
                    )
                    drivers.append(driver)
                    driver.start()

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
        for driver in drivers:
            driver.stop()
        stop_chargers.set()
        await asyncio.gather(launcher, return_exceptions=True)
        await wind_down(tasks, 15)
        gc.set_threshold(*thresholds)
    return summarise(chargers, started), chargers
