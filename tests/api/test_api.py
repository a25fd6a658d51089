"""The control API against a real engine: the embedded reference CSMS, the proxy, virtual
chargers connecting through it, all on 127.0.0.1 (port 0)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from ocpp_chaos.api.client import ApiClient, ApiError
from ocpp_chaos.api.engine import Engine
from ocpp_chaos.api.openapi import ROUTES, openapi_document
from ocpp_chaos.api.server import ApiConfigError, ApiServer
from ocpp_chaos.testing.raw import RawClient
from tests.api.conftest import Running, until

ROOT = Path(__file__).resolve().parents[2]


async def _fleet(running: Running, count: int = 2, protocol: str = "mixed") -> list[str]:
    ids = await running.api.add_chargers(count, protocol=protocol)
    await until(lambda: all(running.engine.chargers[i].booted for i in ids))
    return ids


async def test_status_and_sessions_of_real_chargers(running: Running) -> None:
    api = running.api
    status = await api.status()
    assert status["embedded_csms"] is True and status["sessions"] == 0
    assert status["api"] == running.server.url
    ids = await _fleet(running)
    sessions = await api.sessions()
    assert [s["charger_id"] for s in sessions] == ids
    assert {s["subprotocol"] for s in sessions} == {"ocpp1.6", "ocpp2.0.1"}
    assert all(s["frames_up"] >= 1 and s["frames_down"] >= 1 for s in sessions)
    assert all(s["faults"] == [] and s["findings"] == 0 for s in sessions)
    only = await api.sessions(filter=f"charger:{ids[1]}")
    assert [s["charger_id"] for s in only] == [ids[1]]

    detail = await api.session(ids[0])
    assert detail["charger_id"] == ids[0]
    assert detail["sessions"][0]["rtt_ms"]["count"] >= 1
    boot = next(f for f in detail["frames"] if f.get("action") == "BootNotification")
    assert boot["dir"] == "up" and boot["type"] == "call"
    assert detail["charger"]["booted"] is True
    assert (await api.status())["sessions"] == 2

    with pytest.raises(ApiError) as info:
        await api.session("NO-SUCH")
    assert info.value.status == 404 and "NO-SUCH" in info.value.message


async def test_rules_add_enable_disable_remove_and_load(running: Running) -> None:
    api = running.api
    ids = await _fleet(running, 1, "1.6")
    rule = {
        "name": "no-heartbeat-answers",
        "enabled": False,
        "match": {"direction": "down", "action": "Heartbeat", "message": "result"},
        "fault": {"type": "drop"},
    }
    added = await api.add_rule(rule)
    assert added["name"] == "no-heartbeat-answers" and added["enabled"] is False
    assert (await api.enable_rule("no-heartbeat-answers"))["enabled"] is True
    charger = running.engine.chargers[ids[0]]
    charger.background(charger.send(charger.calls.Heartbeat()))  # its answer is dropped
    await until(lambda: running.engine.proxy.engine.stats("no-heartbeat-answers").hits >= 1)
    listed = {r["name"]: r for r in await api.rules()}
    assert listed["no-heartbeat-answers"]["hits"] >= 1
    assert (await api.disable_rule("no-heartbeat-answers"))["enabled"] is False
    await api.remove_rule("no-heartbeat-answers")
    assert "no-heartbeat-answers" not in {r["name"] for r in await api.rules()}
    with pytest.raises(ApiError) as info:
        await api.enable_rule("no-heartbeat-answers")
    assert info.value.status == 404

    names = await api.load_rules(str(ROOT / "rules" / "signal-loss.yaml"))
    assert names and set(names) <= {r["name"] for r in await api.rules()}

    with pytest.raises(ApiError) as info:  # a mistake in a rule: 400 naming the field
        await api.add_rule({"name": "x", "fault": {"type": "delay", "delay": "soon"}})
    assert info.value.status == 400 and any("fault" in p["field"] for p in info.value.problems)
    with pytest.raises(ApiError) as info:  # a file with a mistake: file:line in the answer
        bad = ROOT / "tests" / "api" / "_bad_rules.yaml"
        bad.write_text("rules:\n  - name: r\n    fault: {type: nope}\n")
        try:
            await api.load_rules(str(bad))
        finally:
            bad.unlink()
    assert info.value.status == 400 and "_bad_rules.yaml:3" in str(info.value.problems)


async def test_signal_loss_fired_over_the_api_silences_a_charger(running: Running) -> None:
    api = running.api
    ids = await _fleet(running, 2, "1.6")
    target = running.engine.chargers[ids[0]]
    failures = target.counters.connect_failures
    fired = await api.fire({"type": "signal_loss", "duration": "8s"}, [ids[0]])
    assert fired["chargers"] == [ids[0]] and fired["remaining_s"] > 0
    active = await api.faults()
    assert [f["name"] for f in active] == [fired["name"]]
    sessions = {s["charger_id"]: s for s in await api.sessions()}
    assert sessions[ids[0]]["faults"] == ["signal_loss"]
    assert sessions[ids[1]]["faults"] == []
    # The charger hears nothing: its Heartbeat goes unanswered ...
    answered = running.engine.proxy.frames()[1]
    heartbeat = target.background(target.send(target.calls.Heartbeat()))
    await asyncio.sleep(0.5)
    assert not heartbeat.done()
    session = running.engine.proxy.sessions.by_charger(ids[0])[0]
    assert session.monitor.stats.down.frames == sessions[ids[0]]["frames_down"]
    # ... and when its modem restarts, its reconnects are refused until the outage ends.
    target.power_loss()
    await until(lambda: target.counters.connect_failures > failures, timeout=30)
    assert running.engine.proxy.totals["refused_by_rule"] >= 1
    assert running.engine.proxy.frames()[1] >= answered
    await until(lambda: target.booted and target.connected, timeout=40)  # back afterwards
    assert running.engine.chargers[ids[1]].counters.connect_failures == 0


async def test_faults_by_filter_and_radius_latency_and_clear(running: Running) -> None:
    api = running.api
    ids = await _fleet(running, 4, "1.6")
    fired = await api.fire(
        {"type": "latency", "fixed": "50ms"}, select="charger:SIM-*", duration=30
    )
    assert fired["chargers"] == ids and fired["remaining_s"] > 20
    some = await api.fire(
        {"type": "corrupt", "mode": "truncate"}, select="charger:SIM-*", radius={"count": 2}
    )
    assert len(some["chargers"]) == 2 and set(some["chargers"]) <= set(ids)
    assert {f["name"] for f in await api.faults()} == {fired["name"], some["name"]}
    await api.clear_fault(fired["name"])
    assert fired["name"] not in {f["name"] for f in await api.faults()}
    assert fired["name"] not in {r["name"] for r in await api.rules()}
    assert await api.clear_faults() == 1
    assert await api.faults() == []
    for body, expect in (
        ({"fault": {"type": "nope"}, "chargers": ids}, "fault"),
        ({"fault": {"type": "disconnect"}, "chargers": ids, "colour": "red"}, "colour"),
    ):
        with pytest.raises(ApiError) as info:
            await api.request("POST", "/api/faults", body)
        assert info.value.status == 400
        assert info.value.problems[0]["field"].startswith(expect)
    with pytest.raises(ApiError) as info:
        await api.fire({"type": "disconnect"}, select="charger:NOBODY*")
    assert info.value.status == 400 and "no charger" in info.value.message
    with pytest.raises(ApiError) as info:
        await api.clear_fault("op-999")
    assert info.value.status == 404


async def test_fleet_commands_drive_real_transactions(running: Running) -> None:
    api = running.api
    ids = await _fleet(running, 2, "mixed")
    v16 = ids[0]
    done = await api.fleet_command("start_transaction", [v16], connector=1, id_tag="TAG-API")
    assert done == {"do": "start_transaction", "chargers": [v16], "done": 1, "errors": {}}
    csms = running.engine.csms
    await until(lambda: any(t.charger_id == v16 for t in csms.transactions.values()))
    fleet = await api.fleet()
    row = next(c for c in fleet["chargers"] if c["charger_id"] == v16)
    assert row["connectors"]["1"]["transaction"] is True
    await api.fleet_command("stop_transaction", [v16], connector=1)
    await until(lambda: all(t.ended for t in csms.transactions.values() if t.charger_id == v16))
    connects = running.engine.chargers[ids[1]].counters.connects
    await api.fleet_command("reboot", [ids[1]], kind="Soft")
    await until(lambda: running.engine.chargers[ids[1]].counters.connects > connects)
    await until(lambda: running.engine.chargers[ids[1]].booted)
    stopped = await api.fleet_command("stop_chargers", [ids[1]])
    assert stopped["done"] == 1
    await until(lambda: not running.engine.chargers[ids[1]].connected)
    started = await api.fleet_command("start_chargers", [ids[1]])
    assert started["done"] == 1
    await until(lambda: running.engine.chargers[ids[1]].booted)

    for body, status in (
        ({"do": "plug_in", "chargers": [v16], "at": 3}, 400),  # timelines wait, commands don't
        ({"do": "plug_in", "chargers": [v16], "connector": 0}, 400),
        ({"do": "wait", "duration": 1}, 400),  # a step, but not a fleet command
        ({"do": "plug_in", "chargers": ["NOBODY"]}, 404),
    ):
        with pytest.raises(ApiError) as info:
            await api.request("POST", "/api/fleet/commands", body)
        assert info.value.status == status, body
    with pytest.raises(ApiError) as info:
        await api.add_chargers(1, protocol="1.5")
    assert info.value.status == 400 and info.value.problems[0]["field"] == "protocol"


async def test_scenario_runs_through_the_engine(running: Running, tmp_path: Path) -> None:
    api = running.api
    short = tmp_path / "short.yaml"
    short.write_text(
        "name: short\n"
        "duration: 40s\n"
        "fleet: [{name: g, count: 2, protocol: '1.6'}]\n"
        "timeline:\n"
        "  - {do: wait_for, condition: {check: all_accepted}, timeout: 20s}\n"
        "  - {do: wait, duration: 1s}\n"
        "expectations:\n"
        "  end: [{check: all_accepted}]\n"
    )
    run = await api.start_scenario(str(short))
    assert run["status"] == "running" and run["name"] == "short"
    # its chargers pass through the engine's proxy: they are live sessions here
    await until(lambda: len(running.engine.proxy.sessions) == 2, timeout=30)
    await until(lambda: running.engine.scenarios[run["id"]].status != "running", timeout=40)
    done = await api.scenario(run["id"])
    assert done["status"] == "passed", done["result"]
    assert done["result"]["verdict"] == "passed"

    slow = tmp_path / "slow.yaml"
    slow.write_text(
        "name: slow\nduration: 60s\nfleet: [{name: g, count: 1}]\n"
        "timeline: [{do: wait, duration: 50s}]\n"
    )
    run = await api.start_scenario(str(slow))
    aborted = await api.abort_scenario(run["id"])
    assert aborted["status"] == "aborted"
    assert [r["id"] for r in await api.scenarios()][-1] == run["id"]
    with pytest.raises(ApiError) as info:
        await api.start_scenario(str(tmp_path / "missing.yaml"))
    assert info.value.status == 400


async def test_event_stream_delivers_frames_in_order(running: Running) -> None:
    api = running.api
    async with api.events(charger="CP-RAW", events="frame") as stream:
        hello = await stream.next()
        assert hello["event"] == "hello" and hello["filter"] == "charger:CP-RAW"
        client = await RawClient.connect(
            f"{running.engine.proxy.url}/CP-RAW", protocols=["ocpp1.6"]
        )
        try:
            frames = [("text", f'[2,"{i}","Heartbeat",{{}}]'.encode()) for i in range(100)]
            await client.send_all(frames)
            got: list[dict] = []
            async with asyncio.timeout(20):
                while len([e for e in got if e["dir"] == "up"]) < 100:
                    got.append(await stream.next())
        finally:
            await client.aclose()
    ups = [e for e in got if e["dir"] == "up"]
    assert [e["id"] for e in ups] == [str(i) for i in range(100)]
    assert all(e["event"] == "frame" and e["charger"] == "CP-RAW" for e in got)
    seqs = [e["seq"] for e in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


async def test_event_stream_carries_sessions_rules_faults_and_findings(running: Running) -> None:
    api = running.api
    async with api.events(events="session_open,rule,fault,finding,fleet") as stream:
        await stream.next()
        ids = await _fleet(running, 1, "1.6")
        await api.add_rule({"name": "r1", "enabled": False, "fault": {"type": "drop"}})
        await api.fire({"type": "disconnect"}, ids)
        seen: set[str] = set()
        async with asyncio.timeout(20):
            while not {"fleet", "session_open", "rule", "fault"} <= seen:
                seen.add((await stream.next())["event"])


async def test_tape_metrics_and_openapi(running: Running) -> None:
    api = running.api
    await _fleet(running, 1, "1.6")
    await until(lambda: running.engine.proxy.frames()[0] >= 2)
    lines = [json.loads(x) for x in (await api.tape()).decode().splitlines()]
    assert any(ln.get("action") == "BootNotification" for ln in lines)
    text = await api.metrics()
    assert "ocpp_chaos_sessions 1.0" in text
    assert 'ocpp_chaos_frames_total{action="BootNotification",direction="up",type="call"}' in text
    doc = await api.openapi()
    assert doc == json.loads(json.dumps(openapi_document()))
    assert doc["openapi"].startswith("3.")


def test_every_route_is_documented() -> None:
    engine_free = {(method.lower(), path) for method, path, *_ in ROUTES}
    server = ApiServer.__new__(ApiServer)  # routes only: no engine needed to list them
    routes = {
        (r.method.lower(), r.resource.canonical)
        for r in ApiServer.app(server).router.routes()
        if r.method != "HEAD" and r.resource is not None
    }
    assert routes == engine_free
    schemas = openapi_document()["components"]["schemas"]
    for _method, _path, _summary, body, *_ in ROUTES:
        assert body is None or body in schemas


async def test_errors_are_json(running: Running) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(running.server.url + "/api/nothing") as resp:
            assert resp.status == 404 and "error" in await resp.json()
        async with http.post(running.server.url + "/api/faults", data=b"{not json") as resp:
            assert resp.status == 400 and "not JSON" in (await resp.json())["error"]
        async with http.post(running.server.url + "/api/faults", json=[1, 2]) as resp:
            assert resp.status == 400 and "object" in (await resp.json())["error"]


async def test_cross_site_requests_are_refused(running: Running) -> None:
    url = running.server.url
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/api/status", headers={"Origin": "https://evil.example"}) as r:
            assert r.status == 403 and "cross-site" in (await r.json())["error"]
        host = url.split("://", 1)[1]
        async with http.get(url + "/api/status", headers={"Origin": f"http://{host}"}) as r:
            assert r.status == 200
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(
                url.replace("http", "ws") + "/api/events",
                headers={"Origin": "https://evil.example"},
            )
        assert info.value.status == 403


async def test_a_public_address_needs_a_token() -> None:
    engine = await Engine.build()
    async with engine:
        with pytest.raises(ApiConfigError, match="token"):
            ApiServer(engine, "0.0.0.0", 0)
        server = ApiServer(engine, "0.0.0.0", 0, token="s3cret-token")
        async with server:
            url = f"http://127.0.0.1:{server.port}"
            for token in (None, "wrong"):
                async with ApiClient(url, token=token) as api:
                    with pytest.raises(ApiError) as info:
                        await api.status()
                    assert info.value.status == 401
                    with pytest.raises(aiohttp.WSServerHandshakeError) as ws_info:
                        async with api.events():
                            pass
                    assert ws_info.value.status == 401
            async with ApiClient(url, token="s3cret-token") as api:
                assert (await api.status())["sessions"] == 0
                async with api.events() as stream:
                    assert (await stream.next())["event"] == "hello"
                assert "ocpp_chaos_sessions" in await api.metrics()


async def test_findings_of_a_slow_csms(tmp_path: Path) -> None:
    """A CSMS slower than the oracle's threshold (0 here: every answer counts): findings by
    kind and charger, in sessions, and an unknown kind is a 400."""
    from ocpp_chaos.proxy.oracle import OracleConfig

    engine = await Engine.build(oracle=OracleConfig(slow_threshold=0.0))
    async with engine, ApiServer(engine, port=0) as server, ApiClient(server.url) as api:
        ids = await api.add_chargers(2, protocol="1.6")
        await until(lambda: all(engine.chargers[i].booted for i in ids))
        await until(lambda: engine.proxy.oracle.counts().get("slow_response", 0) >= 2)
        found = await api.findings(kind="slow_response")
        assert found["counts"]["slow_response"] >= 2
        assert {f["kind"] for f in found["findings"]} == {"slow_response"}
        assert {f["charger"] for f in found["findings"]} == set(ids)
        assert found["findings"][0]["spec"] and found["findings"][0]["severity"] == "warning"
        assert "BootNotification" in found["response_times"]
        mine = await api.findings(charger=ids[0], limit=1)
        assert [f["charger"] for f in mine["findings"]] == [ids[0]]
        detail = await api.session(ids[0])
        assert detail["findings"] and all(f["charger"] == ids[0] for f in detail["findings"])
        assert all(s["findings"] >= 1 for s in await api.sessions())
        with pytest.raises(ApiError) as info:
            await api.findings(kind="no_such_kind")
        assert info.value.status == 400 and "no_such_kind" in info.value.message
