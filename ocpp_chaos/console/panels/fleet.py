"""Panel 4: the engine's virtual chargers: add some, and plug in, start or stop a
transaction, reboot the selected ones (the same fleet commands as scenario steps)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Select

from ocpp_chaos.console.format import protocol_of
from ocpp_chaos.console.messages import AddChargers, FleetCommand
from ocpp_chaos.console.widgets.keyed_table import KeyedTable

__all__ = ["FleetPanel"]

COLUMNS = (
    ("charger", "Charger", 18),
    ("protocol", "OCPP", 6),
    ("state", "State", 12),
    ("booted", "Booted", 6),
    ("connected", "Online", 6),
    ("connectors", "Connectors", 48),
    ("queued", "Queued", 6),
    ("transactions", "Tx total", 8),
)


def _connectors(connectors: Mapping[str, Any]) -> str:
    parts = []
    for n, c in connectors.items():
        flags = []
        if c.get("plugged"):
            flags.append("EV")
        if c.get("transaction"):
            flags.append("tx")
        parts.append(f"{n}:{c.get('status', '?')}" + (f"({'+'.join(flags)})" if flags else ""))
    return " ".join(parts)


def charger_cells(charger: Mapping[str, Any]) -> tuple[Any, ...]:
    def flag(value: Any) -> Text:
        return Text("yes", style="green") if value else Text("no", style="red")

    return (
        str(charger.get("charger_id", "")),
        protocol_of(charger.get("protocol")),
        str(charger.get("state", "")).removeprefix("ChargerState."),
        flag(charger.get("booted")),
        flag(charger.get("connected")),
        _connectors(charger.get("connectors") or {}),
        str(charger.get("queued", 0)),
        str(charger.get("transactions", 0)),
    )


class FleetPanel(Vertical):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add chargers"),
        Binding("i", "command('plug_in')", "Plug in EV"),
        Binding("u", "command('unplug')", "Unplug"),
        Binding("s", "command('start_transaction')", "Start tx"),
        Binding("S", "command('stop_transaction')", "Stop tx"),
        Binding("r", "command('reboot')", "Reboot"),
        Binding("space", "mark", "Mark"),
    ]

    def compose(self) -> ComposeResult:
        with Horizontal(classes="buttons", id="fleet-add"):
            yield Label("Add", classes="form-label")
            yield Input("1", id="fleet-count", type="integer", max_length=5)
            yield Label("chargers, OCPP", classes="form-label")
            yield Select(
                [("1.6", "1.6"), ("2.0.1", "2.0.1"), ("mixed", "mixed")],
                value="1.6",
                allow_blank=False,
                id="fleet-protocol",
            )
            yield Checkbox("EVs come and go", id="fleet-sessions")
            yield Button("Add (a)", id="btn-fleet-add", variant="primary")
        yield Label("no virtual chargers", id="fleet-summary", classes="summary")
        yield KeyedTable(
            COLUMNS, charger_cells, key_field="charger_id", markable=True, id="fleet-table"
        )
        with Horizontal(classes="buttons"):
            yield Button("Plug in (i)", id="btn-plug_in")
            yield Button("Unplug (u)", id="btn-unplug")
            yield Button("Start tx (s)", id="btn-start_transaction", variant="success")
            yield Button("Stop tx (S)", id="btn-stop_transaction", variant="warning")
            yield Button("Reboot (r)", id="btn-reboot", variant="error")
            yield Button("Mark (space)", id="btn-fleet-mark")

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#fleet-table", KeyedTable)

    def focus_main(self) -> None:
        self.table.focus()

    def apply(self, fleet: Mapping[str, Any]) -> None:
        chargers = list(fleet.get("chargers") or [])
        self.table.apply(chargers)
        states = fleet.get("states") or {}
        summary = f"{len(chargers)} virtual chargers"
        if states:
            counts = (f"{k.removeprefix('ChargerState.')} {v}" for k, v in sorted(states.items()))
            summary += " (" + ", ".join(counts) + ")"
        if self.table.marked:
            summary += f" · {len(self.table.marked)} marked"
        self.query_one("#fleet-summary", Label).update(summary)

    def export_rows(self) -> list[dict[str, Any]]:
        return self.table.rows_json()

    def action_add(self) -> None:
        text = self.query_one("#fleet-count", Input).value.strip()
        try:
            count = int(text)
        except ValueError:
            count = 0
        if not 1 <= count <= 10_000:
            self.app.notify(f"How many chargers? {text!r} is not 1-10000", severity="warning")
            return
        protocol = str(self.query_one("#fleet-protocol", Select).value)
        sessions = self.query_one("#fleet-sessions", Checkbox).value
        self.post_message(AddChargers(count, protocol, sessions))

    def action_command(self, do: str) -> None:
        chargers = self.table.selected_keys()
        if not chargers:
            self.app.notify("No virtual charger selected", severity="warning")
            return
        self.post_message(FleetCommand(do, chargers))

    def action_mark(self) -> None:
        self.table.toggle_mark()

    @on(Button.Pressed, "#btn-fleet-add")
    def _add_pressed(self) -> None:
        self.action_add()

    @on(Input.Submitted, "#fleet-count")
    def _count_submitted(self) -> None:
        self.action_add()

    @on(Button.Pressed, "#btn-fleet-mark")
    def _mark_pressed(self) -> None:
        self.action_mark()

    @on(Button.Pressed)
    def _command_pressed(self, event: Button.Pressed) -> None:
        button_id = event.button.id or ""
        do = button_id.removeprefix("btn-")
        if do in ("plug_in", "unplug", "start_transaction", "stop_transaction", "reboot"):
            self.action_command(do)
