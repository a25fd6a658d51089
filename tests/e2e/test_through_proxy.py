"""End to end: ocpp-library chargers, the proxy, the embedded reference CSMS, real sockets."""

from __future__ import annotations

import asyncio
import json

import pytest

from ocpp_chaos.csms import ReferenceCSMS
from ocpp_chaos.testing.chargers import run_charger_flow


@pytest.fixture
async def csms():
    async with ReferenceCSMS(port=0) as server:
        yield server


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1", "2.1"])
async def test_full_charging_session_through_the_proxy(
    csms, make_proxy, protocol, tmp_path
) -> None:
    proxy = await make_proxy(csms.url, tape=tmp_path / "tape.jsonl")
    async with asyncio.timeout(30):
        result = await run_charger_flow(
            f"{proxy.url}/ocpp",
            "CP-E2E",
            protocol,
            transactions=1,
            meter_samples=3,
            headers={"Authorization": "Basic Q1AtRTJFOnNlY3JldA=="},
        )
    assert result.boot_status == "Accepted"
    assert result.transaction_id is not None
    actions = csms.received_actions("CP-E2E")
    if protocol == "1.6":
        for action in (
            "BootNotification",
            "Heartbeat",
            "Authorize",
            "StartTransaction",
            "MeterValues",
            "StopTransaction",
        ):
            assert action in actions
        assert actions.count("MeterValues") == 3
    else:
        events = [r.payload["eventType"] for r in csms.received if r.action == "TransactionEvent"]
        assert events == ["Started", "Updated", "Updated", "Updated", "Ended"]
    tx = csms.transactions[result.transaction_id]
    assert tx.ended
    # the proxy saw every CALL and its answer, all schema-valid, nothing unanswered
    await proxy.stop()
    lines = [json.loads(x) for x in (tmp_path / "tape.jsonl").read_text().splitlines()]
    frames = [ln for ln in lines if ln.get("opcode") == "text"]
    calls = [f for f in frames if f["type"] == "call"]
    results = [f for f in frames if f["type"] == "result"]
    assert [c["action"] for c in calls] == result.actions_sent
    assert len(results) == len(calls)
    assert all(f["schema"] == "valid" for f in frames), [
        f for f in frames if f["schema"] != "valid"
    ]
    assert all("rtt_ms" in r for r in results)


async def test_many_chargers_of_both_versions_at_once(csms, make_proxy) -> None:
    proxy = await make_proxy(csms.url)
    async with asyncio.timeout(60):
        results = await asyncio.gather(
            *(
                run_charger_flow(
                    f"{proxy.url}/ocpp",
                    f"CP-{n:03d}",
                    "1.6" if n % 2 else "2.0.1",
                    transactions=2,
                    meter_samples=2,
                )
                for n in range(20)
            )
        )
    assert all(r.boot_status == "Accepted" for r in results)
    assert len(csms.transactions) == 40
    assert all(t.ended for t in csms.transactions.values())
    assert proxy.totals["sessions"] == 20
