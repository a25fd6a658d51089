"""Parsing and serialising OCPP-J frames (ocpp_chaos.frames.events).

In the style of h11's tests: one table of (frame, expected message) drives
both directions, parse and serialise. Property tests then check that
`parse()` never raises and that `serialise(parse(x)) == x` for any bytes.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ocpp_chaos.frames import (
    MAX_UNIQUE_ID_LENGTH,
    Call,
    CallError,
    CallResult,
    CallResultError,
    Malformed,
    MalformedReason,
    Message,
    MessageType,
    Send,
    parse,
    serialise,
)

R = MalformedReason
UID36 = "a" * 36
UID37 = "a" * 37
MIB = 1024 * 1024


def bad(
    reason: MalformedReason,
    *,
    unique_id: str | None = None,
    action: str | None = None,
    binary: bool = False,
) -> Malformed:
    """An expected Malformed; `detail` is free text and not compared."""
    return Malformed(reason=reason, unique_id=unique_id, action=action, binary=binary)


def assert_matches(got: Message, expected: Message) -> None:
    assert type(got) is type(expected), got
    if isinstance(expected, Malformed):
        assert isinstance(got, Malformed)
        assert (got.reason, got.unique_id, got.action, got.binary) == (
            expected.reason,
            expected.unique_id,
            expected.action,
            expected.binary,
        ), got
        assert isinstance(got.detail, str) and got.detail, "a Malformed says why"
        assert len(got.detail) <= 200
    else:
        assert got == expected


def case(data: bytes, expected: Message, id: str) -> Any:
    return pytest.param(data, expected, id=id)


BOOT16 = {"chargePointVendor": "ACME", "chargePointModel": "X1"}
BOOT201 = {"reason": "PowerUp", "chargingStation": {"model": "X1", "vendorName": "ACME"}}
BOOT_RESPONSE = {"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z", "interval": 300}
TX_EVENT = {
    "eventType": "Started",
    "timestamp": "2024-01-01T00:00:00Z",
    "triggerReason": "CablePluggedIn",
    "seqNo": 0,
    "transactionInfo": {"transactionId": "tx-1"},
    "meterValue": [{"timestamp": "2024-01-01T00:00:00Z", "sampledValue": [{"value": 12.5}]}],
}
STREAM = {
    "id": 1,
    "pending": 0,
    "basetime": "2024-01-01T00:00:00Z",
    "data": [{"t": 0.5, "v": "230.1"}],
}


def _nested(depth: int) -> dict[str, Any]:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value  # type: ignore[no-any-return]


BIG_STRING = "x" * MIB
BIG_CALL = b'[2,"big","DataTransfer",{"vendorId":"v","data":"' + BIG_STRING.encode() + b'"}]'
BIG_NON_ASCII = "ü" * (MIB // 2)  # 1 MiB of UTF-8
BIG_CALL_NON_ASCII = (
    b'[2,"big","DataTransfer",{"vendorId":"v","data":"' + BIG_NON_ASCII.encode() + b'"}]'
)

SIMPLE_CASES = [
    # ---- OCPP 1.6 -------------------------------------------------------------
    case(
        b'[2,"19223201","BootNotification",{"chargePointVendor":"ACME","chargePointModel":"X1"}]',
        Call(unique_id="19223201", action="BootNotification", payload=BOOT16),
        "1.6-call-boot",
    ),
    case(
        b'[3,"19223201",{"status":"Accepted","currentTime":"2024-01-01T00:00:00Z","interval":300}]',
        CallResult(unique_id="19223201", payload=BOOT_RESPONSE),
        "1.6-callresult-boot",
    ),
    case(
        b'[2,"1","Heartbeat",{}]',
        Call(unique_id="1", action="Heartbeat", payload={}),
        "1.6-call-heartbeat-empty-payload",
    ),
    case(
        b'[3,"1",{}]',
        CallResult(unique_id="1", payload={}),
        "callresult-empty-payload",
    ),
    case(
        b'[4,"162376037","NotImplemented","Requested Action is unknown",{}]',
        CallError(
            unique_id="162376037",
            code="NotImplemented",
            description="Requested Action is unknown",
            details={},
        ),
        "1.6-callerror",
    ),
    case(
        b'[4,"7","FormationViolation","",{"path":"a.b","n":1}]',
        CallError(
            unique_id="7",
            code="FormationViolation",
            description="",
            details={"path": "a.b", "n": 1},
        ),
        "1.6-callerror-details",
    ),
    # ---- OCPP 2.0.1 -----------------------------------------------------------
    case(
        b'[2,"a7b1c2d3-0000-4000-8000-000000000001","BootNotification",'
        b'{"reason":"PowerUp","chargingStation":{"model":"X1","vendorName":"ACME"}}]',
        Call(
            unique_id="a7b1c2d3-0000-4000-8000-000000000001",
            action="BootNotification",
            payload=BOOT201,
        ),
        "2.0.1-call-boot-uuid",
    ),
    case(
        json.dumps([2, "tx-ev-1", "TransactionEvent", TX_EVENT]).encode(),
        Call(unique_id="tx-ev-1", action="TransactionEvent", payload=TX_EVENT),
        "2.0.1-call-transaction-event-spaces",
    ),
    case(
        b'[4,"x","FormatViolation","Payload is syntactically incorrect",{}]',
        CallError(
            unique_id="x",
            code="FormatViolation",
            description="Payload is syntactically incorrect",
            details={},
        ),
        "2.0.1-callerror",
    ),
    # ---- OCPP 2.1 --------------------------------------------------------------
    case(
        b'[5,"42","InternalError","Result not accepted",{"why":"x"}]',
        CallResultError(
            unique_id="42",
            code="InternalError",
            description="Result not accepted",
            details={"why": "x"},
        ),
        "2.1-callresulterror",
    ),
    case(
        json.dumps([6, "s1", "NotifyPeriodicEventStream", STREAM]).encode(),
        Send(unique_id="s1", action="NotifyPeriodicEventStream", payload=STREAM),
        "2.1-send",
    ),
    # ---- formatting the parser must accept (and keep byte for byte) ------------
    case(
        b' \n[ 2 ,\t"1" , "Heartbeat" , { } ]\r\n ',
        Call(unique_id="1", action="Heartbeat", payload={}),
        "whitespace-everywhere",
    ),
    case(
        b'[2,"1","DataTransfer",{"vendorId":"v","data":"Gr\xc3\xb6\xc3\x9fe \xe2\x82\xac '
        b'\xe5\x85\x85\xe7\x94\xb5 \xf0\x9f\x94\x8c"}]',
        Call(
            unique_id="1",
            action="DataTransfer",
            payload={"vendorId": "v", "data": "Größe € 充电 🔌"},
        ),
        "non-ascii-utf8",
    ),
    case(
        b'[2,"1","DataTransfer",{"vendorId":"v","data":"\\u00e9\\ud83d\\udd0c\\n"}]',
        Call(unique_id="1", action="DataTransfer", payload={"vendorId": "v", "data": "é🔌\n"}),
        "json-escapes",
    ),
    case(
        b'[2,"1","DataTransfer",{"vendorId":"v","data":"\\ud800"}]',
        Call(unique_id="1", action="DataTransfer", payload={"vendorId": "v", "data": "\ud800"}),
        "escaped-lone-surrogate",
    ),
    case(
        b'[2,"1","A",{"k":1,"k":2}]',
        Call(unique_id="1", action="A", payload={"k": 2}),
        "duplicate-key-last-wins",
    ),
    case(
        b'[2,"","A",{}]',
        Call(unique_id="", action="A", payload={}),
        "empty-unique-id",
    ),
    case(
        b'[2,"' + UID36.encode() + b'","A",{}]',
        Call(unique_id=UID36, action="A", payload={}),
        "unique-id-36-chars",
    ),
    case(
        ('[3,"' + "é" * 36 + '",{}]').encode(),
        CallResult(unique_id="é" * 36, payload={}),
        "unique-id-36-non-ascii-chars",
    ),
    case(
        b'[2,"1","A",{"n":1.7976931348623157e308,"m":-0.0,"e":5e-324}]',
        Call(
            unique_id="1", action="A", payload={"n": 1.7976931348623157e308, "m": -0.0, "e": 5e-324}
        ),
        "float-extremes",
    ),
    case(
        b'[2,"1","A",' + b'{"a":' * 400 + b"1" + b"}" * 400 + b"]",
        Call(unique_id="1", action="A", payload=_nested(400)),
        "nesting-400-is-fine",
    ),
    case(
        BIG_CALL,
        Call(unique_id="big", action="DataTransfer", payload={"vendorId": "v", "data": BIG_STRING}),
        "1MiB-call",
    ),
    case(
        BIG_CALL_NON_ASCII,
        Call(
            unique_id="big", action="DataTransfer", payload={"vendorId": "v", "data": BIG_NON_ASCII}
        ),
        "1MiB-call-non-ascii",
    ),
    # ---- bad JSON --------------------------------------------------------------
    case(b"", bad(R.BAD_JSON), "empty-frame"),
    case(b"   ", bad(R.BAD_JSON), "whitespace-only"),
    case(b"[2,", bad(R.BAD_JSON), "truncated"),
    case(b"{", bad(R.BAD_JSON), "open-brace"),
    case(b"[2,'1','A',{}]", bad(R.BAD_JSON), "single-quotes"),
    case(b'[2,"1","A",{},]', bad(R.BAD_JSON), "trailing-comma"),
    case(b'[2,"1","A",{}] []', bad(R.BAD_JSON), "two-values"),
    case(b'[2,"1","A",{}]\x00', bad(R.BAD_JSON), "trailing-nul"),
    case(b'[2,"1","A",{"k":NaN}]', bad(R.BAD_JSON), "nan-is-not-json"),
    case(b'[2,"1","A",{"k":Infinity}]', bad(R.BAD_JSON), "infinity-is-not-json"),
    case(b'[2,"1","A",{"k":-Infinity}]', bad(R.BAD_JSON), "minus-infinity-is-not-json"),
    case(b"NaN", bad(R.BAD_JSON), "bare-nan"),
    case(b'[2,"1","A",{"n":1e400}]', bad(R.BAD_JSON), "float-overflow"),
    case(b'[2,"1","A",{"n":-1E+999}]', bad(R.BAD_JSON), "float-overflow-negative"),
    case(b'\xef\xbb\xbf[2,"1","A",{}]', bad(R.BAD_JSON), "utf8-bom"),
    case(b'[2,"1","A",{"n":' + b"9" * 5000 + b"}]", bad(R.BAD_JSON), "int-over-4300-digits"),
    case(b'[2,"1","A",{"k":"a\nb"}]', bad(R.BAD_JSON), "raw-control-char-in-string"),
    case(b"[" * 100_000, bad(R.BAD_JSON), "deep-nesting-open-only"),
    case(b"[" * 100_000 + b"]" * 100_000, bad(R.BAD_JSON), "deep-nesting-balanced"),
    case(
        b'[2,"1","A",' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"]",
        bad(R.BAD_JSON),
        "deep-nesting-in-payload",
    ),
    case(b"x" * MIB, bad(R.BAD_JSON), "1MiB-garbage"),
    # ---- invalid UTF-8 ------------------------------------------------------------
    case(b'[2,"1","A",{"k":"\xff"}]', bad(R.INVALID_UTF8), "invalid-utf8-ff"),
    case(b'[2,"1","A",{"k":"\xc3"}]', bad(R.INVALID_UTF8), "invalid-utf8-truncated"),
    case(b'[2,"1","A",{"k":"\xc0\xaf"}]', bad(R.INVALID_UTF8), "invalid-utf8-overlong"),
    case(b'[2,"1","A",{"k":"\xed\xa0\x80"}]', bad(R.INVALID_UTF8), "invalid-utf8-surrogate"),
    case(b"\x80", bad(R.INVALID_UTF8), "invalid-utf8-lone-continuation"),
    # ---- not a list --------------------------------------------------------------
    case(b'{"a":1}', bad(R.NOT_A_LIST), "object"),
    case(b"{}", bad(R.NOT_A_LIST), "empty-object"),
    case(b"2", bad(R.NOT_A_LIST), "number"),
    case(b"2.5", bad(R.NOT_A_LIST), "float"),
    case(b'"[2,\\"1\\",\\"A\\",{}]"', bad(R.NOT_A_LIST), "string"),
    case(b"null", bad(R.NOT_A_LIST), "null"),
    case(b"true", bad(R.NOT_A_LIST), "true"),
    # ---- wrong arity ---------------------------------------------------------------
    case(b"[]", bad(R.WRONG_ARITY), "empty-list"),
    case(b"[ ]", bad(R.WRONG_ARITY), "empty-list-spaced"),
    case(b"[2]", bad(R.WRONG_ARITY), "call-1"),
    case(b'[2,"1","A"]', bad(R.WRONG_ARITY, unique_id="1"), "call-3"),
    case(b'[2,"1","A",{},{}]', bad(R.WRONG_ARITY, unique_id="1"), "call-5"),
    case(b"[3]", bad(R.WRONG_ARITY), "callresult-1"),
    case(b'[3,"1"]', bad(R.WRONG_ARITY, unique_id="1"), "callresult-2"),
    case(b'[3,"1",{},{}]', bad(R.WRONG_ARITY, unique_id="1"), "callresult-4"),
    case(b'[4,"1","E",""]', bad(R.WRONG_ARITY, unique_id="1"), "callerror-4"),
    case(b'[4,"1","E","",{},{}]', bad(R.WRONG_ARITY, unique_id="1"), "callerror-6"),
    case(b'[5,"1","E",""]', bad(R.WRONG_ARITY, unique_id="1"), "callresulterror-4"),
    case(b'[5,"1","E","",{},{}]', bad(R.WRONG_ARITY, unique_id="1"), "callresulterror-6"),
    case(b'[6,"1","A"]', bad(R.WRONG_ARITY, unique_id="1"), "send-3"),
    case(b'[6,"1","A",{},{}]', bad(R.WRONG_ARITY, unique_id="1"), "send-5"),
    case(b"[3,1,{},{}]", bad(R.WRONG_ARITY), "wrong-arity-uid-not-string"),
    case(b'[3,"' + UID37.encode() + b'"]', bad(R.WRONG_ARITY), "wrong-arity-uid-too-long"),
    # ---- unknown type id ------------------------------------------------------------
    case(b'[0,"1","A",{}]', bad(R.UNKNOWN_TYPE_ID, unique_id="1"), "type-0"),
    case(b'[1,"1","A",{}]', bad(R.UNKNOWN_TYPE_ID, unique_id="1"), "type-1"),
    case(b'[7,"1","A",{}]', bad(R.UNKNOWN_TYPE_ID, unique_id="1"), "type-7"),
    case(b'[-2,"1","A",{}]', bad(R.UNKNOWN_TYPE_ID, unique_id="1"), "type-minus-2"),
    case(b'["2","1","A",{}]', bad(R.UNKNOWN_TYPE_ID, unique_id="1"), "type-string-2"),
    case(b'[true,"1","A",{}]', bad(R.UNKNOWN_TYPE_ID, unique_id="1"), "type-true"),
    case(b'[false,"1",{}]', bad(R.UNKNOWN_TYPE_ID, unique_id="1"), "type-false"),
    case(b'[2.0,"1","A",{}]', bad(R.UNKNOWN_TYPE_ID, unique_id="1"), "type-float-2.0"),
    case(b'[null,"1","A",{}]', bad(R.UNKNOWN_TYPE_ID, unique_id="1"), "type-null"),
    case(b'[[2],"1","A",{}]', bad(R.UNKNOWN_TYPE_ID, unique_id="1"), "type-list"),
    case(
        b'[18446744073709551618,"1","A",{}]',
        bad(R.UNKNOWN_TYPE_ID, unique_id="1"),
        "type-huge-int",
    ),
    case(b"[7]", bad(R.UNKNOWN_TYPE_ID), "type-7-alone"),
    case(b"[7,1]", bad(R.UNKNOWN_TYPE_ID), "type-7-uid-not-string"),
    case(
        b'[7,"' + UID37.encode() + b'"]',
        bad(R.UNKNOWN_TYPE_ID),
        "type-7-uid-too-long-not-reported",
    ),
    # ---- bad unique id ---------------------------------------------------------------
    case(b'[2,1,"A",{}]', bad(R.BAD_UNIQUE_ID), "uid-number"),
    case(b'[2,null,"A",{}]', bad(R.BAD_UNIQUE_ID), "uid-null"),
    case(b'[2,["1"],"A",{}]', bad(R.BAD_UNIQUE_ID), "uid-list"),
    case(b"[3,1.5,{}]", bad(R.BAD_UNIQUE_ID), "callresult-uid-float"),
    case(b'[4,{},"E","",{}]', bad(R.BAD_UNIQUE_ID), "callerror-uid-object"),
    case(b'[2,"' + UID37.encode() + b'","A",{}]', bad(R.BAD_UNIQUE_ID), "uid-37-chars"),
    case(b'[6,"' + UID37.encode() + b'","A",{}]', bad(R.BAD_UNIQUE_ID), "send-uid-37-chars"),
    # ---- bad action ---------------------------------------------------------------------
    case(b'[2,"1",1,{}]', bad(R.BAD_ACTION, unique_id="1"), "action-number"),
    case(b'[2,"1",null,{}]', bad(R.BAD_ACTION, unique_id="1"), "action-null"),
    case(b'[2,"1","",{}]', bad(R.BAD_ACTION, unique_id="1"), "action-empty"),
    case(b'[2,"1",["A"],{}]', bad(R.BAD_ACTION, unique_id="1"), "action-list"),
    case(b'[6,"1",true,{}]', bad(R.BAD_ACTION, unique_id="1"), "send-action-bool"),
    # ---- bad payload -------------------------------------------------------------------
    case(b'[2,"1","A",[]]', bad(R.BAD_PAYLOAD, unique_id="1", action="A"), "call-payload-list"),
    case(b'[2,"1","A",null]', bad(R.BAD_PAYLOAD, unique_id="1", action="A"), "call-payload-null"),
    case(b'[2,"1","A","{}"]', bad(R.BAD_PAYLOAD, unique_id="1", action="A"), "call-payload-str"),
    case(b'[6,"1","A",1]', bad(R.BAD_PAYLOAD, unique_id="1", action="A"), "send-payload-number"),
    case(b'[3,"1",[]]', bad(R.BAD_PAYLOAD, unique_id="1"), "callresult-payload-list"),
    case(b'[3,"1",null]', bad(R.BAD_PAYLOAD, unique_id="1"), "callresult-payload-null"),
    case(b'[4,"1","E",null,{}]', bad(R.BAD_PAYLOAD, unique_id="1"), "callerror-desc-null"),
    case(b'[4,"1","E","",[]]', bad(R.BAD_PAYLOAD, unique_id="1"), "callerror-details-list"),
    case(b'[4,"1","E","",null]', bad(R.BAD_PAYLOAD, unique_id="1"), "callerror-details-null"),
    case(b'[5,"1","E",1,{}]', bad(R.BAD_PAYLOAD, unique_id="1"), "callresulterror-desc-int"),
    # ---- bad error code -------------------------------------------------------------------
    case(b'[4,"1",1,"",{}]', bad(R.BAD_ERROR_CODE, unique_id="1"), "callerror-code-number"),
    case(b'[4,"1",null,"",{}]', bad(R.BAD_ERROR_CODE, unique_id="1"), "callerror-code-null"),
    case(b'[5,"1",{},"",{}]', bad(R.BAD_ERROR_CODE, unique_id="1"), "callresulterror-code-obj"),
]


@pytest.mark.parametrize(("data", "expected"), SIMPLE_CASES)
def test_parse(data: bytes, expected: Message) -> None:
    got = parse(data)
    assert_matches(got, expected)
    assert got.raw == data


@pytest.mark.parametrize(("data", "expected"), SIMPLE_CASES)
def test_serialise_parsed_is_byte_identical(data: bytes, expected: Message) -> None:
    assert serialise(parse(data)) == data


@pytest.mark.parametrize(("data", "expected"), SIMPLE_CASES)
def test_parse_accepts_str_bytearray_memoryview(data: bytes, expected: Message) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        from_text = parse(text)
        assert_matches(from_text, expected)
        assert serialise(from_text) == data
    buffers: list[Any] = [bytearray(data), memoryview(data)]  # accepted beyond the annotation
    for buf in buffers:
        got = parse(buf)
        assert_matches(got, expected)
        assert type(got.raw) is bytes
        assert serialise(got) == data


@pytest.mark.parametrize(("data", "expected"), SIMPLE_CASES)
def test_binary_frame_is_malformed_whatever_it_holds(data: bytes, expected: Message) -> None:
    got = parse(data, binary=True)
    assert_matches(got, bad(R.BINARY_FRAME, binary=True))
    assert serialise(got) == data


@pytest.mark.parametrize(
    ("data", "expected"),
    [p for p in SIMPLE_CASES if not isinstance(p.values[1], Malformed)],
)
def test_reencoding_parsed_message_gives_equal_message(data: bytes, expected: Message) -> None:
    """Dropping `raw` re-encodes as compact JSON which parses back to the same message."""
    message = parse(data)
    fresh = dataclasses.replace(message, raw=b"")
    out = serialise(fresh)
    assert json.loads(out) == json.loads(data)
    back = parse(out)
    assert not isinstance(back, Malformed)
    assert back == message
    assert serialise(back) == out


def test_str_with_lone_surrogate_is_invalid_utf8_and_keeps_its_bytes() -> None:
    text = '[2,"1","A",{"k":"\ud800"}]'
    got = parse(text)
    assert_matches(got, bad(R.INVALID_UTF8))
    assert serialise(got) == text.encode("utf-8", "surrogatepass")


def test_unique_id_limit_constant() -> None:
    assert MAX_UNIQUE_ID_LENGTH == 36


def test_message_type_ids() -> None:
    assert [int(t) for t in MessageType] == [2, 3, 4, 5, 6]
    assert Call.message_type is MessageType.CALL
    assert CallResult.message_type is MessageType.CALLRESULT
    assert CallError.message_type is MessageType.CALLERROR
    assert CallResultError.message_type is MessageType.CALLRESULTERROR
    assert Send.message_type is MessageType.SEND
    assert Malformed.message_type is None


def test_raw_is_not_compared_nor_shown() -> None:
    a = parse(b'[2,"1","Heartbeat",{}]')
    b = parse(b' [ 2 , "1" , "Heartbeat" , {} ] ')
    assert a == b
    assert serialise(a) != serialise(b)
    assert "raw" not in repr(a)


def test_messages_are_frozen() -> None:
    message = parse(b'[2,"1","Heartbeat",{}]')
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.unique_id = "2"  # type: ignore[misc]


# ---- messages built in code ----------------------------------------------------------


BUILT_CASES = [
    pytest.param(
        Call(unique_id="1", action="Heartbeat", payload={}),
        b'[2,"1","Heartbeat",{}]',
        id="call",
    ),
    pytest.param(
        CallResult(unique_id="1", payload={"currentTime": "2024-01-01T00:00:00Z"}),
        b'[3,"1",{"currentTime":"2024-01-01T00:00:00Z"}]',
        id="callresult",
    ),
    pytest.param(
        CallError(unique_id="1", code="GenericError"),
        b'[4,"1","GenericError","",{}]',
        id="callerror-defaults",
    ),
    pytest.param(
        CallError(unique_id="1", code="InternalError", description="boom", details={"a": [1]}),
        b'[4,"1","InternalError","boom",{"a":[1]}]',
        id="callerror",
    ),
    pytest.param(
        CallResultError(unique_id="1", code="InternalError"),
        b'[5,"1","InternalError","",{}]',
        id="callresulterror",
    ),
    pytest.param(
        Send(unique_id="1", action="NotifyPeriodicEventStream", payload={"id": 1}),
        b'[6,"1","NotifyPeriodicEventStream",{"id":1}]',
        id="send",
    ),
    pytest.param(
        Call(unique_id="1", action="DataTransfer", payload={"data": "Größe 🔌"}),
        '[2,"1","DataTransfer",{"data":"Größe 🔌"}]'.encode(),
        id="non-ascii-written-as-utf8",
    ),
    pytest.param(
        Call(unique_id="1", action="DataTransfer", payload={"data": "a\ud800b"}),
        b'[2,"1","DataTransfer",{"data":"a\\ud800b"}]',
        id="lone-surrogate-escaped",
    ),
]


@pytest.mark.parametrize(("message", "frame"), BUILT_CASES)
def test_built_message_serialises_compact(message: Message, frame: bytes) -> None:
    assert message.raw == b""
    assert serialise(message) == frame
    back = parse(frame)
    assert back == message
    assert back.raw == frame


def test_built_malformed_serialises_to_nothing() -> None:
    assert serialise(Malformed(reason=R.BAD_JSON)) == b""
    assert serialise(Malformed(reason=R.BAD_JSON, raw=b"xyz")) == b"xyz"


def test_call_result_and_error_answer_with_same_unique_id() -> None:
    call = parse(b'[2,"abc-123","BootNotification",{"chargePointVendor":"v"}]')
    assert isinstance(call, Call)

    result = call.result(BOOT_RESPONSE)
    assert result == CallResult(unique_id="abc-123", payload=BOOT_RESPONSE)
    assert result.raw == b""
    assert (
        serialise(result)
        == json.dumps([3, "abc-123", BOOT_RESPONSE], separators=(",", ":")).encode()
    )

    error = call.error("NotImplemented")
    assert error == CallError(
        unique_id="abc-123", code="NotImplemented", description="", details={}
    )
    assert serialise(error) == b'[4,"abc-123","NotImplemented","",{}]'

    error = call.error("InternalError", "went wrong", {"trace": "x"})
    assert error == CallError(
        unique_id="abc-123", code="InternalError", description="went wrong", details={"trace": "x"}
    )
    assert parse(serialise(error)) == error


def test_call_error_details_default_is_not_shared() -> None:
    call = Call(unique_id="1", action="A", payload={})
    a, b = call.error("E"), call.error("E")
    assert a.details == {} and a.details is not b.details
    assert (
        CallError(unique_id="1", code="E").details is not CallError(unique_id="1", code="E").details
    )


def test_replace_keeps_raw_unless_cleared() -> None:
    data = b'[2, "1", "Heartbeat", {}]'
    message = parse(data)
    assert isinstance(message, Call)

    # replace() copies raw: the change is NOT on the wire (documented pitfall).
    stale = dataclasses.replace(message, action="StatusNotification")
    assert stale.action == "StatusNotification"
    assert serialise(stale) == data

    changed = dataclasses.replace(message, action="StatusNotification", raw=b"")
    assert serialise(changed) == b'[2,"1","StatusNotification",{}]'

    unchanged = dataclasses.replace(message, raw=b"")
    assert serialise(unchanged) == b'[2,"1","Heartbeat",{}]'


@pytest.mark.parametrize(
    ("data", "change", "expected"),
    [
        (b'[3, "1", {"a": 1}]', {"payload": {"a": 2}}, b'[3,"1",{"a":2}]'),
        (b'[4, "1", "E", "d", {}]', {"code": "F"}, b'[4,"1","F","d",{}]'),
        (b'[5, "1", "E", "d", {}]', {"description": ""}, b'[5,"1","E","",{}]'),
        (b'[6, "1", "A", {}]', {"unique_id": "2"}, b'[6,"2","A",{}]'),
    ],
)
def test_replace_with_raw_cleared_reencodes_each_type(
    data: bytes, change: dict[str, Any], expected: bytes
) -> None:
    message = parse(data)
    assert not isinstance(message, Malformed)
    assert serialise(dataclasses.replace(message, **change)) == data
    assert serialise(dataclasses.replace(message, raw=b"", **change)) == expected


# ---- properties ---------------------------------------------------------------------------

FAST = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _check_never_raises_and_round_trips(data: bytes) -> Message:
    message = parse(data)
    assert message.raw == data
    assert serialise(message) == data
    if isinstance(message, Malformed):
        assert isinstance(message.reason, MalformedReason)
        assert message.unique_id is None or len(message.unique_id) <= MAX_UNIQUE_ID_LENGTH
    else:
        assert len(message.unique_id) <= MAX_UNIQUE_ID_LENGTH
        # A valid message can always be re-encoded and parses back equal.
        out = serialise(dataclasses.replace(message, raw=b""))
        assert parse(out) == message
    binary = parse(data, binary=True)
    assert isinstance(binary, Malformed) and binary.binary
    assert serialise(binary) == data
    return message


@FAST
@given(st.binary(max_size=256))
@example(b"")
@example(b"[" * 100_000)
@example(b"{" * 100_000)
@example(b'[2,"1","A",' + b"[" * 50_000)
@example(b"\xff\xfe[\x00")
@example(b'[2,"1","A",{"k":"\\udfff"}]')
def test_parse_arbitrary_bytes_never_raises(data: bytes) -> None:
    _check_never_raises_and_round_trips(data)


@FAST
@given(st.text(alphabet=st.characters(codec=None), max_size=100))
@example('[2,"1","A",{"k":"\ud800"}]')
def test_parse_arbitrary_text_never_raises(text: str) -> None:
    message = parse(text)
    assert serialise(message) == text.encode("utf-8", "surrogatepass")


# Any JSON value (no NaN/Infinity: they are not JSON).
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
short_ids = st.text(max_size=40)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=5)

# Frames shaped like OCPP-J, mostly right and sometimes wrong in one element.
ocpp_like = st.one_of(
    st.tuples(
        st.sampled_from([2, 6]),
        short_ids,
        st.text(max_size=10) | json_values,
        json_objects | json_values,
    ).map(list),
    st.tuples(st.just(3), short_ids | json_values, json_objects | json_values).map(list),
    st.tuples(
        st.sampled_from([4, 5]),
        short_ids,
        st.text(max_size=10) | json_values,
        st.text(max_size=10) | json_values,
        json_objects | json_values,
    ).map(list),
    st.lists(json_values, max_size=6),
    st.tuples(st.integers(-1, 8) | json_values, short_ids).flatmap(
        lambda head: st.lists(json_values, max_size=4).map(lambda tail: [*head, *tail])
    ),
)


@st.composite
def encoded(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> bytes:
    value = draw(values)
    indent = draw(st.sampled_from([None, 0, 2]))
    separators = draw(st.sampled_from([None, (",", ":"), (" , ", " : ")]))
    ensure_ascii = draw(st.booleans())
    text = json.dumps(value, indent=indent, separators=separators, ensure_ascii=ensure_ascii)
    return text.encode("utf-8", "surrogatepass")


@FAST
@given(encoded(json_values | ocpp_like))
def test_parse_arbitrary_json_round_trips(data: bytes) -> None:
    message = _check_never_raises_and_round_trips(data)
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        assert isinstance(message, Malformed) and message.reason is R.INVALID_UTF8
        return
    if isinstance(message, Malformed):
        assert message.reason not in (R.BAD_JSON, R.INVALID_UTF8, R.BINARY_FRAME)
        if message.reason is R.NOT_A_LIST:
            assert not isinstance(value, list)
        return
    # A parsed message is exactly what the JSON holds.
    assert isinstance(value, list)
    assert value[0] == int(message.message_type) and type(value[0]) is int
    assert value[1] == message.unique_id
    if isinstance(message, Call | Send):
        assert value[2:] == [message.action, message.payload]
    elif isinstance(message, CallResult):
        assert value[2:] == [message.payload]
    else:
        assert value[2:] == [message.code, message.description, message.details]


ids = st.text(max_size=MAX_UNIQUE_ID_LENGTH)
actions = st.text(min_size=1, max_size=30)
built_messages = st.one_of(
    st.builds(Call, unique_id=ids, action=actions, payload=json_objects),
    st.builds(Send, unique_id=ids, action=actions, payload=json_objects),
    st.builds(CallResult, unique_id=ids, payload=json_objects),
    st.builds(
        CallError,
        unique_id=ids,
        code=st.text(max_size=20),
        description=st.text(max_size=20),
        details=json_objects,
    ),
    st.builds(
        CallResultError,
        unique_id=ids,
        code=st.text(max_size=20),
        description=st.text(max_size=20),
        details=json_objects,
    ),
)


@FAST
@given(built_messages)
@example(Call(unique_id="\ud800", action="\udfff", payload={"\ud83d": "\udd0c"}))
def test_built_messages_serialise_compact_and_parse_back_equal(message: Message) -> None:
    out = serialise(message)
    out.decode("utf-8")  # always valid UTF-8 on the wire
    back = parse(out)
    assert back == message
    assert serialise(back) == out
    # Compact JSON (no spaces after separators), UTF-8, lone surrogates escaped.
    assert out == _compact(message)


def _compact(message: Message) -> bytes:
    if isinstance(message, Call | Send):
        value: list[Any] = [
            int(message.message_type),
            message.unique_id,
            message.action,
            message.payload,
        ]
    elif isinstance(message, CallResult):
        value = [3, message.unique_id, message.payload]
    else:
        assert not isinstance(message, Malformed)
        value = [
            int(message.message_type),
            message.unique_id,
            message.code,
            message.description,
            message.details,
        ]
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def test_integers_past_64_bits_stay_exact() -> None:
    """The fast JSON path reads them as floats; such frames take the exact path."""
    big = 2**64 + 1
    msg = parse(f'[2,"1","DataTransfer",{{"vendorId":"x","n":{big},"m":-{big}}}]'.encode())
    assert isinstance(msg, Call)
    assert msg.payload["n"] == big and msg.payload["m"] == -big
