"""OCPP 1.6 charging profiles: validation, SetChargingProfile/ClearChargingProfile semantics,
stacking, the limit in force and the composite schedule."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocpp_chaos.simulator.profiles import ChargingProfile, ProfileError, ProfileStore

T0 = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
ISO_T0 = "2025-03-10T08:00:00Z"


def profile(
    profile_id: int = 1,
    *,
    purpose: str = "TxDefaultProfile",
    kind: str = "Absolute",
    stack_level: int = 0,
    unit: str = "W",
    periods: Sequence[tuple[float | Decimal, float | Decimal]] | None = None,
    start: str | None = ISO_T0,
    duration: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A snake_case cs_charging_profiles payload; `extra` adds top-level fields."""
    schedule: dict[str, Any] = {
        "charging_rate_unit": unit,
        "charging_schedule_period": [
            {"start_period": s, "limit": limit}
            for s, limit in ([(0, 11000.0)] if periods is None else periods)
        ],
    }
    if start is not None:
        schedule["start_schedule"] = start
    if duration is not None:
        schedule["duration"] = duration
    return {
        "charging_profile_id": profile_id,
        "stack_level": stack_level,
        "charging_profile_purpose": purpose,
        "charging_profile_kind": kind,
        "charging_schedule": schedule,
        **extra,
    }


def limit(store: ProfileStore, at: datetime, connector: int = 1, **kw: Any) -> float | None:
    return store.limit_w(
        connector, at, tx_started=kw.get("tx_started"), transaction_id=kw.get("transaction_id")
    )


# --- validation ---------------------------------------------------------------------------


def test_from_payload_parses_a_full_profile() -> None:
    payload = profile(
        7,
        purpose="TxProfile",
        kind="Recurring",
        stack_level=2,
        unit="A",
        periods=[(0, Decimal("16.0")), (3600, 10)],
        duration=7200,
        recurrency_kind="Daily",
        transaction_id=42,
        valid_from="2025-03-01T00:00:00Z",
        valid_to="2025-04-01T00:00:00+01:00",
    )
    payload["charging_schedule"]["charging_schedule_period"][1]["number_phases"] = 1
    payload["charging_schedule"]["min_charging_rate"] = 6.0
    parsed = ChargingProfile.from_payload(2, payload)
    assert parsed == ChargingProfile(
        connector_id=2,
        profile_id=7,
        stack_level=2,
        purpose="TxProfile",
        kind="Recurring",
        recurrency="Daily",
        valid_from=datetime(2025, 3, 1, tzinfo=UTC),
        valid_to=datetime(2025, 3, 31, 23, tzinfo=UTC),
        transaction_id=42,
        unit="A",
        duration=7200.0,
        start_schedule=T0,
        periods=[(0.0, 16.0, None), (3600.0, 10.0, 1)],
        min_charging_rate=6.0,
    )


@pytest.mark.parametrize(
    ("connector", "payload", "message"),
    [
        (0, profile(purpose="TxProfile"), "TxProfile"),
        (1, profile(purpose="ChargePointMaxProfile"), "connector 0"),
        (1, profile(purpose="Bogus"), "charging_profile_purpose"),
        (1, profile(kind="Sometimes"), "charging_profile_kind"),
        (1, profile(unit="kW"), "charging_rate_unit"),
        (1, profile(kind="Recurring"), "recurrency_kind"),
        (1, profile(kind="Recurring", recurrency_kind="Hourly"), "recurrency_kind"),
        (1, profile(periods=[(10, 1.0)]), "start at 0"),
        (1, profile(periods=[(0, 1.0), (60, 2.0), (60, 3.0)]), "increasing"),
        (1, profile(periods=[(0, 1.0), (60, 2.0), (30, 3.0)]), "increasing"),
        (1, profile(periods=[]), "non-empty"),
        (1, profile(periods=[(0, -1.0)]), "limit"),
        (1, profile(stack_level=-1), "stack_level"),
        (1, profile(duration=0), "duration"),
        (1, profile(start=None), "start_schedule"),
        (1, profile(start="yesterday"), "ISO 8601"),
        (1, profile(transaction_id=5), "transaction_id"),
        (1, profile(valid_from=ISO_T0, valid_to="2025-03-10T07:00:00Z"), "valid_to"),
        (1, profile(charging_profile_id=True), "charging_profile_id"),
        (-1, profile(), "connector_id"),
    ],
)
def test_invalid_profiles_raise_with_a_reason(
    connector: int, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProfileError, match=message):
        ChargingProfile.from_payload(connector, payload)


def test_missing_fields_and_bad_phases_raise() -> None:
    payload = profile()
    del payload["stack_level"]
    with pytest.raises(ProfileError, match="stack_level: required"):
        ChargingProfile.from_payload(1, payload)
    payload = profile()
    payload["charging_schedule"]["charging_schedule_period"][0]["number_phases"] = 4
    with pytest.raises(ProfileError, match="number_phases"):
        ChargingProfile.from_payload(1, payload)
    assert issubclass(ProfileError, ValueError)


def test_relative_profiles_ignore_start_schedule_and_need_none() -> None:
    parsed = ChargingProfile.from_payload(1, profile(kind="Relative"))
    assert parsed.start_schedule is None
    assert ChargingProfile.from_payload(1, profile(kind="Relative", start=None)).kind == "Relative"


def test_absolute_profile_may_start_at_valid_from() -> None:
    parsed = ChargingProfile.from_payload(1, profile(start=None, valid_from=ISO_T0))
    assert parsed.schedule_start(T0 + timedelta(days=9)) == T0


# --- SetChargingProfile -------------------------------------------------------------------


def test_set_replace_and_reject_table() -> None:
    store = ProfileStore(connectors=2, max_stack_level=3, max_profiles=3, max_periods=2)
    assert store.set(1, profile(1, stack_level=0), active_transaction=None) == "Accepted"
    # Same id replaces, wherever it was.
    assert store.set(2, profile(1, stack_level=1), active_transaction=None) == "Accepted"
    assert [(p.profile_id, p.connector_id, p.stack_level) for p in store.profiles] == [(1, 2, 1)]
    # Same purpose and stack level on the same connector replaces the other id.
    assert store.set(2, profile(2, stack_level=1), active_transaction=None) == "Accepted"
    assert [p.profile_id for p in store.profiles] == [2]
    # Same purpose and stack level on another connector is a separate profile.
    assert store.set(1, profile(3, stack_level=1), active_transaction=None) == "Accepted"
    assert sorted(p.profile_id for p in store.profiles) == [2, 3]

    rejected = [
        (1, profile(9, stack_level=4), None),  # above ChargeProfileMaxStackLevel
        (1, profile(9, periods=[(0, 1), (10, 2), (20, 3)]), None),  # too many periods
        (3, profile(9), None),  # no such connector
        (1, profile(9, purpose="TxProfile"), None),  # TxProfile without a transaction
        (1, profile(9, purpose="TxProfile", transaction_id=8), 7),  # for another transaction
        (0, profile(9, purpose="TxProfile"), 7),  # TxProfile on connector 0
        (1, profile(9, unit="kW"), None),  # invalid
    ]
    for connector, payload, tx in rejected:
        assert store.set(connector, payload, active_transaction=tx) == "Rejected", payload
    assert sorted(p.profile_id for p in store.profiles) == [2, 3]

    assert store.set(1, profile(4, stack_level=2), active_transaction=None) == "Accepted"
    # MaxChargingProfilesInstalled reached: a new one is rejected, a replacement is not.
    assert store.set(1, profile(5, stack_level=3), active_transaction=None) == "Rejected"
    assert store.set(1, profile(4, stack_level=3), active_transaction=None) == "Accepted"
    assert len(store.profiles) == 3


def test_txprofile_is_bound_to_the_active_transaction() -> None:
    store = ProfileStore(connectors=1)
    payload = profile(purpose="TxProfile")
    assert store.set(1, payload, active_transaction=7) == "Accepted"
    assert store.profiles[0].transaction_id == 7
    assert limit(store, T0, transaction_id=7) == 11000.0
    assert limit(store, T0, transaction_id=8) is None


def test_not_supported_without_smart_charging() -> None:
    store = ProfileStore(connectors=1, supported=False)
    assert store.set(1, profile(), active_transaction=None) == "NotSupported"


# --- limits -------------------------------------------------------------------------------


def test_no_profiles_no_limit() -> None:
    assert limit(ProfileStore(connectors=1), T0) is None


def test_higher_stack_level_wins_and_lower_resumes_when_it_ends() -> None:
    store = ProfileStore(connectors=1)
    store.set(1, profile(1, stack_level=0, periods=[(0, 11000)]), active_transaction=None)
    store.set(
        1, profile(2, stack_level=1, periods=[(0, 4000)], duration=3600), active_transaction=None
    )
    assert limit(store, T0 + timedelta(minutes=30)) == 4000.0
    assert limit(store, T0 + timedelta(hours=1)) == 11000.0
    assert limit(store, T0 - timedelta(seconds=1)) is None  # before either schedule starts


def test_txprofile_overrides_txdefault_even_when_higher() -> None:
    store = ProfileStore(connectors=1)
    store.set(1, profile(1, stack_level=5, periods=[(0, 3000)]), active_transaction=None)
    store.set(1, profile(2, purpose="TxProfile", periods=[(0, 9000)]), active_transaction=1)
    assert limit(store, T0, transaction_id=1) == 9000.0
    store.transaction_ended(1)
    assert limit(store, T0) == 3000.0


def test_connector_txdefault_beats_charge_point_wide_one_at_equal_level() -> None:
    store = ProfileStore(connectors=2)
    store.set(0, profile(1, periods=[(0, 5000)]), active_transaction=None)
    store.set(1, profile(2, periods=[(0, 7000)]), active_transaction=None)
    assert limit(store, T0, connector=1) == 7000.0
    assert limit(store, T0, connector=2) == 5000.0  # connector 0's default applies to all
    store.set(0, profile(3, stack_level=1, periods=[(0, 6000)]), active_transaction=None)
    assert limit(store, T0, connector=1) == 6000.0


def test_charge_point_max_caps_the_result() -> None:
    store = ProfileStore(connectors=2)
    store.set(
        0,
        profile(1, purpose="ChargePointMaxProfile", periods=[(0, 8000), (3600, 20000)]),
        active_transaction=None,
    )
    store.set(1, profile(2, purpose="TxProfile", periods=[(0, 11000)]), active_transaction=3)
    assert limit(store, T0, transaction_id=3) == 8000.0
    assert limit(store, T0 + timedelta(hours=2), transaction_id=3) == 11000.0
    assert limit(store, T0, connector=2) == 8000.0  # the cap alone
    assert limit(store, T0, connector=0) == 8000.0


def test_relative_schedule_starts_at_the_transaction() -> None:
    store = ProfileStore(connectors=1)
    store.set(
        1,
        profile(kind="Relative", start=None, periods=[(0, 2000), (600, 6000)], duration=1800),
        active_transaction=None,
    )
    started = T0 + timedelta(hours=3)
    assert limit(store, started + timedelta(seconds=599), tx_started=started) == 2000.0
    assert limit(store, started + timedelta(seconds=600), tx_started=started) == 6000.0
    assert limit(store, started + timedelta(seconds=1800), tx_started=started) is None
    # Without a transaction the schedule starts now: its first period applies.
    assert limit(store, T0 + timedelta(days=3)) == 2000.0


def test_absolute_schedule_with_start_and_duration() -> None:
    store = ProfileStore(connectors=1)
    store.set(1, profile(periods=[(0, 1000), (60, 3000)], duration=120), active_transaction=None)
    assert limit(store, T0 - timedelta(microseconds=1)) is None
    assert limit(store, T0) == 1000.0
    assert limit(store, T0 + timedelta(seconds=60)) == 3000.0
    assert limit(store, T0 + timedelta(seconds=119.9)) == 3000.0
    assert limit(store, T0 + timedelta(seconds=120)) is None


def test_daily_recurring_repeats_every_day() -> None:
    store = ProfileStore(connectors=1)
    store.set(
        1,
        profile(
            kind="Recurring",
            recurrency_kind="Daily",
            periods=[(0, 4000), (3 * 3600, 11000)],
            duration=6 * 3600,
        ),
        active_transaction=None,
    )
    for day in range(3):
        base = T0 + timedelta(days=day)
        assert limit(store, base + timedelta(hours=1)) == 4000.0
        assert limit(store, base + timedelta(hours=4)) == 11000.0
        assert limit(store, base + timedelta(hours=7)) is None  # outside the daily window
    assert limit(store, T0 - timedelta(hours=20)) is None  # not before its first start


def test_weekly_recurring_repeats_every_week() -> None:
    store = ProfileStore(connectors=1)
    store.set(
        1,
        profile(kind="Recurring", recurrency_kind="Weekly", periods=[(0, 5000)], duration=86400),
        active_transaction=None,
    )
    assert limit(store, T0 + timedelta(days=7, hours=2)) == 5000.0
    assert limit(store, T0 + timedelta(days=8, hours=2)) is None


def test_valid_from_and_valid_to_bound_a_profile() -> None:
    store = ProfileStore(connectors=1)
    store.set(1, profile(1, periods=[(0, 11000)]), active_transaction=None)
    store.set(
        1,
        profile(
            2,
            stack_level=1,
            periods=[(0, 3000)],
            valid_from="2025-03-10T09:00:00Z",
            valid_to="2025-03-10T10:00:00Z",
        ),
        active_transaction=None,
    )
    assert limit(store, T0 + timedelta(minutes=59)) == 11000.0
    assert limit(store, T0 + timedelta(hours=1)) == 3000.0
    assert limit(store, T0 + timedelta(hours=2)) == 11000.0  # valid_to is exclusive


def test_ampere_limits_convert_to_watts() -> None:
    store = ProfileStore(connectors=1, voltage_v=230.0, phases=3)
    payload = profile(unit="A", periods=[(0, 16), (60, 10)])
    payload["charging_schedule"]["charging_schedule_period"][1]["number_phases"] = 1
    store.set(1, payload, active_transaction=None)
    assert limit(store, T0) == pytest.approx(16 * 230 * 3)
    assert limit(store, T0 + timedelta(seconds=60)) == pytest.approx(10 * 230 * 1)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        limit(ProfileStore(connectors=1), datetime(2025, 1, 1))


# --- ClearChargingProfile and transaction end ---------------------------------------------


def loaded_store() -> ProfileStore:
    store = ProfileStore(connectors=2)
    store.set(0, profile(1, purpose="ChargePointMaxProfile"), active_transaction=None)
    store.set(1, profile(2, stack_level=0), active_transaction=None)
    store.set(1, profile(3, stack_level=1), active_transaction=None)
    store.set(2, profile(4, stack_level=1), active_transaction=None)
    store.set(2, profile(5, purpose="TxProfile", stack_level=1), active_transaction=9)
    return store


@pytest.mark.parametrize(
    ("criteria", "status", "left"),
    [
        ({}, "Accepted", []),
        ({"profile_id": 3}, "Accepted", [1, 2, 4, 5]),
        ({"profile_id": 99}, "Unknown", [1, 2, 3, 4, 5]),
        ({"connector_id": 2}, "Accepted", [1, 2, 3]),
        ({"purpose": "TxDefaultProfile"}, "Accepted", [1, 5]),
        ({"stack_level": 1}, "Accepted", [1, 2]),
        ({"connector_id": 2, "stack_level": 1, "purpose": "TxProfile"}, "Accepted", [1, 2, 3, 4]),
        ({"profile_id": 3, "connector_id": 2}, "Unknown", [1, 2, 3, 4, 5]),  # all must match
        ({"connector_id": 0, "purpose": "TxProfile"}, "Unknown", [1, 2, 3, 4, 5]),
    ],
)
def test_clear_criteria(criteria: dict[str, Any], status: str, left: list[int]) -> None:
    store = loaded_store()
    assert store.clear(**criteria) == status
    assert sorted(p.profile_id for p in store.profiles) == left


def test_clear_on_an_empty_store_is_unknown() -> None:
    assert ProfileStore(connectors=1).clear() == "Unknown"


def test_transaction_ended_removes_only_that_connectors_txprofiles() -> None:
    store = loaded_store()
    store.set(1, profile(6, purpose="TxProfile"), active_transaction=8)
    store.transaction_ended(2)
    assert sorted(p.profile_id for p in store.profiles) == [1, 2, 3, 4, 6]
    store.transaction_ended(1)
    assert sorted(p.profile_id for p in store.profiles) == [1, 2, 3, 4]


# --- GetCompositeSchedule -----------------------------------------------------------------


def test_composite_has_a_period_at_every_change() -> None:
    store = ProfileStore(connectors=1)
    store.set(
        0,
        profile(1, purpose="ChargePointMaxProfile", periods=[(0, 20000), (1800, 5000)]),
        active_transaction=None,
    )
    store.set(1, profile(2, periods=[(0, 11000)]), active_transaction=None)
    store.set(
        1,
        profile(3, stack_level=1, periods=[(0, 7000), (600, 9000)], duration=1200),
        active_transaction=None,
    )
    now = T0 + timedelta(seconds=300)
    result = store.composite(1, now, 3600, "W", tx_started=None, transaction_id=None)
    assert result == {
        "connector_id": 1,
        "schedule_start": "2025-03-10T08:05:00.000Z",
        "charging_schedule": {
            "duration": 3600,
            "start_schedule": "2025-03-10T08:05:00.000Z",
            "charging_rate_unit": "W",
            "charging_schedule_period": [
                {"start_period": 0, "limit": 7000.0},
                {"start_period": 300, "limit": 9000.0},
                {"start_period": 900, "limit": 11000.0},
                {"start_period": 1500, "limit": 5000.0},
            ],
        },
    }


def test_composite_converts_units() -> None:
    store = ProfileStore(connectors=1, voltage_v=230.0, phases=3)
    store.set(1, profile(1, unit="A", periods=[(0, 16), (60, 10)]), active_transaction=None)
    as_watts = store.composite(1, T0, 120, "W", tx_started=None, transaction_id=None)
    assert as_watts is not None
    assert as_watts["charging_schedule"]["charging_schedule_period"] == [
        {"start_period": 0, "limit": 11040.0},
        {"start_period": 60, "limit": 6900.0},
    ]
    native = store.composite(1, T0, 120, None, tx_started=None, transaction_id=None)
    assert native is not None
    assert native["charging_schedule"]["charging_rate_unit"] == "A"
    assert native["charging_schedule"]["charging_schedule_period"][0]["limit"] == 16.0

    store.clear()
    store.set(1, profile(2, unit="W", periods=[(0, 11000)]), active_transaction=None)
    as_amps = store.composite(1, T0, 60, "A", tx_started=None, transaction_id=None)
    assert as_amps is not None
    assert as_amps["charging_schedule"]["charging_schedule_period"] == [
        {"start_period": 0, "limit": 15.9}  # 11000 / 690, to the 0.1 the schema allows
    ]


def test_composite_follows_a_relative_txprofile_and_fills_gaps_with_the_maximum() -> None:
    store = ProfileStore(connectors=1, max_current_a=16.0)
    store.set(
        1,
        profile(
            purpose="TxProfile", kind="Relative", start=None, periods=[(0, 3000)], duration=600
        ),
        active_transaction=4,
    )
    started = T0 - timedelta(seconds=100)
    result = store.composite(1, T0, 1000, "W", tx_started=started, transaction_id=4)
    assert result is not None
    assert result["charging_schedule"]["charging_schedule_period"] == [
        {"start_period": 0, "limit": 3000.0},
        {"start_period": 500, "limit": 16 * 230 * 3.0},
    ]


def test_composite_none_when_no_profile_applies() -> None:
    store = ProfileStore(connectors=1)
    assert store.composite(1, T0, 60, None, tx_started=None, transaction_id=None) is None
    store.set(1, profile(start="2025-03-11T00:00:00Z"), active_transaction=None)
    assert store.composite(1, T0, 3600, None, tx_started=None, transaction_id=None) is None
    assert store.composite(1, T0, 0, None, tx_started=None, transaction_id=None) is None
    assert store.composite(1, T0, 60, "kW", tx_started=None, transaction_id=None) is None


def test_composite_covers_daily_recurrence_within_the_window() -> None:
    store = ProfileStore(connectors=1)
    store.set(
        1,
        profile(kind="Recurring", recurrency_kind="Daily", periods=[(0, 4000)], duration=3600),
        active_transaction=None,
    )
    result = store.composite(
        1, T0 + timedelta(hours=1), 2 * 86400, "W", tx_started=None, transaction_id=None
    )
    assert result is not None
    full = 32 * 230 * 3.0
    assert result["charging_schedule"]["charging_schedule_period"] == [
        {"start_period": 0, "limit": full},
        {"start_period": 23 * 3600, "limit": 4000.0},
        {"start_period": 24 * 3600, "limit": full},
        {"start_period": 47 * 3600, "limit": 4000.0},
    ]


# --- properties ---------------------------------------------------------------------------

_periods = st.lists(
    st.tuples(st.integers(1, 86400), st.floats(0, 1e6, allow_nan=False)), max_size=5
).map(lambda rest: [(0, 100.0), *sorted({s: v for s, v in rest}.items())])


@st.composite
def _payloads(draw: st.DrawFn) -> tuple[int, dict[str, Any], int | None]:
    purpose = draw(st.sampled_from(["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]))
    connector = (
        0
        if purpose == "ChargePointMaxProfile"
        else draw(st.integers(0 if purpose == "TxDefaultProfile" else 1, 2))
    )
    kind = draw(st.sampled_from(["Absolute", "Recurring", "Relative"]))
    extra: dict[str, Any] = {}
    if kind == "Recurring":
        extra["recurrency_kind"] = draw(st.sampled_from(["Daily", "Weekly"]))
    start = T0 + timedelta(seconds=draw(st.integers(-10 * 86400, 10 * 86400)))
    payload = profile(
        draw(st.integers(1, 5)),
        purpose=purpose,
        kind=kind,
        stack_level=draw(st.integers(0, 3)),
        unit=draw(st.sampled_from(["W", "A"])),
        periods=draw(_periods),
        start=start.isoformat(),
        duration=draw(st.none() | st.integers(1, 10 * 86400)),
        **extra,
    )
    return connector, payload, draw(st.none() | st.just(1))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(_payloads(), max_size=6),
    st.integers(-20 * 86400, 20 * 86400),
    st.integers(1, 2),
    st.none() | st.integers(-86400, 0),
)
def test_limit_is_none_or_non_negative(
    payloads: list[tuple[int, dict[str, Any], int | None]],
    offset: int,
    connector: int,
    tx_offset: int | None,
) -> None:
    store = ProfileStore(connectors=2)
    for connector_id, payload, tx in payloads:
        assert store.set(connector_id, payload, active_transaction=tx) in ("Accepted", "Rejected")
    now = T0 + timedelta(seconds=offset)
    tx_started = None if tx_offset is None else now + timedelta(seconds=tx_offset)
    value = store.limit_w(connector, now, tx_started=tx_started, transaction_id=1)
    assert value is None or value >= 0
    composite = store.composite(
        connector, now, 86400, None, tx_started=tx_started, transaction_id=1
    )
    if value is not None:
        assert composite is not None
    if composite is not None:
        periods = composite["charging_schedule"]["charging_schedule_period"]
        assert periods[0]["start_period"] == 0
        starts = [period["start_period"] for period in periods]
        assert starts == sorted(set(starts))
        assert all(period["limit"] >= 0 for period in periods)


def test_composite_of_an_unknown_connector_is_none() -> None:
    store = ProfileStore(connectors=1)
    store.set(0, profile(purpose="ChargePointMaxProfile"), active_transaction=None)
    assert store.composite(0, T0, 60, "W", tx_started=None, transaction_id=None) is not None
    assert store.composite(2, T0, 60, "W", tx_started=None, transaction_id=None) is None
