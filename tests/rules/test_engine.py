"""The rules engine without sockets: frames in, decisions out, a fake clock."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ocpp_chaos.frames import Direction, parse
from ocpp_chaos.proxy.monitor import SessionMonitor
from ocpp_chaos.rules.decisions import (
    FORWARD,
    Abort,
    Close,
    Detach,
    Outcome,
    Release,
    Send,
    Wakeup,
)
from ocpp_chaos.rules.engine import RuleEngine
from ocpp_chaos.rules.model import Rule

UP, DOWN = Direction.UP, Direction.DOWN


def rule(**kw: Any) -> Rule:
    kw.setdefault("name", "r")
    return Rule.model_validate(kw)


class Bench:
    """One engine, sessions made of real monitors, and a clock advanced by hand."""

    def __init__(self, *rules: Rule, seed: int = 0) -> None:
        self.engine = RuleEngine(rules, seed=seed)
        self.now = 1000.0
        self.monitors: dict[str, SessionMonitor] = {}
        self.opened: dict[str, list] = {}
        self._n = 0

    def open(self, charger: str = "CP1", subprotocol: str = "ocpp1.6") -> str:
        self._n += 1
        sid = f"s{self._n}"
        self.monitors[sid] = SessionMonitor(sid, charger, subprotocol, check_schema=False)
        self.opened[sid] = self.engine.session_open(sid, charger, subprotocol, self.now)
        return sid

    def frame(
        self, sid: str, direction: Direction, data: bytes | str, *, binary: bool = False
    ) -> Outcome:
        raw = data.encode() if isinstance(data, str) else data
        record = self.monitors[sid].observe(direction, raw, binary=binary)
        return self.engine.on_frame(record, self.now)

    def call(
        self,
        sid: str,
        action: str,
        payload: dict | None = None,
        uid: str = "1",
        direction: Direction = UP,
    ) -> Outcome:
        return self.frame(sid, direction, json.dumps([2, uid, action, payload or {}]))

    def result(
        self, sid: str, uid: str = "1", payload: dict | None = None, direction: Direction = DOWN
    ) -> Outcome:
        return self.frame(sid, direction, json.dumps([3, uid, payload or {}]))


def sends(outcome: Outcome) -> list[Send]:
    return [a for a in outcome.actions if isinstance(a, Send)]


def delivered(outcome: Outcome, original: bytes | None = None) -> list[bytes]:
    """What reaches the other side at once, the frame itself included when forwarded."""
    if outcome.forward:
        assert original is not None
        return [original]
    return [s.data for s in sends(outcome) if s.at is None]


# -- no rules ------------------------------------------------------------------


def test_no_rules_forwards_everything_unchanged() -> None:
    b = Bench()
    sid = b.open()
    for data in (b'[2,"1","Heartbeat",{}]', b"garbage", b"\xff", b""):
        assert b.frame(sid, UP, data) is FORWARD
        assert b.frame(sid, DOWN, data) is FORWARD


def test_disabled_rule_does_nothing() -> None:
    b = Bench(rule(enabled=False, fault={"type": "drop"}))
    sid = b.open()
    assert b.call(sid, "Heartbeat") is FORWARD


# -- matchers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("match", "hit"),
    [
        ({}, True),
        ({"direction": "up"}, True),
        ({"direction": "down"}, False),
        ({"charger": "CP*"}, True),
        ({"charger": "XX*"}, False),
        ({"charger": ["XX", "CP1"]}, True),
        ({"charger": "re:^C.1$"}, True),
        ({"charger": "re:^X"}, False),
        ({"charger": "CP"}, False),  # a glob matches the whole id
        ({"protocol": "ocpp1.6"}, True),
        ({"protocol": ["ocpp2.0.1", "ocpp2.1"]}, False),
        ({"message": "call"}, True),
        ({"message": ["result", "error"]}, False),
        ({"action": "StartTransaction"}, True),
        ({"action": ["Heartbeat", "Authorize"]}, False),
        ({"payload": {"connectorId": 1}}, True),
        ({"payload": {"connectorId": {"in": [2, 3]}}}, False),
        ({"payload": {"idTag": {"regex": "^TAG"}}}, True),
        ({"payload": {"meterStart": {"min": 100, "max": 200}}}, True),
        ({"payload": {"meterStart": {"min": 201}}}, False),
        ({"payload": {"reservationId": {"exists": False}}}, True),
        ({"payload": {"idTag": {"exists": True}}, "action": "StartTransaction"}, True),
    ],
)
def test_matchers(match: dict, hit: bool) -> None:
    b = Bench(rule(match=match, fault={"type": "drop"}))
    sid = b.open("CP1", "ocpp1.6")
    out = b.call(
        sid,
        "StartTransaction",
        {
            "connectorId": 1,
            "idTag": "TAG-1",
            "meterStart": 150,
            "timestamp": "2026-11-25T00:00:00.000Z",
        },
    )
    assert (out is not FORWARD) == hit
    if hit:
        assert sends(out) == [] and out.decision == "drop:r"


def test_result_matches_through_the_action_of_its_call() -> None:
    b = Bench(
        rule(match={"action": "BootNotification", "message": "result"}, fault={"type": "drop"})
    )
    sid = b.open()
    assert b.call(sid, "BootNotification", uid="b1") is FORWARD
    assert b.call(sid, "Heartbeat", uid="h1") is FORWARD
    assert b.result(sid, "h1") is FORWARD
    assert sends(b.result(sid, "b1")) == []


def test_malformed_frames_can_be_matched() -> None:
    b = Bench(rule(match={"message": "malformed"}, fault={"type": "drop"}))
    sid = b.open()
    assert sends(b.frame(sid, UP, b"not json")) == []
    assert b.call(sid, "Heartbeat") is FORWARD


# -- selectors -----------------------------------------------------------------


def _hits(b: Bench, sid: str, n: int, charger_action: str = "Heartbeat") -> list[bool]:
    return [b.call(sid, charger_action, uid=str(i)) is not FORWARD for i in range(n)]


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ({"nth": 3}, [False, False, True, False, False, False]),
        ({"first": 2}, [True, True, False, False, False, False]),
        ({"every": 2}, [False, True, False, True, False, True]),
        ({"after": 4}, [False, False, False, False, True, True]),
        ({"after": 1, "nth": 2}, [False, False, True, False, False, False]),
        ({"after": 2, "every": 2}, [False, False, False, True, False, True]),
        ({"count": 2}, [True, True, False, False, False, False]),
        ({"probability": 0}, [False] * 6),
        ({"probability": 1}, [True] * 6),
    ],
)
def test_selection(selection: dict, expected: list[bool]) -> None:
    b = Bench(rule(fault={"type": "drop"}, **selection))
    sid = b.open()
    assert _hits(b, sid, 6) == expected


def test_counters_are_per_charger_and_count_is_total() -> None:
    b = Bench(rule(fault={"type": "drop"}, nth=2, count=3))
    a, c, d = b.open("A"), b.open("C"), b.open("D")
    assert _hits(b, a, 3) == [False, True, False]
    assert _hits(b, c, 3) == [False, True, False]
    assert _hits(b, d, 3) == [False, True, False]
    e = b.open("E")
    assert _hits(b, e, 3) == [False, False, False]  # count: 3 hits in total
    assert b.engine.stats("r").hits == 3


def test_probability_is_seeded_and_reproducible() -> None:
    def run(seed: int) -> list[bool]:
        b = Bench(rule(fault={"type": "drop"}, probability=0.5), seed=seed)
        sid = b.open("CP-7")
        return _hits(b, sid, 200)

    first = run(42)
    assert first == run(42)
    assert first != run(43)
    assert 60 < sum(first) < 140


def test_probability_does_not_depend_on_other_chargers_traffic() -> None:
    b1 = Bench(rule(fault={"type": "drop"}, probability=0.5), seed=1)
    s1 = b1.open("CP-A")
    alone = _hits(b1, s1, 50)
    b2 = Bench(rule(fault={"type": "drop"}, probability=0.5), seed=1)
    s2, other = b2.open("CP-A"), b2.open("CP-B")
    mixed = []
    for i in range(50):
        b2.call(other, "Heartbeat", uid=f"o{i}")
        mixed.append(b2.call(s2, "Heartbeat", uid=str(i)) is not FORWARD)
    assert mixed == alone


def test_window_relative_to_activation_and_to_session() -> None:
    b = Bench(rule(fault={"type": "drop"}, window={"start": "10s", "duration": "5s"}))
    sid = b.open()
    assert b.call(sid, "Heartbeat", uid="a") is FORWARD  # t=0 after activation (at 0.0)
    b2 = Bench(rule(fault={"type": "drop"}, window={"start": 10, "duration": 5, "from": "session"}))
    sid2 = b2.open()
    for offset, hit in ((0, False), (9.9, False), (10, True), (14.9, True), (15, False)):
        b2.now = 1000.0 + offset
        assert (b2.call(sid2, "Heartbeat", uid=str(offset)) is not FORWARD) == hit, offset


def test_window_from_activation_uses_the_enable_time() -> None:
    b = Bench(rule(enabled=False, fault={"type": "drop"}, window={"start": 5, "duration": 5}))
    sid = b.open()
    b.engine.enable("r", b.now)
    assert b.call(sid, "Heartbeat", uid="0") is FORWARD
    b.now += 6
    assert b.call(sid, "Heartbeat", uid="1") is not FORWARD
    b.now += 5
    assert b.call(sid, "Heartbeat", uid="2") is FORWARD


@pytest.mark.parametrize(("radius", "n"), [("all", 20), ("one", 1), ({"count": 3}, 3)])
def test_blast_radius_counts(radius: Any, n: int) -> None:
    b = Bench(rule(fault={"type": "drop"}, chargers=radius))
    hit = [
        cid
        for cid in (f"CP-{i}" for i in range(20))
        if b.call(b.open(cid), "Heartbeat") is not FORWARD
    ]
    assert len(hit) == n


def test_blast_radius_percent_is_seeded() -> None:
    def chosen(seed: int) -> set[str]:
        b = Bench(rule(fault={"type": "drop"}, chargers={"percent": 25}), seed=seed)
        return {
            cid
            for cid in (f"CP-{i}" for i in range(400))
            if b.call(b.open(cid), "Heartbeat") is not FORWARD
        }

    a = chosen(7)
    assert a == chosen(7)
    assert a != chosen(8)
    assert 60 < len(a) < 140


def test_same_seed_same_traffic_same_decisions() -> None:
    rules = [
        rule(name="p", fault={"type": "duplicate", "copies": 2, "fresh_id": True}, probability=0.3),
        rule(
            name="c",
            fault={"type": "corrupt", "mode": "random_bytes"},
            probability=0.2,
            match={"direction": "down"},
        ),
        rule(
            name="l",
            fault={"type": "latency", "fixed": 0.1, "jitter": 0.5},
            match={"action": "MeterValues"},
        ),
    ]

    def run() -> list[Outcome]:
        b = Bench(*rules, seed=99)
        out = []
        for cid in ("A", "B"):
            sid = b.open(cid)
            for i in range(40):
                out.append(b.call(sid, "MeterValues" if i % 3 else "Heartbeat", uid=str(i)))
                out.append(b.result(sid, uid=str(i)))
        return out

    assert run() == run()


# -- message faults ------------------------------------------------------------------


def test_drop_only_the_response() -> None:
    b = Bench(rule(match={"action": "StartTransaction"}, fault={"type": "drop", "response": True}))
    sid = b.open()
    req = b.call(sid, "StartTransaction", uid="s1")
    assert delivered(req) == [b'[2, "s1", "StartTransaction", {}]']  # the request goes through
    out = b.result(sid, "s1")
    assert sends(out) == [] and out.decision == "drop:r"
    assert b.result(sid, "other") is FORWARD


def test_delay_sends_later() -> None:
    b = Bench(rule(fault={"type": "delay", "delay": "2s"}))
    sid = b.open()
    (s,) = sends(b.call(sid, "Heartbeat"))
    assert s.at == b.now + 2 and s.rule == "r" and s.direction is UP


def test_hold_response_past_timeout() -> None:
    b = Bench(rule(match={"action": "Authorize"}, fault={"type": "hold", "hold": 40}))
    sid = b.open()
    assert delivered(b.call(sid, "Authorize", uid="a1")) == [b'[2, "a1", "Authorize", {}]']
    (s,) = sends(b.result(sid, "a1"))
    assert s.at == b.now + 40 and s.direction is DOWN


def test_latency_keeps_order() -> None:
    b = Bench(
        rule(fault={"type": "latency", "fixed": 0.1, "jitter": 1.0}, match={"direction": "up"})
    )
    sid = b.open()
    ats = []
    for i in range(50):
        (s,) = sends(b.call(sid, "Heartbeat", uid=str(i)))
        ats.append(s.at)
        b.now += 0.01
    assert ats == sorted(ats)
    assert min(a - 1000.0 for a in ats) >= 0.1


def test_duplicate_same_and_fresh_id() -> None:
    b = Bench(rule(fault={"type": "duplicate", "copies": 2}))
    sid = b.open()
    out = sends(b.call(sid, "Heartbeat", uid="x"))
    assert [parse(s.data).unique_id for s in out] == ["x", "x", "x"]  # type: ignore[union-attr]
    b2 = Bench(rule(fault={"type": "duplicate", "copies": 2, "fresh_id": True}))
    sid2 = b2.open()
    ids = [parse(s.data).unique_id for s in sends(b2.call(sid2, "Heartbeat", uid="x"))]  # type: ignore[union-attr]
    assert ids[0] == "x" and len(set(ids)) == 3


def test_reorder_swaps_with_the_next_frame() -> None:
    b = Bench(rule(match={"action": "MeterValues"}, fault={"type": "reorder"}, first=1))
    sid = b.open()
    first = b.call(sid, "MeterValues", uid="m1")
    assert sends(first) == [] and any(isinstance(a, Wakeup) for a in first.actions)
    second = b.call(sid, "Heartbeat", uid="h1")
    assert [parse(s.data).unique_id for s in sends(second)] == ["h1", "m1"]  # type: ignore[union-attr]


def test_reorder_after_n_and_deadline() -> None:
    b = Bench(
        rule(
            match={"action": "MeterValues"},
            fault={"type": "reorder", "after": 3, "max_hold": 10},
            first=1,
        )
    )
    sid = b.open()
    b.call(sid, "MeterValues", uid="m1")
    assert b.call(sid, "Heartbeat", uid="h1") is FORWARD  # 1 of 3 overtaken: m1 still held
    b.now += 11
    released = b.engine.on_timer(sid, "reorder:r", b.now)
    assert [parse(s.data).unique_id for s in released if isinstance(s, Send)] == ["m1"]  # type: ignore[union-attr]


def test_corrupt_replaces_the_frame() -> None:
    b = Bench(rule(fault={"type": "corrupt", "mode": "binary"}))
    sid = b.open()
    (s,) = sends(b.call(sid, "Heartbeat"))
    assert s.opcode == "binary"


def test_mutate_sets_fields() -> None:
    b = Bench(
        rule(
            fault={"type": "mutate", "set": {"transactionId": -1}},
            match={"action": "StopTransaction"},
        )
    )
    sid = b.open()
    (s,) = sends(
        b.call(
            sid,
            "StopTransaction",
            {"transactionId": 5, "meterStop": 1, "timestamp": "2026-11-25T00:00:00.000Z"},
        )
    )
    assert parse(s.data).payload["transactionId"] == -1  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("subprotocol", "code"), [("ocpp1.6", "FormationViolation"), ("ocpp2.0.1", "FormatViolation")]
)
def test_reply_error_answers_in_the_peers_place_per_version(subprotocol: str, code: str) -> None:
    b = Bench(
        rule(
            match={"action": "BootNotification"},
            fault={"type": "reply_error", "code": "FormatViolation"},
        )
    )
    sid = b.open(subprotocol=subprotocol)
    out = b.call(sid, "BootNotification", {"x": 1}, uid="b1")
    (s,) = sends(out)
    assert s.direction is DOWN and s.injected
    reply = parse(s.data)
    assert reply.code == code and reply.unique_id == "b1"  # type: ignore[union-attr]


def test_reply_answers_with_a_payload() -> None:
    b = Bench(
        rule(
            match={"action": "Authorize"},
            fault={"type": "reply", "payload": {"idTagInfo": {"status": "Blocked"}}},
        )
    )
    sid = b.open()
    (s,) = sends(b.call(sid, "Authorize", {"idTag": "T"}, uid="a"))
    assert parse(s.data).payload == {"idTagInfo": {"status": "Blocked"}}  # type: ignore[union-attr]


# -- session faults ------------------------------------------------------------------


def test_signal_loss_isolates_refuses_and_resets() -> None:
    b = Bench(rule(fault={"type": "signal_loss", "duration": 30, "refuse": 503}))
    sid = b.open("CP-7")
    (wake,) = b.opened[sid]
    assert isinstance(wake, Wakeup) and wake.at == b.now + 30
    assert b.engine.isolated(sid, b.now)
    out = b.call(sid, "Heartbeat")
    assert sends(out) == [] and out.decision.startswith("blackhole:")
    assert sends(b.frame(sid, DOWN, b"x")) == []
    refusal = b.engine.on_connect("CP-7", ["ocpp1.6"], b.now + 10).refuse
    assert refusal is not None and refusal.status == 503
    assert b.engine.on_connect("CP-8", ["ocpp1.6"], b.now + 10).refuse is None
    b.now += 30
    end = b.engine.on_timer(sid, wake.key, b.now)
    assert Abort("charger", "r") in end and any(isinstance(a, Detach) for a in end)
    assert b.engine.isolated(sid, b.now)  # this connection stays dead; the CSMS side lingers
    linger = next(a for a in end if isinstance(a, Wakeup))
    assert set(b.engine.on_timer(sid, linger.key, linger.at)) == {
        Abort("csms", "r"),
        Abort("charger", "r"),
    }
    assert b.engine.on_connect("CP-7", ["ocpp1.6"], b.now).refuse is None
    # a new session of the same charger is not hit again during this activation
    sid2 = b.open("CP-7")
    assert b.opened[sid2] == []


def test_signal_loss_triggered_by_a_frame() -> None:
    b = Bench(
        rule(
            match={"action": "MeterValues"},
            fault={"type": "signal_loss", "duration": 5, "mode": "half_open"},
        )
    )
    sid = b.open()
    assert b.call(sid, "Heartbeat") is FORWARD
    out = b.call(sid, "MeterValues", uid="m")
    assert sends(out) == [] and any(isinstance(a, Wakeup) for a in out.actions)
    assert b.engine.isolated(sid, b.now)


def test_disconnect_and_abrupt() -> None:
    b = Bench(rule(fault={"type": "disconnect", "code": 4000, "reason": "bye"}))
    sid = b.open()
    assert Close("charger", 4000, "bye", "r") in b.opened[sid]
    b2 = Bench(rule(fault={"type": "disconnect", "abrupt": True, "side": "csms"}))
    sid2 = b2.open()
    assert b2.opened[sid2] == [Abort("csms", "r")]


def test_reject_connect() -> None:
    b = Bench(rule(match={"charger": "BAD-*"}, fault={"type": "reject_connect", "status": 404}))
    assert b.engine.on_connect("BAD-1", ["ocpp1.6"], b.now).refuse.status == 404  # type: ignore[union-attr]
    assert b.engine.on_connect("GOOD-1", ["ocpp1.6"], b.now).refuse is None


# -- runtime control -----------------------------------------------------------------


def test_disable_releases_held_frames_and_blackhole() -> None:
    b = Bench(
        rule(name="ro", match={"action": "MeterValues"}, fault={"type": "reorder", "after": 100}),
        rule(name="bh", enabled=False, fault={"type": "blackhole"}),
    )
    sid = b.open()
    b.call(sid, "MeterValues", uid="m1")
    out = b.engine.disable("ro", b.now)
    released = [a for a in out[sid] if isinstance(a, Send)]
    assert [parse(s.data).unique_id for s in released] == ["m1"]  # type: ignore[union-attr]
    assert Release("ro") in out[sid]
    b.engine.enable("bh", b.now)
    assert b.engine.isolated(sid, b.now)
    b.engine.disable("bh", b.now)
    assert not b.engine.isolated(sid, b.now)
    assert b.call(sid, "Heartbeat") is FORWARD


def test_fire_adhoc_at_one_charger() -> None:
    b = Bench()
    s7, s8 = b.open("CP-7"), b.open("CP-8")
    name, actions = b.engine.fire({"type": "signal_loss", "duration": 30}, "CP-7", b.now)
    assert set(actions) == {s7}
    assert b.engine.isolated(s7, b.now) and not b.engine.isolated(s8, b.now)
    assert name.startswith("adhoc-")


def test_add_remove_and_stats() -> None:
    b = Bench()
    sid = b.open()
    b.engine.add(rule(name="d", fault={"type": "drop"}, first=1), b.now)
    assert b.call(sid, "Heartbeat", uid="1") is not FORWARD
    assert b.call(sid, "Heartbeat", uid="2") is FORWARD
    stats = b.engine.stats("d")
    assert (stats.matched, stats.hits, stats.decisions) == (2, 1, {"drop": 1})
    b.engine.remove("d", b.now)
    assert b.engine.rules == []


# -- the rest of the catalogue ----------------------------------------------------


def test_throttle_spaces_frames_by_size_and_keeps_order() -> None:
    b = Bench(rule(fault={"type": "throttle", "bytes_per_second": 100}, match={"direction": "up"}))
    sid = b.open()
    first = b.call(sid, "Heartbeat", uid="1")  # 25 bytes: the link is free, it goes now
    assert first.decision == "throttle:r" and sends(first)[0].at is None
    second = sends(b.call(sid, "Heartbeat", uid="2"))[0]
    third = sends(b.call(sid, "Heartbeat", uid="3"))[0]
    assert second.at == pytest.approx(b.now + 0.25)
    assert third.at == pytest.approx(b.now + 0.50)


def test_flap_disconnects_every_session_after_its_period() -> None:
    b = Bench(rule(fault={"type": "flap", "period": 20, "code": 4001}))
    for _ in range(2):  # the first session and the reconnect alike
        sid = b.open("CP1")
        (wake,) = b.opened[sid]
        assert wake.at == b.now + 20
        assert b.engine.on_timer(sid, wake.key, wake.at) == [Close("charger", 4001, "flap", "r")]


def test_csms_outage_drops_everyone_and_refuses_for_a_while() -> None:
    b = Bench(rule(enabled=False, fault={"type": "csms_outage", "duration": 30}))
    sessions = [b.open(f"CP{i}") for i in range(3)]
    out = b.engine.enable("r", b.now)
    assert set(out) == set(sessions)
    assert all(
        Abort("csms", "r") in acts and Abort("charger", "r") in acts for acts in out.values()
    )
    assert b.engine.on_connect("CP1", ["ocpp1.6"], b.now + 29).refuse is not None
    assert b.engine.on_connect("NEW", ["ocpp1.6"], b.now + 29).refuse is not None
    assert b.engine.on_connect("CP1", ["ocpp1.6"], b.now + 30).refuse is None
    # reconnected sessions are not dropped again
    assert b.opened[b.open("CP1")] == []


def test_handshake_faults() -> None:
    b = Bench(
        rule(name="s", fault={"type": "strip_subprotocol", "side": "charger"}),
        rule(name="h", fault={"type": "rewrite_header", "header": "Authorization"}),
        rule(name="x", fault={"type": "rewrite_header", "header": "X-Chaos", "value": "1"}),
    )
    plan = b.engine.on_connect("CP1", ["ocpp1.6"], b.now)
    assert plan.strip_answer and not plan.strip_offer
    assert plan.headers == (("Authorization", None), ("X-Chaos", "1"))
    assert plan.refuse is None and plan.rules == ("s", "h", "x")


def test_inject_on_session_open_with_period_and_swallowed_answers() -> None:
    b = Bench(
        rule(
            fault={
                "type": "inject",
                "to": "charger",
                "delay": 5,
                "period": 10,
                "times": 2,
                "call": {
                    "action": "TriggerMessage",
                    "payload": {"requestedMessage": "StatusNotification"},
                },
            }
        )
    )
    sid = b.open()
    (wake,) = b.opened[sid]
    assert wake.at == b.now + 5
    first = b.engine.on_timer(sid, wake.key, wake.at)
    (send,) = [a for a in first if isinstance(a, Send)]
    (again,) = [a for a in first if isinstance(a, Wakeup)]
    injected = parse(send.data)
    assert send.direction is DOWN and send.injected
    assert injected.action == "TriggerMessage"  # type: ignore[union-attr]
    # the charger's answer to a CALL the CSMS never sent is swallowed
    answer = b.result(sid, uid=injected.unique_id, direction=UP)  # type: ignore[union-attr]
    assert sends(answer) == [] and answer.decision == "swallow:r"
    second = b.engine.on_timer(sid, again.key, again.at)
    assert [a for a in second if isinstance(a, Wakeup)] == []  # times: 2
    assert parse(next(a for a in second if isinstance(a, Send)).data).unique_id != (  # type: ignore[union-attr]
        injected.unique_id  # type: ignore[union-attr]
    )


def test_inject_on_a_matching_frame_a_second_call_while_one_is_outstanding() -> None:
    b = Bench(
        rule(
            match={"direction": "down", "message": "call"},
            first=1,
            fault={"type": "inject", "to": "charger", "frame": '[2,"dup","Reset",{}]'},
        )
    )
    sid = b.open()
    out = b.call(sid, "ChangeAvailability", uid="c1", direction=DOWN)
    assert [s.data for s in sends(out)] == [
        b'[2, "c1", "ChangeAvailability", {}]',
        b'[2,"dup","Reset",{}]',
    ]


def test_blast_radius_count_is_chosen_by_the_seed_among_connected_chargers() -> None:
    def chosen(seed: int, order: list[int]) -> set[str]:
        b = Bench(
            rule(enabled=False, fault={"type": "disconnect"}, chargers={"count": 3}), seed=seed
        )
        sessions = {b.open(f"CP-{i}"): f"CP-{i}" for i in order}
        hit = b.engine.enable("r", b.now)
        return {sessions[sid] for sid in hit}

    forward, backward = list(range(30)), list(reversed(range(30)))
    assert len(chosen(1, forward)) == 3
    assert chosen(1, forward) == chosen(1, backward)  # the seed decides, not the order
    assert chosen(1, forward) != chosen(2, forward)


def test_blast_radius_fills_with_newcomers_that_have_no_session_yet() -> None:
    b = Bench(rule(fault={"type": "reject_connect"}, chargers={"count": 2}))
    refused = [
        cid
        for cid in ("A", "B", "C", "A")
        if b.engine.on_connect(cid, ["ocpp1.6"], b.now).refuse is not None
    ]
    assert refused == ["A", "B", "A"]  # the first two to come, and A again; C is outside
