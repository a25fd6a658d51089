"""The sans-IO session monitor, driven with a fixed clock (no sockets)."""

from __future__ import annotations

import base64

from ocpp_chaos.frames import Direction
from ocpp_chaos.proxy.monitor import SessionMonitor

UP, DOWN = Direction.UP, Direction.DOWN


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pairs_times_counts_and_checks() -> None:
    clock = Clock()
    m = SessionMonitor("s1", "CP1", "ocpp1.6", clock=clock, wall_clock=lambda: 1.7e9)
    r1 = m.observe(UP, b'[2,"a","Heartbeat",{}]')
    assert (r1.kind, r1.action, r1.unique_id, r1.schema.label) == (
        "call",
        "Heartbeat",
        "a",
        "valid",
    )
    clock.now += 0.25
    r2 = m.observe(DOWN, b'[3,"a",{"currentTime":"2026-11-25T00:00:00.000Z"}]')
    assert r2.kind == "result" and r2.action == "Heartbeat" and r2.rtt == 0.25
    assert r2.schema.label == "valid"
    r3 = m.observe(DOWN, b'[3,"zzz",{}]')
    assert r3.action is None and r3.schema.label == "unchecked"
    r4 = m.observe(UP, b'[2,"b","Heartbeat",{"x":1}]')
    assert r4.schema.valid is False and r4.schema.errors
    r5 = m.observe(UP, b"\xff", binary=True)
    assert r5.kind == "malformed" and r5.reason == "binary_frame"
    s = m.stats
    assert (s.up.frames, s.down.frames, s.up.malformed) == (3, 2, 1)
    assert s.unknown_responses == 1 and s.schema_violations == 1
    assert m.unanswered == 1 and s.rtt_percentile(0.5) == 0.25


def test_no_schema_for_unknown_subprotocol_or_when_off() -> None:
    assert SessionMonitor("s", "c", None).schema is None
    assert SessionMonitor("s", "c", "ocpp2.0.1", check_schema=False).schema is None
    rec = SessionMonitor("s", "c", None).observe(UP, b'[2,"1","Anything",{}]')
    assert rec.schema.label == "unchecked"


def test_tape_line_keeps_exact_content() -> None:
    m = SessionMonitor("s1", "CP1", "ocpp2.0.1", wall_clock=lambda: 5.0)
    text = m.observe(UP, '[2,"1","DataTransfer",{"vendorId":"⚡"}]'.encode()).to_json()
    assert text["text"] == '[2,"1","DataTransfer",{"vendorId":"⚡"}]'
    assert text["dir"] == "up" and text["t"] == 5.0 and text["decision"] == "forward"
    bad = m.observe(DOWN, b"\xc3\x28").to_json()
    assert "text" not in bad and base64.b64decode(bad["b64"]) == b"\xc3\x28"
    binary = m.observe(DOWN, b"\x00", binary=True).to_json()
    assert binary["opcode"] == "binary" and base64.b64decode(binary["b64"]) == b"\x00"
    close = m.observe_control(UP, "close", reason="4000 bye").to_json()
    assert close["opcode"] == "close" and close["reason"] == "4000 bye"
