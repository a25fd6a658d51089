"""Small, correct test chargers built on the `ocpp` library (charge-point side).

`run_charger_flow` plays one ordinary charging session (boot, heartbeats,
status, authorise, a transaction with meter values, stop) against a CSMS or
against the chaos proxy in front of one, and measures each CALL's round trip.
They are test clients: a CALLERROR, a timeout or a dropped connection raises
instead of being retried, so a test sees at once what went wrong.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
import time
import uuid
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import structlog
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call as call21
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from ocpp_chaos.aio import spawn
from ocpp_chaos.csms.records import ocpp_timestamp

__all__ = ["FlowError", "FlowResult", "run_charger_flow"]

log = structlog.get_logger(__name__)

_VERSIONS: dict[str, tuple[str, Any, Any]] = {
    # version: (subprotocol, ChargePoint class, call module)
    "1.6": ("ocpp1.6", ChargePoint16, call16),
    "2.0.1": ("ocpp2.0.1", ChargePoint201, call201),
    "2.1": ("ocpp2.1", ChargePoint21, call21),
}

VENDOR = "ocpp-chaos"
ID_TAG = "CHAOS-TAG-1"
_ENERGY_STEP_WH = 250
_POWER_W = 7400


@dataclass
class FlowResult:
    """What one run of `run_charger_flow` did.

    `protocol` is the OCPP version ("1.6", ...), `transaction_id` the id of the
    last transaction (1.6: int from the CSMS, 2.x: str chosen by the charger),
    `actions_sent` the actions of the CALLs sent in order, `rtts` the round
    trip of each answered CALL in seconds.
    """

    charger_id: str
    protocol: str
    boot_status: str
    transaction_id: str | int | None = None
    actions_sent: list[str] = field(default_factory=list)
    rtts: list[float] = field(default_factory=list)


class FlowError(Exception):
    """The CSMS answered in a way that ends the flow (e.g. Authorize not Accepted)."""


def _normalise_version(protocol: str) -> str:
    version = protocol.strip().lower().removeprefix("ocpp")
    if version not in _VERSIONS:
        raise ValueError(f"unsupported OCPP version {protocol!r}; choose from {list(_VERSIONS)}")
    return version


async def _read(cp: Any) -> ConnectionClosed:
    """The charger's receive loop; returns how the connection ended."""
    try:
        await cp.start()
    except ConnectionClosed as closed:
        return closed
    raise AssertionError("ChargePoint.start() returned")  # pragma: no cover


async def _outcome(coro: Coroutine[Any, Any, Any]) -> tuple[Any, BaseException | None]:
    """Run `coro`, returning its exception instead of raising it."""
    try:
        return await coro, None
    except Exception as exc:
        return None, exc


class _Session:
    """One charger connection: sends CALLs, times them, fails fast when the link dies."""

    def __init__(
        self, cp: Any, reader: asyncio.Task[ConnectionClosed], result: FlowResult, calls: Any
    ) -> None:
        self.cp = cp
        self.reader = reader
        self.result = result
        self.calls = calls

    async def call(self, action: str, **payload: Any) -> Any:
        """Send one CALL and return the library's response object.

        Raises the OCPPError of a CALLERROR, TimeoutError after the call timeout,
        or the ConnectionClosed that ended the connection while waiting.
        """
        request = getattr(self.calls, action)(**payload)
        self.result.actions_sent.append(action)
        started = time.perf_counter()
        task = spawn(
            _outcome(self.cp.call(request, suppress=False)),
            name=f"charger-call-{self.cp.id}-{action}",
        )
        try:
            await asyncio.wait({task, self.reader}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
        if task.cancelled():
            raise self.reader.result()
        response, error = task.result()
        if error is not None:
            raise error
        self.result.rtts.append(time.perf_counter() - started)
        return response


def _sample_16(wh: int, context: str) -> dict[str, Any]:
    return {
        "timestamp": ocpp_timestamp(),
        "sampled_value": [
            {
                "value": str(wh),
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "location": "Outlet",
                "unit": "Wh",
            },
            {
                "value": str(_POWER_W),
                "context": context,
                "measurand": "Power.Active.Import",
                "location": "Outlet",
                "unit": "W",
            },
        ],
    }


def _sample_2x(wh: int, context: str) -> dict[str, Any]:
    return {
        "timestamp": ocpp_timestamp(),
        "sampled_value": [
            {
                "value": float(wh),
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "unit_of_measure": {"unit": "Wh"},
            },
            {
                "value": float(_POWER_W),
                "context": context,
                "measurand": "Power.Active.Import",
                "unit_of_measure": {"unit": "W"},
            },
        ],
    }


async def _flow_16(s: _Session, transactions: int, meter_samples: int, heartbeats: int) -> None:
    boot = await s.call(
        "BootNotification", charge_point_vendor=VENDOR, charge_point_model="TestCharger16"
    )
    s.result.boot_status = boot.status
    if boot.status != "Accepted":
        return
    for _ in range(heartbeats):
        await s.call("Heartbeat")

    async def status(value: str) -> None:
        await s.call(
            "StatusNotification",
            connector_id=1,
            error_code="NoError",
            status=value,
            timestamp=ocpp_timestamp(),
        )

    await status("Available")
    meter = 1000
    for _ in range(transactions):
        auth = await s.call("Authorize", id_tag=ID_TAG)
        if auth.id_tag_info.get("status") != "Accepted":
            raise FlowError(f"Authorize: {auth.id_tag_info.get('status')}")
        await status("Preparing")
        started = await s.call(
            "StartTransaction",
            connector_id=1,
            id_tag=ID_TAG,
            meter_start=meter,
            timestamp=ocpp_timestamp(),
        )
        if started.id_tag_info.get("status") != "Accepted":
            raise FlowError(f"StartTransaction: {started.id_tag_info.get('status')}")
        transaction_id = started.transaction_id
        s.result.transaction_id = transaction_id
        await status("Charging")
        for _ in range(meter_samples):
            meter += _ENERGY_STEP_WH
            await s.call(
                "MeterValues",
                connector_id=1,
                transaction_id=transaction_id,
                meter_value=[_sample_16(meter, "Sample.Periodic")],
            )
        await s.call(
            "StopTransaction",
            meter_stop=meter,
            timestamp=ocpp_timestamp(),
            transaction_id=transaction_id,
            reason="Local",
            id_tag=ID_TAG,
        )
        await status("Available")


async def _flow_2x(s: _Session, transactions: int, meter_samples: int, heartbeats: int) -> None:
    boot = await s.call(
        "BootNotification",
        reason="PowerUp",
        charging_station={"model": "TestCharger2x", "vendor_name": VENDOR},
    )
    s.result.boot_status = boot.status
    if boot.status != "Accepted":
        return
    for _ in range(heartbeats):
        await s.call("Heartbeat")

    async def status(value: str) -> None:
        await s.call(
            "StatusNotification",
            timestamp=ocpp_timestamp(),
            connector_status=value,
            evse_id=1,
            connector_id=1,
        )

    await status("Available")
    id_token = {"id_token": ID_TAG, "type": "ISO14443"}
    meter = 1000
    for _ in range(transactions):
        auth = await s.call("Authorize", id_token=id_token)
        if auth.id_token_info.get("status") != "Accepted":
            raise FlowError(f"Authorize: {auth.id_token_info.get('status')}")
        transaction_id = str(uuid.uuid4())
        s.result.transaction_id = transaction_id
        await status("Occupied")
        seq_no = 0
        await s.call(
            "TransactionEvent",
            event_type="Started",
            timestamp=ocpp_timestamp(),
            trigger_reason="Authorized",
            seq_no=seq_no,
            transaction_info={"transaction_id": transaction_id, "charging_state": "Charging"},
            id_token=id_token,
            evse={"id": 1, "connector_id": 1},
            meter_value=[_sample_2x(meter, "Transaction.Begin")],
        )
        for _ in range(meter_samples):
            meter += _ENERGY_STEP_WH
            seq_no += 1
            await s.call(
                "TransactionEvent",
                event_type="Updated",
                timestamp=ocpp_timestamp(),
                trigger_reason="MeterValuePeriodic",
                seq_no=seq_no,
                transaction_info={"transaction_id": transaction_id, "charging_state": "Charging"},
                meter_value=[_sample_2x(meter, "Sample.Periodic")],
            )
        seq_no += 1
        await s.call(
            "TransactionEvent",
            event_type="Ended",
            timestamp=ocpp_timestamp(),
            trigger_reason="StopAuthorized",
            seq_no=seq_no,
            transaction_info={"transaction_id": transaction_id, "stopped_reason": "Local"},
            id_token=id_token,
            meter_value=[_sample_2x(meter, "Transaction.End")],
        )
        await status("Available")


async def run_charger_flow(
    url: str,
    charger_id: str,
    protocol: str = "1.6",
    *,
    transactions: int = 1,
    meter_samples: int = 2,
    heartbeats: int = 1,
    headers: Mapping[str, str] | None = None,
    ssl: ssl_module.SSLContext | None = None,
    call_timeout: float = 10,
) -> FlowResult:
    """Connect to `{url}/{charger_id}`, play one charging session, close cleanly.

    `protocol` is "1.6", "2.0.1" or "2.1" (the subprotocol offered is the
    matching `ocppX`). The session: BootNotification, `heartbeats` Heartbeats,
    StatusNotification Available, then per transaction Authorize, the
    transaction with `meter_samples` meter readings, and its stop. A boot that
    is not Accepted ends the flow early (boot_status tells). Raises the
    CALLERROR's OCPPError, TimeoutError (no answer within `call_timeout`),
    ConnectionClosed or FlowError; the connection is closed in every case.
    """
    version = _normalise_version(protocol)
    subprotocol, charge_point_class, calls = _VERSIONS[version]
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    result = FlowResult(charger_id=charger_id, protocol=version, boot_status="")
    options: dict[str, Any] = {}
    if ssl is not None:
        options["ssl"] = ssl
    async with connect(
        f"{url.rstrip('/')}/{quote(charger_id, safe='')}",
        subprotocols=[Subprotocol(subprotocol)],
        additional_headers=headers,
        compression=None,
        # OCPP Heartbeats are the liveness check here; no pings of our own.
        ping_interval=None,
        open_timeout=call_timeout,
        **options,
    ) as ws:
        await _run_session(
            ws,
            result,
            charge_point_class,
            calls,
            subprotocol,
            call_timeout,
            transactions,
            meter_samples,
            heartbeats,
        )
    log.info(
        "charger_flow_done",
        charger_id=charger_id,
        protocol=version,
        calls=len(result.actions_sent),
        transaction_id=result.transaction_id,
    )
    return result


async def _run_session(
    ws: ClientConnection,
    result: FlowResult,
    charge_point_class: Any,
    calls: Any,
    subprotocol: str,
    call_timeout: float,
    transactions: int,
    meter_samples: int,
    heartbeats: int,
) -> None:
    if ws.subprotocol != subprotocol:
        raise ConnectionError(f"server chose subprotocol {ws.subprotocol!r}, not {subprotocol}")
    cp = charge_point_class(result.charger_id, ws, response_timeout=call_timeout)
    reader = spawn(_read(cp), name=f"charger-reader-{result.charger_id}")
    try:
        flow = _flow_16 if result.protocol == "1.6" else _flow_2x
        await flow(_Session(cp, reader, result, calls), transactions, meter_samples, heartbeats)
        await ws.close()
    finally:
        reader.cancel()
        await asyncio.wait({reader})
