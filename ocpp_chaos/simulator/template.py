"""Charger templates: what one kind of virtual charger is, in a YAML (or JSON) file.

A template says who made the charger (vendor, model, firmware), which OCPP it speaks,
its connectors (or EVSEs: one connector each) with their type and power, its
configuration (OCPP 1.6 keys, or 2.0.1 device-model variables `Component.Variable`),
what it meters, and who comes to charge: a weighted mix of EVs, when they arrive
and how long they stay. Only `vendor`, `model` and `protocol` are required:

```yaml
# yaml-language-server: $schema=template.schema.json
vendor: Acme
model: Wallbox-22
protocol: "1.6"
firmware: "2.4.1"
connectors:
  - {type: sType2, max_power_kw: 22, phases: 3}
  - {type: sType2, max_power_kw: 22, phases: 3}
config:
  HeartbeatInterval: 600
meter_values: {interval_s: 30, measurands: [Energy.Active.Import.Register, Power.Active.Import]}
evs:
  - {name: compact, weight: 3, capacity_kwh: [40, 60], soc: [0.1, 0.5], max_ac_kw: 11}
  - {name: suv, weight: 1, capacity_kwh: 95, soc: 0.2, target_soc: 0.8, max_ac_kw: 22}
arrivals: {process: poisson, mean_interval_s: 1800}
dwell: {distribution: lognormal, median_s: 7200, sigma: 0.6}
```

States of charge are fractions 0..1 (0.8 is 80 %); a range is `[min, max]`, drawn
uniformly for each EV. Every mistake is reported as `file:line:column: field:
message` (`load_template_file`); `ocpp-chaos schema template` prints the JSON Schema.
The methods the fleet calls take a seeded `random.Random`, so a seed gives the same
EVs, arrivals and dwell times every time.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ocpp_chaos.fileformat import (
    KEY,
    FileFormat,
    FileFormatError,
    Loc,
    LocatedError,
    OneOrMany,
    allowed_keys,
    json_schema,
    load_model_file,
    load_model_text,
    suggest,
)
from ocpp_chaos.simulator import config as config16
from ocpp_chaos.simulator import device_model
from ocpp_chaos.simulator.ev import VirtualEV

if TYPE_CHECKING:
    from ocpp_chaos.simulator.charger import VirtualCharger

__all__ = [
    "CONNECTOR_TYPES",
    "DC_CONNECTOR_TYPES",
    "TEMPLATE_FORMAT",
    "Arrivals",
    "ChargerTemplate",
    "ConnectorSpec",
    "Dwell",
    "EVSpec",
    "FixedArrivals",
    "FixedDwell",
    "LognormalDwell",
    "MeterValues",
    "PoissonArrivals",
    "TemplateFileError",
    "UniformDwell",
    "load_template_file",
    "load_template_text",
    "template_json_schema",
]


class TemplateFileError(FileFormatError):
    """A template file is invalid; `problems` lists every mistake found."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- value types -------------------------------------------------------------------------


def _text(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"must be text, not {'true' if value else 'false'}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise ValueError(
            f"must be text, not the number {value!r}: put it in quotes ('1.10' stays 1.10, "
            "unquoted YAML reads it as the number 1.1)"
        )
    return value


_TEXT_SCHEMA = {"type": ["string", "integer"]}
Text = Annotated[str, BeforeValidator(_text), WithJsonSchema(_TEXT_SCHEMA)]
"""A string; an integer is taken as its digits, a decimal number is refused (quote it)."""


def _protocol(value: Any) -> Any:
    if isinstance(value, float) and value == 1.6:
        return "1.6"  # `protocol: 1.6` unquoted is a number in YAML
    return value


Protocol = Annotated[
    Literal["1.6", "2.0.1"],
    BeforeValidator(_protocol),
    WithJsonSchema({"enum": ["1.6", "2.0.1", 1.6], "description": "the OCPP version"}),
]


def _check_soc(value: float) -> str | None:
    if 0.0 <= value <= 1.0:
        return None
    if 2.0 <= value <= 100.0:
        percent = f"{value / 100:g} for {value:g} %"
        return f"a state of charge is a fraction 0..1 ({percent}), not {value:g}"
    return f"a state of charge is a fraction within 0..1, not {value:g}"


def _check_positive(value: float) -> str | None:
    return None if value > 0 else f"must be greater than 0, not {value:g}"


def _range(check: Any) -> Any:
    """A validator of `x` or `[min, max]` → (min, max), each checked by `check`."""

    def validate(value: Any) -> tuple[float, float]:
        def number(item: Any) -> float | None:
            if isinstance(item, bool) or not isinstance(item, int | float):
                return None
            return float(item) if math.isfinite(item) else None

        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise ValueError(
                    f"a range is [min, max]: two numbers, not a list of {len(value)} items"
                )
            items = [number(v) for v in value]
            errors: list[tuple[Loc, str]] = []
            for i, (raw, item) in enumerate(zip(value, items, strict=True)):
                if item is None:
                    errors.append(((i,), f"must be a number, not {raw!r}"))
                elif (message := check(item)) is not None:
                    errors.append(((i,), message))
            if errors:
                raise LocatedError(errors)
            low, high = items[0], items[1]
            assert low is not None and high is not None
            if high < low:
                raise LocatedError([((1,), f"the range's max {high:g} is below its min {low:g}")])
            return (low, high)
        item = number(value)
        if item is None:
            shown = "a mapping" if isinstance(value, dict) else repr(value)
            raise ValueError(f"must be a number or a [min, max] range, not {shown}")
        message = check(item)
        if message is not None:
            raise ValueError(message)
        return (item, item)

    return validate


def _range_schema(description: str, minimum: float, maximum: float | None = None) -> Any:
    number: dict[str, Any] = {"type": "number", "minimum": minimum}
    if maximum is not None:
        number["maximum"] = maximum
    return WithJsonSchema(
        {
            "anyOf": [
                number,
                {"type": "array", "items": number, "minItems": 2, "maxItems": 2},
            ],
            "description": description + "; a number, or a [min, max] range drawn uniformly",
        }
    )


SocRange = Annotated[
    tuple[float, float],
    BeforeValidator(_range(_check_soc)),
    _range_schema("a state of charge, a fraction 0..1 (0.8 is 80 %)", 0, 1),
]
"""A state of charge (0..1), or a [min, max] range of them; stored as (min, max)."""
PositiveRange = Annotated[
    tuple[float, float],
    BeforeValidator(_range(_check_positive)),
    _range_schema("a positive number", 0),
]
"""A positive number, or a [min, max] range; stored as (min, max)."""


def _config_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a value")
        return repr(value) if "e" not in repr(value) else f"{value:f}".rstrip("0").rstrip(".")
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise ValueError("a list value is a list of strings (it is sent comma separated)")
        return ",".join(value)
    if isinstance(value, str):
        return value
    raise ValueError(f"must be a string, number, true/false or a list of strings, not {value!r}")


ConfigValue = Annotated[
    str,
    BeforeValidator(_config_value),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": ["string", "number", "boolean"]},
                {"type": "array", "items": {"type": "string"}},
            ],
            "description": "the value; numbers and true/false as on the wire, a list of "
            "strings comma separated",
        }
    ),
]


# -- connectors ------------------------------------------------------------------------


DC_CONNECTOR_TYPES = frozenset(
    {"cCCS1", "cCCS2", "cChaoJi", "cG105", "cGBT", "cTesla", "OppCharge", "Pan"}
)
"""The connector types that charge with DC unless a connector says `dc: false`."""

ConnectorType = Literal[
    "cCCS1",
    "cCCS2",
    "cChaoJi",
    "cG105",
    "cCHAdeMO",
    "cGBT",
    "cTesla",
    "cType1",
    "cType2",
    "s309-1P-16A",
    "s309-1P-32A",
    "s309-3P-16A",
    "s309-3P-32A",
    "sBS1361",
    "sCEE-7-7",
    "sType2",
    "sType3",
    "OppCharge",
    "Other1PhMax16A",
    "Other1PhOver16A",
    "Other3Ph",
    "Pan",
    "wInductive",
    "wResonant",
    "Undetermined",
    "Unknown",
]

CONNECTOR_TYPES: tuple[str, ...] = get_args(ConnectorType)
"""OCPP 2.0.1 ConnectorEnumType, and cCHAdeMO (which is cG105, JEVS G105, in OCPP)."""


class ConnectorSpec(_Model):
    """One connector (in 2.0.1: one EVSE with one connector)."""

    type: ConnectorType = Field(
        "cType2", description="OCPP ConnectorEnumType (cCHAdeMO is stored as cG105)"
    )
    max_power_kw: float = Field(gt=0, le=5000, description="what the connector can deliver, kW")
    phases: Literal[1, 2, 3] | None = Field(
        None, description="AC phases (default 3); not for a DC connector"
    )
    dc: bool | None = Field(None, description="DC (true) or AC (false); by default from the type")

    @field_validator("type")
    @classmethod
    def _ocpp_name(cls, value: str) -> str:
        return "cG105" if value == "cCHAdeMO" else value

    @model_validator(mode="after")
    def _phases_are_ac(self) -> ConnectorSpec:
        if self.is_dc and self.phases is not None:
            raise LocatedError([(("phases", KEY), "a DC connector has no phases")])
        return self

    @property
    def is_dc(self) -> bool:
        """The connector charges with DC."""
        return self.dc if self.dc is not None else self.type in DC_CONNECTOR_TYPES

    @property
    def supply_phases(self) -> int:
        """OCPP SupplyPhases: the AC phases, 0 for DC."""
        return 0 if self.is_dc else (self.phases or 3)

    @property
    def max_power_w(self) -> float:
        return self.max_power_kw * 1000.0


# -- metering ------------------------------------------------------------------------

_DEFAULT_MEASURANDS = (
    "Energy.Active.Import.Register",
    "Power.Active.Import",
    "Current.Import",
    "Voltage",
    "SoC",
)
_MEASURANDS_201 = frozenset(device_model.MEASURANDS.split(","))
Measurand = Annotated[
    str,
    WithJsonSchema(
        {
            "enum": sorted(config16.MEASURANDS | _MEASURANDS_201),
            "description": "an OCPP measurand (of the template's protocol)",
        }
    ),
]


class MeterValues(_Model):
    """What the charger meters during a transaction, and how often.

    1.6: MeterValueSampleInterval and MeterValuesSampledData; 2.0.1:
    SampledDataCtrlr.TxUpdatedInterval and SampledDataCtrlr.TxUpdatedMeasurands.
    """

    interval_s: int = Field(60, ge=0, le=86_400, description="seconds between samples (0: none)")
    measurands: Annotated[list[Measurand], OneOrMany] = Field(
        default_factory=lambda: list(_DEFAULT_MEASURANDS),
        description="OCPP measurands, e.g. Energy.Active.Import.Register, Power.Active.Import, "
        "Current.Import, Voltage, SoC",
    )


# -- EVs, arrivals, dwell -------------------------------------------------------------


def _check_curve(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    errors: list[tuple[Loc, str]] = []
    previous: float | None = None
    for i, (soc, kw) in enumerate(points):
        bad_soc = _check_soc(soc)
        if bad_soc is not None:
            errors.append(((i, 0), bad_soc))
        elif previous is not None and soc <= previous:
            order = f"SoC {soc:g} does not follow {previous:g}: points go up in SoC"
            errors.append(((i, 0), order))
        if not (kw > 0 and math.isfinite(kw)):
            errors.append(((i, 1), f"the power must be greater than 0 kW, not {kw:g}"))
        if bad_soc is None:
            previous = soc
    if errors:
        raise LocatedError(errors)
    return points


class EVSpec(_Model):
    """One kind of EV in the mix. Ranges are drawn uniformly for each car."""

    name: str | None = Field(None, description="a label, shown in problems")
    weight: float = Field(1.0, gt=0, description="how often this EV comes, relative to the others")
    capacity_kwh: PositiveRange = Field((40.0, 100.0), description="battery capacity, kWh")
    soc: SocRange = Field((0.1, 0.6), description="state of charge on arrival, 0..1")
    target_soc: SocRange = Field(
        (0.8, 1.0), description="the car stops charging here (SuspendedEV), 0..1"
    )
    max_ac_kw: float = Field(11.0, gt=0, le=1000, description="on-board charger: AC power, kW")
    ac_phases: Literal[1, 2, 3] = Field(3, description="phases the on-board charger uses")
    max_dc_kw: float | None = Field(
        None,
        gt=0,
        le=5000,
        description="DC power the car takes at most, kW; default: its curve's peak, or 50",
    )
    dc_voltage_v: float = Field(400.0, gt=0, le=1500, description="battery voltage on DC")
    curve: Annotated[list[tuple[float, float]], AfterValidator(_check_curve)] | None = Field(
        None,
        min_length=1,
        description="the battery's acceptance: [soc, kW] points by increasing SoC (0..1), "
        "linear between points and flat beyond them; default: full power to 80 %, "
        "then a taper to 10 % at 100 %",
    )

    @model_validator(mode="after")
    def _can_charge(self) -> EVSpec:
        if self.soc[0] >= self.target_soc[1]:
            raise LocatedError(
                [(("soc",), "every car would arrive at or above its target_soc, and not charge")]
            )
        return self

    def make(self, rng: random.Random, *, dc: bool) -> VirtualEV:
        """A car of this kind, with its ranges drawn from `rng`, for an AC or a DC connector."""
        capacity_kwh = _draw(rng, self.capacity_kwh, 1)
        soc = _draw(rng, self.soc, 3)
        target = _draw(rng, self.target_soc, 3)
        curve = None if self.curve is None else tuple((s, kw * 1000.0) for s, kw in self.curve)
        if dc:
            if self.max_dc_kw is not None:
                max_kw = self.max_dc_kw
            else:
                max_kw = max(kw for _, kw in self.curve) if self.curve else 50.0
            return VirtualEV(
                capacity_wh=capacity_kwh * 1000.0,
                soc=soc,
                target_soc=target,
                max_power_w=max_kw * 1000.0,
                voltage_v=self.dc_voltage_v,
                phases=1,
                curve=curve,
            )
        return VirtualEV(
            capacity_wh=capacity_kwh * 1000.0,
            soc=soc,
            target_soc=target,
            max_power_w=self.max_ac_kw * 1000.0,
            phases=self.ac_phases,
            curve=curve,
        )


def _draw(rng: random.Random, bounds: tuple[float, float], digits: int) -> float:
    low, high = bounds
    return min(max(round(rng.uniform(low, high), digits), low), high)


_DEFAULT_EVS = (
    EVSpec(name="ac-3.7", max_ac_kw=3.7, ac_phases=1),
    EVSpec(name="ac-7.4", max_ac_kw=7.4, ac_phases=1),
    EVSpec(name="ac-11", max_ac_kw=11.0, ac_phases=3),
    EVSpec(name="ac-22", max_ac_kw=22.0, ac_phases=3),
)


class PoissonArrivals(_Model):
    """EVs arrive at random, `mean_interval_s` apart on average (exponential gaps)."""

    process: Literal["poisson"]
    mean_interval_s: float = Field(gt=0, description="mean seconds between arrivals")


class FixedArrivals(_Model):
    """EVs arrive exactly `interval_s` apart."""

    process: Literal["fixed"]
    interval_s: float = Field(gt=0, description="seconds between arrivals")


Arrivals = Annotated[PoissonArrivals | FixedArrivals, Field(discriminator="process")]


class LognormalDwell(_Model):
    """Stays follow a lognormal distribution: half are shorter than `median_s`."""

    distribution: Literal["lognormal"]
    median_s: float = Field(gt=0, description="the median stay, seconds")
    sigma: float = Field(0.5, ge=0, le=5, description="the spread (of the log of the stay)")
    min_s: float | None = Field(None, ge=0, description="no stay is shorter")
    max_s: float | None = Field(None, gt=0, description="no stay is longer")

    @model_validator(mode="after")
    def _bounds(self) -> LognormalDwell:
        if self.min_s is not None and self.max_s is not None and self.max_s < self.min_s:
            raise LocatedError([(("max_s",), f"max_s {self.max_s:g} is below min_s")])
        return self


class UniformDwell(_Model):
    """Stays are uniformly distributed between `min_s` and `max_s`."""

    distribution: Literal["uniform"]
    min_s: float = Field(ge=0, description="the shortest stay, seconds")
    max_s: float = Field(gt=0, description="the longest stay, seconds")

    @model_validator(mode="after")
    def _bounds(self) -> UniformDwell:
        if self.max_s < self.min_s:
            raise LocatedError([(("max_s",), f"max_s {self.max_s:g} is below min_s")])
        return self


class FixedDwell(_Model):
    """Every stay lasts `duration_s`."""

    distribution: Literal["fixed"]
    duration_s: float = Field(gt=0, description="seconds")


Dwell = Annotated[LognormalDwell | UniformDwell | FixedDwell, Field(discriminator="distribution")]


# -- the template ----------------------------------------------------------------------

_METER_KEYS = {
    "1.6": ("MeterValueSampleInterval", "MeterValuesSampledData"),
    "2.0.1": ("SampledDataCtrlr.TxUpdatedInterval", "SampledDataCtrlr.TxUpdatedMeasurands"),
}


class ChargerTemplate(_Model):
    """One kind of virtual charger: make, protocol, connectors, configuration and its EVs."""

    name: Text | None = Field(None, description="what the template is called")
    vendor: Text = Field(min_length=1, max_length=50, description="BootNotification vendor")
    model: Text = Field(min_length=1, max_length=20, description="BootNotification model")
    firmware: Text = Field(
        "1.0.0", min_length=1, max_length=50, description="firmware version, e.g. '2.4.1'"
    )
    protocol: Protocol
    connectors: list[ConnectorSpec] | None = Field(
        None, min_length=1, description="the connectors (default: one cType2 of 22 kW)"
    )
    evses: list[ConnectorSpec] | None = Field(
        None, min_length=1, description="another name for connectors: one connector per EVSE"
    )
    meter_values: MeterValues | None = Field(
        None,
        description="sample interval and measurands (default: 60 s; energy, power, current, "
        "voltage and SoC)",
    )
    config: dict[str, ConfigValue] = Field(
        default_factory=dict,
        description="OCPP 1.6 configuration keys (HeartbeatInterval: 300), or 2.0.1 "
        "device-model variables as Component.Variable (OCPPCommCtrlr.HeartbeatInterval: 300)",
    )
    evs: list[EVSpec] = Field(
        default_factory=lambda: list(_DEFAULT_EVS),
        min_length=1,
        description="the EV mix: each kind of car with its weight (default: 3.7, 7.4, 11 and "
        "22 kW AC cars, equally often)",
    )
    arrivals: Arrivals = Field(
        default_factory=lambda: PoissonArrivals(process="poisson", mean_interval_s=30.0),
        description="when EVs arrive at a connector (default: poisson, mean 30 s)",
    )
    dwell: Dwell = Field(
        default_factory=lambda: UniformDwell(distribution="uniform", min_s=60.0, max_s=300.0),
        description="how long an EV stays plugged in, unless it is full first (default: "
        "uniform 60-300 s)",
    )

    @field_validator("meter_values")
    @classmethod
    def _measurands_of_the_protocol(
        cls, value: MeterValues | None, info: ValidationInfo
    ) -> MeterValues | None:
        protocol = info.data.get("protocol")
        if value is None or protocol is None:
            return value
        known = config16.MEASURANDS if protocol == "1.6" else _MEASURANDS_201
        errors: list[tuple[Loc, str]] = []
        for i, measurand in enumerate(value.measurands):
            if measurand not in known:
                hint = suggest(measurand, sorted(known))
                errors.append(
                    (("measurands", i), f"{measurand!r} is not an OCPP {protocol} measurand{hint}")
                )
        if errors:
            raise LocatedError(errors)
        return value

    @field_validator("config")
    @classmethod
    def _known_settings(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        data = info.data
        if not value or not {"protocol", "connectors", "evses"} <= set(data):
            return value  # the protocol or the connectors are wrong: their problems come first
        count = len(data["connectors"] or data["evses"] or [None])
        if data["protocol"] == "1.6":
            errors = _check_config_16(value, count)
        else:
            errors = _check_config_201(value, count)
        if data.get("meter_values") is not None:
            mapped = {k.lower(): k for k in _METER_KEYS[data["protocol"]]}
            for key in value:
                if key.lower() in mapped:
                    field = "interval_s" if "interval" in key.lower() else "measurands"
                    errors.append(
                        ((key, KEY), f"{key} is also set by meter_values.{field}: keep one")
                    )
        if errors:
            raise LocatedError(errors)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ChargerTemplate:
        errors: list[tuple[Loc, str]] = []
        if self.connectors is not None and self.evses is not None:
            errors.append((("evses", KEY), "give connectors or evses, not both"))
        if self.protocol == "1.6" and len(self.vendor) > 20:
            errors.append(
                (("vendor",), "OCPP 1.6 allows 20 characters (chargePointVendor is CiString20)")
            )
        if errors:
            raise LocatedError(errors)
        # Every setting is valid alone (checked above); now all of them together.
        try:
            if self.protocol == "1.6":
                config16.KeyStore(connectors=self.connector_count(), overrides=self.settings())
            else:
                specs = device_model.standard_specs(evses=self.connector_count())
                device_model.DeviceModel(specs, self.settings())
        except ValueError as exc:
            raise LocatedError([self._where(str(exc))]) from None
        return self

    def _where(self, message: str) -> tuple[Loc, str]:
        """The place of a KeyStore/DeviceModel error "<key>: <message>" in the template."""
        key, _, text = message.partition(": ")
        for given in self.config:
            if given.lower() == key.lower():
                return (("config", given), text)
        interval_key, measurands_key = _METER_KEYS[self.protocol]
        if key.lower() == measurands_key.lower():
            return (("meter_values", "measurands"), text)
        if key.lower() == interval_key.lower():
            return (("meter_values", "interval_s"), text)
        return ((), message)

    # -- what the fleet calls ------------------------------------------------------

    def connector_specs(self) -> list[ConnectorSpec]:
        """The connectors (or EVSEs), numbered from 1 in this order."""
        given = self.connectors or self.evses
        return list(given) if given else [ConnectorSpec(type="cType2", max_power_kw=22.0)]

    def connector_count(self) -> int:
        """How many connectors (2.0.1: EVSEs with one connector each) the charger has."""
        return len(self.connector_specs())

    def connector_max_w(self) -> dict[int, float]:
        """What each connector (numbered from 1) can deliver, in W."""
        return {n: spec.max_power_w for n, spec in enumerate(self.connector_specs(), start=1)}

    def is_dc(self, connector_id: int) -> bool:
        """Connector `connector_id` (from 1) charges with DC."""
        return self.connector_specs()[connector_id - 1].is_dc

    def settings(self) -> dict[str, str]:
        """The configuration for the charger's constructor (`config=`).

        1.6: the `config` keys and MeterValueSampleInterval/MeterValuesSampledData from
        `meter_values`. 2.0.1: vendor, model and each connector's type and supply phases
        in the device model, the SampledDataCtrlr variables from `meter_values`, and the
        `config` variables (which win over the generated ones).
        """
        out: dict[str, str] = {}
        if self.protocol == "2.0.1":
            specs = self.connector_specs()
            out["ChargingStation.VendorName"] = self.vendor
            out["ChargingStation.Model"] = self.model
            out["ChargingStation.SupplyPhases"] = str(max(s.supply_phases for s in specs))
            for n, spec in enumerate(specs, start=1):
                out[f"EVSE@{n}.SupplyPhases"] = str(spec.supply_phases)
                out[f"Connector@{n}/1.ConnectorType"] = spec.type
                out[f"Connector@{n}/1.SupplyPhases"] = str(spec.supply_phases)
        interval_key, measurands_key = _METER_KEYS[self.protocol]
        if self.meter_values is not None:
            out[interval_key] = str(self.meter_values.interval_s)
            out[measurands_key] = ",".join(self.meter_values.measurands)
        out.update(self.config)
        return out

    def make_ev(self, rng: random.Random, dc: bool) -> VirtualEV:
        """A car from the mix: one kind chosen by weight, its ranges drawn, all from `rng`."""
        spec = rng.choices(self.evs, weights=[ev.weight for ev in self.evs])[0]
        return spec.make(rng, dc=dc)

    def next_arrival_s(self, rng: random.Random) -> float:
        """Seconds until the next EV arrives at a connector (a Poisson process: exponential
        gaps with mean `mean_interval_s`; or the fixed interval)."""
        arrivals = self.arrivals
        if isinstance(arrivals, FixedArrivals):
            return arrivals.interval_s
        return rng.expovariate(1.0 / arrivals.mean_interval_s)

    def dwell_s(self, rng: random.Random) -> float:
        """How long the next EV stays plugged in, in seconds (it may leave earlier if full)."""
        dwell = self.dwell
        if isinstance(dwell, FixedDwell):
            return dwell.duration_s
        if isinstance(dwell, UniformDwell):
            return rng.uniform(dwell.min_s, dwell.max_s)
        seconds = rng.lognormvariate(math.log(dwell.median_s), dwell.sigma)
        if dwell.min_s is not None:
            seconds = max(seconds, dwell.min_s)
        if dwell.max_s is not None:
            seconds = min(seconds, dwell.max_s)
        return seconds

    def build(
        self,
        charger_id: str,
        url: str,
        *,
        rng: random.Random,
        password: str | None = None,
        extra_config: Mapping[str, str] | None = None,
        **options: Any,
    ) -> VirtualCharger:
        """A virtual charger of this template: a `VirtualCharger` (1.6) or a
        `VirtualCharger201` (2.0.1) with its vendor, model, firmware version, connectors,
        their power and the settings (`extra_config` on top, e.g. the fleet's --config).
        `options` go to the constructor (e.g. call_timeout)."""
        from ocpp_chaos.simulator.charger import VirtualCharger
        from ocpp_chaos.simulator.charger201 import VirtualCharger201

        kind = VirtualCharger201 if self.protocol == "2.0.1" else VirtualCharger
        charger = kind(
            charger_id,
            url,
            connectors=self.connector_count(),
            rng=rng,
            password=password,
            config={**self.settings(), **(extra_config or {})},
            vendor=self.vendor,
            model=self.model,
            **options,
        )
        charger.firmware_version = self.firmware
        limits: dict[int, float | None] = dict(self.connector_max_w())
        charger.connector_max_w = limits
        return charger


# -- settings validation -----------------------------------------------------------------


def _check_config_16(config: Mapping[str, str], connectors: int) -> list[tuple[Loc, str]]:
    names = {spec.name.lower(): spec.name for spec in config16.CORE_KEYS}
    errors: list[tuple[Loc, str]] = []
    seen: dict[str, str] = {}
    for key, value in config.items():
        name = names.get(key.lower())
        if name is None:
            hint = suggest(key, names.values())
            if not hint and "." in key:
                hint = " (a 2.0.1 variable: this template is protocol 1.6)"
            errors.append(((key, KEY), f"unknown OCPP 1.6 configuration key {key!r}{hint}"))
            continue
        if name.lower() in seen:
            errors.append(((key, KEY), f"{name} is given twice (also as {seen[name.lower()]!r})"))
            continue
        seen[name.lower()] = key
        if name == "NumberOfConnectors":
            if value != str(connectors):
                errors.append(
                    ((key,), f"the template has {connectors} connectors; leave this key out")
                )
            continue
        try:
            config16.KeyStore(connectors=connectors, overrides={name: value})
        except ValueError as exc:
            errors.append(((key,), str(exc).removeprefix(f"{name}: ")))
    return errors


def _variable_names(specs: list[device_model.VariableSpec]) -> list[str]:
    names: dict[str, None] = {}
    for spec in specs:
        text = spec.component
        if spec.component_instance is not None:
            text += f"[{spec.component_instance}]"
        text += f".{spec.variable}"
        if spec.variable_instance is not None:
            text += f"[{spec.variable_instance}]"
        names[text] = None
    return list(names)


def _check_config_201(config: Mapping[str, str], evses: int) -> list[tuple[Loc, str]]:
    specs = device_model.standard_specs(evses=evses, connectors_per_evse=1)
    errors: list[tuple[Loc, str]] = []
    for key, value in config.items():
        try:
            device_model.DeviceModel(specs, {key: value})
        except ValueError as exc:
            message = str(exc).removeprefix(f"{key}: ")
            if "no such variable" in message or "not Component" in message:
                errors.append(((key, KEY), _unknown_variable(key, specs, evses)))
            else:
                errors.append(((key,), message))
    return errors


def _unknown_variable(key: str, specs: list[device_model.VariableSpec], evses: int) -> str:
    names = _variable_names(specs)
    if "." not in key:
        same = [n for n in names if n.rpartition(".")[2].lower() == key.lower()]
        hint = f" (did you mean {same[0]!r}?)" if same else suggest(key, names)
        return f"{key!r} is not a 2.0.1 variable: name it Component.Variable{hint}"
    if "@" in key:
        component, _, rest = key.partition("@")
        base = component + "." + rest.partition(".")[2]
        if base.lower() in {n.lower() for n in names}:
            return (
                f"{key!r}: the template has {evses} EVSE{'s' if evses != 1 else ''} with one "
                "connector each (numbered from 1)"
            )
        return f"{key!r} is not a variable of the 2.0.1 device model{suggest(base, names)}"
    return f"{key!r} is not a variable of the 2.0.1 device model{suggest(key, names)}"


# -- files -------------------------------------------------------------------------------


def _unknown_key_hint(parent: Any, key: str) -> str | None:
    if parent is ChargerTemplate:
        if key in allowed_keys(MeterValues):
            return " (it belongs under meter_values:)"
        if key in allowed_keys(EVSpec):
            return " (it belongs to an EV, under evs:)"
        names = {spec.name.lower() for spec in config16.CORE_KEYS}
        if key.lower() in names or "." in key:
            return " (configuration keys belong under config:)"
    return None


TEMPLATE_FORMAT: FileFormat[ChargerTemplate] = FileFormat(
    ChargerTemplate,
    empty="the file is empty: a template needs at least vendor, model and protocol",
    root="a template is a mapping with at least vendor, model and protocol",
    labelled=(("evs",),),
    error=TemplateFileError,
    missing_hints={(ChargerTemplate, "protocol"): " ('1.6' or '2.0.1')"},
    unknown_key_hint=_unknown_key_hint,
)
"""How template files are read (`ocpp_chaos.fileformat`)."""


def load_template_text(text: str, filename: str = "<string>") -> ChargerTemplate:
    """Validate the template `text` (YAML, or JSON); `filename` names it in problems.

    Raises `TemplateFileError` listing every problem as file:line:column: field: message.
    """
    return load_model_text(text, filename, TEMPLATE_FORMAT)


def load_template_file(path: str | Path) -> ChargerTemplate:
    """Read and validate a template file; `.json` files are JSON, others YAML (or JSON)."""
    return load_model_file(path, TEMPLATE_FORMAT)


def template_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of template files (`ocpp-chaos schema template`)."""
    return json_schema(
        ChargerTemplate,
        title="ocpp-chaos charger template",
        description="One kind of virtual charger for `ocpp-chaos fleet`: vendor, model, "
        "firmware, protocol, connectors, configuration, meter values and the EVs that come "
        "to charge. Only vendor, model and protocol are required.",
    )
