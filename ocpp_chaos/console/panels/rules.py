"""Panel 3: the loaded rules with their hit counters; space or enter toggles one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Label

from ocpp_chaos.console.messages import ToggleRule
from ocpp_chaos.console.widgets.keyed_table import KeyedTable

__all__ = ["RulesPanel"]

COLUMNS = (
    ("on", "On", 4),
    ("name", "Rule", 32),
    ("fault", "Fault", 16),
    ("matched", "Matched", 9),
    ("hits", "Hits", 9),
    ("decisions", "Decisions", 50),
)


def rule_cells(rule: Mapping[str, Any]) -> tuple[Any, ...]:
    enabled = bool(rule.get("enabled"))
    decisions = rule.get("decisions") or {}
    return (
        Text("[x]", style="bold green") if enabled else Text("[ ]", style="dim"),
        str(rule.get("name", "")),
        str(rule.get("fault", "")),
        str(rule.get("matched", 0)),
        str(rule.get("hits", 0)),
        ", ".join(f"{k} {v}" for k, v in sorted(decisions.items())),
    )


class RulesPanel(Vertical):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_rule", "Toggle rule"),
    ]

    def compose(self) -> ComposeResult:
        yield Label("no rules loaded", id="rules-summary", classes="summary")
        yield KeyedTable(COLUMNS, rule_cells, key_field="name", id="rules-table")
        with Horizontal(classes="buttons"):
            yield Button("Toggle (space/enter)", id="btn-toggle-rule", variant="primary")

    @property
    def table(self) -> KeyedTable:
        return self.query_one(KeyedTable)

    def focus_main(self) -> None:
        self.table.focus()

    def apply(self, rules: Sequence[Mapping[str, Any]]) -> None:
        self.table.apply(rules)
        on = sum(bool(r.get("enabled")) for r in rules)
        self.query_one("#rules-summary", Label).update(
            f"{len(rules)} rules, {on} on  (space or enter toggles the highlighted rule)"
        )

    def export_rows(self) -> list[dict[str, Any]]:
        return self.table.rows_json()

    def action_toggle_rule(self) -> None:
        rule = self.table.highlighted
        if rule is None:
            self.app.notify("No rule highlighted", severity="warning")
            return
        self.post_message(ToggleRule(str(rule["name"]), not rule.get("enabled")))

    @on(DataTable.RowSelected, "#rules-table")
    def _row_selected(self) -> None:
        self.action_toggle_rule()

    @on(Button.Pressed, "#btn-toggle-rule")
    def _toggle_pressed(self) -> None:
        self.action_toggle_rule()
