"""Every example rule file loads, its schema is current, and every rule in it fires on real
sockets (raw charger, proxy, raw CSMS on 127.0.0.1).

Durations are shortened and windows removed so each fault fires within a test's time; what
fires is the rule as written otherwise.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from ocpp_chaos.proxy import ProxyConfig, ProxyServer
from ocpp_chaos.rules import load_rule_file, rule_file_json_schema
from ocpp_chaos.rules.model import Rule
from ocpp_chaos.rules.paths import set_value
from ocpp_chaos.testing.raw import RawClient, RawServer

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "rules").glob("*.yaml"))
RULES = [(path, rule) for path in FILES for rule in load_rule_file(path).rules]


def test_there_is_one_file_per_family() -> None:
    names = {p.stem for p in FILES}
    assert names == {
        "signal-loss",
        "flaky-network",
        "corrupted-frames",
        "out-of-order-and-duplicates",
        "csms-impersonation-errors",
        "reconnect-storm",
    }
    fault_types = {rule.fault.type for _p, rule in RULES}
    from ocpp_chaos.rules import FAULT_TYPES

    assert fault_types == set(FAULT_TYPES)  # the examples show the whole catalogue


def test_shipped_schema_is_current_and_files_point_at_it() -> None:
    shipped = json.loads((ROOT / "rules" / "rules.schema.json").read_text())
    assert shipped == rule_file_json_schema()
    for path in FILES:
        assert path.read_text().startswith("# yaml-language-server: $schema=rules.schema.json\n")


def _fast(rule: Rule) -> Rule:
    """The rule, enabled, without a window or chance, with durations of a test's length."""
    fault = rule.fault.model_dump(by_alias=True)
    for key in ("duration", "delay", "hold", "period", "max_hold"):
        if isinstance(fault.get(key), int | float) and fault[key] > 0.3:
            fault[key] = 0.3
    if fault["type"] == "inject":
        fault["delay"] = 0.05
    data = rule.model_dump(by_alias=True, exclude_none=True)
    data.update(enabled=True, fault=fault, chargers="all")
    data.pop("window", None)
    data.pop("probability", None)
    return Rule.model_validate(data)


def _charger_id(rule: Rule) -> str:
    for pattern in rule.match.charger or []:
        if pattern.startswith("re:"):
            continue
        return re.sub(r"[*?]", "1", pattern)
    return "CP-001"


def _payload(rule: Rule) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "connectorId": 1,
        "idTag": "BLOCK-1",
        "seqNo": 0,
        "timestamp": "2026-11-25T10:00:00.000Z",
        "meterValue": [
            {"timestamp": "2026-11-25T10:00:00.000Z", "sampledValue": [{"value": "1500.0"}]}
        ],
    }
    for path, cond in (rule.match.payload or {}).items():
        if cond.equals is not None:
            payload = set_value(payload, path, cond.equals)
    return payload


def _frames_needed(rule: Rule) -> int:
    return (rule.after or 0) + max(rule.nth or 1, rule.every or 1) + 1


@pytest.mark.parametrize(("path", "example"), RULES, ids=[f"{p.stem}:{r.name}" for p, r in RULES])
async def test_every_example_rule_fires_on_real_sockets(path: Path, example: Rule) -> None:
    rule = _fast(example)
    m = rule.match
    protocol = (m.protocol or ["ocpp1.6"])[0]
    action = (m.action or ["Heartbeat"])[0]
    kinds = m.message or ["call"]
    direction = m.direction if m.direction != "both" else "up"
    async with RawServer() as server:
        proxy = ProxyServer(ProxyConfig(upstream=server.url, listen_port=0), rules=[rule])
        await proxy.start()
        try:
            async with asyncio.timeout(20):
                await _drive(proxy, server, rule, protocol, action, kinds, direction)
                while proxy.engine.stats(rule.name).hits < 1:
                    await asyncio.sleep(0.02)
        except TimeoutError:
            pytest.fail(f"{rule.name} never fired: {proxy.rules.describe()} {rule}")
        finally:
            await proxy.stop()
    assert proxy.engine.stats(rule.name).hits >= 1


async def _drive(
    proxy: ProxyServer,
    server: RawServer,
    rule: Rule,
    protocol: str,
    action: str,
    kinds: list[str],
    direction: str,
) -> None:
    charger = _charger_id(rule)
    if rule.fault.type in ("reject_connect", "csms_outage"):
        if rule.fault.type == "csms_outage":
            # it started with the proxy: wait for it to end, connect, and start it again
            while proxy.engine.on_connect(charger, [protocol], time.monotonic()).refuse:
                await asyncio.sleep(0.05)
            client = await RawClient.connect(f"{proxy.url}/{charger}", protocols=[protocol])
            proxy.rules.disable(rule.name)
            proxy.rules.enable(rule.name)
            await client.rec.wait_ended()
            await client.aclose()
            return
        try:
            client = await RawClient.connect(f"{proxy.url}/{charger}", protocols=[protocol])
        except Exception:
            return  # refused, as it should be
        await client.aclose()
        return
    client = await RawClient.connect(f"{proxy.url}/{charger}", protocols=[protocol])
    try:
        conn = (await server.wait_connections(1))[0]
        payload = _payload(rule)
        for i in range(_frames_needed(rule)):
            if client.rec.ended.is_set():
                break
            uid = f"x-{i}"
            frame = json.dumps([2, uid, action, payload]).encode()
            sender, answerer = (client, conn) if direction == "up" else (conn, client)
            if "call" in kinds:
                await sender.send("text", frame)
            else:  # the rule is about answers: a CALL the other way, then its answer
                await answerer.send("text", frame)
                await asyncio.sleep(0.01)
                answer = (
                    [3, uid, {"status": "Accepted"}]
                    if "result" in kinds
                    else [4, uid, "InternalError", "", {}]
                )
                await sender.send("text", json.dumps(answer).encode())
            await asyncio.sleep(0.01)
    finally:
        await client.aclose()
