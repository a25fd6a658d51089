"""The OCPP 1.6 configuration key store of a virtual charger (sans-IO).

`KeyStore` answers GetConfiguration and ChangeConfiguration the way OCPP 1.6
§5.8/§5.3 and the key table of §9 describe, so a CSMS sees a charger whose
configuration behaves like a real one: unknown keys are reported, read-only
keys and bad values are rejected, and accepted values change what the charger
does (the simulator reads them back through the typed getters).

Values are kept as strings, as on the wire: integers in decimal, booleans as
"true"/"false" (accepted in any case, stored lower-case), comma separated lists
(CSL) without blanks around the commas. Key names are CiString50 in OCPP, so
lookups ignore case; answers always use the canonical spelling.
"""

from __future__ import annotations

import builtins
import functools
import re
from collections import ChainMap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CORE_KEYS",
    "FEATURE_PROFILES",
    "MEASURANDS",
    "PHASE_ROTATIONS",
    "KeySpec",
    "KeyStore",
]

Kind = Literal["int", "bool", "str", "csl"]
ChangeStatus = Literal["Accepted", "Rejected", "RebootRequired", "NotSupported"]

_KINDS = frozenset({"int", "bool", "str", "csl"})
_MAX_VALUE_LEN = 500  # KeyValue.value and ChangeConfiguration.value are CiString500Type.
_MAX_KEY_LEN = 50  # KeyValue.key is CiString50Type.
_INT = re.compile(r"-?[0-9]+")

MEASURANDS = frozenset(
    {
        "Current.Export",
        "Current.Import",
        "Current.Offered",
        "Energy.Active.Export.Register",
        "Energy.Active.Import.Register",
        "Energy.Reactive.Export.Register",
        "Energy.Reactive.Import.Register",
        "Energy.Active.Export.Interval",
        "Energy.Active.Import.Interval",
        "Energy.Reactive.Export.Interval",
        "Energy.Reactive.Import.Interval",
        "Frequency",
        "Power.Active.Export",
        "Power.Active.Import",
        "Power.Factor",
        "Power.Offered",
        "Power.Reactive.Export",
        "Power.Reactive.Import",
        "RPM",
        "SoC",
        "Temperature",
        "Voltage",
    }
)
"""The OCPP 1.6 Measurand enumeration (§7.31): the allowed items of the meter value CSL keys."""

FEATURE_PROFILES = frozenset(
    {
        "Core",
        "FirmwareManagement",
        "LocalAuthListManagement",
        "Reservation",
        "SmartCharging",
        "RemoteTrigger",
    }
)
"""The OCPP 1.6 feature profile names (§3.2), the items of SupportedFeatureProfiles."""

PHASE_ROTATIONS = frozenset({"NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR"})
"""Allowed rotations of a ConnectorPhaseRotation item, written `<connectorId>.<rotation>`."""

_PHASE_ITEM = re.compile(r"(?:([0-9]+)\.)?([A-Za-z]+)")


@dataclass(frozen=True)
class KeySpec:
    """One configuration key: its type, access, default and the limits of its values.

    `choices` restricts the items of a `csl` key (e.g. measurands) or the value of a
    `str` key. A `csl` key `X` is also limited to as many items as the integer key
    `XMaxLength` says, when the store has one. `reboot_required` makes
    ChangeConfiguration answer RebootRequired (no OCPP 1.6 standard key needs it;
    it exists for vendor keys).
    """

    name: str
    kind: Kind
    readonly: bool
    default: str
    reboot_required: bool = False
    minimum: int | None = None
    maximum: int | None = None
    choices: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > _MAX_KEY_LEN:
            raise ValueError(f"key name {self.name!r} must be 1..{_MAX_KEY_LEN} characters")
        if self.kind not in _KINDS:
            raise ValueError(f"{self.name}: unknown kind {self.kind!r}")


def _ro_int(name: str, default: str, minimum: int = 0) -> KeySpec:
    return KeySpec(name, "int", readonly=True, default=default, minimum=minimum)


def _rw_int(name: str, default: str, minimum: int = 0, maximum: int | None = None) -> KeySpec:
    return KeySpec(name, "int", readonly=False, default=default, minimum=minimum, maximum=maximum)


def _bool(name: str, default: bool, *, readonly: bool = False) -> KeySpec:
    return KeySpec(name, "bool", readonly=readonly, default="true" if default else "false")


def _measurands(name: str, default: str) -> KeySpec:
    return KeySpec(name, "csl", readonly=False, default=default, choices=MEASURANDS)


_SAMPLED = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC"
_ENERGY = "Energy.Active.Import.Register"

CORE_KEYS: tuple[KeySpec, ...] = (
    # Core Profile, OCPP 1.6 §9.1.
    _bool("AllowOfflineTxForUnknownId", False),
    _bool("AuthorizationCacheEnabled", False),
    _bool("AuthorizeRemoteTxRequests", False),
    _rw_int("BlinkRepeat", "0"),
    _rw_int("ClockAlignedDataInterval", "0", maximum=86_400),
    _rw_int("ConnectionTimeOut", "60"),
    # Default and max length depend on the number of connectors: set by KeyStore.
    KeySpec("ConnectorPhaseRotation", "csl", readonly=False, default="0.Unknown"),
    _ro_int("ConnectorPhaseRotationMaxLength", "2", minimum=1),
    _ro_int("GetConfigurationMaxKeys", "50", minimum=1),
    _rw_int("HeartbeatInterval", "300"),
    _rw_int("LightIntensity", "100", maximum=100),
    _bool("LocalAuthorizeOffline", True),
    _bool("LocalPreAuthorize", False),
    _rw_int("MaxEnergyOnInvalidId", "0"),
    _measurands("MeterValuesAlignedData", _ENERGY),
    _ro_int("MeterValuesAlignedDataMaxLength", "8"),
    _measurands("MeterValuesSampledData", _SAMPLED),
    _ro_int("MeterValuesSampledDataMaxLength", "8"),
    _rw_int("MeterValueSampleInterval", "60"),
    _rw_int("MinimumStatusDuration", "0"),
    _ro_int("NumberOfConnectors", "1", minimum=1),  # Set by KeyStore from `connectors`.
    _rw_int("ResetRetries", "3"),
    _bool("StopTransactionOnEVSideDisconnect", True),
    _bool("StopTransactionOnInvalidId", True),
    _measurands("StopTxnAlignedData", _ENERGY),
    _ro_int("StopTxnAlignedDataMaxLength", "8"),
    _measurands("StopTxnSampledData", _ENERGY),
    _ro_int("StopTxnSampledDataMaxLength", "8"),
    KeySpec(
        "SupportedFeatureProfiles",
        "csl",
        readonly=True,
        default="Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,"
        "RemoteTrigger",
        choices=FEATURE_PROFILES,
    ),
    _ro_int("SupportedFeatureProfilesMaxLength", "6"),
    _rw_int("TransactionMessageAttempts", "3"),
    _rw_int("TransactionMessageRetryInterval", "60"),
    _bool("UnlockConnectorOnEVSideDisconnect", True),
    _rw_int("WebSocketPingInterval", "60"),
    # Local Auth List Management Profile, §9.2.
    _bool("LocalAuthListEnabled", True),
    _ro_int("LocalAuthListMaxLength", "100"),
    _ro_int("SendLocalListMaxLength", "20"),
    # Reservation Profile, §9.3.
    _bool("ReserveConnectorZeroSupported", False, readonly=True),
    # Smart Charging Profile, §9.4.
    _ro_int("ChargeProfileMaxStackLevel", "8"),
    KeySpec(
        "ChargingScheduleAllowedChargingRateUnit",
        "csl",
        readonly=True,
        default="Current,Power",
        choices=frozenset({"Current", "Power"}),
    ),
    _ro_int("ChargingScheduleMaxPeriods", "24", minimum=1),
    _bool("ConnectorSwitch3to1PhaseSupported", False, readonly=True),
    _ro_int("MaxChargingProfilesInstalled", "10"),
)
"""The standard OCPP 1.6 keys of the profiles the virtual charger supports, in §9 order."""


class KeyStore:
    """The configuration of one virtual charger: GetConfiguration/ChangeConfiguration.

    `connectors` sets NumberOfConnectors (and the default ConnectorPhaseRotation,
    "<n>.Unknown" for each connector, with room for connector 0 in its MaxLength).
    `overrides` set initial values of any key, read-only ones included (they are the
    charger's own settings); a value that is not valid raises ValueError naming the key.
    `extra` adds vendor keys, or replaces the spec of a standard key (OCPP lets a
    charger choose between R and RW for e.g. AuthorizeRemoteTxRequests).
    """

    def __init__(
        self,
        *,
        connectors: builtins.int = 1,
        overrides: Mapping[str, str] | None = None,
        extra: Iterable[KeySpec] = (),
    ) -> None:
        if connectors < 1:
            raise ValueError(f"NumberOfConnectors: connectors must be >= 1, not {connectors}")
        layout = _key_layout(connectors, tuple(extra))
        self._specs = layout.specs
        self._names = layout.names
        # The defaults are shared by every store of the same layout (one copy for a whole
        # fleet); this store's own values sit in front of them.
        values: ChainMap[str, str] = ChainMap({}, layout.defaults)
        for key, value in (overrides or {}).items():
            name = self._names.get(key.lower())
            if name is None:
                raise ValueError(f"{key}: unknown configuration key (add it with extra=)")
            if name == "NumberOfConnectors" and value != str(connectors):
                raise ValueError("NumberOfConnectors: set it with connectors=, not overrides")
            try:
                values[name] = _normalise(self._specs[name], value)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        self._values = values
        if overrides:
            self._cross_check_all()

    def _cross_check_all(self) -> None:
        for name, value in self._values.items():
            try:
                self._cross_check(self._specs[name], value)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None

    def get(self, keys: Sequence[str] | None = None) -> tuple[list[dict[str, Any]], list[str]]:
        """GetConfiguration: (configurationKey, unknownKey) in OCPP 1.6 JSON field names.

        No keys (None or empty) means every key. Asking for more keys than
        GetConfigurationMaxKeys still answers every known one: the limit tells the
        CSMS how many to ask for, and a real charger answering fewer would only hide
        keys. Repeated keys are answered once; unknown keys keep the requested spelling.
        """
        if not keys:
            names = list(self._values)
            unknown: list[str] = []
        else:
            names, unknown = [], []
            for key in keys:
                name = self._names.get(key.lower())
                if name is None:
                    if key not in unknown:
                        unknown.append(key)
                elif name not in names:
                    names.append(name)
        found = [
            {"key": name, "readonly": self._specs[name].readonly, "value": self._values[name]}
            for name in names
        ]
        return found, unknown

    def change(self, key: str, value: str) -> ChangeStatus:
        """ChangeConfiguration: NotSupported, Rejected, RebootRequired or Accepted.

        Unknown key: NotSupported. Read-only key, or a value that is not valid (not
        an integer/boolean, out of range, a CSL item outside its choices, more CSL
        items than the key's MaxLength key, longer than 500 characters): Rejected and
        nothing changes. Otherwise the value is stored and the answer is
        RebootRequired when the key's spec says so, else Accepted.
        """
        name = self._names.get(key.lower())
        if name is None:
            return "NotSupported"
        spec = self._specs[name]
        if spec.readonly:
            return "Rejected"
        try:
            normalised = _normalise(spec, value)
            self._cross_check(spec, normalised)
        except ValueError:
            return "Rejected"
        self._values[name] = normalised
        return "RebootRequired" if spec.reboot_required else "Accepted"

    def value(self, key: str) -> str:
        """The value of a key as on the wire (KeyError if the key is unknown)."""
        return self._values[self._name(key)]

    def int(self, key: str) -> builtins.int:
        """The value of an `int` key."""
        return builtins.int(self._typed(key, "int"))

    def bool(self, key: str) -> builtins.bool:
        """The value of a `bool` key."""
        return self._typed(key, "bool") == "true"

    def csl(self, key: str) -> list[str]:
        """The items of a `csl` key (empty list for an empty value)."""
        return _split(self._typed(key, "csl"))

    def snapshot(self) -> dict[str, str]:
        """Every key and its value, in GetConfiguration order."""
        return dict(self._values)

    def _name(self, key: str) -> str:
        name = self._names.get(key.lower())
        if name is None:
            raise KeyError(key)
        return name

    def _typed(self, key: str, kind: Kind) -> str:
        name = self._name(key)
        spec = self._specs[name]
        if spec.kind != kind:
            raise TypeError(f"{name} is a {spec.kind} key, not {kind}")
        return self._values[name]

    def _cross_check(self, spec: KeySpec, value: str) -> None:
        """Checks that need other keys: CSL length limits, phase rotation connector ids."""
        if spec.kind != "csl":
            return
        items = _split(value)
        limit_spec = self._specs.get(spec.name + "MaxLength")
        if limit_spec is not None and limit_spec.kind == "int":
            limit = builtins.int(self._values[limit_spec.name])
            if len(items) > limit:
                raise ValueError(f"{len(items)} items, more than {limit_spec.name} ({limit})")
        if spec.name == "ConnectorPhaseRotation":
            connectors = builtins.int(self._values["NumberOfConnectors"])
            for item in items:
                match = _PHASE_ITEM.fullmatch(item)
                if (
                    match is not None
                    and match[1] is not None
                    and builtins.int(match[1]) > connectors
                ):
                    raise ValueError(f"{item!r}: no connector {match[1]}")


@dataclass(frozen=True)
class _KeyLayout:
    """What every store with the same connectors and extra keys shares."""

    specs: dict[str, KeySpec]
    names: dict[str, str]
    defaults: dict[str, str]


@functools.lru_cache(maxsize=64)
def _key_layout(connectors: builtins.int, extra: tuple[KeySpec, ...]) -> _KeyLayout:
    specs: dict[str, KeySpec] = {spec.name: spec for spec in CORE_KEYS}
    defaults: dict[str, str] = {spec.name: spec.default for spec in CORE_KEYS}
    defaults["NumberOfConnectors"] = str(connectors)
    defaults["ConnectorPhaseRotation"] = ",".join(f"{n}.Unknown" for n in range(1, connectors + 1))
    defaults["ConnectorPhaseRotationMaxLength"] = str(connectors + 1)
    seen: set[str] = set()
    for spec in extra:
        if spec.name.lower() in seen:
            raise ValueError(f"{spec.name}: given twice in extra")
        seen.add(spec.name.lower())
        canonical = next((n for n in specs if n.lower() == spec.name.lower()), None)
        if canonical is not None:
            del specs[canonical]
            del defaults[canonical]
        specs[spec.name] = spec
        defaults[spec.name] = spec.default
    values: dict[str, str] = {}
    for name, value in defaults.items():
        try:
            values[name] = _normalise(specs[name], value)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    layout = _KeyLayout(specs, {name.lower(): name for name in specs}, values)
    store = KeyStore.__new__(KeyStore)
    store._specs, store._names, store._values = layout.specs, layout.names, ChainMap(values)
    store._cross_check_all()
    return layout


def _split(value: str) -> list[str]:
    return value.split(",") if value else []


def _normalise(spec: KeySpec, value: str) -> str:
    """The stored form of a value for `spec`, or ValueError saying why it is not valid."""
    if not isinstance(value, str):
        raise ValueError(f"value must be a string, not {type(value).__name__}")
    if len(value) > _MAX_VALUE_LEN:
        raise ValueError(f"value longer than {_MAX_VALUE_LEN} characters")
    if spec.kind == "int":
        if not _INT.fullmatch(value):
            raise ValueError(f"{value!r} is not an integer")
        number = int(value)
        if spec.minimum is not None and number < spec.minimum:
            raise ValueError(f"{number} is below the minimum {spec.minimum}")
        if spec.maximum is not None and number > spec.maximum:
            raise ValueError(f"{number} is above the maximum {spec.maximum}")
        return str(number)
    if spec.kind == "bool":
        lowered = value.lower()
        if lowered not in ("true", "false"):
            raise ValueError(f"{value!r} is not true or false")
        return lowered
    if spec.kind == "csl":
        if not value.strip():
            return ""
        items = [item.strip() for item in value.split(",")]
        for item in items:
            if not item:
                raise ValueError(f"{value!r} has an empty item")
            if spec.choices is not None and item not in spec.choices:
                raise ValueError(f"{item!r} is not one of the allowed items")
            if spec.name == "ConnectorPhaseRotation":
                match = _PHASE_ITEM.fullmatch(item)
                if match is None or match[2] not in PHASE_ROTATIONS:
                    raise ValueError(f"{item!r} is not [<connector>.]<phase rotation>")
        return ",".join(items)
    if spec.choices is not None and value not in spec.choices:
        raise ValueError(f"{value!r} is not one of the allowed values")
    return value
