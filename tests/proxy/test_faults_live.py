"""Each fault family through the proxy on real sockets, with raw peers and ocpp-library ones."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from websockets.asyncio.client import connect

from ocpp_chaos.csms import ReferenceCSMS
from ocpp_chaos.frames import parse
from ocpp_chaos.rules.model import Rule
from ocpp_chaos.testing.raw import RawClient, RawServer


def call(uid: str, action: str = "Heartbeat", payload: dict | None = None) -> bytes:
    return json.dumps([2, uid, action, payload or {}]).encode()


def rule(**kw) -> Rule:
    kw.setdefault("name", "r")
    return Rule.model_validate(kw)


async def _pair(proxy, server: RawServer, charger_id: str = "CP1", **kw):
    before = len(server.connections)
    client = await RawClient.connect(f"{proxy.url}/{charger_id}", **kw)
    conn = (await server.wait_connections(before + 1))[before]
    return client, conn


async def _status(url: str) -> int:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(url, protocols=["ocpp1.6"])
    return info.value.status


async def _until(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_signal_loss_silence_then_loss_and_refused_reconnects(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url)
    client, conn = await _pair(proxy, raw_server, "CP-7")
    await client.send("text", call("before"))
    await conn.rec.wait_frames(1)
    proxy.rules.fire({"type": "signal_loss", "duration": 1.0, "refuse": 503}, "CP-7")
    await _until(lambda: proxy.engine.isolated(next(iter(proxy.sessions)).id, _mono()))
    # silence: nothing crosses either way, pings go unanswered
    await client.send("text", call("lost-up"))
    await client.send("ping", b"hello?")
    await conn.send("text", call("lost-down"))
    # reconnects of that charger are refused until the outage ends; others are not
    assert await _status(f"{proxy.url}/CP-7") == 503
    other, other_conn = await _pair(proxy, raw_server, "CP-8")
    await other.send("text", call("fine"))
    assert (await other_conn.rec.wait_frames(1))[0][1] == call("fine")
    # then the charger's connection is reset; the CSMS side stays open (it never heard)
    await client.rec.wait_ended(timeout=10)
    assert client.rec.lost and client.rec.close is None
    assert client.frames == []  # no pong, no frame came through
    assert conn.frames == [("text", call("before"))]
    assert not conn.rec.ended.is_set()
    # the charger comes back
    again, again_conn = await _pair(proxy, raw_server, "CP-7")
    await again.send("text", call("back"))
    assert (await again_conn.rec.wait_frames(1))[0][1] == call("back")
    for c in (client, other, again):
        await c.aclose()


async def test_signal_loss_half_open_keeps_both_sides_silent(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url)
    client, conn = await _pair(proxy, raw_server, "CP-H")
    name = proxy.rules.fire({"type": "signal_loss", "duration": 0.3, "mode": "half_open"}, "CP-H")
    await _until(lambda: proxy.engine.stats(name).hits == 1)
    await asyncio.sleep(0.5)  # past the outage: the link stays dead, nothing is closed
    await client.send("text", call("x"))
    await conn.send("text", call("y"))
    await client.send("ping", b"p")
    await asyncio.sleep(0.2)
    assert client.frames == [] and conn.frames == []
    assert not client.rec.ended.is_set() and not conn.rec.ended.is_set()
    # the charger gives up and closes: the CSMS never hears of it
    await client.close(1000)
    await asyncio.sleep(0.2)
    assert not conn.rec.ended.is_set()
    await client.aclose()


async def test_reply_error_per_version_with_ocpp_library_chargers(make_proxy) -> None:
    from ocpp.exceptions import OCPPError
    from ocpp.v16 import ChargePoint as CP16
    from ocpp.v16 import call as call16
    from ocpp.v201 import ChargePoint as CP201
    from ocpp.v201 import call as call201

    async with ReferenceCSMS(port=0) as csms:
        proxy = await make_proxy(csms.url)
        proxy.rules.add(
            rule(
                match={"action": "BootNotification"},
                fault={"type": "reply_error", "code": "FormatViolation", "description": "chaos"},
            )
        )
        for version, cls, request, expected in (
            ("ocpp1.6", CP16, call16.BootNotification("V", "M"), "FormationViolation"),
            (
                "ocpp2.0.1",
                CP201,
                call201.BootNotification(
                    charging_station={"vendor_name": "V", "model": "M"}, reason="PowerUp"
                ),
                "FormatViolation",
            ),
        ):
            async with connect(
                f"{proxy.url}/CP-{version}",
                subprotocols=[version],  # type: ignore[list-item]
                compression=None,
            ) as ws:
                cp = cls(f"CP-{version}", ws)
                reader = asyncio.ensure_future(cp.start())
                try:
                    with pytest.raises(OCPPError) as info:
                        await cp.call(request, suppress=False)
                    assert type(info.value).__name__ == expected or info.value.code == expected
                finally:
                    reader.cancel()
        # the CSMS never saw the boots: the proxy answered in its place
        assert "BootNotification" not in csms.received_actions()
        assert proxy.engine.stats("r").hits == 2


async def test_reorder_delivers_frames_swapped(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url)
    proxy.rules.add(rule(match={"action": "MeterValues"}, first=1, fault={"type": "reorder"}))
    client, conn = await _pair(proxy, raw_server)
    async with client:
        await client.send("text", call("m1", "MeterValues", {"connectorId": 1, "meterValue": []}))
        await client.send("text", call("h1"))
        frames = await conn.rec.wait_frames(2)
    assert [parse(f[1]).unique_id for f in frames] == ["h1", "m1"]  # type: ignore[union-attr]


async def test_runtime_enable_disable_mid_stream_loses_nothing(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url)
    proxy.rules.add(
        rule(
            name="hold-all",
            enabled=False,
            match={"direction": "up"},
            fault={"type": "reorder", "after": 1000, "max_hold": 600},
        )
    )
    proxy.rules.add(
        rule(
            name="slow",
            enabled=False,
            match={"direction": "down"},
            fault={"type": "delay", "delay": 600},
        )
    )
    client, conn = await _pair(proxy, raw_server)
    async with client:
        sent_up = [call(f"u{i}") for i in range(300)]
        sent_down = [call(f"d{i}") for i in range(300)]

        async def traffic() -> None:
            for i in range(300):
                await client.send("text", sent_up[i])
                await conn.send("text", sent_down[i])
                if i == 100:
                    proxy.rules.enable("hold-all")
                    proxy.rules.enable("slow")
                if i == 200:
                    proxy.rules.disable("hold-all")
                    proxy.rules.disable("slow")
                await asyncio.sleep(0)

        await traffic()
        up = await conn.rec.wait_frames(300, timeout=20)
        down = await client.rec.wait_frames(300, timeout=20)
    assert sorted(f[1] for f in up) == sorted(sent_up)
    assert sorted(f[1] for f in down) == sorted(sent_down)
    assert proxy.engine.stats("hold-all").hits > 0 and proxy.engine.stats("slow").hits > 0


async def test_drop_response_makes_the_sender_retry_and_dropped_frames_vanish(
    make_proxy, raw_server
) -> None:
    proxy = await make_proxy(raw_server.url)
    proxy.rules.add(
        rule(
            match={"action": "StartTransaction"}, first=1, fault={"type": "drop", "response": True}
        )
    )
    proxy.rules.add(rule(name="d", match={"action": "DataTransfer"}, fault={"type": "drop"}))
    client, conn = await _pair(proxy, raw_server)
    async with client:
        await client.send("text", call("s1", "StartTransaction"))
        await client.send("text", call("dt", "DataTransfer", {"vendorId": "x"}))
        await client.send("text", call("h1"))
        got = await conn.rec.wait_frames(2)
        assert [parse(f[1]).unique_id for f in got] == ["s1", "h1"]  # type: ignore[union-attr]
        await conn.send("text", b'[3,"s1",{"transactionId":1}]')  # dropped
        await conn.send("text", b'[3,"h1",{}]')
        assert (await client.rec.wait_frames(1)) == [("text", b'[3,"h1",{}]')]
        await client.send("text", call("s2", "StartTransaction"))  # the retry
        await conn.rec.wait_frames(3)
        await conn.send("text", b'[3,"s2",{"transactionId":1}]')
        assert (await client.rec.wait_frames(2))[1] == ("text", b'[3,"s2",{"transactionId":1}]')


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        (
            {"type": "duplicate", "copies": 2},
            lambda frames: [f[1] for f in frames] == [call("x")] * 3,
        ),
        (
            {"type": "corrupt", "mode": "invalid_utf8"},
            lambda frames: parse(frames[0][1]).reason.value == "invalid_utf8",
        ),  # type: ignore[union-attr]
        ({"type": "corrupt", "mode": "binary"}, lambda frames: frames[0][0] == "binary"),
        (
            {"type": "mutate", "set": {"connectorId": 9}},
            lambda frames: parse(frames[0][1]).payload == {"connectorId": 9},
        ),  # type: ignore[union-attr]
        ({"type": "delay", "delay": "200ms"}, lambda frames: frames[0][1] == call("x")),
        (
            {"type": "latency", "fixed": "50ms", "jitter": "50ms"},
            lambda frames: frames[0][1] == call("x"),
        ),
    ],
)
async def test_message_faults_on_the_wire(make_proxy, raw_server, fault, check) -> None:
    proxy = await make_proxy(raw_server.url)
    proxy.rules.add(rule(match={"action": "Heartbeat"}, fault=fault))
    client, conn = await _pair(proxy, raw_server)
    async with client:
        await client.send("text", call("x"))
        n = 3 if fault["type"] == "duplicate" else 1
        frames = await conn.rec.wait_frames(n)
        assert check(frames)


async def test_disconnect_closes_both_sides_with_the_code(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url)
    client, conn = await _pair(proxy, raw_server, "CP-D")
    async with client:
        proxy.rules.fire({"type": "disconnect", "code": 4008, "reason": "chaos"}, "CP-D")
        await client.rec.wait_ended()
        await conn.rec.wait_ended()
        assert client.rec.close == (4008, "chaos") and conn.rec.close == (4008, "chaos")


async def test_reject_connect_and_tcp_reset(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url)
    proxy.rules.add(
        rule(match={"charger": "NO-*"}, fault={"type": "reject_connect", "status": 404})
    )
    proxy.rules.add(
        rule(
            name="rst",
            match={"charger": "RST-*"},
            fault={"type": "reject_connect", "status": "tcp-reset"},
        )
    )
    assert await _status(f"{proxy.url}/NO-1") == 404
    with pytest.raises((aiohttp.ClientConnectionError, aiohttp.ServerDisconnectedError)):
        async with aiohttp.ClientSession() as session:
            await session.ws_connect(f"{proxy.url}/RST-1", protocols=["ocpp1.6"])
    client, _ = await _pair(proxy, raw_server, "YES-1")
    await client.aclose()
    assert raw_server.connections and len(raw_server.connections) == 1


async def test_blackhole_swallows_pings_until_switched_off(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url)
    proxy.rules.add(rule(name="bh", enabled=False, fault={"type": "blackhole"}))
    client, conn = await _pair(proxy, raw_server)
    async with client:
        proxy.rules.enable("bh")
        await _until(lambda: proxy.engine.isolated(next(iter(proxy.sessions)).id, _mono()))
        await client.send("ping", b"1")
        await client.send("text", call("gone"))
        await asyncio.sleep(0.1)
        proxy.rules.disable("bh")
        await client.send("text", call("after"))
        assert (await conn.rec.wait_frames(1)) == [("text", call("after"))]
        await client.send("ping", b"2")
        assert await client.rec.wait_frames(1) == [("pong", b"2")]


async def test_tape_records_decisions(make_proxy, raw_server, tmp_path) -> None:
    proxy = await make_proxy(raw_server.url, tape=tmp_path / "t.jsonl")
    proxy.rules.add(rule(match={"action": "Heartbeat"}, fault={"type": "drop"}, first=1))
    client, conn = await _pair(proxy, raw_server)
    async with client:
        await client.send("text", call("a"))
        await client.send("text", call("b"))
        await conn.rec.wait_frames(1)
    await proxy.stop()
    lines = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    decisions = [ln["decision"] for ln in lines if ln.get("opcode") == "text"]
    assert decisions == ["drop:r", "forward"]
    assert proxy.rules.describe()[0]["decisions"] == {"drop": 1}


def _mono() -> float:
    import time

    return time.monotonic()


async def test_throttle_keeps_order_and_delivers_all(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url)
    proxy.rules.add(
        rule(match={"direction": "up"}, fault={"type": "throttle", "bytes_per_second": 20_000})
    )
    client, conn = await _pair(proxy, raw_server)
    async with client:
        frames = [
            ("text", call(str(i), "DataTransfer", {"vendorId": "x" * 500})) for i in range(20)
        ]
        await client.send_all(frames)
        assert await conn.rec.wait_frames(20) == frames
    assert proxy.engine.stats("r").hits == 20


async def test_flap_drops_each_connection_after_its_period(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url)
    proxy.rules.add(rule(fault={"type": "flap", "period": "200ms", "code": 4009}))
    for _ in range(2):
        client, conn = await _pair(proxy, raw_server, "CP-F")
        await client.rec.wait_ended()
        await conn.rec.wait_ended()
        assert client.rec.close == (4009, "flap") and conn.rec.close == (4009, "flap")
        await client.aclose()


async def test_csms_outage_and_the_reconnect_storm(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url)
    proxy.rules.add(
        rule(
            name="outage",
            enabled=False,
            fault={"type": "csms_outage", "duration": "500ms", "refuse": 503},
        )
    )
    pairs = [await _pair(proxy, raw_server, f"CP-{i}") for i in range(10)]
    proxy.rules.enable("outage")
    for client, conn in pairs:
        await client.rec.wait_ended()
        await conn.rec.wait_ended()
        assert client.rec.lost and conn.rec.lost
        await client.aclose()
    assert await _status(f"{proxy.url}/CP-1") == 503
    # the storm: every charger reconnects at once once the outage is over
    await _until(lambda: proxy.engine.on_connect("CP-1", [], _mono()).refuse is None)
    before = len(raw_server.connections)
    storm = await asyncio.gather(*(RawClient.connect(f"{proxy.url}/CP-{i}") for i in range(10)))
    await raw_server.wait_connections(before + 10)
    for client in storm:
        await client.aclose()


async def test_strip_subprotocol_and_rewrite_header(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url)
    proxy.rules.add(rule(name="strip", fault={"type": "strip_subprotocol"}))
    proxy.rules.add(rule(name="auth", fault={"type": "rewrite_header", "header": "Authorization"}))
    proxy.rules.add(
        rule(name="tag", fault={"type": "rewrite_header", "header": "X-Chaos", "value": "on"})
    )
    client, conn = await _pair(proxy, raw_server, headers={"Authorization": "Basic eDp5"})
    async with client:
        assert "Sec-WebSocket-Protocol" not in conn.headers
        assert "Authorization" not in conn.headers
        assert conn.headers["X-Chaos"] == "on"
        assert client.protocol is None


async def test_inject_reaches_the_charger_and_its_answer_is_swallowed(
    make_proxy, raw_server
) -> None:
    proxy = await make_proxy(raw_server.url)
    proxy.rules.add(
        rule(
            fault={
                "type": "inject",
                "to": "charger",
                "delay": "50ms",
                "call": {"action": "TriggerMessage", "payload": {"requestedMessage": "Heartbeat"}},
            }
        )
    )
    client, conn = await _pair(proxy, raw_server)
    async with client:
        (frame,) = await client.rec.wait_frames(1)
        injected = parse(frame[1])
        assert injected.action == "TriggerMessage"  # type: ignore[union-attr]
        await client.send(
            "text",
            json.dumps(
                [
                    3,
                    injected.unique_id,  # type: ignore[union-attr]
                    {"status": "Accepted"},
                ]
            ).encode(),
        )
        await client.send("text", call("h"))
        assert await conn.rec.wait_frames(1) == [("text", call("h"))]  # the answer never arrived


async def test_signal_loss_with_an_ocpp_library_charger_and_the_reference_csms(make_proxy) -> None:
    """The charger's CALL meets silence, then its connection is lost, then it is refused."""
    from ocpp.v16 import ChargePoint as CP16
    from ocpp.v16 import call as call16
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    async with ReferenceCSMS(port=0) as csms:
        proxy = await make_proxy(csms.url)
        async with connect(
            f"{proxy.url}/CP-SL",
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            compression=None,
            ping_interval=None,
        ) as ws:
            cp = CP16("CP-SL", ws, response_timeout=0.5)
            reader = asyncio.ensure_future(cp.start())
            try:
                boot = await cp.call(call16.BootNotification("V", "M"))
                assert boot.status == "Accepted"
                proxy.rules.fire({"type": "signal_loss", "duration": 1.0, "refuse": 503}, "CP-SL")
                with pytest.raises(TimeoutError):  # silence: the heartbeat gets no answer
                    await cp.call(call16.Heartbeat())
                with pytest.raises(InvalidStatus) as refused:
                    async with connect(f"{proxy.url}/CP-SL", subprotocols=["ocpp1.6"]):  # type: ignore[list-item]
                        pass
                assert refused.value.response.status_code == 503
                async with asyncio.timeout(10):  # then the link is gone, abruptly
                    await ws.wait_closed()
                assert ws.close_code in (None, 1006)
                with pytest.raises(ConnectionClosed):
                    await reader
            finally:
                reader.cancel()
        assert csms.received_actions("CP-SL") == ["BootNotification"]  # the heartbeat never came
        async with asyncio.timeout(10):
            result = await _reconnect_flow(proxy.url)
        assert result.boot_status == "Accepted"


async def _reconnect_flow(url: str):
    from ocpp_chaos.testing.chargers import run_charger_flow

    while True:
        try:
            return await run_charger_flow(f"{url}/ocpp", "CP-SL", "1.6", transactions=0)
        except Exception:
            await asyncio.sleep(0.2)
