"""Filter expressions (sans-IO): the console's filter line, the event stream, fault targets."""

from __future__ import annotations

import pytest

from ocpp_chaos.api.filters import FilterError, parse_filter

FRAME = {
    "event": "frame",
    "charger": "CP-12",
    "session": "s3",
    "dir": "up",
    "opcode": "text",
    "type": "call",
    "action": "MeterValues",
    "text": '[2,"1","MeterValues",{"connectorId":1}]',
}


@pytest.mark.parametrize(
    ("expr", "matches"),
    [
        ("", True),
        ("charger:CP-1*", True),
        ("charger:CP-2*", False),
        ("charger:cp-12", False),  # charger ids are case-sensitive
        ("charger:CP-9,CP-12", True),
        ("dir:up", True),
        ("direction:down", False),
        ("action:meter*", True),  # actions are not
        ("action:Boot*,Heartbeat", False),
        ("type:call", True),
        ("type:result,error", False),
        ("session:s3", True),
        ("connectorId", True),
        ("connectorId evseId", False),
        ("charger:CP-12 dir:up action:MeterValues type:call connectorId", True),
        ("charger:CP-12 dir:down", False),
    ],
)
def test_frames(expr: str, matches: bool) -> None:
    assert parse_filter(expr).matches(FRAME) is matches


def test_other_events_match_by_their_name() -> None:
    finding = {"event": "finding", "charger": "CP-12", "message": "slow answer", "kind": "x"}
    assert parse_filter("type:finding").matches(finding)
    assert parse_filter("type:event charger:CP-12").matches(finding)
    assert not parse_filter("type:call").matches(finding)
    assert parse_filter("slow").matches(finding)
    closed = {"event": "session_closed", "charger": "CP-1"}
    assert parse_filter("type:session_*").matches(closed)
    assert not parse_filter("dir:up").matches(closed)


def test_select_chargers() -> None:
    ids = ["CP-1", "CP-12", "CP-2", "SIM-00001"]
    assert parse_filter("charger:CP-1*").select(ids) == ["CP-1", "CP-12"]
    assert parse_filter("SIM").select(ids) == ["SIM-00001"]
    assert parse_filter("").select(ids) == ids
    assert parse_filter("charger:NOPE").select(ids) == []


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("colour:red", "unknown key 'colour'"),
        ("dir:sideways", "direction is up or down"),
        ("charger:", "give a value"),
        ('"unclosed', "No closing quotation"),
    ],
)
def test_errors_say_which_term(expr: str, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        parse_filter(expr)
