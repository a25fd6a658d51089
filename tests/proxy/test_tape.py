"""The tape: one JSON line per frame, exact content, nothing lost at shutdown."""

from __future__ import annotations

import base64
import json

from ocpp_chaos.proxy.tape import Tape
from ocpp_chaos.testing.raw import RawClient


async def test_every_frame_is_on_the_tape_exactly(make_proxy, raw_server, tmp_path) -> None:
    path = tmp_path / "run.jsonl"
    proxy = await make_proxy(raw_server.url, tape=path)
    sent_up = [
        ("text", b'[2,"1","Heartbeat",{}]'),
        ("text", b"\xff bad utf-8"),
        ("binary", b"\x00\x01"),
        ("text", '[2,"2","DataTransfer",{"vendorId":"é⚡"}]'.encode()),
    ]
    async with await RawClient.connect(f"{proxy.url}/ocpp/CP-T", protocols=["ocpp1.6"]) as client:
        conn = (await raw_server.wait_connections(1))[0]
        await client.send_all(sent_up)
        await conn.rec.wait_frames(len(sent_up))
        await conn.send("text", b'[3,"1",{"currentTime":"2026-11-25T00:00:00.000Z"}]')
        await client.rec.wait_frames(1)
        await client.send("ping", b"p")
        await client.rec.wait_frames(2)
    await proxy.stop()
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    frames = [ln for ln in lines if ln.get("opcode") in ("text", "binary")]
    events = [ln["event"] for ln in lines if "event" in ln]
    assert events == ["session_open", "session_closed"]
    ups = [f for f in frames if f["dir"] == "up"]
    assert len(ups) == len(sent_up)
    for line, (opcode, data) in zip(ups, sent_up, strict=True):
        assert line["opcode"] == opcode
        got = line["text"].encode() if "text" in line else base64.b64decode(line["b64"])
        assert got == data
        assert line["charger"] == "CP-T" and line["session"].startswith("s")
        assert line["decision"] == "forward"
    assert ups[0]["type"] == "call" and ups[0]["action"] == "Heartbeat" and ups[0]["id"] == "1"
    assert ups[0]["schema"] == "valid"
    assert ups[1]["type"] == "malformed" and ups[1]["reason"] == "invalid_utf8"
    assert ups[2]["reason"] == "binary_frame"
    down = next(f for f in frames if f["dir"] == "down")
    assert down["type"] == "result" and down["action"] == "Heartbeat" and "rtt_ms" in down
    assert {ln["opcode"] for ln in lines if "opcode" in ln} >= {"ping", "pong", "close"}


def test_tape_close_writes_everything_queued(tmp_path) -> None:
    tape = Tape(tmp_path / "t.jsonl", flush_every=60)
    for i in range(10_000):
        tape.write({"n": i})
    tape.close()
    lines = (tmp_path / "t.jsonl").read_text().splitlines()
    assert [json.loads(x)["n"] for x in lines] == list(range(10_000))
    tape.write({"after": "close"})  # ignored, never raises
