"""The console's modal screens: the faults menu and the help."""

from ocpp_chaos.console.screens.faults_menu import FaultsMenu
from ocpp_chaos.console.screens.help import HelpScreen

__all__ = ["FaultsMenu", "HelpScreen"]
