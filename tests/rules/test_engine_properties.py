"""Properties of the rules engine over arbitrary traffic (hypothesis, no sockets)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from hypothesis import given, reject, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ocpp_chaos.frames import Direction
from ocpp_chaos.proxy.monitor import SessionMonitor
from ocpp_chaos.rules.decisions import FORWARD, Outcome, Send, Wakeup
from ocpp_chaos.rules.engine import RuleEngine
from ocpp_chaos.rules.model import FAULT_TYPES, Rule

ACTIONS = ["Heartbeat", "MeterValues", "StartTransaction", "Authorize"]

ocpp_frames = st.one_of(
    st.builds(
        lambda uid, action, n: json.dumps([2, uid, action, {"connectorId": n}]).encode(),
        st.text("abc123", min_size=1, max_size=4),
        st.sampled_from(ACTIONS),
        st.integers(0, 3),
    ),
    st.builds(
        lambda uid: json.dumps([3, uid, {}]).encode(), st.text("abc123", min_size=1, max_size=4)
    ),
    st.binary(max_size=64),
    st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
traffic = st.lists(
    st.tuples(st.sampled_from([Direction.UP, Direction.DOWN]), ocpp_frames, st.booleans()),
    max_size=40,
)


class Run:
    """Feeds traffic through one session and collects what would be delivered."""

    def __init__(self, rules: list[Rule], seed: int = 0) -> None:
        self.engine = RuleEngine(rules, seed=seed)
        self.monitor = SessionMonitor("s1", "CP-1", "ocpp1.6", check_schema=False)
        self.now = 100.0
        self.delivered: list[tuple[Direction, bytes]] = []
        self.timers: list[Wakeup] = []
        self.take(self.engine.session_open("s1", "CP-1", "ocpp1.6", self.now))

    def take(self, actions: Any) -> None:
        for a in actions:
            if isinstance(a, Send):
                self.delivered.append((a.direction, a.data))
            elif isinstance(a, Wakeup):
                self.timers.append(a)

    def feed(self, direction: Direction, data: bytes, binary: bool) -> Outcome:
        record = self.monitor.observe(direction, data, binary=binary)
        outcome = self.engine.on_frame(record, self.now)
        if outcome.forward:
            self.delivered.append((direction, data))
        self.take(outcome.actions)
        self.now += 0.01
        return outcome

    def finish(self) -> None:
        """Fire every timer and switch every rule off: what is held comes out."""
        while self.timers:
            timer = self.timers.pop(0)
            self.take(self.engine.on_timer("s1", timer.key, timer.at))
        for rule in self.engine.rules:
            for actions in self.engine.disable(rule.name, self.now).values():
                self.take(actions)


def rule(**kw: Any) -> Rule:
    kw.setdefault("name", "r")
    return Rule.model_validate(kw)


EVERY_FAULT = [
    {"type": "drop"},
    {"type": "drop", "response": True},
    {"type": "delay", "delay": 1},
    {"type": "hold", "hold": 1},
    {"type": "duplicate", "copies": 2, "fresh_id": True},
    {"type": "reorder", "after": 2},
    {"type": "corrupt", "mode": "random_bytes"},
    {"type": "corrupt", "mode": "wrong_type"},
    {"type": "mutate", "set": {"connectorId": 7}},
    {"type": "reply_error", "code": "InternalError"},
    {"type": "reply", "payload": {}},
    {"type": "signal_loss", "duration": 0.1},
    {"type": "blackhole", "duration": 0.1},
    {"type": "latency", "fixed": 0.1, "jitter": 0.1},
    {"type": "disconnect"},
    {"type": "reject_connect"},
    {"type": "throttle", "bytes_per_second": 100},
    {"type": "flap", "period": 0.2},
    {"type": "csms_outage", "duration": 1},
    {"type": "strip_subprotocol"},
    {"type": "rewrite_header", "header": "X"},
    {"type": "inject", "to": "charger", "call": {"action": "Reset", "payload": {}}},
]


def test_every_fault_type_is_exercised_here() -> None:
    assert {f["type"] for f in EVERY_FAULT} == set(FAULT_TYPES)


@settings(max_examples=150, deadline=None)
@given(traffic)
def test_no_rules_forwards_everything_unchanged(frames: list) -> None:
    run = Run([])
    for direction, data, binary in frames:
        assert run.feed(direction, data, binary) is FORWARD
    assert run.delivered == [(d, data) for d, data, _ in frames]


@settings(max_examples=100, deadline=None)
@given(
    traffic,
    st.sampled_from(EVERY_FAULT),
    st.sampled_from(
        [{}, {"action": "MeterValues"}, {"direction": "down"}, {"message": "malformed"}]
    ),
    st.integers(0, 3),
)
def test_never_raises_on_arbitrary_traffic(
    frames: list, fault: dict, match: dict, seed: int
) -> None:
    try:
        chaos = rule(fault=fault, match=match, probability=0.7)
    except ValidationError:
        reject()  # a combination the rule model refuses (e.g. drop-response on malformed)
    run = Run([chaos], seed=seed)
    for direction, data, binary in frames:
        run.feed(direction, data, binary)
    run.finish()


@settings(max_examples=150, deadline=None)
@given(traffic, st.integers(1, 4), st.booleans())
def test_duplicate_never_loses_a_frame(frames: list, copies: int, fresh: bool) -> None:
    run = Run(
        [
            rule(
                fault={"type": "duplicate", "copies": copies, "fresh_id": fresh},
                match={"action": "MeterValues"},
            )
        ]
    )
    for direction, data, binary in frames:
        run.feed(direction, data, binary)
    run.finish()
    got = Counter(run.delivered)
    for item, n in Counter((d, data) for d, data, _ in frames).items():
        assert got[item] >= n


@settings(max_examples=150, deadline=None)
@given(
    traffic,
    st.integers(1, 5),
    st.sampled_from([{}, {"action": "MeterValues"}, {"direction": "up"}]),
)
def test_reorder_never_loses_a_frame(frames: list, after: int, match: dict) -> None:
    run = Run([rule(fault={"type": "reorder", "after": after}, match=match, every=2)])
    for direction, data, binary in frames:
        run.feed(direction, data, binary)
    run.finish()
    assert Counter(run.delivered) == Counter((d, data) for d, data, _ in frames)


@settings(max_examples=150, deadline=None)
@given(traffic, st.sampled_from(ACTIONS), st.integers(1, 3))
def test_drop_removes_exactly_what_it_matched(frames: list, action: str, every: int) -> None:
    run = Run(
        [rule(fault={"type": "drop"}, match={"action": action, "message": "call"}, every=every)]
    )
    expected = []
    matched = 0
    for direction, data, binary in frames:
        record = SessionMonitor("x", "CP-1", "ocpp1.6", check_schema=False).observe(
            direction, data, binary=binary
        )
        is_match = record.kind == "call" and record.action == action
        if is_match:
            matched += 1
        if not (is_match and matched % every == 0):
            expected.append((direction, data))
        run.feed(direction, data, binary)
    run.finish()
    assert run.delivered == expected
    assert run.engine.stats("r").hits == matched // every
