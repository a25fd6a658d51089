"""What the panels ask the app to do: messages up, carried out by the app through the
source (the control API), whose errors become notifications."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

__all__ = [
    "AbortScenario",
    "AddChargers",
    "ClearFaults",
    "FaultOrder",
    "FireFault",
    "FleetCommand",
    "OpenFaultsMenu",
    "ShowChargerFrames",
    "StartScenario",
    "ToggleRule",
]


@dataclass(frozen=True)
class FaultOrder:
    """A fault to fire: at `chargers` (ids), or at what the filter `select` names."""

    fault: dict[str, Any]
    chargers: list[str] = field(default_factory=list)
    select: str | None = None
    duration: float | None = None
    """Seconds a frame fault (latency, corrupt, ...) lasts; None: the next frame only."""

    @property
    def label(self) -> str:
        what = str(self.fault.get("type"))
        if self.fault.get("duration"):
            what += f" {self.fault['duration']}"
        if self.fault.get("fixed"):
            what += f" {self.fault['fixed']}"
        if self.duration is not None:
            what += f" for {self.duration:g}s"
        return what

    @property
    def targets(self) -> str:
        return self.select or ", ".join(self.chargers) or "nothing"


class FireFault(Message):
    def __init__(self, order: FaultOrder) -> None:
        super().__init__()
        self.order = order


class ClearFaults(Message):
    """End every active fault."""


class OpenFaultsMenu(Message):
    def __init__(self, chargers: list[str]) -> None:
        super().__init__()
        self.chargers = chargers


class ToggleRule(Message):
    def __init__(self, rule: str, enable: bool) -> None:
        super().__init__()
        self.rule = rule
        self.enable = enable


class FleetCommand(Message):
    """A fleet command (`plug_in`, `start_transaction`, ...) for virtual chargers."""

    def __init__(self, do: str, chargers: list[str], **params: Any) -> None:
        super().__init__()
        self.do = do
        self.chargers = chargers
        self.params = params


class AddChargers(Message):
    def __init__(self, count: int, protocol: str, sessions: bool) -> None:
        super().__init__()
        self.count = count
        self.protocol = protocol
        self.sessions = sessions


class StartScenario(Message):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path


class AbortScenario(Message):
    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id


class ShowChargerFrames(Message):
    """Show the message log filtered to one charger."""

    def __init__(self, charger_id: str) -> None:
        super().__init__()
        self.charger_id = charger_id
