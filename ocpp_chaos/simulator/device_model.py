"""The OCPP 2.0.1 device model of a virtual charger (sans-IO).

`DeviceModel` holds the components and variables a charging station reports
(OCPP 2.0.1 Part 2, Appendices: standardized components and variables) and
answers GetVariables (B06), SetVariables (B05) and GetBaseReport (B07) the way a
real charger does: unknown components and variables are reported as such,
read-only variables cannot be set, write-only ones cannot be read, and a value
is only stored when it is valid for its data type, limits and values list.

Payloads use the `ocpp` library's snake_case field names. Values are strings, as
on the wire: booleans "true"/"false" (accepted in any case, stored lower-case),
integers in decimal (stored without leading zeros or "+"), lists comma separated
(blanks around items are dropped). Only the Actual attribute is modelled: other
attribute types answer NotSupportedAttributeType. Names and instances of
components and variables are CiString50 in OCPP, so lookups ignore case;
answers echo the request as sent. No variable supports monitoring.
"""

from __future__ import annotations

import builtins
import functools
import re
from collections import ChainMap, OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

__all__ = [
    "DATA_TYPES",
    "MEASURANDS",
    "DeviceModel",
    "Mutability",
    "ReportBase",
    "VariableSpec",
    "standard_specs",
]

Mutability = Literal["ReadOnly", "WriteOnly", "ReadWrite"]
ReportBase = Literal["ConfigurationInventory", "FullInventory", "SummaryInventory"]

DATA_TYPES = frozenset(
    {
        "string",
        "decimal",
        "integer",
        "dateTime",
        "boolean",
        "OptionList",
        "SequenceList",
        "MemberList",
    }
)
"""DataEnumType: the data types a variable can have."""

_LISTS = frozenset({"OptionList", "SequenceList", "MemberList"})
_MUTABILITIES = frozenset({"ReadOnly", "WriteOnly", "ReadWrite"})
_MAX_VALUE_LEN = 1000  # SetVariableData.attributeValue is string(1000).
_INT = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_OVERRIDE = re.compile(
    r"(?P<component>[^.\[\]@]+)(?:\[(?P<ci>[^\]]+)\])?"
    r"(?:@(?P<evse>[0-9]+)(?:/(?P<connector>[0-9]+))?)?"
    r"\.(?P<variable>[^.\[\]]+)(?:\[(?P<vi>[^\]]+)\])?"
)
_WHERE = frozenset({"component_instance", "variable_instance", "evse", "connector"})

MEASURANDS = (
    "Current.Export,Current.Import,Current.Offered,Energy.Active.Export.Register,"
    "Energy.Active.Import.Register,Energy.Reactive.Export.Register,"
    "Energy.Reactive.Import.Register,Energy.Active.Export.Interval,"
    "Energy.Active.Import.Interval,Energy.Active.Net,Energy.Reactive.Export.Interval,"
    "Energy.Reactive.Import.Interval,Energy.Reactive.Net,Energy.Apparent.Net,"
    "Energy.Apparent.Import,Energy.Apparent.Export,Frequency,Power.Active.Export,"
    "Power.Active.Import,Power.Factor,Power.Offered,Power.Reactive.Export,"
    "Power.Reactive.Import,SoC,Voltage"
)
"""MeasurandEnumType of OCPP 2.0.1, as a valuesList for the measurand MemberLists."""


@dataclass(frozen=True)
class VariableSpec:
    """One variable of one component: where it is, its type, mutability and default.

    `min_limit`/`max_limit` bound the value of integer and decimal variables and
    the length of string and list variables (VariableCharacteristics.maxLimit is
    the maximum string length for those types). `values_list` is the comma
    separated set of allowed items of an OptionList, SequenceList or MemberList.
    `reboot_required` makes SetVariables answer RebootRequired (the value is
    stored). `persistent`/`constant` are reported in VariableAttribute.
    """

    component: str
    variable: str
    data_type: str
    mutability: Mutability
    default: str
    evse: int | None = None
    connector: int | None = None
    component_instance: str | None = None
    variable_instance: str | None = None
    unit: str | None = None
    min_limit: float | None = None
    max_limit: float | None = None
    values_list: str | None = None
    reboot_required: bool = False
    persistent: bool = False
    constant: bool = False

    def __post_init__(self) -> None:
        if self.data_type not in DATA_TYPES:
            raise ValueError(f"{self.key}: unknown data type {self.data_type!r}")
        if self.mutability not in _MUTABILITIES:
            raise ValueError(f"{self.key}: unknown mutability {self.mutability!r}")
        if self.connector is not None and self.evse is None:
            raise ValueError(f"{self.key}: a connector needs an evse")
        if (self.data_type in _LISTS) != (self.values_list is not None):
            raise ValueError(f"{self.key}: values_list is for (only) list data types")
        try:
            _normalise(self, self.default)
        except ValueError as exc:
            raise ValueError(f"{self.key}: default: {exc}") from None

    @property
    def key(self) -> str:
        """`Component[instance]@evse/connector.Variable[instance]`, as overrides name it."""
        text = self.component
        if self.component_instance is not None:
            text += f"[{self.component_instance}]"
        if self.evse is not None:
            text += f"@{self.evse}"
            if self.connector is not None:
                text += f"/{self.connector}"
        text += f".{self.variable}"
        if self.variable_instance is not None:
            text += f"[{self.variable_instance}]"
        return text


# --- the standard components -----------------------------------------------------------


def _spec(
    component: str,
    variable: str,
    data_type: str,
    mutability: Mutability,
    default: str,
    **extra: Any,
) -> VariableSpec:
    if mutability != "ReadOnly":
        extra.setdefault("persistent", True)
    return VariableSpec(component, variable, data_type, mutability, default, **extra)


def _rw_int(component: str, variable: str, default: int, **extra: Any) -> VariableSpec:
    extra.setdefault("min_limit", 0)
    return _spec(component, variable, "integer", "ReadWrite", str(default), **extra)


def _ro_int(component: str, variable: str, default: int, **extra: Any) -> VariableSpec:
    extra.setdefault("constant", True)
    return _spec(component, variable, "integer", "ReadOnly", str(default), **extra)


def _bool(
    component: str, variable: str, default: bool, mutability: Mutability = "ReadWrite", **extra: Any
) -> VariableSpec:
    value = "true" if default else "false"
    return _spec(component, variable, "boolean", mutability, value, **extra)


def _measurands(component: str, variable: str, default: str) -> VariableSpec:
    return _spec(component, variable, "MemberList", "ReadWrite", default, values_list=MEASURANDS)


_AVAILABILITY_STATES = "Available,Occupied,Reserved,Unavailable,Faulted"
_TX_POINTS = "ParkingBayOccupancy,EVConnected,Authorized,DataSigned,PowerPathClosed,EnergyTransfer"
_SAMPLED = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC"
_ENERGY = "Energy.Active.Import.Register"


def _availability(component: str, **where: Any) -> list[VariableSpec]:
    return [
        _spec(
            component,
            "AvailabilityState",
            "OptionList",
            "ReadOnly",
            "Available",
            values_list=_AVAILABILITY_STATES,
            **where,
        ),
        _bool(component, "Available", True, "ReadOnly", **where),
    ]


def standard_specs(*, evses: int = 1, connectors_per_evse: int = 1) -> list[VariableSpec]:
    """The standardized components and variables of a charger with these EVSEs/connectors.

    ChargingStation, one EVSE component per EVSE (Power: actual W, maxLimit 22 kW),
    one Connector per connector (numbered from 1 on each EVSE), and the controllers
    of the functional blocks the simulator has, with the spec's mutability.
    """
    if evses < 1 or connectors_per_evse < 1:
        raise ValueError("evses and connectors_per_evse must be >= 1")
    cs = "ChargingStation"
    specs = [
        *_availability(cs),
        _spec(cs, "Model", "string", "ReadOnly", "VirtualCharger", constant=True),
        _spec(cs, "VendorName", "string", "ReadOnly", "ocpp-chaos", constant=True),
        _spec(cs, "SerialNumber", "string", "ReadOnly", "OCPP-CHAOS-0001", constant=True),
        _ro_int(cs, "SupplyPhases", 3, min_limit=0, max_limit=3),
    ]
    for evse in range(1, evses + 1):
        specs += [
            *_availability("EVSE", evse=evse),
            _spec(
                "EVSE",
                "Power",
                "decimal",
                "ReadOnly",
                "0",
                evse=evse,
                unit="W",
                min_limit=0,
                max_limit=22_000,
            ),
            _ro_int("EVSE", "SupplyPhases", 3, evse=evse, min_limit=0, max_limit=3),
        ]
        for connector in range(1, connectors_per_evse + 1):
            where = {"evse": evse, "connector": connector}
            specs += [
                *_availability("Connector", **where),
                _spec(
                    "Connector",
                    "ConnectorType",
                    "string",
                    "ReadOnly",
                    "cType2",
                    constant=True,
                    **where,
                ),
                _ro_int("Connector", "SupplyPhases", 3, min_limit=0, max_limit=3, **where),
            ]

    occ = "OCPPCommCtrlr"
    te = {"variable_instance": "TransactionEvent"}
    specs += [
        _ro_int(occ, "ActiveNetworkProfile", 0, constant=False),
        _spec(
            occ,
            "FileTransferProtocols",
            "MemberList",
            "ReadOnly",
            "HTTP,HTTPS",
            values_list="FTP,FTPS,HTTP,HTTPS,SFTP",
            constant=True,
        ),
        _rw_int(occ, "HeartbeatInterval", 300, unit="s", min_limit=1),
        _ro_int(occ, "MessageTimeout", 30, variable_instance="Default", unit="s", min_limit=1),
        _rw_int(occ, "MessageAttemptInterval", 60, unit="s", **te),
        _rw_int(occ, "MessageAttempts", 3, **te),
        # Changing the priority takes effect on the next (re)connect: B09/B10.
        _spec(
            occ,
            "NetworkConfigurationPriority",
            "SequenceList",
            "ReadWrite",
            "0",
            values_list="0,1,2,3",
            reboot_required=True,
        ),
        _rw_int(occ, "NetworkProfileConnectionAttempts", 3),
        _rw_int(occ, "OfflineThreshold", 60, unit="s"),
        _bool(occ, "QueueAllMessages", False),
        _rw_int(occ, "ResetRetries", 3),
        _rw_int(occ, "RetryBackOffRandomRange", 10, unit="s"),
        _rw_int(occ, "RetryBackOffRepeatTimes", 5),
        _rw_int(occ, "RetryBackOffWaitMinimum", 3, unit="s"),
        _bool(occ, "UnlockOnEVSideDisconnect", True),
        _rw_int(occ, "WebSocketPingInterval", 60, unit="s"),
    ]
    tx = "TxCtrlr"
    specs += [
        _rw_int(tx, "EVConnectionTimeOut", 60, unit="s"),
        _rw_int(tx, "MaxEnergyOnInvalidId", 0, unit="Wh"),
        _bool(tx, "StopTxOnEVSideDisconnect", True),
        _bool(tx, "StopTxOnInvalidId", True),
        _bool(tx, "TxBeforeAcceptedEnabled", False),
        _spec(
            tx, "TxStartPoint", "MemberList", "ReadWrite", "PowerPathClosed", values_list=_TX_POINTS
        ),
        # DataSigned has no meaning as a stop point (2.0.1 §E "TxStopPoint values").
        _spec(
            tx,
            "TxStopPoint",
            "MemberList",
            "ReadWrite",
            "EVConnected,Authorized",
            values_list=_TX_POINTS.replace("DataSigned,", ""),
        ),
    ]
    sd = "SampledDataCtrlr"
    specs += [
        _bool(sd, "Available", True, "ReadOnly"),
        _bool(sd, "Enabled", True),
        _bool(sd, "SignReadings", False),
        _measurands(sd, "TxEndedMeasurands", _ENERGY),
        _rw_int(sd, "TxEndedInterval", 0, unit="s"),
        _measurands(sd, "TxStartedMeasurands", _ENERGY),
        _measurands(sd, "TxUpdatedMeasurands", _SAMPLED),
        _rw_int(sd, "TxUpdatedInterval", 60, unit="s"),
        _bool(sd, "RegisterValuesWithoutPhases", True),
    ]
    ad = "AlignedDataCtrlr"
    specs += [
        _bool(ad, "Available", True, "ReadOnly"),
        _bool(ad, "Enabled", False),
        _measurands(ad, "Measurands", _ENERGY),
        _rw_int(ad, "Interval", 900, unit="s"),
        _bool(ad, "SendDuringIdle", False),
        _measurands(ad, "TxEndedMeasurands", _ENERGY),
        _rw_int(ad, "TxEndedInterval", 900, unit="s"),
    ]
    au = "AuthCtrlr"
    specs += [
        _bool(au, "Enabled", True),
        _bool(au, "AuthorizeRemoteStart", False),
        _bool(au, "LocalAuthorizeOffline", True),
        _bool(au, "LocalPreAuthorize", False),
        _bool(au, "OfflineTxForUnknownIdEnabled", False),
    ]
    ac = "AuthCacheCtrlr"
    specs += [
        _bool(ac, "Available", True, "ReadOnly"),
        _bool(ac, "Enabled", False),
        _rw_int(ac, "LifeTime", 86_400, unit="s"),
        _spec(ac, "Policy", "OptionList", "ReadWrite", "LRU", values_list="LRU,LFU,FIFO,CUSTOM"),
    ]
    la = "LocalAuthListCtrlr"
    specs += [
        _bool(la, "Available", True, "ReadOnly"),
        _bool(la, "Enabled", True),
        _ro_int(la, "Entries", 0, min_limit=0, max_limit=100, constant=False),
        _ro_int(la, "ItemsPerMessage", 20, min_limit=1),
        _ro_int(la, "BytesPerMessage", 8192, min_limit=1),
    ]
    rc = "ReservationCtrlr"
    specs += [
        _bool(rc, "Available", True, "ReadOnly"),
        _bool(rc, "Enabled", True),
        # Reservations of an unspecified EVSE are not supported: ReserveNow needs evseId.
        _bool(rc, "NonEvseSpecific", False, "ReadOnly", constant=True),
    ]
    sc = "SmartChargingCtrlr"
    specs += [
        _bool(sc, "Available", True, "ReadOnly"),
        _bool(sc, "Enabled", True),
        _ro_int(
            sc,
            "Entries",
            0,
            variable_instance="ChargingProfiles",
            min_limit=0,
            max_limit=10,
            constant=False,
        ),
        _spec(
            sc,
            "LimitChangeSignificance",
            "decimal",
            "ReadWrite",
            "1.0",
            unit="Percent",
            min_limit=0,
            max_limit=100,
        ),
        _ro_int(sc, "PeriodsPerSchedule", 24, min_limit=1),
        _ro_int(sc, "ProfileStackLevel", 8, min_limit=0),
        _spec(sc, "RateUnit", "MemberList", "ReadOnly", "A,W", values_list="A,W", constant=True),
    ]
    dd = "DeviceDataCtrlr"
    for message in ("GetReport", "GetVariables", "SetVariables"):
        specs += [
            _ro_int(dd, "ItemsPerMessage", 50, variable_instance=message, min_limit=1),
            _ro_int(dd, "BytesPerMessage", 65_536, variable_instance=message, min_limit=1),
        ]
    specs += [
        _ro_int(dd, "ConfigurationValueSize", _MAX_VALUE_LEN),
        _ro_int(dd, "ReportingValueSize", 2500),
    ]
    cc = "ClockCtrlr"
    specs += [
        # The charger keeps DateTime current with set_internal(); this is the boot value.
        _spec(cc, "DateTime", "dateTime", "ReadOnly", "2025-01-01T00:00:00Z"),
        _spec(
            cc,
            "TimeSource",
            "SequenceList",
            "ReadWrite",
            "Heartbeat",
            values_list="Heartbeat,NTP,GPS,RealTimeClock,MobileNetwork,RadioTimeTransmitter",
        ),
    ]
    se = "SecurityCtrlr"
    specs += [
        _spec(
            se,
            "BasicAuthPassword",
            "string",
            "WriteOnly",
            "ocpp-chaos-secret",
            min_limit=16,
            max_limit=40,
        ),
        _spec(se, "Identity", "string", "ReadWrite", "", max_limit=48),
        _spec(se, "OrganizationName", "string", "ReadWrite", "ocpp-chaos"),
        _ro_int(se, "SecurityProfile", 1, min_limit=1, max_limit=3),
        _rw_int(se, "CertSigningWaitMinimum", 30, unit="s"),
        _rw_int(se, "CertSigningRepeatTimes", 3),
    ]
    return specs


# --- the model --------------------------------------------------------------------------

_ComponentKey = tuple[str, str | None, int | None, int | None]
_VariableKey = tuple[str, str | None]


class _Layout:
    """What every device model of the same specs shares: the index and the defaults."""

    __slots__ = ("_matches", "defaults", "index")

    def __init__(self, specs: Sequence[VariableSpec]) -> None:
        self.index: dict[_ComponentKey, dict[_VariableKey, VariableSpec]] = {}
        self.defaults: dict[tuple[_ComponentKey, _VariableKey], str] = {}
        self._matches: dict[str, list[VariableSpec]] = {}
        for spec in specs:
            variables = self.index.setdefault(_component_key(spec), {})
            vkey = _variable_key(spec)
            if vkey in variables:
                raise ValueError(f"{spec.key}: given twice")
            variables[vkey] = spec
            self.defaults[_component_key(spec), vkey] = _normalise(spec, spec.default)

    def matches(self, key: str, find: Callable[[str], list[VariableSpec]]) -> list[VariableSpec]:
        """The specs an override key names (remembered: a fleet repeats the same keys)."""
        found = self._matches.get(key)
        if found is None:
            found = find(key)
            if len(self._matches) < 4096:
                self._matches[key] = found
        return found


_LAYOUTS: OrderedDict[builtins.int, tuple[Sequence[VariableSpec], _Layout]] = OrderedDict()
_LAYOUTS_MAX = 64


def _layout(specs: Sequence[VariableSpec]) -> _Layout:
    """The layout of `specs`, shared while the same specs object is used again (the cache
    holds the specs, so an id is not reused while its entry lives)."""
    entry = _LAYOUTS.get(id(specs))
    if entry is not None and entry[0] is specs:
        _LAYOUTS.move_to_end(id(specs))
        return entry[1]
    layout = _Layout(specs)
    _LAYOUTS[id(specs)] = (specs, layout)
    if len(_LAYOUTS) > _LAYOUTS_MAX:
        _LAYOUTS.popitem(last=False)
    return layout


@functools.lru_cache(maxsize=64)
def _standard_specs_cached(
    evses: builtins.int, connectors_per_evse: builtins.int
) -> tuple[VariableSpec, ...]:
    return tuple(standard_specs(evses=evses, connectors_per_evse=connectors_per_evse))


_SUMMARY_VARIABLES = frozenset({"availabilitystate", "available"})
_PROBLEM_VARIABLES = frozenset({"problem", "tripped", "overload", "fallback"})


class DeviceModel:
    """The variables of one virtual charger: GetVariables, SetVariables and reports.

    `overrides` set initial values (read-only ones included: they are the charger's
    own settings), keyed `Component.Variable` or
    `Component[instance]@evse/connector.Variable[instance]` (every bracket and the
    `@` part are optional; a key without `@` sets the variable on every EVSE and
    connector that has it). A key that names no variable, or an invalid value,
    raises ValueError naming the key.
    """

    def __init__(
        self, specs: Sequence[VariableSpec], overrides: Mapping[str, str] | None = None
    ) -> None:
        layout = _layout(specs)
        self._layout = layout
        self._specs = layout.index
        # The defaults are shared by every model of the same specs (a fleet of 10,000
        # chargers holds one copy); this model's own values sit in front of them.
        self._values: ChainMap[tuple[_ComponentKey, _VariableKey], str] = ChainMap(
            {}, layout.defaults
        )
        for key, value in (overrides or {}).items():
            matched = layout.matches(key, self._match_override)
            if not matched:
                raise ValueError(f"{key}: no such variable in the device model")
            for spec in matched:
                try:
                    self._values[_component_key(spec), _variable_key(spec)] = _normalise(
                        spec, value
                    )
                except ValueError as exc:
                    raise ValueError(f"{key}: {exc}") from None

    @classmethod
    def standard(
        cls,
        *,
        evses: builtins.int = 1,
        connectors_per_evse: builtins.int = 1,
        overrides: Mapping[str, str] | None = None,
    ) -> DeviceModel:
        """The standard components (`standard_specs`), their layout shared with every
        other standard model of the same size."""
        return cls(_standard_specs_cached(evses, connectors_per_evse), overrides)

    # --- CSMS requests ---

    def get_variables(self, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """GetVariables (B06): one get_variable_result per item, in request order.

        UnknownComponent (no component with that name, instance and evse/connector),
        UnknownVariable, NotSupportedAttributeType (anything but Actual), Rejected
        for a WriteOnly variable, else Accepted with attribute_value. Checking the
        request against DeviceDataCtrlr ItemsPerMessage/BytesPerMessage is the caller's.
        """
        results = []
        for item in items:
            result = _echo(item)
            found = self._find(item)
            if isinstance(found, str):
                result["attribute_status"] = found
            elif found.mutability == "WriteOnly":
                result["attribute_status"] = "Rejected"
                result["attribute_status_info"] = {"reason_code": "WriteOnly"}
            else:
                result["attribute_status"] = "Accepted"
                result["attribute_value"] = self._values[
                    _component_key(found), _variable_key(found)
                ]
            results.append(result)
        return results

    def set_variables(self, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """SetVariables (B05): one set_variable_result per item, in request order.

        Unknown component/variable and attribute types as in `get_variables`;
        Rejected for a ReadOnly variable or a value that is not valid (reason in
        attribute_status_info); else the value is stored (normalised) and the
        answer is RebootRequired if the spec says so, else Accepted. Items are
        applied one after the other, so a later item for the same variable wins.
        """
        results = []
        for item in items:
            result = _echo(item)
            found = self._find(item)
            if isinstance(found, str):
                result["attribute_status"] = found
            elif found.mutability == "ReadOnly":
                result["attribute_status"] = "Rejected"
                result["attribute_status_info"] = {"reason_code": "ReadOnly"}
            else:
                try:
                    value = _normalise(found, item.get("attribute_value"))
                except ValueError as exc:
                    result["attribute_status"] = "Rejected"
                    result["attribute_status_info"] = {
                        "reason_code": "InvalidValue",
                        "additional_info": str(exc)[:512],
                    }
                else:
                    self._values[_component_key(found), _variable_key(found)] = value
                    result["attribute_status"] = (
                        "RebootRequired" if found.reboot_required else "Accepted"
                    )
            results.append(result)
        return results

    def report(self, criterion: ReportBase) -> list[dict[str, Any]]:
        """GetBaseReport (B07): the report_data items of the NotifyReports, in spec order.

        FullInventory: every variable. ConfigurationInventory: the variables the
        CSMS can set (ReadWrite and WriteOnly). SummaryInventory: AvailabilityState
        and Available of every component that has them, plus any Problem, Tripped,
        Overload or Fallback variable that is "true". WriteOnly values are left out.
        """
        if criterion == "FullInventory":
            chosen = list(self._all())
        elif criterion == "ConfigurationInventory":
            chosen = [spec for spec in self._all() if spec.mutability != "ReadOnly"]
        elif criterion == "SummaryInventory":
            chosen = [
                spec
                for spec in self._all()
                if spec.variable.casefold() in _SUMMARY_VARIABLES
                or (spec.variable.casefold() in _PROBLEM_VARIABLES and self._of(spec) == "true")
            ]
        else:
            raise ValueError(f"unknown report base {criterion!r}")
        return [self._report_data(spec) for spec in chosen]

    @staticmethod
    def chunks(
        items: list[dict[str, Any]], per_message: builtins.int
    ) -> list[list[dict[str, Any]]]:
        """`items` split into NotifyReports of at most `per_message` (no chunk for no items).

        report_data has minItems 1, so for an empty report the caller sends one
        NotifyReport without report_data; seq_no and tbc are the caller's.
        """
        if per_message < 1:
            raise ValueError(f"per_message must be >= 1, not {per_message}")
        return [items[i : i + per_message] for i in range(0, len(items), per_message)]

    # --- the charger's own access ---

    def value(
        self,
        component: str,
        variable: str,
        *,
        component_instance: str | None = None,
        variable_instance: str | None = None,
        evse: builtins.int | None = None,
        connector: builtins.int | None = None,
    ) -> str:
        """The value of a variable as on the wire (KeyError if there is no such variable)."""
        spec = self._spec(
            component, variable, component_instance, variable_instance, evse, connector
        )
        return self._of(spec)

    def spec(
        self,
        component: str,
        variable: str,
        *,
        component_instance: str | None = None,
        variable_instance: str | None = None,
        evse: builtins.int | None = None,
        connector: builtins.int | None = None,
    ) -> VariableSpec:
        """The spec of a variable (KeyError if there is no such variable)."""
        return self._spec(
            component, variable, component_instance, variable_instance, evse, connector
        )

    def int(
        self,
        component: str,
        variable: str,
        *,
        component_instance: str | None = None,
        variable_instance: str | None = None,
        evse: builtins.int | None = None,
        connector: builtins.int | None = None,
    ) -> builtins.int:
        """The value of an integer variable."""
        spec = self._spec(
            component, variable, component_instance, variable_instance, evse, connector
        )
        if spec.data_type != "integer":
            raise TypeError(f"{spec.key} is {spec.data_type}, not integer")
        return builtins.int(self._of(spec))

    def bool(
        self,
        component: str,
        variable: str,
        *,
        component_instance: str | None = None,
        variable_instance: str | None = None,
        evse: builtins.int | None = None,
        connector: builtins.int | None = None,
    ) -> builtins.bool:
        """The value of a boolean variable."""
        spec = self._spec(
            component, variable, component_instance, variable_instance, evse, connector
        )
        if spec.data_type != "boolean":
            raise TypeError(f"{spec.key} is {spec.data_type}, not boolean")
        return self._of(spec) == "true"

    def set_internal(self, component: str, variable: str, value: str, **where: Any) -> None:
        """The charger's own update of a variable (e.g. AvailabilityState), any mutability.

        `where`: component_instance, variable_instance, evse, connector. KeyError for
        an unknown variable, ValueError for a value that is not valid.
        """
        unknown = set(where) - _WHERE
        if unknown:
            raise TypeError(f"unexpected arguments {sorted(unknown)}")
        spec = self._spec(
            component,
            variable,
            where.get("component_instance"),
            where.get("variable_instance"),
            where.get("evse"),
            where.get("connector"),
        )
        try:
            normalised = _normalise(spec, value)
        except ValueError as exc:
            raise ValueError(f"{spec.key}: {exc}") from None
        self._values[_component_key(spec), _variable_key(spec)] = normalised

    def specs(self) -> list[VariableSpec]:
        """Every variable's spec, in the order given."""
        return list(self._all())

    # --- helpers ---

    def _all(self) -> Iterator[VariableSpec]:
        for variables in self._specs.values():
            yield from variables.values()

    def _of(self, spec: VariableSpec) -> str:
        return self._values[_component_key(spec), _variable_key(spec)]

    def _spec(
        self,
        component: str,
        variable: str,
        component_instance: str | None,
        variable_instance: str | None,
        evse: builtins.int | None,
        connector: builtins.int | None,
    ) -> VariableSpec:
        ckey = (component.casefold(), _fold(component_instance), evse, connector)
        spec = self._specs.get(ckey, {}).get((variable.casefold(), _fold(variable_instance)))
        if spec is None:
            where = f"{component}[{component_instance}]@{evse}/{connector}"
            raise KeyError(f"{where}.{variable}[{variable_instance}]")
        return spec

    def _find(self, item: Mapping[str, Any]) -> VariableSpec | str:
        """The spec an item names, or the status saying why there is none."""
        component = item.get("component")
        variable = item.get("variable")
        ckey = _request_component_key(component)
        variables = self._specs.get(ckey) if ckey is not None else None
        if variables is None:
            return "UnknownComponent"
        vkey = _request_variable_key(variable)
        spec = variables.get(vkey) if vkey is not None else None
        if spec is None:
            return "UnknownVariable"
        if item.get("attribute_type", "Actual") != "Actual":
            return "NotSupportedAttributeType"
        return spec

    def _match_override(self, key: str) -> list[VariableSpec]:
        match = _OVERRIDE.fullmatch(key)
        if match is None:
            raise ValueError(f"{key}: not Component[instance]@evse/connector.Variable[instance]")
        evse = match["evse"]
        connector = match["connector"]
        return [
            spec
            for spec in self._all()
            if _fold(spec.component) == _fold(match["component"])
            and _fold(spec.component_instance) == _fold(match["ci"])
            and _fold(spec.variable) == _fold(match["variable"])
            and _fold(spec.variable_instance) == _fold(match["vi"])
            and (evse is None or spec.evse == builtins.int(evse))
            and (connector is None or spec.connector == builtins.int(connector))
        ]

    def _report_data(self, spec: VariableSpec) -> dict[str, Any]:
        attribute: dict[str, Any] = {"type": "Actual"}
        if spec.mutability != "WriteOnly":
            attribute["value"] = self._of(spec)
        attribute["mutability"] = spec.mutability
        attribute["persistent"] = spec.persistent
        attribute["constant"] = spec.constant
        characteristics: dict[str, Any] = {"data_type": spec.data_type}
        if spec.unit is not None:
            characteristics["unit"] = spec.unit
        if spec.min_limit is not None:
            characteristics["min_limit"] = spec.min_limit
        if spec.max_limit is not None:
            characteristics["max_limit"] = spec.max_limit
        if spec.values_list is not None:
            characteristics["values_list"] = spec.values_list
        characteristics["supports_monitoring"] = False
        return {
            "component": _component_payload(spec),
            "variable": _variable_payload(spec),
            "variable_attribute": [attribute],
            "variable_characteristics": characteristics,
        }


# --- keys and payloads --------------------------------------------------------------------


def _fold(name: str | None) -> str | None:
    return None if name is None else name.casefold()


def _component_key(spec: VariableSpec) -> _ComponentKey:
    return (spec.component.casefold(), _fold(spec.component_instance), spec.evse, spec.connector)


def _variable_key(spec: VariableSpec) -> _VariableKey:
    return (spec.variable.casefold(), _fold(spec.variable_instance))


def _optional_str(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError


def _optional_int(value: Any) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise TypeError


def _request_component_key(component: Any) -> _ComponentKey | None:
    """The key of a request's ComponentType, None if it is malformed."""
    if not isinstance(component, Mapping) or not isinstance(component.get("name"), str):
        return None
    try:
        instance = _optional_str(component.get("instance"))
        evse = component.get("evse")
        if evse is None:
            evse_id, connector = None, None
        elif isinstance(evse, Mapping):
            evse_id = _optional_int(evse.get("id"))
            connector = _optional_int(evse.get("connector_id"))
        else:
            return None
    except TypeError:
        return None
    return (component["name"].casefold(), _fold(instance), evse_id, connector)


def _request_variable_key(variable: Any) -> _VariableKey | None:
    """The key of a request's VariableType, None if it is malformed."""
    if not isinstance(variable, Mapping) or not isinstance(variable.get("name"), str):
        return None
    try:
        instance = _optional_str(variable.get("instance"))
    except TypeError:
        return None
    return (variable["name"].casefold(), _fold(instance))


def _echo(item: Mapping[str, Any]) -> dict[str, Any]:
    """The component, variable and attribute_type of a request item, for its result."""
    result: dict[str, Any] = {"component": item.get("component"), "variable": item.get("variable")}
    if "attribute_type" in item:
        result["attribute_type"] = item["attribute_type"]
    return result


def _component_payload(spec: VariableSpec) -> dict[str, Any]:
    component: dict[str, Any] = {"name": spec.component}
    if spec.component_instance is not None:
        component["instance"] = spec.component_instance
    if spec.evse is not None:
        component["evse"] = {"id": spec.evse}
        if spec.connector is not None:
            component["evse"]["connector_id"] = spec.connector
    return component


def _variable_payload(spec: VariableSpec) -> dict[str, Any]:
    variable: dict[str, Any] = {"name": spec.variable}
    if spec.variable_instance is not None:
        variable["instance"] = spec.variable_instance
    return variable


# --- values -----------------------------------------------------------------------------


def _normalise(spec: VariableSpec, value: Any) -> str:
    """The stored form of `value` for `spec`, or ValueError saying why it is not valid."""
    if not isinstance(value, str):
        raise ValueError(f"value must be a string, not {type(value).__name__}")
    if len(value) > _MAX_VALUE_LEN:
        raise ValueError(f"value longer than {_MAX_VALUE_LEN} characters")
    kind = spec.data_type
    if kind == "integer":
        if not _INT.fullmatch(value):
            raise ValueError(f"{value!r} is not an integer")
        number = int(value)
        _check_range(spec, Decimal(number))
        return str(number)
    if kind == "decimal":
        if not _DECIMAL.fullmatch(value):
            raise ValueError(f"{value!r} is not a decimal")
        _check_range(spec, Decimal(value))
        return value
    if kind == "boolean":
        lowered = value.lower()
        if lowered not in ("true", "false"):
            raise ValueError(f"{value!r} is not true or false")
        return lowered
    if kind == "dateTime":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an RFC 3339 date-time") from None
        if moment.tzinfo is None or "T" not in value.upper():
            raise ValueError(f"{value!r} is not an RFC 3339 date-time with offset")
        return value
    text: str = _check_list(spec, value) if kind in _LISTS else value
    _check_length(spec, text)
    return text


def _check_range(spec: VariableSpec, number: Decimal) -> None:
    if spec.min_limit is not None and number < Decimal(repr(spec.min_limit)):
        raise ValueError(f"{number} is below the minimum {spec.min_limit:g}")
    if spec.max_limit is not None and number > Decimal(repr(spec.max_limit)):
        raise ValueError(f"{number} is above the maximum {spec.max_limit:g}")


def _check_length(spec: VariableSpec, value: str) -> None:
    if spec.min_limit is not None and len(value) < spec.min_limit:
        raise ValueError(f"shorter than {spec.min_limit:g} characters")
    if spec.max_limit is not None and len(value) > spec.max_limit:
        raise ValueError(f"longer than {spec.max_limit:g} characters")


def _check_list(spec: VariableSpec, value: str) -> str:
    """OptionList: one of values_list; Sequence/MemberList: distinct items from it."""
    allowed = (spec.values_list or "").split(",")
    if spec.data_type == "OptionList":
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {spec.values_list}")
        return value
    if not value.strip():
        if spec.data_type == "SequenceList":
            raise ValueError("a SequenceList needs at least one item")
        return ""
    items = [item.strip() for item in value.split(",")]
    for item in items:
        if item not in allowed:
            raise ValueError(f"{item!r} is not one of {spec.values_list}")
    if len(set(items)) != len(items):
        raise ValueError(f"{value!r} has an item twice")
    return ",".join(items)
