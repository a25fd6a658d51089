"""The fleet: chargers started at a ramp, EVs driven through sessions, against the reference
CSMS through the proxy; and `ocpp-chaos fleet` as a process."""

from __future__ import annotations

import asyncio
import json

import pytest

from ocpp_chaos.csms import ReferenceCSMS
from ocpp_chaos.simulator.fleet import FleetConfig, FleetSummary, parse_ramp, run_fleet
from tests.conftest import run_cli


@pytest.mark.parametrize(("text", "value"), [("50/s", 50.0), ("2.5/s", 2.5), ("10", 10.0)])
def test_parse_ramp(text: str, value: float) -> None:
    assert parse_ramp(text) == value


@pytest.mark.parametrize("bad", ["", "0/s", "fast", "-1/s"])
def test_parse_ramp_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_ramp(bad)


def test_id_pattern_must_give_distinct_ids() -> None:
    assert FleetConfig(target="ws://x", count=3, id_pattern="CP-{n}").charger_ids() == [
        "CP-1",
        "CP-2",
        "CP-3",
    ]
    with pytest.raises(ValueError):
        FleetConfig(target="ws://x", count=3, id_pattern="CP").charger_ids()


async def test_fleet_boots_and_charges_through_the_proxy(make_proxy) -> None:
    async with ReferenceCSMS(port=0, heartbeat_interval=2) as csms:
        proxy = await make_proxy(csms.url)
        cfg = FleetConfig(
            target=f"{proxy.url}/ocpp",
            count=20,
            ramp=40.0,
            duration=6.0,
            seed=3,
            idle_mean=0.3,
            charge_seconds=(1.0, 2.0),
            config={"MeterValueSampleInterval": "1"},
        )
        seen: list[FleetSummary] = []
        summary, chargers = await run_fleet(
            cfg, asyncio.Event(), progress=seen.append, progress_every=0.5
        )
    assert summary.chargers == 20 and summary.booted == 20
    assert summary.transactions > 0
    assert seen and seen[0].chargers <= seen[-1].chargers  # progress while ramping up
    booted = {r.charger_id for r in csms.received if r.action == "BootNotification"}
    assert booted == {f"SIM-{n:05}" for n in range(1, 21)}
    assert any(r.action == "StartTransaction" for r in csms.received)
    assert all(c.state == "stopped" for c in chargers)


async def test_fleet_command_runs_headless_and_summarises() -> None:
    async with ReferenceCSMS(port=0) as csms:
        code, out, err = await run_cli(
            "fleet",
            "--target",
            csms.url,
            "--count",
            "5",
            "--ramp",
            "10/s",
            "--duration",
            "3",
            "--headless",
            "--no-sessions",
        )
    assert code == 0, err[-2000:]
    summary = json.loads(out.strip().splitlines()[-1])["summary"]
    assert summary["chargers"] == 5 and summary["booted"] == 5
    progress = [json.loads(x) for x in err.splitlines() if '"fleet_progress"' in x]
    assert progress


async def test_fleet_command_bad_input() -> None:
    from ocpp_chaos.cli import main

    assert main(["fleet", "--target", "ws://127.0.0.1:1", "--ramp", "fast"]) == 2
    assert main(["fleet", "--target", "ws://127.0.0.1:1", "--config", "Nope=1"]) == 2
    assert main(["fleet", "--target", "ws://127.0.0.1:1", "--id-pattern", "SAME"]) == 2


async def test_mixed_fleet_of_both_versions(make_proxy) -> None:
    async with ReferenceCSMS(port=0, heartbeat_interval=2) as csms:
        proxy = await make_proxy(csms.url)
        cfg = FleetConfig(
            target=f"{proxy.url}/ocpp",
            count=10,
            protocol="mixed",
            ramp=40.0,
            duration=5.0,
            seed=4,
            idle_mean=0.3,
            charge_seconds=(1.0, 2.0),
            config={"MeterValueSampleInterval": "1", "SampledDataCtrlr.TxUpdatedInterval": "1"},
        )
        summary, _chargers = await run_fleet(cfg, asyncio.Event())
    assert summary.booted == 10
    seen = {r.protocol for r in csms.received if r.action == "BootNotification"}
    assert seen == {"1.6", "2.0.1"}
    assert any(r.action == "TransactionEvent" for r in csms.received)
    assert any(r.action == "StartTransaction" for r in csms.received)


async def test_a_thousand_chargers_boot_through_the_proxy(make_proxy) -> None:
    """Bounded: 1,000 chargers (both versions), one minute at most, then all stopped."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 5000  # a charger, two proxy sockets and the CSMS's, per charger
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, need), hard))
    try:
        async with ReferenceCSMS(port=0, heartbeat_interval=60) as csms:
            proxy = await make_proxy(csms.url)
            stop = asyncio.Event()
            cfg = FleetConfig(
                target=f"{proxy.url}/ocpp",
                count=1000,
                protocol="mixed",
                ramp=500.0,
                duration=60.0,
                sessions=False,
            )

            def booted() -> int:
                return sum(1 for r in csms.received if r.action == "BootNotification")

            async def until_all_booted() -> None:
                while booted() < 1000:
                    await asyncio.sleep(0.2)
                stop.set()

            watcher = asyncio.ensure_future(until_all_booted())
            summary, chargers = await run_fleet(cfg, stop)
            watcher.cancel()
        assert booted() == 1000 and summary.booted == 1000
        assert proxy.totals["sessions"] == 1000
        assert all(c.state == "stopped" for c in chargers)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


AC_TEMPLATE = """
vendor: Acme
model: WB-2
firmware: "3.2.1"
protocol: "1.6"
connectors:
  - {type: sType2, max_power_kw: 7.4, phases: 1}
  - {type: sType2, max_power_kw: 7.4, phases: 1}
meter_values: {interval_s: 1, measurands: [Energy.Active.Import.Register, Power.Active.Import]}
evs: [{weight: 1, capacity_kwh: 60, soc: 0.2, target_soc: 0.9, max_ac_kw: 11}]
arrivals: {process: fixed, interval_s: 0.3}
dwell: {distribution: fixed, duration_s: 3}
"""

DC_TEMPLATE = """
vendor: Volt
model: HPC
protocol: "2.0.1"
evses: [{type: cCCS2, max_power_kw: 150}]
meter_values: {interval_s: 1, measurands: [Energy.Active.Import.Register, Power.Active.Import]}
evs:
  - {weight: 1, capacity_kwh: 77, soc: 0.2, target_soc: 0.8, max_ac_kw: 11, max_dc_kw: 135,
     curve: [[0.0, 100], [0.3, 135], [0.8, 50], [1.0, 10]]}
arrivals: {process: fixed, interval_s: 0.3}
dwell: {distribution: fixed, duration_s: 3}
"""


def _powers(csms: ReferenceCSMS, vendor_ids: set[str]) -> list[float]:
    out = []
    for r in csms.received:
        if r.charger_id not in vendor_ids or r.action not in ("MeterValues", "TransactionEvent"):
            continue
        for mv in r.payload.get("meterValue", []):
            for sv in mv["sampledValue"]:
                if sv.get("measurand") == "Power.Active.Import":
                    out.append(float(sv["value"]))
    return out


async def test_a_fleet_from_templates(tmp_path) -> None:
    from ocpp_chaos.simulator.template import load_template_text

    templates = [load_template_text(AC_TEMPLATE, "ac.yaml"), load_template_text(DC_TEMPLATE)]
    async with ReferenceCSMS(port=0, heartbeat_interval=60) as csms:
        cfg = FleetConfig(
            target=f"{csms.url}/ocpp",
            count=4,
            ramp=40.0,
            duration=7.0,
            seed=2,
            templates=templates,
        )
        summary, _chargers = await run_fleet(cfg, asyncio.Event())
    assert summary.booted == 4
    boots = {r.charger_id: r for r in csms.received if r.action == "BootNotification"}
    ac_ids = {cid for cid, r in boots.items() if r.protocol == "1.6"}
    dc_ids = {cid for cid, r in boots.items() if r.protocol == "2.0.1"}
    assert len(ac_ids) == 2 and len(dc_ids) == 2  # charger n takes template (n-1) % 2
    for cid in ac_ids:
        assert boots[cid].payload["chargePointVendor"] == "Acme"
        assert boots[cid].payload["firmwareVersion"] == "3.2.1"
    for cid in dc_ids:
        assert boots[cid].payload["chargingStation"]["vendorName"] == "Volt"
    # both AC connectors are driven; AC power is capped by the 7.4 kW sockets, DC cars
    # take far more on the 150 kW EVSE
    ac_connectors = {
        r.payload["connectorId"]
        for r in csms.received
        if r.action == "StartTransaction" and r.charger_id in ac_ids
    }
    assert ac_connectors == {1, 2}
    ac, dc = _powers(csms, ac_ids), _powers(csms, dc_ids)
    assert ac and max(ac) <= 7400.0
    assert dc and max(dc) > 50_000.0


async def test_fleet_command_with_templates(tmp_path) -> None:
    good = tmp_path / "ac.yaml"
    good.write_text(AC_TEMPLATE)
    async with ReferenceCSMS(port=0) as csms:
        code, out, err = await run_cli(
            "fleet",
            "--target",
            csms.url,
            "--count",
            "2",
            "--ramp",
            "10/s",
            "--duration",
            "2",
            "--headless",
            "--template",
            str(good),
        )
    assert code == 0, err[-2000:]
    assert json.loads(out.strip().splitlines()[-1])["summary"]["booted"] == 2
    assert {
        r.payload["chargePointModel"] for r in csms.received if r.action == "BootNotification"
    } == {"WB-2"}


async def test_fleet_command_bad_template_names_file_line_and_field(tmp_path, capsys) -> None:
    from ocpp_chaos.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        AC_TEMPLATE.replace("max_power_kw: 7.4, phases: 1}\n  -", "max_power_kw: -3}\n  -")
    )
    assert main(["fleet", "--target", "ws://127.0.0.1:1", "--template", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:7:" in err and "max_power_kw" in err
