"""The virtual EV's power curve and integration, and the EVSE meter."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocpp_chaos.simulator.ev import (
    EnergyMeter,
    Sample,
    VirtualEV,
    check_curve,
    curve_power,
    sample,
)


@pytest.mark.parametrize("soc", [0.0, 0.3, 0.5, 0.79, 0.8])
def test_full_power_up_to_80_percent(soc: float) -> None:
    assert VirtualEV(soc=soc, target_soc=1.0).acceptance_w() == 11_000.0


def test_taper_is_linear_to_10_percent_at_full() -> None:
    ev = VirtualEV(max_power_w=10_000.0, target_soc=1.0)
    points = {}
    for soc in (0.85, 0.9, 0.95, 0.99):
        ev.soc = soc
        points[soc] = ev.acceptance_w()
    assert points[0.9] == pytest.approx(5_500.0)  # halfway: 100 % -> 10 %
    assert points[0.85] == pytest.approx(7_750.0)
    assert points[0.85] > points[0.9] > points[0.95] > points[0.99] > 1_000.0
    ev.soc = 0.999999
    assert ev.acceptance_w() == pytest.approx(1_000.0, rel=1e-3)


@pytest.mark.parametrize(("soc", "target"), [(0.9, 0.9), (0.95, 0.9), (0.5, 0.5), (1.0, 1.0)])
def test_zero_at_or_above_target(soc: float, target: float) -> None:
    ev = VirtualEV(soc=soc, target_soc=target)
    assert ev.full
    assert ev.acceptance_w() == 0.0
    assert ev.charge(3600.0) == 0.0
    assert ev.soc == soc


def test_constant_power_energy() -> None:
    ev = VirtualEV(capacity_wh=60_000.0, soc=0.3, max_power_w=11_000.0)
    assert ev.charge(1800.0) == pytest.approx(5_500.0)
    assert ev.soc == pytest.approx(0.3 + 5_500.0 / 60_000.0)


def test_charge_stops_at_target_and_never_exceeds_capacity() -> None:
    ev = VirtualEV(capacity_wh=40_000.0, soc=0.5, target_soc=0.9, max_power_w=22_000.0)
    wh = ev.charge(10 * 3600.0)
    assert ev.soc == 0.9 and ev.full
    assert wh == pytest.approx(0.4 * 40_000.0)
    assert ev.charge(3600.0) == 0.0
    ev = VirtualEV(capacity_wh=40_000.0, soc=0.95, target_soc=1.0)
    wh = ev.charge(48 * 3600.0)
    assert ev.soc == 1.0
    assert wh == pytest.approx(0.05 * 40_000.0)


def test_limit_caps_power() -> None:
    ev = VirtualEV(soc=0.3, max_power_w=11_000.0)
    assert ev.charge(3600.0, limit_w=3_680.0) == pytest.approx(3_680.0)
    assert ev.charge(3600.0, limit_w=0.0) == 0.0
    assert ev.charge(3600.0, limit_w=-5.0) == 0.0
    assert ev.charge(0.0) == 0.0
    # Above the car's acceptance a limit changes nothing.
    a, b = VirtualEV(soc=0.3), VirtualEV(soc=0.3)
    assert a.charge(600.0, limit_w=50_000.0) == b.charge(600.0)


def test_limit_in_the_taper() -> None:
    ev = VirtualEV(capacity_wh=60_000.0, soc=0.85, target_soc=1.0, max_power_w=11_000.0)
    # Acceptance at 85 % is 8.525 kW, above the limit until about 92 %.
    assert ev.charge(600.0, limit_w=4_000.0) == pytest.approx(4_000.0 / 6)


def test_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError):
        VirtualEV().charge(-1.0)


@pytest.mark.parametrize("limit", [None, 7_000.0])
def test_one_long_step_equals_many_short_ones(limit: float | None) -> None:
    # 60 kWh at 70 %, 11 kW: crosses into the taper after ~33 min and keeps tapering.
    big, small = VirtualEV(soc=0.7, target_soc=1.0), VirtualEV(soc=0.7, target_soc=1.0)
    wh_big = big.charge(3600.0, limit)
    wh_small = sum(small.charge(1.0, limit) for _ in range(3600))
    assert wh_big == pytest.approx(wh_small, rel=0.005)
    assert big.soc == pytest.approx(small.soc, rel=0.005)
    # And a few medium steps, and a finer integration, agree too.
    medium = VirtualEV(soc=0.7, target_soc=1.0)
    assert sum(medium.charge(600.0, limit) for _ in range(6)) == pytest.approx(wh_big, rel=0.005)
    fine = VirtualEV(soc=0.7, target_soc=1.0)
    assert sum(fine.charge(0.1, limit) for _ in range(36_000)) == pytest.approx(wh_big, rel=0.005)


def test_taper_slows_charging() -> None:
    low, high = VirtualEV(soc=0.2, target_soc=1.0), VirtualEV(soc=0.85, target_soc=1.0)
    assert high.charge(600.0) < low.charge(600.0)


def test_current() -> None:
    assert VirtualEV(phases=3).current_a(11_040.0) == pytest.approx(16.0)
    assert VirtualEV(phases=1).current_a(7_360.0) == pytest.approx(32.0)


def test_random_is_reproducible_and_plausible() -> None:
    first = [VirtualEV.random(random.Random(42)) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    rng = random.Random(7)
    cars = [VirtualEV.random(rng) for _ in range(500)]
    assert cars == [VirtualEV.random(r) for r in [random.Random(7)] for _ in range(500)]
    for ev in cars:
        assert 40_000.0 <= ev.capacity_wh <= 100_000.0
        assert 0.1 <= ev.soc <= 0.6
        assert 0.8 <= ev.target_soc <= 1.0
        assert (ev.max_power_w, ev.phases) in {
            (3_700.0, 1),
            (7_400.0, 1),
            (11_000.0, 3),
            (22_000.0, 3),
        }
        assert ev.voltage_v == 230.0
        assert not ev.full
    assert len({ev.max_power_w for ev in cars}) == 4


def test_random_does_not_touch_the_global_random() -> None:
    random.seed(1)
    expected = random.random()
    random.seed(1)
    VirtualEV.random(random.Random(3))
    assert random.random() == expected


@pytest.mark.parametrize(
    "kwargs",
    [{"soc": 1.5}, {"target_soc": -0.1}, {"capacity_wh": 0.0}, {"phases": 4}, {"voltage_v": 0.0}],
)
def test_invalid_cars_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        VirtualEV(**kwargs)  # type: ignore[arg-type]


def test_meter_is_monotone() -> None:
    meter = EnergyMeter(register_wh=1_000.0)
    ev = VirtualEV(soc=0.75, target_soc=0.95)
    readings = [meter.register_wh]
    for _ in range(120):
        meter.add(ev.charge(60.0))
        readings.append(meter.register_wh)
    assert readings == sorted(readings)
    assert meter.register_wh == pytest.approx(1_000.0 + 0.2 * 60_000.0)
    meter.add(0.0)
    with pytest.raises(ValueError):
        meter.add(-1.0)
    with pytest.raises(ValueError):
        meter.add(float("nan"))
    assert meter.register_wh == readings[-1]


def test_sample_is_consistent() -> None:
    ev = VirtualEV(soc=0.42, voltage_v=230.0, phases=3)
    meter = EnergyMeter(register_wh=12_345.0)
    power = ev.acceptance_w()
    s = sample(ev, meter, power)
    assert isinstance(s, Sample)
    assert s.energy_wh == 12_345.0
    assert s.power_w == power
    assert s.current_a == pytest.approx(power / (230.0 * 3))
    assert s.voltage_v == 230.0
    assert s.soc_percent == pytest.approx(42.0)
    idle = sample(ev, meter, 0.0)
    assert idle.current_a == 0.0 and idle.power_w == 0.0


# -- power curves: piecewise linear, integrated exactly -----------------------------------


def test_curve_power_is_linear_between_points_and_flat_beyond() -> None:
    curve = ((0.2, 100.0), (0.6, 50.0), (0.8, 10.0))
    assert curve_power(curve, 0.0) == 100.0
    assert curve_power(curve, 0.4) == pytest.approx(75.0)
    assert curve_power(curve, 0.7) == pytest.approx(30.0)
    assert curve_power(curve, 0.95) == 10.0
    assert curve_power(((0.5, 7.0),), 0.1) == 7.0


@pytest.mark.parametrize(
    "points",
    [[], [(0.5, 1.0), (0.5, 2.0)], [(0.6, 1.0), (0.5, 2.0)], [(1.5, 1.0)], [(0.5, -1.0)]],
)
def test_bad_curves_are_refused(points: list[tuple[float, float]]) -> None:
    with pytest.raises(ValueError):
        check_curve(points)
    with pytest.raises(ValueError):
        VirtualEV(curve=tuple(points))


def test_a_curve_replaces_the_default_taper() -> None:
    curve = ((0.0, 50_000.0), (0.5, 100_000.0), (1.0, 20_000.0))
    ev = VirtualEV(soc=0.25, target_soc=1.0, max_power_w=150_000.0, curve=curve)
    assert ev.acceptance_w() == pytest.approx(75_000.0)
    ev.soc = 0.9
    assert ev.acceptance_w() == pytest.approx(36_000.0)
    capped = VirtualEV(soc=0.5, target_soc=1.0, max_power_w=60_000.0, curve=curve)
    assert capped.acceptance_w() == 60_000.0  # max_power_w caps the curve
    assert VirtualEV(curve=[[0.0, 5.0], [1.0, 6.0]]).curve == ((0.0, 5.0), (1.0, 6.0))  # type: ignore[arg-type]


def test_constant_curve_charges_linearly() -> None:
    ev = VirtualEV(capacity_wh=50_000.0, soc=0.2, target_soc=1.0, max_power_w=1e6)
    ev.curve = ((0.0, 10_000.0),)
    assert ev.charge(1800.0) == pytest.approx(5_000.0)
    assert ev.soc == pytest.approx(0.3)


def test_linear_curve_matches_the_closed_form() -> None:
    # P(s) = 100 kW - 80 kW * s on 50 kWh: ds/dt = P/E, so P(t) = P0 exp(-80 kW t / E).
    capacity = 50_000.0
    ev = VirtualEV(
        capacity_wh=capacity,
        soc=0.0,
        target_soc=1.0,
        max_power_w=1e6,
        curve=((0.0, 100_000.0), (1.0, 20_000.0)),
    )
    joules = capacity * 3600.0
    t = 1200.0
    expected_soc = 100_000.0 * -math.expm1(-80_000.0 * t / joules) / 80_000.0
    wh = ev.charge(t)
    assert ev.soc == pytest.approx(expected_soc, rel=1e-12)
    assert wh == pytest.approx(expected_soc * capacity, rel=1e-12)


def test_a_curve_down_to_zero_stops_charging_without_looping() -> None:
    ev = VirtualEV(soc=0.5, target_soc=1.0, curve=((0.5, 10_000.0), (0.9, 0.0)))
    wh = ev.charge(3600.0)
    assert 0.5 < ev.soc < 0.9 and not ev.full
    assert wh == pytest.approx((ev.soc - 0.5) * ev.capacity_wh)
    ev.charge(1000 * 3600.0)  # approaches 90 % and never passes it
    assert ev.soc <= 0.9 and not ev.full
    ev.soc = 0.95
    assert ev.acceptance_w() == 0.0 and ev.charge(60.0) == 0.0


_CURVES = st.lists(
    st.tuples(
        st.floats(0.0, 1.0, allow_nan=False),
        st.floats(1_000.0, 350_000.0, allow_nan=False),
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda p: round(p[0], 4),
).map(lambda ps: tuple(sorted((round(s, 4), w) for s, w in ps)))


def _ev(
    curve: tuple[tuple[float, float], ...], soc: float, target: float, max_w: float
) -> VirtualEV:
    return VirtualEV(
        capacity_wh=60_000.0, soc=soc, target_soc=target, max_power_w=max_w, curve=curve
    )


@settings(max_examples=200, deadline=None)
@given(
    curve=_CURVES,
    soc=st.floats(0.0, 1.0),
    target=st.floats(0.0, 1.0),
    max_w=st.floats(1_000.0, 400_000.0),
    limit=st.none() | st.floats(0.0, 400_000.0),
    steps=st.lists(st.floats(0.0, 900.0), min_size=1, max_size=30),
)
def test_one_long_step_equals_many_short_ones_on_any_curve(
    curve: tuple[tuple[float, float], ...],
    soc: float,
    target: float,
    max_w: float,
    limit: float | None,
    steps: list[float],
) -> None:
    whole, pieces = _ev(curve, soc, target, max_w), _ev(curve, soc, target, max_w)
    wh_whole = whole.charge(sum(steps), limit)
    wh_pieces = sum(pieces.charge(dt, limit) for dt in steps)
    assert wh_whole == pytest.approx(wh_pieces, rel=1e-6, abs=1e-6)
    assert whole.soc == pytest.approx(pieces.soc, rel=1e-9, abs=1e-9)
    # Never beyond the target, and energy and SoC agree.
    for ev, wh in ((whole, wh_whole), (pieces, wh_pieces)):
        assert ev.soc <= max(target, soc)
        assert wh == pytest.approx((ev.soc - soc) * 60_000.0, abs=1e-6)
        assert wh >= 0.0


@settings(max_examples=200, deadline=None)
@given(
    curve=_CURVES,
    soc=st.floats(0.0, 0.99),
    max_w=st.floats(1_000.0, 400_000.0),
    limit=st.none() | st.floats(1.0, 400_000.0),
    dt=st.floats(0.5, 120.0),
)
def test_power_never_exceeds_the_curve_the_car_or_the_limit(
    curve: tuple[tuple[float, float], ...],
    soc: float,
    max_w: float,
    limit: float | None,
    dt: float,
) -> None:
    ev = _ev(curve, soc, 1.0, max_w)
    cap = max_w if limit is None else min(max_w, limit)
    for _ in range(20):
        before = ev.soc
        wh = ev.charge(dt, limit)
        average_w = wh * 3600.0 / dt
        # The highest power allowed anywhere on [before, after]: the curve is piecewise
        # linear, so its maximum is at an end or a point in between.
        at = [before, ev.soc] + [s for s, _ in curve if before <= s <= ev.soc]
        highest = max(min(curve_power(curve, s), cap) for s in at)
        assert average_w <= highest * (1 + 1e-9) + 1e-6
        assert average_w <= cap * (1 + 1e-9) + 1e-6
        if ev.full:
            break
