"""The OCPP 2.0.1 device model: GetVariables, SetVariables and base reports as B05-B07 say."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ocpp.charge_point import snake_to_camel_case
from ocpp.messages import MessageType, get_validator

from ocpp_chaos.simulator.device_model import DeviceModel, VariableSpec, standard_specs

SPECS = standard_specs(evses=2, connectors_per_evse=2)
WRITABLE = [spec for spec in SPECS if spec.mutability != "ReadOnly"]

# (component, variable, variable instance) -> mutability, per the 2.0.1 Appendices.
EXPECTED_MUTABILITY = {
    ("ChargingStation", "AvailabilityState", None): "ReadOnly",
    ("ChargingStation", "Available", None): "ReadOnly",
    ("ChargingStation", "Model", None): "ReadOnly",
    ("ChargingStation", "VendorName", None): "ReadOnly",
    ("ChargingStation", "SerialNumber", None): "ReadOnly",
    ("EVSE", "AvailabilityState", None): "ReadOnly",
    ("EVSE", "Available", None): "ReadOnly",
    ("EVSE", "Power", None): "ReadOnly",
    ("Connector", "AvailabilityState", None): "ReadOnly",
    ("Connector", "Available", None): "ReadOnly",
    ("Connector", "ConnectorType", None): "ReadOnly",
    ("OCPPCommCtrlr", "HeartbeatInterval", None): "ReadWrite",
    ("OCPPCommCtrlr", "MessageTimeout", "Default"): "ReadOnly",
    ("OCPPCommCtrlr", "NetworkConfigurationPriority", None): "ReadWrite",
    ("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", None): "ReadWrite",
    ("OCPPCommCtrlr", "OfflineThreshold", None): "ReadWrite",
    ("OCPPCommCtrlr", "ResetRetries", None): "ReadWrite",
    ("OCPPCommCtrlr", "RetryBackOffRandomRange", None): "ReadWrite",
    ("OCPPCommCtrlr", "RetryBackOffRepeatTimes", None): "ReadWrite",
    ("OCPPCommCtrlr", "RetryBackOffWaitMinimum", None): "ReadWrite",
    ("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent"): "ReadWrite",
    ("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent"): "ReadWrite",
    ("OCPPCommCtrlr", "UnlockOnEVSideDisconnect", None): "ReadWrite",
    ("OCPPCommCtrlr", "WebSocketPingInterval", None): "ReadWrite",
    ("OCPPCommCtrlr", "FileTransferProtocols", None): "ReadOnly",
    ("TxCtrlr", "EVConnectionTimeOut", None): "ReadWrite",
    ("TxCtrlr", "StopTxOnEVSideDisconnect", None): "ReadWrite",
    ("TxCtrlr", "StopTxOnInvalidId", None): "ReadWrite",
    ("TxCtrlr", "TxStartPoint", None): "ReadWrite",
    ("TxCtrlr", "TxStopPoint", None): "ReadWrite",
    ("TxCtrlr", "MaxEnergyOnInvalidId", None): "ReadWrite",
    ("SampledDataCtrlr", "Enabled", None): "ReadWrite",
    ("SampledDataCtrlr", "TxEndedMeasurands", None): "ReadWrite",
    ("SampledDataCtrlr", "TxEndedInterval", None): "ReadWrite",
    ("SampledDataCtrlr", "TxStartedMeasurands", None): "ReadWrite",
    ("SampledDataCtrlr", "TxUpdatedMeasurands", None): "ReadWrite",
    ("SampledDataCtrlr", "TxUpdatedInterval", None): "ReadWrite",
    ("AlignedDataCtrlr", "Measurands", None): "ReadWrite",
    ("AlignedDataCtrlr", "Interval", None): "ReadWrite",
    ("AlignedDataCtrlr", "TxEndedMeasurands", None): "ReadWrite",
    ("AlignedDataCtrlr", "TxEndedInterval", None): "ReadWrite",
    ("AuthCtrlr", "Enabled", None): "ReadWrite",
    ("AuthCtrlr", "AuthorizeRemoteStart", None): "ReadWrite",
    ("AuthCtrlr", "LocalAuthorizeOffline", None): "ReadWrite",
    ("AuthCtrlr", "LocalPreAuthorize", None): "ReadWrite",
    ("AuthCacheCtrlr", "Enabled", None): "ReadWrite",
    ("AuthCacheCtrlr", "LifeTime", None): "ReadWrite",
    ("LocalAuthListCtrlr", "Enabled", None): "ReadWrite",
    ("LocalAuthListCtrlr", "Entries", None): "ReadOnly",
    ("LocalAuthListCtrlr", "ItemsPerMessage", None): "ReadOnly",
    ("LocalAuthListCtrlr", "BytesPerMessage", None): "ReadOnly",
    ("ReservationCtrlr", "Enabled", None): "ReadWrite",
    ("SmartChargingCtrlr", "Enabled", None): "ReadWrite",
    ("SmartChargingCtrlr", "Entries", "ChargingProfiles"): "ReadOnly",
    ("SmartChargingCtrlr", "LimitChangeSignificance", None): "ReadWrite",
    ("SmartChargingCtrlr", "ProfileStackLevel", None): "ReadOnly",
    ("SmartChargingCtrlr", "RateUnit", None): "ReadOnly",
    ("SmartChargingCtrlr", "PeriodsPerSchedule", None): "ReadOnly",
    ("DeviceDataCtrlr", "ItemsPerMessage", "GetReport"): "ReadOnly",
    ("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables"): "ReadOnly",
    ("DeviceDataCtrlr", "ItemsPerMessage", "SetVariables"): "ReadOnly",
    ("DeviceDataCtrlr", "BytesPerMessage", "GetReport"): "ReadOnly",
    ("DeviceDataCtrlr", "BytesPerMessage", "GetVariables"): "ReadOnly",
    ("DeviceDataCtrlr", "BytesPerMessage", "SetVariables"): "ReadOnly",
    ("ClockCtrlr", "DateTime", None): "ReadOnly",
    ("ClockCtrlr", "TimeSource", None): "ReadWrite",
    ("SecurityCtrlr", "SecurityProfile", None): "ReadOnly",
    ("SecurityCtrlr", "OrganizationName", None): "ReadWrite",
    ("SecurityCtrlr", "BasicAuthPassword", None): "WriteOnly",
}

DEFAULTS = {
    ("OCPPCommCtrlr", "HeartbeatInterval", None): "300",
    ("OCPPCommCtrlr", "OfflineThreshold", None): "60",
    ("OCPPCommCtrlr", "MessageTimeout", "Default"): "30",
    ("OCPPCommCtrlr", "RetryBackOffWaitMinimum", None): "3",
    ("OCPPCommCtrlr", "RetryBackOffRandomRange", None): "10",
    ("OCPPCommCtrlr", "RetryBackOffRepeatTimes", None): "5",
    ("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent"): "3",
    ("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent"): "60",
    ("SampledDataCtrlr", "TxUpdatedInterval", None): "60",
    ("SampledDataCtrlr", "TxUpdatedMeasurands", None): (
        "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC"
    ),
    ("TxCtrlr", "TxStartPoint", None): "PowerPathClosed",
}


def item(
    component: str,
    variable: str,
    *,
    value: str | None = None,
    evse: int | None = None,
    connector: int | None = None,
    component_instance: str | None = None,
    variable_instance: str | None = None,
    attribute_type: str | None = None,
) -> dict[str, Any]:
    """A GetVariableData/SetVariableData item in the ocpp library's snake_case."""
    comp: dict[str, Any] = {"name": component}
    if component_instance is not None:
        comp["instance"] = component_instance
    if evse is not None:
        comp["evse"] = {"id": evse}
        if connector is not None:
            comp["evse"]["connector_id"] = connector
    var: dict[str, Any] = {"name": variable}
    if variable_instance is not None:
        var["instance"] = variable_instance
    data: dict[str, Any] = {"component": comp, "variable": var}
    if value is not None:
        data["attribute_value"] = value
    if attribute_type is not None:
        data["attribute_type"] = attribute_type
    return data


def get1(model: DeviceModel, *args: Any, **kwargs: Any) -> dict[str, Any]:
    [result] = model.get_variables([item(*args, **kwargs)])
    return result


def set1(model: DeviceModel, *args: Any, **kwargs: Any) -> dict[str, Any]:
    [result] = model.set_variables([item(*args, **kwargs)])
    return result


def check_schema(action: str, payload: dict[str, Any], *, response: bool) -> None:
    """Validate against the 2.0.1 JSON schema the ocpp library uses on the wire."""
    kind = MessageType.CallResult if response else MessageType.Call
    get_validator(kind, action, "2.0.1").validate(snake_to_camel_case(payload))


@pytest.fixture
def model() -> DeviceModel:
    return DeviceModel(SPECS)


# --- standard components ---------------------------------------------------------------


def test_standard_variables_have_the_spec_mutability() -> None:
    found = {(s.component, s.variable, s.variable_instance): s.mutability for s in SPECS}
    for key, mutability in EXPECTED_MUTABILITY.items():
        assert found.get(key) == mutability, key


def test_standard_defaults(model: DeviceModel) -> None:
    for (component, variable, instance), default in DEFAULTS.items():
        assert model.value(component, variable, variable_instance=instance) == default


def test_evse_and_connector_components_are_per_evse_and_connector() -> None:
    specs = standard_specs(evses=2, connectors_per_evse=3)
    evses = {s.evse for s in specs if s.component == "EVSE"}
    connectors = {(s.evse, s.connector) for s in specs if s.component == "Connector"}
    assert evses == {1, 2}
    assert connectors == {(e, c) for e in (1, 2) for c in (1, 2, 3)}
    power = next(s for s in specs if s.component == "EVSE" and s.variable == "Power")
    assert power.max_limit is not None and power.unit == "W"


def test_standard_specs_needs_an_evse_and_a_connector() -> None:
    with pytest.raises(ValueError):
        standard_specs(evses=0)
    with pytest.raises(ValueError):
        standard_specs(connectors_per_evse=0)


def test_duplicate_spec_is_refused() -> None:
    spec = VariableSpec("X", "Y", "integer", "ReadWrite", "1")
    with pytest.raises(ValueError, match=r"X\.Y"):
        DeviceModel([spec, spec])


def test_spec_with_invalid_default_is_refused() -> None:
    with pytest.raises(ValueError, match="default"):
        VariableSpec("X", "Y", "integer", "ReadWrite", "abc")
    with pytest.raises(ValueError, match="values_list"):
        VariableSpec("X", "Y", "OptionList", "ReadWrite", "a")
    with pytest.raises(ValueError, match="data type"):
        VariableSpec("X", "Y", "float", "ReadWrite", "1")


# --- GetVariables (B06) ----------------------------------------------------------------


def test_get_known_variable(model: DeviceModel) -> None:
    result = get1(model, "OCPPCommCtrlr", "HeartbeatInterval")
    assert result == {
        "component": {"name": "OCPPCommCtrlr"},
        "variable": {"name": "HeartbeatInterval"},
        "attribute_status": "Accepted",
        "attribute_value": "300",
    }
    check_schema("GetVariables", {"get_variable_result": [result]}, response=True)


def test_get_ignores_case_and_echoes_the_request(model: DeviceModel) -> None:
    result = get1(model, "ocppcommctrlr", "MESSAGETIMEOUT", variable_instance="default")
    assert result["attribute_status"] == "Accepted"
    assert result["attribute_value"] == "30"
    assert result["variable"] == {"name": "MESSAGETIMEOUT", "instance": "default"}


def test_get_unknown_component_and_variable(model: DeviceModel) -> None:
    results = model.get_variables(
        [
            item("NoSuchCtrlr", "HeartbeatInterval"),
            item("OCPPCommCtrlr", "NoSuchVariable"),
            # The instance is part of the variable's name: without it, it is another one.
            item("OCPPCommCtrlr", "MessageTimeout"),
            # And of the component's.
            item("OCPPCommCtrlr", "HeartbeatInterval", component_instance="X"),
        ]
    )
    assert [r["attribute_status"] for r in results] == [
        "UnknownComponent",
        "UnknownVariable",
        "UnknownVariable",
        "UnknownComponent",
    ]
    assert all("attribute_value" not in r for r in results)
    check_schema("GetVariables", {"get_variable_result": results}, response=True)


def test_get_write_only_is_rejected(model: DeviceModel) -> None:
    result = get1(model, "SecurityCtrlr", "BasicAuthPassword")
    assert result["attribute_status"] == "Rejected"
    assert "attribute_value" not in result
    check_schema("GetVariables", {"get_variable_result": [result]}, response=True)


@pytest.mark.parametrize("attribute_type", ["Target", "MinSet", "MaxSet"])
def test_get_other_attribute_types_are_not_supported(
    model: DeviceModel, attribute_type: str
) -> None:
    result = get1(model, "OCPPCommCtrlr", "HeartbeatInterval", attribute_type=attribute_type)
    assert result["attribute_status"] == "NotSupportedAttributeType"
    assert result["attribute_type"] == attribute_type
    explicit = get1(model, "OCPPCommCtrlr", "HeartbeatInterval", attribute_type="Actual")
    assert explicit["attribute_status"] == "Accepted"
    assert explicit["attribute_type"] == "Actual"


def test_get_evse_scoped_variables(model: DeviceModel) -> None:
    model.set_internal("EVSE", "Power", "7400", evse=2)
    model.set_internal("Connector", "AvailabilityState", "Occupied", evse=2, connector=1)
    results = model.get_variables(
        [
            item("EVSE", "Power", evse=1),
            item("EVSE", "Power", evse=2),
            item("EVSE", "Power", evse=3),  # No such EVSE.
            item("EVSE", "Power"),  # EVSE without its id.
            item("Connector", "AvailabilityState", evse=2, connector=1),
            item("Connector", "AvailabilityState", evse=2, connector=2),
            item("Connector", "AvailabilityState", evse=2, connector=9),
            item("Connector", "AvailabilityState", evse=2),  # Connector without its id.
            item("OCPPCommCtrlr", "HeartbeatInterval", evse=1),  # Not an EVSE component.
        ]
    )
    assert [(r["attribute_status"], r.get("attribute_value")) for r in results] == [
        ("Accepted", "0"),
        ("Accepted", "7400"),
        ("UnknownComponent", None),
        ("UnknownComponent", None),
        ("Accepted", "Occupied"),
        ("Accepted", "Available"),
        ("UnknownComponent", None),
        ("UnknownComponent", None),
        ("UnknownComponent", None),
    ]
    check_schema("GetVariables", {"get_variable_result": results}, response=True)


def test_get_malformed_items_do_not_raise(model: DeviceModel) -> None:
    results = model.get_variables(
        [
            {"component": "OCPPCommCtrlr", "variable": {"name": "HeartbeatInterval"}},
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": 5}},
            {"component": {"name": "EVSE", "evse": {"id": "1"}}, "variable": {"name": "Power"}},
        ]
    )
    assert [r["attribute_status"] for r in results] == [
        "UnknownComponent",
        "UnknownVariable",
        "UnknownComponent",
    ]


# --- SetVariables (B05) ----------------------------------------------------------------


def test_set_accepted_changes_the_value(model: DeviceModel) -> None:
    result = set1(model, "OCPPCommCtrlr", "HeartbeatInterval", value="120")
    assert result == {
        "component": {"name": "OCPPCommCtrlr"},
        "variable": {"name": "HeartbeatInterval"},
        "attribute_status": "Accepted",
    }
    assert model.int("OCPPCommCtrlr", "HeartbeatInterval") == 120
    assert get1(model, "OCPPCommCtrlr", "HeartbeatInterval")["attribute_value"] == "120"
    check_schema("SetVariables", {"set_variable_result": [result]}, response=True)


def test_set_read_only_is_rejected(model: DeviceModel) -> None:
    result = set1(model, "OCPPCommCtrlr", "MessageTimeout", value="10", variable_instance="Default")
    assert result["attribute_status"] == "Rejected"
    assert model.int("OCPPCommCtrlr", "MessageTimeout", variable_instance="Default") == 30
    check_schema("SetVariables", {"set_variable_result": [result]}, response=True)


def test_set_write_only_is_accepted_but_never_read(model: DeviceModel) -> None:
    result = set1(model, "SecurityCtrlr", "BasicAuthPassword", value="a-new-password-1234")
    assert result["attribute_status"] == "Accepted"
    assert model.value("SecurityCtrlr", "BasicAuthPassword") == "a-new-password-1234"
    assert get1(model, "SecurityCtrlr", "BasicAuthPassword")["attribute_status"] == "Rejected"
    # BasicAuthPassword is 16..40 characters.
    short = set1(model, "SecurityCtrlr", "BasicAuthPassword", value="short")
    assert short["attribute_status"] == "Rejected"


@pytest.mark.parametrize(
    ("component", "variable", "value"),
    [
        ("OCPPCommCtrlr", "HeartbeatInterval", "abc"),
        ("OCPPCommCtrlr", "HeartbeatInterval", "1.5"),
        ("OCPPCommCtrlr", "HeartbeatInterval", ""),
        ("OCPPCommCtrlr", "HeartbeatInterval", "0"),  # Below minLimit 1.
        ("OCPPCommCtrlr", "HeartbeatInterval", "-5"),
        ("OCPPCommCtrlr", "HeartbeatInterval", "٣"),  # A digit, but not an ASCII one.
        ("OCPPCommCtrlr", "WebSocketPingInterval", "-1"),
        ("SmartChargingCtrlr", "LimitChangeSignificance", "lots"),
        ("SmartChargingCtrlr", "LimitChangeSignificance", "101"),  # Above maxLimit 100.
        ("SmartChargingCtrlr", "LimitChangeSignificance", "nan"),
        ("SampledDataCtrlr", "Enabled", "yes"),
        ("SampledDataCtrlr", "Enabled", "1"),
        ("AuthCacheCtrlr", "Policy", "Random"),  # Not in the OptionList.
        ("AuthCacheCtrlr", "Policy", "LRU,LFU"),  # An OptionList takes one value.
        ("SampledDataCtrlr", "TxUpdatedMeasurands", "Energy.Active.Import.Register,Bogus"),
        ("SampledDataCtrlr", "TxUpdatedMeasurands", "SoC,SoC"),
        ("SampledDataCtrlr", "TxUpdatedMeasurands", "SoC,,Voltage"),
        ("ClockCtrlr", "TimeSource", "Sundial"),
        ("ClockCtrlr", "TimeSource", ""),  # A SequenceList needs an item.
        ("TxCtrlr", "TxStopPoint", "DataSigned"),
        ("SecurityCtrlr", "OrganizationName", "x" * 1001),
    ],
)
def test_set_invalid_value_is_rejected(
    model: DeviceModel, component: str, variable: str, value: str
) -> None:
    before = model.value(component, variable)
    result = set1(model, component, variable, value=value)
    assert result["attribute_status"] == "Rejected"
    assert result["attribute_status_info"]["reason_code"] == "InvalidValue"
    assert model.value(component, variable) == before
    check_schema("SetVariables", {"set_variable_result": [result]}, response=True)


@pytest.mark.parametrize(
    ("component", "variable", "value", "stored"),
    [
        ("OCPPCommCtrlr", "HeartbeatInterval", "0042", "42"),
        ("OCPPCommCtrlr", "HeartbeatInterval", "+60", "60"),
        ("SampledDataCtrlr", "Enabled", "FALSE", "false"),
        ("SmartChargingCtrlr", "LimitChangeSignificance", "2.5", "2.5"),
        ("SmartChargingCtrlr", "LimitChangeSignificance", "100", "100"),
        ("AuthCacheCtrlr", "Policy", "FIFO", "FIFO"),
        ("SampledDataCtrlr", "TxUpdatedMeasurands", "SoC, Voltage", "SoC,Voltage"),
        ("SampledDataCtrlr", "TxUpdatedMeasurands", "", ""),  # The empty subset.
        ("TxCtrlr", "TxStartPoint", "EVConnected,Authorized", "EVConnected,Authorized"),
        ("ClockCtrlr", "TimeSource", "NTP,Heartbeat", "NTP,Heartbeat"),
        ("SecurityCtrlr", "OrganizationName", "", ""),
    ],
)
def test_set_valid_value_is_stored_normalised(
    model: DeviceModel, component: str, variable: str, value: str, stored: str
) -> None:
    assert set1(model, component, variable, value=value)["attribute_status"] == "Accepted"
    assert model.value(component, variable) == stored


def test_set_reboot_required(model: DeviceModel) -> None:
    result = set1(model, "OCPPCommCtrlr", "NetworkConfigurationPriority", value="1,0")
    assert result["attribute_status"] == "RebootRequired"
    assert model.value("OCPPCommCtrlr", "NetworkConfigurationPriority") == "1,0"
    check_schema("SetVariables", {"set_variable_result": [result]}, response=True)
    vendor = DeviceModel(
        [VariableSpec("VendorCtrlr", "Mode", "string", "ReadWrite", "a", reboot_required=True)]
    )
    assert set1(vendor, "VendorCtrlr", "Mode", value="b")["attribute_status"] == "RebootRequired"


def test_set_many_in_request_order(model: DeviceModel) -> None:
    results = model.set_variables(
        [
            item("OCPPCommCtrlr", "HeartbeatInterval", value="10"),
            item("NoSuchCtrlr", "X", value="1"),
            item("OCPPCommCtrlr", "NoSuch", value="1"),
            item("OCPPCommCtrlr", "HeartbeatInterval", value="20", attribute_type="Target"),
            item("ChargingStation", "Model", value="X"),
            item("EVSE", "AvailabilityState", value="Faulted", evse=3),
            item("Connector", "ConnectorType", value="cCCS2", evse=1, connector=1),
            item("OCPPCommCtrlr", "HeartbeatInterval", value="30"),
        ]
    )
    assert [r["attribute_status"] for r in results] == [
        "Accepted",
        "UnknownComponent",
        "UnknownVariable",
        "NotSupportedAttributeType",
        "Rejected",
        "UnknownComponent",
        "Rejected",
        "Accepted",
    ]
    assert model.value("OCPPCommCtrlr", "HeartbeatInterval") == "30"  # The last one wins.
    check_schema("SetVariables", {"set_variable_result": results}, response=True)


def test_set_non_string_value_is_rejected(model: DeviceModel) -> None:
    data = item("OCPPCommCtrlr", "HeartbeatInterval")
    data["attribute_value"] = 60
    [result] = model.set_variables([data])
    assert result["attribute_status"] == "Rejected"
    [missing] = model.set_variables([item("OCPPCommCtrlr", "HeartbeatInterval")])
    assert missing["attribute_status"] == "Rejected"


# --- overrides -------------------------------------------------------------------------


def test_overrides_set_initial_values_read_only_included() -> None:
    model = DeviceModel(
        SPECS,
        overrides={
            "OCPPCommCtrlr.HeartbeatInterval": "60",
            "OCPPCommCtrlr.MessageTimeout[Default]": "15",
            "ChargingStation.Model": "Wallbox 9000",
            "Connector.ConnectorType": "cCCS2",  # Every connector.
            "Connector@2/1.ConnectorType": "cType2",  # Then just one.
            "EVSE@1.Power": "11000",
        },
    )
    assert model.int("OCPPCommCtrlr", "HeartbeatInterval") == 60
    assert model.int("OCPPCommCtrlr", "MessageTimeout", variable_instance="Default") == 15
    assert model.value("ChargingStation", "Model") == "Wallbox 9000"
    assert model.value("Connector", "ConnectorType", evse=1, connector=2) == "cCCS2"
    assert model.value("Connector", "ConnectorType", evse=2, connector=1) == "cType2"
    assert model.value("EVSE", "Power", evse=1) == "11000"
    assert model.value("EVSE", "Power", evse=2) == "0"


@pytest.mark.parametrize(
    "key",
    [
        "OCPPCommCtrlr.NoSuchVariable",
        "NoSuchCtrlr.HeartbeatInterval",
        "OCPPCommCtrlr.MessageTimeout",  # It only exists with instance Default.
        "EVSE@9.Power",
        "HeartbeatInterval",
        "OCPPCommCtrlr.HeartbeatInterval.x",
    ],
)
def test_override_unknown_key_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match=key.split(".")[0]):
        DeviceModel(SPECS, overrides={key: "1"})


def test_override_invalid_value_is_refused() -> None:
    with pytest.raises(ValueError, match=r"OCPPCommCtrlr\.HeartbeatInterval"):
        DeviceModel(SPECS, overrides={"OCPPCommCtrlr.HeartbeatInterval": "soon"})
    with pytest.raises(ValueError, match=r"TxCtrlr\.TxStartPoint"):
        DeviceModel(SPECS, overrides={"TxCtrlr.TxStartPoint": "Whenever"})


# --- reports (B07) ---------------------------------------------------------------------


def _names(report: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(d["component"]["name"], d["variable"]["name"]) for d in report}


def test_full_inventory_reports_everything(model: DeviceModel) -> None:
    report = model.report("FullInventory")
    assert len(report) == len(SPECS)
    check_schema(
        "NotifyReport",
        {
            "request_id": 1,
            "generated_at": "2025-01-01T00:00:00Z",
            "seq_no": 0,
            "report_data": report,
        },
        response=False,
    )
    password = next(d for d in report if d["variable"]["name"] == "BasicAuthPassword")
    assert "value" not in password["variable_attribute"][0]
    heartbeat = next(d for d in report if d["variable"]["name"] == "HeartbeatInterval")
    assert heartbeat == {
        "component": {"name": "OCPPCommCtrlr"},
        "variable": {"name": "HeartbeatInterval"},
        "variable_attribute": [
            {
                "type": "Actual",
                "value": "300",
                "mutability": "ReadWrite",
                "persistent": True,
                "constant": False,
            }
        ],
        "variable_characteristics": {
            "data_type": "integer",
            "unit": "s",
            "min_limit": 1,
            "supports_monitoring": False,
        },
    }
    connector = next(
        d
        for d in report
        if d["component"]["name"] == "Connector" and d["variable"]["name"] == "ConnectorType"
    )
    assert connector["component"] == {"name": "Connector", "evse": {"id": 1, "connector_id": 1}}
    timeout = next(d for d in report if d["variable"]["name"] == "MessageTimeout")
    assert timeout["variable"] == {"name": "MessageTimeout", "instance": "Default"}


def test_configuration_inventory_reports_what_can_be_set(model: DeviceModel) -> None:
    report = model.report("ConfigurationInventory")
    mutabilities = {d["variable_attribute"][0]["mutability"] for d in report}
    assert mutabilities == {"ReadWrite", "WriteOnly"}
    assert len(report) == len(WRITABLE)
    assert ("OCPPCommCtrlr", "HeartbeatInterval") in _names(report)
    assert ("ChargingStation", "Model") not in _names(report)


def test_summary_inventory_reports_availability_and_problems() -> None:
    specs = [*SPECS, VariableSpec("ChargingStation", "Problem", "boolean", "ReadOnly", "false")]
    model = DeviceModel(specs)
    report = model.report("SummaryInventory")
    assert {d["variable"]["name"] for d in report} == {"AvailabilityState", "Available"}
    # ChargingStation, 2 EVSEs, 4 connectors and the controllers' Available.
    stations = [d for d in report if d["component"]["name"] in ("ChargingStation", "EVSE")]
    assert len(stations) == 2 * 3
    model.set_internal("ChargingStation", "Problem", "true")
    assert ("ChargingStation", "Problem") in _names(model.report("SummaryInventory"))


def test_report_follows_changes(model: DeviceModel) -> None:
    model.set_variables([item("OCPPCommCtrlr", "HeartbeatInterval", value="77")])
    report = model.report("ConfigurationInventory")
    heartbeat = next(d for d in report if d["variable"]["name"] == "HeartbeatInterval")
    assert heartbeat["variable_attribute"][0]["value"] == "77"


def test_unknown_report_base_is_refused(model: DeviceModel) -> None:
    with pytest.raises(ValueError):
        model.report("Everything")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("count", "per_message", "sizes"),
    [(0, 5, []), (1, 5, [1]), (5, 5, [5]), (6, 5, [5, 1]), (11, 5, [5, 5, 1]), (3, 1, [1, 1, 1])],
)
def test_chunks(model: DeviceModel, count: int, per_message: int, sizes: list[int]) -> None:
    items = [{"n": n} for n in range(count)]
    chunks = model.chunks(items, per_message)
    assert [len(c) for c in chunks] == sizes
    assert [x for c in chunks for x in c] == items


def test_chunks_needs_a_positive_size(model: DeviceModel) -> None:
    with pytest.raises(ValueError):
        model.chunks([{}], 0)


# --- the charger's own access -----------------------------------------------------------


def test_set_internal_bypasses_mutability_but_validates(model: DeviceModel) -> None:
    model.set_internal("ChargingStation", "AvailabilityState", "Unavailable")
    assert model.value("ChargingStation", "AvailabilityState") == "Unavailable"
    model.set_internal("Connector", "Available", "FALSE", evse=1, connector=2)
    assert model.bool("Connector", "Available", evse=1, connector=2) is False
    assert model.bool("Connector", "Available", evse=1, connector=1) is True
    with pytest.raises(ValueError, match="AvailabilityState"):
        model.set_internal("ChargingStation", "AvailabilityState", "Sleeping")
    with pytest.raises(KeyError):
        model.set_internal("ChargingStation", "NoSuch", "1")
    with pytest.raises(TypeError):
        model.set_internal("EVSE", "Power", "1", evse_id=1)


def test_typed_getters(model: DeviceModel) -> None:
    assert model.int("OCPPCommCtrlr", "MessageAttempts", variable_instance="TransactionEvent") == 3
    assert model.bool("AuthCtrlr", "LocalAuthorizeOffline") is True
    with pytest.raises(TypeError):
        model.int("SampledDataCtrlr", "Enabled")
    with pytest.raises(TypeError):
        model.bool("OCPPCommCtrlr", "HeartbeatInterval")
    with pytest.raises(KeyError):
        model.value("OCPPCommCtrlr", "MessageTimeout")  # Needs its instance.
    assert model.value("ocppcommctrlr", "heartbeatinterval") == "300"


# --- properties --------------------------------------------------------------------------


def _oracle(spec: VariableSpec, value: str) -> str | None:
    """What a valid value is stored as, None if it is not valid (an independent model)."""
    if len(value) > 1000:
        return None
    if spec.data_type == "boolean":
        return value.lower() if value.lower() in ("true", "false") else None
    if spec.data_type == "integer":
        body = value[1:] if value.startswith(("+", "-")) else value
        if not (body.isascii() and body.isdigit()):
            return None
        number = int(value)
        if spec.min_limit is not None and number < spec.min_limit:
            return None
        if spec.max_limit is not None and number > spec.max_limit:
            return None
        return str(number)
    return "?"  # Other types: checked by the fixed-point property only.


_WRITABLE_SPECS = st.sampled_from(WRITABLE)
_VALUES = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"[+-]?[0-9]{1,6}", fullmatch=True),
    st.sampled_from(["true", "False", "TRUE", "", "0", "-1", "1.5", "SoC", "SoC,Voltage", "NTP"]),
    st.lists(st.sampled_from(["SoC", "Voltage", "Frequency", "NTP", "Heartbeat", "x"])).map(
        ",".join
    ),
)


@settings(max_examples=300)
@given(spec=_WRITABLE_SPECS, value=_VALUES)
def test_set_never_raises_and_stores_what_it_accepted(spec: VariableSpec, value: str) -> None:
    model = DeviceModel(SPECS)
    where: dict[str, Any] = {
        "component_instance": spec.component_instance,
        "variable_instance": spec.variable_instance,
        "evse": spec.evse,
        "connector": spec.connector,
    }
    before = model.value(spec.component, spec.variable, **where)
    data = item(spec.component, spec.variable, value=value, **where)
    [result] = model.set_variables([data])
    status = result["attribute_status"]
    assert status in ("Accepted", "RebootRequired", "Rejected")
    stored = model.value(spec.component, spec.variable, **where)
    expected = _oracle(spec, value)
    if status == "Rejected":
        assert stored == before
        assert expected in (None, "?")
        return
    assert status == ("RebootRequired" if spec.reboot_required else "Accepted")
    assert expected is not None
    if expected != "?":
        assert stored == expected
    # What was stored is valid as it is: setting it again stores the same.
    [again] = model.set_variables([item(spec.component, spec.variable, value=stored, **where)])
    assert again["attribute_status"] != "Rejected"
    assert model.value(spec.component, spec.variable, **where) == stored
    if spec.mutability != "WriteOnly":
        [got] = model.get_variables([item(spec.component, spec.variable, **where)])
        assert got["attribute_value"] == stored


@given(value=st.text(max_size=50))
def test_set_arbitrary_values_on_every_variable_never_raises(value: str) -> None:
    model = DeviceModel(SPECS)
    items = [
        item(
            s.component,
            s.variable,
            value=value,
            component_instance=s.component_instance,
            variable_instance=s.variable_instance,
            evse=s.evse,
            connector=s.connector,
        )
        for s in SPECS
    ]
    results = model.set_variables(items)
    assert len(results) == len(SPECS)
    check_schema("SetVariables", {"set_variable_result": results}, response=True)
    # Whatever was accepted is reported, and the report stays schema-valid.
    check_schema(
        "NotifyReport",
        {
            "request_id": 1,
            "generated_at": "2025-01-01T00:00:00Z",
            "seq_no": 0,
            "report_data": model.report("FullInventory"),
        },
        response=False,
    )
