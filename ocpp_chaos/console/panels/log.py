"""Panel 2: the live message log with its filter line, pause, and the frame detail pane."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterable
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import Button, Input, Label

from ocpp_chaos.api.filters import FilterError, parse_filter
from ocpp_chaos.console.format import pair_of
from ocpp_chaos.console.source import ConsoleSource
from ocpp_chaos.console.widgets.frame_detail import PAIR_PENDING, FrameDetail
from ocpp_chaos.console.widgets.frame_log import FrameLog

__all__ = ["LogPanel"]

FILTER_HELP = "filter: charger:CP-1* dir:up action:Meter* type:call text   (/ to edit)"


class LogPanel(Vertical):
    """Frames from the event stream. While paused, new frames wait (at most `max_lines`)
    and appear on resume."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave_filter", "Leave the filter line", show=False),
    ]

    def __init__(self, source: ConsoleSource, max_lines: int = 5000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.max_lines = max_lines
        self.paused = False
        self._waiting: deque[dict[str, Any]] = deque(maxlen=max_lines)
        self.dropped = 0
        """Frames the engine dropped because the console fell behind."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="log-bar"):
            yield Input(placeholder=FILTER_HELP, id="log-filter")
            yield Button("Pause (p)", id="btn-pause")
            yield Button("Export (e)", id="btn-export")
        yield Label("", id="log-filter-error", classes="error")
        yield Label("", id="log-status", classes="summary")
        with Horizontal(id="log-body"):
            yield FrameLog(max_lines=self.max_lines, id="frame-log")
            yield FrameDetail(id="frame-detail")

    def on_mount(self) -> None:
        self.query_one("#log-filter-error", Label).display = False
        self._status()

    @property
    def log_view(self) -> FrameLog:
        return self.query_one(FrameLog)

    @property
    def detail(self) -> FrameDetail:
        return self.query_one(FrameDetail)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#log-filter", Input)

    def focus_main(self) -> None:
        self.log_view.focus()

    def focus_filter(self) -> None:
        self.filter_input.focus()

    # -- frames --------------------------------------------------------------------------

    def add(self, frames: Iterable[dict[str, Any]]) -> None:
        if self.paused:
            self._waiting.extend(frames)
        else:
            self.log_view.add(frames)
        self._status()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if not paused and self._waiting:
            waiting = list(self._waiting)
            self._waiting.clear()
            self.log_view.add(waiting)
        self.query_one("#btn-pause", Button).label = "Resume (p)" if paused else "Pause (p)"
        self._status()

    def note_dropped(self, count: int) -> None:
        self.dropped += count
        self._status()

    def _status(self) -> None:
        view = self.log_view
        parts = [f"{len(view.lines)} of {len(view.frames)} frames shown (last {self.max_lines})"]
        if self.paused:
            parts.append(f"PAUSED, {len(self._waiting)} waiting (p resumes)")
        elif view.following:
            parts.append("following the newest (↑ to pick a frame)")
        else:
            parts.append("cursor held (end follows the newest)")
        if self.dropped:
            parts.append(f"{self.dropped} dropped by the engine (console too slow)")
        parts.append("times UTC")
        self.query_one("#log-status", Label).update(" · ".join(parts))

    def export_rows(self) -> list[dict[str, Any]]:
        return self.log_view.lines

    # -- the filter ------------------------------------------------------------------------

    def set_filter_text(self, text: str) -> None:
        self.filter_input.value = text
        self._apply_filter(text)

    @on(Input.Changed, "#log-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._apply_filter(event.value)

    @on(Input.Submitted, "#log-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if self._apply_filter(event.value):
            self.log_view.focus()

    def _apply_filter(self, text: str) -> bool:
        error = self.query_one("#log-filter-error", Label)
        try:
            flt = parse_filter(text)
        except FilterError as exc:
            error.update(f"✗ {exc}")
            error.display = True
            self.filter_input.add_class("invalid")
            return False
        error.display = False
        self.filter_input.remove_class("invalid")
        self.log_view.set_filter(flt)
        self._status()
        return True

    def action_leave_filter(self) -> None:
        self.log_view.focus()

    # -- the detail pane -------------------------------------------------------------------

    @on(FrameLog.Highlighted)
    def _highlighted(self, event: FrameLog.Highlighted) -> None:
        self._status()
        frame = event.frame
        if frame is None:
            self.detail.show(None)
            return
        if frame.get("type") not in ("call", "result", "error", "resulterror"):
            self.detail.show(frame)
            return
        pair = pair_of(frame, self.log_view.frames)
        if pair is not None or frame.get("id") is None:
            self.detail.show(frame, pair)
            return
        self.detail.show(frame, PAIR_PENDING)
        self._look_up_pair(frame)

    @work(exclusive=True, group="pair", exit_on_error=False)
    async def _look_up_pair(self, frame: dict[str, Any]) -> None:
        """The paired frame is not in the log (evicted, or filtered while paused): ask the
        engine for the charger's recent frames."""
        pair = None
        try:
            answer = await self.source.session(str(frame.get("charger")))
        except Exception:  # an unknown charger, or the engine is away: no pair to show
            answer = {}
        pair = pair_of(frame, answer.get("frames") or ())
        with contextlib.suppress(NoMatches):  # the app is closing
            if self.detail.frame is frame:
                self.detail.show(frame, pair)

    @on(Button.Pressed, "#btn-pause")
    async def _pause_pressed(self) -> None:
        await self.app.run_action("toggle_pause")

    @on(Button.Pressed, "#btn-export")
    async def _export_pressed(self) -> None:
        await self.app.run_action("export")
