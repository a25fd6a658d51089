"""The virtual EV plugged into a connector, and the EVSE's energy meter.

Sans-IO: the charger tells the car how many seconds passed and what power limit applies;
the car says how much energy it took. No clock, no global random (`VirtualEV.random`
takes a seeded `random.Random`).
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Curve", "EnergyMeter", "Sample", "VirtualEV", "check_curve", "curve_power", "sample"]

TAPER_SOC = 0.8
"""Above this state of charge the car's acceptance tapers (the constant-voltage phase)."""
TAPER_FLOOR = 0.1
"""Acceptance at 100 % SoC, as a fraction of the car's maximum power."""
SUBSTEP_S = 1.0
"""Kept for compatibility: `charge` integrates exactly and takes no sub-steps any more."""

# On-board charger ratings (W) and the phases they use at 230 V: 16 A / 32 A, 1 or 3 phases.
_CHARGERS: tuple[tuple[float, int], ...] = (
    (3_700.0, 1),
    (7_400.0, 1),
    (11_000.0, 3),
    (22_000.0, 3),
)

Curve = tuple[tuple[float, float], ...]
"""A power curve: (SoC 0..1, power W) points by increasing SoC; linear between points."""


def check_curve(points: Iterable[Sequence[float]]) -> Curve:
    """`points` as a `Curve`, or ValueError saying what is wrong with them.

    At least one point; each is (SoC, W) with SoC within 0..1 (strictly increasing
    from point to point) and a finite power >= 0.
    """
    curve: list[tuple[float, float]] = []
    for i, point in enumerate(points):
        if len(point) != 2:
            raise ValueError(f"point {i}: a point is [soc, power], not {list(point)!r}")
        soc, power = float(point[0]), float(point[1])
        if not 0.0 <= soc <= 1.0:
            raise ValueError(f"point {i}: SoC {soc} is not within 0..1")
        if not (power >= 0.0 and math.isfinite(power)):
            raise ValueError(f"point {i}: power {power} is not a finite number >= 0")
        if curve and soc <= curve[-1][0]:
            raise ValueError(
                f"point {i}: SoC {soc} does not follow {curve[-1][0]} (increasing SoC)"
            )
        curve.append((soc, power))
    if not curve:
        raise ValueError("a curve needs at least one point")
    return tuple(curve)


def curve_power(curve: Curve, soc: float) -> float:
    """The power of `curve` at `soc`: linear between points, flat before the first and after
    the last."""
    if soc <= curve[0][0]:
        return curve[0][1]
    if soc >= curve[-1][0]:
        return curve[-1][1]
    i = bisect.bisect_right([s for s, _ in curve], soc) - 1
    (s0, p0), (s1, p1) = curve[i], curve[i + 1]
    return p0 + (p1 - p0) * (soc - s0) / (s1 - s0)


@dataclass(slots=True)
class VirtualEV:
    """A car: a battery with a state of charge and an on-board charger with a power curve."""

    capacity_wh: float = 60_000.0
    soc: float = 0.3
    """State of charge, 0..1."""
    target_soc: float = 0.9
    """The car stops drawing power here (the charger then reports SuspendedEV)."""
    max_power_w: float = 11_000.0
    """What the car accepts at most: its on-board charger (AC) or its inlet (DC)."""
    voltage_v: float = 230.0
    """Phase-to-neutral voltage (AC), or the battery voltage (DC, with `phases` 1)."""
    phases: int = 3
    curve: Curve | None = None
    """The battery's acceptance in W by SoC (see `Curve`), capped at `max_power_w`. None:
    `max_power_w` up to 80 % SoC, then a linear taper to 10 % of it at 100 %."""

    def __post_init__(self) -> None:
        if not self.capacity_wh > 0 or not self.max_power_w > 0 or not self.voltage_v > 0:
            raise ValueError("capacity, power and voltage must be positive")
        if not (0.0 <= self.soc <= 1.0 and 0.0 <= self.target_soc <= 1.0):
            raise ValueError("soc and target_soc must be within 0..1")
        if self.phases not in (1, 2, 3):
            raise ValueError("phases must be 1, 2 or 3")
        if self.curve is not None:
            self.curve = check_curve(self.curve)

    @property
    def full(self) -> bool:
        """The car reached its target and takes no more energy."""
        return self.soc >= self.target_soc

    def power_curve(self) -> Curve:
        """The acceptance curve in effect: `curve`, or the default taper of `max_power_w`."""
        if self.curve is not None:
            return self.curve
        top = self.max_power_w
        return ((0.0, top), (TAPER_SOC, top), (1.0, top * TAPER_FLOOR))

    def acceptance_w(self) -> float:
        """The power the car accepts now, in W.

        The curve at the current SoC, capped at `max_power_w` (by default: full power up
        to 80 % SoC, then a linear taper to 10 % of full power at 100 %, a
        constant-current / constant-voltage curve); 0 once the target is reached.
        """
        if self.full:
            return 0.0
        return min(self.max_power_w, curve_power(self.power_curve(), self.soc))

    def charge(self, seconds: float, limit_w: float | None = None) -> float:
        """Take energy for `seconds` at min(acceptance, `limit_w`); the Wh taken (>= 0).

        Updates `soc`, stopping exactly at `target_soc` (so never beyond capacity). The
        charge is integrated exactly, piece by piece of the curve: where the power is
        constant (capped) the SoC grows linearly, where it is linear in SoC it grows
        exponentially. So one long step gives the same energy as many short ones, and the
        power never exceeds the curve, the car's maximum or the limit.
        """
        if not seconds >= 0 or math.isinf(seconds):
            raise ValueError(f"seconds must be finite and >= 0, not {seconds}")
        cap_w = self.max_power_w if limit_w is None else min(self.max_power_w, limit_w)
        if cap_w <= 0:
            return 0.0
        points = list(self.power_curve())
        if points[0][0] > 0.0:
            points.insert(0, (0.0, points[0][1]))
        if points[-1][0] < 1.0:
            points.append((1.0, points[-1][1]))
        socs = [s for s, _ in points]
        joules_per_soc = self.capacity_wh * 3600.0  # W s for the whole battery
        start = self.soc
        left = seconds
        while left > 0 and self.soc < self.target_soc:
            i = min(bisect.bisect_right(socs, self.soc) - 1, len(points) - 2)
            (s0, p0), (s1, p1) = points[i], points[i + 1]
            slope = (p1 - p0) / (s1 - s0)  # W per unit of SoC

            def power(soc: float, s0: float = s0, p0: float = p0, slope: float = slope) -> float:
                return p0 + slope * (soc - s0)

            end = min(s1, self.target_soc)
            if slope != 0.0:
                crossing = s0 + (cap_w - p0) / slope  # where the curve meets the cap
                if self.soc < crossing < end:
                    end = crossing
            if power((self.soc + end) / 2.0) >= cap_w:
                # Capped: constant power, SoC grows linearly.
                to_end_s = (end - self.soc) * joules_per_soc / cap_w
                if left >= to_end_s:
                    self.soc, left = end, left - to_end_s
                    continue
                self.soc = min(end, self.soc + cap_w * left / joules_per_soc)
                break
            now_w = power(self.soc)
            if now_w <= 0.0:
                break  # the car takes nothing here, and so never gets further
            # dP/dt = slope * P / J: P(t) = P0 exp(slope t / J).
            if slope == 0.0:
                to_end_s = (end - self.soc) * joules_per_soc / now_w
            else:
                end_w = power(end)
                ratio = end_w / now_w
                to_end_s = math.inf if ratio <= 0.0 else joules_per_soc / slope * math.log(ratio)
            if left >= to_end_s:
                self.soc, left = end, left - to_end_s
                continue
            if slope == 0.0:
                gained = now_w * left / joules_per_soc
            else:
                gained = now_w * math.expm1(slope * left / joules_per_soc) / slope
            self.soc = min(end, self.soc + max(0.0, gained))
            break
        return max(0.0, (self.soc - start) * self.capacity_wh)

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
