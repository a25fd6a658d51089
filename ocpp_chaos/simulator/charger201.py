"""A virtual OCPP 2.0.1 charger: the same firmware life as the 1.6 one, 2.0.1 messages.

Differences from 1.6 that matter to a CSMS:
- transactions are TransactionEvent Started / Updated / Ended with a seqNo per
  transaction (from 0), a triggerReason, the charger's own transaction id, and
  `offline: true` on events queued while the link was down (E12);
- configuration is the device model (GetVariables / SetVariables, GetBaseReport
  answered with NotifyReport), in `device_model.py`;
- connectors report Available / Occupied / Reserved / Unavailable / Faulted, per
  EVSE and connector.
"""

from __future__ import annotations

import uuid
from typing import Any

from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call, call_result
from websockets.asyncio.client import ClientConnection

from ocpp_chaos.csms.records import ocpp_timestamp
from ocpp_chaos.ocpp_routing import after, on
from ocpp_chaos.simulator.charger import Reservation, Transaction, VirtualCharger
from ocpp_chaos.simulator.connector import Connector, status_201
from ocpp_chaos.simulator.device_model import DeviceModel, standard_specs
from ocpp_chaos.simulator.ev import VirtualEV, sample

__all__ = ["VirtualCharger201"]

# 1.6 stop reasons (what the shared firmware says) → 2.0.1 stoppedReason and triggerReason.
_ENDED = {
    "Local": ("Local", "StopAuthorized"),
    "Remote": ("Remote", "RemoteStop"),
    "EVDisconnected": ("EVDisconnected", "EVCommunicationLost"),
    "HardReset": ("ImmediateReset", "ResetCommand"),
    "SoftReset": ("ImmediateReset", "ResetCommand"),
    "DeAuthorized": ("DeAuthorized", "Deauthorized"),
    "UnlockCommand": ("Other", "UnlockCommand"),
}
_CHARGING_STATE = {
    "Charging": "Charging",
    "SuspendedEV": "SuspendedEV",
    "SuspendedEVSE": "SuspendedEVSE",
}


class _CP201(ChargePoint201):  # type: ignore[misc]
    """The ocpp library's 2.0.1 charging station, with this firmware's handlers."""

    def __init__(self, charger: VirtualCharger201, connection: ClientConnection) -> None:
        super().__init__(charger.charger_id, connection, response_timeout=charger.call_timeout)
        self.charger = charger

    @on("RequestStartTransaction")
    def on_request_start(
        self, id_token: dict[str, Any], remote_start_id: int, evse_id: int | None = None, **_: Any
    ) -> Any:
        ok = self.charger.can_start(evse_id)
        return call_result.RequestStartTransaction(status="Accepted" if ok else "Rejected")

    @after("RequestStartTransaction")
    def after_request_start(
        self, id_token: dict[str, Any], remote_start_id: int, evse_id: int | None = None, **_: Any
    ) -> None:
        if self.charger.can_start(evse_id):
            self.charger.background(self.charger.remote_start(id_token["id_token"], evse_id))

    @on("RequestStopTransaction")
    def on_request_stop(self, transaction_id: str, **_: Any) -> Any:
        found = self.charger.connector_of(transaction_id) is not None
        return call_result.RequestStopTransaction(status="Accepted" if found else "Rejected")

    @after("RequestStopTransaction")
    def after_request_stop(self, transaction_id: str, **_: Any) -> None:
        n = self.charger.connector_of(transaction_id)
        if n is not None:
            self.charger.background(self.charger.stop_transaction(n, "Remote"))

    @on("Reset")
    def on_reset(self, type: str, **_: Any) -> Any:
        return call_result.Reset(status="Accepted")

    @after("Reset")
    def after_reset(self, type: str, **_: Any) -> None:
        self.charger.background(self.charger.reset("Hard" if type == "Immediate" else "Soft"))

    @on("ChangeAvailability")
    def on_change_availability(
        self, operational_status: str, evse: dict[str, Any] | None = None, **_: Any
    ) -> Any:
        connector = 0 if not evse else int(evse.get("connector_id") or evse["id"])
        kind = "Inoperative" if operational_status == "Inoperative" else "Operative"
        return call_result.ChangeAvailability(
            status=self.charger.change_availability(connector, kind)
        )

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        return call_result.GetVariables(
            get_variable_result=self.charger.device.get_variables(get_variable_data)
        )

    @on("SetVariables")
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        results = self.charger.device.set_variables(set_variable_data)
        self.charger.reread_settings()
        return call_result.SetVariables(set_variable_result=results)

    @on("GetBaseReport")
    def on_get_base_report(self, request_id: int, report_base: str, **_: Any) -> Any:
        return call_result.GetBaseReport(status="Accepted")

    @after("GetBaseReport")
    def after_get_base_report(self, request_id: int, report_base: str, **_: Any) -> None:
        self.charger.background(self.charger.notify_report(request_id, report_base))

    @on("TriggerMessage")
    def on_trigger_message(
        self, requested_message: str, evse: dict[str, Any] | None = None, **_: Any
    ) -> Any:
        supported = {"BootNotification", "Heartbeat", "StatusNotification"}
        status = "Accepted" if requested_message in supported else "NotImplemented"
        return call_result.TriggerMessage(status=status)

    @after("TriggerMessage")
    def after_trigger_message(
        self, requested_message: str, evse: dict[str, Any] | None = None, **_: Any
    ) -> None:
        self.charger.background(self.charger.triggered(requested_message, None))

    @on("UnlockConnector")
    def on_unlock_connector(self, evse_id: int, connector_id: int, **_: Any) -> Any:
        ok = connector_id in self.charger.connectors
        return call_result.UnlockConnector(status="Unlocked" if ok else "UnknownConnector")

    @on("ClearCache")
    def on_clear_cache(self, **_: Any) -> Any:
        self.charger.auth_cache.clear()
        return call_result.ClearCache(status="Accepted")

    @on("DataTransfer")
    def on_data_transfer(self, vendor_id: str, **_: Any) -> Any:
        return call_result.DataTransfer(status="UnknownVendorId")


class VirtualCharger201(VirtualCharger):
    """One virtual OCPP 2.0.1 charging station (one connector per EVSE)."""

    SUBPROTOCOL = "ocpp2.0.1"
    calls: Any = call

    def __init__(self, charger_id: str, url: str, **kwargs: Any) -> None:
        config = dict(kwargs.pop("config", None) or {})
        kwargs.setdefault("model", "VirtualCharger201")
        super().__init__(charger_id, url, **kwargs)
        self.device = DeviceModel(
            standard_specs(evses=len(self.connectors), connectors_per_evse=1), config
        )
        self.reread_settings()

    def reread_settings(self) -> None:
        """Take what the firmware acts on from the device model (after SetVariables)."""
        self.heartbeat_interval = float(self.device.int("OCPPCommCtrlr", "HeartbeatInterval"))
        self.queue.set_limits(
            max_attempts=self.device.int(
                "OCPPCommCtrlr", "MessageAttempts", variable_instance="TransactionEvent"
            ),
            retry_interval=float(
                self.device.int(
                    "OCPPCommCtrlr", "MessageAttemptInterval", variable_instance="TransactionEvent"
                )
            ),
        )

    async def notify_report(self, request_id: int, report_base: str) -> None:
        """GetBaseReport's answer: NotifyReport messages, `tbc` on all but the last."""
        items = self.device.report(report_base)  # type: ignore[arg-type]
        chunks = self.device.chunks(items, 50) or [[]]
        for seq, chunk in enumerate(chunks):
            await self.send(
                call.NotifyReport(
                    request_id=request_id,
                    generated_at=ocpp_timestamp(),
                    seq_no=seq,
                    report_data=chunk or None,
                    tbc=seq < len(chunks) - 1,
                )
            )

    async def triggered(self, message: str, connector_id: int | None) -> None:
        if message == "Heartbeat":
            await self.send(call.Heartbeat())
        elif message == "StatusNotification":
            for connector in self.connectors.values():
                await self._status(connector)
        elif message == "BootNotification":
            await self.send(self._boot_request())

    # -- the hooks ---------------------------------------------------------------

    def _make_cp(self, ws: ClientConnection) -> Any:
        return _CP201(self, ws)

    def _boot_request(self) -> Any:
        return call.BootNotification(
            charging_station={
                "model": self.model,
                "vendor_name": self.vendor,
                "serial_number": self.charger_id,
                "firmware_version": self.firmware_version,
            },
            reason="PowerUp",
        )

    def _set_heartbeat_interval(self, interval: float) -> None:
        self.device.set_internal("OCPPCommCtrlr", "HeartbeatInterval", str(max(1, round(interval))))
        self.heartbeat_interval = interval

    def _status_request(self, connector: Connector) -> Any:
        return call.StatusNotification(
            timestamp=ocpp_timestamp(),
            connector_status=status_201(connector.status),
            evse_id=connector.connector_id,
            connector_id=1,
        )

    def _authorize_request(self, id_tag: str) -> Any:
        return call.Authorize(id_token={"id_token": id_tag, "type": "ISO14443"})

    def _id_info(self, response: Any) -> dict[str, Any]:
        return dict(response.id_token_info or {})

    def _sample_interval(self) -> int:
        return self.device.int("SampledDataCtrlr", "TxUpdatedInterval")

    def _new_transaction_id(self) -> int | str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _remote_authorize(self) -> bool:
        return self.device.bool("AuthCtrlr", "AuthorizeRemoteStart")

    def _answered(self, action: str, payload: dict[str, Any], response: Any) -> None:
        info = getattr(response, "id_token_info", None) or {}
        status = info.get("status")
        if payload.get("event_type") == "Started" and status not in (None, "Accepted"):
            n = int(payload["evse"]["id"])
            self.background(self.stop_transaction(n, "DeAuthorized"))

    def _event(
        self,
        tx: Transaction,
        event_type: str,
        trigger: str,
        context: str,
        power_w: float,
        **extra: Any,
    ) -> None:
        connector = self.connectors[tx.connector_id]
        info: dict[str, Any] = {"transaction_id": str(tx.transaction_id)}
        state = _CHARGING_STATE.get(connector.status.value)
        if state is not None and event_type != "Ended":
            info["charging_state"] = state
        info.update(extra.pop("info", {}))
        payload: dict[str, Any] = {
            "event_type": event_type,
            "timestamp": ocpp_timestamp(),
            "trigger_reason": trigger,
            "seq_no": tx.seq_no,
            "transaction_info": info,
            "meter_value": [self._meter_value_201(tx.connector_id, power_w, context)],
            **extra,
        }
        if not self._online.is_set():
            payload["offline"] = True  # E12: queued while the link was down
        tx.seq_no += 1
        self._enqueue("TransactionEvent", payload)

    def _enqueue_started(self, tx: Transaction, reservation: Reservation | None) -> None:
        extra: dict[str, Any] = {
            "evse": {"id": tx.connector_id, "connector_id": 1},
            "id_token": {"id_token": tx.id_tag, "type": "ISO14443"},
        }
        if reservation is not None:
            extra["reservation_id"] = reservation.reservation_id
        trigger = "RemoteStart" if tx.remote else "Authorized"
        self._event(tx, "Started", trigger, "Transaction.Begin", 0.0, **extra)

    def _enqueue_updated(self, tx: Transaction, power_w: float) -> None:
        self._event(tx, "Updated", "MeterValuePeriodic", "Sample.Periodic", power_w)

    def _enqueue_ended(self, tx: Transaction, reason: str) -> None:
        stopped, trigger = _ENDED.get(reason, ("Other", "AbnormalCondition"))
        self._event(tx, "Ended", trigger, "Transaction.End", 0.0, info={"stopped_reason": stopped})

    def _meter_value_201(self, connector_id: int, power_w: float, context: str) -> dict[str, Any]:
        ev = self.evs.get(connector_id) or VirtualEV(soc=0.0)
        s = sample(ev, self.meters[connector_id], power_w)
        values = [
            ("Energy.Active.Import.Register", round(s.energy_wh, 1), "Wh"),
            ("Power.Active.Import", round(s.power_w, 1), "W"),
            ("Current.Import", round(s.current_a, 2), "A"),
            ("Voltage", round(s.voltage_v, 1), "V"),
            ("SoC", round(s.soc_percent), "Percent"),
        ]
        return {
            "timestamp": ocpp_timestamp(),
            "sampled_value": [
                {
                    "value": value,
                    "measurand": measurand,
                    "context": context,
                    "unit_of_measure": {"unit": unit},
                }
                for measurand, value, unit in values
            ],
        }
