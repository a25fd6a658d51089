"""What a scenario run produced: the verdict, each expectation with its evidence, the
steps, the oracle's findings and the series the reports chart. Plain data (JSON-ready)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = [
    "ExpectationResult",
    "FaultWindow",
    "ScenarioResult",
    "StepResult",
    "Verdict",
]

Verdict = Literal["passed", "failed", "error"]
"""passed: every expectation held; failed: one did not; error: the scenario or the
target could not be run as written (a step timed out, the CSMS was unreachable...)."""

Status = Literal["passed", "failed", "error"]


@dataclass
class ExpectationResult:
    """One expectation asked at one moment."""

    name: str
    phase: Literal["before", "during", "after", "end"]
    """steady state: before the first step, during the timeline, after it; or an end check."""
    status: Status
    summary: str
    """One line: what was found (e.g. "p99 2.4 s > 2 s for StartTransaction")."""
    evidence: list[dict[str, Any]] = field(default_factory=list)
    """What shows it: findings (charger, frame, spec clause), values per charger..."""
    at: float | None = None
    """Seconds since the start (for `during`: the first time it did not hold)."""


@dataclass
class StepResult:
    index: int
    do: str
    name: str
    status: Status
    started_at: float | None = None
    ended_at: float | None = None
    chargers: int = 0
    """How many chargers it acted on."""
    error: str | None = None


@dataclass
class FaultWindow:
    """When a fault or rule was active (for shading charts)."""

    label: str
    start: float
    end: float | None


@dataclass
class ScenarioResult:
    name: str
    description: str
    tags: list[str]
    seed: int
    target: str
    """The CSMS URL, or 'embedded reference CSMS'."""
    started_at: str
    """Wall-clock start, ISO 8601 UTC."""
    duration_s: float
    verdict: Verdict
    error: str | None = None
    expectations: list[ExpectationResult] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    """The oracle's findings (Finding.to_json()), in order."""
    finding_counts: dict[str, int] = field(default_factory=dict)
    response_times: dict[str, dict[str, Any]] = field(default_factory=dict)
    """action → {count, p50, p95, p99, max (seconds), buckets: [[upper_s, count], ...]}."""
    messages: list[dict[str, float]] = field(default_factory=list)
    """Per second: {"t": s, "up": frames, "down": frames} through the proxy."""
    fault_windows: list[FaultWindow] = field(default_factory=list)
    charger_timeline: dict[str, list[list[Any]]] = field(default_factory=dict)
    """charger id → [[t, state], ...] state changes (accepted, offline, ...)."""
    metrics: dict[str, float] = field(default_factory=dict)
    tape: str | None = None
    """The path of the run's tape (JSONL), when one was written."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def exit_code(self) -> int:
        return {"passed": 0, "failed": 1, "error": 2}[self.verdict]
