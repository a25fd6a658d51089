"""Pings, closes, abrupt losses, frame-size limit, backpressure, shutdown and isolation."""

from __future__ import annotations

import asyncio
import socket

import pytest
from structlog.testing import capture_logs

from ocpp_chaos.proxy.monitor import SessionMonitor
from ocpp_chaos.testing.raw import RawClient, RawServer

HB = b'[2,"1","Heartbeat",{}]'


async def _pair(proxy, server: RawServer, charger_id: str = "CP1", **kw):
    before = len(server.connections)
    client = await RawClient.connect(f"{proxy.url}/{charger_id}", **kw)
    conn = (await server.wait_connections(before + 1))[before]
    return client, conn


async def test_ping_from_charger_is_relayed_and_answered_by_the_csms(
    make_proxy, raw_server
) -> None:
    proxy = await make_proxy(raw_server.url)
    client, conn = await _pair(proxy, raw_server)
    async with client:
        await client.send("ping", b"are-you-there")
        assert await conn.rec.wait_frames(1) == [("ping", b"are-you-there")]
        assert await client.rec.wait_frames(1) == [("pong", b"are-you-there")]


async def test_ping_from_csms_is_relayed_and_answered_by_the_charger(
    make_proxy, raw_server
) -> None:
    proxy = await make_proxy(raw_server.url)
    client, conn = await _pair(proxy, raw_server)
    async with client:
        await conn.send("ping", b"csms-ping")
        assert await client.rec.wait_frames(1) == [("ping", b"csms-ping")]
        assert await conn.rec.wait_frames(1) == [("pong", b"csms-ping")]


async def test_proxy_does_not_answer_pings_itself(make_proxy) -> None:
    """A CSMS that never pongs: the charger gets no pong, so a dead link stays visible."""
    async with RawServer(pong=False) as server:
        proxy = await make_proxy(server.url)
        client, conn = await _pair(proxy, server)
        async with client:
            await client.send("ping", b"x")
            await conn.rec.wait_frames(1)
            await conn.send("text", HB)  # sent after the ping arrived upstream
            frames = await client.rec.wait_frames(1)
            assert frames == [("text", HB)]  # no pong came before it


@pytest.mark.parametrize(("code", "reason"), [(1000, ""), (1001, "going away"), (4001, "bye ⚡")])
async def test_close_from_charger_reaches_csms(make_proxy, raw_server, code, reason) -> None:
    proxy = await make_proxy(raw_server.url)
    client, conn = await _pair(proxy, raw_server)
    await client.close(code, reason)
    await conn.rec.wait_ended()
    assert conn.rec.close == (code, reason)
    await client.aclose()


@pytest.mark.parametrize(("code", "reason"), [(1000, "done"), (1008, "policy"), (4002, "later")])
async def test_close_from_csms_reaches_charger(make_proxy, raw_server, code, reason) -> None:
    proxy = await make_proxy(raw_server.url)
    client, conn = await _pair(proxy, raw_server)
    async with client:
        await conn.close(code, reason)
        await client.rec.wait_ended()
        assert client.rec.close == (code, reason)
    await _until(lambda: len(proxy.sessions) == 0)


async def test_abrupt_loss_of_charger_is_abrupt_towards_csms(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url)
    client, conn = await _pair(proxy, raw_server)
    client.abort()
    await conn.rec.wait_ended()
    assert conn.rec.lost and conn.rec.close is None
    await client.aclose()
    await _until(lambda: len(proxy.sessions) == 0)


async def test_abrupt_loss_of_csms_is_abrupt_towards_charger(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url)
    client, conn = await _pair(proxy, raw_server)
    async with client:
        conn.abort()
        await client.rec.wait_ended()
        assert client.rec.lost and client.rec.close is None


async def test_frame_over_the_limit_closes_with_1009_and_a_log_line(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url, max_frame_size=4096)
    client, conn = await _pair(proxy, raw_server)
    with capture_logs() as logs:
        async with client:
            await client.send("text", HB)
            await client.send("text", b'"' + b"x" * 5000 + b'"')
            await client.rec.wait_ended()
            await conn.rec.wait_ended()
    assert conn.frames == [("text", HB)]  # the big one never reached the CSMS
    assert client.rec.close is not None and client.rec.close[0] == 1009
    assert conn.rec.close is not None and conn.rec.close[0] == 1009
    assert any(e["event"] == "frame_too_big" for e in logs)


async def test_graceful_shutdown_closes_both_sides_with_1001(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url)
    pairs = [await _pair(proxy, raw_server, f"CP{i}") for i in range(3)]
    await proxy.stop()
    for client, conn in pairs:
        await client.rec.wait_ended()
        await conn.rec.wait_ended()
        assert client.rec.close is not None and client.rec.close[0] == 1001
        assert conn.rec.close is not None and conn.rec.close[0] == 1001
        await client.aclose()


async def test_registry_counts_pairs_and_checks(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url)
    client, conn = await _pair(proxy, raw_server, "CP-R", protocols=["ocpp1.6"])
    async with client:
        await client.send(
            "text", b'[2,"a","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
        )
        await conn.rec.wait_frames(1)
        await conn.send(
            "text",
            b'[3,"a",{"status":"Accepted","currentTime":"2026-11-25T00:00:00Z","interval":300}]',
        )
        await client.rec.wait_frames(1)
        await client.send("text", b'[2,"b","Heartbeat",{"unexpected":1}]')  # schema-invalid
        await client.send("text", b"garbage")
        await conn.rec.wait_frames(3)
        info = proxy.sessions.by_charger("CP-R")[0].info()
    assert info["frames_up"] == 3 and info["frames_down"] == 1
    assert info["bytes_up"] > 0 and info["subprotocol"] == "ocpp1.6"
    assert info["rtt_samples"] == 1 and info["rtt_p50_ms"] is not None
    assert info["calls_unanswered"] == 1  # the Heartbeat
    assert info["last_action"] == "Heartbeat"
    assert info["schema_violations"] == 1
    assert info["malformed_up"] == 1
    assert info["remote"] == "127.0.0.1"


async def test_slow_csms_stalls_the_charger_instead_of_growing_memory(make_proxy) -> None:
    gate = asyncio.Event()
    async with RawServer(read_gate=gate) as server:
        proxy = await make_proxy(server.url)
        client, conn = await _pair(proxy, server)
        frame = b"[" + b"0," * (128 * 1024) + b"0]"  # 256 KiB
        total = 384  # 96 MiB if nothing held it back
        sent = 0

        async def sender() -> None:
            nonlocal sent
            for _ in range(total):
                await client.send("text", frame)
                sent += 1

        task = asyncio.ensure_future(sender())
        # wait until the sender stops making progress (bounded)
        last = -1
        for _ in range(100):
            await asyncio.sleep(0.05)
            if sent == last and sent > 0:
                break
            last = sent
        stalled_at = sent
        session = next(iter(proxy.sessions))
        relayed = session.monitor.stats.up.frames
        assert stalled_at < total  # the charger was held back
        # whatever the proxy took in but the CSMS did not read is bounded (socket buffers + 1 frame)
        assert (stalled_at * len(frame)) < 64 * 1024 * 1024
        assert relayed <= stalled_at
        gate.set()  # the CSMS reads again: everything arrives, in order
        await asyncio.wait_for(task, 30)
        frames = await conn.rec.wait_frames(total, timeout=30)
        assert len(frames) == total and all(f == ("text", frame) for f in frames)
        await client.aclose()


async def test_one_broken_session_never_touches_fifty_others(
    make_proxy, raw_server, monkeypatch
) -> None:
    proxy = await make_proxy(raw_server.url)
    good = [await _pair(proxy, raw_server, f"GOOD-{i:02d}") for i in range(50)]

    # 1: a charger that speaks garbage at the TCP level after the upgrade
    bad_client, _ = await _pair(proxy, raw_server, "BAD-TCP")
    transport = bad_client.ws._writer.transport
    transport.write(b"\x8f\xff" + b"\x00" * 20)  # reserved opcode, no mask: a protocol error
    # 2: a session whose own code blows up on a frame
    original = SessionMonitor.see

    def explode(self, direction, data, binary=False):
        if self.charger_id == "BAD-BUG":
            raise RuntimeError("bug in the relay")
        return original(self, direction, data, binary)

    monkeypatch.setattr(SessionMonitor, "see", explode)
    bug_client, _ = await _pair(proxy, raw_server, "BAD-BUG")
    await bug_client.send("text", HB)
    # 3: a charger that resets its TCP connection
    reset_client, _ = await _pair(proxy, raw_server, "BAD-RST")
    reset_client.abort()

    await bad_client.rec.wait_ended()
    await bug_client.rec.wait_ended()
    # every good session still relays both ways
    for i, (client, conn) in enumerate(good):
        msg = f'[2,"{i}","Heartbeat",{{}}]'.encode()
        await client.send("text", msg)
        await conn.send("text", msg)
    for client, conn in good:
        assert len(await conn.rec.wait_frames(1)) == 1
        assert len(await client.rec.wait_frames(1)) == 1
    await _until(lambda: all(not s.charger_id.startswith("BAD") for s in proxy.sessions))
    assert len(proxy.sessions) == 50
    for client in (bad_client, bug_client, reset_client):
        await client.aclose()
    for client, _ in good:
        await client.aclose()


async def test_proxy_accepts_after_a_charger_vanishes_mid_handshake(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url)
    sock = socket.create_connection(("127.0.0.1", proxy.port))
    sock.sendall(b"GET /CP1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")  # and gone
    sock.close()
    client, conn = await _pair(proxy, raw_server, "CP2")
    async with client:
        await client.send("text", HB)
        assert await conn.rec.wait_frames(1) == [("text", HB)]


async def _until(predicate, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)
