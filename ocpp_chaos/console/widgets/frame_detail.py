"""The frame detail pane: the picked frame as pretty JSON, its schema verdict, what the
proxy did with it, its request or response and the round trip."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.json import JSON
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ocpp_chaos.console.format import clock, frame_json

__all__ = ["FrameDetail", "render_detail"]

PAIR_PENDING = object()
"""`pair` while the paired frame is still being looked up."""


def _json_block(frame: Mapping[str, Any]) -> RenderableType:
    text, is_json = frame_json(frame)
    if not is_json:
        return Text(text, style="magenta")
    return JSON(text, indent=2, highlight=True)


def _title(frame: Mapping[str, Any]) -> Text:
    arrow = "↑ charger → CSMS" if frame.get("dir") == "up" else "↓ CSMS → charger"
    kind = str(frame.get("type") or frame.get("opcode") or "")
    out = Text()
    out.append(f"{kind} ", style="bold")
    out.append(str(frame.get("action") or ""), style="bold cyan")
    out.append(f"  {arrow}\n", style="dim")
    out.append(f"{frame.get('charger', '')}  ", style="bold")
    out.append(f"{clock(frame.get('t'))} UTC  session {frame.get('session', '')}\n", style="dim")
    if frame.get("id") is not None:
        out.append(f"id {frame['id']}\n")
    return out


def _schema(frame: Mapping[str, Any]) -> Text:
    verdict = frame.get("schema")
    out = Text("schema: ")
    if verdict == "valid":
        out.append("valid", style="bold green")
    elif verdict == "invalid":
        out.append("invalid", style="bold red")
        for error in frame.get("schema_errors") or ():
            out.append(f"\n  - {error}", style="red")
    else:
        out.append("not checked", style="dim")
    decision = frame.get("decision")
    if decision:
        out.append("   proxy: ")
        out.append(str(decision), style="bold" if decision == "forward" else "bold yellow")
    if frame.get("reason"):
        out.append(f"\nreason: {frame['reason']}", style="magenta")
    return out


def render_detail(frame: Mapping[str, Any] | None, pair: Any = None) -> RenderableType:
    """The pane's content for `frame` and its paired frame (a frame, None when there is
    none, or PAIR_PENDING)."""
    if frame is None:
        return Text(
            "No frame picked: move the cursor in the log (↑/↓, click) to see a frame, "
            "its schema verdict and its request or response.",
            style="dim",
        )
    parts: list[RenderableType] = [_title(frame), _schema(frame)]
    rtt = frame.get("rtt_ms")
    if rtt is None and isinstance(pair, Mapping):
        rtt = pair.get("rtt_ms")
    if frame.get("type") in ("call", "result", "error", "resulterror"):
        parts.append(
            Text(f"round trip: {rtt:.1f} ms", style="bold")
            if rtt is not None
            else Text("round trip: -", style="dim")
        )
    parts.append(Text(""))
    parts.append(_json_block(frame))
    if frame.get("type") in ("call", "result", "error", "resulterror"):
        is_call = frame.get("type") == "call"
        label = "response" if is_call else "request"
        parts.append(Text(""))
        if pair is PAIR_PENDING:
            parts.append(Text(f"{label}: looking it up...", style="dim"))
        elif isinstance(pair, Mapping):
            head = Text(f"{label}: ", style="bold")
            head.append(
                f"{pair.get('type')} {pair.get('action') or ''} at {clock(pair.get('t'))}",
                style="cyan",
            )
            parts.append(head)
            parts.append(_json_block(pair))
        else:
            parts.append(
                Text(
                    f"{label}: none seen" + (" (yet)" if is_call else ""),
                    style="yellow",
                )
            )
    return Group(*parts)


class FrameDetail(VerticalScroll):
    """Shows one frame (see `render_detail`)."""

    DEFAULT_CSS = """
    FrameDetail { background: $panel; padding: 0 1; }
    FrameDetail > Static { width: 1fr; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.frame: Mapping[str, Any] | None = None
        self.pair: Any = None

    def compose(self) -> ComposeResult:
        yield Static(render_detail(None), id="frame-detail-body")

    def show(self, frame: Mapping[str, Any] | None, pair: Any = None) -> None:
        self.frame = frame
        self.pair = pair
        try:
            content = render_detail(frame, pair)
        except Exception:  # a frame we cannot lay out: show it raw rather than crash
            content = Text(f"(unshowable) {frame!r}", style="red")
        self.query_one("#frame-detail-body", Static).update(content)
