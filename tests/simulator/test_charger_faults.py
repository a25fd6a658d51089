"""The firmware's own faults, which scenarios trigger: clock drift and connector faults
(reboot and power loss are in test_charger.py). Real sockets, the reference CSMS."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ocpp_chaos.csms import ReferenceCSMS
from ocpp_chaos.simulator.charger import ChargerState
from tests.simulator.test_charger import Running, fast_charger, until


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


async def test_clock_drift_moves_every_timestamp_the_charger_sends() -> None:
    async with ReferenceCSMS(port=0, heartbeat_interval=60) as csms:
        async with Running(fast_charger("CLK-1", csms.url)) as charger:
            await until(lambda: charger.state == ChargerState.ACCEPTED)
            charger.drift_clock(-3600.0)  # an hour behind
            await charger.plug_in(1)
            assert await charger.start_transaction(1, "TAG-1")
            await until(lambda: any(r.action == "MeterValues" for r in csms.received))
            charger.drift_clock(0.0)
            await charger.stop_transaction(1, "Local")
            await until(lambda: len(charger.queue) == 0)
    now = datetime.now(UTC)
    start = next(r.payload for r in csms.received if r.action == "StartTransaction")
    meter = next(r.payload for r in csms.received if r.action == "MeterValues")
    stop = next(r.payload for r in csms.received if r.action == "StopTransaction")
    behind = (now - _parse(start["timestamp"])).total_seconds()
    assert 3500 < behind < 3700
    assert 3500 < (now - _parse(meter["meterValue"][0]["timestamp"])).total_seconds() < 3700
    assert abs((now - _parse(stop["timestamp"])).total_seconds()) < 60  # put right again


async def test_clock_drift_rate_accumulates() -> None:
    ticks = [0.0]
    charger = fast_charger("CLK-2", "ws://127.0.0.1:1", clock=lambda: ticks[0])
    charger.drift_clock(0.0, ppm=1000.0)  # 1 ms per second
    ticks[0] = 10_000.0
    gained = (charger.now_utc() - datetime.now(UTC)).total_seconds()
    assert 9.5 < gained < 10.5


async def test_a_connector_fault_ends_the_transaction_and_reports_the_error_code() -> None:
    async with ReferenceCSMS(port=0, heartbeat_interval=60) as csms:
        async with Running(fast_charger("FLT-1", csms.url)) as charger:
            await until(lambda: charger.state == ChargerState.ACCEPTED)
            await charger.plug_in(1)
            assert await charger.start_transaction(1, "TAG-1")
            await charger.connector_fault(1, "GroundFailure")
            await until(lambda: len(charger.queue) == 0)
            assert not await charger.start_transaction(1, "TAG-2")  # faulted: no charging
            await charger.clear_connector_fault(1)
            await until(
                lambda: (
                    [
                        r.payload["status"]
                        for r in csms.received
                        if r.action == "StatusNotification"
                    ][-1:]
                    == ["Preparing"]
                )
            )
    statuses = [
        (r.payload["status"], r.payload["errorCode"])
        for r in csms.received
        if r.action == "StatusNotification"
    ]
    assert ("Faulted", "GroundFailure") in statuses
    assert statuses[-1] == ("Preparing", "NoError")  # the car is still plugged in
    stop = next(r.payload for r in csms.received if r.action == "StopTransaction")
    assert stop["reason"] == "Other"
    with pytest.raises(ValueError, match="ChargePointErrorCode"):
        await charger.connector_fault(1, "Lightning")
