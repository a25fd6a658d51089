"""A virtual OCPP 2.0.1 charger: the same firmware life as the 1.6 one, 2.0.1 messages.

Differences from 1.6 that matter to a CSMS:
- transactions are TransactionEvent Started / Updated / Ended with a seqNo per
  transaction (from 0), a triggerReason, the charger's own transaction id, and
  `offline: true` on events queued while the link was down (E12);
- configuration is the device model (GetVariables / SetVariables, GetBaseReport
  answered with NotifyReport), in `device_model.py`;
- connectors report Available / Occupied / Reserved / Unavailable / Faulted, per
  EVSE and connector.

The CSMS commands, each acted on (use cases of OCPP 2.0.1 Part 2):
- SetChargingProfile / ClearChargingProfile / GetCompositeSchedule (K01, K10, K08): the
  profiles go to the shared `ProfileStore` in its 2.0.1 format, and its limits slow the EV
  down; SmartChargingCtrlr.Enabled false rejects them.
- SendLocalList / GetLocalListVersion (D01, D02) fill the shared `LocalAuthList`;
  LocalAuthListCtrlr.Enabled decides whether the list exists.
- Authorization (C01, C10, C12-C15) follows AuthCtrlr (Enabled, LocalPreAuthorize,
  LocalAuthorizeOffline, OfflineTxForUnknownIdEnabled), AuthCacheCtrlr.Enabled and
  LocalAuthListCtrlr.Enabled rather than the 1.6 keys.
- ReserveNow / CancelReservation (H01, H02), with ReservationStatusUpdate(Expired) when
  a reservation runs out; ReservationCtrlr.Enabled false rejects them.
- UpdateFirmware (L01/L02) and GetLog (N01) run through their status notifications; a new
  request cancels the running one (AcceptedCanceled).
- Reset (B11, B12): Immediate ends transactions and reboots, OnIdle waits for the last
  transaction (Scheduled); the next BootNotification gives the reason.
- TriggerMessage (F06) for BootNotification, Heartbeat, StatusNotification, MeterValues,
  TransactionEvent, FirmwareStatusNotification and LogStatusNotification.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call, call_result
from websockets.asyncio.client import ClientConnection

from ocpp_chaos.ocpp_routing import after, init_charge_point, on
from ocpp_chaos.simulator.authlist import STATUSES
from ocpp_chaos.simulator.charger import Reservation, Transaction, VirtualCharger
from ocpp_chaos.simulator.connector import Connector, ConnectorStatus, status_201
from ocpp_chaos.simulator.device_model import DeviceModel
from ocpp_chaos.simulator.ev import VirtualEV, sample
from ocpp_chaos.simulator.profiles import parse_datetime

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
# TriggerMessage requests this firmware answers (F06); the others are NotImplemented.
_TRIGGERS = frozenset(
    {
        "BootNotification",
        "Heartbeat",
        "StatusNotification",
        "MeterValues",
        "TransactionEvent",
        "FirmwareStatusNotification",
        "LogStatusNotification",
    }
)
# Connector types a ReserveNow may name without saying which (they match any connector).
_ANY_CONNECTOR = frozenset({"Unknown", "Undetermined"})


def _id_tag_info(info: Mapping[str, Any]) -> dict[str, Any]:
    """A 2.0.1 IdTokenInfo as the 1.6 IdTagInfo the shared list and cache keep.

    2.0.1 statuses 1.6 does not have (NoCredit, NotAllowedTypeEVSE, NotAtThisLocation,
    NotAtThisTime, Unknown) are kept as Invalid: none of them authorizes.
    """
    status = info.get("status")
    converted: dict[str, Any] = {"status": status if status in STATUSES else "Invalid"}
    if info.get("cache_expiry_date_time") is not None:
        converted["expiry_date"] = info["cache_expiry_date_time"]
    group = info.get("group_id_token")
    if isinstance(group, Mapping) and isinstance(group.get("id_token"), str):
        converted["parent_id_tag"] = group["id_token"]
    return converted


def _seconds_until(timestamp: str, now: datetime) -> float:
    """Seconds from `now` until an OCPP date-time (negative when it is past)."""
    return (parse_datetime(timestamp) - now).total_seconds()


def _tx_id(tx: Transaction | None) -> str | None:
    """The 2.0.1 transaction id of a running transaction (None: none, or it is ending)."""
    return None if tx is None or tx.stopping else str(tx.transaction_id)


class _CP201(ChargePoint201):  # type: ignore[misc]
    """The ocpp library's 2.0.1 charging station, with this firmware's handlers."""

    def __init__(self, charger: VirtualCharger201, connection: ClientConnection) -> None:
        # ChargePoint.__init__'s attributes, with routes cached per class (ocpp_routing).
        init_charge_point(self, charger.charger_id, connection, charger.call_timeout)
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
    def on_reset(self, type: str, evse_id: int | None = None, **_: Any) -> Any:
        return call_result.Reset(status=self.charger.reset_status(type, evse_id))

    @after("Reset")
    def after_reset(self, type: str, evse_id: int | None = None, **_: Any) -> None:
        if self.charger.reset_status(type, evse_id) != "Rejected":
            self.charger.background(self.charger.reset_201(type, evse_id))

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
        evse_id = None if not evse else evse.get("id")
        return call_result.TriggerMessage(
            status=self.charger.trigger_status(requested_message, evse_id)
        )

    @after("TriggerMessage")
    def after_trigger_message(
        self, requested_message: str, evse: dict[str, Any] | None = None, **_: Any
    ) -> None:
        evse_id = None if not evse else evse.get("id")
        if self.charger.trigger_status(requested_message, evse_id) == "Accepted":
            self.charger.background(self.charger.triggered(requested_message, evse_id))

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

    # -- smart charging (K01, K08, K10) ---------------------------------------------

    @on("SetChargingProfile")
    def on_set_charging_profile(
        self, evse_id: int, charging_profile: dict[str, Any], **_: Any
    ) -> Any:
        return call_result.SetChargingProfile(
            status=self.charger.set_charging_profile(evse_id, charging_profile)
        )

    @on("ClearChargingProfile")
    def on_clear_charging_profile(
        self,
        charging_profile_id: int | None = None,
        charging_profile_criteria: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        return call_result.ClearChargingProfile(
            status=self.charger.clear_charging_profile(
                charging_profile_id, charging_profile_criteria
            )
        )

    # 2.0.1's schema has no multipleOf on limits (1.6's Decimal trouble does not arise):
    # the answer is checked like any other.
    @on("GetCompositeSchedule")
    def on_get_composite_schedule(
        self, duration: int, evse_id: int, charging_rate_unit: str | None = None, **_: Any
    ) -> Any:
        schedule = self.charger.composite_schedule(evse_id, duration, charging_rate_unit)
        if schedule is None:
            return call_result.GetCompositeSchedule(status="Rejected")
        return call_result.GetCompositeSchedule(status="Accepted", schedule=schedule)

    # -- the local authorization list (D01, D02) ------------------------------------

    @on("SendLocalList")
    def on_send_local_list(
        self,
        version_number: int,
        update_type: str,
        local_authorization_list: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> Any:
        return call_result.SendLocalList(
            status=self.charger.send_local_list(
                version_number, update_type, local_authorization_list
            )
        )

    @on("GetLocalListVersion")
    def on_get_local_list_version(self, **_: Any) -> Any:
        return call_result.GetLocalListVersion(version_number=self.charger.local_list_version())

    # -- reservations (H01, H02) ----------------------------------------------------

    @on("ReserveNow")
    def on_reserve_now(
        self,
        id: int,
        expiry_date_time: str,
        id_token: dict[str, Any],
        evse_id: int | None = None,
        connector_type: str | None = None,
        **_: Any,
    ) -> Any:
        status = self.charger.reserve_now(id, expiry_date_time, id_token, evse_id, connector_type)
        return call_result.ReserveNow(status=status)

    @on("CancelReservation")
    def on_cancel_reservation(self, reservation_id: int, **_: Any) -> Any:
        ok = self.charger.cancel_reservation(reservation_id)
        return call_result.CancelReservation(status="Accepted" if ok else "Rejected")

    # -- firmware and logs (L01, N01) -----------------------------------------------

    @on("UpdateFirmware")
    def on_update_firmware(self, request_id: int, firmware: dict[str, Any], **_: Any) -> Any:
        busy = self.charger.firmware_update_running()
        return call_result.UpdateFirmware(status="AcceptedCanceled" if busy else "Accepted")

    @after("UpdateFirmware")
    def after_update_firmware(self, request_id: int, firmware: dict[str, Any], **_: Any) -> None:
        self.charger.start_firmware_update(request_id, firmware)

    @on("GetLog")
    def on_get_log(self, log: dict[str, Any], log_type: str, request_id: int, **_: Any) -> Any:
        busy = self.charger.log_upload_running()
        name = f"{log_type}-{self.charger.charger_id}-{int(time.time())}.log"
        return call_result.GetLog(status="AcceptedCanceled" if busy else "Accepted", filename=name)

    @after("GetLog")
    def after_get_log(self, log: dict[str, Any], log_type: str, request_id: int, **_: Any) -> None:
        self.charger.start_log_upload(request_id)


class VirtualCharger201(VirtualCharger):
    """One virtual OCPP 2.0.1 charging station (one connector per EVSE)."""

    SUBPROTOCOL = "ocpp2.0.1"
    calls: Any = call

    def __init__(self, charger_id: str, url: str, **kwargs: Any) -> None:
        config = dict(kwargs.pop("config", None) or {})
        kwargs.setdefault("model", "VirtualCharger201")
        super().__init__(charger_id, url, **kwargs)
        self.device = DeviceModel.standard(
            evses=len(self.connectors), connectors_per_evse=1, overrides=config
        )
        self.boot_reason = "PowerUp"
        """What the next BootNotification says: PowerUp, RemoteReset or FirmwareUpdate."""
        self.firmware_status: tuple[str, int | None] = ("Idle", None)
        """The last FirmwareStatusNotification status and its request id (Idle: none)."""
        self.log_status: tuple[str, int | None] = ("Idle", None)
        """The last LogStatusNotification status and its request id (Idle: none)."""
        self._firmware_task: asyncio.Task[None] | None = None
        self._log_task: asyncio.Task[None] | None = None
        self._reset_scheduled: tuple[int | None] | None = None
        """An OnIdle reset waiting for transactions to end: (evse id, or None: the station)."""
        self._tx_ended = asyncio.Event()
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
        self.profiles.supported = self.device.bool("SmartChargingCtrlr", "Enabled")
        self.profiles.max_stack_level = self.device.int("SmartChargingCtrlr", "ProfileStackLevel")
        self.profiles.max_periods = self.device.int("SmartChargingCtrlr", "PeriodsPerSchedule")
        self.profiles.max_profiles = self._max_limit(
            "SmartChargingCtrlr", "Entries", self.profiles.max_profiles, "ChargingProfiles"
        )
        self.local_list.enabled = self.device.bool("LocalAuthListCtrlr", "Enabled")
        # B10: reconnection back-off from the RetryBackOff* variables
        self.backoff.wait_minimum = float(
            self.device.int("OCPPCommCtrlr", "RetryBackOffWaitMinimum")
        )
        self.backoff.random_range = float(
            self.device.int("OCPPCommCtrlr", "RetryBackOffRandomRange")
        )
        self.backoff.repeat_times = self.device.int("OCPPCommCtrlr", "RetryBackOffRepeatTimes")
        self.local_list.max_entries = self._max_limit(
            "LocalAuthListCtrlr", "Entries", self.local_list.max_entries
        )

    def _offline_threshold(self) -> float:
        return float(self.device.int("OCPPCommCtrlr", "OfflineThreshold"))

    def _max_limit(
        self, component: str, variable: str, default: Any, instance: str | None = None
    ) -> Any:
        """The maxLimit of a device model variable (`default` when it has none)."""
        try:
            spec = self.device.spec(component, variable, variable_instance=instance)
        except KeyError:
            return default
        return default if spec.max_limit is None else int(spec.max_limit)
        return default

    async def notify_report(self, request_id: int, report_base: str) -> None:
        """GetBaseReport's answer: NotifyReport messages, `tbc` on all but the last."""
        items = self.device.report(report_base)  # type: ignore[arg-type]
        chunks = self.device.chunks(items, 50) or [[]]
        for seq, chunk in enumerate(chunks):
            await self.send(
                call.NotifyReport(
                    request_id=request_id,
                    generated_at=self.timestamp(),
                    seq_no=seq,
                    report_data=chunk or None,
                    tbc=seq < len(chunks) - 1,
                )
            )

    # -- smart charging ----------------------------------------------------------

    def set_charging_profile(self, evse_id: int, profile: Mapping[str, Any]) -> str:
        """SetChargingProfile (K01): Accepted or Rejected. A TxProfile must name the
        transaction running on that EVSE; ChargingStationExternalConstraints is never the
        CSMS's to set; a disabled SmartChargingCtrlr rejects everything."""
        status = self.profiles.set(
            evse_id,
            profile,
            active_transaction=_tx_id(self.transactions.get(evse_id)),
            version="2.0.1",
        )
        self._count_profiles()
        return "Accepted" if status == "Accepted" else "Rejected"

    def clear_charging_profile(
        self, profile_id: int | None, criteria: Mapping[str, Any] | None
    ) -> str:
        """ClearChargingProfile (K10): by id, else by the criteria given (all if none);
        Unknown when nothing matched. External constraints are not the CSMS's to clear."""
        if profile_id is not None:
            status = self.profiles.clear(profile_id=profile_id)
        else:
            criteria = criteria or {}
            purpose = criteria.get("charging_profile_purpose")
            if purpose == "ChargingStationExternalConstraints":
                return "Unknown"
            status = self.profiles.clear(
                connector_id=criteria.get("evse_id"),
                purpose=purpose,
                stack_level=criteria.get("stack_level"),
            )
        self._count_profiles()
        return status

    def composite_schedule(
        self, evse_id: int, duration: int, unit: str | None
    ) -> dict[str, Any] | None:
        """GetCompositeSchedule (K08): the `schedule` of the answer, or None (Rejected: an
        unknown EVSE or unit, a duration that is not positive)."""
        result = self.composite(evse_id, duration, unit)
        if result is None:
            return None
        schedule = result["charging_schedule"]
        return {
            "evse_id": evse_id,
            "duration": duration,
            "schedule_start": result["schedule_start"],
            "charging_rate_unit": schedule["charging_rate_unit"],
            "charging_schedule_period": schedule["charging_schedule_period"],
        }

    def composite(self, connector_id: int, duration: int, unit: str | None) -> Any:
        """The 1.6-shaped composite schedule with the 2.0.1 (string) transaction id. Where
        no profile applies the EVSE's maximum is reported (2.0.1 asks what the EVSE will
        deliver, not whether profiles exist)."""
        tx = self.transactions.get(connector_id)
        return self.profiles.composite(
            connector_id,
            self.now_utc(),
            duration,
            unit,
            tx_started=None if tx is None else tx.started_utc,
            transaction_id=_tx_id(tx),
            fallback=True,
        )

    def power_limit_w(self, connector_id: int) -> float | None:
        """What the charging profiles allow on this EVSE now (None: no limit), for the
        2.0.1 (string) transaction id."""
        tx = self.transactions.get(connector_id)
        return self.profiles.limit_w(
            connector_id,
            self.now_utc(),
            tx_started=None if tx is None else tx.started_utc,
            transaction_id=_tx_id(tx),
        )

    def _count_profiles(self) -> None:
        """Keep SmartChargingCtrlr.Entries[ChargingProfiles] in step with the store."""
        with contextlib.suppress(KeyError, ValueError):
            self.device.set_internal(
                "SmartChargingCtrlr",
                "Entries",
                str(len(self.profiles.profiles)),
                variable_instance="ChargingProfiles",
            )

    # -- authorization --------------------------------------------------------------

    def send_local_list(
        self, version_number: int, update_type: str, entries: list[dict[str, Any]] | None
    ) -> str:
        """SendLocalList (D01): Accepted, Failed or VersionMismatch. 2.0.1 entries
        ({id_token: {id_token, type}, id_token_info}) are kept as 1.6 ones; a disabled
        list (LocalAuthListCtrlr.Enabled false) answers Failed."""
        converted: list[dict[str, Any]] = []
        for entry in entries or ():
            token = entry.get("id_token") if isinstance(entry, Mapping) else None
            item: dict[str, Any] = {
                "id_tag": token.get("id_token") if isinstance(token, Mapping) else None
            }
            info = entry.get("id_token_info") if isinstance(entry, Mapping) else None
            if isinstance(info, Mapping):
                item["id_tag_info"] = _id_tag_info(info)
            converted.append(item)
        if update_type not in ("Full", "Differential"):
            return "Failed"
        status = self.local_list.send(
            version_number,
            "Full" if update_type == "Full" else "Differential",
            converted,
            max_length=self.device.int("LocalAuthListCtrlr", "ItemsPerMessage"),
        )
        with contextlib.suppress(KeyError, ValueError):
            self.device.set_internal("LocalAuthListCtrlr", "Entries", str(len(self.local_list)))
        return "Failed" if status == "NotSupported" else status

    def local_list_version(self) -> int:
        """GetLocalListVersion (D02): 0 for an empty list, and for a disabled one."""
        return max(0, self.local_list.version)

    async def authorize(self, id_tag: str) -> str:
        """Authorize an id token the 2.0.1 way (C01, C10, C12-C15).

        AuthCtrlr.Enabled false: every token is accepted without asking. Online: from the
        local list or cache when LocalPreAuthorize allows and they accept it, else an
        Authorize request, whose answer is cached when AuthCacheCtrlr.Enabled. Offline
        (or unanswered): a token in the local list (LocalAuthListCtrlr.Enabled) or the cache
        (AuthCacheCtrlr.Enabled) gets its status there if LocalAuthorizeOffline; an unknown
        one is Accepted only with OfflineTxForUnknownIdEnabled; anything else is Unknown.
        """
        if not self.device.bool("AuthCtrlr", "Enabled"):
            return "Accepted"
        now = self.now_utc()
        known = self._local_status(id_tag, now)
        if self._online.is_set():
            if known == "Accepted" and self.device.bool("AuthCtrlr", "LocalPreAuthorize"):
                return "Accepted"
            response = await self.send(self._authorize_request(id_tag))
            if response is not None:
                info = self._id_info(response)
                self._remember(id_tag, info)
                return str(info.get("status", "Invalid"))
        if known is not None:
            if self.device.bool("AuthCtrlr", "LocalAuthorizeOffline"):
                return known
            return "Unknown"
        if self.device.bool("AuthCtrlr", "OfflineTxForUnknownIdEnabled"):
            return "Accepted"
        return "Unknown"

    def _local_status(self, id_tag: str, now: datetime) -> str | None:
        """The status the local list, then the cache, gives (None: in neither, or off)."""
        if self.device.bool("LocalAuthListCtrlr", "Enabled"):
            status = self.local_list.lookup(id_tag, now)
            if status is not None:
                return status
        if self.device.bool("AuthCacheCtrlr", "Enabled"):
            return self.auth_cache.lookup(id_tag, now)
        return None

    def _remember(self, id_tag: str, info: Mapping[str, Any]) -> None:
        """Cache an IdTokenInfo the CSMS gave (C10), when AuthCacheCtrlr.Enabled."""
        if info and self.device.bool("AuthCacheCtrlr", "Enabled"):
            with contextlib.suppress(ValueError):
                self.auth_cache.store(id_tag, _id_tag_info(info))

    # -- reservations -------------------------------------------------------------

    def reserve_now(
        self,
        reservation_id: int,
        expiry: str,
        id_token: Mapping[str, Any],
        evse_id: int | None,
        connector_type: str | None,
    ) -> str:
        """ReserveNow (H01): Accepted, Faulted, Occupied, Rejected or Unavailable.

        Rejected: reservations disabled (ReservationCtrlr.Enabled), no evseId (this station
        does not reserve an unspecified EVSE: ReservationCtrlr.NonEvseSpecific is false),
        an unknown EVSE, or a connector type the EVSE does not have. Expiry sends
        ReservationStatusUpdate(Expired).
        """
        if not self.device.bool("ReservationCtrlr", "Enabled"):
            return "Rejected"
        if evse_id is None or evse_id not in self.connectors:
            return "Rejected"
        if connector_type is not None and connector_type not in _ANY_CONNECTOR:
            have = self.device.value("Connector", "ConnectorType", evse=evse_id, connector=1)
            if connector_type != have:
                return "Rejected"
        return self.reserve(evse_id, expiry, str(id_token.get("id_token", "")), reservation_id)

    def _reservation_expired(self, reservation: Reservation) -> None:
        """A reservation ran out: the EVSE is Available again (the base class), and the
        CSMS is told (H01: ReservationStatusUpdate Expired), after that StatusNotification."""
        super()._reservation_expired(reservation)
        self.background(
            self.send(
                call.ReservationStatusUpdate(
                    reservation_id=reservation.reservation_id,
                    reservation_update_status="Expired",
                )
            )
        )

    # -- firmware, logs, reset ----------------------------------------------------------

    def firmware_update_running(self) -> bool:
        return self._firmware_task is not None and not self._firmware_task.done()

    def log_upload_running(self) -> bool:
        return self._log_task is not None and not self._log_task.done()

    def start_firmware_update(self, request_id: int, firmware: Mapping[str, Any]) -> None:
        """UpdateFirmware (L01/L02): cancel an update in progress, start this one."""
        if self._firmware_task is not None:
            self._firmware_task.cancel()  # AcceptedCanceled: the new request replaces it
        self._firmware_task = self.background(self._update_firmware(request_id, firmware))

    async def _update_firmware(self, request_id: int, firmware: Mapping[str, Any]) -> None:
        """Wait for retrieveDateTime, Downloading, Downloaded, (InstallScheduled until
        installDateTime), wait for running transactions to end, Installing, reboot with
        BootNotification(FirmwareUpdate), Installed."""
        self.firmware_status = ("DownloadScheduled", request_id)
        await asyncio.sleep(
            max(0.0, _seconds_until(firmware["retrieve_date_time"], self.now_utc()))
        )
        await self._firmware_step("Downloading", request_id)
        await asyncio.sleep(self.step_delay)
        await self._firmware_step("Downloaded", request_id)
        install_at = firmware.get("install_date_time")
        if install_at is not None and _seconds_until(install_at, self.now_utc()) > 0:
            await self._firmware_step("InstallScheduled", request_id)
            await asyncio.sleep(_seconds_until(install_at, self.now_utc()))
        await self._wait_idle()  # installing ends transactions: let them finish first
        await asyncio.sleep(self.step_delay)
        await self._firmware_step("Installing", request_id)
        await asyncio.sleep(self.step_delay)
        self.firmware_version = f"{self.firmware_version}+1"
        await self._reboot("FirmwareUpdate")
        await self._firmware_step("Installed", request_id)
        self.firmware_status = ("Idle", None)

    async def _firmware_step(self, status: str, request_id: int) -> None:
        self.firmware_status = (status, request_id)
        await self.send(call.FirmwareStatusNotification(status=status, request_id=request_id))

    def start_log_upload(self, request_id: int) -> None:
        """GetLog (N01): cancel an upload in progress, start this one."""
        if self._log_task is not None:
            self._log_task.cancel()  # AcceptedCanceled: the new request replaces it
        self._log_task = self.background(self._upload_log(request_id))

    async def _upload_log(self, request_id: int) -> None:
        """Uploading, then Uploaded, step_delay apart."""
        for status in ("Uploading", "Uploaded"):
            await asyncio.sleep(self.step_delay)
            self.log_status = (status, request_id)
            await self.send(call.LogStatusNotification(status=status, request_id=request_id))
        self.log_status = ("Idle", None)

    def reset_status(self, kind: str, evse_id: int | None) -> str:
        """Reset's answer (B11, B12): Rejected for an unknown EVSE, Scheduled for OnIdle
        while a transaction runs (on that EVSE), else Accepted."""
        if evse_id is not None and evse_id not in self.connectors:
            return "Rejected"
        busy = any(evse_id in (None, n) for n in self.transactions)
        return "Scheduled" if kind == "OnIdle" and busy else "Accepted"

    async def reset_201(self, kind: str, evse_id: int | None) -> None:
        """Reset: Immediate ends the transactions (ImmediateReset) and reboots; OnIdle
        does that once the last transaction has ended. An EVSE reset ends the EVSE's
        transaction; the station stays up."""
        if self.reset_status(kind, evse_id) == "Scheduled":
            self._reset_scheduled = (evse_id,)
            return
        self._reset_scheduled = None
        if evse_id is None:
            await self._reboot("RemoteReset")
        else:
            await self.stop_transaction(evse_id, "HardReset")

    async def _reboot(self, reason: str) -> None:
        """Drop the link, end transactions, boot again giving `reason`; return once booted."""
        self.boot_reason = reason
        await self.reset("Hard")
        await self.wait_booted()
        self.boot_reason = "PowerUp"
        await self._online.wait()

    async def stop_transaction(self, connector_id: int = 1, reason: str = "Local") -> None:
        await super().stop_transaction(connector_id, reason)
        self._tx_ended.set()
        self._count_profiles()  # its TxProfiles ended with it
        scheduled = self._reset_scheduled
        if scheduled is None:
            return
        (evse_id,) = scheduled
        if evse_id is None and not self.transactions:
            self._reset_scheduled = None
            self.background(self._reboot("RemoteReset"))  # OnIdle: the last one ended
        elif evse_id == connector_id:
            self._reset_scheduled = None  # the EVSE is idle: its reset is done

    async def _wait_idle(self) -> None:
        """Return once no transaction runs."""
        while self.transactions:
            self._tx_ended.clear()
            await self._tx_ended.wait()

    # -- TriggerMessage ------------------------------------------------------------

    def trigger_status(self, message: str, evse_id: int | None) -> str:
        """TriggerMessage's answer (F06): NotImplemented for messages it does not send,
        Rejected for an unknown EVSE, a BootNotification once booted and a
        TransactionEvent without a transaction, else Accepted."""
        if message not in _TRIGGERS:
            return "NotImplemented"
        if evse_id is not None and evse_id not in self.connectors:
            return "Rejected"
        if message == "BootNotification" and self.booted:
            return "Rejected"
        if message == "TransactionEvent" and not any(
            evse_id in (None, n) for n in self.transactions
        ):
            return "Rejected"
        return "Accepted"

    async def triggered(self, message: str, connector_id: int | None) -> None:
        """Send what TriggerMessage asked for (`connector_id`: the EVSE, None: all)."""
        evses = [n for n in self.connectors if connector_id in (None, n)]
        if message == "Heartbeat":
            await self.send(call.Heartbeat())
        elif message == "StatusNotification":
            for n in evses:
                await self._status(self.connectors[n])
        elif message == "BootNotification":
            with contextlib.suppress(Exception):  # not booted yet: the boot loop goes on
                await self._call(self._boot_notification("Triggered"))
        elif message == "MeterValues":
            for n in evses:
                value = self._meter_value_201(n, self._power_now(n), "Trigger")
                await self.send(call.MeterValues(evse_id=n, meter_value=[value]))
        elif message == "TransactionEvent":
            for n in evses:
                tx = self.transactions.get(n)
                if tx is not None and not tx.stopping:
                    self._event(tx, "Updated", "Trigger", "Trigger", self._power_now(n))
        elif message == "FirmwareStatusNotification":
            status, request_id = self.firmware_status
            await self.send(call.FirmwareStatusNotification(status=status, request_id=request_id))
        elif message == "LogStatusNotification":
            status, request_id = self.log_status
            await self.send(call.LogStatusNotification(status=status, request_id=request_id))

    def _power_now(self, connector_id: int) -> float:
        """What the EV on this EVSE takes now (what the meter step would charge)."""
        ev = self.evs.get(connector_id)
        tx = self.transactions.get(connector_id)
        if ev is None or tx is None:
            return 0.0
        if self.connectors[connector_id].status is not ConnectorStatus.CHARGING:
            return 0.0
        limit = self._power_limit(connector_id)  # what the meter step applies
        return ev.acceptance_w() if limit is None else min(ev.acceptance_w(), limit)

    # -- the hooks ---------------------------------------------------------------

    def _make_cp(self, ws: ClientConnection) -> Any:
        return _CP201(self, ws)

    def _boot_request(self) -> Any:
        return self._boot_notification(self.boot_reason)

    def _boot_notification(self, reason: str) -> Any:
        return call.BootNotification(
            charging_station={
                "model": self.model,
                "vendor_name": self.vendor,
                "serial_number": self.charger_id,
                "firmware_version": self.firmware_version,
            },
            reason=reason,
        )

    def _set_heartbeat_interval(self, interval: float) -> None:
        self.device.set_internal("OCPPCommCtrlr", "HeartbeatInterval", str(max(1, round(interval))))
        self.heartbeat_interval = interval

    def _status_request(self, connector: Connector) -> Any:
        return call.StatusNotification(
            timestamp=self.timestamp(),
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
        token = payload.get("id_token")
        if info and isinstance(token, Mapping):
            self._remember(str(token.get("id_token")), info)
        status = info.get("status")
        if payload.get("event_type") == "Started" and status not in (None, "Accepted"):
            self.counters.transactions_rejected += 1
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
            "timestamp": self.timestamp(),
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
            "timestamp": self.timestamp(),
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
