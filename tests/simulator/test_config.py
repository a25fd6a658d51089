"""The configuration key store: GetConfiguration and ChangeConfiguration as OCPP 1.6 says."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp_chaos.simulator.config import CORE_KEYS, MEASURANDS, KeySpec, KeyStore

# Key name -> read-only, per OCPP 1.6 §9 (keys whose access is "R or RW" are RW here).
EXPECTED_READONLY = {
    "AllowOfflineTxForUnknownId": False,
    "AuthorizationCacheEnabled": False,
    "AuthorizeRemoteTxRequests": False,
    "BlinkRepeat": False,
    "ClockAlignedDataInterval": False,
    "ConnectionTimeOut": False,
    "ConnectorPhaseRotation": False,
    "ConnectorPhaseRotationMaxLength": True,
    "GetConfigurationMaxKeys": True,
    "HeartbeatInterval": False,
    "LightIntensity": False,
    "LocalAuthorizeOffline": False,
    "LocalPreAuthorize": False,
    "MaxEnergyOnInvalidId": False,
    "MeterValuesAlignedData": False,
    "MeterValuesAlignedDataMaxLength": True,
    "MeterValuesSampledData": False,
    "MeterValuesSampledDataMaxLength": True,
    "MeterValueSampleInterval": False,
    "MinimumStatusDuration": False,
    "NumberOfConnectors": True,
    "ResetRetries": False,
    "StopTransactionOnEVSideDisconnect": False,
    "StopTransactionOnInvalidId": False,
    "StopTxnAlignedData": False,
    "StopTxnAlignedDataMaxLength": True,
    "StopTxnSampledData": False,
    "StopTxnSampledDataMaxLength": True,
    "SupportedFeatureProfiles": True,
    "SupportedFeatureProfilesMaxLength": True,
    "TransactionMessageAttempts": False,
    "TransactionMessageRetryInterval": False,
    "UnlockConnectorOnEVSideDisconnect": False,
    "WebSocketPingInterval": False,
    "LocalAuthListEnabled": False,
    "LocalAuthListMaxLength": True,
    "SendLocalListMaxLength": True,
    "ChargeProfileMaxStackLevel": True,
    "ChargingScheduleAllowedChargingRateUnit": True,
    "ChargingScheduleMaxPeriods": True,
    "MaxChargingProfilesInstalled": True,
    "ReserveConnectorZeroSupported": True,
}


def test_every_standard_key_is_present_with_its_access() -> None:
    found, unknown = KeyStore().get()
    assert unknown == []
    readonly = {entry["key"]: entry["readonly"] for entry in found}
    for name, expected in EXPECTED_READONLY.items():
        assert readonly[name] is expected, name
    # The only key beyond the brief's list is the optional Smart Charging one.
    assert set(readonly) - set(EXPECTED_READONLY) == {"ConnectorSwitch3to1PhaseSupported"}
    assert len({spec.name for spec in CORE_KEYS}) == len(CORE_KEYS)


def test_entries_use_ocpp_json_field_names_and_string_values() -> None:
    found, _ = KeyStore().get()
    for entry in found:
        assert set(entry) == {"key", "readonly", "value"}
        assert isinstance(entry["value"], str)
        assert isinstance(entry["readonly"], bool)


def test_defaults() -> None:
    store = KeyStore(connectors=2)
    assert store.value("HeartbeatInterval") == "300"
    assert store.value("MeterValueSampleInterval") == "60"
    assert store.csl("MeterValuesSampledData") == [
        "Energy.Active.Import.Register",
        "Power.Active.Import",
        "Current.Import",
        "Voltage",
        "SoC",
    ]
    assert store.int("TransactionMessageAttempts") == 3
    assert store.int("TransactionMessageRetryInterval") == 60
    assert store.int("ConnectionTimeOut") == 60
    assert store.int("NumberOfConnectors") == 2
    assert store.int("GetConfigurationMaxKeys") == 50
    assert store.csl("SupportedFeatureProfiles") == [
        "Core",
        "FirmwareManagement",
        "LocalAuthListManagement",
        "Reservation",
        "SmartCharging",
        "RemoteTrigger",
    ]
    assert store.csl("ConnectorPhaseRotation") == ["1.Unknown", "2.Unknown"]
    assert store.int("ConnectorPhaseRotationMaxLength") == 3


def test_get_subset_and_unknown() -> None:
    store = KeyStore()
    found, unknown = store.get(["HeartbeatInterval", "NoSuchKey", "NumberOfConnectors"])
    assert found == [
        {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
        {"key": "NumberOfConnectors", "readonly": True, "value": "1"},
    ]
    assert unknown == ["NoSuchKey"]


def test_get_empty_list_means_all() -> None:
    store = KeyStore()
    assert store.get([]) == store.get(None)
    assert [entry["key"] for entry in store.get()[0]] == list(store.snapshot())


def test_get_is_case_insensitive_and_answers_canonical_names_once() -> None:
    found, unknown = KeyStore().get(["heartbeatinterval", "HEARTBEATINTERVAL", "nope", "nope"])
    assert [entry["key"] for entry in found] == ["HeartbeatInterval"]
    assert unknown == ["nope"]


def test_get_more_than_max_keys_still_answers_every_known_key() -> None:
    store = KeyStore(overrides={"GetConfigurationMaxKeys": "2"})
    names = list(store.snapshot())
    found, unknown = store.get([*names, "Vendor1", "Vendor2"])
    assert [entry["key"] for entry in found] == names
    assert unknown == ["Vendor1", "Vendor2"]


@pytest.mark.parametrize(
    ("key", "value", "status"),
    [
        ("HeartbeatInterval", "120", "Accepted"),
        ("heartbeatinterval", "120", "Accepted"),
        ("NoSuchKey", "1", "NotSupported"),
        ("NumberOfConnectors", "3", "Rejected"),
        ("SupportedFeatureProfiles", "Core", "Rejected"),
        ("HeartbeatInterval", "abc", "Rejected"),
        ("HeartbeatInterval", "1.5", "Rejected"),
        ("HeartbeatInterval", " 60", "Rejected"),
        ("HeartbeatInterval", "", "Rejected"),
        ("HeartbeatInterval", "-1", "Rejected"),
        ("LightIntensity", "101", "Rejected"),
        ("LightIntensity", "100", "Accepted"),
        ("ClockAlignedDataInterval", "86401", "Rejected"),
        ("LocalPreAuthorize", "yes", "Rejected"),
        ("LocalPreAuthorize", "1", "Rejected"),
        ("LocalPreAuthorize", "TRUE", "Accepted"),
        ("MeterValuesSampledData", "Energy.Active.Import.Register,Bogus", "Rejected"),
        ("MeterValuesSampledData", "Voltage,,SoC", "Rejected"),
        ("MeterValuesSampledData", ",".join(sorted(MEASURANDS)[:9]), "Rejected"),
        ("MeterValuesSampledData", ",".join(sorted(MEASURANDS)[:8]), "Accepted"),
        ("MeterValuesSampledData", "", "Accepted"),
        ("ConnectorPhaseRotation", "0.RST,1.RTS", "Accepted"),
        ("ConnectorPhaseRotation", "1.XYZ", "Rejected"),
        ("ConnectorPhaseRotation", "2.RST", "Rejected"),  # one connector only
        ("ConnectorPhaseRotation", "0.RST,1.RST,1.RST", "Rejected"),  # MaxLength 2
    ],
)
def test_change_configuration(key: str, value: str, status: str) -> None:
    store = KeyStore()
    before = store.snapshot()
    assert store.change(key, value) == status
    if status != "Accepted":
        assert store.snapshot() == before


def test_change_stores_the_normalised_value() -> None:
    store = KeyStore()
    assert store.change("HeartbeatInterval", "0120") == "Accepted"
    assert store.value("HeartbeatInterval") == "120"
    assert store.int("HeartbeatInterval") == 120
    assert store.change("MeterValuesSampledData", "Voltage, SoC") == "Accepted"
    assert store.value("MeterValuesSampledData") == "Voltage,SoC"
    assert store.change("MeterValuesAlignedData", "") == "Accepted"
    assert store.csl("MeterValuesAlignedData") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("tRuE", True),
        ("FALSE", False),
        ("False", False),
    ],
)
def test_bool_is_case_insensitive_and_stored_lower_case(text: str, expected: bool) -> None:
    store = KeyStore(overrides={"LocalPreAuthorize": "false" if expected else "true"})
    assert store.change("LocalPreAuthorize", text) == "Accepted"
    assert store.value("LocalPreAuthorize") == text.lower()
    assert store.bool("LocalPreAuthorize") is expected


def test_reboot_required_stores_the_value() -> None:
    vendor = KeySpec("VendorMode", "str", readonly=False, default="a", reboot_required=True)
    store = KeyStore(extra=[vendor])
    assert store.change("VendorMode", "b") == "RebootRequired"
    assert store.value("VendorMode") == "b"


def test_extra_keys_and_replaced_specs() -> None:
    store = KeyStore(
        extra=[
            KeySpec(
                "VendorLevel",
                "str",
                readonly=False,
                default="low",
                choices=frozenset({"low", "high"}),
            ),
            KeySpec("AuthorizeRemoteTxRequests", "bool", readonly=True, default="true"),
        ]
    )
    assert store.change("VendorLevel", "high") == "Accepted"
    assert store.change("VendorLevel", "medium") == "Rejected"
    assert store.change("AuthorizeRemoteTxRequests", "false") == "Rejected"
    assert store.bool("AuthorizeRemoteTxRequests") is True
    names = list(store.snapshot())
    assert names.count("AuthorizeRemoteTxRequests") == 1


def test_overrides_are_applied_and_normalised() -> None:
    store = KeyStore(
        overrides={
            "heartbeatInterval": "30",
            "LocalPreAuthorize": "TRUE",
            "GetConfigurationMaxKeys": "5",
        }
    )
    assert store.int("HeartbeatInterval") == 30
    assert store.value("LocalPreAuthorize") == "true"
    assert store.int("GetConfigurationMaxKeys") == 5  # read-only keys may be overridden


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"HeartbeatInterval": "soon"}, "HeartbeatInterval"),
        ({"LightIntensity": "200"}, "LightIntensity"),
        ({"LocalPreAuthorize": "maybe"}, "LocalPreAuthorize"),
        ({"MeterValuesSampledData": "Voltage,Bogus"}, "MeterValuesSampledData"),
        ({"MeterValuesSampledDataMaxLength": "2"}, "MeterValuesSampledData"),
        ({"NoSuchKey": "1"}, "NoSuchKey"),
        ({"NumberOfConnectors": "4"}, "NumberOfConnectors"),
    ],
)
def test_overrides_are_validated(overrides: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        KeyStore(overrides=overrides)


def test_bad_construction() -> None:
    with pytest.raises(ValueError, match="connectors"):
        KeyStore(connectors=0)
    with pytest.raises(ValueError, match="Vendor"):
        KeyStore(extra=[KeySpec("Vendor", "int", readonly=False, default="x")])
    with pytest.raises(ValueError, match="twice"):
        spec = KeySpec("Vendor", "int", readonly=False, default="1")
        KeyStore(extra=[spec, spec])
    with pytest.raises(ValueError, match="kind"):
        KeySpec("Vendor", "float", readonly=False, default="1")  # type: ignore[arg-type]


def test_typed_getters() -> None:
    store = KeyStore(connectors=3)
    assert store.int("numberofconnectors") == 3
    assert store.bool("LocalAuthorizeOffline") is True
    assert store.csl("ChargingScheduleAllowedChargingRateUnit") == ["Current", "Power"]
    with pytest.raises(TypeError):
        store.int("LocalAuthorizeOffline")
    with pytest.raises(TypeError):
        store.csl("HeartbeatInterval")
    with pytest.raises(KeyError):
        store.value("NoSuchKey")
    with pytest.raises(KeyError):
        store.int("NoSuchKey")


def test_snapshot_is_a_copy() -> None:
    store = KeyStore()
    snapshot = store.snapshot()
    snapshot["HeartbeatInterval"] = "1"
    assert store.value("HeartbeatInterval") == "300"


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_int_changes_follow_the_range(number: int) -> None:
    store = KeyStore()
    status = store.change("LightIntensity", str(number))
    assert status == ("Accepted" if 0 <= number <= 100 else "Rejected")
    if status == "Accepted":
        assert store.int("LightIntensity") == number


@given(st.text(max_size=20))
def test_changes_never_store_an_invalid_value(text: str) -> None:
    store = KeyStore()
    for key in ("HeartbeatInterval", "LocalPreAuthorize", "MeterValuesSampledData"):
        store.change(key, text)
    # Whatever was accepted reads back through the typed getters.
    assert store.int("HeartbeatInterval") >= 0
    assert isinstance(store.bool("LocalPreAuthorize"), bool)
    assert set(store.csl("MeterValuesSampledData")) <= MEASURANDS
