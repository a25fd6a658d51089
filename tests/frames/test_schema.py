"""Schema checks of OCPP payloads (ocpp_chaos.frames.schema)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ocpp_chaos.frames import (
    Call,
    CallError,
    CallResult,
    CallResultError,
    Malformed,
    MalformedReason,
    Message,
    SchemaChecker,
    SchemaVerdict,
    Send,
    parse,
    version_of_subprotocol,
)
from ocpp_chaos.frames import schema as schema_module


def call(action: str, payload: dict[str, Any]) -> Call:
    return Call(unique_id="1", action=action, payload=payload)


def res(payload: dict[str, Any]) -> CallResult:
    return CallResult(unique_id="1", payload=payload)


NOW = "2024-05-01T12:00:00Z"

BOOT16 = {"chargePointVendor": "ACME", "chargePointModel": "X1"}
BOOT16_FULL = {
    **BOOT16,
    "chargePointSerialNumber": "SN-1",
    "firmwareVersion": "1.2.3",
    "meterType": "m",
}
BOOT_RESPONSE = {"status": "Accepted", "currentTime": NOW, "interval": 300}
BOOT2 = {"reason": "PowerUp", "chargingStation": {"model": "X1", "vendorName": "ACME"}}
TX_EVENT = {
    "eventType": "Started",
    "timestamp": NOW,
    "triggerReason": "CablePluggedIn",
    "seqNo": 0,
    "transactionInfo": {"transactionId": "tx-1", "chargingState": "EVConnected"},
    "evse": {"id": 1, "connectorId": 1},
    "meterValue": [{"timestamp": NOW, "sampledValue": [{"value": 12.5}]}],
}
STREAM = {"id": 1, "pending": 0, "basetime": NOW, "data": [{"t": 0.5, "v": "230.1"}]}


def without(payload: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != key}


def with_(payload: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**payload, **changes}


# (version, message, action passed to check, expected verdict label)
VALIDITY_CASES = [
    # ---- OCPP 1.6 -------------------------------------------------------------------
    ("1.6", call("BootNotification", BOOT16), None, "valid"),
    ("1.6", call("BootNotification", BOOT16_FULL), None, "valid"),
    ("1.6", call("BootNotification", without(BOOT16, "chargePointModel")), None, "invalid"),
    ("1.6", call("BootNotification", with_(BOOT16, chargePointVendor="V" * 21)), None, "invalid"),
    ("1.6", call("BootNotification", with_(BOOT16, chargePointVendor="V" * 20)), None, "valid"),
    ("1.6", call("BootNotification", with_(BOOT16, chargePointModel=5)), None, "invalid"),
    ("1.6", call("BootNotification", with_(BOOT16, extra="x")), None, "invalid"),
    ("1.6", call("BootNotification", {}), None, "invalid"),
    ("1.6", call("BootNotification", BOOT2), None, "invalid"),
    ("1.6", res(BOOT_RESPONSE), "BootNotification", "valid"),
    ("1.6", res(with_(BOOT_RESPONSE, status="Maybe")), "BootNotification", "invalid"),
    ("1.6", res(without(BOOT_RESPONSE, "interval")), "BootNotification", "invalid"),
    ("1.6", res(with_(BOOT_RESPONSE, interval="300")), "BootNotification", "invalid"),
    ("1.6", res(with_(BOOT_RESPONSE, interval=True)), "BootNotification", "invalid"),
    ("1.6", res(BOOT_RESPONSE), None, "unchecked"),
    ("1.6", call("Heartbeat", {}), None, "valid"),
    ("1.6", res({"currentTime": NOW}), "Heartbeat", "valid"),
    # ---- OCPP 2.0.1 -----------------------------------------------------------------
    ("2.0.1", call("BootNotification", BOOT2), None, "valid"),
    ("2.0.1", call("BootNotification", with_(BOOT2, reason="Because")), None, "invalid"),
    ("2.0.1", call("BootNotification", without(BOOT2, "chargingStation")), None, "invalid"),
    (
        "2.0.1",
        call("BootNotification", with_(BOOT2, chargingStation={"model": "X1"})),
        None,
        "invalid",
    ),
    ("2.0.1", call("BootNotification", BOOT16), None, "invalid"),
    ("2.0.1", res(BOOT_RESPONSE), "BootNotification", "valid"),
    (
        "2.0.1",
        res(with_(BOOT_RESPONSE, statusInfo={"reasonCode": "x"})),
        "BootNotification",
        "valid",
    ),
    ("2.0.1", res(with_(BOOT_RESPONSE, status="OK")), "BootNotification", "invalid"),
    ("2.0.1", call("TransactionEvent", TX_EVENT), None, "valid"),
    ("2.0.1", call("TransactionEvent", with_(TX_EVENT, seqNo="0")), None, "invalid"),
    ("2.0.1", call("TransactionEvent", with_(TX_EVENT, eventType="Begun")), None, "invalid"),
    ("2.0.1", call("TransactionEvent", without(TX_EVENT, "transactionInfo")), None, "invalid"),
    (
        "2.0.1",
        call("TransactionEvent", with_(TX_EVENT, meterValue=[{"timestamp": NOW}])),
        None,
        "invalid",
    ),
    ("2.0.1", res({}), "TransactionEvent", "valid"),
    ("2.0.1", res({"totalCost": 1.5}), "TransactionEvent", "valid"),
    ("2.0.1", res({"totalCost": "1.5"}), "TransactionEvent", "invalid"),
    ("2.0.1", res({}), None, "unchecked"),
    # ---- OCPP 2.1 -------------------------------------------------------------------
    ("2.1", call("BootNotification", BOOT2), None, "valid"),
    ("2.1", call("BootNotification", with_(BOOT2, reason="Because")), None, "invalid"),
    ("2.1", call("BootNotification", BOOT16), None, "invalid"),
    ("2.1", res(BOOT_RESPONSE), "BootNotification", "valid"),
    ("2.1", res(without(BOOT_RESPONSE, "currentTime")), "BootNotification", "invalid"),
    ("2.1", Send(unique_id="1", action="NotifyPeriodicEventStream", payload=STREAM), None, "valid"),
    (
        "2.1",
        Send(unique_id="1", action="NotifyPeriodicEventStream", payload=without(STREAM, "data")),
        None,
        "invalid",
    ),
    (
        "2.1",
        Send(unique_id="1", action="NotifyPeriodicEventStream", payload=with_(STREAM, data=[])),
        None,
        "invalid",
    ),
    # ---- messages that have no schema -------------------------------------------------
    ("1.6", CallError(unique_id="1", code="GenericError"), "BootNotification", "unchecked"),
    ("2.1", CallResultError(unique_id="1", code="InternalError"), "BootNotification", "unchecked"),
    (
        "2.0.1",
        Malformed(reason=MalformedReason.BAD_PAYLOAD, unique_id="1", action="BootNotification"),
        "BootNotification",
        "unchecked",
    ),
]


@pytest.mark.parametrize(
    ("version", "message", "action", "label"),
    VALIDITY_CASES,
    ids=[
        f"{v}-{type(m).__name__}-{getattr(m, 'action', a)}-{i}"
        for i, (v, m, a, _) in enumerate(VALIDITY_CASES)
    ],
)
def test_check(version: str, message: Message, action: str | None, label: str) -> None:
    verdict = SchemaChecker(version).check(message, action)
    assert verdict.label == label, verdict
    if label == "invalid":
        assert verdict.valid is False
        assert verdict.errors and all(isinstance(e, str) and e for e in verdict.errors)
    else:
        assert verdict.errors == ()
        assert verdict.valid is {"valid": True, "unchecked": None}[label]


def test_check_a_call_uses_its_own_action_when_none_given() -> None:
    checker = SchemaChecker("1.6")
    message = call("BootNotification", BOOT16)
    assert checker.check(message, None) == SchemaVerdict(True)
    assert checker.check(message, "BootNotification") == SchemaVerdict(True)


def test_errors_say_where() -> None:
    verdict = SchemaChecker("2.0.1").check(
        call("BootNotification", with_(BOOT2, chargingStation={"model": 1, "vendorName": "v"})),
        None,
    )
    assert verdict.valid is False
    assert any(e.startswith("chargingStation/model:") for e in verdict.errors), verdict.errors
    missing = SchemaChecker("1.6").check(call("BootNotification", {}), None)
    assert any("chargePointVendor" in e for e in missing.errors), missing.errors


def test_errors_are_capped() -> None:
    payload = {f"extra{i}": i for i in range(20)}
    verdict = SchemaChecker("1.6").check(call("BootNotification", payload), None)
    assert verdict.valid is False
    assert 1 <= len(verdict.errors) <= 5


def test_verdict_labels() -> None:
    assert SchemaVerdict(True).label == "valid"
    assert SchemaVerdict(False, ("x",)).label == "invalid"
    assert SchemaVerdict(None).label == "unchecked"


@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
@pytest.mark.parametrize("kind", ["call", "result"])
def test_unknown_action_is_invalid_with_a_clear_error(version: str, kind: str) -> None:
    checker = SchemaChecker(version)
    if kind == "call":
        verdict = checker.check(call("FlyToTheMoon", {}), None)
    else:
        verdict = checker.check(res({}), "FlyToTheMoon")
    assert verdict == SchemaVerdict(False, (f"unknown action 'FlyToTheMoon' in OCPP {version}",))
    # Asking again gives the same answer (the miss is cached).
    assert checker.check(call("FlyToTheMoon", {}), None).valid is False


def test_action_of_another_version_is_unknown() -> None:
    # Heartbeat exists everywhere, NotifyEVChargingNeeds only from 2.0.1 on.
    assert SchemaChecker("1.6").check(call("NotifyEVChargingNeeds", {}), None).errors == (
        "unknown action 'NotifyEVChargingNeeds' in OCPP 1.6",
    )
    # 1.6's names its request schemas without "Request": no such file in 2.0.1 either.
    assert SchemaChecker("2.0.1").check(call("BootNotificationRequest", BOOT2), None).valid is False


BAD_NAMES = [
    "../../etc/passwd",
    "../v16/schemas/BootNotification",
    "/etc/passwd",
    "..",
    ".",
    "BootNotification.json",
    "BootNotification/",
    "Boot Notification",
    "BootNotification\n",
    "\nBootNotification",
    "BootNotification\x00",
    "1BootNotification",
    "Bööt",
    "A" * 65,
    "",
]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
def test_bad_action_names_are_rejected_without_touching_files(
    name: str, version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ocpp.messages

    def tripwire(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"schema lookup for a bad action name: {args!r}")

    monkeypatch.setattr(schema_module, "_validator", tripwire)
    monkeypatch.setattr(ocpp.messages, "get_validator", tripwire)
    monkeypatch.setattr(ocpp.messages, "open", tripwire, raising=False)

    checker = SchemaChecker(version)
    for verdict in (
        checker.check(call(name, {}), None),
        checker.check(res({}), name),
        checker.check(Send(unique_id="1", action=name, payload={}), None),
    ):
        assert verdict == SchemaVerdict(False, (f"action {name!r} is not a valid action name",))


def test_longest_valid_name_is_looked_up() -> None:
    verdict = SchemaChecker("1.6").check(call("A" * 64, {}), None)
    assert verdict.errors == (f"unknown action {'A' * 64!r} in OCPP 1.6",)


# ---- OCPP 1.6 decimals ----------------------------------------------------------------
# SetChargingProfile and RemoteStartTransaction (chargingSchedulePeriod.limit and
# minChargingRate) and GetCompositeScheduleResponse (the same in chargingSchedule) have
# "multipleOf": 0.1, which binary floats fail: 21.4 / 0.1 == 213.99999999999997.


def charging_profile(limit: Any, min_rate: Any = None) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
    }
    if min_rate is not None:
        schedule["minChargingRate"] = min_rate
    return {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": schedule,
    }


def set_charging_profile(limit: Any, min_rate: Any = None) -> dict[str, Any]:
    return {"connectorId": 1, "csChargingProfiles": charging_profile(limit, min_rate)}


def test_float_validator_alone_rejects_21_4() -> None:
    """Why the decimal re-check exists: the plain validator of `ocpp` rejects 21.4."""
    from ocpp.messages import get_validator

    validator = get_validator(2, "SetChargingProfile", "1.6")
    errors = [e.message for e in validator.iter_errors(set_charging_profile(21.4))]
    assert errors and "multiple of" in errors[0]


@pytest.mark.parametrize(
    ("limit", "min_rate", "label"),
    [
        (21.4, None, "valid"),
        (0.3, None, "valid"),
        (0.7, None, "valid"),
        (6.9, 0.3, "valid"),
        (16, None, "valid"),
        (16.0, 1.1, "valid"),
        (0, 0, "valid"),
        (1e3, None, "valid"),
        (21.45, None, "invalid"),
        (0.05, None, "invalid"),
        (16, 0.33, "invalid"),
        ("21.4", None, "invalid"),
        (None, None, "invalid"),
    ],
)
def test_1_6_decimals_with_multiple_of(limit: Any, min_rate: Any, label: str) -> None:
    payload = set_charging_profile(limit, min_rate)
    before = copy.deepcopy(payload)
    verdict = SchemaChecker("1.6").check(call("SetChargingProfile", payload), None)
    assert verdict.label == label, verdict
    assert payload == before and type(
        payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"]
    ) is type(limit), "the check must not change the payload"


def test_1_6_decimals_from_the_wire() -> None:
    frame = (
        b'[2,"9","SetChargingProfile",{"connectorId":1,"csChargingProfiles":'
        b'{"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"TxProfile",'
        b'"chargingProfileKind":"Relative","chargingSchedule":{"chargingRateUnit":"W",'
        b'"chargingSchedulePeriod":[{"startPeriod":0,"limit":21.4},'
        b'{"startPeriod":60,"limit":7.7,"numberPhases":3}],"minChargingRate":4.2}}}]'
    )
    message = parse(frame)
    assert isinstance(message, Call)
    assert SchemaChecker("1.6").check(message, None) == SchemaVerdict(True)


def test_1_6_decimals_other_errors_still_reported() -> None:
    payload = without(set_charging_profile(21.4), "connectorId")
    verdict = SchemaChecker("1.6").check(call("SetChargingProfile", payload), None)
    assert verdict.valid is False
    assert not any("multiple of" in e for e in verdict.errors), verdict.errors
    assert any("connectorId" in e for e in verdict.errors), verdict.errors


def test_1_6_decimals_in_remote_start_and_composite_schedule() -> None:
    checker = SchemaChecker("1.6")
    remote_start: dict[str, Any] = {
        "idTag": "TAG",
        "connectorId": 1,
        "chargingProfile": charging_profile(21.4),
    }
    remote_start["chargingProfile"]["chargingProfilePurpose"] = "TxProfile"
    assert checker.check(call("RemoteStartTransaction", remote_start), None).valid is True
    composite: dict[str, Any] = {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": NOW,
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.4}],
            "minChargingRate": 0.3,
        },
    }
    assert checker.check(res(composite), "GetCompositeSchedule").valid is True
    composite["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] = 21.45
    assert checker.check(res(composite), "GetCompositeSchedule").valid is False


def test_2_0_1_decimals_need_no_multiple_of() -> None:
    payload = {
        "evseId": 1,
        "chargingProfile": {
            "id": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": [
                {
                    "id": 1,
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.43}],
                }
            ],
        },
    }
    assert SchemaChecker("2.0.1").check(call("SetChargingProfile", payload), None).valid is True


# ---- versions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subprotocol", "version"),
    [
        ("ocpp1.6", "1.6"),
        ("ocpp2.0.1", "2.0.1"),
        ("ocpp2.1", "2.1"),
        ("OCPP1.6", "1.6"),
        ("Ocpp2.0.1", "2.0.1"),
        (" ocpp2.1 ", "2.1"),
        ("ocpp2.0", None),
        ("ocpp1.5", None),
        ("ocpp1.6j", None),
        ("1.6", None),
        ("foo", None),
        ("", None),
        (None, None),
    ],
)
def test_version_of_subprotocol(subprotocol: str | None, version: str | None) -> None:
    assert version_of_subprotocol(subprotocol) == version
    checker = SchemaChecker.for_subprotocol(subprotocol)
    if version is None:
        assert checker is None
    else:
        assert isinstance(checker, SchemaChecker)
        assert checker.version == version


@pytest.mark.parametrize("version", ["2.0", "1.5", "ocpp1.6", "", "../v16"])
def test_checker_refuses_unknown_versions(version: str) -> None:
    with pytest.raises(ValueError, match="no OCPP schemas"):
        SchemaChecker(version)
