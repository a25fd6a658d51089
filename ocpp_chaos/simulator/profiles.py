"""OCPP smart charging for a virtual charger (sans-IO): charging profiles and their limits.

OCPP 1.6 §3.13 (Smart Charging), §5.5 ClearChargingProfile, §5.7 GetCompositeSchedule and
§5.16 SetChargingProfile. The store keeps the installed profiles, answers the three CSMS
commands and tells the charger the power limit in force at a given time, so the meter of
the virtual EV can follow what the CSMS asked for.

Payloads are the `ocpp` library's snake_case dicts (numbers may be `decimal.Decimal`: the
library parses SetChargingProfile floats that way). Times are timezone-aware datetimes;
nothing here reads the clock.

How a limit is found (§3.13.2): per purpose, the profile with the highest stack level among
those valid at that instant (inside valid_from/valid_to and inside its schedule) wins, so a
lower stack level applies again once a higher one's schedule has ended. A TxProfile
overrides the TxDefaultProfile; the ChargePointMaxProfile (connector 0) caps the result.

OCPP 2.0.1 (K01 SetChargingProfile, K08 GetCompositeSchedule, K10 ClearChargingProfile)
uses the same model on EVSEs instead of connectors: `ChargingProfile.from_payload_201`
reads its `charging_profile` (a list of schedules, string transaction ids) and
`ProfileStore.set(..., version="2.0.1")` applies its rules. A 2.0.1
ChargingStationMaxProfile is stored under the 1.6 name ChargePointMaxProfile, so the
stacking is the same for both versions; `canonical_purpose` maps the names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

__all__ = [
    "KINDS",
    "PURPOSES",
    "PURPOSES_201",
    "UNITS",
    "ChargingProfile",
    "ProfileError",
    "ProfileStore",
    "canonical_purpose",
    "parse_datetime",
]

PURPOSES = ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile")
PURPOSES_201 = (
    "ChargingStationMaxProfile",
    "TxDefaultProfile",
    "TxProfile",
    "ChargingStationExternalConstraints",
)
_PURPOSE_ALIASES = {"ChargingStationMaxProfile": "ChargePointMaxProfile"}
KINDS = ("Absolute", "Recurring", "Relative")
UNITS = ("W", "A")
_RECURRENCY_SECONDS = {"Daily": 86_400.0, "Weekly": 7 * 86_400.0}


class ProfileError(ValueError):
    """A charging profile the charger must not install; the message says why."""


def canonical_purpose(purpose: str) -> str:
    """The purpose as the store keeps it: 2.0.1's ChargingStationMaxProfile is 1.6's
    ChargePointMaxProfile; every other name is the same in both versions."""
    return _PURPOSE_ALIASES.get(purpose, purpose)


def parse_datetime(value: Any, field: str = "time") -> datetime:
    """An OCPP date-time (ISO 8601 string or datetime) as an aware UTC datetime.

    A string without an offset is taken as UTC, which is what OCPP prescribes.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ProfileError(f"{field}: not an ISO 8601 date-time: {value!r}") from None
    else:
        raise ProfileError(f"{field}: expected a date-time string, got {value!r}")
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _aware(moment: datetime, field: str) -> datetime:
    """`moment` in UTC; a naive datetime is a programming error (times are passed in as UTC)."""
    if moment.tzinfo is None:
        raise ValueError(f"{field} must be timezone-aware")
    return moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    """`YYYY-MM-DDThh:mm:ss.mmmZ`: millisecond precision, as CSMSs expect."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _number(value: Any, field: str) -> float:
    """A finite JSON number (int, float or Decimal, not bool) as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ProfileError(f"{field}: expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ProfileError(f"{field}: not a finite number: {value!r}")
    return number


def _integer(value: Any, field: str) -> int:
    """A JSON integer (an integral float or Decimal is accepted, bool is not)."""
    number = _number(value, field)
    if not number.is_integer():
        raise ProfileError(f"{field}: expected an integer, got {value!r}")
    return int(number)


def _choice(value: Any, choices: tuple[str, ...], field: str) -> str:
    """`value` if it is one of `choices` (enums arrive as str or str subclasses)."""
    if not isinstance(value, str) or value not in choices:
        raise ProfileError(f"{field}: {value!r} is not one of {', '.join(choices)}")
    return choices[choices.index(value)]  # the plain str, also for str-based enum members


def _recurrency(kind: str, payload: Mapping[str, Any]) -> str | None:
    """recurrency_kind of a Recurring profile (ignored for the other kinds)."""
    if kind != "Recurring":
        return None
    if payload.get("recurrency_kind") is None:
        raise ProfileError("recurrency_kind: required for a Recurring profile")
    return _choice(payload["recurrency_kind"], tuple(_RECURRENCY_SECONDS), "recurrency_kind")


def _validity(payload: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """valid_from and valid_to, the second after the first."""
    valid_from = valid_to = None
    if payload.get("valid_from") is not None:
        valid_from = parse_datetime(payload["valid_from"], "valid_from")
    if payload.get("valid_to") is not None:
        valid_to = parse_datetime(payload["valid_to"], "valid_to")
    if valid_from is not None and valid_to is not None and valid_to <= valid_from:
        raise ProfileError("valid_to: must be after valid_from")
    return valid_from, valid_to


def _duration(schedule: Mapping[str, Any]) -> float | None:
    """A schedule's duration in seconds (> 0), or None."""
    if schedule.get("duration") is None:
        return None
    duration = _number(schedule["duration"], "duration")
    if duration <= 0:
        raise ProfileError(f"duration: must be > 0, got {schedule['duration']!r}")
    return duration


def _min_rate(schedule: Mapping[str, Any]) -> float | None:
    """A schedule's min_charging_rate (>= 0), or None."""
    if schedule.get("min_charging_rate") is None:
        return None
    min_rate = _number(schedule["min_charging_rate"], "min_charging_rate")
    if min_rate < 0:
        raise ProfileError("min_charging_rate: must be >= 0")
    return min_rate


def _periods(raw_periods: Any) -> list[tuple[float, float, int | None]]:
    """charging_schedule_period as (start_period, limit, number_phases), validated."""
    if not isinstance(raw_periods, list | tuple) or not raw_periods:
        raise ProfileError("charging_schedule_period: expected a non-empty list")
    periods: list[tuple[float, float, int | None]] = []
    for index, raw in enumerate(raw_periods):
        where = f"charging_schedule_period[{index}]"
        if not isinstance(raw, Mapping):
            raise ProfileError(f"{where}: expected an object")
        for key in ("start_period", "limit"):
            if raw.get(key) is None:
                raise ProfileError(f"{key}: required")
        start = _number(raw["start_period"], f"{where}.start_period")
        limit = _number(raw["limit"], f"{where}.limit")
        phases: int | None = None
        if raw.get("number_phases") is not None:
            phases = _integer(raw["number_phases"], f"{where}.number_phases")
            if not 1 <= phases <= 3:
                raise ProfileError(f"{where}.number_phases: must be 1, 2 or 3")
        if limit < 0:
            raise ProfileError(f"{where}.limit: must be >= 0, got {raw['limit']!r}")
        if index == 0 and start != 0:
            raise ProfileError("charging_schedule_period: the first must start at 0")
        if periods and start <= periods[-1][0]:
            raise ProfileError(f"{where}.start_period: periods must be increasing")
        periods.append((start, limit, phases))
    return periods


def _head(
    where: tuple[str, Any], body: tuple[str, Any], id_key: str, purposes: tuple[str, ...]
) -> tuple[Callable[..., Any], int, int, str, str]:
    """What both versions' profiles start with: the connector/EVSE id, the payload, and
    (required, profile id, stack level, purpose, kind)."""
    name, number = where
    if isinstance(number, bool) or not isinstance(number, int):
        raise ProfileError(f"{name}: expected an integer, got {number!r}")
    if number < 0:
        raise ProfileError(f"{name}: must be >= 0, got {number}")
    body_name, payload = body
    if not isinstance(payload, Mapping):
        raise ProfileError(f"{body_name}: expected an object")

    def required(key: str, where: Mapping[str, Any] = payload) -> Any:
        if where.get(key) is None:
            raise ProfileError(f"{key}: required")
        return where[key]

    profile_id = _integer(required(id_key), id_key)
    stack_level = _integer(required("stack_level"), "stack_level")
    if stack_level < 0:
        raise ProfileError(f"stack_level: must be >= 0, got {stack_level}")
    purpose = _choice(required("charging_profile_purpose"), purposes, "charging_profile_purpose")
    kind = _choice(required("charging_profile_kind"), KINDS, "charging_profile_kind")
    return required, profile_id, stack_level, purpose, kind


@dataclass
class ChargingProfile:
    """One validated charging profile, as installed on `connector_id` (0 = the charge point).

    `periods` are (start_period s, limit in `unit`, number_phases or None), starting at 0
    and strictly increasing.
    """

    connector_id: int
    profile_id: int
    stack_level: int
    purpose: str
    kind: str
    recurrency: str | None
    valid_from: datetime | None
    valid_to: datetime | None
    transaction_id: int | str | None
    """1.6: the CSMS's integer id; 2.0.1: the charger's string id."""
    unit: str
    duration: float | None
    start_schedule: datetime | None
    periods: list[tuple[float, float, int | None]]
    min_charging_rate: float | None = None

    @classmethod
    def from_payload(cls, connector_id: int, payload: Mapping[str, Any]) -> ChargingProfile:
        """Validate `cs_charging_profiles` of a SetChargingProfile for `connector_id`.

        Raises ProfileError naming the first rule broken. Decisions beyond the 1.6 text:
        recurrency_kind is ignored unless the kind is Recurring; start_schedule is ignored
        for Relative profiles (their start is the transaction's); an Absolute or Recurring
        profile needs start_schedule or valid_from to have a start at all.
        """
        required, profile_id, stack_level, purpose, kind = _head(
            ("connector_id", connector_id),
            ("cs_charging_profiles", payload),
            "charging_profile_id",
            PURPOSES,
        )

        # §3.13.1: ChargePointMaxProfile only on connector 0, TxProfile only on a connector.
        if purpose == "ChargePointMaxProfile" and connector_id != 0:
            raise ProfileError("ChargePointMaxProfile: only on connector 0")
        if purpose == "TxProfile" and connector_id == 0:
            raise ProfileError("TxProfile: not on connector 0 (it belongs to a transaction)")

        transaction_id: int | None = None
        if payload.get("transaction_id") is not None:
            if purpose != "TxProfile":
                raise ProfileError("transaction_id: only valid for a TxProfile")
            transaction_id = _integer(payload["transaction_id"], "transaction_id")

        recurrency = _recurrency(kind, payload)
        valid_from, valid_to = _validity(payload)

        schedule = required("charging_schedule")
        if not isinstance(schedule, Mapping):
            raise ProfileError("charging_schedule: expected an object")
        unit = _choice(required("charging_rate_unit", schedule), UNITS, "charging_rate_unit")

        duration = _duration(schedule)

        start_schedule: datetime | None = None
        if kind != "Relative" and schedule.get("start_schedule") is not None:
            start_schedule = parse_datetime(schedule["start_schedule"], "start_schedule")
        if kind != "Relative" and start_schedule is None and valid_from is None:
            raise ProfileError(f"start_schedule: required for an {kind} profile")

        min_rate = _min_rate(schedule)
        periods = _periods(required("charging_schedule_period", schedule))

        return cls(
            connector_id=connector_id,
            profile_id=profile_id,
            stack_level=stack_level,
            purpose=purpose,
            kind=kind,
            recurrency=recurrency,
            valid_from=valid_from,
            valid_to=valid_to,
            transaction_id=transaction_id,
            unit=unit,
            duration=duration,
            start_schedule=start_schedule,
            periods=periods,
            min_charging_rate=min_rate,
        )

    @classmethod
    def from_payload_201(cls, evse_id: int, payload: Mapping[str, Any]) -> ChargingProfile:
        """Validate `charging_profile` of a 2.0.1 SetChargingProfile for `evse_id`.

        Raises ProfileError naming the first rule broken. The 2.0.1 rules beyond 1.6's:
        ChargingStationExternalConstraints is set by an external system, never by the
        CSMS; a TxProfile needs its transaction_id; Absolute and
        Recurring schedules need start_schedule and a Relative one must not have it.
        Of up to three charging schedules (ISO 15118 alternatives) the
        first is the one in force. The purpose is stored as `canonical_purpose` names it.
        """
        required, profile_id, stack_level, purpose, kind = _head(
            ("evse_id", evse_id), ("charging_profile", payload), "id", PURPOSES_201
        )
        if purpose == "ChargingStationExternalConstraints":
            raise ProfileError(
                "ChargingStationExternalConstraints: set by an external system, not the CSMS"
            )
        if purpose == "ChargingStationMaxProfile" and evse_id != 0:
            raise ProfileError("ChargingStationMaxProfile: only on EVSE 0")
        if purpose == "TxProfile" and evse_id == 0:
            raise ProfileError("TxProfile: not on EVSE 0 (it belongs to a transaction)")

        transaction_id: str | None = None
        if payload.get("transaction_id") is not None:
            if purpose != "TxProfile":
                raise ProfileError("transaction_id: only valid for a TxProfile")
            transaction_id = payload["transaction_id"]
            if not isinstance(transaction_id, str) or not 1 <= len(transaction_id) <= 36:
                raise ProfileError("transaction_id: expected a string of 1 to 36 characters")
        elif purpose == "TxProfile":
            raise ProfileError("transaction_id: required for a TxProfile")

        recurrency = _recurrency(kind, payload)
        valid_from, valid_to = _validity(payload)

        schedules = required("charging_schedule")
        if not isinstance(schedules, list | tuple) or not 1 <= len(schedules) <= 3:
            raise ProfileError("charging_schedule: expected a list of 1 to 3 schedules")
        for index, item in enumerate(schedules):
            if not isinstance(item, Mapping):
                raise ProfileError(f"charging_schedule[{index}]: expected an object")
            _integer(required("id", item), f"charging_schedule[{index}].id")
        schedule = schedules[0]
        unit = _choice(required("charging_rate_unit", schedule), UNITS, "charging_rate_unit")
        duration = _duration(schedule)
        start_schedule: datetime | None = None
        if schedule.get("start_schedule") is not None:
            if kind == "Relative":
                raise ProfileError("start_schedule: not allowed in a Relative profile")
            start_schedule = parse_datetime(schedule["start_schedule"], "start_schedule")
        elif kind != "Relative":
            raise ProfileError(f"start_schedule: required for an {kind} profile")
        min_rate = _min_rate(schedule)
        periods = _periods(required("charging_schedule_period", schedule))

        return cls(
            connector_id=evse_id,
            profile_id=profile_id,
            stack_level=stack_level,
            purpose=canonical_purpose(purpose),
            kind=kind,
            recurrency=recurrency,
            valid_from=valid_from,
            valid_to=valid_to,
            transaction_id=transaction_id,
            unit=unit,
            duration=duration,
            start_schedule=start_schedule,
            periods=periods,
            min_charging_rate=min_rate,
        )

    def schedule_start(self, relative_start: datetime) -> datetime:
        """Where offset 0 of the schedule is: `relative_start` for a Relative profile."""
        if self.kind == "Relative":
            return relative_start
        start = self.start_schedule or self.valid_from
        assert start is not None  # from_payload guarantees one of them
        return start

    def period_at(
        self, at: datetime, relative_start: datetime
    ) -> tuple[float, float, int | None] | None:
        """The schedule period in force at `at`, or None when the profile does not apply.

        It does not apply outside [valid_from, valid_to), before its schedule starts or
        after `duration`; a Recurring schedule repeats every day or week from its start.
        """
        if self.valid_from is not None and at < self.valid_from:
            return None
        if self.valid_to is not None and at >= self.valid_to:
            return None
        offset = (at - self.schedule_start(relative_start)).total_seconds()
        if offset < 0:
            return None
        if self.recurrency is not None:
            offset %= _RECURRENCY_SECONDS[self.recurrency]
        if self.duration is not None and offset >= self.duration:
            return None
        current = self.periods[0]
        for period in self.periods:
            if period[0] > offset:
                break
            current = period
        return current

    def changes(
        self, begin: datetime, end: datetime, relative_start: datetime
    ) -> Iterator[datetime]:
        """Every instant in [begin, end) where this profile's limit may change."""
        start = self.schedule_start(relative_start)
        offsets = [period[0] for period in self.periods]
        if self.duration is not None:
            offsets.append(self.duration)
        cycle = _RECURRENCY_SECONDS.get(self.recurrency or "")
        if cycle is None:
            bases = [start]
        else:
            first = max(0, math.floor((begin - start).total_seconds() / cycle))
            last = math.floor((end - start).total_seconds() / cycle)
            bases = [start + timedelta(seconds=cycle * k) for k in range(first, last + 1)]
        points = [base + timedelta(seconds=offset) for base in bases for offset in offsets]
        points += [moment for moment in (self.valid_from, self.valid_to) if moment is not None]
        return (moment for moment in points if begin <= moment < end)


def _overlap(a: ChargingProfile, b: ChargingProfile) -> bool:
    """Whether the validity periods of two profiles overlap (no bound: open-ended)."""
    a_from, a_to = a.valid_from or datetime.min.replace(tzinfo=UTC), a.valid_to
    b_from, b_to = b.valid_from or datetime.min.replace(tzinfo=UTC), b.valid_to
    return (b_to is None or a_from < b_to) and (a_to is None or b_from < a_to)


@dataclass(frozen=True)
class _Limit:
    """A limit in force: in W, with the phases it assumes (to convert back to A)."""

    watts: float
    phases: int
    unit: str


class ProfileStore:
    """The charging profiles installed on a charger, with the limits they impose.

    The limits mirror the 1.6 configuration keys: `max_stack_level`
    (ChargeProfileMaxStackLevel), `max_profiles` (MaxChargingProfilesInstalled) and
    `max_periods` (ChargingScheduleMaxPeriods). `voltage_v` and `phases` convert
    ampere limits to watts; `max_current_a` is the hardware limit a composite schedule
    reports where no profile applies. `supported=False` is a charger without the Smart
    Charging feature profile: every SetChargingProfile is NotSupported.
    """

    def __init__(
        self,
        *,
        connectors: int,
        max_stack_level: int = 8,
        max_profiles: int = 16,
        max_periods: int = 24,
        voltage_v: float = 230.0,
        phases: int = 3,
        max_current_a: float = 32.0,
        supported: bool = True,
    ) -> None:
        if connectors < 1:
            raise ValueError("connectors must be >= 1")
        if voltage_v <= 0 or not 1 <= phases <= 3:
            raise ValueError("voltage_v must be > 0 and phases 1, 2 or 3")
        self.connectors = connectors
        self.max_stack_level = max_stack_level
        self.max_profiles = max_profiles
        self.max_periods = max_periods
        self.voltage_v = voltage_v
        self.phases = phases
        self.max_current_a = max_current_a
        self.supported = supported
        self._profiles: list[ChargingProfile] = []

    @property
    def profiles(self) -> list[ChargingProfile]:
        """The installed profiles (a copy), in installation order."""
        return list(self._profiles)

    def set(
        self,
        connector_id: int,
        payload: Mapping[str, Any],
        *,
        active_transaction: int | str | None,
        version: Literal["1.6", "2.0.1"] = "1.6",
    ) -> Literal["Accepted", "Rejected", "NotSupported"]:
        """SetChargingProfile (1.6 §5.16, 2.0.1 K01): install the profile or say why not.

        `active_transaction` is the id of the transaction on `connector_id` (None: none).
        A profile with the same id, or with the same purpose and stack level on the same
        connector, is replaced. Rejected: an invalid profile, an unknown connector, a stack
        level or period count above the limits, no room for another profile, a TxProfile
        without a transaction on the connector or for another transaction. A TxProfile is
        stored with the transaction it was accepted for, so transaction_ended drops it.

        `version="2.0.1"`: `connector_id` is the EVSE id and `payload` a 2.0.1
        charging_profile (`ChargingProfile.from_payload_201`); a TxProfile must name the
        running transaction, and a profile with another id but the same purpose and stack
        level on the same EVSE is Rejected while their validity periods overlap, not
        replaced. 2.0.1 has no NotSupported answer: the caller says Rejected.
        """
        if not self.supported:
            return "NotSupported"
        if isinstance(connector_id, bool) or not 0 <= connector_id <= self.connectors:
            return "Rejected"
        try:
            if version == "2.0.1":
                profile = ChargingProfile.from_payload_201(connector_id, payload)
            else:
                profile = ChargingProfile.from_payload(connector_id, payload)
        except ProfileError:
            return "Rejected"
        if profile.stack_level > self.max_stack_level or len(profile.periods) > self.max_periods:
            return "Rejected"
        if profile.purpose == "TxProfile":
            if active_transaction is None:
                return "Rejected"
            if profile.transaction_id not in (None, active_transaction):
                return "Rejected"
            profile = replace(profile, transaction_id=active_transaction)

        def same_slot(existing: ChargingProfile) -> bool:
            return (
                existing.connector_id == profile.connector_id
                and existing.purpose == profile.purpose
                and existing.stack_level == profile.stack_level
            )

        if version == "2.0.1" and any(
            existing.profile_id != profile.profile_id
            and same_slot(existing)
            and _overlap(existing, profile)
            for existing in self._profiles
        ):
            return "Rejected"
        kept = [
            existing
            for existing in self._profiles
            if existing.profile_id != profile.profile_id and not same_slot(existing)
        ]
        if len(kept) >= self.max_profiles:
            return "Rejected"
        self._profiles = [*kept, profile]
        return "Accepted"

    def clear(
        self,
        *,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
    ) -> Literal["Accepted", "Unknown"]:
        """ClearChargingProfile (§5.5): remove the profiles matching every criterion given.

        No criteria clears all. Unknown when nothing matched (nothing is removed then).
        `purpose` may be given by its 1.6 or its 2.0.1 name.
        """

        if purpose is not None:
            purpose = canonical_purpose(purpose)

        def matches(profile: ChargingProfile) -> bool:
            return (
                (profile_id is None or profile.profile_id == profile_id)
                and (connector_id is None or profile.connector_id == connector_id)
                and (purpose is None or profile.purpose == purpose)
                and (stack_level is None or profile.stack_level == stack_level)
            )

        kept = [profile for profile in self._profiles if not matches(profile)]
        if len(kept) == len(self._profiles):
            return "Unknown"
        self._profiles = kept
        return "Accepted"

    def transaction_ended(self, connector_id: int) -> None:
        """Drop the TxProfiles of `connector_id`: they end with their transaction (§3.13.1)."""
        self._profiles = [
            profile
            for profile in self._profiles
            if not (profile.purpose == "TxProfile" and profile.connector_id == connector_id)
        ]

    def limit_w(
        self,
        connector_id: int,
        now: datetime,
        *,
        tx_started: datetime | None,
        transaction_id: int | str | None,
    ) -> float | None:
        """The power limit in W on `connector_id` at `now`; None when no profile limits it.

        Relative schedules start at `tx_started` (at `now` without a transaction, so their
        first period applies). A TxProfile for another transaction than `transaction_id`
        is ignored. Connector 0 gives the ChargePointMaxProfile limit. The charge-point cap
        is applied to the connector alone; sharing it between connectors is the caller's.
        """
        now = _aware(now, "now")
        relative_start = now if tx_started is None else _aware(tx_started, "tx_started")
        limit = self._limit_at(connector_id, now, relative_start, transaction_id)
        return None if limit is None else limit.watts

    def composite(
        self,
        connector_id: int,
        now: datetime,
        duration: int,
        unit: str | None,
        *,
        tx_started: datetime | None,
        transaction_id: int | str | None,
        fallback: bool = False,
    ) -> dict[str, Any] | None:
        """GetCompositeSchedule (§5.7) for [now, now + duration), as a call_result payload.

        One period at every change of the limit (start_period in whole seconds, limits
        rounded to the 0.1 the schema allows). `unit` forces W or A; None picks A when every
        contributing profile is in A, else W. Where no profile applies inside the window the
        hardware maximum (`max_current_a`) is reported. None when no profile applies in the
        whole window, duration is not positive, the connector or the unit is unknown: answer
        Rejected then. `fallback=True` (2.0.1, where the schedule is what the EVSE can take
        whatever limits it) reports the hardware maximum over the whole window instead of
        None when no profile applies.
        """
        now = _aware(now, "now")
        if duration <= 0 or unit not in (None, *UNITS) or not 0 <= connector_id <= self.connectors:
            return None
        end = now + timedelta(seconds=duration)
        relative_start = now if tx_started is None else _aware(tx_started, "tx_started")
        offsets = {0}
        for profile in self._relevant(connector_id, transaction_id):
            for moment in profile.changes(now, end, relative_start):
                offsets.add(math.ceil((moment - now).total_seconds()))
        points: list[tuple[int, _Limit | None]] = [
            (
                offset,
                self._limit_at(
                    connector_id, now + timedelta(seconds=offset), relative_start, transaction_id
                ),
            )
            for offset in sorted(offsets)
            if offset < duration
        ]
        found = [limit for _, limit in points if limit is not None]
        if not found and not fallback:
            return None
        if unit is None:
            unit = "A" if all(limit.unit == "A" for limit in found) else "W"
        periods: list[dict[str, Any]] = []
        for offset, limit in points:
            if limit is None:
                value = self.max_current_a if unit == "A" else self._watts(self.max_current_a)
            elif unit == "A":
                value = limit.watts / (self.voltage_v * limit.phases)
            else:
                value = limit.watts
            value = round(value, 1)
            if value == int(value):
                # whole numbers go out as JSON integers: some CSMSs (the ocpp library's
                # decimal schema check among them) fail on 2000.0 where 2000 passes
                value = int(value)
            if not periods or periods[-1]["limit"] != value:
                periods.append({"start_period": offset, "limit": value})
        return {
            "connector_id": connector_id,
            "schedule_start": _iso(now),
            "charging_schedule": {
                "duration": duration,
                "start_schedule": _iso(now),
                "charging_rate_unit": unit,
                "charging_schedule_period": periods,
            },
        }

    def _watts(self, amperes: float, phases: int | None = None) -> float:
        """`amperes` per phase as W at the store's voltage."""
        return amperes * self.voltage_v * (phases or self.phases)

    def _relevant(
        self, connector_id: int, transaction_id: int | str | None
    ) -> list[ChargingProfile]:
        """The profiles that can affect `connector_id` (its own and connector 0's)."""
        return [
            profile
            for profile in self._profiles
            if profile.connector_id in (0, connector_id)
            and not (
                profile.purpose == "TxProfile"
                and None not in (profile.transaction_id, transaction_id)
                and profile.transaction_id != transaction_id
            )
        ]

    def _limit_at(
        self,
        connector_id: int,
        at: datetime,
        relative_start: datetime,
        transaction_id: int | str | None,
    ) -> _Limit | None:
        """The combined limit at `at`: Tx (or TxDefault), capped by ChargePointMax."""
        best: dict[str, tuple[tuple[int, int], _Limit]] = {}
        for profile in self._relevant(connector_id, transaction_id):
            if connector_id == 0 and profile.purpose != "ChargePointMaxProfile":
                continue
            period = profile.period_at(at, relative_start)
            if period is None:
                continue
            # Highest stack level wins; at equal levels a connector's own TxDefaultProfile
            # wins over the charge point's (connector 0) one.
            rank = (profile.stack_level, profile.connector_id)
            phases = period[2] or self.phases
            watts = period[1] if profile.unit == "W" else self._watts(period[1], phases)
            if profile.purpose not in best or rank > best[profile.purpose][0]:
                best[profile.purpose] = (rank, _Limit(watts, phases, profile.unit))
        chosen = best.get("TxProfile") or best.get("TxDefaultProfile")
        cap = best.get("ChargePointMaxProfile")
        limits = [entry[1] for entry in (chosen, cap) if entry is not None]
        return min(limits, key=lambda limit: limit.watts) if limits else None
