"""A virtual OCPP 1.6-J charger: correct firmware with the failures real firmware has.

Built on the `ocpp` library's ChargePoint over `websockets` (compression off).
The state that decides what the firmware does lives in sans-IO parts:
`connector.py` (the status table), `ev.py` (the car and the meter), `config.py`
(the configuration keys), `queue.py` (transaction messages kept while offline)
and `backoff.py` (reconnect waits); this module is the IO around them.

What it does, as the spec asks:
- BootNotification first; Pending and Rejected are retried after the given
  interval and nothing else is sent before Accepted (1.6 §4.2).
- Heartbeats at the interval the CSMS gave; StatusNotification per connector on
  every change and after a reconnect.
- Transactions: Authorize → StartTransaction → MeterValues every
  MeterValueSampleInterval → StopTransaction. Transaction messages go through the
  offline queue: kept in order while offline, replayed first after reconnecting,
  retried TransactionMessageAttempts times (1.6 §4.7). A transaction started
  offline carries a provisional id until its StartTransaction is answered.
- Reconnects with exponential back-off and jitter, without a new BootNotification
  (a Reset does boot again).
- One CALL outstanding at a time (the library's lock); CSMS commands it does not
  implement are answered NotImplemented by the library.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import random
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call, call_result
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.proxy import get_proxy
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from ocpp_chaos.aio import spawn
from ocpp_chaos.csms.records import ocpp_timestamp
from ocpp_chaos.ocpp_routing import after, init_charge_point, on
from ocpp_chaos.simulator.authlist import AuthCache, LocalAuthList
from ocpp_chaos.simulator.backoff import Backoff
from ocpp_chaos.simulator.config import KeyStore
from ocpp_chaos.simulator.connector import Connector, ConnectorEvent, ConnectorStatus
from ocpp_chaos.simulator.ev import EnergyMeter, VirtualEV, sample
from ocpp_chaos.simulator.profiles import ProfileStore
from ocpp_chaos.simulator.queue import TransactionQueue

__all__ = ["ChargerState", "Transaction", "VirtualCharger"]

log = structlog.get_logger("ocpp_chaos.simulator")

ERROR_CODES = frozenset(
    {
        "ConnectorLockFailure",
        "EVCommunicationError",
        "GroundFailure",
        "HighTemperature",
        "InternalError",
        "LocalListConflict",
        "NoError",
        "OtherError",
        "OverCurrentFailure",
        "OverVoltage",
        "PowerMeterFailure",
        "PowerSwitchFailure",
        "ReaderFailure",
        "ResetFailure",
        "UnderVoltage",
        "WeakSignal",
    }
)
"""OCPP 1.6 ChargePointErrorCode values (StatusNotification.errorCode)."""

TRANSACTION_ACTIONS = frozenset({"StartTransaction", "StopTransaction", "MeterValues"})


class ChargerState:
    """Where a charger is in its life (strings, for progress displays)."""

    STOPPED = "stopped"
    CONNECTING = "connecting"
    BOOTING = "booting"
    PENDING = "pending"
    REJECTED = "rejected"
    ACCEPTED = "accepted"
    OFFLINE = "offline"
    FAILED = "failed"


@dataclass
class Transaction:
    """A transaction on one connector, from the charger's point of view."""

    connector_id: int
    id_tag: str
    meter_start: int
    started_at: float
    transaction_id: int | str
    """1.6: the CSMS's id, or a provisional negative one until StartTransaction is answered.
    2.0.1: the charger's own id."""
    started_utc: datetime = field(default_factory=lambda: datetime.now(UTC))
    confirmed: bool = False
    stopping: bool = False
    remote: bool = False
    """Started by RemoteStart/RequestStartTransaction."""
    seq_no: int = 0
    """2.0.1: the next TransactionEvent's seqNo."""


@dataclass
class Reservation:
    """A ReserveNow the charger accepted."""

    reservation_id: int
    connector_id: int
    id_tag: str
    expires_at: float
    """Monotonic time the reservation ends."""


@dataclass
class _Counters:
    boots: int = 0
    connects: int = 0
    connect_failures: int = 0
    calls: int = 0
    call_errors: int = 0
    transactions: int = 0
    transactions_ended: int = 0
    transactions_rejected: int = 0
    replayed: int = 0


class _CP16(ChargePoint16):  # type: ignore[misc]
    """The ocpp library's charge point, with this firmware's command handlers."""

    def __init__(self, charger: VirtualCharger, connection: ClientConnection) -> None:
        # ChargePoint.__init__'s attributes, with routes cached per class (ocpp_routing).
        init_charge_point(self, charger.charger_id, connection, charger.call_timeout)
        self.charger = charger

    # -- commands from the CSMS (answer at once; act in @after or a task) ------

    @on("RemoteStartTransaction")
    def on_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any) -> Any:
        ok = self.charger.can_start(connector_id)
        return call_result.RemoteStartTransaction(status="Accepted" if ok else "Rejected")

    @after("RemoteStartTransaction")
    def after_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any) -> None:
        if self.charger.can_start(connector_id):
            self.charger.background(self.charger.remote_start(id_tag, connector_id))

    @on("RemoteStopTransaction")
    def on_remote_stop(self, transaction_id: int, **_: Any) -> Any:
        found = self.charger.connector_of(transaction_id) is not None
        return call_result.RemoteStopTransaction(status="Accepted" if found else "Rejected")

    @after("RemoteStopTransaction")
    def after_remote_stop(self, transaction_id: int, **_: Any) -> None:
        connector_id = self.charger.connector_of(transaction_id)
        if connector_id is not None:
            self.charger.background(self.charger.stop_transaction(connector_id, "Remote"))

    @on("Reset")
    def on_reset(self, type: str, **_: Any) -> Any:
        return call_result.Reset(status="Accepted")

    @after("Reset")
    def after_reset(self, type: str, **_: Any) -> None:
        self.charger.background(self.charger.reset(type))

    @on("ChangeAvailability")
    def on_change_availability(self, connector_id: int, type: str, **_: Any) -> Any:
        return call_result.ChangeAvailability(
            status=self.charger.change_availability(connector_id, type)
        )

    @on("ChangeConfiguration")
    def on_change_configuration(self, key: str, value: str, **_: Any) -> Any:
        return call_result.ChangeConfiguration(status=self.charger.change_configuration(key, value))

    @on("GetConfiguration")
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> Any:
        known, unknown = self.charger.keys.get(key)
        return call_result.GetConfiguration(
            configuration_key=known or None, unknown_key=unknown or None
        )

    @on("ClearCache")
    def on_clear_cache(self, **_: Any) -> Any:
        self.charger.auth_cache.clear()
        return call_result.ClearCache(status="Accepted")

    @on("SetChargingProfile")
    def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any], **_: Any
    ) -> Any:
        tx = self.charger.transactions.get(connector_id)
        status = self.charger.profiles.set(
            connector_id,
            cs_charging_profiles,
            active_transaction=_int_id(tx),
        )
        return call_result.SetChargingProfile(status=status)

    @on("ClearChargingProfile")
    def on_clear_charging_profile(
        self,
        id: int | None = None,
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
        **_: Any,
    ) -> Any:
        status = self.charger.profiles.clear(
            profile_id=id,
            connector_id=connector_id,
            purpose=charging_profile_purpose,
            stack_level=stack_level,
        )
        return call_result.ClearChargingProfile(status=status)

    # The library checks its own answer against the 1.6 schema, whose multipleOf 0.1 on
    # limits it reads as decimals and then fails on (TypeError) for fractional limits: the
    # answer is built from validated parts, so its check is skipped.
    @on("GetCompositeSchedule", skip_schema_validation=True)
    def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None, **_: Any
    ) -> Any:
        schedule = self.charger.composite(connector_id, duration, charging_rate_unit)
        if schedule is None:
            return call_result.GetCompositeSchedule(status="Rejected")
        return call_result.GetCompositeSchedule(status="Accepted", **schedule)

    @on("SendLocalList")
    def on_send_local_list(
        self,
        list_version: int,
        update_type: str,
        local_authorization_list: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> Any:
        if update_type not in ("Full", "Differential"):
            return call_result.SendLocalList(status="Failed")
        status = self.charger.local_list.send(
            list_version,
            "Full" if update_type == "Full" else "Differential",
            local_authorization_list,
            max_length=self.charger.keys.int("SendLocalListMaxLength"),
        )
        return call_result.SendLocalList(status=status)

    @on("GetLocalListVersion")
    def on_get_local_list_version(self, **_: Any) -> Any:
        return call_result.GetLocalListVersion(list_version=self.charger.local_list.version)

    @on("UnlockConnector")
    def on_unlock_connector(self, connector_id: int, **_: Any) -> Any:
        ok = connector_id in self.charger.connectors
        return call_result.UnlockConnector(status="Unlocked" if ok else "NotSupported")

    @after("UnlockConnector")
    def after_unlock_connector(self, connector_id: int, **_: Any) -> None:
        if connector_id in self.charger.connectors:
            self.charger.background(self.charger.stop_transaction(connector_id, "UnlockCommand"))

    @on("TriggerMessage")
    def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> Any:
        supported = {"BootNotification", "Heartbeat", "StatusNotification", "MeterValues"}
        status = "Accepted" if requested_message in supported else "NotImplemented"
        return call_result.TriggerMessage(status=status)

    @after("TriggerMessage")
    def after_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> None:
        self.charger.background(self.charger.triggered(requested_message, connector_id))

    @on("DataTransfer")
    def on_data_transfer(self, vendor_id: str, **_: Any) -> Any:
        return call_result.DataTransfer(status="UnknownVendorId")

    @on("ReserveNow")
    def on_reserve_now(
        self, connector_id: int, expiry_date: str, id_tag: str, reservation_id: int, **_: Any
    ) -> Any:
        return call_result.ReserveNow(
            status=self.charger.reserve(connector_id, expiry_date, id_tag, reservation_id)
        )

    @on("CancelReservation")
    def on_cancel_reservation(self, reservation_id: int, **_: Any) -> Any:
        ok = self.charger.cancel_reservation(reservation_id)
        return call_result.CancelReservation(status="Accepted" if ok else "Rejected")

    @on("GetDiagnostics")
    def on_get_diagnostics(self, location: str, **_: Any) -> Any:
        name = f"diagnostics-{self.charger.charger_id}-{int(time.time())}.log"
        return call_result.GetDiagnostics(file_name=name)

    @after("GetDiagnostics")
    def after_get_diagnostics(self, location: str, **_: Any) -> None:
        self.charger.background(self.charger.upload_diagnostics())

    @on("UpdateFirmware")
    def on_update_firmware(self, location: str, retrieve_date: str, **_: Any) -> Any:
        return call_result.UpdateFirmware()

    @after("UpdateFirmware")
    def after_update_firmware(self, location: str, retrieve_date: str, **_: Any) -> None:
        self.charger.background(self.charger.update_firmware(retrieve_date))


def _int_id(tx: Transaction | None) -> int | None:
    """The transaction id where an integer is expected (1.6 profiles)."""
    return tx.transaction_id if tx is not None and isinstance(tx.transaction_id, int) else None


def _seconds_until(timestamp: str, now: datetime) -> float:
    """Seconds from `now` until an OCPP timestamp (negative when it is past)."""
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - now).total_seconds()


@functools.lru_cache(maxsize=64)
def _proxy_for(url: str) -> str | None:
    """The HTTP/SOCKS proxy the environment sets for `url` (None: connect directly).

    websockets looks this up on every connection by reading the environment, a tenth of
    the CPU of a boot in a fleet of thousands; every charger of a fleet has the same
    target, so it is looked up once.
    """
    return get_proxy(parse_uri(url))


async def _read(cp: _CP16) -> None:
    """The library's read loop; a closed connection is how it ends, not an error."""
    with contextlib.suppress(ConnectionClosed):
        await cp.start()


class VirtualCharger:
    """One virtual OCPP 1.6 charger. `run()` is its life; the other methods are what a
    driver (the fleet, a scenario, a test) makes it do.

    What differs between OCPP versions is in a few hooks (`_boot_request`,
    `_status_request`, `_authorize_request`, `_enqueue_started/updated/ended`,
    `_answered`, `_sample_interval`): `VirtualCharger201` overrides them.
    """

    SUBPROTOCOL = "ocpp1.6"
    calls: Any = call
    """The `ocpp` library's request classes of this version."""

    def __init__(
        self,
        charger_id: str,
        url: str,
        *,
        connectors: int = 1,
        rng: random.Random | None = None,
        password: str | None = None,
        config: Mapping[str, str] | None = None,
        call_timeout: float = 30.0,
        vendor: str = "ocpp-chaos",
        model: str = "VirtualCharger16",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Coroutine[Any, Any, None]] = asyncio.sleep,
    ) -> None:
        self.charger_id = charger_id
        self.url = url.rstrip("/")
        self.rng = rng or random.Random(charger_id)
        self.password = password
        self.call_timeout = call_timeout
        self.vendor, self.model = vendor, model
        self.keys = KeyStore(connectors=connectors, overrides=config)
        self.connectors = {n: Connector(n) for n in range(1, connectors + 1)}
        self.evs: dict[int, VirtualEV | None] = dict.fromkeys(self.connectors)
        self.connector_max_w: dict[int, float | None] = dict.fromkeys(self.connectors)
        """What each connector can deliver (a template sets it; None: no limit of its own)."""
        self.meters = {
            n: EnergyMeter(register_wh=self.rng.uniform(1e5, 5e6)) for n in self.connectors
        }
        self.transactions: dict[int, Transaction] = {}
        self.auth_cache = AuthCache()
        self.local_list = LocalAuthList(
            enabled=self.keys.bool("LocalAuthListEnabled"),
            max_entries=self.keys.int("LocalAuthListMaxLength"),
        )
        self.profiles = ProfileStore(
            connectors=connectors,
            max_stack_level=self.keys.int("ChargeProfileMaxStackLevel"),
            max_profiles=self.keys.int("MaxChargingProfilesInstalled"),
            max_periods=self.keys.int("ChargingScheduleMaxPeriods"),
        )
        self.reservations: dict[int, Reservation] = {}
        self.firmware_version = "1.0.0"
        self.clock_offset_s = 0.0
        """How far the charger's clock is off (a drift fault sets it)."""
        self.clock_drift_ppm = 0.0
        self._drift_since = 0.0
        self.step_delay = 1.0
        """Seconds between the steps of a diagnostics upload or a firmware update."""
        self.queue = TransactionQueue(
            max_attempts=self.keys.int("TransactionMessageAttempts"),
            retry_interval=float(self.keys.int("TransactionMessageRetryInterval")),
        )
        self.backoff = Backoff(self.rng)
        self.state = ChargerState.STOPPED
        self.counters = _Counters()
        self.heartbeat_interval = float(self.keys.int("HeartbeatInterval"))
        self._booted = asyncio.Event()
        self._clock = clock
        self._sleep = sleep
        """How the charger waits out a back-off or a boot retry (tests pass a fake clock's)."""
        self._cp: Any = None
        self._online = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        # Timers are callbacks on the event loop's one timer heap, not a task each: a
        # fleet of 10,000 idle chargers holds no task per heartbeat or meter sample.
        self._heartbeat_timer: asyncio.TimerHandle | None = None
        self._meter_timer: asyncio.TimerHandle | None = None
        self._since_sample = 0.0
        self._queue_timer: asyncio.TimerHandle | None = None
        self._sender: asyncio.Task[Any] | None = None
        self._reservation_timers: dict[int, asyncio.TimerHandle] = {}
        self._offline_since = 0.0
        self._reported: dict[int, tuple[ConnectorStatus, str]] = {}
        """The last status (and error code) the CSMS acknowledged, per connector."""
        self._provisional = 0
        self._reconnect_now = asyncio.Event()
        self._queued_offline: set[int] = set()
        """Queue sequence numbers of messages queued while offline (counted when replayed)."""
        self._ws: ClientConnection | None = None

    # -- life --------------------------------------------------------------------

    @property
    def booted(self) -> bool:
        """The CSMS accepted this boot (False again after a reset or a power loss)."""
        return self._booted.is_set()

    @booted.setter
    def booted(self, value: bool) -> None:
        if value:
            self._booted.set()
        else:
            self._booted.clear()

    @property
    def connected(self) -> bool:
        """A WebSocket connection is open (booted or not)."""
        return self._ws is not None

    async def wait_booted(self) -> None:
        """Return once a BootNotification is accepted (at once if it already is)."""
        await self._booted.wait()

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, boot, and stay connected (reconnecting with back-off) until `stop`."""
        with structlog.contextvars.bound_contextvars(charger_id=self.charger_id):
            stopped = spawn(stop.wait(), name=f"charger-stop-{self.charger_id}")
            try:
                while not stop.is_set():
                    await self._connection(stopped)
                    if stop.is_set():
                        break
                    wait = 0.0 if self._reconnect_now.is_set() else self.backoff.next()
                    self._reconnect_now.clear()
                    await self._pause(wait, stopped)
            finally:
                stopped.cancel()
                self._cancel_timers()
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                self.state = ChargerState.STOPPED

    async def _pause(self, seconds: float, *until: asyncio.Future[Any]) -> None:
        """Wait `seconds` (with the charger's sleep), or less if one of `until` ends."""
        if any(f.done() for f in until):
            return
        sleeper = spawn(self._sleep(seconds), name=f"charger-wait-{self.charger_id}")
        try:
            await asyncio.wait({sleeper, *until}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()

    def _cancel_timers(self) -> None:
        for timer in (self._heartbeat_timer, self._meter_timer, self._queue_timer):
            if timer is not None:
                timer.cancel()
        for timer in self._reservation_timers.values():
            timer.cancel()
        self._heartbeat_timer = self._meter_timer = self._queue_timer = None
        self._reservation_timers.clear()

    async def _connection(self, stopped: asyncio.Future[Any]) -> None:
        self.state = ChargerState.CONNECTING
        headers = {}
        if self.password is not None:
            token = base64.b64encode(f"{self.charger_id}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        try:
            ws = await connect(
                f"{self.url}/{self.charger_id}",
                subprotocols=[Subprotocol(self.SUBPROTOCOL)],
                additional_headers=headers,
                compression=None,
                ping_interval=None,
                open_timeout=self.call_timeout,
                max_size=2**20 + 2**16,
                proxy=_proxy_for(self.url),
            )
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            self.counters.connect_failures += 1
            self.state = ChargerState.OFFLINE
            status = exc.response.status_code if isinstance(exc, InvalidStatus) else None
            log.info("charger_connect_failed", error=type(exc).__name__, status=status)
            return
        self.counters.connects += 1
        self._ws = ws
        cp = self._make_cp(ws)
        reader = spawn(_read(cp), name=f"charger-reader-{self.charger_id}")
        self._cp = cp
        try:
            rebooted = not self.booted
            if not await self._boot(cp, stopped, reader):
                return
            self.backoff.reset()
            self.state = ChargerState.ACCEPTED
            self._online.set()
            offline_for = self._clock() - self._offline_since
            if rebooted or offline_for > self._offline_threshold():
                await self._send_all_statuses()
            else:  # a short outage: only what changed meanwhile (2.0.1 OfflineThreshold)
                await self._send_changed_statuses()
            self._schedule_heartbeat()
            self._kick_queue()
            await asyncio.wait({reader, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if self._online.is_set():
                self._offline_since = self._clock()
            self._online.clear()
            self._cp = None
            self._ws = None
            self.state = ChargerState.OFFLINE
            for timer in (self._heartbeat_timer, self._queue_timer):
                if timer is not None:
                    timer.cancel()
            self._heartbeat_timer = self._queue_timer = None
            sender, self._sender = self._sender, None
            if sender is not None:
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)
            await ws.close()
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _boot(self, cp: Any, stopped: asyncio.Future[Any], reader: asyncio.Task[Any]) -> bool:
        """BootNotification until Accepted (retrying Pending/Rejected after the interval)."""
        if self.booted:
            return True
        self.state = ChargerState.BOOTING
        while not stopped.done() and not reader.done():
            self.counters.boots += 1
            try:
                response = await self._call(self._boot_request(), cp)
            except (TimeoutError, ConnectionClosed):
                return False
            except Exception as exc:  # a CALLERROR: firmware retries after a while
                self.counters.call_errors += 1
                log.info("charger_boot_failed", error=repr(exc))
                return False
            interval = float(response.interval or 0)
            if response.status == "Accepted":
                self.state = ChargerState.ACCEPTED
                self.booted = True
                if interval > 0:
                    self._set_heartbeat_interval(interval)
                return True
            self.state = (
                ChargerState.PENDING if response.status == "Pending" else ChargerState.REJECTED
            )
            log.info("charger_boot_not_accepted", status=response.status, retry_in=interval)
            await self._pause(interval if interval > 0 else 10.0, stopped, reader)
        return False

    # -- sending ---------------------------------------------------------------

    async def _call(self, request: Any, cp: Any = None) -> Any:
        """One CALL; raises TimeoutError, ConnectionClosed, or the CALLERROR as OCPPError."""
        cp = cp or self._cp
        if cp is None:
            raise ConnectionClosed(None, None)
        self.counters.calls += 1
        return await cp.call(request, suppress=False)

    async def send(self, request: Any) -> Any | None:
        """A non-transaction message: sent if online and accepted, dropped otherwise."""
        if not self._online.is_set():
            return None
        try:
            return await self._call(request)
        except Exception as exc:
            self.counters.call_errors += 1
            log.info("charger_call_failed", action=type(request).__name__, error=repr(exc))
            return None

    def _enqueue(self, action: str, payload: dict[str, Any]) -> None:
        item = self.queue.append(action, payload, self._clock())
        if not self._online.is_set():
            self._queued_offline.add(item.seq)
        self._kick_queue()

    def _kick_queue(self) -> None:
        """Start the queue sender if the charger is online and it is not running (it runs
        only while there is something to send: no task per idle charger)."""
        if self._queue_timer is not None:
            self._queue_timer.cancel()
            self._queue_timer = None
        if self._online.is_set() and (self._sender is None or self._sender.done()):
            self._sender = spawn(self._queue_sender(), name=f"charger-queue-{self.charger_id}")

    async def _queue_sender(self) -> None:
        """Send queued transaction messages strictly in order while online."""
        while True:
            item = self.queue.ready(self._clock())
            if item is None:
                head = self.queue.head()
                if head is not None:  # a retry is due later: a timer starts the sender again
                    delay = max(0.0, head.next_try - self._clock())
                    self._queue_timer = asyncio.get_running_loop().call_later(
                        delay, self._kick_queue
                    )
                return
            request = getattr(self.calls, item.action)(**item.payload)
            try:
                response = await self._call(request)
            except (ConnectionClosed, RuntimeError):
                return  # offline: the message stays queued, this attempt does not count
            except TimeoutError:
                self.queue.failed(self._clock())
                continue
            except Exception as exc:  # a CALLERROR
                self.counters.call_errors += 1
                outcome = self.queue.failed(self._clock())
                log.info(
                    "transaction_message_failed",
                    action=item.action,
                    error=repr(exc),
                    outcome=outcome,
                )
                continue
            if item.seq in self._queued_offline:
                self._queued_offline.discard(item.seq)
                self.counters.replayed += 1
            self.queue.sent()
            self._answered(item.action, item.payload, response)

    def _answered(self, action: str, payload: dict[str, Any], response: Any) -> None:
        """A queued transaction message was answered (1.6: StartTransaction gives the id)."""
        if action != "StartTransaction":
            return
        connector_id = payload["connector_id"]
        tx = self.transactions.get(connector_id)
        real = int(response.transaction_id)
        if tx is not None and not tx.confirmed:
            old = tx.transaction_id
            tx.transaction_id, tx.confirmed = real, True
            if old != real:
                self.queue.rewrite_transaction_id(old, real)
        status = (response.id_tag_info or {}).get("status")
        if status not in (None, "Accepted") and tx is not None:
            self.counters.transactions_rejected += 1
            log.info("transaction_not_accepted", connector_id=connector_id, status=status)
            self.background(self.stop_transaction(connector_id, "DeAuthorized"))

    def _schedule_heartbeat(self) -> None:
        if self._heartbeat_timer is not None:
            self._heartbeat_timer.cancel()
            self._heartbeat_timer = None
        if self.heartbeat_interval > 0 and self._online.is_set():
            self._heartbeat_timer = asyncio.get_running_loop().call_later(
                self.heartbeat_interval, self._heartbeat_due
            )

    def _heartbeat_due(self) -> None:
        self._heartbeat_timer = None
        if self._online.is_set():
            self.background(self.send(self.calls.Heartbeat()))
            self._schedule_heartbeat()

    async def _send_all_statuses(self) -> None:
        for connector in self.connectors.values():
            await self._status(connector)

    async def _send_changed_statuses(self) -> None:
        for n, connector in self.connectors.items():
            if self._reported.get(n) != (connector.status, connector.error_code):
                await self._status(connector)

    async def _status(self, connector: Connector) -> None:
        reported = (connector.status, connector.error_code)
        if await self.send(self._status_request(connector)) is not None:
            self._reported[connector.connector_id] = reported

    def _offline_threshold(self) -> float:
        """Offline longer than this, every connector's status is sent after reconnecting;
        shorter, only the ones that changed. 1.6 has no such key: always every one."""
        return 0.0

    def _fire_soon(self, connector_id: int, event: ConnectorEvent) -> bool:
        """`_fire` from a timer callback: the state changes now, the status is sent by a
        background task (in order: the library's call lock is first come, first served)."""
        connector = self.connectors[connector_id]
        if not connector.can(event):
            return False
        if connector.fire(event):
            self.background(self._status(connector))
        return True

    async def _fire(self, connector_id: int, event: ConnectorEvent) -> bool:
        connector = self.connectors[connector_id]
        if not connector.can(event):
            return False
        if connector.fire(event):
            await self._status(connector)
        return True

    # -- what a driver makes it do ------------------------------------------------

    def background(self, coro: Any, *, keep: bool = False) -> asyncio.Task[Any]:
        """Run `coro` as this charger's task (cancelled when the charger stops)."""
        task = spawn(coro, name=f"charger-{self.charger_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def can_start(self, connector_id: int | None) -> bool:
        """Whether a transaction may start on this connector now (RemoteStart's answer)."""
        n = connector_id or 1
        c = self.connectors.get(n)
        startable = (
            ConnectorStatus.AVAILABLE,
            ConnectorStatus.PREPARING,
            ConnectorStatus.FINISHING,
        )
        return (
            c is not None
            and n not in self.transactions
            and not c.pending_unavailable
            and c.status in startable
        )

    def connector_of(self, transaction_id: int | str) -> int | None:
        for n, tx in self.transactions.items():
            if tx.transaction_id == transaction_id:
                return n
        return None

    async def plug_in(self, connector_id: int = 1, ev: VirtualEV | None = None) -> None:
        """An EV arrives and is plugged in."""
        self.evs[connector_id] = ev or VirtualEV.random(self.rng)
        await self._fire(connector_id, ConnectorEvent.PLUG_IN)

    async def unplug(self, connector_id: int = 1) -> None:
        """The EV leaves (a running transaction is stopped first, reason EVDisconnected)."""
        if connector_id in self.transactions:
            await self.stop_transaction(connector_id, "EVDisconnected")
        self.evs[connector_id] = None
        await self._fire(connector_id, ConnectorEvent.UNPLUG)

    async def authorize(self, id_tag: str) -> str:
        """Authorize online (and remember the answer in the cache); offline, from the local
        list, then the cache (LocalAuthorizeOffline), then AllowOfflineTxForUnknownId."""
        if self._online.is_set():
            response = await self.send(self._authorize_request(id_tag))
            if response is not None:
                info = self._id_info(response)
                if self.keys.bool("AuthorizationCacheEnabled"):
                    with contextlib.suppress(ValueError):
                        self.auth_cache.store(id_tag, info)
                return str(info.get("status", "Invalid"))
        now = self.now_utc()
        if self.keys.bool("LocalAuthorizeOffline"):
            known = self.local_list.lookup(id_tag, now) or (
                self.auth_cache.lookup(id_tag, now)
                if self.keys.bool("AuthorizationCacheEnabled")
                else None
            )
            if known is not None:
                return known
        if self.keys.bool("AllowOfflineTxForUnknownId"):
            return "Accepted"
        return "Invalid" if self._online.is_set() else "Offline"

    def composite(self, connector_id: int, duration: int, unit: str | None) -> Any:
        """GetCompositeSchedule's fields, or None (Rejected)."""
        tx = self.transactions.get(connector_id)
        return self.profiles.composite(
            connector_id,
            self.now_utc(),
            duration,
            unit,
            tx_started=None if tx is None else tx.started_utc,
            transaction_id=_int_id(tx),
        )

    def power_limit_w(self, connector_id: int) -> float | None:
        """What the charging profiles allow on this connector now (None: no limit)."""
        tx = self.transactions.get(connector_id)
        return self.profiles.limit_w(
            connector_id,
            self.now_utc(),
            tx_started=None if tx is None else tx.started_utc,
            transaction_id=_int_id(tx),
        )

    async def start_transaction(self, connector_id: int = 1, id_tag: str = "SIM-TAG") -> bool:
        """Authorize and start a transaction on a plugged-in connector (a reservation of the
        connector admits only its own id tag)."""
        if connector_id in self.transactions or not self.connectors[connector_id].plugged:
            return False
        reservation = self.reservations.get(connector_id)
        if reservation is not None and reservation.id_tag != id_tag:
            return False
        if await self.authorize(id_tag) != "Accepted":
            return False
        await self._fire(connector_id, ConnectorEvent.AUTHORIZED)
        return await self._start(connector_id, id_tag)

    async def remote_start(self, id_tag: str, connector_id: int | None) -> None:
        n = connector_id or 1
        if self._remote_authorize() and await self.authorize(id_tag) != "Accepted":
            return
        if self.evs.get(n) is None:
            await self.plug_in(n)
        await self._fire(n, ConnectorEvent.AUTHORIZED)
        await self._start(n, id_tag, remote=True)

    async def _start(self, connector_id: int, id_tag: str, *, remote: bool = False) -> bool:
        if not self.connectors[connector_id].can(ConnectorEvent.TX_STARTED):
            return False  # e.g. Inoperative took effect, or no EV connected
        meter = self.meters[connector_id]
        tx = Transaction(
            connector_id,
            id_tag,
            int(meter.register_wh),
            self._clock(),
            self._new_transaction_id(),
            started_utc=self.now_utc(),
            remote=remote,
        )
        self.transactions[connector_id] = tx
        self.counters.transactions += 1
        reservation = self.reservations.pop(connector_id, None)
        if reservation is not None:
            timer = self._reservation_timers.pop(reservation.reservation_id, None)
            if timer is not None:
                timer.cancel()
        self._enqueue_started(tx, reservation)
        self._start_metering()
        await self._fire(connector_id, ConnectorEvent.TX_STARTED)
        return True

    async def stop_transaction(self, connector_id: int = 1, reason: str = "Local") -> None:
        tx = self.transactions.get(connector_id)
        if tx is None or tx.stopping:
            return
        tx.stopping = True
        self.counters.transactions_ended += 1
        self._enqueue_ended(tx, reason)
        del self.transactions[connector_id]
        self.profiles.transaction_ended(connector_id)
        await self._fire(connector_id, ConnectorEvent.TX_STOPPED)

    def change_availability(self, connector_id: int, kind: str) -> str:
        """ChangeAvailability: Accepted, or Scheduled while the connector is in use (§5.2)."""
        targets = list(self.connectors) if connector_id == 0 else [connector_id]
        if any(n not in self.connectors for n in targets):
            return "Rejected"
        event = (
            ConnectorEvent.MAKE_UNAVAILABLE
            if kind == "Inoperative"
            else ConnectorEvent.MAKE_AVAILABLE
        )
        scheduled = False
        for n in targets:
            connector = self.connectors[n]
            if not connector.can(event):
                continue
            if connector.fire(event):
                self.background(self._status(connector))
            if connector.pending_unavailable:
                scheduled = True
        return "Scheduled" if scheduled else "Accepted"

    def reserve(self, connector_id: int, expiry_date: str, id_tag: str, reservation_id: int) -> str:
        """ReserveNow (1.6 §5.13): Accepted, Faulted, Occupied, Rejected or Unavailable."""
        if connector_id == 0 and not self.keys.bool("ReserveConnectorZeroSupported"):
            return "Rejected"
        connector = self.connectors.get(connector_id)
        if connector is None:
            return "Rejected"
        replaced = False
        for n, r in list(self.reservations.items()):
            if r.reservation_id == reservation_id:  # the same id replaces its reservation
                del self.reservations[n]
                replaced = n == connector_id
        status = connector.status
        if replaced:
            status = ConnectorStatus.AVAILABLE  # it was ours: Reserved counts as free here
        if status is ConnectorStatus.FAULTED:
            return "Faulted"
        if status is ConnectorStatus.UNAVAILABLE:
            return "Unavailable"
        if connector_id in self.reservations:
            return "Occupied"  # reserved under another reservation id
        if status is not ConnectorStatus.AVAILABLE:
            return "Occupied"
        seconds = _seconds_until(expiry_date, self.now_utc())
        if seconds <= 0:
            return "Rejected"
        self.reservations[connector_id] = Reservation(
            reservation_id, connector_id, id_tag, self._clock() + seconds
        )
        if connector.can(ConnectorEvent.RESERVE) and connector.fire(ConnectorEvent.RESERVE):
            self.background(self._status(connector))
        old_timer = self._reservation_timers.pop(reservation_id, None)
        if old_timer is not None:
            old_timer.cancel()
        self._reservation_timers[reservation_id] = asyncio.get_running_loop().call_later(
            seconds, self._expire, reservation_id
        )
        return "Accepted"

    def cancel_reservation(self, reservation_id: int) -> bool:
        for n, r in list(self.reservations.items()):
            if r.reservation_id == reservation_id:
                del self.reservations[n]
                timer = self._reservation_timers.pop(reservation_id, None)
                if timer is not None:
                    timer.cancel()
                self._fire_soon(n, ConnectorEvent.RESERVATION_ENDED)
                return True
        return False

    def _expire(self, reservation_id: int) -> None:
        self._reservation_timers.pop(reservation_id, None)
        for n, r in list(self.reservations.items()):
            if r.reservation_id == reservation_id:
                del self.reservations[n]
                self._reservation_expired(r)

    def _reservation_expired(self, reservation: Reservation) -> None:
        """A reservation ran out (2.0.1 also tells the CSMS: ReservationStatusUpdate)."""
        self._fire_soon(reservation.connector_id, ConnectorEvent.RESERVATION_ENDED)

    async def upload_diagnostics(self) -> None:
        """GetDiagnostics: Uploading, then Uploaded (1.6 §4.4)."""
        for status in ("Uploading", "Uploaded"):
            await asyncio.sleep(self.step_delay)
            await self.send(call.DiagnosticsStatusNotification(status=status))

    async def update_firmware(self, retrieve_date: str) -> None:
        """UpdateFirmware: wait for retrieve_date, Downloading, Downloaded, Installing, reboot
        and boot again, then Installed (1.6 §4.5, §5.19)."""
        await asyncio.sleep(max(0.0, _seconds_until(retrieve_date, self.now_utc())))
        for status in ("Downloading", "Downloaded", "Installing"):
            await self.send(call.FirmwareStatusNotification(status=status))
            await asyncio.sleep(self.step_delay)
        self.firmware_version = f"{self.firmware_version}+1"
        connects = self.counters.connects
        await self.reset("Hard")
        async with asyncio.timeout(self.call_timeout * 10):
            await self.wait_booted()
            await self._online.wait()
        if self.counters.connects <= connects:
            return
        await self.send(call.FirmwareStatusNotification(status="Installed"))

    def change_configuration(self, key: str, value: str) -> str:
        status = self.keys.change(key, value)
        if status in ("Accepted", "RebootRequired"):
            # Key names are case-insensitive: re-read what the firmware acts on.
            self.heartbeat_interval = float(self.keys.int("HeartbeatInterval"))
            self._schedule_heartbeat()
            self.queue.set_limits(
                max_attempts=self.keys.int("TransactionMessageAttempts"),
                retry_interval=float(self.keys.int("TransactionMessageRetryInterval")),
            )
        return status

    async def triggered(self, message: str, connector_id: int | None) -> None:
        if message == "Heartbeat":
            await self.send(call.Heartbeat())
        elif message == "StatusNotification":
            for n, connector in self.connectors.items():
                if connector_id in (None, 0, n):
                    await self._status(connector)
        elif message == "MeterValues":
            for n in self.connectors:
                if connector_id in (None, 0, n):
                    await self.send(
                        call.MeterValues(connector_id=n, meter_value=[self._meter_value(n, 0.0)])
                    )
        elif message == "BootNotification":
            response = await self.send(
                call.BootNotification(
                    charge_point_vendor=self.vendor,
                    charge_point_model=self.model,
                    charge_point_serial_number=self.charger_id,
                    firmware_version="1.0.0",
                )
            )
            if response is not None and response.status == "Accepted" and response.interval:
                self.heartbeat_interval = float(response.interval)

    async def reset(self, kind: str) -> None:
        """Soft or hard reset: stop transactions, drop the connection, boot again."""
        for n in list(self.transactions):
            await self.stop_transaction(n, "SoftReset" if kind == "Soft" else "HardReset")
        await asyncio.sleep(0.1)  # let the queue sender try to send the stops
        self.booted = False
        self._reconnect_now.set()
        if self._ws is not None:
            await self._ws.close()

    def power_loss(self, *, keep_queue: bool = True) -> None:
        """The charger loses power: the connection is gone, transactions end, and the
        queue is kept (non-volatile) or lost."""
        if not keep_queue:
            self.queue = TransactionQueue(
                max_attempts=self.keys.int("TransactionMessageAttempts"),
                retry_interval=float(self.keys.int("TransactionMessageRetryInterval")),
            )
        self.booted = False
        self._reconnect_now.set()
        if self._ws is not None:
            self.background(self._ws.close())

    # -- the firmware's own faults (scenarios trigger them) ---------------------------

    def now_utc(self) -> datetime:
        """The charger's clock: UTC, off by `clock_offset_s` and drifting at
        `clock_drift_ppm` (timestamps, profile schedules and expiry checks use it)."""
        now = datetime.now(UTC)
        offset = self.clock_offset_s
        if self.clock_drift_ppm:
            offset += (self._clock() - self._drift_since) * self.clock_drift_ppm / 1e6
        return now + timedelta(seconds=offset) if offset else now

    def timestamp(self) -> str:
        """The charger's clock as an OCPP timestamp (milliseconds, Z)."""
        return ocpp_timestamp(self.now_utc())

    def drift_clock(self, offset_s: float, ppm: float = 0.0) -> None:
        """Clock drift: the clock jumps `offset_s` seconds (negative: behind) and from now
        gains `ppm` microseconds per second. The firmware does not correct it from the
        CSMS's currentTime (many real chargers do not): `drift_clock(0)` puts it right."""
        self.clock_offset_s = float(offset_s)
        self.clock_drift_ppm = float(ppm)
        self._drift_since = self._clock()

    async def connector_fault(
        self, connector_id: int = 1, error_code: str = "GroundFailure"
    ) -> None:
        """A connector fails: Faulted with `error_code` (1.6 ChargePointErrorCode), and a
        transaction on it ends (reason Other) since charging stopped."""
        if error_code not in ERROR_CODES or error_code == "NoError":
            raise ValueError(f"{error_code!r} is not a ChargePointErrorCode fault")
        connector = self.connectors[connector_id]
        connector.error_code = error_code
        await self._fire(connector_id, ConnectorEvent.FAULT)
        if connector_id in self.transactions:
            await self.stop_transaction(connector_id, "Other")

    async def clear_connector_fault(self, connector_id: int = 1) -> None:
        """The fault is gone: the connector is usable again (Available, or Preparing with
        a car plugged in, as the status table says)."""
        await self._fire(connector_id, ConnectorEvent.FAULT_CLEARED)

    # -- metering -----------------------------------------------------------------

    def _meter_value(self, connector_id: int, power_w: float) -> dict[str, Any]:
        ev = self.evs.get(connector_id) or VirtualEV(soc=0.0)
        s = sample(ev, self.meters[connector_id], power_w)
        measurands = self.keys.csl("MeterValuesSampledData")
        values = {
            "Energy.Active.Import.Register": (f"{s.energy_wh:.1f}", "Wh"),
            "Power.Active.Import": (f"{s.power_w:.1f}", "W"),
            "Current.Import": (f"{s.current_a:.2f}", "A"),
            "Voltage": (f"{s.voltage_v:.1f}", "V"),
            "SoC": (f"{s.soc_percent:.0f}", "Percent"),
        }
        sampled = []
        for m in measurands:
            if m in values:
                value, unit = values[m]
                item = {"value": value, "context": "Sample.Periodic", "measurand": m, "unit": unit}
                if m == "SoC":
                    item["location"] = "EV"
                sampled.append(item)
        return {"timestamp": self.timestamp(), "sampled_value": sampled}

    METER_STEP = 1.0
    """Seconds between steps of the EVs' charging (and checks of profile limits)."""

    def _start_metering(self) -> None:
        """Charge the EVs in transactions, one step a second, while there is a transaction."""
        if self._meter_timer is None:
            self._since_sample = 0.0
            self._meter_timer = asyncio.get_running_loop().call_later(
                self.METER_STEP, self._meter_step
            )

    def _meter_step(self) -> None:
        """Charge every EV in a transaction, and queue MeterValues at the sample interval."""
        self._meter_timer = None
        if not self.transactions:
            return
        step = self.METER_STEP
        self._since_sample += step
        due = self._since_sample >= self._sample_interval()
        if due:
            self._since_sample = 0.0
        for n, tx in list(self.transactions.items()):
            ev = self.evs.get(n)
            if ev is None or tx.stopping:
                continue
            connector = self.connectors[n]
            limit = self._power_limit(n)
            # A charging profile at 0 W suspends charging (SuspendedEVSE); a limit above 0
            # lets it resume.
            if limit is not None and limit <= 0:
                self._fire_soon(n, ConnectorEvent.EVSE_SUSPEND)
            elif connector.status is ConnectorStatus.SUSPENDED_EVSE:
                self._fire_soon(n, ConnectorEvent.EVSE_RESUME)
            power = 0.0
            if connector.status is ConnectorStatus.CHARGING:
                power = ev.acceptance_w() if limit is None else min(ev.acceptance_w(), limit)
                self.meters[n].add(ev.charge(step, limit))
                if ev.full:
                    self._fire_soon(n, ConnectorEvent.EV_SUSPEND)
            if due:
                self._enqueue_updated(tx, power)
        self._meter_timer = asyncio.get_running_loop().call_later(step, self._meter_step)

    def _power_limit(self, connector_id: int) -> float | None:
        """The lower of the charging profiles' limit and the connector's own maximum."""
        limit = self.power_limit_w(connector_id)
        own = self.connector_max_w.get(connector_id)
        if own is None:
            return limit
        return own if limit is None else min(limit, own)

    # -- what differs between OCPP versions (1.6 here; VirtualCharger201 overrides) ----

    def _make_cp(self, ws: ClientConnection) -> Any:
        return _CP16(self, ws)

    def _new_transaction_id(self) -> int | str:
        """1.6: a provisional (negative) id until the CSMS gives one."""
        self._provisional -= 1
        return self._provisional

    def _remote_authorize(self) -> bool:
        """Whether a remote start is authorized first (AuthorizeRemoteTxRequests)."""
        return self.keys.bool("AuthorizeRemoteTxRequests")

    def _boot_request(self) -> Any:
        return call.BootNotification(
            charge_point_vendor=self.vendor,
            charge_point_model=self.model,
            charge_point_serial_number=self.charger_id,
            firmware_version=self.firmware_version,
        )

    def _set_heartbeat_interval(self, interval: float) -> None:
        """The CSMS sets the heartbeat interval at boot (1.6 §4.2): keep the key in step."""
        self.keys.change("HeartbeatInterval", str(max(1, round(interval))))
        self.heartbeat_interval = interval

    def _status_request(self, connector: Connector) -> Any:
        return call.StatusNotification(
            connector_id=connector.connector_id,
            error_code=connector.error_code,
            status=connector.status.value,
            timestamp=self.timestamp(),
        )

    def _authorize_request(self, id_tag: str) -> Any:
        return call.Authorize(id_tag=id_tag)

    def _id_info(self, response: Any) -> dict[str, Any]:
        return dict(response.id_tag_info or {})

    def _sample_interval(self) -> int:
        return self.keys.int("MeterValueSampleInterval")

    def _enqueue_started(self, tx: Transaction, reservation: Reservation | None) -> None:
        start: dict[str, Any] = {
            "connector_id": tx.connector_id,
            "id_tag": tx.id_tag,
            "meter_start": tx.meter_start,
            "timestamp": self.timestamp(),
        }
        if reservation is not None:
            start["reservation_id"] = reservation.reservation_id
        self._enqueue("StartTransaction", start)

    def _enqueue_updated(self, tx: Transaction, power_w: float) -> None:
        self._enqueue(
            "MeterValues",
            {
                "connector_id": tx.connector_id,
                "transaction_id": tx.transaction_id,
                "meter_value": [self._meter_value(tx.connector_id, power_w)],
            },
        )

    def _enqueue_ended(self, tx: Transaction, reason: str) -> None:
        self._enqueue(
            "StopTransaction",
            {
                "transaction_id": tx.transaction_id,
                "meter_stop": int(self.meters[tx.connector_id].register_wh),
                "timestamp": self.timestamp(),
                "reason": reason,
                "id_tag": tx.id_tag,
            },
        )
