"""Charger templates: loading, every mistake where it is, and what the fleet gets from them."""

from __future__ import annotations

import json
import random
import re
import statistics
from collections import Counter
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from ocpp_chaos.cli import main
from ocpp_chaos.simulator.charger import VirtualCharger
from ocpp_chaos.simulator.charger201 import VirtualCharger201
from ocpp_chaos.simulator.template import (
    ChargerTemplate,
    TemplateFileError,
    load_template_file,
    load_template_text,
    template_json_schema,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "scenarios" / "templates"
FILES = sorted(TEMPLATES.glob("*.yaml"))


def _template(text: str) -> ChargerTemplate:
    return load_template_text(text, "t.yaml")


def _problems(text: str, name: str = "t.yaml") -> list[str]:
    with pytest.raises(TemplateFileError) as info:
        load_template_text(text, name)
    assert all(p.file == name for p in info.value.problems)
    return [str(p) for p in info.value.problems]


# -- the shipped examples and schema ------------------------------------------------------


def test_the_examples_are_there() -> None:
    assert {p.stem for p in FILES} >= {"ac-wallbox-16", "dc-fast-201", "minimal-16"}


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_example_loads_and_builds(path: Path) -> None:
    assert path.read_text().startswith("# yaml-language-server: $schema=template.schema.json\n")
    template = load_template_file(path)
    charger = template.build("CP-1", "ws://127.0.0.1:9/ocpp", rng=random.Random(1))
    assert isinstance(
        charger, VirtualCharger201 if template.protocol == "2.0.1" else VirtualCharger
    )
    assert (charger.vendor, charger.model) == (template.vendor, template.model)
    assert charger.firmware_version == template.firmware
    assert list(charger.connectors) == list(range(1, template.connector_count() + 1))
    assert charger.connector_max_w == template.connector_max_w()
    rng = random.Random(2)
    for n in charger.connectors:
        ev = template.make_ev(rng, template.is_dc(n))
        assert ev.soc < ev.target_soc or ev.full
    assert template.next_arrival_s(rng) > 0 and template.dwell_s(rng) > 0


def test_ac_wallbox_example() -> None:
    template = load_template_file(TEMPLATES / "ac-wallbox-16.yaml")
    assert template.protocol == "1.6"
    assert template.connector_max_w() == {1: 22_000.0, 2: 22_000.0}
    assert not template.is_dc(1) and not template.is_dc(2)
    charger = template.build("CP-1", "ws://127.0.0.1:9", rng=random.Random(1))
    assert charger.keys.int("NumberOfConnectors") == 2
    assert charger.keys.int("MeterValueSampleInterval") == 60
    assert charger.keys.int("HeartbeatInterval") == 600
    assert charger.keys.csl("StopTxnSampledData") == ["Energy.Active.Import.Register", "SoC"]
    assert "SoC" not in charger.keys.csl("MeterValuesSampledData")


def test_dc_fast_example() -> None:
    template = load_template_file(TEMPLATES / "dc-fast-201.yaml")
    assert template.protocol == "2.0.1"
    assert template.connector_max_w() == {1: 150_000.0, 2: 150_000.0}
    assert template.is_dc(1) and template.is_dc(2)
    assert all(ev.curve for ev in template.evs[:2])
    charger = template.build("CP-1", "ws://127.0.0.1:9", rng=random.Random(1))
    assert isinstance(charger, VirtualCharger201)
    device = charger.device
    assert device.int("SampledDataCtrlr", "TxUpdatedInterval") == 15
    assert device.int("OCPPCommCtrlr", "HeartbeatInterval") == 300
    assert device.value("Connector", "ConnectorType", evse=2, connector=1) == "cCCS2"
    assert device.int("EVSE", "SupplyPhases", evse=1) == 0
    assert device.value("ChargingStation", "VendorName") == "Volt Highway"
    # A DC car from the mix: DC voltage, one "phase", its power curve in W.
    evs = [template.make_ev(random.Random(seed), dc=True) for seed in range(50)]
    assert {ev.phases for ev in evs} == {1}
    assert {ev.voltage_v for ev in evs} <= {400.0, 750.0}
    assert any(ev.curve is not None and ev.curve[1] == (0.1, 135_000.0) for ev in evs)


def test_minimal_example_has_the_defaults() -> None:
    template = load_template_file(TEMPLATES / "minimal-16.yaml")
    assert template.firmware == "1.0.0"
    assert template.connector_count() == 1
    assert template.connector_max_w() == {1: 22_000.0}
    assert template.settings() == {}
    assert [ev.max_ac_kw for ev in template.evs] == [3.7, 7.4, 11.0, 22.0]
    charger = template.build("CP-1", "ws://127.0.0.1:9", rng=random.Random(1))
    assert charger.keys.int("MeterValueSampleInterval") == 60


def test_shipped_schema_is_current() -> None:
    shipped = json.loads((TEMPLATES / "template.schema.json").read_text())
    assert shipped == template_json_schema()


def test_schema_command_prints_the_shipped_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "template"]) == 0
    out = capsys.readouterr().out
    assert out == (TEMPLATES / "template.schema.json").read_text()
    schema = json.loads(out)
    assert schema["title"] == "ocpp-chaos charger template"
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    for path in FILES:
        assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == [], path
    assert validator.is_valid({"vendor": "a", "model": "b", "protocol": 1.6})  # unquoted 1.6
    assert not validator.is_valid({"vendor": "a", "model": "b"})
    assert not validator.is_valid({"vendor": "a", "model": "b", "protocol": "1.5"})
    assert not validator.is_valid({"vendor": "a", "model": "b", "protocol": "1.6", "colour": 1})
    assert not validator.is_valid(
        {"vendor": "a", "model": "b", "protocol": "1.6", "dwell": {"distribution": "normal"}}
    )


def test_the_readme_example_loads() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", readme, re.S)
    examples = [b for b in blocks if "$schema=template.schema.json" in b]
    assert examples
    for text in examples:
        assert _template(text).vendor


# -- loading ------------------------------------------------------------------------------


def test_minimal_template_and_protocol_spellings() -> None:
    for protocol in ("1.6", '"1.6"', "'2.0.1'", "2.0.1"):
        template = _template(f"vendor: A\nmodel: B\nprotocol: {protocol}\n")
        assert template.protocol in ("1.6", "2.0.1")
    assert _template("vendor: 3000\nmodel: 42\nprotocol: '1.6'\n").vendor == "3000"


def test_json_template_loads(tmp_path: Path) -> None:
    data = yaml.safe_load((TEMPLATES / "dc-fast-201.yaml").read_text())
    path = tmp_path / "dc.json"
    path.write_text(json.dumps(data, indent=2))
    assert load_template_file(path) == load_template_file(TEMPLATES / "dc-fast-201.yaml")


def test_connector_types_and_phases() -> None:
    template = _template(
        "vendor: A\nmodel: B\nprotocol: '2.0.1'\nevses:\n"
        "  - {type: cCHAdeMO, max_power_kw: 50}\n"
        "  - {type: cType2, max_power_kw: 22}\n"
        "  - {type: sType2, max_power_kw: 7.4, phases: 1}\n"
        "  - {type: cTesla, max_power_kw: 11, dc: false}\n"
    )
    specs = template.connector_specs()
    assert [s.type for s in specs] == ["cG105", "cType2", "sType2", "cTesla"]
    assert [s.is_dc for s in specs] == [True, False, False, False]
    assert [s.supply_phases for s in specs] == [0, 3, 1, 3]
    settings = template.settings()
    assert settings["Connector@1/1.ConnectorType"] == "cG105"
    assert settings["EVSE@3.SupplyPhases"] == "1"
    assert settings["ChargingStation.SupplyPhases"] == "3"


def test_settings_map_meter_values_per_protocol() -> None:
    text = (
        "vendor: A\nmodel: B\nprotocol: '{p}'\n"
        "meter_values: {{interval_s: 10, measurands: [Energy.Active.Import.Register, SoC]}}\n"
        "config: {{{c}: 120}}\n"
    )
    t16 = _template(text.format(p="1.6", c="HeartbeatInterval"))
    assert t16.settings() == {
        "MeterValueSampleInterval": "10",
        "MeterValuesSampledData": "Energy.Active.Import.Register,SoC",
        "HeartbeatInterval": "120",
    }
    t201 = _template(text.format(p="2.0.1", c="OCPPCommCtrlr.HeartbeatInterval"))
    settings = t201.settings()
    assert settings["SampledDataCtrlr.TxUpdatedInterval"] == "10"
    assert settings["SampledDataCtrlr.TxUpdatedMeasurands"] == "Energy.Active.Import.Register,SoC"
    assert settings["OCPPCommCtrlr.HeartbeatInterval"] == "120"
    charger = t201.build("CP-9", "ws://127.0.0.1:9", rng=random.Random(3), password="s" * 16)
    assert charger.password == "s" * 16
    assert charger.heartbeat_interval == 120.0


def test_config_values_of_every_yaml_type() -> None:
    template = _template(
        "vendor: A\nmodel: B\nprotocol: '1.6'\nconfig:\n"
        "  HeartbeatInterval: 30\n  LocalPreAuthorize: true\n"
        "  StopTxnAlignedData: [Energy.Active.Import.Register, SoC]\n"
        "  ConnectionTimeOut: '45'\n"
    )
    assert template.config == {
        "HeartbeatInterval": "30",
        "LocalPreAuthorize": "true",
        "StopTxnAlignedData": "Energy.Active.Import.Register,SoC",
        "ConnectionTimeOut": "45",
    }


# (id, file name, text, [(exact "file:line:column: field", phrase of the message), ...])
BROKEN = [
    (
        "missing protocol",
        "t.yaml",
        "vendor: A\nmodel: B\n",
        [("t.yaml:1:1: protocol", "missing required field 'protocol' ('1.6' or '2.0.1')")],
    ),
    (
        "unknown protocol",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '2.0'\n",
        [("t.yaml:3:11: protocol", "must be '1.6' or '2.0.1', not '2.0'")],
    ),
    (
        "unknown top-level key",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nfirmwar: '1.2'\n",
        [("t.yaml:4:1: firmwar", "unknown key 'firmwar' (did you mean 'firmware'?)")],
    ),
    (
        "configuration key at the top",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nHeartbeatInterval: 60\n",
        [("t.yaml:4:1: HeartbeatInterval", "(configuration keys belong under config:)")],
    ),
    (
        "meter values key at the top",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\ninterval_s: 60\n",
        [("t.yaml:4:1: interval_s", "(it belongs under meter_values:)")],
    ),
    (
        "firmware as a number",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nfirmware: 1.10\n",
        [("t.yaml:4:11: firmware", "must be text, not the number 1.1: put it in quotes")],
    ),
    (
        "model too long",
        "t.yaml",
        "vendor: A\nmodel: ABCDEFGHIJKLMNOPQRSTUVWXYZ\nprotocol: '2.0.1'\n",
        [("t.yaml:2:8: model", "must have at most 20 characters")],
    ),
    (
        "vendor too long for 1.6",
        "t.yaml",
        "vendor: ABCDEFGHIJKLMNOPQRSTUVWXYZ\nmodel: B\nprotocol: '1.6'\n",
        [("t.yaml:1:9: vendor", "OCPP 1.6 allows 20 characters")],
    ),
    (
        "unknown connector type",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nconnectors:\n  - {type: Type2, max_power_kw: 22}\n",
        [("t.yaml:5:12: connectors[0].type", "not 'Type2' (did you mean 'sType2'?)")],
    ),
    (
        "connector without power",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nconnectors:\n  - type: cType2\n",
        [("t.yaml:5:5: connectors[0].max_power_kw", "missing required field 'max_power_kw'")],
    ),
    (
        "connector power not positive",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nconnectors:\n  - {max_power_kw: 0}\n",
        [("t.yaml:5:20: connectors[0].max_power_kw", "must be greater than 0, not 0")],
    ),
    (
        "phases on DC",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nconnectors:\n"
        "  - type: cCCS2\n    max_power_kw: 50\n    phases: 3\n",
        [("t.yaml:7:5: connectors[0].phases", "a DC connector has no phases")],
    ),
    (
        "bad phases",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nconnectors:\n  - {max_power_kw: 22, phases: 4}\n",
        [("t.yaml:5:32: connectors[0].phases", "must be 1, 2 or 3, not 4")],
    ),
    (
        "connectors and evses",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nconnectors: [{max_power_kw: 22}]\n"
        "evses: [{max_power_kw: 22}]\n",
        [("t.yaml:5:1: evses", "give connectors or evses, not both")],
    ),
    (
        "empty connector list",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nconnectors: []\n",
        [("t.yaml:4:13: connectors", "must have at least 1 item")],
    ),
    (
        "1.6 config key misspelt",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nconfig:\n  HeartbeatInterval: 60\n"
        "  MeterValueSampleIntervall: 10\n",
        [
            (
                "t.yaml:6:3: config.MeterValueSampleIntervall",
                "unknown OCPP 1.6 configuration key 'MeterValueSampleIntervall' "
                "(did you mean 'MeterValueSampleInterval'?)",
            )
        ],
    ),
    (
        "1.6 config value",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nconfig:\n  HeartbeatInterval: soon\n"
        "  LightIntensity: 150\n",
        [
            ("t.yaml:5:22: config.HeartbeatInterval", "'soon' is not an integer"),
            ("t.yaml:6:19: config.LightIntensity", "150 is above the maximum 100"),
        ],
    ),
    (
        "2.0.1 variable in a 1.6 template",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nconfig:\n  SampledDataCtrlr.TxUpdatedInterval: 5\n",
        [
            (
                't.yaml:5:3: config["SampledDataCtrlr.TxUpdatedInterval"]',
                "unknown OCPP 1.6 configuration key",
            )
        ],
    ),
    (
        "NumberOfConnectors",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nconfig:\n  NumberOfConnectors: 3\n",
        [("t.yaml:5:23: config.NumberOfConnectors", "the template has 1 connectors")],
    ),
    (
        "2.0.1 variable misspelt",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '2.0.1'\nconfig:\n  OCPPCommCtrlr.HeartbeatIntervl: 60\n",
        [
            (
                't.yaml:5:3: config["OCPPCommCtrlr.HeartbeatIntervl"]',
                "is not a variable of the 2.0.1 device model "
                "(did you mean 'OCPPCommCtrlr.HeartbeatInterval'?)",
            )
        ],
    ),
    (
        "1.6 key in a 2.0.1 template",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '2.0.1'\nconfig:\n  HeartbeatInterval: 60\n",
        [
            (
                "t.yaml:5:3: config.HeartbeatInterval",
                "name it Component.Variable (did you mean 'OCPPCommCtrlr.HeartbeatInterval'?)",
            )
        ],
    ),
    (
        "2.0.1 value",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '2.0.1'\nconfig:\n  AuthCtrlr.Enabled: maybe\n",
        [('t.yaml:5:22: config["AuthCtrlr.Enabled"]', "'maybe' is not true or false")],
    ),
    (
        "2.0.1 EVSE that is not there",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '2.0.1'\nconfig:\n  EVSE@2.SupplyPhases: 1\n",
        [('t.yaml:5:3: config["EVSE@2.SupplyPhases"]', "the template has 1 EVSE with one")],
    ),
    (
        "config key also set by meter_values",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nmeter_values: {interval_s: 10}\n"
        "config:\n  MeterValueSampleInterval: 20\n",
        [
            (
                "t.yaml:6:3: config.MeterValueSampleInterval",
                "also set by meter_values.interval_s: keep one",
            )
        ],
    ),
    (
        "unknown measurand",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nmeter_values:\n  measurands:\n"
        "    - Energy.Active.Import.Register\n    - Power.Active.Imprt\n",
        [
            (
                "t.yaml:7:7: meter_values.measurands[1]",
                "'Power.Active.Imprt' is not an OCPP 1.6 measurand "
                "(did you mean 'Power.Active.Import'?)",
            )
        ],
    ),
    (
        "2.0.1 measurand in 1.6",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nmeter_values: {measurands: Energy.Active.Net}\n",
        [
            (
                "t.yaml:4:28: meter_values.measurands",
                "'Energy.Active.Net' is not an OCPP 1.6 measurand",
            )
        ],
    ),
    (
        "too many measurands",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nmeter_values:\n  measurands: [SoC, Voltage, "
        "Current.Import, Current.Offered, Power.Offered, Frequency, Temperature, RPM, "
        "Power.Factor]\n",
        [
            (
                "t.yaml:5:15: meter_values.measurands",
                "9 items, more than MeterValuesSampledDataMaxLength (8)",
            )
        ],
    ),
    (
        "negative interval",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nmeter_values: {interval_s: -1}\n",
        [("t.yaml:4:28: meter_values.interval_s", "must be greater than or equal to 0")],
    ),
    (
        "soc as a percentage",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nevs:\n  - {name: city, soc: 80}\n",
        [("t.yaml:5:23: evs[0] (city).soc", "a fraction 0..1 (0.8 for 80 %), not 80")],
    ),
    (
        "soc range out of bounds",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nevs:\n  - soc: [0.1, 1.5]\n",
        [("t.yaml:5:16: evs[0].soc[1]", "a fraction within 0..1, not 1.5")],
    ),
    (
        "range upside down",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nevs:\n  - capacity_kwh: [80, 40]\n",
        [("t.yaml:5:24: evs[0].capacity_kwh[1]", "the range's max 40 is below its min 80")],
    ),
    (
        "range of three",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nevs:\n  - capacity_kwh: [40, 60, 80]\n",
        [("t.yaml:5:19: evs[0].capacity_kwh", "a range is [min, max]: two numbers")],
    ),
    (
        "range of text",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nevs:\n  - capacity_kwh: [40, big]\n",
        [("t.yaml:5:24: evs[0].capacity_kwh[1]", "must be a number, not 'big'")],
    ),
    (
        "arriving full",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nevs:\n  - {soc: 0.9, target_soc: 0.8}\n",
        [("t.yaml:5:11: evs[0].soc", "every car would arrive at or above its target_soc")],
    ),
    (
        "zero weight",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nevs:\n  - {weight: 0}\n",
        [("t.yaml:5:14: evs[0].weight", "must be greater than 0, not 0")],
    ),
    (
        "unknown EV key",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nevs:\n  - {name: van, max_dc_kv: 50}\n",
        [("t.yaml:5:17: evs[0] (van).max_dc_kv", "unknown key 'max_dc_kv' (did you mean")],
    ),
    (
        "EV key at the top",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\ncapacity_kwh: 60\n",
        [("t.yaml:4:1: capacity_kwh", "(it belongs to an EV, under evs:)")],
    ),
    (
        "curve not increasing",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nevs:\n  - curve: [[0, 50], [0.5, 40], [0.4, 30]]\n",
        [("t.yaml:5:34: evs[0].curve[2][0]", "SoC 0.4 does not follow 0.5")],
    ),
    (
        "curve with zero power",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nevs:\n  - curve:\n      - [0.0, 50]\n"
        "      - [1.0, 0]\n",
        [("t.yaml:7:15: evs[0].curve[1][1]", "the power must be greater than 0 kW, not 0")],
    ),
    (
        "curve point with three numbers",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nevs:\n  - curve: [[0, 50, 1]]\n",
        [("t.yaml:5:13: evs[0].curve[0]", "must have at most 2 items, not 3")],
    ),
    (
        "empty EV mix",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nevs: []\n",
        [("t.yaml:4:6: evs", "must have at least 1 item")],
    ),
    (
        "unknown arrival process",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\narrivals: {process: poison, mean_interval_s: 5}\n",
        [
            (
                "t.yaml:4:21: arrivals.process",
                "arrivals process 'poison' is unknown (did you mean 'poisson'?); one of: "
                "poisson, fixed",
            )
        ],
    ),
    (
        "poisson without a mean",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\narrivals: {process: poisson}\n",
        [("t.yaml:4:11: arrivals.mean_interval_s", "missing required field 'mean_interval_s'")],
    ),
    (
        "dwell without a distribution",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\ndwell: {median_s: 60}\n",
        [
            (
                "t.yaml:4:8: dwell.distribution",
                "missing required field 'distribution', one of: lognormal, uniform, fixed",
            )
        ],
    ),
    (
        "dwell key of another distribution",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\ndwell:\n  distribution: uniform\n"
        "  min_s: 60\n  max_s: 120\n  sigma: 1\n",
        [("t.yaml:8:3: dwell.sigma", "unknown key 'sigma'; expected one of: distribution, min_s")],
    ),
    (
        "uniform dwell upside down",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\n"
        "dwell: {distribution: uniform, min_s: 60, max_s: 30}\n",
        [("t.yaml:4:50: dwell.max_s", "max_s 30 is below min_s")],
    ),
    (
        "dwell given as a string",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\ndwell: lognormal\n",
        [("t.yaml:4:8: dwell", "must be a mapping such as {distribution: lognormal}")],
    ),
    (
        "key given twice",
        "t.yaml",
        "vendor: A\nmodel: B\nprotocol: '1.6'\nvendor: C\n",
        [("t.yaml:4:1: vendor", "key 'vendor' is given twice in this mapping")],
    ),
    ("empty file", "t.yaml", "", [("t.yaml:1:1", "a template needs at least vendor, model")]),
    (
        "a list",
        "t.yaml",
        "- vendor: A\n",
        [("t.yaml:1:1", "a template is a mapping with at least vendor, model and protocol")],
    ),
    (
        "YAML syntax",
        "t.yaml",
        "vendor: A\nmodel: [B\n",
        [("t.yaml:3:1", "invalid YAML")],
    ),
    (
        "JSON unknown key and bad value",
        "t.json",
        '{"vendor": "A", "model": "B", "protocol": "2.0.1",\n'
        ' "meter_values": {"interval": 30},\n'
        ' "config": {"OCPPCommCtrlr.HeartbeatInterval": "x"}}\n',
        [
            (
                "t.json:2:19: meter_values.interval",
                "unknown key 'interval' (did you mean 'interval_s'?)",
            ),
            (
                't.json:3:48: config["OCPPCommCtrlr.HeartbeatInterval"]',
                "'x' is not an integer",
            ),
        ],
    ),
    (
        "JSON curve",
        "t.json",
        '{"vendor": "A", "model": "B", "protocol": "1.6",\n'
        ' "evs": [{"curve": [[0, 50], [2, 10]], "soc": [0.2, 0.1]}]}\n',
        [
            ("t.json:2:31: evs[0].curve[1][0]", "a fraction 0..1 (0.02 for 2 %), not 2"),
            ("t.json:2:53: evs[0].soc[1]", "the range's max 0.1 is below its min 0.2"),
        ],
    ),
    (
        "JSON syntax",
        "t.json",
        '{"vendor": "A",}\n',
        [("t.json:1:16", "invalid JSON")],
    ),
]


@pytest.mark.parametrize(
    ("name", "text", "expected"), [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN]
)
def test_broken_template_reports_where_and_what(
    name: str, text: str, expected: list[tuple[str, str]]
) -> None:
    problems = _problems(text, name)
    assert len(problems) == len(expected), problems
    for line, (where, phrase) in zip(problems, expected, strict=True):
        assert line.startswith(where + ": "), line
        assert phrase in line, line


def test_every_problem_is_reported_at_once() -> None:
    text = """\
vendor: A
model: B
protocol: "2.0.1"
firmware: 2.1
evses:
  - {type: cCCS2, max_power_kw: 150}
meter_values: {interval_s: 10, measurands: [SoC, Voltag]}
config:
  OCPPCommCtrlr.HeartbeatInterval: x
  TxCtrlr.Nope: 1
evs:
  - {soc: 2, weight: -1}
dwell: {distribution: fixed}
"""
    assert [p.split(": ")[0] + ": " + p.split(": ")[1] for p in _problems(text)] == [
        "t.yaml:4:11: firmware",
        "t.yaml:7:50: meter_values.measurands[1]",
        't.yaml:9:36: config["OCPPCommCtrlr.HeartbeatInterval"]',
        't.yaml:10:3: config["TxCtrlr.Nope"]',
        "t.yaml:12:11: evs[0].soc",
        "t.yaml:12:22: evs[0].weight",
        "t.yaml:13:8: dwell.duration_s",
    ]


def test_unreadable_template_file(tmp_path: Path) -> None:
    with pytest.raises(TemplateFileError, match=r"nope.yaml:0:0: cannot read"):
        load_template_file(tmp_path / "nope.yaml")


def test_direct_validation_without_the_loader_still_refuses() -> None:
    with pytest.raises(ValueError, match="HeartbeatIntervl"):
        ChargerTemplate.model_validate(
            {"vendor": "A", "model": "B", "protocol": "1.6", "config": {"HeartbeatIntervl": 1}}
        )


# -- the EV mix, arrivals and dwell ---------------------------------------------------------

MIX = """\
vendor: A
model: B
protocol: "1.6"
connectors:
  - {type: sType2, max_power_kw: 22}
  - {type: cCCS2, max_power_kw: 100}
evs:
  - name: small
    weight: 3
    capacity_kwh: [40, 50]
    soc: [0.1, 0.3]
    target_soc: [0.8, 0.9]
    max_ac_kw: 7.4
    ac_phases: 1
  - name: big
    weight: 1
    capacity_kwh: 100
    soc: 0.2
    target_soc: 0.8
    max_ac_kw: 22
    max_dc_kw: 150
    curve: [[0, 120], [0.5, 150], [0.8, 60], [1.0, 20]]
arrivals: {process: poisson, mean_interval_s: 600}
dwell: {distribution: lognormal, median_s: 3600, sigma: 0.5, max_s: 7200}
"""


def test_ev_mix_follows_the_weights_and_the_seed() -> None:
    template = _template(MIX)
    first = [template.make_ev(random.Random(11), dc=False) for _ in range(2)]
    assert first[0] == first[1]  # the same seed, the same car
    rng = random.Random(5)
    cars = [template.make_ev(rng, dc=False) for _ in range(4000)]
    again = random.Random(5)
    assert cars == [template.make_ev(again, dc=False) for _ in range(4000)]
    kinds = Counter("big" if ev.capacity_wh == 100_000.0 else "small" for ev in cars)
    assert kinds["small"] / len(cars) == pytest.approx(0.75, abs=0.03)
    for ev in cars:
        if ev.capacity_wh == 100_000.0:
            assert (ev.soc, ev.target_soc, ev.max_power_w, ev.phases) == (0.2, 0.8, 22_000.0, 3)
            assert ev.curve == ((0, 120_000.0), (0.5, 150_000.0), (0.8, 60_000.0), (1.0, 20_000.0))
        else:
            assert 40_000.0 <= ev.capacity_wh <= 50_000.0
            assert 0.1 <= ev.soc <= 0.3 and 0.8 <= ev.target_soc <= 0.9
            assert (ev.max_power_w, ev.phases, ev.voltage_v, ev.curve) == (7_400.0, 1, 230.0, None)
    socs = [ev.soc for ev in cars if ev.capacity_wh != 100_000.0]
    assert min(socs) < 0.12 and max(socs) > 0.28  # the whole range is drawn


def test_dc_cars_take_dc_power() -> None:
    template = _template(MIX)
    assert not template.is_dc(1) and template.is_dc(2)
    rng = random.Random(8)
    cars = [template.make_ev(rng, dc=True) for _ in range(200)]
    powers = {ev.max_power_w for ev in cars}
    assert powers == {150_000.0, 50_000.0}  # max_dc_kw, or 50 kW without curve nor max
    assert {(ev.phases, ev.voltage_v) for ev in cars} == {(1, 400.0)}
    no_max = _template(MIX.replace("    max_dc_kw: 150\n", ""))
    big = [no_max.make_ev(random.Random(s), dc=True) for s in range(40)]
    assert 150_000.0 in {ev.max_power_w for ev in big}  # the curve's peak


def test_a_template_car_charges_to_its_target() -> None:
    template = _template(MIX)
    rng = random.Random(3)
    for _ in range(20):
        ev = template.make_ev(rng, dc=True)
        start = ev.soc
        wh = ev.charge(10 * 3600.0)
        assert ev.full and ev.soc == ev.target_soc
        assert wh == pytest.approx((ev.target_soc - start) * ev.capacity_wh)


def test_poisson_arrivals() -> None:
    template = _template(MIX)
    gaps = [template.next_arrival_s(random.Random(9)) for _ in range(3)]
    assert gaps[0] == gaps[1] == gaps[2]
    rng = random.Random(1)
    gaps = [template.next_arrival_s(rng) for _ in range(20_000)]
    assert all(g >= 0 for g in gaps)
    assert statistics.fmean(gaps) == pytest.approx(600.0, rel=0.05)
    # Exponential gaps: the standard deviation equals the mean, and ~63 % are below it.
    assert statistics.pstdev(gaps) == pytest.approx(600.0, rel=0.07)
    assert sum(g < 600.0 for g in gaps) / len(gaps) == pytest.approx(0.632, abs=0.02)
    fixed = _template(
        MIX.replace("{process: poisson, mean_interval_s: 600}", "{process: fixed, interval_s: 90}")
    )
    assert {fixed.next_arrival_s(rng) for _ in range(10)} == {90.0}


def test_dwell_distributions() -> None:
    template = _template(MIX)
    rng = random.Random(2)
    stays = [template.dwell_s(rng) for _ in range(20_000)]
    assert max(stays) <= 7200.0 and min(stays) > 0
    assert statistics.median(stays) == pytest.approx(3600.0, rel=0.05)
    again = random.Random(2)
    assert stays[:100] == [template.dwell_s(again) for _ in range(100)]

    uniform = _template(
        MIX.replace(
            "{distribution: lognormal, median_s: 3600, sigma: 0.5, max_s: 7200}",
            "{distribution: uniform, min_s: 100, max_s: 200}",
        )
    )
    stays = [uniform.dwell_s(rng) for _ in range(5000)]
    assert 100.0 <= min(stays) < 105.0 and 195.0 < max(stays) <= 200.0
    assert statistics.fmean(stays) == pytest.approx(150.0, rel=0.02)

    fixed = _template(
        MIX.replace(
            "{distribution: lognormal, median_s: 3600, sigma: 0.5, max_s: 7200}",
            "{distribution: fixed, duration_s: 1800}",
        )
    )
    assert {fixed.dwell_s(rng) for _ in range(5)} == {1800.0}


def test_defaults_match_the_fleet_defaults() -> None:
    template = _template("vendor: A\nmodel: B\nprotocol: '1.6'\n")
    rng = random.Random(4)
    stays = [template.dwell_s(rng) for _ in range(1000)]
    assert 60.0 <= min(stays) and max(stays) <= 300.0
    gaps = [template.next_arrival_s(rng) for _ in range(5000)]
    assert statistics.fmean(gaps) == pytest.approx(30.0, rel=0.1)
    powers = Counter(template.make_ev(rng, dc=False).max_power_w for _ in range(2000))
    assert set(powers) == {3_700.0, 7_400.0, 11_000.0, 22_000.0}
