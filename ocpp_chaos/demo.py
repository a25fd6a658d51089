"""The demo: the embedded reference CSMS (or yours), the proxy in front of it, a fleet of
virtual chargers (OCPP 1.6 and 2.0.1) with EVs arriving and charging, and a chaos timeline
that rotates through signal loss, corrupted frames, reordering and a CSMS outage.

It runs on an `Engine`, so the console shows it live and the operator can fire faults of
their own while it runs (the demo's rules are ordinary rules: toggle them in the rules
panel). At the end it asks what a CSMS must have done (every charger back and accepted,
every transaction message acknowledged, every CALL answered, no error found by the oracle)
and gives a verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from ocpp_chaos.api.engine import Engine
from ocpp_chaos.proxy import FrameRecord, SessionEvent
from ocpp_chaos.scenarios.result import ExpectationResult, ScenarioResult

__all__ = ["DEMO_RULES", "PHASES", "DemoSummary", "run_demo"]

log = structlog.get_logger("ocpp_chaos.demo")

DEMO_RULES: list[dict[str, Any]] = [
    {
        "name": "demo-corrupt",
        "description": "a flaky modem: 30% of heartbeats, status and meter values arrive "
        "as broken JSON (the CSMS must answer them with a CALLERROR)",
        "enabled": False,
        "match": {
            "direction": "up",
            "message": "call",
            "action": ["Heartbeat", "StatusNotification", "MeterValues"],
        },
        "probability": 0.3,
        "fault": {"type": "corrupt", "mode": "invalid_json"},
    },
    {
        "name": "demo-reorder",
        "description": "status and meter values overtaken by later frames (held up to 3 s)",
        "enabled": False,
        "match": {
            "direction": "up",
            "message": "call",
            "action": ["StatusNotification", "MeterValues", "TransactionEvent"],
        },
        "fault": {"type": "reorder", "after": 1, "max_hold": "3s"},
    },
    {
        "name": "demo-outage",
        "description": "the CSMS goes away for 5 s: every session drops, then the reconnect storm",
        "enabled": False,
        "fault": {"type": "csms_outage", "duration": "5s"},
    },
]
"""The demo's rules: loaded disabled; the timeline switches them on and off."""

PHASES = ("signal loss", "corrupted frames", "reordering", "CSMS outage")


@dataclass
class DemoSummary:
    """What happened: the verdict of the demo's expectations and what the proxy saw."""

    target: str = "embedded reference CSMS"
    duration: float = 0.0
    chargers: int = 0
    sessions: int = 0
    frames_up: int = 0
    frames_down: int = 0
    malformed: int = 0
    schema_violations: int = 0
    transactions_started: int = 0
    transactions_ended: int = 0
    phases: list[dict[str, Any]] = field(default_factory=list)
    findings: dict[str, int] = field(default_factory=dict)
    rtts: list[float] = field(default_factory=list)
    result: ScenarioResult | None = None
    interrupted: bool = False
    """Stopped (Ctrl-C, or the operator quit the console) before the fleet settled: the
    verdict is of that moment."""

    @property
    def verdict(self) -> str:
        return self.result.verdict if self.result is not None else "error"

    def percentile(self, q: float) -> float | None:
        if not self.rtts:
            return None
        ordered = sorted(self.rtts)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def to_json(self) -> dict[str, Any]:
        p50, p99 = self.percentile(0.5), self.percentile(0.99)
        return {
            "verdict": self.verdict,
            "error": self.result.error if self.result is not None else None,
            "interrupted": self.interrupted,
            "target": self.target,
            "duration_s": round(self.duration, 2),
            "chargers": self.chargers,
            "sessions": self.sessions,
            "frames_up": self.frames_up,
            "frames_down": self.frames_down,
            "malformed": self.malformed,
            "schema_violations": self.schema_violations,
            "transactions_started": self.transactions_started,
            "transactions_ended": self.transactions_ended,
            "phases": self.phases,
            "findings": self.findings,
            "round_trips": len(self.rtts),
            "rtt_p50_ms": None if p50 is None else round(p50 * 1000, 3),
            "rtt_p99_ms": None if p99 is None else round(p99 * 1000, 3),
            "expectations": [
                {"name": e.name, "status": e.status, "summary": e.summary}
                for e in (self.result.expectations if self.result is not None else [])
            ],
        }

    def render(self) -> str:
        from ocpp_chaos.scenarios.report import verdict_table

        j = self.to_json()
        rows = [
            ("target", j["target"]),
            ("duration", f"{j['duration_s']} s"),
            ("chargers / sessions", f"{j['chargers']} / {j['sessions']}"),
            ("frames up / down", f"{j['frames_up']} / {j['frames_down']}"),
            ("malformed frames", j["malformed"]),
            (
                "transactions started / ended",
                f"{self.transactions_started} / {self.transactions_ended}",
            ),
            ("chaos", ", ".join(f"{p['phase']} @{p['at']}s" for p in self.phases) or "none"),
            (
                "CSMS oracle findings",
                ", ".join(f"{k} {v}" for k, v in self.findings.items()) or "none",
            ),
            ("round-trip p50 / p99", f"{j['rtt_p50_ms']} ms / {j['rtt_p99_ms']} ms"),
        ]
        width = max(len(k) for k, _ in rows)
        lines = ["ocpp-chaos demo", *(f"  {k:<{width}}  {v}" for k, v in rows), ""]
        if self.result is not None and self.result.error:
            lines.append(f"error: {self.result.error}")
        elif self.result is not None:
            if self.interrupted:
                lines.append("stopped before the fleet settled: the verdict is of that moment")
            lines.append(verdict_table([self.result]))
        return "\n".join(lines)


async def run_demo(
    engine: Engine,
    *,
    duration: float = 60.0,
    chargers: int = 50,
    stop: asyncio.Event | None = None,
    period: float | None = None,
    settle: float = 30.0,
) -> DemoSummary:
    """Run the demo on a started engine for `duration` seconds (math.inf: until `stop`),
    then stop the chaos, let the fleet settle and judge. `period`: seconds per chaos phase
    (default: a whole rotation fits in the duration, at most 15 s a phase)."""
    from ocpp_chaos.proxy.oracle import KINDS

    stop = stop or asyncio.Event()
    summary = DemoSummary(chargers=chargers)
    if engine.csms is None:
        from ocpp_chaos.log import redact_text

        summary.target = redact_text(engine.proxy.config.upstream)
    if period is None:
        period = 15.0 if math.isinf(duration) else max(2.0, min(15.0, duration / len(PHASES)))
    started = time.monotonic()
    result = ScenarioResult(
        name="demo",
        description="a mixed fleet charging through the proxy while chaos rotates",
        tags=[],
        seed=engine.seed,
        target=summary.target,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        duration_s=0.0,
        verdict="passed",
    )

    def observe(event: Any) -> None:
        if isinstance(event, SessionEvent):
            summary.sessions += event.kind == "session_open"
            return
        if not isinstance(event, FrameRecord) or event.opcode not in ("text", "binary"):
            return
        if event.direction.value == "up":
            summary.frames_up += 1
        else:
            summary.frames_down += 1
        summary.malformed += event.kind == "malformed"
        summary.schema_violations += event.schema.valid is False
        if event.rtt is not None:
            summary.rtts.append(event.rtt)

    engine.proxy.observers.append(observe)
    # the chargers give up on a CALL after 10 s: a CSMS answers well before
    engine.proxy.oracle.configure(unanswered=5.0)
    for rule in DEMO_RULES:
        engine.add_rule(rule)
    ids = engine.add_chargers(
        chargers,
        protocol="mixed",
        id_pattern="DEMO-{n:03}",
        sessions=True,
        idle_mean=min(10.0, period),
        charge_seconds=(period, 3 * period),
        config={
            "MeterValueSampleInterval": "5",
            "SampledDataCtrlr.TxUpdatedInterval": "5",
            # a transaction message lost to the chaos is retried within the settling time
            "TransactionMessageRetryInterval": "3",
            "OCPPCommCtrlr.MessageAttemptInterval[TransactionEvent]": "3",
        },
        call_timeout=10.0,
    )
    log.info("demo_started", proxy=engine.proxy.url, chargers=len(ids), duration=duration)
    if not await _booted(engine, ids, stop, timeout=30.0):  # chaos for chargers that are there
        summary.duration = time.monotonic() - started
        result.verdict = "error"
        result.error = (
            f"the CSMS at {summary.target} cannot be reached "
            f"({engine.proxy.totals['unreachable']} connection attempts failed)"
        )
        engine.proxy.observers.remove(observe)
        summary.result = result
        log.error("demo_target_unreachable", target=summary.target)
        return summary
    try:
        await _chaos(engine, ids, summary, started, duration, period, stop)
    finally:
        for rule in DEMO_RULES:
            with contextlib.suppress(Exception):
                engine.set_rule(rule["name"], False)
        engine.clear_faults()
    summary.interrupted = stop.is_set()
    await _settle(engine, ids, settle, stop)
    summary.duration = time.monotonic() - started
    engine.proxy.finish_oracle()  # what is still open past the slow threshold is reported
    _judge(engine, ids, summary, result)
    counts = engine.proxy.oracle.counts()
    summary.findings = {k: counts[k] for k in sorted(counts) if k in KINDS and counts[k]}
    engine.proxy.observers.remove(observe)
    result.duration_s = round(summary.duration, 3)
    summary.result = result
    log.info("demo_finished", verdict=result.verdict, **{"findings": summary.findings})
    return summary


async def _chaos(
    engine: Engine,
    ids: list[str],
    summary: DemoSummary,
    started: float,
    duration: float,
    period: float,
    stop: asyncio.Event,
) -> None:
    """Rotate the phases: each acts for 2/3 of `period`, then a quiet third."""
    deadline = started + duration
    active = period * 2 / 3
    n = 0
    while not stop.is_set() and deadline - time.monotonic() > period / 3:
        phase = PHASES[n % len(PHASES)]
        n += 1
        at = round(time.monotonic() - started, 1)
        summary.phases.append({"phase": phase, "at": at})
        engine.publish("demo", phase=phase)
        log.info("demo_phase", phase=phase, at=at)
        rule = None
        if phase == "signal loss":
            online = [i for i in ids if engine.chargers[i].connected]
            if online:
                engine.fire(
                    {"type": "signal_loss", "duration": f"{active:.1f}s"},
                    online,
                    radius={"percent": 10},
                )
        else:
            rule = {"corrupted frames": "demo-corrupt", "reordering": "demo-reorder"}.get(
                phase, "demo-outage"
            )
            engine.set_rule(rule, True)
        await _sleep_until(min(deadline, time.monotonic() + active), stop)
        if rule is not None:
            engine.set_rule(rule, False)
        await _sleep_until(min(deadline, time.monotonic() + period - active), stop)


async def _sleep_until(when: float, stop: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(0.0, when - time.monotonic())):
            await stop.wait()


async def _booted(engine: Engine, ids: list[str], stop: asyncio.Event, timeout: float) -> bool:
    """Wait (at most `timeout` s) until nine in ten chargers are accepted. False when the
    CSMS cannot be reached at all: every charger has failed to get through, none booted."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        booted = sum(engine.chargers[i].booted for i in ids)
        if booted >= 0.9 * len(ids):
            return True
        if not booted and engine.proxy.totals["unreachable"] >= len(ids):
            return False
        await asyncio.sleep(0.1)
    return True


async def _settle(engine: Engine, ids: list[str], timeout: float, stop: asyncio.Event) -> None:
    """Give the fleet up to `timeout` s to be back, accepted, with empty queues."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        chargers = [engine.chargers[i] for i in ids]
        if all(c.booted and c.connected and not len(c.queue) for c in chargers):
            return
        await asyncio.sleep(0.25)


def _judge(engine: Engine, ids: list[str], summary: DemoSummary, result: ScenarioResult) -> None:
    chargers = [engine.chargers[i] for i in ids]
    summary.transactions_started = sum(c.counters.transactions for c in chargers)
    summary.transactions_ended = sum(c.counters.transactions_ended for c in chargers)
    oracle = engine.proxy.oracle
    at = round(summary.duration, 3)

    def expect(name: str, ok: bool, detail: str, evidence: list[dict[str, Any]]) -> None:
        result.expectations.append(
            ExpectationResult(name, "end", "passed" if ok else "failed", detail, evidence, at)
        )

    away = [c.charger_id for c in chargers if not (c.booted and c.connected)]
    expect(
        "every charger back online and accepted",
        not away,
        f"{len(chargers) - len(away)} of {len(chargers)} accepted",
        [{"charger": i} for i in away[:20]],
    )
    queued = {c.charger_id: len(c.queue) for c in chargers if len(c.queue)}
    unacked = [
        f
        for kind in (
            "transaction_not_acknowledged",
            "acknowledged_out_of_order",
            "transaction_message_rejected",
        )
        for f in oracle.findings(kind)
    ]
    expect(
        "every transaction message acknowledged",
        not queued and not unacked,
        ("queues empty" if not queued else f"{sum(queued.values())} still queued")
        + f"; {len(unacked)} not acknowledged, rejected or out of order",
        [{"charger": k, "queued": v} for k, v in list(queued.items())[:20]]
        + [f.to_json() for f in unacked[:20]],
    )
    expect(
        "charging sessions started and ended",
        summary.transactions_started > 0 and summary.transactions_ended > 0,
        f"{summary.transactions_started} started, {summary.transactions_ended} ended",
        [],
    )
    unanswered = [
        *oracle.findings("unanswered_call"),
        *oracle.findings("malformed_unanswered"),
        *oracle.findings("unanswered_at_close"),
    ]
    expect(
        "the CSMS answered every CALL",
        not unanswered,
        f"{len(unanswered)} unanswered",
        [f.to_json() for f in unanswered[:20]],
    )
    errors = [f for f in oracle.findings() if f.severity == "error"]
    expect(
        "no error found by the CSMS oracle",
        not errors,
        f"{len(errors)} error findings" if errors else "none",
        [f.to_json() for f in errors[:20]],
    )
    if any(e.status == "failed" for e in result.expectations):
        result.verdict = "failed"
