"""A full charge cycle whose meter values are consistent with each other: each sample's
energy grew by its power over the meter step, current is power over voltage and phases,
SoC grew by energy over the battery's capacity, and the register never goes down.

For both OCPP versions, against the embedded reference CSMS and against a CSMS written
here on the `ocpp` library's central-system side.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as Central16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as Central201
from ocpp.v201 import call_result as result201
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ocpp_chaos.csms import ReferenceCSMS
from ocpp_chaos.simulator.charger import ChargerState, VirtualCharger
from ocpp_chaos.simulator.charger201 import VirtualCharger201
from ocpp_chaos.simulator.ev import VirtualEV
from tests.simulator.test_charger import Running, until

NOW = "2026-11-25T00:00:00.000Z"


class LibraryCSMS:
    """A CSMS on the ocpp library: accepts everything and keeps the meter values."""

    def __init__(self) -> None:
        self.samples: list[dict[str, Any]] = []
        self.ended = False
        self.url = ""

    async def __aenter__(self) -> LibraryCSMS:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            subprotocols=["ocpp1.6", "ocpp2.0.1"],  # type: ignore[list-item]
            compression=None,
        )
        self.url = f"ws://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        csms = self
        cid = ws.request.path.rsplit("/", 1)[-1]  # type: ignore[union-attr]
        if ws.subprotocol == "ocpp1.6":

            class Side16(Central16):  # type: ignore[misc]
                @on("BootNotification")
                def on_boot(self, **_: Any) -> Any:
                    return result16.BootNotification(
                        current_time=NOW, interval=60, status="Accepted"
                    )

                @on("Heartbeat")
                def on_heartbeat(self, **_: Any) -> Any:
                    return result16.Heartbeat(current_time=NOW)

                @on("StatusNotification")
                def on_status(self, **_: Any) -> Any:
                    return result16.StatusNotification()

                @on("Authorize")
                def on_authorize(self, **_: Any) -> Any:
                    return result16.Authorize(id_tag_info={"status": "Accepted"})

                @on("StartTransaction")
                def on_start(self, **_: Any) -> Any:
                    return result16.StartTransaction(
                        transaction_id=7, id_tag_info={"status": "Accepted"}
                    )

                @on("MeterValues")
                def on_meter(self, meter_value: list[dict[str, Any]], **_: Any) -> Any:
                    csms.samples.extend(meter_value)
                    return result16.MeterValues()

                @on("StopTransaction")
                def on_stop(self, **_: Any) -> Any:
                    csms.ended = True
                    return result16.StopTransaction()

            side: Any = Side16(cid, ws)
        else:

            class Side201(Central201):  # type: ignore[misc]
                @on("BootNotification")
                def on_boot(self, **_: Any) -> Any:
                    return result201.BootNotification(
                        current_time=NOW, interval=60, status="Accepted"
                    )

                @on("Heartbeat")
                def on_heartbeat(self, **_: Any) -> Any:
                    return result201.Heartbeat(current_time=NOW)

                @on("StatusNotification")
                def on_status(self, **_: Any) -> Any:
                    return result201.StatusNotification()

                @on("Authorize")
                def on_authorize(self, **_: Any) -> Any:
                    return result201.Authorize(id_token_info={"status": "Accepted"})

                @on("TransactionEvent")
                def on_event(self, event_type: str, **kw: Any) -> Any:
                    if event_type == "Updated":
                        csms.samples.extend(kw.get("meter_value") or [])
                    if event_type == "Ended":
                        csms.ended = True
                    return result201.TransactionEvent()

            side = Side201(cid, ws)
        with contextlib.suppress(ConnectionClosed):
            await side.start()


def _values(sample: dict[str, Any]) -> dict[str, float]:
    """measurand → value of one meterValue item (camelCase or the library's snake_case)."""
    items = sample.get("sampledValue") or sample.get("sampled_value") or []
    return {item["measurand"]: float(item["value"]) for item in items}


def _samples(csms: Any, version: str) -> list[dict[str, float]]:
    if isinstance(csms, LibraryCSMS):
        return [_values(s) for s in csms.samples]
    action = "MeterValues" if version == "1.6" else "TransactionEvent"
    out = []
    for r in csms.received:
        if r.action != action or r.payload.get("eventType", "Updated") != "Updated":
            continue
        out.extend(_values(mv) for mv in r.payload["meterValue"])
    return out


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
@pytest.mark.parametrize("server", ["embedded", "library"])
async def test_a_charge_cycle_has_consistent_meter_values(version: str, server: str) -> None:
    config = (
        {"MeterValueSampleInterval": "1", "HeartbeatInterval": "60"}
        if version == "1.6"
        else {"SampledDataCtrlr.TxUpdatedInterval": "1", "OCPPCommCtrlr.HeartbeatInterval": "60"}
    )
    kind = VirtualCharger if version == "1.6" else VirtualCharger201
    # a small battery charging at constant power: SoC moves visibly every second
    ev = VirtualEV(capacity_wh=200.0, soc=0.2, target_soc=0.7, max_power_w=7_400.0, phases=1)
    context: Any = (
        ReferenceCSMS(port=0, heartbeat_interval=60) if server == "embedded" else LibraryCSMS()
    )
    async with context as csms:
        charger = kind(f"MC-{version}", csms.url, call_timeout=5, config=config)
        async with Running(charger):
            await until(lambda: charger.state == ChargerState.ACCEPTED)
            await charger.plug_in(1, ev)
            assert await charger.start_transaction(1, "TAG-1")
            await until(lambda: len(_samples(csms, version)) >= 4, timeout=20)
            await charger.stop_transaction(1, "Local")
            await until(lambda: len(charger.queue) == 0)
    samples = _samples(csms, version)
    energy = [s["Energy.Active.Import.Register"] for s in samples]
    assert energy == sorted(energy)  # the register only goes up
    for before, after in itertools.pairwise(samples):
        power = after["Power.Active.Import"]
        assert power == pytest.approx(7_400.0)
        # the energy of one meter step (1 s) at that power, to the 0.1 Wh the values show
        step_wh = power * charger.METER_STEP / 3600.0
        grew = after["Energy.Active.Import.Register"] - before["Energy.Active.Import.Register"]
        assert grew == pytest.approx(step_wh, abs=0.11)
        assert after["Current.Import"] == pytest.approx(power / (230.0 * 1), abs=0.01)
        assert after["Voltage"] == pytest.approx(230.0)
    # SoC (whole percent) follows the energy taken into a 200 Wh battery
    first, last = samples[0], samples[-1]
    took = last["Energy.Active.Import.Register"] - first["Energy.Active.Import.Register"]
    assert last["SoC"] - first["SoC"] == pytest.approx(took / 200.0 * 100.0, abs=1.0)
    assert last["SoC"] > first["SoC"]
