"""The control API's Prometheus `/metrics`: what the proxy, its rules and its oracle know.

Nothing is kept twice: a collector over a private `CollectorRegistry` (not
prometheus_client's global one) reads the live state each time `Metrics.render()`
is called. The one thing the proxy does not count itself, frames by action, is
counted by a `FrameCounter` observer:

    frames = FrameCounter()
    proxy.observers.append(frames)  # before chargers connect
    metrics = Metrics(proxy, frames, extra=lambda: {"fleet_chargers": 10.0})
    body, content_type = metrics.render(), metrics.content_type

What is exposed (all named `ocpp_chaos_*`):

- `sessions` (gauge), `sessions_opened_total`, `sessions_closed_total{by}`,
  `upstream_refused_total`, `upstream_unreachable_total`,
  `connections_refused_by_rule_total`;
- `frames_total{action,direction,type}`;
- `rule_enabled{rule}` (gauge), `rule_matched_total{rule,fault}`,
  `rule_hits_total{rule,fault}`, `rule_decisions_total{rule,decision}`;
- `csms_response_seconds{action}` (histogram, `HISTOGRAM_BOUNDS`);
- `findings_total{kind,severity}`;
- each `extra()` entry as a gauge `ocpp_chaos_<key>`.

`render()` reads the proxy's state without locks: call it on the proxy's event loop.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from ocpp_chaos.frames import Direction
from ocpp_chaos.proxy.monitor import FrameRecord
from ocpp_chaos.proxy.oracle import KINDS
from ocpp_chaos.proxy.session import SessionEvent

if TYPE_CHECKING:
    from ocpp_chaos.proxy.server import ProxyServer

__all__ = ["PREFIX", "FrameCounter", "Metrics"]

log = structlog.get_logger("ocpp_chaos.api.metrics")

PREFIX = "ocpp_chaos_"

OTHER_ACTION = "(other)"
"""The action label of frames past `FrameCounter`'s series cap."""

# proxy.totals key -> (metric name without _total, help)
_TOTALS: dict[str, tuple[str, str]] = {
    "sessions": (
        "sessions_opened",
        "Sessions opened since the proxy started (the CSMS accepted the WebSocket upgrade).",
    ),
    "refused": (
        "upstream_refused",
        "Charger connections whose WebSocket upgrade the CSMS refused with an HTTP status.",
    ),
    "unreachable": (
        "upstream_unreachable",
        "Charger connections for which the CSMS could not be reached.",
    ),
    "refused_by_rule": (
        "connections_refused_by_rule",
        "Charger connections a rule refused before the CSMS was asked (reject_connect...).",
    ),
}

_SUFFIXES = ("", "_total", "_created", "_bucket", "_count", "_sum")
"""What a family named N may put in the exposition: N, N_total, N_bucket..."""

_INVALID = re.compile(r"[^a-zA-Z0-9_]")


class FrameCounter:
    """An observer for `ProxyServer.observers`: counts every frame the proxy records by
    (action, direction, type), and the sessions opened and closed.

    A frame is counted when the proxy reads it (a frame a rule drops or delays too,
    once), and so is a frame a rule injects. `action` is the CALL's action, and for a
    CALLRESULT or CALLERROR the action of the CALL it answers ("" when unknown: a
    malformed frame, a control frame, an answer to nothing); `type` is the message type
    (`call`, `result`, `error`, `resulterror`, `send`, `malformed`), or the opcode
    (`ping`, `pong`, `close`; `text` or `binary` for an injected frame).

    Actions come from the chargers and the CSMS, so the series are capped: past
    `max_series` distinct (action, direction, type), new ones count under
    action "(other)". Findings and other events are ignored (the oracle counts findings).
    """

    __slots__ = ("_closed", "_frames", "_max_series", "opened")

    def __init__(self, max_series: int = 2048) -> None:
        self._frames: dict[tuple[str, Direction, str], int] = {}
        self._max_series = max_series
        self.opened = 0
        """Sessions opened (as `session_open` events)."""
        self._closed: dict[str, int] = {}

    def __call__(self, event: object) -> None:
        if isinstance(event, FrameRecord):
            key = (event.action or "", event.direction, event.kind or event.opcode)
            frames = self._frames
            n = frames.get(key)
            if n is None:
                if len(frames) >= self._max_series:
                    key = (OTHER_ACTION, key[1], key[2])
                n = frames.get(key, 0)
            frames[key] = n + 1
        elif isinstance(event, SessionEvent):
            if event.kind == "session_open":
                self.opened += 1
            elif event.kind == "session_closed":
                by = _closer(event.detail.get("by"))
                self._closed[by] = self._closed.get(by, 0) + 1

    def frames(self) -> dict[tuple[str, str, str], int]:
        """(action, direction, type) -> frames so far; direction is `up` or `down`."""
        return {(a, d.value, t): n for (a, d, t), n in self._frames.copy().items()}

    def closed(self) -> dict[str, int]:
        """Who closed -> sessions closed: `charger`, `csms`, `proxy`, `rule` or `unknown`."""
        return self._closed.copy()


def _closer(by: Any) -> str:
    if by in ("charger", "csms", "proxy"):
        return str(by)
    if isinstance(by, str) and by.startswith("rule:"):
        return "rule"  # one series for every rule: their names are in rule_decisions_total
    return "unknown"


class Metrics:
    """The `/metrics` body and content type of one proxy; see the module docstring."""

    content_type: str = CONTENT_TYPE_LATEST
    """The Content-Type to serve `render()`'s bytes with."""

    def __init__(
        self,
        proxy: ProxyServer,
        frames: FrameCounter,
        extra: Callable[[], Mapping[str, float]] | None = None,
    ) -> None:
        """`frames` must be in `proxy.observers` (this does not add it); `extra()` gives
        more gauges, key -> value, each exposed as `ocpp_chaos_<key>` (a character a
        metric name cannot hold becomes `_`)."""
        self.proxy = proxy
        self.frames = frames
        self.extra = extra
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def render(self) -> bytes:
        """The Prometheus text exposition of the state now."""
        return generate_latest(self.registry)

    def collect(self) -> Iterable[Metric]:
        """The metric families (the prometheus_client `Collector` protocol)."""
        families = [
            *self._sessions(),
            self._frames(),
            *self._rules(),
            self._response_times(),
            self._findings(),
        ]
        taken = {family.name + suffix for family in families for suffix in _SUFFIXES}
        families.extend(self._extra(taken))
        return families

    # -- families -------------------------------------------------------------------------

    def _sessions(self) -> list[Metric]:
        proxy = self.proxy
        out: list[Metric] = [
            GaugeMetricFamily(
                PREFIX + "sessions", "Sessions open now.", value=float(len(proxy.sessions))
            )
        ]
        for key, value in proxy.totals.items():
            name, help_text = _TOTALS.get(key, (_name(key), f"The proxy's {key!r} total."))
            out.append(CounterMetricFamily(PREFIX + name, help_text, value=float(value)))
        closed = CounterMetricFamily(
            PREFIX + "sessions_closed",
            "Sessions closed, by who closed them (charger, csms, proxy, rule or unknown).",
            labels=["by"],
        )
        for by, n in sorted(self.frames.closed().items()):
            closed.add_metric([by], float(n))
        out.append(closed)
        return out

    def _frames(self) -> Metric:
        family = CounterMetricFamily(
            PREFIX + "frames",
            "Frames the proxy read (or a rule injected), by action, direction (up: charger "
            "to CSMS) and message type or control opcode; action is that of the CALL an "
            "answer answers, empty when unknown.",
            labels=["action", "direction", "type"],
        )
        for (action, direction, kind), n in sorted(self.frames.frames().items()):
            family.add_metric([action, direction, kind], float(n))
        return family

    def _rules(self) -> list[Metric]:
        enabled = GaugeMetricFamily(
            PREFIX + "rule_enabled", "Whether the rule is enabled (1) or not (0).", labels=["rule"]
        )
        matched = CounterMetricFamily(
            PREFIX + "rule_matched",
            "Frames or connections the rule's match selected.",
            labels=["rule", "fault"],
        )
        hits = CounterMetricFamily(
            PREFIX + "rule_hits",
            "Times the rule's fault acted (after its probability, first/every and limits).",
            labels=["rule", "fault"],
        )
        decisions = CounterMetricFamily(
            PREFIX + "rule_decisions",
            "What the rule did, by decision (drop, delay, refuse...).",
            labels=["rule", "decision"],
        )
        for rule in self.proxy.rules.describe():
            name, fault = str(rule["name"]), str(rule["fault"])
            enabled.add_metric([name], 1.0 if rule["enabled"] else 0.0)
            matched.add_metric([name, fault], float(rule["matched"]))
            hits.add_metric([name, fault], float(rule["hits"]))
            for decision, n in sorted(rule["decisions"].items()):
                decisions.add_metric([name, str(decision)], float(n))
        return [enabled, matched, hits, decisions]

    def _response_times(self) -> Metric:
        family = HistogramMetricFamily(
            PREFIX + "csms_response_seconds",
            "Time from a CALL written to the CSMS to its answer read from it, per action "
            '(actions past the oracle\'s cap count as "(other)").',
            labels=["action"],
        )
        for action, times in sorted(self.proxy.oracle.histograms().items()):
            buckets, total = times.histogram()
            family.add_metric([action], [(_bound(le), float(n)) for le, n in buckets], total)
        return family

    def _findings(self) -> Metric:
        family = CounterMetricFamily(
            PREFIX + "findings",
            "What the CSMS did wrong or slowly (the oracle's findings, kept or not), by kind "
            "and severity.",
            labels=["kind", "severity"],
        )
        counts: dict[tuple[str, str], int] = {
            (kind, severity): 0 for kind, (severity, _spec, _about) in KINDS.items()
        }  # every kind from the start, so that increase() sees the first one
        for key, n in self.proxy.oracle.counts_by_severity().items():
            counts[key] = n
        for (kind, severity), n in sorted(counts.items()):
            family.add_metric([kind, severity], float(n))
        return family

    def _extra(self, taken: set[str]) -> list[Metric]:
        if self.extra is None:
            return []
        try:
            values = dict(self.extra())
        except Exception as exc:  # a bug there must not cost the other metrics
            log.error("metrics_extra_failed", error=repr(exc), exc_info=exc)
            return []
        out: list[Metric] = []
        for key, value in sorted(values.items()):
            name = PREFIX + _name(key)
            try:
                number = float(value)
            except (TypeError, ValueError):
                log.warning("metrics_extra_not_a_number", key=key, value=repr(value)[:80])
                continue
            if not key or name in taken:
                log.warning("metrics_extra_name_taken", key=key, name=name)
                continue
            taken.update(name + suffix for suffix in _SUFFIXES)
            out.append(GaugeMetricFamily(name, f"{key} (from the engine).", value=number))
        return out


def _name(key: str) -> str:
    """`key` as (the tail of) a Prometheus metric name."""
    return _INVALID.sub("_", str(key))


def _bound(le: float) -> str:
    """A bucket's `le` label: `+Inf`, or the shortest repr of the bound (`0.005`, `1.0`)."""
    return "+Inf" if math.isinf(le) else repr(float(le))
