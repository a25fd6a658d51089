"""Every CSMS command, sent by the embedded reference CSMS (`ReferenceCSMS.call`), answered
and acted on by the virtual chargers of both versions: remote start really starts, a
charging profile really lowers the power, reset really reboots, and so on.

(The same commands from a CSMS written in the test with the ocpp library are in
test_charger.py and test_charger201_commands.py.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from ocpp_chaos.csms import ReferenceCSMS
from ocpp_chaos.csms.records import ocpp_timestamp
from ocpp_chaos.simulator.backoff import Backoff
from ocpp_chaos.simulator.charger import ChargerState, VirtualCharger
from ocpp_chaos.simulator.charger201 import VirtualCharger201
from tests.simulator.test_charger import Running, until


def _in(seconds: float) -> str:
    return ocpp_timestamp(datetime.now(UTC) + timedelta(seconds=seconds))


def _power(payload: dict[str, Any]) -> float | None:
    """Power.Active.Import of a MeterValues (1.6) or TransactionEvent (2.0.1) payload."""
    for mv in payload.get("meterValue", []):
        for sv in mv.get("sampledValue", []):
            if sv.get("measurand") == "Power.Active.Import":
                return float(sv["value"])
    return None


def _powers(csms: ReferenceCSMS, charger_id: str) -> list[float]:
    action = {"1.6": "MeterValues", "2.0.1": "TransactionEvent"}
    out = []
    for r in csms.received:
        if r.charger_id == charger_id and r.action in action.values():
            p = _power(r.payload)
            if p is not None and p > 0:
                out.append(p)
    return out


def _count(csms: ReferenceCSMS, charger_id: str, action: str) -> int:
    return csms.received_actions(charger_id).count(action)


async def test_every_16_command_from_the_embedded_csms() -> None:
    cid = "EMB16"
    config = {"MeterValueSampleInterval": "1", "HeartbeatInterval": "60"}
    async with ReferenceCSMS(port=0, heartbeat_interval=60) as csms:
        charger = VirtualCharger(cid, csms.url, call_timeout=5, connectors=2, config=config)
        charger.backoff = Backoff(charger.rng, wait_minimum=0.1, random_range=0.1, maximum=0.5)
        charger.step_delay = 0.05
        async with Running(charger):
            await until(lambda: charger.state == ChargerState.ACCEPTED)
            await until(lambda: cid in csms.connected and csms.version_of(cid) == "1.6")
            ask = csms.call

            # remote start really starts a transaction
            answer = await ask(cid, call16.RemoteStartTransaction(id_tag="RT-1", connector_id=1))
            assert answer.status == "Accepted"
            await until(lambda: any(t.id_tag == "RT-1" for t in csms.transactions.values()))
            tx_id = next(k for k, t in csms.transactions.items() if t.id_tag == "RT-1")
            await until(lambda: len(_powers(csms, cid)) >= 1)

            # a charging profile really lowers the power; clearing it restores it
            profile = {
                "charging_profile_id": 11,
                "stack_level": 1,
                "charging_profile_purpose": "TxDefaultProfile",
                "charging_profile_kind": "Relative",
                "charging_schedule": {
                    "charging_rate_unit": "W",
                    "charging_schedule_period": [{"start_period": 0, "limit": 1000}],
                },
            }
            answer = await ask(
                cid, call16.SetChargingProfile(connector_id=1, cs_charging_profiles=profile)
            )
            assert answer.status == "Accepted"
            seen = len(_powers(csms, cid))
            await until(lambda: len(_powers(csms, cid)) > seen + 1, timeout=20)
            assert _powers(csms, cid)[-1] <= 1000.0
            composite = await ask(
                cid,
                call16.GetCompositeSchedule(connector_id=1, duration=60, charging_rate_unit="W"),
            )
            assert composite.status == "Accepted"
            assert composite.charging_schedule["charging_schedule_period"][0]["limit"] == 1000
            answer = await ask(cid, call16.ClearChargingProfile(id=11))
            assert answer.status == "Accepted"
            await until(lambda: _powers(csms, cid)[-1] > 1000.0, timeout=20)

            # remote stop really stops it
            answer = await ask(cid, call16.RemoteStopTransaction(transaction_id=tx_id))
            assert answer.status == "Accepted"
            await until(lambda: csms.transactions[tx_id].ended)
            assert csms.transactions[tx_id].stop_reason == "Remote"

            # configuration: a real key store
            answer = await ask(cid, call16.ChangeConfiguration(key="HeartbeatInterval", value="45"))
            assert answer.status == "Accepted"
            got = await ask(cid, call16.GetConfiguration(key=["HeartbeatInterval", "Nope"]))
            assert got.configuration_key[0]["value"] == "45"
            assert got.unknown_key == ["Nope"]
            answer = await ask(cid, call16.ChangeConfiguration(key="NumberOfConnectors", value="9"))
            assert answer.status == "Rejected"  # read-only

            # availability: connector 2 Inoperative → Unavailable, and back
            answer = await ask(cid, call16.ChangeAvailability(connector_id=2, type="Inoperative"))
            assert answer.status == "Accepted"
            await until(lambda: charger.connectors[2].status.value == "Unavailable")
            await ask(cid, call16.ChangeAvailability(connector_id=2, type="Operative"))
            await until(lambda: charger.connectors[2].status.value == "Available")

            # reservation: Reserved, then cancelled
            answer = await ask(
                cid,
                call16.ReserveNow(
                    connector_id=2, expiry_date=_in(600), id_tag="RES-1", reservation_id=4
                ),
            )
            assert answer.status == "Accepted"
            await until(lambda: charger.connectors[2].status.value == "Reserved")
            answer = await ask(cid, call16.CancelReservation(reservation_id=4))
            assert answer.status == "Accepted"
            await until(lambda: charger.connectors[2].status.value == "Available")

            # local list used for authorization
            entries = [{"id_tag": "LOCAL-1", "id_tag_info": {"status": "Accepted"}}]
            answer = await ask(
                cid,
                call16.SendLocalList(
                    list_version=3, update_type="Full", local_authorization_list=entries
                ),
            )
            assert answer.status == "Accepted"
            version = await ask(cid, call16.GetLocalListVersion())
            assert version.list_version == 3
            assert charger.local_list.lookup("LOCAL-1", datetime.now(UTC)) == "Accepted"

            # trigger, unlock, data transfer, clear cache
            before = _count(csms, cid, "Heartbeat")
            answer = await ask(cid, call16.TriggerMessage(requested_message="Heartbeat"))
            assert answer.status == "Accepted"
            await until(lambda: _count(csms, cid, "Heartbeat") > before)
            answer = await ask(cid, call16.UnlockConnector(connector_id=1))
            assert answer.status == "Unlocked"
            answer = await ask(cid, call16.DataTransfer(vendor_id="nobody"))
            assert answer.status == "UnknownVendorId"
            answer = await ask(cid, call16.ClearCache())
            assert answer.status == "Accepted"

            # diagnostics and firmware: the real status sequences; the update reboots
            answer = await ask(cid, call16.GetDiagnostics(location="ftp://127.0.0.1/d"))
            assert answer.file_name
            await until(lambda: _count(csms, cid, "DiagnosticsStatusNotification") == 2)
            await ask(
                cid, call16.UpdateFirmware(location="http://127.0.0.1/fw", retrieve_date=_in(0))
            )
            await until(lambda: _count(csms, cid, "FirmwareStatusNotification") == 4, timeout=20)

            # reset really reboots
            boots = _count(csms, cid, "BootNotification")
            answer = await ask(cid, call16.Reset(type="Soft"))
            assert answer.status == "Accepted"
            await until(lambda: _count(csms, cid, "BootNotification") > boots, timeout=20)

    firmware = [
        r.payload["status"]
        for r in csms.received
        if r.charger_id == cid and r.action == "FirmwareStatusNotification"
    ]
    assert firmware == ["Downloading", "Downloaded", "Installing", "Installed"]
    diagnostics = [
        r.payload["status"]
        for r in csms.received
        if r.charger_id == cid and r.action == "DiagnosticsStatusNotification"
    ]
    assert diagnostics == ["Uploading", "Uploaded"]


def _var(component: str, variable: str, value: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"component": {"name": component}, "variable": {"name": variable}}
    if value is not None:
        item["attribute_value"] = value
    return item


async def test_every_201_command_from_the_embedded_csms() -> None:
    cid = "EMB201"
    config = {"SampledDataCtrlr.TxUpdatedInterval": "1", "OCPPCommCtrlr.HeartbeatInterval": "60"}
    async with ReferenceCSMS(port=0, heartbeat_interval=60) as csms:
        charger = VirtualCharger201(cid, csms.url, call_timeout=5, connectors=2, config=config)
        charger.backoff = Backoff(charger.rng, wait_minimum=0.1, random_range=0.1, maximum=0.5)
        charger.step_delay = 0.05
        async with Running(charger):
            await until(lambda: charger.state == ChargerState.ACCEPTED)
            await until(lambda: csms.version_of(cid) == "2.0.1")
            ask = csms.call
            token = {"id_token": "RT-2", "type": "ISO14443"}

            answer = await ask(
                cid, call201.RequestStartTransaction(id_token=token, remote_start_id=1, evse_id=1)
            )
            assert answer.status == "Accepted"
            await until(lambda: 1 in charger.transactions)
            tx_id = str(charger.transactions[1].transaction_id)
            await until(lambda: tx_id in csms.transactions)
            await until(lambda: len(_powers(csms, cid)) >= 1)

            profile = {
                "id": 21,
                "stack_level": 1,
                "charging_profile_purpose": "TxProfile",
                "charging_profile_kind": "Relative",
                "transaction_id": tx_id,
                "charging_schedule": [
                    {
                        "id": 1,
                        "charging_rate_unit": "W",
                        "charging_schedule_period": [{"start_period": 0, "limit": 1200}],
                    }
                ],
            }
            answer = await ask(cid, call201.SetChargingProfile(evse_id=1, charging_profile=profile))
            assert answer.status == "Accepted"
            seen = len(_powers(csms, cid))
            await until(lambda: len(_powers(csms, cid)) > seen + 1, timeout=20)
            assert _powers(csms, cid)[-1] <= 1200.0
            composite = await ask(
                cid, call201.GetCompositeSchedule(duration=60, evse_id=1, charging_rate_unit="W")
            )
            assert composite.status == "Accepted"
            assert composite.schedule["charging_schedule_period"][0]["limit"] == 1200
            answer = await ask(cid, call201.ClearChargingProfile(charging_profile_id=21))
            assert answer.status == "Accepted"
            await until(lambda: _powers(csms, cid)[-1] > 1200.0, timeout=20)

            answer = await ask(cid, call201.RequestStopTransaction(transaction_id=tx_id))
            assert answer.status == "Accepted"
            await until(lambda: csms.transactions[tx_id].ended)
            assert csms.transactions[tx_id].stop_reason == "Remote"

            # device model
            answer = await ask(
                cid,
                call201.SetVariables(
                    set_variable_data=[_var("OCPPCommCtrlr", "HeartbeatInterval", "45")]
                ),
            )
            assert answer.set_variable_result[0]["attribute_status"] == "Accepted"
            got = await ask(
                cid,
                call201.GetVariables(
                    get_variable_data=[_var("OCPPCommCtrlr", "HeartbeatInterval")]
                ),
            )
            assert got.get_variable_result[0]["attribute_value"] == "45"
            answer = await ask(
                cid, call201.GetBaseReport(request_id=9, report_base="ConfigurationInventory")
            )
            assert answer.status == "Accepted"
            await until(lambda: _count(csms, cid, "NotifyReport") >= 1)

            answer = await ask(
                cid,
                call201.ChangeAvailability(operational_status="Inoperative", evse={"id": 2}),
            )
            assert answer.status == "Accepted"
            await until(lambda: charger.connectors[2].status.value == "Unavailable")
            await ask(
                cid, call201.ChangeAvailability(operational_status="Operative", evse={"id": 2})
            )
            await until(lambda: charger.connectors[2].status.value == "Available")

            answer = await ask(
                cid,
                call201.ReserveNow(
                    id=6,
                    expiry_date_time=_in(1),
                    id_token={"id_token": "RES-2", "type": "ISO14443"},
                    evse_id=2,
                ),
            )
            assert answer.status == "Accepted"
            await until(lambda: charger.connectors[2].status.value == "Reserved")
            await until(lambda: _count(csms, cid, "ReservationStatusUpdate") == 1, timeout=10)
            await until(lambda: charger.connectors[2].status.value == "Available")
            answer = await ask(cid, call201.CancelReservation(reservation_id=6))
            assert answer.status == "Rejected"  # already expired

            entries = [
                {
                    "id_token": {"id_token": "LOCAL-2", "type": "ISO14443"},
                    "id_token_info": {"status": "Accepted"},
                }
            ]
            answer = await ask(
                cid,
                call201.SendLocalList(
                    version_number=5, update_type="Full", local_authorization_list=entries
                ),
            )
            assert answer.status == "Accepted"
            version = await ask(cid, call201.GetLocalListVersion())
            assert version.version_number == 5

            before = _count(csms, cid, "Heartbeat")
            answer = await ask(cid, call201.TriggerMessage(requested_message="Heartbeat"))
            assert answer.status == "Accepted"
            await until(lambda: _count(csms, cid, "Heartbeat") > before)
            answer = await ask(cid, call201.UnlockConnector(evse_id=1, connector_id=1))
            assert answer.status == "Unlocked"
            answer = await ask(cid, call201.DataTransfer(vendor_id="nobody"))
            assert answer.status == "UnknownVendorId"
            answer = await ask(cid, call201.ClearCache())
            assert answer.status == "Accepted"

            answer = await ask(
                cid,
                call201.GetLog(
                    log={"remote_location": "ftp://127.0.0.1/l"},
                    log_type="DiagnosticsLog",
                    request_id=8,
                ),
            )
            assert answer.status == "Accepted"
            await until(lambda: _count(csms, cid, "LogStatusNotification") == 2)
            boots = _count(csms, cid, "BootNotification")
            answer = await ask(
                cid,
                call201.UpdateFirmware(
                    request_id=7,
                    firmware={"location": "http://127.0.0.1/fw", "retrieve_date_time": _in(0)},
                ),
            )
            assert answer.status == "Accepted"
            await until(
                lambda: any(
                    r.action == "FirmwareStatusNotification" and r.payload["status"] == "Installed"
                    for r in csms.received
                ),
                timeout=20,
            )
            assert _count(csms, cid, "BootNotification") == boots + 1

            boots = _count(csms, cid, "BootNotification")
            answer = await ask(cid, call201.Reset(type="Immediate"))
            assert answer.status == "Accepted"
            await until(lambda: _count(csms, cid, "BootNotification") > boots, timeout=20)

    reasons = [
        r.payload["reason"]
        for r in csms.received
        if r.charger_id == cid and r.action == "BootNotification"
    ]
    assert reasons == ["PowerUp", "FirmwareUpdate", "RemoteReset"]
    logs = [
        r.payload["status"]
        for r in csms.received
        if r.charger_id == cid and r.action == "LogStatusNotification"
    ]
    assert logs == ["Uploading", "Uploaded"]


async def test_a_command_to_an_unknown_charger_is_a_key_error() -> None:
    async with ReferenceCSMS(port=0) as csms:
        with pytest.raises(KeyError):
            await csms.call("NOBODY", call16.ClearCache())
