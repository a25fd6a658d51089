"""2.0.1 reconnection: RetryBackOff* variables drive the back-off (timed on a fake
clock), and OfflineThreshold decides which statuses are sent after a reconnect."""

from __future__ import annotations

from ocpp_chaos.csms import ReferenceCSMS
from ocpp_chaos.rules.model import Rule
from ocpp_chaos.simulator.charger import ChargerState
from ocpp_chaos.simulator.charger201 import VirtualCharger201
from tests.simulator.test_backoff_timing import FakeClock
from tests.simulator.test_charger import Running, until


def _refuse(charger_id: str) -> Rule:
    return Rule.model_validate(
        {"name": "refuse", "match": {"charger": charger_id}, "fault": {"type": "reject_connect"}}
    )


async def test_retry_backoff_variables_set_the_waits(make_proxy) -> None:
    clock = FakeClock()
    config = {
        "OCPPCommCtrlr.RetryBackOffWaitMinimum": "20",
        "OCPPCommCtrlr.RetryBackOffRandomRange": "2",
        "OCPPCommCtrlr.RetryBackOffRepeatTimes": "2",
    }
    async with ReferenceCSMS(port=0, heartbeat_interval=60) as csms:
        proxy = await make_proxy(csms.url)
        proxy.rules.add(_refuse("RB-1"))
        charger = VirtualCharger201(
            "RB-1", proxy.url, call_timeout=5, config=config, clock=clock.time, sleep=clock.sleep
        )
        clock.charger = charger
        clock.hook = lambda n: proxy.rules.remove("refuse") if n == 5 else None
        async with Running(charger):
            await until(lambda: charger.state == ChargerState.ACCEPTED, timeout=20)
    waits = clock.sleeps[:5]
    bases = [20.0, 40.0, 80.0, 80.0, 80.0]  # doubling RetryBackOffRepeatTimes (2) times
    for wait, base in zip(waits, bases, strict=True):
        assert base <= wait <= base + 2.0, waits


async def test_offline_threshold_short_outage_sends_only_changed_statuses(make_proxy) -> None:
    await _outage(make_proxy, threshold="3600", expect_evses={1})


async def test_offline_threshold_long_outage_sends_every_status(make_proxy) -> None:
    await _outage(make_proxy, threshold="0", expect_evses={1, 2})


async def _outage(make_proxy, *, threshold: str, expect_evses: set[int]) -> None:
    config = {"OCPPCommCtrlr.OfflineThreshold": threshold}
    async with ReferenceCSMS(port=0, heartbeat_interval=60) as csms:
        proxy = await make_proxy(csms.url)
        charger = VirtualCharger201("OT-1", proxy.url, call_timeout=5, connectors=2, config=config)
        charger.backoff.wait_minimum, charger.backoff.random_range = 0.1, 0.1
        async with Running(charger):
            await until(lambda: charger.state == ChargerState.ACCEPTED)
            await until(lambda: sum(r.action == "StatusNotification" for r in csms.received) == 2)
            proxy.rules.add(_refuse("OT-1"))
            proxy.rules.fire({"type": "disconnect", "abrupt": True}, "OT-1")
            await until(lambda: charger.state != ChargerState.ACCEPTED)
            await charger.plug_in(1)  # while offline: Occupied, not reported yet
            seen = len(csms.received)
            proxy.rules.remove("refuse")
            await until(lambda: charger.state == ChargerState.ACCEPTED, timeout=20)
            await until(
                lambda: (
                    sum(r.action == "StatusNotification" for r in csms.received[seen:])
                    >= len(expect_evses)
                )
            )
            await charger.plug_in(2)  # a marker: everything before it is the reconnect's
            await until(
                lambda: any(
                    r.action == "StatusNotification"
                    and r.payload["evseId"] == 2
                    and r.payload["connectorStatus"] == "Occupied"
                    for r in csms.received
                )
            )
    after = [
        r.payload
        for r in csms.received[seen:]
        if r.action == "StatusNotification"
        and not (r.payload["evseId"] == 2 and r.payload["connectorStatus"] == "Occupied")
    ]
    assert {p["evseId"] for p in after} == expect_evses
    assert next(p for p in after if p["evseId"] == 1)["connectorStatus"] == "Occupied"
    assert csms.received_actions("OT-1").count("BootNotification") == 1
