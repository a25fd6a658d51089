"""The help screen: every key binding of the console, by where it works."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

__all__ = ["HelpScreen", "binding_table", "key_label"]

_KEY_NAMES = {
    "question_mark": "?",
    "slash": "/",
    "space": "space",
    "escape": "esc",
    "enter": "enter",
    "pageup": "pgup",
    "pagedown": "pgdn",
}


def key_label(binding: Binding) -> str:
    if binding.key_display:
        return binding.key_display
    return ", ".join(_KEY_NAMES.get(k.strip(), k.strip()) for k in binding.key.split(","))


def _bindings(items: Iterable[BindingType]) -> list[Binding]:
    out = []
    for item in items:
        if isinstance(item, Binding):
            out.append(item)
        else:
            out.append(Binding(*item))
    return out


def binding_table(contexts: Iterable[tuple[str, Iterable[BindingType]]]) -> Table:
    table = Table(expand=True, show_edge=False, pad_edge=False, box=None)
    table.add_column("Where", style="bold cyan", no_wrap=True)
    table.add_column("Key", style="bold", no_wrap=True)
    table.add_column("What it does")
    for where, items in contexts:
        first = True
        for binding in _bindings(items):
            what = binding.tooltip or binding.description
            table.add_row(where if first else "", key_label(binding), what)
            first = False
        table.add_row("", "", "")
    return table


class HelpScreen(ModalScreen[None]):
    """Lists the bindings given as (context, BINDINGS) pairs."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close help"),
    ]

    def __init__(self, contexts: list[tuple[str, list[BindingType]]]) -> None:
        super().__init__()
        self.contexts = contexts

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Label("ocpp-chaos console: keys", classes="title")
            with VerticalScroll():
                yield Static(self._tables(), id="help-table")
                yield Static(
                    Text(
                        "Filter expressions (log filter, fault targets): charger:CP-1* "
                        "dir:up action:Meter*,Boot* type:call,error session:ID text. Terms "
                        "are ANDed; comma lists are ORed globs.",
                        style="dim",
                    )
                )
            yield Button("Close (esc)", id="help-close", variant="primary")

    def _tables(self) -> Table:
        """The contexts in two columns, split about halfway."""
        sizes = [len(list(items)) + 1 for _, items in self.contexts]
        half, total, split = sum(sizes) / 2, 0, len(sizes)
        for index, size in enumerate(sizes):
            total += size
            if total >= half:
                split = index + 1
                break
        grid = Table.grid(expand=True, padding=(0, 2))
        grid.add_column(ratio=1)
        grid.add_column(ratio=1)
        grid.add_row(binding_table(self.contexts[:split]), binding_table(self.contexts[split:]))
        return grid

    def on_button_pressed(self) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
