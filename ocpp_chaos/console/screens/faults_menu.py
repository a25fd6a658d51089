"""The faults menu: fire a fault, with its parameters, at the selected chargers (or at
the chargers a filter expression names)."""

from __future__ import annotations

from typing import Any, ClassVar, get_args

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from ocpp_chaos.api.filters import FilterError, parse_filter
from ocpp_chaos.console.messages import FaultOrder
from ocpp_chaos.rules.model import CorruptMode

__all__ = ["FaultsMenu"]

CORRUPT_MODES: tuple[str, ...] = get_args(CorruptMode)


class FaultsMenu(ModalScreen[FaultOrder | None]):
    """Dismissed with the FaultOrder to fire, or None (cancelled)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Close"),
    ]

    def __init__(self, chargers: list[str]) -> None:
        super().__init__()
        self.chargers = chargers
        self.default_targets = "charger:" + ",".join(chargers) if chargers else ""

    def compose(self) -> ComposeResult:
        with Vertical(id="faults-menu"):
            yield Label("Fire a fault", classes="title")
            yield Label("At (charger ids, or a filter: charger:SIM-000*)", classes="form-label")
            yield Input(self.default_targets, id="fault-targets")
            with Grid(id="faults-grid"):
                yield Label("Signal loss for (s)", classes="form-label")
                yield Input("30", id="loss-seconds", type="number")
                yield Button("Signal loss", id="fire-signal-loss", variant="error")

                yield Label("Disconnect (close both ways)", classes="form-label")
                yield Label("")
                yield Button("Disconnect", id="fire-disconnect", variant="warning")

                yield Label("Latency (ms) / for (s)", classes="form-label")
                with Horizontal():
                    yield Input("500", id="latency-ms", type="number")
                    yield Input("30", id="latency-seconds", type="number")
                yield Button("Latency", id="fire-latency")

                yield Label("Corrupt the next frame", classes="form-label")
                yield Select(
                    [(m, m) for m in CORRUPT_MODES],
                    value="invalid_json",
                    allow_blank=False,
                    id="corrupt-mode",
                )
                yield Button("Corrupt next frame", id="fire-corrupt")
            yield Label("", id="faults-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel (esc)", id="faults-cancel")

    def on_mount(self) -> None:
        self.query_one("#faults-error", Label).display = False
        self.query_one("#loss-seconds", Input).focus()

    # -- reading the form --------------------------------------------------------------------

    def _error(self, text: str) -> None:
        label = self.query_one("#faults-error", Label)
        label.update(f"✗ {text}")
        label.display = True

    def _number(self, widget_id: str, what: str) -> float | None:
        text = self.query_one(widget_id, Input).value.strip()
        try:
            value = float(text)
        except ValueError:
            value = 0.0
        if value <= 0:
            self._error(f"{what}: give a number above 0 (not {text!r})")
            return None
        return value

    def _order(self, fault: dict[str, Any], duration: float | None = None) -> None:
        text = self.query_one("#fault-targets", Input).value.strip()
        if not text:
            self._error("fire at whom? give charger ids or a filter")
            return
        if text == self.default_targets:
            order = FaultOrder(fault, list(self.chargers), duration=duration)
        else:
            try:
                parse_filter(text)
            except FilterError as exc:
                self._error(str(exc))
                return
            order = FaultOrder(fault, [], select=text, duration=duration)
        self.dismiss(order)

    # -- the buttons ---------------------------------------------------------------------

    @on(Button.Pressed, "#fire-signal-loss")
    @on(Input.Submitted, "#loss-seconds")
    def fire_signal_loss(self) -> None:
        seconds = self._number("#loss-seconds", "signal loss seconds")
        if seconds is not None:
            self._order({"type": "signal_loss", "duration": f"{seconds:g}s"})

    @on(Button.Pressed, "#fire-disconnect")
    def fire_disconnect(self) -> None:
        self._order({"type": "disconnect"})

    @on(Button.Pressed, "#fire-latency")
    @on(Input.Submitted, "#latency-ms")
    @on(Input.Submitted, "#latency-seconds")
    def fire_latency(self) -> None:
        ms = self._number("#latency-ms", "latency ms")
        seconds = self._number("#latency-seconds", "latency seconds")
        if ms is not None and seconds is not None:
            self._order({"type": "latency", "fixed": f"{ms:g}ms"}, seconds)

    @on(Button.Pressed, "#fire-corrupt")
    def fire_corrupt(self) -> None:
        mode = str(self.query_one("#corrupt-mode", Select).value)
        self._order({"type": "corrupt", "mode": mode})

    @on(Button.Pressed, "#faults-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
