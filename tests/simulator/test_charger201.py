"""The virtual 2.0.1 charger against real CSMSs on 127.0.0.1: the reference CSMS (through the
proxy too), and a scripted ocpp-library 2.0.1 CSMS that sends commands."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ocpp.routing import on
from ocpp.v201 import ChargePoint as CentralSide
from ocpp.v201 import call, call_result
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ocpp_chaos.csms import ReferenceCSMS
from ocpp_chaos.rules.model import Rule
from ocpp_chaos.simulator.backoff import Backoff
from ocpp_chaos.simulator.charger import ChargerState
from ocpp_chaos.simulator.charger201 import VirtualCharger201
from tests.simulator.test_charger import Running, until

FAST = {
    "SampledDataCtrlr.TxUpdatedInterval": "1",
    "OCPPCommCtrlr.HeartbeatInterval": "1",
}


def fast_charger(charger_id: str, url: str, **kw: Any) -> VirtualCharger201:
    kw.setdefault("config", FAST)
    charger = VirtualCharger201(charger_id, url, call_timeout=5, **kw)
    charger.backoff = Backoff(charger.rng, wait_minimum=0.1, random_range=0.1, maximum=0.5)
    return charger


async def test_boot_status_and_a_transaction_with_seq_numbers() -> None:
    async with ReferenceCSMS(port=0, heartbeat_interval=1) as csms:
        async with Running(fast_charger("SIM2-1", csms.url)) as charger:
            await until(lambda: charger.state == ChargerState.ACCEPTED)
            await charger.plug_in(1)
            assert await charger.start_transaction(1, "TAG-1")
            await until(
                lambda: sum(1 for r in csms.received if r.action == "TransactionEvent") >= 3
            )
            await charger.stop_transaction(1, "Local")
            await until(lambda: len(charger.queue) == 0)
    actions = csms.received_actions("SIM2-1")
    assert actions[0] == "BootNotification"
    statuses = [
        r.payload["connectorStatus"] for r in csms.received if r.action == "StatusNotification"
    ]
    assert statuses[0] == "Available" and "Occupied" in statuses
    events = [r.payload for r in csms.received if r.action == "TransactionEvent"]
    assert events[0]["eventType"] == "Started"
    assert events[-1]["eventType"] == "Ended"
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    assert len({e["transactionInfo"]["transactionId"] for e in events}) == 1
    assert events[0]["triggerReason"] == "Authorized"
    assert events[-1]["transactionInfo"]["stoppedReason"] == "Local"
    sampled = events[1]["meterValue"][0]["sampledValue"]
    assert {s["measurand"] for s in sampled} >= {"Energy.Active.Import.Register", "SoC"}
    (tx,) = csms.transactions.values()
    assert tx.ended


async def test_offline_events_are_flagged_and_replayed_in_order(make_proxy) -> None:
    async with ReferenceCSMS(port=0, heartbeat_interval=1) as csms:
        proxy = await make_proxy(csms.url)
        async with Running(fast_charger("SIM2-2", proxy.url)) as charger:
            await until(lambda: charger.state == ChargerState.ACCEPTED)
            await charger.plug_in(1)
            assert await charger.start_transaction(1, "TAG-1")
            # the Started event is answered (else it is rightly sent again after reconnecting)
            await until(
                lambda: (
                    any(r.action == "TransactionEvent" for r in csms.received)
                    and not any(q.payload.get("event_type") == "Started" for q in charger.queue)
                )
            )
            proxy.rules.add(
                Rule.model_validate(
                    {
                        "name": "refuse",
                        "match": {"charger": "SIM2-2"},
                        "fault": {"type": "reject_connect"},
                    }
                )
            )
            proxy.rules.fire({"type": "disconnect", "abrupt": True}, "SIM2-2")
            await until(lambda: charger.state in (ChargerState.OFFLINE, ChargerState.CONNECTING))
            await asyncio.sleep(1.5)
            await charger.stop_transaction(1, "Local")
            assert len(charger.queue) >= 2
            proxy.rules.remove("refuse")
            await until(lambda: charger.state == ChargerState.ACCEPTED, timeout=20)
            await until(lambda: len(charger.queue) == 0, timeout=20)
    events = [r.payload for r in csms.received if r.action == "TransactionEvent"]
    assert [e["seqNo"] for e in events] == list(range(len(events)))  # in order, no gap
    assert events[-1]["eventType"] == "Ended" and events[-1].get("offline") is True
    assert csms.received_actions("SIM2-2").count("BootNotification") == 1


class Commanding201:
    """A 2.0.1 central system on the ocpp library that records and sends commands."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []
        self.sides: dict[str, Any] = {}
        self._server: Any = None
        self.port = 0

    async def __aenter__(self) -> Commanding201:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            subprotocols=["ocpp2.0.1"],  # type: ignore[list-item]
            compression=None,
            ping_interval=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def _handle(self, ws: ServerConnection) -> None:
        charger_id = ws.request.path.rsplit("/", 1)[-1]
        csms = self

        class Side(CentralSide):  # type: ignore[misc]
            @on("BootNotification")
            def on_boot(self, **_: Any) -> Any:
                csms.received.append(("BootNotification", None))
                return call_result.BootNotification(
                    current_time="2026-11-25T00:00:00.000Z", interval=1, status="Accepted"
                )

            @on("Heartbeat")
            def on_heartbeat(self, **_: Any) -> Any:
                return call_result.Heartbeat(current_time="2026-11-25T00:00:00.000Z")

            @on("StatusNotification")
            def on_status(self, **kw: Any) -> Any:
                csms.received.append(("StatusNotification", kw["connector_status"]))
                return call_result.StatusNotification()

            @on("TransactionEvent")
            def on_event(self, **kw: Any) -> Any:
                csms.received.append(("TransactionEvent", kw))
                return call_result.TransactionEvent()

            @on("NotifyReport")
            def on_report(self, **kw: Any) -> Any:
                csms.received.append(("NotifyReport", kw))
                return call_result.NotifyReport()

        side = Side(charger_id, ws)
        self.sides[charger_id] = side
        with contextlib.suppress(ConnectionClosed):
            await side.start()


async def test_device_model_report_and_remote_commands() -> None:
    async with Commanding201() as csms:
        async with Running(fast_charger("SIM2-C", csms.url)) as charger:
            await until(lambda: charger.state == ChargerState.ACCEPTED)
            side = csms.sides["SIM2-C"]
            got = await side.call(
                call.GetVariables(
                    get_variable_data=[
                        {
                            "component": {"name": "OCPPCommCtrlr"},
                            "variable": {"name": "HeartbeatInterval"},
                        },
                        {"component": {"name": "Nope"}, "variable": {"name": "X"}},
                    ]
                )
            )
            results = got.get_variable_result
            assert results[0]["attribute_status"] == "Accepted"
            assert results[1]["attribute_status"] == "UnknownComponent"
            set_ = await side.call(
                call.SetVariables(
                    set_variable_data=[
                        {
                            "attribute_value": "9",
                            "component": {"name": "OCPPCommCtrlr"},
                            "variable": {"name": "HeartbeatInterval"},
                        },
                    ]
                )
            )
            assert set_.set_variable_result[0]["attribute_status"] == "Accepted"
            assert charger.heartbeat_interval == 9
            report = await side.call(call.GetBaseReport(request_id=5, report_base="FullInventory"))
            assert report.status == "Accepted"
            await until(
                lambda: any(k == "NotifyReport" and not v.get("tbc") for k, v in csms.received)
            )
            reports = [v for k, v in csms.received if k == "NotifyReport"]
            assert all(r["request_id"] == 5 for r in reports)
            assert sum(len(r.get("report_data") or []) for r in reports) > 20
            start = await side.call(
                call.RequestStartTransaction(
                    id_token={"id_token": "REMOTE", "type": "Central"}, remote_start_id=1, evse_id=1
                )
            )
            assert start.status == "Accepted"
            await until(lambda: charger.transactions.get(1) is not None)
            tx_id = charger.transactions[1].transaction_id
            stop = await side.call(call.RequestStopTransaction(transaction_id=str(tx_id)))
            assert stop.status == "Accepted"
            await until(
                lambda: any(
                    k == "TransactionEvent" and v["event_type"] == "Ended" for k, v in csms.received
                )
            )
            events = [v for k, v in csms.received if k == "TransactionEvent"]
            assert events[0]["trigger_reason"] == "RemoteStart"
            assert events[-1]["trigger_reason"] == "RemoteStop"
            boots = charger.counters.boots
            reset = await side.call(call.Reset(type="Immediate"))
            assert reset.status == "Accepted"
            await until(lambda: charger.counters.boots > boots, timeout=10)
