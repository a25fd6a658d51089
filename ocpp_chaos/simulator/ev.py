"""The virtual EV plugged into a connector, and the EVSE's energy meter.

Sans-IO: the charger tells the car how many seconds passed and what power limit applies;
the car says how much energy it took. No clock, no global random (`VirtualEV.random`
takes a seeded `random.Random`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["EnergyMeter", "Sample", "VirtualEV", "sample"]

TAPER_SOC = 0.8
"""Above this state of charge the car's acceptance tapers (the constant-voltage phase)."""
TAPER_FLOOR = 0.1
"""Acceptance at 100 % SoC, as a fraction of the car's maximum power."""
SUBSTEP_S = 1.0
"""Integration step across the taper, in seconds."""

# On-board charger ratings (W) and the phases they use at 230 V: 16 A / 32 A, 1 or 3 phases.
_CHARGERS: tuple[tuple[float, int], ...] = (
    (3_700.0, 1),
    (7_400.0, 1),
    (11_000.0, 3),
    (22_000.0, 3),
)


@dataclass(slots=True)
class VirtualEV:
    """A car: a battery with a state of charge and an on-board charger with a power curve."""

    capacity_wh: float = 60_000.0
    soc: float = 0.3
    """State of charge, 0..1."""
    target_soc: float = 0.9
    """The car stops drawing power here (the charger then reports SuspendedEV)."""
    max_power_w: float = 11_000.0
    """What the car's on-board charger accepts."""
    voltage_v: float = 230.0
    """Phase-to-neutral voltage."""
    phases: int = 3

    def __post_init__(self) -> None:
        if not self.capacity_wh > 0 or not self.max_power_w > 0 or not self.voltage_v > 0:
            raise ValueError("capacity, power and voltage must be positive")
        if not (0.0 <= self.soc <= 1.0 and 0.0 <= self.target_soc <= 1.0):
            raise ValueError("soc and target_soc must be within 0..1")
        if self.phases not in (1, 2, 3):
            raise ValueError("phases must be 1, 2 or 3")

    @property
    def full(self) -> bool:
        """The car reached its target and takes no more energy."""
        return self.soc >= self.target_soc

    def acceptance_w(self) -> float:
        """The power the car accepts now, in W.

        Full power up to 80 % SoC, then a linear taper to 10 % of full power at 100 %
        (a constant-current / constant-voltage curve); 0 once the target is reached.
        """
        if self.full:
            return 0.0
        if self.soc <= TAPER_SOC:
            return self.max_power_w
        fraction = (self.soc - TAPER_SOC) / (1.0 - TAPER_SOC)
        return self.max_power_w * (1.0 - (1.0 - TAPER_FLOOR) * fraction)

    def charge(self, seconds: float, limit_w: float | None = None) -> float:
        """Take energy for `seconds` at min(acceptance, `limit_w`); the Wh taken (>= 0).

        Updates `soc`, stopping exactly at `target_soc` (so never beyond capacity). Where
        power is constant (below the taper) a step is taken whole; across the taper it is
        integrated in `SUBSTEP_S` steps, so one long step gives the same energy as many
        short ones.
        """
        if not seconds >= 0 or math.isinf(seconds):
            raise ValueError(f"seconds must be finite and >= 0, not {seconds}")
        cap_w = math.inf if limit_w is None else max(0.0, limit_w)
        total_wh = 0.0
        left = seconds
        while left > 0 and not self.full:
            power_w = min(self.acceptance_w(), cap_w)
            if power_w <= 0:
                break
            edge = min(TAPER_SOC, self.target_soc)
            if self.soc < edge:
                # Constant power up to the taper (or the target): one exact step.
                to_edge_s = (edge - self.soc) * self.capacity_wh * 3600.0 / power_w
                if left >= to_edge_s:
                    total_wh += (edge - self.soc) * self.capacity_wh
                    self.soc = edge  # exactly, so rounding cannot leave a sliver
                    left -= to_edge_s
                    continue
                dt = left
            else:
                dt = min(left, SUBSTEP_S)
            wh = power_w * dt / 3600.0
            room_wh = (self.target_soc - self.soc) * self.capacity_wh
            if wh >= room_wh:
                wh = room_wh
                self.soc = self.target_soc
            else:
                self.soc = min(self.soc + wh / self.capacity_wh, self.target_soc)
            total_wh += wh
            left -= dt
        return max(0.0, total_wh)

    def current_a(self, power_w: float) -> float:
        """Per-phase current in A for `power_w` at this car's voltage and phases."""
        return power_w / (self.voltage_v * self.phases)

    @classmethod
    def random(cls, rng: random.Random) -> VirtualEV:
        """A plausible car: 40-100 kWh, 10-60 % charged, target 80-100 %, 3.7-22 kW."""
        power_w, phases = rng.choice(_CHARGERS)
        return cls(
            capacity_wh=round(rng.uniform(40.0, 100.0), 1) * 1000.0,
            soc=round(rng.uniform(0.1, 0.6), 3),
            target_soc=round(rng.uniform(0.8, 1.0), 3),
            max_power_w=power_w,
            phases=phases,
        )


@dataclass(slots=True)
class EnergyMeter:
    """The EVSE's meter: Energy.Active.Import.Register, which only goes up."""

    register_wh: float = 0.0

    def add(self, wh: float) -> None:
        """Count `wh` delivered (>= 0, finite)."""
        if not wh >= 0 or math.isinf(wh):
            raise ValueError(f"energy must be finite and >= 0, not {wh}")
        self.register_wh += wh


@dataclass(frozen=True, slots=True)
class Sample:
    """One set of meter readings, as a MeterValues message reports them."""

    energy_wh: float
    """Energy.Active.Import.Register."""
    power_w: float
    """Power.Active.Import."""
    current_a: float
    """Current.Import, per phase."""
    voltage_v: float
    """Voltage."""
    soc_percent: float
    """SoC, 0..100."""


def sample(ev: VirtualEV, meter: EnergyMeter, power_w: float) -> Sample:
    """The readings for a car drawing `power_w` through a meter."""
    return Sample(
        energy_wh=meter.register_wh,
        power_w=power_w,
        current_a=ev.current_a(power_w),
        voltage_v=ev.voltage_v,
        soc_percent=ev.soc * 100.0,
    )
