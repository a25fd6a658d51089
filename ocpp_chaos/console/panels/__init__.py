"""The console's six panels (one tab each)."""

from ocpp_chaos.console.panels.findings import FindingsPanel
from ocpp_chaos.console.panels.fleet import FleetPanel
from ocpp_chaos.console.panels.log import LogPanel
from ocpp_chaos.console.panels.rules import RulesPanel
from ocpp_chaos.console.panels.scenarios import ScenariosPanel
from ocpp_chaos.console.panels.sessions import SessionsPanel

__all__ = [
    "FindingsPanel",
    "FleetPanel",
    "LogPanel",
    "RulesPanel",
    "ScenariosPanel",
    "SessionsPanel",
]
