"""The pytest plugin CSMS teams use (entry point pytest11): its fixtures, used here as a
CSMS team would, against the embedded CSMS (no --csms-url given)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ocpp_chaos.simulator.charger import ChargerState
from tests.simulator.test_charger import until

ROOT = Path(__file__).resolve().parents[1]


async def test_a_charger_through_the_proxy_and_the_findings(
    chaos_proxy, chaos_charger, chaos_findings
) -> None:
    charger = await chaos_charger("PLUG-1", protocol="2.0.1", call_timeout=5)
    await until(lambda: charger.state == ChargerState.ACCEPTED)
    await charger.plug_in(1)
    assert await charger.start_transaction(1, "TAG-1")
    await charger.stop_transaction(1)
    await until(lambda: len(charger.queue) == 0)
    assert chaos_proxy.totals["sessions"] == 1  # it went through the proxy
    assert [f for f in chaos_findings() if f.severity == "error"] == []


async def test_fleet_and_scenario_fixtures(chaos_fleet, chaos_scenario) -> None:
    summary = await chaos_fleet(count=4, protocol="mixed", duration=3.0, sessions=False)
    assert summary.booted == 4
    result = await chaos_scenario(ROOT / "scenarios" / "basic-charge-cycle.yaml")
    assert result.verdict == "passed", result.expectations


def test_the_plugin_is_registered() -> None:
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="pytest11") if e.name == "ocpp_chaos"]
    assert entry.value == "ocpp_chaos.pytest_plugin"


async def test_the_control_api_fixture(chaos_api, chaos_proxy) -> None:
    (charger_id,) = await chaos_api.add_chargers(1, protocol="1.6")
    for _ in range(200):
        if (await chaos_api.fleet())["states"].get("accepted") == 1:
            break
        await asyncio.sleep(0.05)
    fired = await chaos_api.fire({"type": "disconnect"}, [charger_id])
    assert fired["chargers"] == [charger_id]
    for _ in range(200):
        if chaos_proxy.totals["sessions"] >= 2:  # it came back through the proxy
            break
        await asyncio.sleep(0.05)
    assert chaos_proxy.totals["sessions"] >= 2
