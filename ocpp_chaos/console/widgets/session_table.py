"""The sessions table: one row per open session, keyed by session id, updated in place.

`apply(sessions)` compares each session's cells with what the row shows and calls
`update_cell` only for those that changed; sessions that came get a row, those that went
lose theirs. The table is never cleared or rebuilt, so 1,000+ live sessions do not
flicker and the cursor stays on its session.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from textual.widgets import DataTable

from ocpp_chaos.console.format import SESSION_COLUMNS, session_cells

__all__ = ["SessionTable", "TableChanges"]

_KEYS = tuple(key for key, _, _ in SESSION_COLUMNS)


@dataclass
class TableChanges:
    """What one `apply` did."""

    added: int = 0
    removed: int = 0
    cells: int = 0


class SessionTable(DataTable[Any]):
    """Live sessions; `marked` holds the charger ids picked with space (multi-select)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._shown: dict[str, tuple[Any, ...]] = {}
        self._info: dict[str, Mapping[str, Any]] = {}
        self.marked: set[str] = set()

    def on_mount(self) -> None:
        for key, label, width in SESSION_COLUMNS:
            self.add_column(label, width=width, key=key)

    # -- the data -------------------------------------------------------------------------

    def apply(self, sessions: Iterable[Mapping[str, Any]]) -> TableChanges:
        """Show `sessions` (the control API's session list) with as few changes as can be."""
        changes = TableChanges()
        cursor_key = self.highlighted_session
        seen: set[str] = set()
        for info in sessions:
            key = str(info["session"])
            seen.add(key)
            self._info[key] = info
            cells = session_cells(info, marked=str(info.get("charger_id")) in self.marked)
            old = self._shown.get(key)
            if old is None:
                self.add_row(*cells, key=key)
                changes.added += 1
            elif old != cells:
                for column, before, after in zip(_KEYS, old, cells, strict=True):
                    if before != after:
                        self.update_cell(key, column, after)
                        changes.cells += 1
            self._shown[key] = cells
        for key in [k for k in self._shown if k not in seen]:
            self.remove_row(key)
            del self._shown[key]
            self._info.pop(key, None)
            changes.removed += 1
        if changes.removed and cursor_key is not None and cursor_key in self._shown:
            self.move_cursor(row=self.get_row_index(cursor_key), animate=False)
        return changes

    def rows_json(self) -> list[dict[str, Any]]:
        """The sessions shown, in table order (for an export)."""
        return [dict(self._info[str(row.key.value)]) for row in self.ordered_rows]

    # -- selection ----------------------------------------------------------------------------

    @property
    def highlighted_session(self) -> str | None:
        if not self._shown or self.cursor_row < 0 or self.cursor_row >= self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return str(key) if key is not None else None

    @property
    def highlighted_charger(self) -> str | None:
        key = self.highlighted_session
        if key is None:
            return None
        return str(self._info[key].get("charger_id"))

    def selected_chargers(self) -> list[str]:
        """The marked chargers that have a session, else the highlighted one."""
        present = [str(i.get("charger_id")) for i in self._info.values()]
        marked = [c for c in dict.fromkeys(present) if c in self.marked]
        if marked:
            return marked
        charger = self.highlighted_charger
        return [charger] if charger else []

    def toggle_mark(self) -> None:
        charger = self.highlighted_charger
        if charger is None:
            return
        if charger in self.marked:
            self.marked.discard(charger)
        else:
            self.marked.add(charger)
        for key, info in self._info.items():
            if info.get("charger_id") == charger:
                cells = session_cells(info, marked=charger in self.marked)
                self.update_cell(key, "mark", cells[0])
                self._shown[key] = cells
