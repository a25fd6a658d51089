"""The CSMS oracle on real sockets: a correct CSMS gives no error; broken ones give findings.

The broken CSMSs are raw WebSocket servers the tests script frame by frame. Timing
findings are made deterministic with thresholds set tiny or huge, never by measuring.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from ocpp_chaos.csms import ReferenceCSMS
from ocpp_chaos.proxy import ProxyServer
from ocpp_chaos.proxy.oracle import Finding, OracleConfig
from ocpp_chaos.rules.model import Rule
from ocpp_chaos.testing.chargers import run_charger_flow
from ocpp_chaos.testing.raw import RawClient, RawConnection, RawServer

NOW = "2026-11-25T10:00:00.000Z"
FAST = OracleConfig(call_timeout=0.3, tick_interval=0.05, slow_threshold=1e6)
"""Unanswered after 0.3 s, never slow: for the broken CSMSs."""


def frame(*items: Any) -> bytes:
    return json.dumps(list(items)).encode()


def rule(**kw: Any) -> Rule:
    kw.setdefault("name", "r")
    return Rule.model_validate(kw)


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def found(proxy: ProxyServer, kind: str, timeout: float = 5.0) -> Finding:
    await until(lambda: kind in proxy.oracle.counts(), timeout)
    return proxy.oracle.findings(kind)[0]


async def pair(
    proxy: ProxyServer, server: RawServer, charger_id: str = "CP1", protocol: str = "ocpp1.6"
) -> tuple[RawClient, RawConnection]:
    before = len(server.connections)
    client = await RawClient.connect(f"{proxy.url}/{charger_id}", protocols=[protocol])
    conn = (await server.wait_connections(before + 1))[before]
    return client, conn


async def read_call(conn: RawConnection, n: int) -> list[Any]:
    """The n-th frame (1-based) the CSMS got, parsed."""
    frames = await conn.rec.wait_frames(n)
    return json.loads(frames[n - 1][1])


def errors(proxy: ProxyServer) -> list[Finding]:
    return [f for f in proxy.oracle.findings() if f.severity == "error"]


# -- a correct CSMS --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])
async def test_reference_csms_gives_no_error_over_a_charge_cycle(make_proxy, protocol) -> None:
    async with ReferenceCSMS(port=0) as csms:
        proxy = await make_proxy(csms.url, oracle=OracleConfig(slow_threshold=1e6))
        async with asyncio.timeout(30):
            result = await run_charger_flow(
                f"{proxy.url}/ocpp", "CP-OK", protocol, transactions=2, meter_samples=2
            )
        assert result.boot_status == "Accepted"
        await until(lambda: len(proxy.sessions) == 0)
        proxy.finish_oracle()
        assert errors(proxy) == []
        assert proxy.oracle.findings() == []  # not even a warning
        times = proxy.oracle.response_times()
        assert times["BootNotification"]["count"] == 1
        action = "StartTransaction" if protocol == "1.6" else "TransactionEvent"
        assert times[action]["count"] >= 2
        assert 0 <= times[action]["p50"] <= times[action]["p99"] <= times[action]["max"]


async def test_the_tape_records_findings(make_proxy, raw_server, tmp_path) -> None:
    proxy = await make_proxy(raw_server.url, oracle=FAST, tape=tmp_path / "tape.jsonl")
    client, _conn = await pair(proxy, raw_server)
    async with client:
        await client.send("text", frame(2, "h1", "Heartbeat", {}))
        await found(proxy, "unanswered_call")
    await proxy.stop()
    lines = [json.loads(x) for x in (tmp_path / "tape.jsonl").read_text().splitlines()]
    findings = [ln for ln in lines if ln.get("type") == "finding"]
    assert findings and findings[0]["kind"] == "unanswered_call"
    assert findings[0]["evidence"]["unique_id"] == "h1" and findings[0]["charger"] == "CP1"


# -- broken CSMSs: protocol ------------------------------------------------------------------


async def test_a_csms_that_never_answers(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url, oracle=FAST)
    client, _conn = await pair(proxy, raw_server)
    async with client:
        await client.send("text", frame(2, "h1", "Heartbeat", {}))
        finding = await found(proxy, "unanswered_call")
    assert finding.evidence["unique_id"] == "h1" and finding.severity == "error"


async def test_a_csms_that_answers_slowly(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url, oracle=OracleConfig(slow_threshold=0.001))
    client, conn = await pair(proxy, raw_server)
    async with client:
        await client.send("text", frame(2, "h1", "Heartbeat", {}))
        await read_call(conn, 1)
        await asyncio.sleep(0.05)  # well past the 1 ms threshold
        await conn.send("text", frame(3, "h1", {"currentTime": NOW}))
        finding = await found(proxy, "slow_response")
    assert finding.evidence["rt_ms"] >= 1
    assert proxy.oracle.response_times()["Heartbeat"]["count"] == 1


async def test_a_csms_that_answers_an_unknown_id(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url, oracle=FAST)
    client, conn = await pair(proxy, raw_server)
    async with client:
        await client.send("text", frame(2, "h1", "Heartbeat", {}))
        await read_call(conn, 1)
        await conn.send("text", frame(3, "not-h1", {"currentTime": NOW}))
        finding = await found(proxy, "unknown_unique_id")
    assert finding.evidence["unique_id"] == "not-h1"


async def test_a_csms_that_sends_two_calls_at_once(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url, oracle=FAST)
    client, conn = await pair(proxy, raw_server, protocol="ocpp2.0.1")
    async with client:
        await conn.send("text", frame(2, "c1", "ClearCache", {}))
        await conn.send("text", frame(2, "c2", "ClearCache", {}))
        finding = await found(proxy, "concurrent_call")
    assert finding.severity == "error" and finding.evidence["outstanding_unique_id"] == "c1"


async def test_a_csms_that_answers_a_corrupted_frame_with_nothing(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url, oracle=FAST)
    proxy.rules.add(
        rule(
            match={"direction": "up", "action": "Heartbeat"},
            first=2,
            fault={"type": "corrupt", "mode": "invalid_json"},
        )
    )
    client, conn = await pair(proxy, raw_server, protocol="ocpp2.0.1")
    async with client:
        # the first corrupted Heartbeat gets a CALLERROR "-1": that is an answer
        await client.send("text", frame(2, "h1", "Heartbeat", {}))
        await conn.rec.wait_frames(1)
        await conn.send("text", frame(4, "-1", "RpcFrameworkError", "not JSON", {}))
        # the second gets nothing
        await client.send("text", frame(2, "h2", "Heartbeat", {}))
        await conn.rec.wait_frames(2)
        finding = await found(proxy, "malformed_unanswered")
    assert proxy.oracle.counts()["malformed_unanswered"] == 1
    assert finding.severity == "error" and finding.evidence["reason"] == "bad_json"
    assert "h2" in finding.evidence["frame"]
    assert "unknown_unique_id" not in proxy.oracle.counts()


async def test_a_csms_that_answers_with_an_error_code_that_does_not_exist(
    make_proxy, raw_server
) -> None:
    proxy = await make_proxy(raw_server.url, oracle=FAST)
    client, conn = await pair(proxy, raw_server)
    async with client:
        await client.send("text", frame(2, "h1", "Heartbeat", {}))
        await read_call(conn, 1)
        await conn.send("text", frame(4, "h1", "FormatViolation", "", {}))  # 2.x only
        finding = await found(proxy, "unknown_error_code")
    assert finding.evidence["code"] == "FormatViolation"
    assert finding.spec.startswith("OCPP-J 1.6")


async def test_a_csms_that_gives_two_transaction_ids_for_a_duplicated_start(
    make_proxy, raw_server
) -> None:
    proxy = await make_proxy(raw_server.url, oracle=FAST)
    proxy.rules.add(
        rule(
            match={"direction": "up", "action": "StartTransaction"},
            fault={"type": "duplicate", "fresh_id": True},
        )
    )
    client, conn = await pair(proxy, raw_server)
    start = {"connectorId": 1, "idTag": "TAG", "meterStart": 0, "timestamp": NOW}
    async with client:
        await client.send("text", frame(2, "s1", "StartTransaction", start))
        for n in (1, 2):  # a naive CSMS: every StartTransaction is a new transaction
            uid = (await read_call(conn, n))[1]
            answer = {"idTagInfo": {"status": "Accepted"}, "transactionId": n}
            await conn.send("text", frame(3, uid, answer))
        finding = await found(proxy, "duplicate_transaction")
    assert finding.evidence["transaction_ids"] == [1, 2]


async def test_a_csms_that_accepts_a_201_request_before_boot(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url, oracle=FAST)
    client, conn = await pair(proxy, raw_server, protocol="ocpp2.0.1")
    boot = {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}
    async with client:
        await client.send("text", frame(2, "b1", "BootNotification", boot))
        await read_call(conn, 1)
        pending = {"currentTime": NOW, "interval": 5, "status": "Pending"}
        await conn.send("text", frame(3, "b1", pending))
        await client.rec.wait_frames(1)
        await client.send("text", frame(2, "h1", "Heartbeat", {}))
        await read_call(conn, 2)
        await conn.send("text", frame(3, "h1", {"currentTime": NOW}))  # should be SecurityError
        finding = await found(proxy, "accepted_before_boot")
    assert finding.evidence["action"] == "Heartbeat"


async def test_a_csms_that_answers_with_an_invalid_payload_and_a_21_message_type(
    make_proxy, raw_server
) -> None:
    proxy = await make_proxy(raw_server.url, oracle=FAST)
    client, conn = await pair(proxy, raw_server)
    async with client:
        await client.send("text", frame(2, "h1", "Heartbeat", {}))
        await read_call(conn, 1)
        await conn.send("text", frame(3, "h1", {}))  # currentTime is required
        await conn.send("text", frame(6, "x", "NotifyPeriodicEventStream", {}))
        invalid = await found(proxy, "schema_invalid_response")
        await found(proxy, "wrong_response_type")
    assert invalid.evidence["action"] == "Heartbeat"


# -- broken CSMSs: connections -------------------------------------------------------------------


async def test_a_csms_that_refuses_the_upgrade_with_401(make_proxy) -> None:
    async with RawServer(refuse_status=401) as server:
        proxy = await make_proxy(server.url, oracle=FAST)
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await session.ws_connect(f"{proxy.url}/CP1", protocols=["ocpp1.6"])
        assert info.value.status == 401  # passed on to the charger
        finding = await found(proxy, "upgrade_refused")
    assert finding.evidence == {"status": 401} and finding.charger_id == "CP1"


async def test_a_csms_that_cannot_be_reached(make_proxy) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    proxy = await make_proxy(f"ws://127.0.0.1:{port}", oracle=FAST)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(f"{proxy.url}/CP1", protocols=["ocpp1.6"])
    finding = await found(proxy, "upgrade_refused")
    assert "status" not in finding.evidence and finding.evidence["error"]


async def test_a_csms_that_selects_no_subprotocol(make_proxy) -> None:
    async with RawServer(choose=lambda _offered: None) as server:
        proxy = await make_proxy(server.url, oracle=FAST)
        client = await RawClient.connect(f"{proxy.url}/CP1", protocols=["ocpp1.6"])
        async with client:
            finding = await found(proxy, "subprotocol_mismatch")
    assert finding.evidence == {"offered": ["ocpp1.6"]} and finding.severity == "warning"


@pytest.mark.parametrize(("abrupt", "severity"), [(False, "warning"), (True, "error")])
async def test_a_csms_that_closes_or_resets_the_session(
    make_proxy, raw_server, abrupt, severity
) -> None:
    proxy = await make_proxy(raw_server.url, oracle=FAST)
    client, conn = await pair(proxy, raw_server)
    async with client:
        if abrupt:
            conn.abort()
        else:
            await conn.close(1000, "maintenance")
        finding = await found(proxy, "closed_by_csms")
    assert finding.severity == severity
    assert finding.evidence["close_code"] == (1006 if abrupt else 1000)


async def test_a_fault_that_resets_the_csms_side_is_not_blamed_on_the_csms(
    make_proxy, raw_server
) -> None:
    proxy = await make_proxy(raw_server.url, oracle=FAST)
    client, _conn = await pair(proxy, raw_server)
    async with client:
        proxy.rules.fire({"type": "disconnect", "side": "csms", "abrupt": True}, "CP1")
        await client.rec.wait_ended()
    await until(lambda: len(proxy.sessions) == 0)
    assert "closed_by_csms" not in proxy.oracle.counts()
