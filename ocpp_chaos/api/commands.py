"""The one command layer: what a step of a scenario, a request to the control API and a key
in the console do to a virtual charger, carried out by the same code.

The commands are the scenario step models (`ocpp_chaos.scenarios.model`): the API accepts
the same bodies a timeline holds (`{"do": "plug_in", "chargers": ["CP-1"], "connector": 1}`),
so the three faces can never disagree about what "plug in" means.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from ocpp_chaos.scenarios.model import (
    Authorize,
    ClearConnectorFault,
    ClockDrift,
    ConnectorFault,
    PlugIn,
    PowerLoss,
    Reboot,
    StartChargers,
    StartTransaction,
    StopChargers,
    StopTransaction,
    Unplug,
)
from ocpp_chaos.simulator.charger import VirtualCharger

__all__ = [
    "CHARGER_COMMANDS",
    "ChargerCommand",
    "FleetCommand",
    "fleet_command_adapter",
    "run_charger_command",
]

ChargerCommand = (
    PlugIn
    | Unplug
    | Authorize
    | StartTransaction
    | StopTransaction
    | Reboot
    | PowerLoss
    | ClockDrift
    | ConnectorFault
    | ClearConnectorFault
)
"""A command one charger carries out itself (its firmware's part)."""

FleetCommand = Annotated[ChargerCommand | StartChargers | StopChargers, Field(discriminator="do")]
"""What the control API's fleet action accepts: a charger command, or start/stop."""

CHARGER_COMMANDS = frozenset(
    {
        "plug_in",
        "unplug",
        "authorize",
        "start_transaction",
        "stop_transaction",
        "reboot",
        "power_loss",
        "clock_drift",
        "connector_fault",
        "clear_connector_fault",
    }
)

_ADAPTER: TypeAdapter[Any] | None = None


def fleet_command_adapter() -> TypeAdapter[Any]:
    """Validates a fleet command body (built once)."""
    global _ADAPTER
    if _ADAPTER is None:
        _ADAPTER = TypeAdapter(FleetCommand)
    return _ADAPTER


async def run_charger_command(charger: VirtualCharger, step: Any) -> Any:
    """Carry out one charger command (`step.do` in CHARGER_COMMANDS) on `charger`."""
    do = step.do
    if do == "plug_in":
        return await charger.plug_in(step.connector)
    if do == "unplug":
        return await charger.unplug(step.connector)
    if do == "authorize":
        return await charger.authorize(step.id_tag)
    if do == "start_transaction":
        if charger.evs.get(step.connector) is None:
            await charger.plug_in(step.connector)
        return await charger.start_transaction(step.connector, step.id_tag)
    if do == "stop_transaction":
        return await charger.stop_transaction(step.connector, step.reason)
    if do == "reboot":
        return await charger.reset(step.kind)
    if do == "power_loss":
        return charger.power_loss(keep_queue=step.keep_queue)
    if do == "clock_drift":
        return charger.drift_clock(step.offset, step.ppm)
    if do == "connector_fault":
        return await charger.connector_fault(step.connector, step.error_code)
    if do == "clear_connector_fault":
        return await charger.clear_connector_fault(step.connector)
    raise ValueError(f"{do!r} is not a charger command")
