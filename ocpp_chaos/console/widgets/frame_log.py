"""The live message log: the newest frames (bounded), filtered, one line each.

A ScrollView that renders only the visible lines from a deque: no widget per frame. It
follows the newest frame until the operator moves the cursor (up/down/click); `end`
follows again. Moving the cursor posts `FrameLog.Highlighted` with the frame.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ocpp_chaos.api.filters import Filter
from ocpp_chaos.console.format import frame_line

__all__ = ["FrameLog"]


class FrameLog(ScrollView, can_focus=True):
    """Frames (event-stream dicts), newest last; at most `max_lines` kept."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "follow", "Follow newest"),
        Binding("enter", "select", "Frame detail"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"frame-log--cursor"}
    DEFAULT_CSS = """
    FrameLog {
        background: $surface;
        overflow-y: scroll;
        overflow-x: hidden;
        & > .frame-log--cursor { background: $accent 50%; }
    }
    """

    class Highlighted(Message):
        """The cursor is on `frame` (None: following, no frame picked)."""

        def __init__(self, log: FrameLog, frame: dict[str, Any] | None) -> None:
            super().__init__()
            self.log = log
            self.frame = frame

    def __init__(self, max_lines: int = 5000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_lines = max_lines
        self._all: deque[dict[str, Any]] = deque()
        self._shown: deque[dict[str, Any]] = deque()
        self._filter: Filter | None = None
        self.cursor: int | None = None
        """Index in the shown lines, or None while following the newest."""

    # -- content ----------------------------------------------------------------------------

    @property
    def frames(self) -> list[dict[str, Any]]:
        """Every frame kept (filtered or not), oldest first."""
        return list(self._all)

    @property
    def lines(self) -> list[dict[str, Any]]:
        """The frames shown (those the filter lets through), oldest first."""
        return list(self._shown)

    @property
    def following(self) -> bool:
        return self.cursor is None

    def set_filter(self, flt: Filter | None) -> None:
        picked = self.picked
        self._filter = None if flt is None or flt.empty else flt
        self._shown = deque(e for e in self._all if self._passes(e))
        self.cursor = None
        if picked is not None:
            for index, frame in enumerate(self._shown):
                if frame is picked:
                    self.cursor = index
                    break
        self._resize()
        if self.cursor is None:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
            self.post_message(self.Highlighted(self, None))
        else:
            self._show_cursor()

    def _passes(self, frame: dict[str, Any]) -> bool:
        return self._filter is None or self._filter.matches(frame)

    def add(self, frames: Iterable[dict[str, Any]]) -> None:
        """Append frames (evicting the oldest beyond `max_lines`)."""
        evicted = 0
        added = 0
        for frame in frames:
            if len(self._all) >= self.max_lines:
                old = self._all.popleft()
                if self._shown and self._shown[0] is old:
                    self._shown.popleft()
                    evicted += 1
            self._all.append(frame)
            if self._passes(frame):
                self._shown.append(frame)
                added += 1
        if not added and not evicted:
            return
        self._resize()
        if self.cursor is None:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
            self.refresh()
            return
        if evicted:
            self.cursor = max(0, self.cursor - evicted)
            self.scroll_to(y=max(0, self.scroll_y - evicted), animate=False, immediate=True)
        self.refresh()

    def clear(self) -> None:
        self._all.clear()
        self._shown.clear()
        self.cursor = None
        self._resize()
        self.refresh()

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._shown))

    @property
    def picked(self) -> dict[str, Any] | None:
        """The frame under the cursor."""
        if self.cursor is None or not self._shown:
            return None
        return self._shown[min(self.cursor, len(self._shown) - 1)]

    # -- rendering ----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_y = self.scroll_offset.y
        index = scroll_y + y
        width = self.size.width
        base = self.rich_style
        if index >= len(self._shown):
            return Strip.blank(width, base)
        try:
            text = frame_line(self._shown[index])
        except Exception:  # a frame we cannot lay out: show it raw rather than crash
            text = Text(f"(unshowable) {self._shown[index]!r}", style="red", no_wrap=True)
        cursor: Style | None = None
        if index == self.cursor:
            cursor = self.get_component_rich_style("frame-log--cursor")
            base = base + cursor
        segments = Segment.apply_style(text.render(self.app.console), base, cursor)
        return Strip(segments).crop_extend(0, width, base)

    # -- the cursor ------------------------------------------------------------------------

    def _move(self, index: int) -> None:
        if not self._shown:
            return
        self.cursor = max(0, min(len(self._shown) - 1, index))
        self._show_cursor()
        self.post_message(self.Highlighted(self, self.picked))

    def _show_cursor(self) -> None:
        if self.cursor is None:
            return
        height = max(1, self.scrollable_content_region.height)
        top = self.scroll_offset.y
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)
        self.refresh()

    def action_cursor(self, step: int) -> None:
        start = len(self._shown) if self.cursor is None else self.cursor
        self._move(start + step)

    def action_page(self, pages: int) -> None:
        height = max(1, self.scrollable_content_region.height)
        start = len(self._shown) if self.cursor is None else self.cursor
        self._move(start + pages * height)

    def action_first(self) -> None:
        self._move(0)

    def action_follow(self) -> None:
        self.cursor = None
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()
        self.post_message(self.Highlighted(self, None))

    def action_select(self) -> None:
        if self.cursor is None:
            self._move(len(self._shown) - 1)
        else:
            self.post_message(self.Highlighted(self, self.picked))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = self.scroll_offset.y + offset.y
        if index < len(self._shown):
            self.focus()
            self._move(index)

    def on_resize(self, event: events.Resize) -> None:
        self._resize()
