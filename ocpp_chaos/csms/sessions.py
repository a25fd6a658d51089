"""One connected charger, seen from the reference CSMS: `ocpp` ChargePoint subclasses.

The `ocpp` library routes and validates CALLs and builds the responses. Its
receive path is replaced (`route_message`) so that every frame is first read
with `ocpp_chaos.frames.parse`: garbage gets a CALLERROR instead of silence,
an unknown action gets NotImplemented/NotSupported in every version, and no
frame can end the connection's receive loop.
"""

from __future__ import annotations

import logging
import time
from enum import StrEnum
from typing import Any, ClassVar

import structlog
from ocpp.charge_point import ChargePoint as _LibraryChargePoint
from ocpp.exceptions import OCPPError
from ocpp.messages import Call as _LibraryCall
from ocpp.messages import CallError as _LibraryCallError
from ocpp.messages import CallResult as _LibraryCallResult
from ocpp.v16 import call_result as call_result_16
from ocpp.v16.enums import Action as Action16
from ocpp.v21 import call_result as call_result_21
from ocpp.v21.enums import Action as Action21
from ocpp.v201 import call_result as call_result_201
from ocpp.v201.enums import Action as Action201
from websockets.exceptions import ConnectionClosed

from ocpp_chaos.csms.boot import BootPolicy, requested_by
from ocpp_chaos.csms.errors import reply_to_malformed, serialise_call_error
from ocpp_chaos.csms.records import Ledger, energy_wh, ocpp_timestamp
from ocpp_chaos.frames import Call, CallError, CallResult, Malformed, parse
from ocpp_chaos.frames.codes import error_code_for_version
from ocpp_chaos.ocpp_routing import on

__all__ = ["SESSION_CLASSES", "CsmsSession", "Session16", "Session21", "Session201"]

log = structlog.get_logger(__name__)


# Vendor ids whose DataTransfer the reference CSMS understands; others get
# UnknownVendorId, as the spec asks of a CSMS that does not know the vendor.
KNOWN_VENDOR_IDS = frozenset({"ocpp-chaos"})

ACCEPTED = {"status": "Accepted"}


class CsmsSession(_LibraryChargePoint):  # type: ignore[misc]  # untyped library base
    """The connection to one charger: the version-independent part.

    `route_message` deliberately overrides the library's method (see the
    module docstring). Handlers are added by the per-version subclasses.
    """

    version: ClassVar[str]
    actions: ClassVar[type[StrEnum]]
    """The version's action names: an unknown one is NotImplemented, a known
    one this CSMS has no handler for is NotSupported."""

    def __init__(
        self,
        charger_id: str,
        connection: Any,
        ledger: Ledger,
        heartbeat_interval: int,
        boot: BootPolicy | None = None,
    ) -> None:
        super().__init__(
            charger_id, connection, response_timeout=30, logger=logging.getLogger("ocpp")
        )
        self.ledger = ledger
        self.heartbeat_interval = heartbeat_interval
        self.boot = boot or BootPolicy()
        self.asked: set[str] = set()
        """Actions the CSMS asked this charger for since its last boot (TriggerMessage,
        GetBaseReport): allowed while Pending."""
        self.wire_payload: dict[str, Any] = {}
        """The payload of the CALL being handled, as sent (camelCase)."""

    # -- registration (boot) ------------------------------------------------------

    def _registration(self) -> tuple[str, int]:
        """The status and interval to answer this charger's BootNotification with."""
        now = time.monotonic()
        first = self.ledger.first_boots.setdefault(self.id, now)
        status, interval = self.boot.answer(first, now, self.heartbeat_interval)
        self.ledger.registrations[self.id] = status
        self.asked.clear()
        return status, interval

    def admits(self, action: str) -> bool:
        """Whether a CALL of `action` is handled; if not, it gets CALLERROR SecurityError
        (a charger whose boot is not Accepted, with a policy that keeps chargers out)."""
        if not self.boot.enforced or action == "BootNotification":
            return True
        status = self.ledger.registrations.get(self.id)
        return status == "Accepted" or (status == "Pending" and action in self.asked)

    def expect(self, request: Any) -> None:
        """The CSMS sends `request` to the charger: what it asks for may come while Pending."""
        action = requested_by(request)
        if action is not None:
            self.asked.add(action)

    # -- receive path -------------------------------------------------------

    async def route_message(self, raw_msg: str | bytes) -> None:
        """Handle one frame. Never raises, except when the connection is gone."""
        try:
            await self._route(raw_msg)
        except ConnectionClosed:
            raise
        except Exception as exc:
            log.exception("csms_route_failed", charger_id=self.id, error=repr(exc))

    async def _route(self, raw_msg: str | bytes) -> None:
        message = parse(raw_msg, binary=isinstance(raw_msg, bytes))
        if isinstance(message, Call):
            self.ledger.record_call(self.id, self.version, message.action, message.payload)
            log.debug(
                "csms_call_received",
                charger_id=self.id,
                action=message.action,
                unique_id=message.unique_id,
            )
            await self._dispatch(message)
        elif isinstance(message, Malformed):
            await self._answer_malformed(message)
        elif isinstance(message, CallResult | CallError):
            await self._take_response(message)
        elif self.version == "2.1":
            # CALLRESULTERROR or SEND: valid 2.1 messages that never get a reply.
            log.info(
                "csms_message_ignored",
                charger_id=self.id,
                message_type=message.message_type.name,
                unique_id=message.unique_id,
            )
        else:
            await self._send_error(
                message.unique_id,
                "MessageTypeNotSupported",
                f"message type {int(message.message_type)} does not exist in OCPP {self.version}",
            )

    async def _dispatch(self, message: Call) -> None:
        if not self.admits(message.action):
            status = self.ledger.registrations.get(self.id)
            log.info(
                "csms_not_accepted_yet", charger_id=self.id, action=message.action, status=status
            )
            await self._send_error(
                message.unique_id,
                "SecurityError",
                f"{message.action} before the boot was accepted "
                f"({'boot ' + status if status else 'no boot'})",
            )
            return
        route = self.route_map.get(message.action, {})
        if "_on_action" not in route:
            known = message.action in self.actions._value2member_map_
            code = "NotSupported" if known else "NotImplemented"
            log.info("csms_unknown_action", charger_id=self.id, action=message.action, code=code)
            await self._send_error(
                message.unique_id,
                code,
                f"{message.action} is {'not supported' if known else 'not known'} by this CSMS",
            )
            return
        # Handlers get snake_case keywords from the library; records keep the
        # payload as sent. Calls are handled one at a time per connection.
        self.wire_payload = message.payload
        library_call = _LibraryCall(message.unique_id, message.action, message.payload)
        try:
            # Validates the request, runs the handler (a handler exception
            # becomes an InternalError there), validates and sends the response.
            await self._handle_call(library_call)
        except OCPPError as error:
            cause = error.details.get("cause") if isinstance(error.details, dict) else None
            log.info(
                "csms_call_rejected",
                charger_id=self.id,
                action=message.action,
                code=error.code,
                cause=str(cause),
            )
            await self._send_error(
                message.unique_id,
                error.code,
                error.description,
                {"cause": str(cause)} if cause is not None else None,
            )

    async def _answer_malformed(self, message: Malformed) -> None:
        reply = reply_to_malformed(message, self.version)
        log.warning(
            "csms_malformed_frame",
            charger_id=self.id,
            reason=message.reason.value,
            detail=message.detail,
            answered=reply is not None,
        )
        if reply is not None:
            await self._send_error(reply.unique_id, reply.code, reply.description)

    async def _take_response(self, message: CallResult | CallError) -> None:
        # The library queues every response without bound; only hand over one
        # while a call() of ours is waiting for it.
        if not self._call_lock.locked():
            log.warning("csms_unexpected_response", charger_id=self.id, unique_id=message.unique_id)
            return
        if isinstance(message, CallResult):
            self._response_queue.put_nowait(_LibraryCallResult(message.unique_id, message.payload))
        else:
            self._response_queue.put_nowait(
                _LibraryCallError(
                    message.unique_id, message.code, message.description, message.details
                )
            )

    async def _send_error(
        self,
        unique_id: str,
        code: str,
        description: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        code = error_code_for_version(code, self.version)
        await self._send(serialise_call_error(unique_id, code, description, details))

    # -- helpers for handlers -------------------------------------------------

    def _log_event(self, event: str, **fields: Any) -> None:
        log.info(event, charger_id=self.id, **fields)

    def _wire_list(self, key: str) -> list[dict[str, Any]]:
        """The list of objects under `key` in the current payload, as sent."""
        value = self.wire_payload.get(key)
        return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


class Session16(CsmsSession):
    """OCPP 1.6 central-system handlers."""

    version = "1.6"
    actions = Action16
    _call_result = call_result_16
    _ocpp_version = "1.6"

    @on("BootNotification")
    def on_boot_notification(self, **kwargs: Any) -> Any:
        self._log_event(
            "csms_boot",
            vendor=kwargs.get("charge_point_vendor"),
            model=kwargs.get("charge_point_model"),
        )
        status, interval = self._registration()
        return call_result_16.BootNotification(
            current_time=ocpp_timestamp(), interval=interval, status=status
        )

    @on("Heartbeat")
    def on_heartbeat(self, **_: Any) -> Any:
        return call_result_16.Heartbeat(current_time=ocpp_timestamp())

    @on("StatusNotification")
    def on_status_notification(self, **kwargs: Any) -> Any:
        self._log_event(
            "csms_status",
            connector_id=kwargs.get("connector_id"),
            status=kwargs.get("status"),
            error_code=kwargs.get("error_code"),
        )
        return call_result_16.StatusNotification()

    @on("Authorize")
    def on_authorize(self, **_: Any) -> Any:
        return call_result_16.Authorize(id_tag_info=dict(ACCEPTED))

    @on("StartTransaction")
    def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **_: Any
    ) -> Any:
        # A StartTransaction sent again (a retry after a lost answer, or a duplicate on the
        # way) is the same transaction: it gets the same id, not a second one.
        key = (self.id, connector_id, id_tag, meter_start, timestamp)
        known = self.ledger.starts.get(key)
        if known is not None:
            return call_result_16.StartTransaction(transaction_id=known, id_tag_info=dict(ACCEPTED))
        transaction_id = self.ledger.new_transaction_id()
        self.ledger.remember_start(key, transaction_id)
        record = self.ledger.transaction(transaction_id, self.id, self.version)
        record.connector_id = connector_id
        record.id_tag = id_tag
        record.meter_start = float(meter_start)
        record.started_at = timestamp
        record.events.append("Started")
        self._log_event("csms_transaction_started", transaction_id=transaction_id)
        return call_result_16.StartTransaction(
            transaction_id=transaction_id, id_tag_info=dict(ACCEPTED)
        )

    @on("StopTransaction")
    def on_stop_transaction(
        self, transaction_id: int, meter_stop: int, timestamp: str, **kwargs: Any
    ) -> Any:
        record = self.ledger.transactions.get(transaction_id)
        if record is None:
            log.warning(
                "csms_unknown_transaction", charger_id=self.id, transaction_id=transaction_id
            )
        else:
            record.meter_stop = float(meter_stop)
            record.stopped_at = timestamp
            record.stop_reason = kwargs.get("reason", "Local")
            record.events.append("Stopped")
            record.meter_values.extend(self._wire_list("transactionData"))
            self._log_event("csms_transaction_stopped", transaction_id=transaction_id)
        if kwargs.get("id_tag") is None:
            return call_result_16.StopTransaction()
        return call_result_16.StopTransaction(id_tag_info=dict(ACCEPTED))

    @on("MeterValues")
    def on_meter_values(self, **kwargs: Any) -> Any:
        transaction_id = kwargs.get("transaction_id")
        record = None if transaction_id is None else self.ledger.transactions.get(transaction_id)
        if record is not None:
            record.meter_values.extend(self._wire_list("meterValue"))
            record.events.append("MeterValues")
        return call_result_16.MeterValues()

    @on("DataTransfer")
    def on_data_transfer(self, vendor_id: str, **_: Any) -> Any:
        status = "Accepted" if vendor_id in KNOWN_VENDOR_IDS else "UnknownVendorId"
        return call_result_16.DataTransfer(status=status)

    @on("FirmwareStatusNotification")
    def on_firmware_status_notification(self, **_: Any) -> Any:
        return call_result_16.FirmwareStatusNotification()

    @on("DiagnosticsStatusNotification")
    def on_diagnostics_status_notification(self, **_: Any) -> Any:
        return call_result_16.DiagnosticsStatusNotification()


class Session2x(CsmsSession):
    """OCPP 2.0.1 and 2.1 CSMS handlers (the response classes differ per version)."""

    @on("BootNotification")
    def on_boot_notification(self, **kwargs: Any) -> Any:
        station = kwargs.get("charging_station") or {}
        self._log_event(
            "csms_boot",
            vendor=station.get("vendor_name"),
            model=station.get("model"),
            reason=kwargs.get("reason"),
        )
        status, interval = self._registration()
        return self._call_result.BootNotification(
            current_time=ocpp_timestamp(), interval=interval, status=status
        )

    @on("Heartbeat")
    def on_heartbeat(self, **_: Any) -> Any:
        return self._call_result.Heartbeat(current_time=ocpp_timestamp())

    @on("StatusNotification")
    def on_status_notification(self, **kwargs: Any) -> Any:
        self._log_event(
            "csms_status",
            evse_id=kwargs.get("evse_id"),
            connector_id=kwargs.get("connector_id"),
            status=kwargs.get("connector_status"),
        )
        return self._call_result.StatusNotification()

    @on("Authorize")
    def on_authorize(self, **_: Any) -> Any:
        return self._call_result.Authorize(id_token_info=dict(ACCEPTED))

    @on("TransactionEvent")
    def on_transaction_event(
        self,
        event_type: str,
        seq_no: int,
        timestamp: str,
        transaction_info: dict[str, Any],
        **kwargs: Any,
    ) -> Any:
        transaction_id = str(transaction_info["transaction_id"])
        record = self.ledger.transaction(transaction_id, self.id, self.version)
        record.events.append(event_type)
        record.seq_nos.append(seq_no)
        meter_values = self._wire_list("meterValue")
        record.meter_values.extend(meter_values)
        evse = kwargs.get("evse")
        if isinstance(evse, dict):
            record.evse_id = evse.get("id", record.evse_id)
            record.connector_id = evse.get("connector_id", record.connector_id)
        id_token = kwargs.get("id_token")
        if isinstance(id_token, dict) and record.id_tag is None:
            record.id_tag = id_token.get("id_token")
        if event_type == "Started":
            record.started_at = timestamp
            record.meter_start = energy_wh(meter_values)
            self._log_event("csms_transaction_started", transaction_id=transaction_id)
        elif event_type == "Ended":
            record.stopped_at = timestamp
            record.stop_reason = transaction_info.get("stopped_reason", "Local")
            record.meter_stop = energy_wh(meter_values)
            self._log_event("csms_transaction_stopped", transaction_id=transaction_id)
        if isinstance(id_token, dict):
            return self._call_result.TransactionEvent(id_token_info=dict(ACCEPTED))
        return self._call_result.TransactionEvent()

    @on("NotifyReport")
    def on_notify_report(self, **_: Any) -> Any:
        return self._call_result.NotifyReport()

    @on("MeterValues")
    def on_meter_values(self, **_: Any) -> Any:
        return self._call_result.MeterValues()

    @on("DataTransfer")
    def on_data_transfer(self, vendor_id: str, **_: Any) -> Any:
        status = "Accepted" if vendor_id in KNOWN_VENDOR_IDS else "UnknownVendorId"
        return self._call_result.DataTransfer(status=status)

    @on("NotifyEvent")
    def on_notify_event(self, **_: Any) -> Any:
        return self._call_result.NotifyEvent()

    @on("SecurityEventNotification")
    def on_security_event_notification(self, **kwargs: Any) -> Any:
        self._log_event("csms_security_event", type=kwargs.get("type"))
        return self._call_result.SecurityEventNotification()

    @on("FirmwareStatusNotification")
    def on_firmware_status_notification(self, **_: Any) -> Any:
        return self._call_result.FirmwareStatusNotification()

    @on("LogStatusNotification")
    def on_log_status_notification(self, **_: Any) -> Any:
        return self._call_result.LogStatusNotification()

    @on("ReservationStatusUpdate")
    def on_reservation_status_update(self, **_: Any) -> Any:
        return self._call_result.ReservationStatusUpdate()

    @on("NotifyChargingLimit")
    def on_notify_charging_limit(self, **_: Any) -> Any:
        return self._call_result.NotifyChargingLimit()

    @on("ReportChargingProfiles")
    def on_report_charging_profiles(self, **_: Any) -> Any:
        return self._call_result.ReportChargingProfiles()


class Session201(Session2x):
    """OCPP 2.0.1."""

    version = "2.0.1"
    actions = Action201
    _call_result = call_result_201
    _ocpp_version = "2.0.1"


class Session21(Session2x):
    """OCPP 2.1 (the `ocpp` library marks its 2.1 support experimental).

    With the library's 2.1 schemas and response classes every handler of
    `Session2x` works. What the library does not do for 2.1 is done here:
    SEND (6) and CALLRESULTERROR (5) never reach it (the library would reject
    them; they are logged and, as the spec says, not answered), and an
    unknown action gets NotImplemented/NotSupported (the library sends nothing).
    """

    version = "2.1"
    actions = Action21
    _call_result = call_result_21
    _ocpp_version = "2.1"


SESSION_CLASSES: dict[str, type[CsmsSession]] = {
    "ocpp1.6": Session16,
    "ocpp2.0.1": Session201,
    "ocpp2.1": Session21,
}
