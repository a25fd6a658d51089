"""Pairing requests and responses (ocpp_chaos.frames.rpc)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocpp_chaos.frames import (
    Call,
    CallError,
    CallResult,
    CallResultError,
    Direction,
    Malformed,
    MalformedReason,
    Outstanding,
    Pairing,
    RpcTracker,
    Send,
    parse,
)

UP, DOWN = Direction.UP, Direction.DOWN

both = pytest.mark.parametrize("d", [UP, DOWN], ids=["call-up", "call-down"])


def call(uid: str, action: str = "Heartbeat") -> Call:
    return Call(unique_id=uid, action=action, payload={})


def result(uid: str) -> CallResult:
    return CallResult(unique_id=uid, payload={})


def test_direction() -> None:
    assert UP.value == "up" and DOWN.value == "down"
    assert UP.opposite is DOWN and DOWN.opposite is UP
    assert Direction("up") is UP


@both
def test_call_is_answered_by_result_in_the_other_direction(d: Direction) -> None:
    t = RpcTracker()
    p = t.feed(d, call("1", "BootNotification"), now=100.0)
    assert p == Pairing(action="BootNotification")
    assert t.outstanding() == [Outstanding("1", "BootNotification", d, 100.0)]

    p = t.feed(d.opposite, result("1"), now=100.25)
    assert p == Pairing(action="BootNotification", rtt=0.25)
    assert t.outstanding() == []


@both
def test_rtt_is_the_difference_of_the_given_clock_values(d: Direction) -> None:
    t = RpcTracker()
    t.feed(d, call("a"), now=5.0)
    t.feed(d, call("b"), now=7.5)
    assert t.feed(d.opposite, result("b"), now=8.0).rtt == pytest.approx(0.5)
    assert t.feed(d.opposite, result("a"), now=65.0).rtt == pytest.approx(60.0)
    # A clock that goes backwards is reported as it is, not clamped.
    t.feed(d, call("c"), now=10.0)
    assert t.feed(d.opposite, result("c"), now=9.0).rtt == pytest.approx(-1.0)


@both
def test_call_error_answers_a_call(d: Direction) -> None:
    t = RpcTracker()
    t.feed(d, call("1", "RemoteStartTransaction"), now=1.0)
    p = t.feed(d.opposite, CallError(unique_id="1", code="NotSupported"), now=3.0)
    assert p == Pairing(action="RemoteStartTransaction", rtt=2.0)
    assert t.outstanding() == []


@both
def test_response_with_unknown_id(d: Direction) -> None:
    t = RpcTracker()
    assert t.feed(d, result("nope"), now=1.0) == Pairing(unknown_id=True)
    assert t.feed(d, CallError(unique_id="nope", code="E"), now=1.0) == Pairing(unknown_id=True)
    t.feed(d, call("1"), now=1.0)
    assert t.feed(d.opposite, result("2"), now=2.0) == Pairing(unknown_id=True)
    assert [c.unique_id for c in t.outstanding()] == ["1"]


@both
def test_response_in_the_same_direction_as_the_call_answers_nothing(d: Direction) -> None:
    t = RpcTracker()
    t.feed(d, call("1"), now=1.0)
    assert t.feed(d, result("1"), now=2.0) == Pairing(unknown_id=True)
    assert [c.unique_id for c in t.outstanding(d)] == ["1"]
    assert t.feed(d.opposite, result("1"), now=3.0) == Pairing(action="Heartbeat", rtt=2.0)


@both
def test_second_answer_to_the_same_call_is_unknown(d: Direction) -> None:
    t = RpcTracker()
    t.feed(d, call("1"), now=1.0)
    assert t.feed(d.opposite, result("1"), now=2.0).rtt == 1.0
    assert t.feed(d.opposite, result("1"), now=3.0) == Pairing(unknown_id=True)
    assert t.feed(d.opposite, CallError(unique_id="1", code="E"), now=3.0).unknown_id


@both
def test_duplicate_id_of_an_outstanding_call(d: Direction) -> None:
    t = RpcTracker()
    assert not t.feed(d, call("1", "Authorize"), now=1.0).duplicate_id
    p = t.feed(d, call("1", "StatusNotification"), now=2.0)
    assert p.duplicate_id
    assert p.action == "StatusNotification"
    # One entry for the id: the latest CALL replaces the earlier one.
    assert t.outstanding() == [Outstanding("1", "StatusNotification", d, 2.0)]
    assert t.feed(d.opposite, result("1"), now=2.5) == Pairing(action="StatusNotification", rtt=0.5)
    assert t.outstanding() == []


@both
def test_reusing_an_id_after_its_answer_is_not_a_duplicate(d: Direction) -> None:
    t = RpcTracker()
    t.feed(d, call("1"), now=1.0)
    t.feed(d.opposite, result("1"), now=2.0)
    p = t.feed(d, call("1"), now=3.0)
    assert not p.duplicate_id and not p.concurrent_call


@both
def test_same_id_in_both_directions_is_independent(d: Direction) -> None:
    t = RpcTracker()
    t.feed(d, call("1", "A"), now=1.0)
    p = t.feed(d.opposite, call("1", "B"), now=2.0)
    assert not p.duplicate_id and not p.concurrent_call
    assert len(t.outstanding()) == 2
    # The answer to the CALL going `d` travels d.opposite, and vice versa.
    assert t.feed(d, result("1"), now=4.0) == Pairing(action="B", rtt=2.0)
    assert t.feed(d.opposite, result("1"), now=4.0) == Pairing(action="A", rtt=3.0)
    assert t.outstanding() == []


@both
def test_concurrent_call_flag(d: Direction) -> None:
    t = RpcTracker()
    assert not t.feed(d, call("1"), now=1.0).concurrent_call
    # A CALL from the other side does not make this side concurrent.
    assert not t.feed(d.opposite, call("x"), now=1.5).concurrent_call
    assert t.feed(d, call("2"), now=2.0).concurrent_call
    assert t.feed(d, call("3"), now=3.0).concurrent_call
    for uid in ("1", "2", "3"):
        t.feed(d.opposite, result(uid), now=4.0)
    assert not t.feed(d, call("4"), now=5.0).concurrent_call


@both
def test_outstanding_order_and_filter(d: Direction) -> None:
    t = RpcTracker()
    t.feed(d, call("late", "A"), now=30.0)
    t.feed(d.opposite, call("early", "B"), now=10.0)
    t.feed(d, call("mid", "C"), now=20.0)
    assert [c.unique_id for c in t.outstanding()] == ["early", "mid", "late"]
    assert [c.unique_id for c in t.outstanding(d)] == ["mid", "late"]
    assert [c.unique_id for c in t.outstanding(d.opposite)] == ["early"]
    assert all(c.direction is d for c in t.outstanding(d))
    assert t.outstanding(d.opposite)[0] == Outstanding("early", "B", d.opposite, 10.0)


@both
def test_unanswered_since(d: Direction) -> None:
    t = RpcTracker()
    t.feed(d, call("1"), now=1.0)
    t.feed(d.opposite, call("2"), now=2.0)
    t.feed(d, call("3"), now=3.0)
    assert t.unanswered_since(0.5) == []
    assert [c.unique_id for c in t.unanswered_since(2.0)] == ["1"]  # strictly before
    assert [c.unique_id for c in t.unanswered_since(2.5)] == ["1", "2"]
    assert [c.unique_id for c in t.unanswered_since(100.0)] == ["1", "2", "3"]
    t.feed(d.opposite, result("1"), now=4.0)
    assert [c.unique_id for c in t.unanswered_since(100.0)] == ["2", "3"]


@both
def test_eviction_bound(d: Direction) -> None:
    t = RpcTracker(max_outstanding=3)
    assert t.max_outstanding == 3 and t.evicted == 0
    for i in range(5):
        t.feed(d, call(str(i)), now=float(i))
    assert t.evicted == 2
    assert [c.unique_id for c in t.outstanding(d)] == ["2", "3", "4"]
    # The evicted CALL is forgotten: its answer is unknown.
    assert t.feed(d.opposite, result("0"), now=9.0) == Pairing(unknown_id=True)
    assert t.feed(d.opposite, result("4"), now=9.0).rtt == 5.0
    assert t.evicted == 2


@both
def test_eviction_bound_is_per_direction(d: Direction) -> None:
    t = RpcTracker(max_outstanding=2)
    for i in range(2):
        t.feed(d, call(f"d{i}"), now=float(i))
        t.feed(d.opposite, call(f"o{i}"), now=float(i))
    assert t.evicted == 0
    assert len(t.outstanding()) == 4
    t.feed(d.opposite, call("o2"), now=5.0)
    assert t.evicted == 1
    assert [c.unique_id for c in t.outstanding(d.opposite)] == ["o1", "o2"]
    assert [c.unique_id for c in t.outstanding(d)] == ["d0", "d1"]


@both
def test_duplicate_refreshes_eviction_order(d: Direction) -> None:
    t = RpcTracker(max_outstanding=3)
    for uid, now in (("a", 1.0), ("b", 2.0), ("c", 3.0), ("a", 4.0), ("d", 5.0)):
        t.feed(d, call(uid), now=now)
    assert t.evicted == 1
    assert sorted(c.unique_id for c in t.outstanding(d)) == ["a", "c", "d"]


def test_default_bound_is_large_and_holds_a_noisy_peer() -> None:
    t = RpcTracker()
    assert t.max_outstanding == 1024
    for i in range(3000):
        t.feed(UP, call(str(i)), now=float(i))
    assert t.evicted == 3000 - 1024
    assert len(t.outstanding(UP)) == 1024
    assert t.outstanding(UP)[0].unique_id == str(3000 - 1024)


@both
def test_action_of(d: Direction) -> None:
    t = RpcTracker()
    t.feed(d, call("1", "GetConfiguration"), now=1.0)
    # A response travelling d.opposite would answer it.
    assert t.action_of(d.opposite, "1") == "GetConfiguration"
    assert t.action_of(d, "1") is None
    assert t.action_of(d.opposite, "2") is None
    # action_of only looks: the CALL is still outstanding.
    assert len(t.outstanding()) == 1
    t.feed(d.opposite, result("1"), now=2.0)
    assert t.action_of(d.opposite, "1") is None


@both
def test_send_is_not_tracked(d: Direction) -> None:
    t = RpcTracker()
    p = t.feed(d, Send(unique_id="s", action="NotifyPeriodicEventStream", payload={}), now=1.0)
    assert p == Pairing(action="NotifyPeriodicEventStream")
    assert t.outstanding() == []
    assert t.feed(d.opposite, result("s"), now=2.0) == Pairing(unknown_id=True)


@both
def test_call_result_error_and_malformed_do_not_pair(d: Direction) -> None:
    t = RpcTracker()
    t.feed(d, call("1", "A"), now=1.0)
    assert t.feed(d.opposite, CallResultError(unique_id="1", code="E"), now=2.0) == Pairing()
    assert t.feed(d, CallResultError(unique_id="1", code="E"), now=2.0) == Pairing()
    bad_response = parse(b'[3,"1",[]]')  # a CALLRESULT with a list payload
    assert isinstance(bad_response, Malformed) and bad_response.unique_id == "1"
    assert t.feed(d.opposite, bad_response, now=2.0) == Pairing()
    assert t.feed(d.opposite, Malformed(reason=MalformedReason.BAD_JSON), now=2.0) == Pairing()
    bad_call = parse(b'[2,"2","StatusNotification",null]')
    assert isinstance(bad_call, Malformed)
    assert t.feed(d, bad_call, now=2.0) == Pairing(action="StatusNotification")
    # Nothing of this touched the outstanding CALL.
    assert [c.unique_id for c in t.outstanding()] == ["1"]
    assert t.feed(d.opposite, result("1"), now=3.0) == Pairing(action="A", rtt=2.0)


@both
def test_feeding_parsed_frames(d: Direction) -> None:
    t = RpcTracker()
    frames: list[tuple[Direction, bytes, float, Pairing]] = [
        (
            d,
            b'[2,"m1","BootNotification",{"chargePointVendor":"v","chargePointModel":"m"}]',
            0.0,
            Pairing(action="BootNotification"),
        ),
        (d.opposite, b'[2,"c1","GetConfiguration",{}]', 0.1, Pairing(action="GetConfiguration")),
        (d, b'[2,"m2","Heartbeat",{}]', 0.2, Pairing(action="Heartbeat", concurrent_call=True)),
        (
            d.opposite,
            b'[3,"m1",{"status":"Accepted"}]',
            0.5,
            Pairing(action="BootNotification", rtt=0.5),
        ),
        (d, b'[4,"c1","NotSupported","",{}]', 0.6, Pairing(action="GetConfiguration", rtt=0.5)),
        (d.opposite, b'[3,"zz",{}]', 0.7, Pairing(unknown_id=True)),
    ]
    for direction, frame, now, expected in frames:
        assert t.feed(direction, parse(frame), now=now) == expected, frame
    assert [(c.unique_id, c.direction) for c in t.outstanding()] == [("m2", d)]


# ---- model-based property --------------------------------------------------------

ops = st.lists(
    st.tuples(
        st.sampled_from(["call", "result", "error", "send"]),
        st.sampled_from([UP, DOWN]),
        st.sampled_from(["1", "2", "3", "4"]),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(ops, st.integers(min_value=1, max_value=4))
def test_tracker_matches_a_simple_model(steps: list[Any], bound: int) -> None:
    t = RpcTracker(max_outstanding=bound)
    model: dict[Direction, dict[str, tuple[str, float]]] = {UP: {}, DOWN: {}}
    evicted = 0
    for now, (kind, d, uid) in enumerate(steps):
        clock = float(now)
        if kind == "call":
            action = f"A{uid}{now}"
            p = t.feed(d, call(uid, action), now=clock)
            assert p.duplicate_id == (uid in model[d])
            assert p.concurrent_call == (bool(model[d]) and uid not in model[d])
            model[d].pop(uid, None)
            model[d][uid] = (action, clock)
            if len(model[d]) > bound:
                del model[d][next(iter(model[d]))]
                evicted += 1
        elif kind in ("result", "error"):
            message = result(uid) if kind == "result" else CallError(unique_id=uid, code="E")
            expected_action = t.action_of(d, uid)
            p = t.feed(d, message, now=clock)
            pending = model[d.opposite].pop(uid, None)
            if pending is None:
                assert p == Pairing(unknown_id=True)
                assert expected_action is None
            else:
                assert p == Pairing(action=pending[0], rtt=clock - pending[1])
                assert expected_action == pending[0]
        else:
            p = t.feed(d, Send(unique_id=uid, action="S", payload={}), now=clock)
            assert p == Pairing(action="S")
        assert t.evicted == evicted
        for direction in (UP, DOWN):
            assert [(c.unique_id, c.action, c.sent_at) for c in t.outstanding(direction)] == (
                sorted(((u, a, s) for u, (a, s) in model[direction].items()), key=lambda x: x[2])
            )
