"""Panel 6: scenario runs with their progress; start one from a file, abort one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label

from ocpp_chaos.console.messages import AbortScenario, StartScenario
from ocpp_chaos.console.widgets.keyed_table import KeyedTable

__all__ = ["ScenariosPanel"]

COLUMNS = (
    ("id", "Run", 8),
    ("name", "Scenario", 28),
    ("status", "Status", 8),
    ("step", "Step", 28),
    ("chargers", "Chargers", 12),
    ("faults", "Open faults", 24),
    ("findings", "Findings", 8),
    ("path", "File", 40),
)
_STATUS = {"running": "cyan", "passed": "bold green", "failed": "bold red", "error": "red"}


def run_cells(run: Mapping[str, Any]) -> tuple[Any, ...]:
    progress = run.get("progress") or {}
    status = str(run.get("status", ""))
    chargers = ""
    if progress.get("chargers") is not None:
        chargers = f"{progress.get('accepted', 0)}/{progress['chargers']} up"
    return (
        str(run.get("id", "")),
        str(run.get("name", "")),
        Text(status, style=_STATUS.get(status, "yellow")),
        str(progress.get("step") or ""),
        chargers,
        ", ".join(progress.get("faults") or ()),
        str(progress.get("findings", "")),
        str(run.get("path", "")),
    )


class ScenariosPanel(Vertical):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "Start a scenario"),
        Binding("a", "abort", "Abort run"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._runs: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(classes="buttons"):
            yield Input(
                placeholder="scenario file, e.g. scenarios/boot-storm.yaml", id="scenario-path"
            )
            yield Button("Start", id="btn-scenario-start", variant="primary")
            yield Button("Abort (a)", id="btn-scenario-abort", variant="error")
        yield Label("no scenario runs", id="scenarios-summary", classes="summary")
        yield KeyedTable(COLUMNS, run_cells, key_field="id", id="scenarios-table")

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#scenarios-table", KeyedTable)

    def focus_main(self) -> None:
        self.table.focus()

    def apply(self, runs: Sequence[Mapping[str, Any]]) -> None:
        for run in runs:
            self._runs[str(run["id"])] = dict(run)
        self._show()

    def on_event_scenario(self, event: Mapping[str, Any]) -> None:
        """A `scenario` event: progress or a new status of one run."""
        run_id = event.get("id")
        if run_id is None:
            return
        run = self._runs.setdefault(str(run_id), {"id": run_id})
        for key in ("status", "name", "path", "progress"):
            if key in event:
                run[key] = event[key]
        self._show()

    def _show(self) -> None:
        runs = list(self._runs.values())
        self.table.apply(runs)
        running = sum(r.get("status") == "running" for r in runs)
        self.query_one("#scenarios-summary", Label).update(
            f"{len(runs)} runs, {running} running  (n: start one from a file; a: abort)"
        )

    def export_rows(self) -> list[dict[str, Any]]:
        return self.table.rows_json()

    def action_new(self) -> None:
        self.query_one("#scenario-path", Input).focus()

    def action_abort(self) -> None:
        run = self.table.highlighted
        if run is None:
            self.app.notify("No scenario run highlighted", severity="warning")
            return
        self.post_message(AbortScenario(str(run["id"])))

    def _start(self) -> None:
        path = self.query_one("#scenario-path", Input).value.strip()
        if not path:
            self.app.notify("Which scenario file?", severity="warning")
            return
        self.post_message(StartScenario(path))

    @on(Input.Submitted, "#scenario-path")
    def _path_submitted(self) -> None:
        self._start()

    @on(Button.Pressed, "#btn-scenario-start")
    def _start_pressed(self) -> None:
        self._start()

    @on(Button.Pressed, "#btn-scenario-abort")
    def _abort_pressed(self) -> None:
        self.action_abort()
