"""How the console shows what the control API says: pure functions, no Textual.

Times are shown in UTC (as OCPP timestamps are), so the same data looks the same on any
machine; durations are coarse (seconds, then minutes) so a table cell changes rarely.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from rich.text import Text

__all__ = [
    "SESSION_COLUMNS",
    "clock",
    "connected_for",
    "fault_cells",
    "frame_json",
    "frame_line",
    "pair_of",
    "protocol_of",
    "session_cells",
]

SESSION_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("mark", " ", 1),
    ("charger", "Charger", 18),
    ("protocol", "OCPP", 6),
    ("state", "State", 9),
    ("connected", "Connected", 9),
    ("up", "Frames ↑", 9),
    ("down", "Frames ↓", 9),
    ("last_action", "Last action", 24),
    ("rtt", "RTT p50 ms", 10),
    ("faults", "Active faults", 22),
    ("findings", "Findings", 8),
)
"""(key, label, width) of the sessions table; fixed widths, so no cell change re-measures."""

_TYPE_STYLE = {
    "call": "cyan",
    "result": "green",
    "error": "bold red",
    "resulterror": "bold red",
    "send": "blue",
    "malformed": "bold magenta",
}
_SILENCING = frozenset({"signal_loss", "blackhole"})


def clock(t: float | None) -> str:
    """Unix time → `HH:MM:SS.mmm` (UTC)."""
    if not isinstance(t, int | float):
        return "--:--:--.---"
    whole = int(t)
    millis = round((t - whole) * 1000)
    if millis == 1000:
        whole, millis = whole + 1, 0
    return time.strftime("%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}"


def connected_for(seconds: float | None) -> str:
    """A coarse duration: `42s`, `12m`, `3h05m`, `2d04h`."""
    if seconds is None:
        return ""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def protocol_of(subprotocol: str | None) -> str:
    """`ocpp1.6` → `1.6`."""
    if not subprotocol:
        return "?"
    return subprotocol.removeprefix("ocpp")


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def session_state(info: Mapping[str, Any]) -> Text:
    faults = set(info.get("faults") or ())
    if info.get("closing"):
        return Text("closing", style="yellow")
    if faults & _SILENCING:
        return Text("silenced", style="bold red")
    return Text("open", style="green")


def fault_cells(faults: Iterable[str]) -> Text:
    names = list(faults)
    if not names:
        return Text("")
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return Text(
        ", ".join(n if c == 1 else f"{n} x{c}" for n, c in counts.items()), style="bold red"
    )


def session_cells(info: Mapping[str, Any], *, marked: bool = False) -> tuple[Any, ...]:
    """A session (`GET /api/sessions` item) as the sessions table's cells, in
    SESSION_COLUMNS order."""
    findings = int(info.get("findings") or 0)
    return (
        Text("●", style="bold yellow") if marked else " ",
        str(info.get("charger_id", "")),
        protocol_of(info.get("subprotocol")),
        session_state(info),
        connected_for(info.get("connected_for_s")),
        str(info.get("frames_up", 0)),
        str(info.get("frames_down", 0)),
        str(info.get("last_action") or ""),
        _ms(info.get("rtt_p50_ms")),
        fault_cells(info.get("faults") or ()),
        Text(str(findings), style="bold yellow") if findings else "0",
    )


def _frame_body(event: Mapping[str, Any]) -> str:
    if "text" in event:
        return str(event["text"])
    if "b64" in event:
        return f"<{event.get('opcode', 'binary')} base64 {event['b64']}>"
    reason = event.get("reason")
    return f"<{event.get('opcode', '?')}{' ' + str(reason) if reason else ''}>"


def frame_line(event: Mapping[str, Any]) -> Text:
    """One log line: time, charger, direction, type, action, id, verdicts, then the text."""
    kind = str(event.get("type") or event.get("opcode") or "")
    arrow = "↑" if event.get("dir") == "up" else "↓"
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(clock(event.get("t")), style="dim")
    line.append(" ")
    line.append(f"{str(event.get('charger', ''))[:16]:<16}", style="bold")
    line.append(f" {arrow} ")
    line.append(f"{kind:<10}", style=_TYPE_STYLE.get(kind, ""))
    line.append(f" {str(event.get('action') or '')[:24]:<24}")
    tags = []
    if event.get("schema") == "invalid":
        tags.append(("schema✗", "bold red"))
    decision = event.get("decision")
    if decision and decision != "forward":
        tags.append((str(decision), "bold yellow"))
    if event.get("rtt_ms") is not None:
        tags.append((f"{event['rtt_ms']:.1f}ms", "dim"))
    for tag, style in tags:
        line.append(" ")
        line.append(tag, style=style)
    line.append("  ")
    line.append(_frame_body(event).replace("\n", " "))
    return line


def frame_json(event: Mapping[str, Any]) -> tuple[str, bool]:
    """The frame's text, pretty-printed when it is JSON: (text, is_json)."""
    body = _frame_body(event)
    if "text" not in event:
        return body, False
    try:
        parsed = json.loads(body)
    except ValueError:
        return body, False
    return json.dumps(parsed, indent=2, ensure_ascii=False), True


_PAIRS = {
    "call": ("result", "error", "resulterror"),
    "result": ("call",),
    "error": ("call",),
    "resulterror": ("call",),
}


def pair_of(
    event: Mapping[str, Any], candidates: Iterable[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The request of a response, or the response of a request: the frame of the same
    charger with the same unique id, the other type and the other direction (the nearest
    in time when an id was reused)."""
    unique_id = event.get("id")
    kind = event.get("type")
    if unique_id is None or kind not in _PAIRS:
        return None
    wanted = _PAIRS[str(kind)]
    best: Mapping[str, Any] | None = None
    t = float(event.get("t") or 0.0)
    for other in candidates:
        if (
            other is event
            or other.get("id") != unique_id
            or other.get("charger") != event.get("charger")
            or other.get("type") not in wanted
            or other.get("dir") == event.get("dir")
        ):
            continue
        if best is None or abs(float(other.get("t") or 0.0) - t) < abs(
            float(best.get("t") or 0.0) - t
        ):
            best = other
    return best
