"""Panel 1: the live sessions, and faults fired at the selected chargers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Label

from ocpp_chaos.console.messages import (
    ClearFaults,
    FaultOrder,
    FireFault,
    OpenFaultsMenu,
    ShowChargerFrames,
)
from ocpp_chaos.console.widgets.session_table import SessionTable, TableChanges

__all__ = ["CORRUPT", "DISCONNECT", "LATENCY", "SIGNAL_LOSS", "SessionsPanel"]

SIGNAL_LOSS: dict[str, Any] = {"type": "signal_loss", "duration": "30s"}
DISCONNECT: dict[str, Any] = {"type": "disconnect"}
LATENCY: dict[str, Any] = {"type": "latency", "fixed": "500ms"}
LATENCY_SECONDS = 30.0
CORRUPT: dict[str, Any] = {"type": "corrupt", "mode": "invalid_json"}
"""The next frame (either way) of the charger becomes invalid JSON."""


class SessionsPanel(Vertical):
    """The sessions table with its fault keys and buttons."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "signal_loss", "Signal loss", tooltip="Signal loss for 30 s"),
        Binding("x", "disconnect", "Disconnect", tooltip="Close the session"),
        Binding("t", "latency", "Latency", tooltip="500 ms latency for 30 s"),
        Binding("c", "corrupt", "Corrupt", tooltip="Corrupt the next frame (invalid JSON)"),
        Binding("f", "faults_menu", "Faults...", tooltip="The faults menu"),
        Binding("space", "mark", "Mark", tooltip="Mark the session (fire at several)"),
    ]

    def compose(self) -> ComposeResult:
        yield Label("no sessions", id="sessions-summary", classes="summary")
        yield SessionTable(id="sessions-table")
        with Horizontal(classes="buttons"):
            yield Button("Signal loss 30s (l)", id="btn-signal-loss", variant="error")
            yield Button("Disconnect (x)", id="btn-disconnect", variant="warning")
            yield Button("Latency 500ms (t)", id="btn-latency")
            yield Button("Corrupt next (c)", id="btn-corrupt")
            yield Button("Faults... (f)", id="btn-faults-menu", variant="primary")
            yield Button("Mark (space)", id="btn-mark")
            yield Button("Clear all faults (C)", id="btn-clear-faults", variant="success")

    @property
    def table(self) -> SessionTable:
        return self.query_one(SessionTable)

    def focus_main(self) -> None:
        self.table.focus()

    def apply(self, sessions: Sequence[Mapping[str, Any]]) -> TableChanges:
        changes = self.table.apply(sessions)
        self._summary()
        return changes

    def _summary(self) -> None:
        table = self.table
        count = table.row_count
        text = f"{count} session{'s' if count != 1 else ''}"
        if table.marked:
            text += f" · {len(table.marked)} marked: {', '.join(sorted(table.marked)[:5])}"
            if len(table.marked) > 5:
                text += ", ..."
        text += "  (enter: a charger's frames in the log; space: mark several)"
        self.query_one("#sessions-summary", Label).update(text)

    def export_rows(self) -> list[dict[str, Any]]:
        return self.table.rows_json()

    # -- faults ---------------------------------------------------------------------------

    def _fire(self, fault: dict[str, Any], duration: float | None = None) -> None:
        chargers = self.table.selected_chargers()
        if not chargers:
            self.app.notify("No session selected", severity="warning")
            return
        self.post_message(FireFault(FaultOrder(dict(fault), chargers, duration=duration)))

    def action_signal_loss(self) -> None:
        self._fire(SIGNAL_LOSS)

    def action_disconnect(self) -> None:
        self._fire(DISCONNECT)

    def action_latency(self) -> None:
        self._fire(LATENCY, LATENCY_SECONDS)

    def action_corrupt(self) -> None:
        self._fire(CORRUPT)

    def action_faults_menu(self) -> None:
        self.post_message(OpenFaultsMenu(self.table.selected_chargers()))

    def action_mark(self) -> None:
        self.table.toggle_mark()
        self._summary()

    @on(Button.Pressed, "#btn-signal-loss")
    def _signal_loss_pressed(self) -> None:
        self.action_signal_loss()

    @on(Button.Pressed, "#btn-disconnect")
    def _disconnect_pressed(self) -> None:
        self.action_disconnect()

    @on(Button.Pressed, "#btn-latency")
    def _latency_pressed(self) -> None:
        self.action_latency()

    @on(Button.Pressed, "#btn-corrupt")
    def _corrupt_pressed(self) -> None:
        self.action_corrupt()

    @on(Button.Pressed, "#btn-faults-menu")
    def _menu_pressed(self) -> None:
        self.action_faults_menu()

    @on(Button.Pressed, "#btn-mark")
    def _mark_pressed(self) -> None:
        self.action_mark()

    @on(Button.Pressed, "#btn-clear-faults")
    def _clear_pressed(self) -> None:
        self.post_message(ClearFaults())

    @on(DataTable.RowSelected, "#sessions-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        charger = self.table.highlighted_charger
        if charger is not None:
            self.post_message(ShowChargerFrames(charger))
