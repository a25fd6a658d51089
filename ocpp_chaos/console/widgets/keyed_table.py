"""A DataTable of API objects keyed by one of their fields, updated cell by cell (the
rules, fleet and scenario tables)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

__all__ = ["KeyedTable"]

Cells = Callable[[Mapping[str, Any]], tuple[Any, ...]]


class KeyedTable(DataTable[Any]):
    """Rows keyed by `item[key_field]`; `apply(items)` adds, updates and removes rows.
    With `markable`, space-marked keys show a dot in the first column."""

    def __init__(
        self,
        columns: Iterable[tuple[str, str, int]],
        cells: Cells,
        *,
        key_field: str,
        markable: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._columns = list(columns)
        if markable:
            self._columns.insert(0, ("mark", " ", 1))
        self._cells = cells
        self._key_field = key_field
        self.markable = markable
        self.marked: set[str] = set()
        self._items: dict[str, Mapping[str, Any]] = {}
        self._shown: dict[str, tuple[Any, ...]] = {}

    def on_mount(self) -> None:
        for key, label, width in self._columns:
            self.add_column(label, width=width, key=key)

    def _row(self, key: str, item: Mapping[str, Any]) -> tuple[Any, ...]:
        cells = self._cells(item)
        if self.markable:
            mark: Any = Text("●", style="bold yellow") if key in self.marked else " "
            cells = (mark, *cells)
        return cells

    def apply(self, items: Iterable[Mapping[str, Any]]) -> None:
        """Show exactly `items` (rows of other keys go)."""
        cursor = self.highlighted_key
        seen = set()
        for item in items:
            seen.add(self.apply_one(item))
        gone = [k for k in self._shown if k not in seen]
        for key in gone:
            self.remove_row(key)
            del self._shown[key]
            self._items.pop(key, None)
        if gone and cursor is not None and cursor in self._shown:
            self.move_cursor(row=self.get_row_index(cursor), animate=False)

    def apply_one(self, item: Mapping[str, Any]) -> str:
        """Add or update the row of one item (e.g. the API's answer to a change); its key."""
        key = str(item[self._key_field])
        self._items[key] = item
        cells = self._row(key, item)
        old = self._shown.get(key)
        if old is None:
            self.add_row(*cells, key=key)
        elif old != cells:
            for (column, _, _), before, after in zip(self._columns, old, cells, strict=True):
                if before != after:
                    self.update_cell(key, column, after)
        self._shown[key] = cells
        return key

    def rows_json(self) -> list[dict[str, Any]]:
        return [dict(self._items[str(row.key.value)]) for row in self.ordered_rows]

    @property
    def highlighted_key(self) -> str | None:
        if not self._shown or not 0 <= self.cursor_row < self.row_count:
            return None
        value = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return None if value is None else str(value)

    @property
    def highlighted(self) -> Mapping[str, Any] | None:
        key = self.highlighted_key
        return None if key is None else self._items.get(key)

    def selected_keys(self) -> list[str]:
        """The marked rows still present (in table order), else the highlighted one."""
        marked = [str(r.key.value) for r in self.ordered_rows if str(r.key.value) in self.marked]
        if marked:
            return marked
        key = self.highlighted_key
        return [key] if key is not None else []

    def toggle_mark(self) -> None:
        key = self.highlighted_key
        if key is None or not self.markable:
            return
        self.marked.symmetric_difference_update({key})
        cells = self._row(key, self._items[key])
        self.update_cell(key, "mark", cells[0])
        self._shown[key] = cells
