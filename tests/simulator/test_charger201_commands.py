"""The 2.0.1 charger's CSMS commands against a scripted ocpp-library 2.0.1 CSMS on 127.0.0.1:
smart charging, the local list and offline authorization, reservations, firmware and logs,
Reset and TriggerMessage. Each test checks the answer and what the charger then does."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.routing import on
from ocpp.v201 import ChargePoint as CentralSide
from ocpp.v201 import call, call_result
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ocpp_chaos.simulator.charger import ChargerState
from ocpp_chaos.simulator.charger201 import VirtualCharger201
from ocpp_chaos.simulator.ev import VirtualEV
from tests.simulator.test_charger import Running, until
from tests.simulator.test_charger201 import FAST, fast_charger

NOW = "2026-11-25T00:00:00.000Z"


def at(seconds: float) -> str:
    """An OCPP date-time `seconds` from now."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


class CSMS201:
    """A 2.0.1 central system on the ocpp library: records every request it gets, answers
    Authorize from `tokens` (Accepted for the others), and lets the test send commands."""

    def __init__(self, tokens: dict[str, str] | None = None) -> None:
        self.tokens = dict(tokens or {})
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.sides: dict[str, Any] = {}
        self.port = 0
        self._server: Any = None

    async def __aenter__(self) -> CSMS201:
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
        await self.stop()

    async def stop(self) -> None:
        """Close the server and every connection: the chargers are offline."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def of(self, action: str) -> list[dict[str, Any]]:
        """The payloads of `action` received so far, in order."""
        return [payload for name, payload in self.received if name == action]

    def updated(self) -> list[dict[str, Any]]:
        """TransactionEvent Updated payloads."""
        return [e for e in self.of("TransactionEvent") if e["event_type"] == "Updated"]

    def statuses(self) -> list[str]:
        return [p["connector_status"] for p in self.of("StatusNotification")]

    async def _handle(self, ws: ServerConnection) -> None:
        charger_id = ws.request.path.rsplit("/", 1)[-1]
        csms = self

        class Side(CentralSide):  # type: ignore[misc]
            @on("BootNotification")
            def on_boot(self, **kw: Any) -> Any:
                csms.received.append(("BootNotification", kw))
                return call_result.BootNotification(current_time=NOW, interval=1, status="Accepted")

            @on("Heartbeat")
            def on_heartbeat(self, **_: Any) -> Any:
                return call_result.Heartbeat(current_time=NOW)

            @on("StatusNotification")
            def on_status(self, **kw: Any) -> Any:
                csms.received.append(("StatusNotification", kw))
                return call_result.StatusNotification()

            @on("Authorize")
            def on_authorize(self, id_token: dict[str, Any], **kw: Any) -> Any:
                csms.received.append(("Authorize", {"id_token": id_token, **kw}))
                status = csms.tokens.get(id_token["id_token"], "Accepted")
                return call_result.Authorize(id_token_info={"status": status})

            @on("TransactionEvent")
            def on_event(self, **kw: Any) -> Any:
                csms.received.append(("TransactionEvent", kw))
                return call_result.TransactionEvent()

            @on("MeterValues")
            def on_meter_values(self, **kw: Any) -> Any:
                csms.received.append(("MeterValues", kw))
                return call_result.MeterValues()

            @on("FirmwareStatusNotification")
            def on_firmware(self, **kw: Any) -> Any:
                csms.received.append(("FirmwareStatusNotification", kw))
                return call_result.FirmwareStatusNotification()

            @on("LogStatusNotification")
            def on_log(self, **kw: Any) -> Any:
                csms.received.append(("LogStatusNotification", kw))
                return call_result.LogStatusNotification()

            @on("ReservationStatusUpdate")
            def on_reservation(self, **kw: Any) -> Any:
                csms.received.append(("ReservationStatusUpdate", kw))
                return call_result.ReservationStatusUpdate()

        side = Side(charger_id, ws)
        self.sides[charger_id] = side
        with contextlib.suppress(ConnectionClosed):
            await side.start()


def measured(event: dict[str, Any], measurand: str) -> float:
    """A sampled value of a TransactionEvent or MeterValues payload."""
    for value in event["meter_value"][0]["sampled_value"]:
        if value["measurand"] == measurand:
            return float(value["value"])
    raise KeyError(measurand)


def power(event: dict[str, Any]) -> float:
    return measured(event, "Power.Active.Import")


def energy(event: dict[str, Any]) -> float:
    return measured(event, "Energy.Active.Import.Register")


def last_power(csms: CSMS201) -> float | None:
    updated = csms.updated()
    return power(updated[-1]) if updated else None


def profile(
    profile_id: int,
    purpose: str,
    limit: float,
    *,
    stack_level: int = 0,
    transaction_id: str | None = None,
    kind: str = "Relative",
    start: str | None = None,
) -> dict[str, Any]:
    """A 2.0.1 charging_profile with one schedule of one period at `limit` W."""
    schedule: dict[str, Any] = {
        "id": profile_id,
        "charging_rate_unit": "W",
        "charging_schedule_period": [{"start_period": 0, "limit": limit}],
    }
    if start is not None:
        schedule["start_schedule"] = start
    payload: dict[str, Any] = {
        "id": profile_id,
        "stack_level": stack_level,
        "charging_profile_purpose": purpose,
        "charging_profile_kind": kind,
        "charging_schedule": [schedule],
    }
    if transaction_id is not None:
        payload["transaction_id"] = transaction_id
    return payload


def online(charger: VirtualCharger201) -> bool:
    return charger.state == ChargerState.ACCEPTED


def set_variable(component: str, variable: str, value: str) -> dict[str, Any]:
    return {
        "attribute_value": value,
        "component": {"name": component},
        "variable": {"name": variable},
    }


# -- smart charging ------------------------------------------------------------------------


async def test_charging_profiles_lower_the_power_and_clearing_restores_it() -> None:
    async with CSMS201() as csms:
        charger = fast_charger("K-1", csms.url)
        async with Running(charger):
            await until(lambda: online(charger))
            side = csms.sides["K-1"]
            await charger.plug_in(1, VirtualEV(soc=0.2, max_power_w=11_000.0))
            assert await charger.start_transaction(1, "TAG-1")
            await until(lambda: last_power(csms) == 11_000.0)
            tx_id = str(charger.transactions[1].transaction_id)

            # a TxProfile needs the running transaction on that EVSE
            for evse_id, body in (
                (1, profile(1, "TxProfile", 2000, transaction_id="not-running")),
                (1, {**profile(1, "TxProfile", 2000), "transaction_id": None}),
                (0, profile(1, "TxProfile", 2000, transaction_id=tx_id)),
                (1, profile(1, "ChargingStationExternalConstraints", 2000)),
                (1, profile(1, "ChargingStationMaxProfile", 2000)),  # only on EVSE 0
                (3, profile(1, "TxDefaultProfile", 2000)),  # no such EVSE
            ):
                body = {k: v for k, v in body.items() if v is not None}
                answer = await side.call(
                    call.SetChargingProfile(evse_id=evse_id, charging_profile=body)
                )
                assert answer.status == "Rejected", body
            assert charger.power_limit_w(1) is None

            tx_profile = profile(1, "TxProfile", 2000, transaction_id=tx_id)
            answer = await side.call(
                call.SetChargingProfile(evse_id=1, charging_profile=tx_profile)
            )
            assert answer.status == "Accepted"
            assert charger.power_limit_w(1) == 2000
            await until(lambda: last_power(csms) == 2000.0, timeout=20)
            # what the EV took in that meter step: 2 kW for one second, not 11 kW
            before, limited = csms.updated()[-2:]
            assert energy(limited) - energy(before) <= 2000 / 3600 + 0.15
            assert charger.evs[1] is not None and charger.evs[1].acceptance_w() == 11_000.0

            composite = await side.call(
                call.GetCompositeSchedule(duration=300, evse_id=1, charging_rate_unit="W")
            )
            assert composite.status == "Accepted"
            assert composite.schedule["evse_id"] == 1
            assert composite.schedule["duration"] == 300
            assert composite.schedule["charging_rate_unit"] == "W"
            assert composite.schedule["charging_schedule_period"][0] == {
                "start_period": 0,
                "limit": 2000,
            }

            # the station maximum (EVSE 0, absolute) caps the transaction's profile
            station_max = profile(
                2, "ChargingStationMaxProfile", 1500, kind="Absolute", start=at(-60)
            )
            answer = await side.call(
                call.SetChargingProfile(evse_id=0, charging_profile=station_max)
            )
            assert answer.status == "Accepted"
            await until(lambda: last_power(csms) == 1500.0, timeout=20)
            for evse_id in (0, 1):
                stacked = await side.call(
                    call.GetCompositeSchedule(duration=60, evse_id=evse_id, charging_rate_unit="W")
                )
                assert stacked.status == "Accepted"
                assert stacked.schedule["charging_schedule_period"][0]["limit"] == 1500

            cleared = await side.call(call.ClearChargingProfile(charging_profile_id=2))
            assert cleared.status == "Accepted"
            await until(lambda: last_power(csms) == 2000.0, timeout=20)
            cleared = await side.call(
                call.ClearChargingProfile(
                    charging_profile_criteria={
                        "evse_id": 1,
                        "charging_profile_purpose": "TxProfile",
                    }
                )
            )
            assert cleared.status == "Accepted" and charger.power_limit_w(1) is None
            await until(lambda: last_power(csms) == 11_000.0, timeout=20)
            before, unlimited = csms.updated()[-2:]
            assert energy(unlimited) - energy(before) >= 11_000 / 3600 - 0.15
            again = await side.call(call.ClearChargingProfile(charging_profile_id=1))
            assert again.status == "Unknown"

            # without profiles the composite schedule is what the EVSE can deliver
            free = await side.call(call.GetCompositeSchedule(duration=60, evse_id=1))
            assert free.status == "Accepted"
            assert free.schedule["charging_rate_unit"] == "A"
            assert free.schedule["charging_schedule_period"] == [{"start_period": 0, "limit": 32}]
            unknown = await side.call(call.GetCompositeSchedule(duration=60, evse_id=4))
            assert unknown.status == "Rejected"

            # a TxProfile ends with its transaction
            answer = await side.call(
                call.SetChargingProfile(evse_id=1, charging_profile=tx_profile)
            )
            assert answer.status == "Accepted"
            await charger.stop_transaction(1)
            assert charger.profiles.profiles == []
            stale = await side.call(call.SetChargingProfile(evse_id=1, charging_profile=tx_profile))
            assert stale.status == "Rejected"

            # smart charging switched off: profiles are refused
            switched = await side.call(
                call.SetVariables(
                    set_variable_data=[set_variable("SmartChargingCtrlr", "Enabled", "false")]
                )
            )
            assert switched.set_variable_result[0]["attribute_status"] == "Accepted"
            default = profile(3, "TxDefaultProfile", 4000)
            refused = await side.call(call.SetChargingProfile(evse_id=1, charging_profile=default))
            assert refused.status == "Rejected"


# -- local list and authorization -----------------------------------------------------------


def entry(token: str, status: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"id_token": {"id_token": token, "type": "ISO14443"}}
    if status is not None:
        item["id_token_info"] = {"status": status}
    return item


async def test_local_list_versions_and_offline_authorization() -> None:
    config = {**FAST, "AuthCacheCtrlr.Enabled": "true"}
    async with CSMS201(tokens={"CSMS-BLOCKED": "Blocked"}) as csms:
        charger = fast_charger("D-1", csms.url, config=config)
        async with Running(charger):
            await until(lambda: online(charger))
            side = csms.sides["D-1"]
            assert (await side.call(call.GetLocalListVersion())).version_number == 0
            full = await side.call(
                call.SendLocalList(
                    version_number=3,
                    update_type="Full",
                    local_authorization_list=[
                        entry("LOCAL-OK", "Accepted"),
                        entry("LOCAL-BLOCKED", "Blocked"),
                    ],
                )
            )
            assert full.status == "Accepted"
            assert (await side.call(call.GetLocalListVersion())).version_number == 3
            stale = await side.call(
                call.SendLocalList(
                    version_number=3,
                    update_type="Differential",
                    local_authorization_list=[entry("LOCAL-2", "Accepted")],
                )
            )
            assert stale.status == "VersionMismatch"
            differential = await side.call(
                call.SendLocalList(
                    version_number=4,
                    update_type="Differential",
                    local_authorization_list=[
                        entry("LOCAL-LATE", "NotAtThisTime"),
                        entry("LOCAL-BLOCKED", None),  # removed
                    ],
                )
            )
            assert differential.status == "Accepted"
            assert (await side.call(call.GetLocalListVersion())).version_number == 4
            assert len(charger.local_list) == 2
            assert charger.device.int("LocalAuthListCtrlr", "Entries") == 2
            duplicate = await side.call(
                call.SendLocalList(
                    version_number=5,
                    update_type="Full",
                    local_authorization_list=[entry("X", "Accepted"), entry("X", "Blocked")],
                )
            )
            assert duplicate.status == "Failed"
            assert (await side.call(call.GetLocalListVersion())).version_number == 4

            # online, the CSMS decides (and its answers go into the cache)
            assert await charger.authorize("CACHED") == "Accepted"
            assert await charger.authorize("CSMS-BLOCKED") == "Blocked"
            assert [a["id_token"]["id_token"] for a in csms.of("Authorize")] == [
                "CACHED",
                "CSMS-BLOCKED",
            ]

            await csms.stop()  # the CSMS goes away: the charger is offline
            await until(lambda: not online(charger))
            assert await charger.authorize("LOCAL-OK") == "Accepted"  # the local list
            assert await charger.authorize("CACHED") == "Accepted"  # the cache
            assert await charger.authorize("CSMS-BLOCKED") == "Blocked"
            assert await charger.authorize("LOCAL-LATE") != "Accepted"
            assert await charger.authorize("LOCAL-BLOCKED") == "Unknown"  # removed
            assert await charger.authorize("STRANGER") == "Unknown"
            assert len(csms.of("Authorize")) == 2  # nothing was sent while offline

            # unknown tokens are let in only with OfflineTxForUnknownIdEnabled
            charger.device.set_variables(
                [set_variable("AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true")]
            )
            assert await charger.authorize("STRANGER") == "Accepted"
            assert await charger.authorize("CSMS-BLOCKED") == "Blocked"  # known: not unknown
            # without LocalAuthorizeOffline the list and cache do not authorize
            charger.device.set_variables(
                [set_variable("AuthCtrlr", "LocalAuthorizeOffline", "false")]
            )
            assert await charger.authorize("LOCAL-OK") != "Accepted"
            # and an offline transaction needs an authorized token
            await charger.plug_in(1)
            charger.device.set_variables(
                [set_variable("AuthCtrlr", "OfflineTxForUnknownIdEnabled", "false")]
            )
            assert not await charger.start_transaction(1, "STRANGER")


async def test_a_disabled_local_list_fails_and_reports_version_0() -> None:
    config = {**FAST, "LocalAuthListCtrlr.Enabled": "false"}
    async with CSMS201() as csms:
        charger = fast_charger("D-2", csms.url, config=config)
        async with Running(charger):
            await until(lambda: online(charger))
            side = csms.sides["D-2"]
            sent = await side.call(
                call.SendLocalList(
                    version_number=1,
                    update_type="Full",
                    local_authorization_list=[entry("LOCAL-OK", "Accepted")],
                )
            )
            assert sent.status == "Failed"
            assert (await side.call(call.GetLocalListVersion())).version_number == 0
            await csms.stop()
            await until(lambda: not online(charger))
            assert await charger.authorize("LOCAL-OK") == "Unknown"


# -- reservations ---------------------------------------------------------------------------


async def test_reservations_reserve_expire_cancel_and_are_used() -> None:
    mine = {"id_token": "MINE", "type": "ISO14443"}
    async with CSMS201() as csms:
        charger = fast_charger("H-1", csms.url)
        async with Running(charger):
            await until(lambda: online(charger))
            side = csms.sides["H-1"]
            reserved = await side.call(
                call.ReserveNow(id=7, expiry_date_time=at(120), id_token=mine, evse_id=1)
            )
            assert reserved.status == "Accepted"
            await until(lambda: csms.statuses()[-1:] == ["Reserved"])
            other = await side.call(
                call.ReserveNow(
                    id=8,
                    expiry_date_time=at(120),
                    id_token={"id_token": "OTHER", "type": "ISO14443"},
                    evse_id=1,
                )
            )
            assert other.status == "Occupied"
            for kwargs in (
                {},  # no EVSE: this station does not reserve an unspecified one
                {"evse_id": 5},
                {"evse_id": 1, "connector_type": "cCCS2"},
            ):
                refused = await side.call(
                    call.ReserveNow(id=11, expiry_date_time=at(120), id_token=mine, **kwargs)
                )
                assert refused.status == "Rejected", kwargs

            cancelled = await side.call(call.CancelReservation(reservation_id=7))
            assert cancelled.status == "Accepted"
            await until(lambda: csms.statuses()[-1:] == ["Available"])
            gone = await side.call(call.CancelReservation(reservation_id=7))
            assert gone.status == "Rejected"

            # a reservation that runs out: Expired, and the EVSE is Available again
            short = await side.call(
                call.ReserveNow(id=9, expiry_date_time=at(2), id_token=mine, evse_id=1)
            )
            assert short.status == "Accepted"
            await until(lambda: csms.statuses()[-1:] == ["Reserved"])
            await until(lambda: bool(csms.of("ReservationStatusUpdate")))
            assert csms.of("ReservationStatusUpdate") == [
                {"reservation_id": 9, "reservation_update_status": "Expired"}
            ]
            await until(lambda: csms.statuses()[-1:] == ["Available"])
            assert not charger.reservations

            # a reservation admits only its token, and the transaction carries its id
            used = await side.call(
                call.ReserveNow(id=10, expiry_date_time=at(120), id_token=mine, evse_id=1)
            )
            assert used.status == "Accepted"
            await charger.plug_in(1)
            assert not await charger.start_transaction(1, "OTHER")
            assert await charger.start_transaction(1, "MINE")
            await until(lambda: bool(csms.of("TransactionEvent")))
            started = csms.of("TransactionEvent")[0]
            assert started["event_type"] == "Started" and started["reservation_id"] == 10
            consumed = await side.call(call.CancelReservation(reservation_id=10))
            assert consumed.status == "Rejected"

            # reservations switched off
            await side.call(
                call.SetVariables(
                    set_variable_data=[set_variable("ReservationCtrlr", "Enabled", "false")]
                )
            )
            off = await side.call(
                call.ReserveNow(id=12, expiry_date_time=at(120), id_token=mine, evse_id=1)
            )
            assert off.status == "Rejected"
            assert csms.of("ReservationStatusUpdate") == [
                {"reservation_id": 9, "reservation_update_status": "Expired"}
            ]


# -- firmware and logs ----------------------------------------------------------------------


async def test_update_firmware_reboots_and_get_log_uploads() -> None:
    async with CSMS201() as csms:
        charger = fast_charger("L-1", csms.url)
        charger.step_delay = 0.05
        async with Running(charger):
            await until(lambda: online(charger))
            side = csms.sides["L-1"]
            first_version = charger.firmware_version
            later = await side.call(
                call.UpdateFirmware(
                    request_id=5,
                    firmware={"location": "http://127.0.0.1/fw.bin", "retrieve_date_time": at(600)},
                )
            )
            assert later.status == "Accepted"
            # a new request cancels the waiting one
            now = await side.call(
                call.UpdateFirmware(
                    request_id=6,
                    firmware={"location": "http://127.0.0.1/fw.bin", "retrieve_date_time": at(0)},
                )
            )
            assert now.status == "AcceptedCanceled"
            await until(
                lambda: any(
                    p["status"] == "Installed" for p in csms.of("FirmwareStatusNotification")
                ),
                timeout=20,
            )
            notifications = csms.of("FirmwareStatusNotification")
            assert [p["status"] for p in notifications] == [
                "Downloading",
                "Downloaded",
                "Installing",
                "Installed",
            ]
            assert {p["request_id"] for p in notifications} == {6}
            boots = csms.of("BootNotification")
            assert [b["reason"] for b in boots] == ["PowerUp", "FirmwareUpdate"]
            assert boots[0]["charging_station"]["firmware_version"] == first_version
            assert boots[1]["charging_station"]["firmware_version"] == charger.firmware_version
            assert charger.firmware_version != first_version
            assert charger.boot_reason == "PowerUp"
            # the Installed notification was sent after the reboot, on the new connection
            order = [name for name, _ in csms.received]
            installed = max(
                i
                for i, (name, p) in enumerate(csms.received)
                if name == "FirmwareStatusNotification" and p["status"] == "Installed"
            )
            assert order.index("BootNotification", 1) < installed

            side = csms.sides["L-1"]  # the connection after the reboot
            await until(lambda: charger.firmware_status == ("Idle", None))
            idle = await side.call(
                call.TriggerMessage(requested_message="FirmwareStatusNotification")
            )
            assert idle.status == "Accepted"
            await until(lambda: csms.of("FirmwareStatusNotification")[-1]["status"] == "Idle")

            got = await side.call(
                call.GetLog(
                    log={"remote_location": "ftp://127.0.0.1/logs/"},
                    log_type="DiagnosticsLog",
                    request_id=9,
                )
            )
            assert got.status == "Accepted" and got.filename
            await until(
                lambda: any(p["status"] == "Uploaded" for p in csms.of("LogStatusNotification"))
            )
            assert csms.of("LogStatusNotification") == [
                {"status": "Uploading", "request_id": 9},
                {"status": "Uploaded", "request_id": 9},
            ]
            await until(lambda: charger.log_status == ("Idle", None))
            log_idle = await side.call(
                call.TriggerMessage(requested_message="LogStatusNotification")
            )
            assert log_idle.status == "Accepted"
            await until(lambda: csms.of("LogStatusNotification")[-1] == {"status": "Idle"})


# -- reset ----------------------------------------------------------------------------------


def ended(csms: CSMS201) -> list[dict[str, Any]]:
    return [e for e in csms.of("TransactionEvent") if e["event_type"] == "Ended"]


async def test_reset_immediate_and_on_idle() -> None:
    async with CSMS201() as csms:
        charger = fast_charger("B-1", csms.url)
        async with Running(charger):
            await until(lambda: online(charger))
            await charger.plug_in(1)
            assert await charger.start_transaction(1, "T1")
            await until(lambda: bool(csms.of("TransactionEvent")))

            unknown = await csms.sides["B-1"].call(call.Reset(type="Immediate", evse_id=4))
            assert unknown.status == "Rejected"
            immediate = await csms.sides["B-1"].call(call.Reset(type="Immediate"))
            assert immediate.status == "Accepted"
            await until(lambda: len(csms.of("BootNotification")) == 2, timeout=20)
            assert csms.of("BootNotification")[1]["reason"] == "RemoteReset"
            await until(lambda: len(ended(csms)) == 1, timeout=20)
            assert ended(csms)[0]["transaction_info"]["stopped_reason"] == "ImmediateReset"
            assert ended(csms)[0]["trigger_reason"] == "ResetCommand"
            await until(lambda: online(charger) and charger.boot_reason == "PowerUp")

            # OnIdle while a transaction runs: Scheduled, the reboot waits for its end
            assert await charger.start_transaction(1, "T2")
            tx2 = str(charger.transactions[1].transaction_id)
            scheduled = await csms.sides["B-1"].call(call.Reset(type="OnIdle"))
            assert scheduled.status == "Scheduled"
            seen = len(csms.updated())
            await until(lambda: len(csms.updated()) >= seen + 3, timeout=20)  # time passes
            assert len(csms.of("BootNotification")) == 2
            assert 1 in charger.transactions and charger.booted
            await charger.stop_transaction(1, "Local")
            await until(lambda: len(csms.of("BootNotification")) == 3, timeout=20)
            assert csms.of("BootNotification")[2]["reason"] == "RemoteReset"
            await until(lambda: len(ended(csms)) == 2, timeout=20)
            last = ended(csms)[1]
            assert last["transaction_info"]["transaction_id"] == tx2
            assert last["transaction_info"]["stopped_reason"] == "Local"

            # OnIdle when idle: now
            await until(lambda: online(charger) and charger.boot_reason == "PowerUp")
            idle = await csms.sides["B-1"].call(call.Reset(type="OnIdle"))
            assert idle.status == "Accepted"
            await until(lambda: len(csms.of("BootNotification")) == 4, timeout=20)
            assert csms.of("BootNotification")[3]["reason"] == "RemoteReset"


# -- TriggerMessage -------------------------------------------------------------------------


async def test_trigger_message_variants() -> None:
    async with CSMS201() as csms:
        charger = fast_charger(
            "F-1", csms.url, config={**FAST, "SampledDataCtrlr.TxUpdatedInterval": "3600"}
        )
        async with Running(charger):
            await until(lambda: online(charger))
            side = csms.sides["F-1"]

            async def trigger(message: str, **kwargs: Any) -> str:
                answer = await side.call(call.TriggerMessage(requested_message=message, **kwargs))
                return str(answer.status)

            assert await trigger("MeterValues", evse={"id": 1}) == "Accepted"
            await until(lambda: bool(csms.of("MeterValues")))
            meter = csms.of("MeterValues")[0]
            assert meter["evse_id"] == 1
            assert meter["meter_value"][0]["sampled_value"][0]["context"] == "Trigger"

            assert await trigger("TransactionEvent") == "Rejected"  # none running
            await charger.plug_in(1, VirtualEV(soc=0.2, max_power_w=7_400.0))
            assert await charger.start_transaction(1, "T")
            assert await trigger("TransactionEvent", evse={"id": 1}) == "Accepted"

            def triggered_event() -> dict[str, Any] | None:
                for event in csms.of("TransactionEvent"):
                    if event["trigger_reason"] == "Trigger":
                        return event
                return None

            await until(lambda: triggered_event() is not None)
            event = triggered_event()
            assert event is not None and event["event_type"] == "Updated"
            assert event["transaction_info"]["transaction_id"] == str(
                charger.transactions[1].transaction_id
            )

            assert await trigger("FirmwareStatusNotification") == "Accepted"
            await until(lambda: bool(csms.of("FirmwareStatusNotification")))
            assert csms.of("FirmwareStatusNotification") == [{"status": "Idle"}]
            assert await trigger("LogStatusNotification") == "Accepted"
            await until(lambda: bool(csms.of("LogStatusNotification")))
            assert csms.of("LogStatusNotification") == [{"status": "Idle"}]

            statuses = len(csms.of("StatusNotification"))
            assert await trigger("StatusNotification", evse={"id": 1, "connector_id": 1}) == (
                "Accepted"
            )
            await until(lambda: len(csms.of("StatusNotification")) > statuses)
            assert csms.of("StatusNotification")[-1]["evse_id"] == 1

            assert await trigger("BootNotification") == "Rejected"  # already accepted
            assert await trigger("Heartbeat", evse={"id": 9}) == "Rejected"
            assert await trigger("SignChargingStationCertificate") == "NotImplemented"
            assert len(csms.of("BootNotification")) == 1
