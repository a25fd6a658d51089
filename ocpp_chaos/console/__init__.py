"""The operator console: a Textual app over an engine's control API (`ocpp-chaos console`,
or `run_console(url, token)` on the engine's own event loop)."""

from ocpp_chaos.console.app import ConsoleApp, run_console
from ocpp_chaos.console.source import ConsoleSource, RecordedSource

__all__ = ["ConsoleApp", "ConsoleSource", "RecordedSource", "run_console"]
