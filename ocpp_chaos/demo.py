"""The demo: the embedded reference CSMS, the proxy in front of it and a few chargers.

First form (issue #2): a handful of ocpp-library test chargers boot, send
heartbeats and run transactions through the proxy for a while; the demo then
prints what the proxy saw.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from ocpp_chaos.aio import spawn
from ocpp_chaos.proxy import FrameRecord, ProxyConfig, ProxyServer, SessionEvent
from ocpp_chaos.proxy.oracle import Finding

__all__ = ["DemoSummary", "run_demo"]

log = structlog.get_logger("ocpp_chaos.demo")


@dataclass
class DemoSummary:
    """What the proxy saw during the demo."""

    duration: float = 0.0
    chargers: int = 0
    sessions: int = 0
    flows_completed: int = 0
    flows_failed: int = 0
    frames_up: int = 0
    frames_down: int = 0
    malformed: int = 0
    schema_violations: int = 0
    findings: int = 0
    """What the proxy's CSMS oracle found wrong (the reference CSMS should give none)."""
    error_findings: int = 0
    rtts: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float | None:
        if not self.rtts:
            return None
        ordered = sorted(self.rtts)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def to_json(self) -> dict[str, Any]:
        p50, p99 = self.percentile(0.5), self.percentile(0.99)
        return {
            "duration_s": round(self.duration, 2),
            "chargers": self.chargers,
            "sessions": self.sessions,
            "flows_completed": self.flows_completed,
            "flows_failed": self.flows_failed,
            "frames_up": self.frames_up,
            "frames_down": self.frames_down,
            "malformed": self.malformed,
            "schema_violations": self.schema_violations,
            "findings": self.findings,
            "error_findings": self.error_findings,
            "round_trips": len(self.rtts),
            "rtt_p50_ms": None if p50 is None else round(p50 * 1000, 3),
            "rtt_p99_ms": None if p99 is None else round(p99 * 1000, 3),
        }

    def render(self) -> str:
        j = self.to_json()
        rows = [
            ("duration", f"{j['duration_s']} s"),
            ("chargers", j["chargers"]),
            ("sessions", j["sessions"]),
            ("charger flows completed / failed", f"{j['flows_completed']} / {j['flows_failed']}"),
            ("frames up (charger -> CSMS)", j["frames_up"]),
            ("frames down (CSMS -> charger)", j["frames_down"]),
            ("malformed frames", j["malformed"]),
            ("schema violations", j["schema_violations"]),
            ("CSMS oracle findings (errors)", f"{j['findings']} ({j['error_findings']})"),
            ("round trips", j["round_trips"]),
            ("round-trip p50 / p99", f"{j['rtt_p50_ms']} ms / {j['rtt_p99_ms']} ms"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(["ocpp-chaos demo summary", *(f"  {k:<{width}}  {v}" for k, v in rows)])


async def run_demo(
    *,
    duration: float = 20.0,
    chargers: int = 4,
    stop: asyncio.Event | None = None,
    tape: str | None = None,
) -> DemoSummary:
    """Run the demo for `duration` seconds (or until `stop` is set) and summarise it."""
    from ocpp_chaos.csms import ReferenceCSMS
    from ocpp_chaos.testing.chargers import run_charger_flow

    summary = DemoSummary(chargers=chargers)
    stop = stop or asyncio.Event()
    started = time.monotonic()
    deadline = started + duration

    def observe(event: FrameRecord | SessionEvent | Finding) -> None:
        if isinstance(event, Finding):
            summary.findings += 1
            summary.error_findings += event.severity == "error"
            return
        if isinstance(event, SessionEvent):
            if event.kind == "session_open":
                summary.sessions += 1
            return
        if event.opcode not in ("text", "binary"):
            return
        if event.direction.value == "up":
            summary.frames_up += 1
        else:
            summary.frames_down += 1
        if event.kind == "malformed":
            summary.malformed += 1
        if event.schema.valid is False:
            summary.schema_violations += 1
        if event.rtt is not None:
            summary.rtts.append(event.rtt)

    async with ReferenceCSMS(port=0, heartbeat_interval=10) as csms:
        config = ProxyConfig(
            upstream=csms.url, listen_port=0, tape=None if tape is None else Path(tape)
        )
        async with ProxyServer(config) as proxy:
            proxy.observers.append(observe)
            log.info(
                "demo_started", csms=csms.url, proxy=proxy.url, chargers=chargers, duration=duration
            )

            async def charger(n: int) -> None:
                protocol = "1.6" if n % 2 else "2.0.1"
                charger_id = f"DEMO-{n:03d}"
                while time.monotonic() < deadline and not stop.is_set():
                    try:
                        async with asyncio.timeout(max(1.0, deadline - time.monotonic() + 5)):
                            await run_charger_flow(
                                f"{proxy.url}/ocpp",
                                charger_id,
                                protocol,
                                transactions=1,
                                meter_samples=3,
                            )
                        summary.flows_completed += 1
                    except Exception as exc:
                        summary.flows_failed += 1
                        log.warning("demo_flow_failed", charger_id=charger_id, error=repr(exc))
                        await asyncio.sleep(0.5)

            tasks = [spawn(charger(n), name=f"demo-charger-{n}") for n in range(1, chargers + 1)]
            progress_every = 5.0
            next_progress = started + progress_every
            while not all(t.done() for t in tasks):
                await asyncio.wait(tasks, timeout=0.5)
                if stop.is_set():
                    break
                if time.monotonic() >= next_progress:
                    next_progress += progress_every
                    log.info(
                        "demo_progress",
                        elapsed=round(time.monotonic() - started, 1),
                        sessions=len(proxy.sessions),
                        flows=summary.flows_completed,
                        frames_up=summary.frames_up,
                        frames_down=summary.frames_down,
                    )
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    summary.duration = time.monotonic() - started
    return summary
