"""Frame transforms: corrupt, mutate, fresh ids and injected answers."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocpp_chaos.frames.events import (
    Call,
    CallError,
    CallResult,
    Malformed,
    MalformedReason,
    Message,
    parse,
)
from ocpp_chaos.rules.faults import (
    UNKNOWN_ACTION,
    call_error_frame,
    call_result_frame,
    corrupt,
    mutate,
    with_fresh_id,
)
from ocpp_chaos.rules.model import Corrupt, CorruptMode, Mutate

MODES: tuple[CorruptMode, ...] = (
    "truncate",
    "invalid_json",
    "invalid_utf8",
    "binary",
    "wrong_type_id",
    "unknown_action",
    "bad_unique_id",
    "missing_field",
    "wrong_type",
    "random_bytes",
)
STRUCTURAL = {"wrong_type_id", "unknown_action", "bad_unique_id", "missing_field", "wrong_type"}

FRAMES: dict[str, bytes] = {
    "call16": b'[2,"19223201","BootNotification",'
    b'{"chargePointVendor":"VendorX","chargePointModel":"SingleSocket","firmwareVersion":"1.0"}]',
    "result16": b'[3,"19223201",{"status":"Accepted","currentTime":"2024-05-01T10:00:00Z",'
    b'"interval":300}]',
    "error16": b'[4,"19223201","FormationViolation","bad frame",{"field":"x"}]',
    "call201": b'[2, "a1b2c3", "BootNotification", {"chargingStation": '
    b'{"model": "M1", "vendorName": "V\xc3\xa9ndor"}, "reason": "PowerUp"}]',
    "result201": b'[3,"a1b2c3",{"currentTime":"2024-05-01T10:00:00.000Z","interval":300,'
    b'"status":"Accepted"}]\n',
    "error201": b'[4,"a1b2c3","FormatViolation","",{}]',
}
MALFORMED: dict[str, tuple[bytes, bool]] = {
    "bad_json": (b'[2,"x","Heartbeat",{}', False),
    "bad_utf8": (b'[2,"x","Heartbeat",{"a":"\xff"}]', False),
    "binary": (b'[2,"x","Heartbeat",{}]', True),
    "unknown_type": (b'[9,"x",{}]', False),
    "empty": (b"", False),
    "one_byte": (b"[", False),
}


def msg(name: str) -> Message:
    if name in FRAMES:
        return parse(FRAMES[name])
    data, binary = MALFORMED[name]
    return parse(data, binary=binary)


def run(message: Message, mode: CorruptMode, seed: int = 1, **kwargs: Any) -> tuple[bytes, bool]:
    fault = Corrupt.model_validate({"type": "corrupt", "mode": mode, **kwargs})
    return corrupt(message, fault, random.Random(seed))


def reparse(data: bytes, binary: bool) -> Message:
    return parse(data, binary=binary)


def test_samples_parse() -> None:
    for name in FRAMES:
        assert not isinstance(msg(name), Malformed), name
    for name in MALFORMED:
        assert isinstance(msg(name), Malformed), name


# -- corrupt: each mode on valid frames ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FRAMES))
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_truncate(name: str, seed: int) -> None:
    data, binary = run(msg(name), "truncate", seed, keep=0.5)
    assert not binary
    original = FRAMES[name]
    assert len(data) < len(original)
    assert original.startswith(data)
    assert abs(len(data) - len(original) // 2) <= 1
    out = reparse(data, binary)
    assert isinstance(out, Malformed)
    assert out.reason in {MalformedReason.BAD_JSON, MalformedReason.INVALID_UTF8}


def test_truncate_keeps_at_least_one_byte_less() -> None:
    data, _ = run(parse(b'[3,"a",{}]'), "truncate", keep=0.99)
    assert data == b'[3,"a",{}'
    data, _ = run(parse(b'[3,"a",{}]  \n'), "truncate", keep=0.99)  # trailing whitespace aside
    assert isinstance(parse(data), Malformed)


@pytest.mark.parametrize("name", sorted(FRAMES))
@pytest.mark.parametrize("seed", range(6))
def test_invalid_json(name: str, seed: int) -> None:
    data, binary = run(msg(name), "invalid_json", seed)
    assert not binary
    text = data.decode("utf-8")  # still text
    with pytest.raises(ValueError):
        json.loads(text)
    out = reparse(data, binary)
    assert isinstance(out, Malformed) and out.reason is MalformedReason.BAD_JSON


@pytest.mark.parametrize("name", sorted(FRAMES))
@pytest.mark.parametrize("seed", range(6))
def test_invalid_utf8(name: str, seed: int) -> None:
    data, binary = run(msg(name), "invalid_utf8", seed)
    assert not binary
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    out = reparse(data, binary)
    assert isinstance(out, Malformed) and out.reason is MalformedReason.INVALID_UTF8


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_binary(name: str) -> None:
    data, binary = run(msg(name), "binary")
    assert binary and data == FRAMES[name]
    out = reparse(data, binary)
    assert isinstance(out, Malformed) and out.reason is MalformedReason.BINARY_FRAME


@pytest.mark.parametrize("name", sorted(FRAMES))
@pytest.mark.parametrize("seed", range(8))
def test_wrong_type_id(name: str, seed: int) -> None:
    original = msg(name)
    data, binary = run(original, "wrong_type_id", seed)
    assert not binary
    out = reparse(data, binary)
    assert isinstance(out, Malformed)
    assert out.reason in {MalformedReason.UNKNOWN_TYPE_ID, MalformedReason.WRONG_ARITY}
    items = json.loads(data)
    assert items[0] != json.loads(FRAMES[name])[0]
    assert items[1:] == json.loads(FRAMES[name])[1:]


def test_wrong_type_id_keeps_formatting() -> None:
    data, _ = run(msg("call201"), "wrong_type_id", 0)
    assert data[:1] == b"[" and data[2:] == FRAMES["call201"][2:]  # only the type id changed


@pytest.mark.parametrize("name", ["call16", "call201"])
def test_unknown_action_on_call(name: str) -> None:
    original = msg(name)
    assert isinstance(original, Call)
    data, binary = run(original, "unknown_action")
    out = reparse(data, binary)
    assert isinstance(out, Call)
    assert out.action == UNKNOWN_ACTION
    assert out.unique_id == original.unique_id and out.payload == original.payload
    # the rest of the frame is kept byte for byte
    assert data.replace(UNKNOWN_ACTION.encode(), b"BootNotification") == FRAMES[name]


@pytest.mark.parametrize("name", ["result16", "error16", "result201", "error201"])
def test_unknown_action_on_answers_is_invalid_json(name: str) -> None:
    data, binary = run(msg(name), "unknown_action")
    out = reparse(data, binary)
    assert isinstance(out, Malformed) and out.reason is MalformedReason.BAD_JSON
    data.decode("utf-8")


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_bad_unique_id(name: str) -> None:
    original = msg(name)
    assert not isinstance(original, Malformed)

    data, binary = run(original, "bad_unique_id", unique_id="empty")
    empty = reparse(data, binary)
    assert type(empty) is type(original) and not isinstance(empty, Malformed)
    assert empty.unique_id == ""

    data, binary = run(original, "bad_unique_id", unique_id="too_long")
    out = reparse(data, binary)
    assert isinstance(out, Malformed) and out.reason is MalformedReason.BAD_UNIQUE_ID
    new_id = json.loads(data)[1]
    assert isinstance(new_id, str) and len(new_id) >= 37
    assert new_id.startswith(original.unique_id)

    data, binary = run(original, "bad_unique_id", unique_id="numeric")
    out = reparse(data, binary)
    assert isinstance(out, Malformed) and out.reason is MalformedReason.BAD_UNIQUE_ID
    assert isinstance(json.loads(data)[1], int)


def test_missing_field() -> None:
    out = parse(run(msg("call16"), "missing_field")[0])
    assert isinstance(out, Call)
    assert "chargePointVendor" not in out.payload  # the first field by default
    assert out.payload["chargePointModel"] == "SingleSocket"

    out = parse(run(msg("call201"), "missing_field", field="chargingStation.model")[0])
    assert isinstance(out, Call)
    assert out.payload["chargingStation"] == {"vendorName": "Véndor"}

    out = parse(run(msg("result16"), "missing_field", field="status")[0])
    assert isinstance(out, CallResult) and "status" not in out.payload

    out = parse(run(msg("error16"), "missing_field")[0])  # a CALLERROR: its details
    assert isinstance(out, CallError) and out.details == {}

    # Nothing to remove: the frame is still returned (re-encoded).
    out = parse(run(msg("error201"), "missing_field")[0])
    assert isinstance(out, CallError) and out.code == "FormatViolation"
    out = parse(run(msg("call16"), "missing_field", field="nope")[0])
    assert isinstance(out, Call) and out.payload == msg("call16").payload  # type: ignore[union-attr]


def test_missing_field_bad_path_raises() -> None:
    with pytest.raises(ValueError, match="bad list index"):
        run(msg("call16"), "missing_field", field="a[x]")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", 0),
        ("12.5", 12.5),
        ("7", 7),
        (300, "300"),
        (1.5, "1.5"),
        ({"a": 1}, [1]),
        ([1, 2], {"0": 1, "1": 2}),
        (True, "true"),
        (None, 0),
    ],
)
def test_wrong_type(value: Any, expected: Any) -> None:
    original = Call(unique_id="u1", action="DataTransfer", payload={"data": value, "other": 1})
    data, binary = run(original, "wrong_type")
    out = reparse(data, binary)
    assert isinstance(out, Call)
    assert out.payload == {"data": expected, "other": 1}
    assert type(out.payload["data"]) is type(expected)


def test_wrong_type_with_field_path() -> None:
    out = parse(run(msg("result16"), "wrong_type", field="interval")[0])
    assert isinstance(out, CallResult) and out.payload["interval"] == "300"
    out = parse(run(msg("call201"), "wrong_type", field="chargingStation")[0])
    assert isinstance(out, Call) and out.payload["chargingStation"] == ["M1", "Véndor"]


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_random_bytes(name: str) -> None:
    data, binary = run(msg(name), "random_bytes", 7)
    assert not binary
    assert len(data) == len(FRAMES[name]) and data != FRAMES[name]
    assert isinstance(reparse(data, binary), Malformed)


# -- corrupt: malformed input -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MALFORMED))
@pytest.mark.parametrize("mode", MODES)
def test_corrupt_malformed_input(name: str, mode: CorruptMode) -> None:
    original = msg(name)
    raw, was_binary = MALFORMED[name]
    data, binary = run(original, mode, 3)
    assert isinstance(data, bytes)
    assert binary is (was_binary or mode == "binary")
    out = reparse(data, binary)
    assert isinstance(out, Malformed)
    if mode == "invalid_json":
        with pytest.raises(ValueError):
            json.loads(data.decode("utf-8"))
    if mode == "invalid_utf8":
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
    if mode == "random_bytes":
        assert len(data) == len(raw)
    if mode in STRUCTURAL and raw:
        assert len(data) < len(raw) or data.endswith(b"\xff\xfe")


def test_structural_fallback_never_yields_a_message() -> None:
    # Truncating this broken frame to half would leave a valid CALLRESULT.
    broken = parse(b'[3,"a",{}]]]]]]]]]]]')
    assert isinstance(broken, Malformed)
    data, _ = run(broken, "wrong_type_id", keep=0.5)
    assert isinstance(parse(data), Malformed)


# -- corrupt: reproducibility and properties --------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["call16", "result201", "bad_json"])
def test_same_seed_same_bytes(mode: CorruptMode, name: str) -> None:
    assert run(msg(name), mode, 42) == run(msg(name), mode, 42)


def test_different_seeds_vary() -> None:
    outputs = {run(msg("call16"), "invalid_utf8", seed)[0] for seed in range(20)}
    assert len(outputs) > 1
    outputs = {run(msg("call16"), "random_bytes", seed)[0] for seed in range(5)}
    assert len(outputs) == 5


_json_scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False,
    allow_infinity=False) | st.text(max_size=8)  # fmt: skip
_json = st.recursive(
    _json_scalar,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_payload = st.dictionaries(st.text(max_size=6), _json, max_size=4)
_uid = st.text(max_size=36)
_frames = st.one_of(
    st.tuples(st.just(2), _uid, st.text(min_size=1, max_size=10), _payload),
    st.tuples(st.just(3), _uid, _payload),
    st.tuples(st.just(4), _uid, st.text(max_size=10), st.text(max_size=10), _payload),
    st.tuples(st.just(5), _uid, st.text(max_size=10), st.text(max_size=10), _payload),
    st.tuples(st.just(6), _uid, st.text(min_size=1, max_size=10), _payload),
).map(lambda t: json.dumps(list(t), ensure_ascii=False).encode("utf-8", "surrogatepass"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(max_size=200) | _frames,
    binary=st.booleans(),
    seed=st.integers(0, 2**32),
    keep=st.floats(0.01, 0.99),
    field=st.none() | st.sampled_from(["a", "a.b", "x[0]", "[*]", "*.*"]),
    unique_id=st.sampled_from(["empty", "too_long", "numeric"]),
)
def test_corrupt_never_raises(
    data: bytes, binary: bool, seed: int, keep: float, field: str | None, unique_id: str
) -> None:
    message = parse(data, binary=binary)
    for mode in MODES:
        fault = Corrupt.model_validate(
            {"type": "corrupt", "mode": mode, "keep": keep, "field": field, "unique_id": unique_id}
        )
        out, is_binary = corrupt(message, fault, random.Random(seed))
        assert isinstance(out, bytes) and isinstance(is_binary, bool)
        assert corrupt(message, fault, random.Random(seed)) == (out, is_binary)
        if mode == "invalid_json":
            text = out.decode("utf-8")
            with pytest.raises((ValueError, RecursionError)):
                json.loads(text)
        elif mode == "invalid_utf8":
            with pytest.raises(UnicodeDecodeError):
                out.decode("utf-8")
        elif mode == "random_bytes":
            assert len(out) == len(message.raw)
        elif mode == "truncate":
            assert len(out) < len(message.raw) or not message.raw
        elif mode == "binary":
            assert is_binary and out == message.raw
        elif mode == "wrong_type_id":
            assert isinstance(parse(out), Malformed)
        parse(out, binary=is_binary)


# -- mutate ----------------------------------------------------------------------------------

METER_VALUES_16 = (
    b'[2,"mv-1","MeterValues",{"connectorId":1,"transactionId":42,"meterValue":['
    b'{"timestamp":"2024-05-01T10:00:00.123Z","sampledValue":['
    b'{"value":"1500.0","measurand":"Energy.Active.Import.Register","unit":"Wh"},'
    b'{"value":"2300","measurand":"Power.Active.Import","unit":"W"}]},'
    b'{"timestamp":"2024-05-01T10:01:00.500Z","sampledValue":[{"value":"1510.25"}]}]}]'
)
TRANSACTION_EVENT_201 = (
    b'[2,"te-1","TransactionEvent",{"eventType":"Updated","timestamp":"2024-05-01T10:00:00Z",'
    b'"triggerReason":"MeterValuePeriodic","seqNo":3,'
    b'"transactionInfo":{"transactionId":"tx-9","chargingState":"Charging"}}]'
)


def mutated(frame: bytes, **changes: Any) -> Message:
    fault = Mutate.model_validate({"type": "mutate", **changes})
    data = mutate(parse(frame), fault)
    assert data is not None
    return parse(data)


def test_mutate_meter_going_backwards() -> None:
    out = mutated(METER_VALUES_16, add={"meterValue[*].sampledValue[*].value": -1000})
    assert isinstance(out, Call)
    values = [sv["value"] for mv in out.payload["meterValue"] for sv in mv["sampledValue"]]
    assert values == ["500.0", "1300", "510.25"]  # strings stay strings, decimals kept


def test_mutate_add_numbers() -> None:
    out = mutated(TRANSACTION_EVENT_201, add={"seqNo": 5})
    assert isinstance(out, Call)
    assert out.payload["seqNo"] == 8 and isinstance(out.payload["seqNo"], int)  # a seqNo gap
    frame = b'[2,"x","A",{"n":1,"f":1.5,"s":"1500","t":"abc","b":true}]'
    out = mutated(frame, add={"n": 0.5, "f": -1, "s": 0.25, "t": 1, "b": 1, "nope": 1})
    assert isinstance(out, Call)
    assert out.payload == {"n": 1.5, "f": 0.5, "s": "1500.25", "t": "abc", "b": True}
    out = mutated(b'[2,"x","A",{"s":"1000.0"}]', add={"s": -1000})
    assert isinstance(out, Call) and out.payload["s"] == "0.0"


def test_mutate_set_transaction_id() -> None:
    stop = b'[2,"st-1","StopTransaction",{"meterStop":2000,"timestamp":"2024-05-01T11:00:00Z",' \
        b'"transactionId":42}]'  # fmt: skip
    out = mutated(stop, set={"transactionId": -1})
    assert isinstance(out, Call) and out.payload["transactionId"] == -1
    out = mutated(TRANSACTION_EVENT_201, set={"transactionInfo.transactionId": "unknown-tx"})
    assert isinstance(out, Call)
    assert out.payload["transactionInfo"]["transactionId"] == "unknown-tx"


def test_mutate_skew() -> None:
    out = mutated(METER_VALUES_16, skew={"meterValue[*].timestamp": "-1h"})
    assert isinstance(out, Call)
    assert [mv["timestamp"] for mv in out.payload["meterValue"]] == [
        "2024-05-01T09:00:00.123Z",
        "2024-05-01T09:01:00.500Z",
    ]
    out = mutated(TRANSACTION_EVENT_201, skew={"timestamp": "30s"})
    assert isinstance(out, Call) and out.payload["timestamp"] == "2024-05-01T10:00:30Z"


@pytest.mark.parametrize(
    ("value", "seconds", "expected"),
    [
        ("2024-01-01T00:00:00Z", -1, "2023-12-31T23:59:59Z"),
        ("2024-01-01T00:00:00.000Z", -0.25, "2023-12-31T23:59:59.750Z"),
        ("2024-01-01T00:00:00.999999999Z", 0.000000001, "2024-01-01T00:00:01.000000000Z"),
        ("2024-01-01T00:00:00+02:00", 3600, "2024-01-01T01:00:00+02:00"),
        ("2024-01-01 00:00:00", 86400, "2024-01-02 00:00:00"),
        ("2024-02-28T23:59:59.5-0500", 0.5, "2024-02-29T00:00:00.0-0500"),
        ("not a time", 10, "not a time"),
        ("2024-13-01T00:00:00Z", 10, "2024-13-01T00:00:00Z"),
        ("9999-12-31T23:59:59Z", 10, "9999-12-31T23:59:59Z"),
        (12345, 10, 12345),
    ],
)
def test_skew_formats(value: Any, seconds: float, expected: Any) -> None:
    frame = json.dumps([2, "x", "A", {"t": value}]).encode()
    out = mutated(frame, skew={"t": seconds})
    assert isinstance(out, Call) and out.payload["t"] == expected


def test_mutate_remove_and_order() -> None:
    out = mutated(METER_VALUES_16, remove=["transactionId", "meterValue[*].sampledValue[*].unit"])
    assert isinstance(out, Call)
    assert "transactionId" not in out.payload
    assert all("unit" not in sv for mv in out.payload["meterValue"] for sv in mv["sampledValue"])
    out = mutated(b'[2,"x","A",{"a":1}]', set={"a": 5, "b": 1}, remove=["b"], add={"a": 1})
    assert isinstance(out, Call) and out.payload == {"a": 6}  # set, remove, add, skew


def test_mutate_result_error_and_malformed() -> None:
    out = mutated(FRAMES["result16"], set={"status": "Rejected"})
    assert isinstance(out, CallResult) and out.payload["status"] == "Rejected"
    out = mutated(FRAMES["error16"], set={"field": "y"})
    assert isinstance(out, CallError) and out.details == {"field": "y"}
    assert out.code == "FormationViolation" and out.description == "bad frame"
    fault = Mutate.model_validate({"type": "mutate", "set": {"a": 1}})
    assert mutate(parse(b"[2,"), fault) is None
    original = parse(METER_VALUES_16)
    mutate(original, Mutate.model_validate({"type": "mutate", "remove": ["meterValue"]}))
    assert isinstance(original, Call) and "meterValue" in original.payload  # untouched


def test_mutate_is_compact() -> None:
    fault = Mutate.model_validate({"type": "mutate", "set": {"reason": "Watchdog"}})
    data = mutate(parse(FRAMES["call201"]), fault)
    assert data is not None and b", " not in data and "Véndor".encode() in data


# -- fresh ids and injected answers -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_with_fresh_id(name: str) -> None:
    original = msg(name)
    assert not isinstance(original, Malformed)
    data = with_fresh_id(original, random.Random(5))
    out = parse(data)
    assert type(out) is type(original) and not isinstance(out, Malformed)
    assert out.unique_id != original.unique_id and len(out.unique_id) == 36
    assert uuid.UUID(out.unique_id).version == 4
    assert json.loads(data)[2:] == json.loads(FRAMES[name])[2:]
    assert data == with_fresh_id(original, random.Random(5))
    assert data != with_fresh_id(original, random.Random(6))
    # the rest of the frame is kept byte for byte
    assert data.replace(out.unique_id.encode(), original.unique_id.encode()) == FRAMES[name]


def test_with_fresh_id_malformed() -> None:
    broken = parse(b'[2,"x","Heartbeat"')
    assert with_fresh_id(broken, random.Random(1)) == b'[2,"x","Heartbeat"'


def test_call_error_frame_spelling() -> None:
    call = parse(FRAMES["call16"])
    assert isinstance(call, Call)
    for version, expected in [
        ("1.6", "FormationViolation"),
        ("ocpp1.6", "FormationViolation"),
        ("2.0.1", "FormatViolation"),
        ("2.1", "FormatViolation"),
        (None, "FormatViolation"),
    ]:
        out = parse(call_error_frame(call, "FormatViolation", version, "chaos", {"k": 1}))
        assert isinstance(out, CallError)
        assert out.unique_id == call.unique_id
        assert (out.code, out.description, out.details) == (expected, "chaos", {"k": 1})
    out = parse(call_error_frame(call, "FormationViolation", "2.0.1"))
    assert isinstance(out, CallError) and out.code == "FormatViolation" and out.details == {}
    assert call_error_frame(call, "InternalError", "1.6") == b'[4,"19223201","InternalError","",{}]'


def test_call_result_frame() -> None:
    call = parse(FRAMES["call201"])
    assert isinstance(call, Call)
    data = call_result_frame(call, {"status": "Accepted", "interval": 300})
    assert data == b'[3,"a1b2c3",{"status":"Accepted","interval":300}]'
