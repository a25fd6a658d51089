"""The virtual 1.6 charger against real CSMSs on 127.0.0.1: the reference CSMS, and a scripted
one built on the ocpp library's central-system side that sends commands."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as CentralSide
from ocpp.v16 import call, call_result
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ocpp_chaos.csms import ReferenceCSMS
from ocpp_chaos.rules.model import Rule
from ocpp_chaos.simulator.backoff import Backoff
from ocpp_chaos.simulator.charger import ChargerState, VirtualCharger

FAST = {"MeterValueSampleInterval": "1", "HeartbeatInterval": "1"}


async def until(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


class Running:
    """A charger running in the background of a test, stopped at the end."""

    def __init__(self, charger: VirtualCharger) -> None:
        self.charger = charger
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> VirtualCharger:
        self.task = asyncio.ensure_future(self.charger.run(self.stop))
        return self.charger

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        assert self.task is not None
        async with asyncio.timeout(15):
            await self.task


def fast_charger(charger_id: str, url: str, **kw: Any) -> VirtualCharger:
    kw.setdefault("config", FAST)
    charger = VirtualCharger(charger_id, url, call_timeout=5, **kw)
    charger.backoff = Backoff(charger.rng, wait_minimum=0.1, random_range=0.1, maximum=0.5)
    return charger


@pytest.fixture
async def csms() -> AsyncIterator[ReferenceCSMS]:
    async with ReferenceCSMS(port=0, heartbeat_interval=1) as server:
        yield server


async def test_boots_heartbeats_and_reports_status(csms: ReferenceCSMS) -> None:
    async with Running(fast_charger("SIM-1", csms.url)) as charger:
        await until(lambda: charger.state == ChargerState.ACCEPTED)
        await until(lambda: csms.received_actions("SIM-1").count("Heartbeat") >= 2)
    actions = csms.received_actions("SIM-1")
    assert actions[0] == "BootNotification" and actions[1] == "StatusNotification"
    assert charger.heartbeat_interval == 1


async def test_transaction_with_meter_values(csms: ReferenceCSMS) -> None:
    async with Running(fast_charger("SIM-2", csms.url)) as charger:
        await until(lambda: charger.state == ChargerState.ACCEPTED)
        await charger.plug_in(1)
        assert await charger.start_transaction(1, "TAG-1")
        await until(lambda: csms.received_actions("SIM-2").count("MeterValues") >= 2)
        await charger.stop_transaction(1, "Local")
        await charger.unplug(1)
        await until(lambda: "StopTransaction" in csms.received_actions("SIM-2"))
        await until(lambda: len(charger.queue) == 0)
    actions = csms.received_actions("SIM-2")
    assert (
        actions.index("Authorize")
        < actions.index("StartTransaction")
        < actions.index("MeterValues")
        < actions.index("StopTransaction")
    )
    statuses = [
        r.payload["status"]
        for r in csms.received
        if r.charger_id == "SIM-2" and r.action == "StatusNotification"
    ]
    assert statuses == ["Available", "Preparing", "Charging", "Finishing", "Available"]
    (tx,) = csms.transactions.values()
    assert tx.ended and tx.meter_stop >= tx.meter_start
    meters = [r.payload for r in csms.received if r.action == "MeterValues"]
    assert all(m["transactionId"] == tx.transaction_id for m in meters)
    sampled = meters[0]["meterValue"][0]["sampledValue"]
    assert {s["measurand"] for s in sampled} >= {
        "Energy.Active.Import.Register",
        "Power.Active.Import",
        "SoC",
    }
    assert meters[0]["meterValue"][0]["timestamp"].endswith("Z")
    assert len(meters[0]["meterValue"][0]["timestamp"]) == len("2026-11-25T00:00:00.000Z")


async def test_offline_queue_is_replayed_in_order_without_a_new_boot(
    csms: ReferenceCSMS, make_proxy
) -> None:
    proxy = await make_proxy(csms.url)
    async with Running(fast_charger("SIM-3", proxy.url)) as charger:
        await until(lambda: charger.state == ChargerState.ACCEPTED)
        await charger.plug_in(1)
        assert await charger.start_transaction(1, "TAG-1")
        await until(lambda: charger.transactions[1].confirmed)  # the CSMS's id is known
        # the link drops and the charger's reconnects are refused for a while
        proxy.rules.add(
            Rule.model_validate(
                {
                    "name": "refuse",
                    "match": {"charger": "SIM-3"},
                    "fault": {"type": "reject_connect"},
                }
            )
        )
        proxy.rules.fire({"type": "disconnect", "abrupt": True}, "SIM-3")
        await until(lambda: charger.state in (ChargerState.OFFLINE, ChargerState.CONNECTING))
        await asyncio.sleep(1.5)  # meter values pile up while offline
        await charger.stop_transaction(1, "Local")
        queued_while_offline = len(charger.queue)
        assert queued_while_offline >= 2
        assert charger.counters.connect_failures >= 1
        proxy.rules.remove("refuse")
        await until(lambda: charger.state == ChargerState.ACCEPTED, timeout=20)
        await until(lambda: len(charger.queue) == 0, timeout=20)
    actions = csms.received_actions("SIM-3")
    assert actions.count("BootNotification") == 1  # a plain reconnect does not boot
    assert actions[-1] in ("StopTransaction", "StatusNotification", "Heartbeat")
    tx_messages = [
        r
        for r in csms.received
        if r.charger_id == "SIM-3" and r.action in ("MeterValues", "StopTransaction")
    ]
    assert tx_messages[-1].action == "StopTransaction"  # replayed in order: Stop last
    (tx,) = csms.transactions.values()
    assert tx.ended
    assert charger.counters.replayed >= queued_while_offline


# -- a CSMS that sends commands ---------------------------------------------------------


class CommandingCSMS:
    """An ocpp-library central system that records what chargers send and lets tests call
    them. `boot_answers` scripts the BootNotification answers (then Accepted)."""

    def __init__(self, boot_answers: list[str] | None = None) -> None:
        self.boot_answers = list(boot_answers or [])
        self.received: list[tuple[str, str]] = []
        self.sides: dict[str, Any] = {}
        self.port = 0
        self._server: Any = None

    async def __aenter__(self) -> CommandingCSMS:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
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
                csms.received.append((charger_id, "BootNotification"))
                status = csms.boot_answers.pop(0) if csms.boot_answers else "Accepted"
                return call_result.BootNotification(
                    current_time="2026-11-25T00:00:00.000Z", interval=1, status=status
                )

            @on("Heartbeat")
            def on_heartbeat(self, **_: Any) -> Any:
                csms.received.append((charger_id, "Heartbeat"))
                return call_result.Heartbeat(current_time="2026-11-25T00:00:00.000Z")

            @on("StatusNotification")
            def on_status(self, **kw: Any) -> Any:
                csms.received.append((charger_id, f"StatusNotification:{kw['status']}"))
                return call_result.StatusNotification()

            @on("Authorize")
            def on_authorize(self, **_: Any) -> Any:
                csms.received.append((charger_id, "Authorize"))
                return call_result.Authorize(id_tag_info={"status": "Accepted"})

            @on("StartTransaction")
            def on_start(self, **_: Any) -> Any:
                csms.received.append((charger_id, "StartTransaction"))
                return call_result.StartTransaction(
                    transaction_id=next(ids), id_tag_info={"status": "Accepted"}
                )

            @on("StopTransaction")
            def on_stop(self, **_: Any) -> Any:
                csms.received.append((charger_id, "StopTransaction"))
                return call_result.StopTransaction()

            @on("MeterValues")
            def on_meter(self, **_: Any) -> Any:
                csms.received.append((charger_id, "MeterValues"))
                return call_result.MeterValues()

            @on("DiagnosticsStatusNotification")
            def on_diagnostics(self, status: str, **_: Any) -> Any:
                csms.received.append((charger_id, f"Diagnostics:{status}"))
                return call_result.DiagnosticsStatusNotification()

            @on("FirmwareStatusNotification")
            def on_firmware(self, status: str, **_: Any) -> Any:
                csms.received.append((charger_id, f"Firmware:{status}"))
                return call_result.FirmwareStatusNotification()

        side = Side(charger_id, ws)
        self.sides[charger_id] = side
        with contextlib.suppress(ConnectionClosed):
            await side.start()


ids = itertools.count(100)


async def test_pending_and_rejected_boots_are_retried_and_nothing_else_is_sent() -> None:
    async with CommandingCSMS(["Pending", "Rejected"]) as csms:
        async with Running(fast_charger("SIM-P", csms.url)) as charger:
            await until(lambda: charger.state == ChargerState.ACCEPTED, timeout=10)
            await until(lambda: ("SIM-P", "Heartbeat") in csms.received)
    actions = [a for _cid, a in csms.received]
    assert actions[:3] == ["BootNotification"] * 3
    assert charger.counters.boots == 3


async def test_answers_and_acts_on_csms_commands() -> None:
    async with CommandingCSMS() as csms:
        async with Running(fast_charger("SIM-C", csms.url)) as charger:
            await until(lambda: charger.state == ChargerState.ACCEPTED)
            side = csms.sides["SIM-C"]
            conf = await side.call(call.GetConfiguration(key=["HeartbeatInterval", "Nope"]))
            assert conf.configuration_key[0]["key"] == "HeartbeatInterval"
            assert conf.unknown_key == ["Nope"]
            changed = await side.call(call.ChangeConfiguration(key="HeartbeatInterval", value="7"))
            assert changed.status == "Accepted" and charger.heartbeat_interval == 7
            readonly = await side.call(
                call.ChangeConfiguration(key="NumberOfConnectors", value="3")
            )
            assert readonly.status == "Rejected"
            start = await side.call(call.RemoteStartTransaction(id_tag="REMOTE", connector_id=1))
            assert start.status == "Accepted"
            await until(lambda: ("SIM-C", "StartTransaction") in csms.received)
            await until(lambda: 1 in charger.transactions and charger.transactions[1].confirmed)
            tx_id = charger.transactions[1].transaction_id
            stop = await side.call(call.RemoteStopTransaction(transaction_id=tx_id))
            assert stop.status == "Accepted"
            await until(lambda: ("SIM-C", "StopTransaction") in csms.received)
            trigger = await side.call(call.TriggerMessage(requested_message="Heartbeat"))
            assert trigger.status == "Accepted"
            # the EV is still plugged in (Finishing): Inoperative waits until it leaves
            avail = await side.call(call.ChangeAvailability(connector_id=1, type="Inoperative"))
            assert avail.status == "Scheduled"
            await charger.unplug(1)
            await until(lambda: ("SIM-C", "StatusNotification:Unavailable") in csms.received)
            back = await side.call(call.ChangeAvailability(connector_id=1, type="Operative"))
            assert back.status == "Accepted"

            def available_again() -> bool:
                statuses = [
                    a
                    for c, a in csms.received
                    if c == "SIM-C" and a.startswith("StatusNotification:")
                ]
                return statuses[-1] == "StatusNotification:Available"

            await until(available_again)
            clear = await side.call(call.ClearCache())
            assert clear.status == "Accepted"
            unlock = await side.call(call.UnlockConnector(connector_id=1))
            assert unlock.status == "Unlocked"
            data = await side.call(call.DataTransfer(vendor_id="x"))
            assert data.status == "UnknownVendorId"
            from ocpp.exceptions import NotImplementedError as OcppNotImplemented

            with pytest.raises(OcppNotImplemented):
                await side.call(
                    call.GetLog(
                        log={"remote_location": "ftp://127.0.0.1/x"},
                        log_type="DiagnosticsLog",
                        request_id=1,
                    ),
                    suppress=False,
                )
            boots_before = charger.counters.boots
            reset = await side.call(call.Reset(type="Soft"))
            assert reset.status == "Accepted"
            await until(lambda: charger.counters.boots > boots_before, timeout=10)
            await until(lambda: charger.state == ChargerState.ACCEPTED)


async def test_reservations_diagnostics_firmware_and_power_loss() -> None:
    from datetime import UTC, datetime, timedelta

    def at(seconds: float) -> str:
        return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")

    async with CommandingCSMS() as csms:
        charger = fast_charger("SIM-R", csms.url)
        charger.step_delay = 0.05
        async with Running(charger):
            await until(lambda: charger.state == ChargerState.ACCEPTED)
            side = csms.sides["SIM-R"]
            # a reservation admits only its id tag, and ends by itself
            reserved = await side.call(
                call.ReserveNow(connector_id=1, expiry_date=at(60), id_tag="MINE", reservation_id=7)
            )
            assert reserved.status == "Accepted"
            await until(lambda: ("SIM-R", "StatusNotification:Reserved") in csms.received)
            again = await side.call(
                call.ReserveNow(
                    connector_id=1, expiry_date=at(60), id_tag="OTHER", reservation_id=8
                )
            )
            assert again.status == "Occupied"
            await charger.plug_in(1)
            assert not await charger.start_transaction(1, "OTHER")
            assert await charger.start_transaction(1, "MINE")
            await until(lambda: ("SIM-R", "StartTransaction") in csms.received)
            await charger.stop_transaction(1)
            await charger.unplug(1)
            cancel = await side.call(call.CancelReservation(reservation_id=7))
            assert cancel.status == "Rejected"  # consumed by the transaction
            short = await side.call(
                call.ReserveNow(connector_id=1, expiry_date=at(0.3), id_tag="X", reservation_id=9)
            )
            assert short.status == "Accepted"
            await until(lambda: not charger.reservations)  # expired
            # diagnostics and a firmware update run through their status sequences
            diag = await side.call(call.GetDiagnostics(location="ftp://127.0.0.1/x"))
            assert diag.file_name.startswith("diagnostics-SIM-R")
            await until(lambda: ("SIM-R", "Diagnostics:Uploaded") in csms.received)
            boots = charger.counters.boots
            await side.call(
                call.UpdateFirmware(location="http://127.0.0.1/fw", retrieve_date=at(0))
            )
            await until(lambda: ("SIM-R", "Firmware:Installed") in csms.received, timeout=15)
            firmware = [a for c, a in csms.received if c == "SIM-R" and a.startswith("Firmware")]
            assert firmware == [
                "Firmware:Downloading",
                "Firmware:Downloaded",
                "Firmware:Installing",
                "Firmware:Installed",
            ]
            assert charger.counters.boots > boots  # it rebooted to install
            # power loss: the connection is gone, the queue kept, the charger boots again
            await charger.plug_in(1)
            assert await charger.start_transaction(1, "T")
            boots = charger.counters.boots
            charger.power_loss(keep_queue=True)
            await until(
                lambda: charger.counters.boots > boots and charger.state == ChargerState.ACCEPTED,
                timeout=15,
            )


async def test_smart_charging_and_the_local_list() -> None:
    async with CommandingCSMS() as csms:
        charger = fast_charger("SIM-S", csms.url, config={**FAST, "LocalAuthorizeOffline": "true"})
        async with Running(charger):
            await until(lambda: charger.state == ChargerState.ACCEPTED)
            side = csms.sides["SIM-S"]
            await charger.plug_in(1)
            assert await charger.start_transaction(1, "T")
            await until(lambda: charger.transactions[1].confirmed)
            # a TxProfile at 0 W suspends charging, then 2 kW lets it resume, limited
            zero = {
                "charging_profile_id": 1,
                "stack_level": 0,
                "charging_profile_purpose": "TxProfile",
                "charging_profile_kind": "Relative",
                "charging_schedule": {
                    "charging_rate_unit": "W",
                    "charging_schedule_period": [{"start_period": 0, "limit": 0}],
                },
            }
            result = await side.call(
                call.SetChargingProfile(connector_id=1, cs_charging_profiles=zero)
            )
            assert result.status == "Accepted"
            await until(lambda: ("SIM-S", "StatusNotification:SuspendedEVSE") in csms.received)
            two_kw = {
                **zero,
                "charging_schedule": {
                    "charging_rate_unit": "W",
                    "charging_schedule_period": [{"start_period": 0, "limit": 2000}],
                },
            }
            await side.call(call.SetChargingProfile(connector_id=1, cs_charging_profiles=two_kw))

            def last_status() -> str:
                return [
                    a
                    for c, a in csms.received
                    if c == "SIM-S" and a.startswith("StatusNotification:")
                ][-1]

            await until(lambda: last_status() == "StatusNotification:Charging")
            assert charger.power_limit_w(1) == 2000
            composite = await side.call(call.GetCompositeSchedule(connector_id=1, duration=60))
            assert composite.status == "Accepted"
            periods = composite.charging_schedule["charging_schedule_period"]
            assert periods[0]["limit"] == 2000
            cleared = await side.call(call.ClearChargingProfile(id=1))
            assert cleared.status == "Accepted" and charger.power_limit_w(1) is None
            none_left = await side.call(call.GetCompositeSchedule(connector_id=1, duration=60))
            assert none_left.status == "Rejected"
            await charger.stop_transaction(1)
            # the local list: versioned, and used to authorize while offline
            sent = await side.call(
                call.SendLocalList(
                    list_version=3,
                    update_type="Full",
                    local_authorization_list=[
                        {"id_tag": "LOCAL-1", "id_tag_info": {"status": "Accepted"}}
                    ],
                )
            )
            assert sent.status == "Accepted"
            version = await side.call(call.GetLocalListVersion())
            assert version.list_version == 3
            await csms.__aexit__()  # the CSMS goes away: the charger is offline
            await until(lambda: charger.state != ChargerState.ACCEPTED)
            assert await charger.authorize("LOCAL-1") == "Accepted"
            assert await charger.authorize("STRANGER") == "Offline"
