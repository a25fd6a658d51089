"""Payload paths: parsing, reading, writing and conditions."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ocpp_chaos.rules.model import PayloadCondition
from ocpp_chaos.rules.paths import (
    WILDCARD,
    as_number,
    condition_matches,
    exists,
    format_path,
    get_values,
    json_equal,
    parse_path,
    payload_matches,
    remove_value,
    set_value,
    update_values,
)

METER_VALUES: dict[str, Any] = {
    "connectorId": 1,
    "transactionId": 42,
    "meterValue": [
        {
            "timestamp": "2024-05-01T10:00:00.123Z",
            "sampledValue": [
                {"value": "1500.0", "measurand": "Energy.Active.Import.Register"},
                {"value": "230", "measurand": "Voltage"},
            ],
        },
        {"timestamp": "2024-05-01T10:01:00.123Z", "sampledValue": [{"value": "1510.5"}]},
    ],
    "idTagInfo": {"status": "Accepted"},
}


# -- parse ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "segments"),
    [
        ("connectorId", ("connectorId",)),
        ("idTagInfo.status", ("idTagInfo", "status")),
        ("meterValue[0].sampledValue[0].value", ("meterValue", 0, "sampledValue", 0, "value")),
        (
            "meterValue[*].sampledValue[*].value",
            ("meterValue", WILDCARD, "sampledValue", WILDCARD, "value"),
        ),
        ("a.*.b", ("a", WILDCARD, "b")),
        ("a[-1]", ("a", -1)),
        ("a[0][1]", ("a", 0, 1)),
        ("[0].a", (0, "a")),
        ("we ird-key]:$", ("we ird-key]:$",)),
    ],
)
def test_parse_path(path: str, segments: tuple[Any, ...]) -> None:
    assert parse_path(path) == segments


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "empty"),
        ("a..b", "empty key"),
        (".a", "empty key"),
        ("a.", "ends with"),
        ("a[x]", "bad list index [x]"),
        ("a[]", "bad list index []"),
        ("a[1.5]", "bad list index"),
        ("a[", "unclosed"),
        ("a[0", "unclosed"),
        ("a[0]b", "unexpected 'b'"),
        ("a.[0]", "empty key"),
    ],
)
def test_parse_path_errors(path: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_path(path)


def test_format_path_roundtrip() -> None:
    for path in ("a.b[0].c", "meterValue[*].sampledValue[*].value", "x[-1]"):
        assert format_path(parse_path(path)) == path


# -- read ----------------------------------------------------------------------------


def test_get_values() -> None:
    p = METER_VALUES
    assert get_values(p, "connectorId") == [1]
    assert get_values(p, "idTagInfo.status") == ["Accepted"]
    assert get_values(p, "meterValue[0].sampledValue[1].value") == ["230"]
    assert get_values(p, "meterValue[-1].sampledValue[0].value") == ["1510.5"]
    assert get_values(p, "meterValue[*].sampledValue[*].value") == ["1500.0", "230", "1510.5"]
    assert get_values(p, "meterValue.*.timestamp") == [
        "2024-05-01T10:00:00.123Z",
        "2024-05-01T10:01:00.123Z",
    ]
    assert get_values(p, "idTagInfo[*]") == ["Accepted"]  # the wildcard on an object: its values
    assert get_values(p, "missing") == []
    assert get_values(p, "meterValue[5].timestamp") == []
    assert get_values(p, "connectorId.x") == []
    assert get_values(p, "connectorId[0]") == []
    assert get_values(p, "meterValue.timestamp") == []  # a key does not index a list
    assert get_values({"a": None}, "a") == [None]
    assert get_values([{"a": 1}], "[0].a") == [1]
    assert get_values(p, ("idTagInfo", "status")) == ["Accepted"]


def test_exists() -> None:
    assert exists(METER_VALUES, "meterValue[*].sampledValue[*].measurand")
    assert exists({"a": None}, "a")
    assert not exists(METER_VALUES, "meterValue[*].nope")
    assert not exists({}, "a")


# -- write ---------------------------------------------------------------------------


def test_set_value() -> None:
    original = copy.deepcopy(METER_VALUES)
    out = set_value(METER_VALUES, "transactionId", -1)
    assert out["transactionId"] == -1
    assert METER_VALUES == original  # untouched

    out = set_value(METER_VALUES, "meterValue[*].sampledValue[*].value", "0")
    assert get_values(out, "meterValue[*].sampledValue[*].value") == ["0", "0", "0"]
    assert get_values(METER_VALUES, "meterValue[0].sampledValue[0].value") == ["1500.0"]

    out = set_value(METER_VALUES, "meterValue[1].sampledValue[0].unit", "Wh")  # a new key
    assert out["meterValue"][1]["sampledValue"][0] == {"value": "1510.5", "unit": "Wh"}

    out = set_value({}, "a.b.c", 1)  # missing objects on the way are created
    assert out == {"a": {"b": {"c": 1}}}

    out = set_value({}, "a.b[0]", 1)  # but no list is invented, and no stray object left
    assert out == {}

    out = set_value(METER_VALUES, "meterValue[9].timestamp", "x")  # out of range: unchanged
    assert out == METER_VALUES

    out = set_value({"a": 5}, "a.b", 1)  # not an object: unchanged
    assert out == {"a": 5}

    out = set_value({"a": [1, 2, 3]}, "a[-1]", 9)
    assert out == {"a": [1, 2, 9]}

    out = set_value({"a": [1, 2]}, "a[*]", 0)
    assert out == {"a": [0, 0]}


def test_set_value_copies_the_value() -> None:
    value = {"k": [1]}
    out = set_value({"a": [{}, {}]}, "a[*].v", value)
    out["a"][0]["v"]["k"].append(2)
    assert out["a"][1]["v"] == {"k": [1]}
    assert value == {"k": [1]}


def test_remove_value() -> None:
    original = copy.deepcopy(METER_VALUES)
    out = remove_value(METER_VALUES, "idTagInfo.status")
    assert out["idTagInfo"] == {}
    assert METER_VALUES == original

    out = remove_value(METER_VALUES, "meterValue[0].sampledValue[0]")
    assert get_values(out, "meterValue[0].sampledValue[*].value") == ["230"]

    out = remove_value(METER_VALUES, "meterValue[*].sampledValue[*].measurand")
    assert not exists(out, "meterValue[*].sampledValue[*].measurand")
    assert get_values(out, "meterValue[*].sampledValue[*].value") == ["1500.0", "230", "1510.5"]

    out = remove_value(METER_VALUES, "meterValue[0].sampledValue[*]")  # every item
    assert out["meterValue"][0]["sampledValue"] == []

    assert remove_value(METER_VALUES, "nope.x") == METER_VALUES
    assert remove_value({"a": [1, 2, 3]}, "a[-1]") == {"a": [1, 2]}
    assert remove_value({"a": {"x": 1, "y": 2}}, "a.*") == {"a": {}}


def test_update_values() -> None:
    original = copy.deepcopy(METER_VALUES)
    out = update_values(METER_VALUES, "meterValue[*].sampledValue[*].value", lambda v: v + "!")
    assert get_values(out, "meterValue[*].sampledValue[*].value") == ["1500.0!", "230!", "1510.5!"]
    assert METER_VALUES == original
    # A missing path: fn is not called, nothing created.
    assert update_values(METER_VALUES, "nope", lambda v: 1 / 0) == METER_VALUES
    assert update_values({"n": 1}, "n", lambda v: v + 1) == {"n": 2}


# -- conditions ----------------------------------------------------------------------


def cond(**kwargs: Any) -> PayloadCondition:
    return PayloadCondition.model_validate(kwargs)


PAYLOAD: dict[str, Any] = {
    "connectorId": 1,
    "ratio": 1.0,
    "flag": True,
    "zero": 0,
    "status": "Accepted",
    "none": None,
    "obj": {"a": [1, 2]},
    "meterValue": [
        {"sampledValue": [{"value": "12.5"}, {"value": "230"}]},
        {"sampledValue": [{"value": "n/a"}]},
    ],
}


@pytest.mark.parametrize(
    ("path", "condition", "expected"),
    [
        # equals, JSON semantics
        ("connectorId", {"equals": 1}, True),
        ("connectorId", {"equals": 1.0}, True),
        ("ratio", {"equals": 1}, True),
        ("connectorId", {"equals": True}, False),
        ("flag", {"equals": 1}, False),
        ("flag", {"equals": True}, True),
        ("zero", {"equals": False}, False),
        ("connectorId", {"equals": "1"}, False),
        ("status", {"equals": "Accepted"}, True),
        ("none", {"equals": None}, True),
        ("missing", {"equals": None}, False),
        ("obj", {"equals": {"a": [1.0, 2]}}, True),
        ("obj", {"equals": {"a": [True, 2]}}, False),
        # in
        ("status", {"in": ["Blocked", "Accepted"]}, True),
        ("status", {"in": ["Blocked"]}, False),
        ("connectorId", {"in": [True, 2]}, False),
        ("connectorId", {"in": [2, 1.0]}, True),
        # regex
        ("status", {"regex": "^Acc"}, True),
        ("status", {"regex": "^acc"}, False),
        ("connectorId", {"regex": r"^\d$"}, True),
        ("flag", {"regex": "True"}, False),
        ("obj", {"regex": "a"}, False),
        ("meterValue[*].sampledValue[*].value", {"regex": "^n/"}, True),
        # min / max, numeric strings count
        ("connectorId", {"min": 1}, True),
        ("connectorId", {"min": 1.5}, False),
        ("connectorId", {"max": 0}, False),
        ("flag", {"min": 0}, False),
        ("status", {"min": 0}, False),
        ("meterValue[0].sampledValue[0].value", {"min": 12, "max": 13}, True),
        ("meterValue[0].sampledValue[0].value", {"min": 12.6}, False),
        ("meterValue[*].sampledValue[*].value", {"min": 100}, True),  # "230"
        ("meterValue[*].sampledValue[*].value", {"min": 300}, False),
        ("meterValue[*].sampledValue[*].value", {"max": 13}, True),  # "12.5"
        # several conditions hold for one value
        ("meterValue[*].sampledValue[*].value", {"min": 100, "regex": "^1"}, False),
        ("meterValue[*].sampledValue[*].value", {"min": 100, "regex": "^2"}, True),
        # exists
        ("status", {"exists": True}, True),
        ("none", {"exists": True}, True),
        ("missing", {"exists": True}, False),
        ("missing", {"exists": False}, True),
        ("status", {"exists": False}, False),
        ("meterValue[*].sampledValue[*].unit", {"exists": False}, True),
        ("meterValue[*].sampledValue[*].value", {"exists": False}, False),
        ("status", {"exists": True, "equals": "Accepted"}, True),
        ("status", {"exists": True, "equals": "Blocked"}, False),
    ],
)
def test_condition_matches(path: str, condition: dict[str, Any], expected: bool) -> None:
    assert condition_matches(PAYLOAD, path, cond(**condition)) is expected


def test_plain_value_in_match_means_equals() -> None:
    from ocpp_chaos.rules.model import Match

    match = Match.model_validate({"payload": {"connectorId": 1, "status": {"in": ["Accepted"]}}})
    assert match.payload is not None
    assert payload_matches(PAYLOAD, match.payload)
    assert not payload_matches({"connectorId": 2, "status": "Accepted"}, match.payload)


def test_helpers() -> None:
    assert as_number("12.5") == 12.5
    assert as_number(" -3 ") == -3
    assert as_number("1e3") == 1000
    assert as_number(True) is None
    assert as_number("nan") is None
    assert as_number("inf") is None
    assert as_number("1_000") is None
    assert as_number(float("inf")) is None
    assert json_equal([1, {"a": 2.0}], [1.0, {"a": 2}])
    assert not json_equal(None, 0)
    assert not json_equal([1], (1,))
