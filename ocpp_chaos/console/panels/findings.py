"""Panel 5: what the proxy's oracle found (spec violations, slow or missing answers),
newest last, live from the event stream."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from ocpp_chaos.console.format import clock

__all__ = ["FindingsPanel"]

MAX_FINDINGS = 2000
_SEVERITY = {"error": "bold red", "warning": "yellow", "info": "dim"}


def _key(finding: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        finding.get("t"),
        finding.get("kind"),
        finding.get("charger"),
        finding.get("session"),
        finding.get("message"),
    )


class FindingsPanel(Vertical):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._seen: dict[tuple[Any, ...], str] = {}
        self._findings: dict[str, dict[str, Any]] = {}
        self._next = 0
        self.counts: dict[str, int] = {}

    def compose(self) -> ComposeResult:
        yield Label("no findings", id="findings-summary", classes="summary")
        yield DataTable(cursor_type="row", zebra_stripes=True, id="findings-table")

    def on_mount(self) -> None:
        table = self.table
        for key, label, width in (
            ("t", "Time (UTC)", 12),
            ("severity", "Severity", 8),
            ("kind", "Kind", 20),
            ("charger", "Charger", 14),
            ("spec", "Spec", 26),
            ("message", "Message", 100),
        ):
            table.add_column(label, width=width, key=key)

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#findings-table", DataTable)

    def focus_main(self) -> None:
        self.table.focus()

    def add(self, findings: Iterable[Mapping[str, Any]]) -> int:
        """Add findings not shown yet; returns how many were new."""
        table = self.table
        new = 0
        for finding in findings:
            key = _key(finding)
            if key in self._seen:
                continue
            self._next += 1
            row_key = f"f{self._next}"
            self._seen[key] = row_key
            self._findings[row_key] = dict(finding)
            severity = str(finding.get("severity", ""))
            table.add_row(
                clock(finding.get("t")),
                Text(severity, style=_SEVERITY.get(severity, "")),
                str(finding.get("kind", "")),
                str(finding.get("charger") or ""),
                str(finding.get("spec") or ""),
                str(finding.get("message", "")),
                key=row_key,
            )
            new += 1
        while len(self._findings) > MAX_FINDINGS:
            oldest = next(iter(self._findings))
            table.remove_row(oldest)
            gone = self._findings.pop(oldest)
            self._seen.pop(_key(gone), None)
        if new and (table.cursor_row < 0 or table.cursor_row >= table.row_count - new - 1):
            table.move_cursor(row=table.row_count - 1, animate=False)
        self._summary()
        return new

    def set_counts(self, counts: Mapping[str, int]) -> None:
        self.counts = dict(counts)
        self._summary()

    def _summary(self) -> None:
        total = sum(self.counts.values()) or len(self._findings)
        text = f"{total} findings"
        if self.counts:
            text += ": " + ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        self.query_one("#findings-summary", Label).update(text)

    def export_rows(self) -> list[dict[str, Any]]:
        return list(self._findings.values())
