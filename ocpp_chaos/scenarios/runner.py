"""Running a scenario: the CSMS (the target, or the embedded reference CSMS), the proxy in
front of it with the scenario's rules, the virtual fleet through the proxy, the timeline,
the steady-state and end expectations, and a verdict.

    result = await run_scenario(load_scenario("scenarios/basic-charge-16.yaml"))

Everything is bounded: the scenario's `duration` limits the whole run, each step's wait
its `timeout`. Every random choice comes from the scenario's seed (or `seed=`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from ocpp_chaos.aio import spawn, wind_down
from ocpp_chaos.api.commands import CHARGER_COMMANDS, run_charger_command
from ocpp_chaos.scenarios.loader import LoadedScenario
from ocpp_chaos.scenarios.model import Check, FleetGroup, Scenario
from ocpp_chaos.scenarios.result import (
    ExpectationResult,
    FaultWindow,
    ScenarioResult,
    StepResult,
)
from ocpp_chaos.simulator.charger import ChargerState, VirtualCharger
from ocpp_chaos.simulator.charger201 import VirtualCharger201
from ocpp_chaos.simulator.fleet import FLEET_GC_THRESHOLD, DefaultPlan, Driver, FleetConfig

__all__ = ["RunOptions", "ScenarioError", "run_scenario"]

log = structlog.get_logger("ocpp_chaos.scenario")

EMBEDDED = "embedded reference CSMS"
# kinds of oracle findings the transaction expectations look at
_TX_KINDS = ("transaction_not_acknowledged", "transaction_message_rejected")
_ORDER_KINDS = ("transaction_not_acknowledged", "acknowledged_out_of_order")


class ScenarioError(Exception):
    """The scenario cannot go on as written (a step's wait timed out, a target is down)."""


@dataclass
class RunOptions:
    target: str | None = None
    """Overrides the scenario's target (None and no target in the file: embedded CSMS)."""
    seed: int | None = None
    """Overrides the scenario's seed."""
    scale: float = 1.0
    """Multiplies every fleet group's count (at least 1 each): scaled-down CI runs."""
    tape: Path | None = None
    progress: Callable[[dict[str, Any]], None] | None = None
    """Called about once a second with the run's state (for a progress display)."""
    tick: float = 1.0


@dataclass
class _Group:
    spec: FleetGroup
    ids: list[str]
    chargers: dict[str, VirtualCharger] = field(default_factory=dict)


class _Run:
    """The state of one run (what the steps act on and the checks look at)."""

    def __init__(self, loaded: LoadedScenario, options: RunOptions) -> None:
        self.loaded = loaded
        self.scenario: Scenario = loaded.scenario
        self.options = options
        self.seed = options.seed if options.seed is not None else self.scenario.seed
        self.rng = random.Random(self.seed)
        self.started = time.monotonic()
        self.groups: list[_Group] = []
        self.chargers: dict[str, VirtualCharger] = {}
        self.tasks: dict[str, asyncio.Task[Any]] = {}
        self.drivers: list[Driver] = []
        self.stop_chargers = asyncio.Event()
        self.proxy: Any = None
        self.csms: Any = None
        self.result: ScenarioResult | None = None
        self.windows: list[FaultWindow] = []
        self.open_windows: dict[str, FaultWindow] = {}
        self.messages: list[dict[str, float]] = []
        self.timeline: dict[str, list[list[Any]]] = {}
        self.during_failed: dict[str, ExpectationResult] = {}
        self.current_step = ""
        self.aborted: str | None = None
        self.exec_task: asyncio.Task[Any] | None = None
        self.step_error: ScenarioError | None = None

    def now(self) -> float:
        return round(time.monotonic() - self.started, 3)

    # -- chargers -----------------------------------------------------------------------

    def build_fleet(self, url: str) -> None:
        for spec in self.scenario.fleet:
            count = max(1, round(spec.count * self.options.scale))
            group = _Group(spec, spec.model_copy(update={"count": count}).charger_ids())
            template = self.loaded.templates.get(spec.template) if spec.template else None
            cfg = FleetConfig(
                target=url,
                count=count,
                protocol=spec.protocol,
                connectors=spec.connectors,
                config=dict(spec.config),
                templates=[template] if template is not None else [],
                seed=self.seed,
            )
            for n, charger_id in enumerate(group.ids, start=1):
                rng = random.Random(self.rng.getrandbits(64))
                protocol = cfg.protocol_of(n)
                config = cfg.config_201() if protocol == "2.0.1" else cfg.config_16()
                if template is not None:
                    charger = template.build(
                        charger_id,
                        url,
                        rng=rng,
                        extra_config=config,
                        call_timeout=spec.call_timeout,
                    )
                else:
                    kind = VirtualCharger201 if protocol == "2.0.1" else VirtualCharger
                    charger = kind(
                        charger_id,
                        url,
                        connectors=spec.connectors,
                        rng=rng,
                        config=config,
                        call_timeout=spec.call_timeout,
                    )
                group.chargers[charger_id] = charger
                self.chargers[charger_id] = charger
                self.timeline[charger_id] = []
                if spec.sessions:
                    plan = template if template is not None else DefaultPlan(cfg)
                    for c in charger.connectors:
                        self.drivers.append(
                            Driver(
                                charger,
                                c,
                                plan,
                                random.Random(rng.getrandbits(64)),
                                dc=template is not None and template.is_dc(c),
                            )
                        )
            self.groups.append(group)

    async def start(self, ids: Iterable[str], ramp: float | None = None) -> int:
        started = 0
        for charger_id in ids:
            if charger_id in self.tasks and not self.tasks[charger_id].done():
                continue
            charger = self.chargers[charger_id]
            self.tasks[charger_id] = spawn(
                charger.run(self.stop_chargers), name=f"scenario-{charger_id}"
            )
            for driver in self.drivers:
                if driver.charger is charger:
                    driver.start()
            started += 1
            if ramp:
                await asyncio.sleep(1.0 / ramp)
        return started

    async def stop(self, ids: Iterable[str]) -> int:
        # the fleet shares one stop event: stopping some chargers cancels their runs
        stopped = 0
        for charger_id in ids:
            task = self.tasks.pop(charger_id, None)
            if task is None:
                continue
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            stopped += 1
        return stopped

    def select(self, selectors: list[str], pick: Any = None, *, salt: str = "") -> list[str]:
        ids: list[str] = []
        for selector in selectors:
            if selector == "all":
                chosen = list(self.chargers)
            else:
                group = next((g for g in self.groups if g.spec.name == selector), None)
                chosen = group.ids if group is not None else [selector]
            ids.extend(i for i in chosen if i in self.chargers and i not in ids)
        if pick is not None:
            n = pick.count if pick.count is not None else round(len(ids) * pick.percent / 100)
            n = max(1, min(len(ids), n)) if ids else 0
            rng = random.Random(f"{self.seed}:{salt}")
            ids = sorted(rng.sample(ids, n), key=ids.index)
        return ids

    # -- sampling -------------------------------------------------------------------------

    def sample(self) -> None:
        t = self.now()
        up, down = self.proxy.frames()
        self.messages.append({"t": t, "up": float(up), "down": float(down)})
        for charger_id, charger in self.chargers.items():
            states = self.timeline[charger_id]
            if not states or states[-1][1] != charger.state:
                states.append([t, charger.state])

    def open_window(self, key: str, label: str) -> None:
        window = FaultWindow(label, self.now(), None)
        self.open_windows[key] = window
        self.windows.append(window)

    def close_window(self, key: str) -> None:
        window = self.open_windows.pop(key, None)
        if window is not None:
            window.end = self.now()

    # -- checks ---------------------------------------------------------------------------

    def metrics(self) -> dict[str, float]:
        chargers = list(self.chargers.values())
        counts = self.proxy.oracle.counts()
        errors = sum(n for kind, n in counts.items() if _severity(kind) == "error")
        up, _down = self.proxy.frames()
        return {
            "transactions_started": sum(c.counters.transactions for c in chargers),
            "transactions_ended": sum(c.counters.transactions_ended for c in chargers),
            "calls_to_csms": float(up),
            "findings": float(sum(counts.values())),
            "error_findings": float(errors),
            "chargers_accepted": float(sum(c.state == ChargerState.ACCEPTED for c in chargers)),
            "boots": float(sum(c.counters.boots for c in chargers)),
            "reconnects": float(sum(max(0, c.counters.connects - 1) for c in chargers)),
            "replayed": float(sum(c.counters.replayed for c in chargers)),
        }

    def evaluate(self, check: Check) -> tuple[bool, str, list[dict[str, Any]]]:
        """(holds, one-line summary, evidence)."""
        c = check.check
        ids = self.select(check.chargers)
        chargers = [self.chargers[i] for i in ids]
        if c in ("all_accepted", "all_connected", "all_offline", "queues_empty"):
            tests: dict[str, Callable[[VirtualCharger], bool]] = {
                "all_accepted": lambda ch: ch.state == ChargerState.ACCEPTED,
                "all_connected": lambda ch: ch.connected,
                "all_offline": lambda ch: not ch.connected,
                "queues_empty": lambda ch: len(ch.queue) == 0,
            }
            bad = [ch for ch in chargers if not tests[c](ch)]
            share = 1.0 - len(bad) / len(chargers) if chargers else 1.0
            ok = share >= check.fraction - 1e-9
            summary = f"{len(chargers) - len(bad)} of {len(chargers)} chargers"
            evidence = [
                {"charger": ch.charger_id, "state": ch.state, "queued": len(ch.queue)}
                for ch in bad[:20]
            ]
            return ok, summary, evidence
        if c == "transactions":
            started = sum(ch.counters.transactions for ch in chargers)
            ended = sum(ch.counters.transactions_ended for ch in chargers)
            ok = (check.started is None or started >= check.started) and (
                check.ended is None or ended >= check.ended
            )
            return ok, f"{started} started, {ended} ended", []
        if c in ("findings", "no_findings", "max_findings"):
            return self._findings_check(check, ids)
        if c == "response_time":
            return self._response_check(check)
        if c == "every_call_answered":
            check2 = check.model_copy(update={"kinds": ["unanswered_call"]})
            ok, summary, evidence = self._findings_check(check2, ids, limit=0)
            return ok, summary, evidence
        if c == "transactions_complete":
            running = [ch for ch in chargers if ch.transactions]
            rejected = sum(ch.counters.transactions_rejected for ch in chargers)
            queued = sum(len(ch.queue) for ch in chargers)
            kinds_ok, _, evidence = self._findings_check(
                check.model_copy(update={"kinds": list(_TX_KINDS)}), ids, limit=0
            )
            ok = not running and not rejected and not queued and kinds_ok
            started = sum(ch.counters.transactions for ch in chargers)
            summary = (
                f"{started} started; {len(running)} chargers still in a transaction, "
                f"{rejected} not accepted, {queued} messages still queued"
            )
            running_evidence: list[dict[str, Any]] = [
                {"charger": ch.charger_id, "running": list(ch.transactions)} for ch in running
            ]
            evidence = running_evidence[:20] + evidence
            return ok, summary, evidence
        if c == "queued_acknowledged":
            waiting = [ch for ch in chargers if len(ch.queue)]
            kinds_ok, summary, evidence = self._findings_check(
                check.model_copy(update={"kinds": list(_ORDER_KINDS)}), ids, limit=0
            )
            replayed = sum(ch.counters.replayed for ch in chargers)
            ok = kinds_ok and not waiting
            summary = (
                f"{replayed} replayed; {len(waiting)} chargers with messages queued; " + summary
            )
            evidence = [
                {"charger": ch.charger_id, "queued": len(ch.queue)} for ch in waiting[:20]
            ] + evidence
            return ok, summary, evidence
        if c == "metric":
            assert check.metric is not None
            value = self.metrics()[check.metric]
            ok = (check.min is None or value >= check.min) and (
                check.max is None or value <= check.max
            )
            return ok, f"{check.metric} = {value:g}", []
        raise ScenarioError(f"unknown check {c!r}")

    def _findings_check(
        self, check: Check, ids: list[str], *, limit: float | None = None
    ) -> tuple[bool, str, list[dict[str, Any]]]:
        wanted = set(check.kinds)
        selected = set(ids)
        found = [
            f.to_json()
            for f in self.proxy.oracle.findings()
            if (f.kind in wanted if wanted else f.severity == "error")
            and (f.charger_id in selected or not f.charger_id)
        ]
        n = len(found)
        what = ",".join(sorted(wanted)) or "error"
        if check.check == "findings":
            least = check.min if check.min is not None else 1
            return n >= least, f"{n} {what} findings (at least {least:g})", found[:20]
        most = limit if limit is not None else (check.max if check.max is not None else 0)
        if check.check == "max_findings" and check.max is not None:
            most = check.max
        return n <= most, f"{n} {what} findings (at most {most:g})", found[:20]

    def _response_check(self, check: Check) -> tuple[bool, str, list[dict[str, Any]]]:
        times = self.proxy.oracle.histograms()
        actions = [a for a in times if "*" in check.actions or a in check.actions]
        key = f"p{check.percentile:g}"
        worst: list[tuple[float, str]] = []
        for action in actions:
            rt = times[action]
            value = rt.max if check.percentile >= 100 else rt.quantile(check.percentile / 100)
            if value is not None and rt.count:
                worst.append((float(value), action))
        worst.sort(reverse=True)
        assert check.max is not None
        bad = [(v, a) for v, a in worst if v > check.max]
        if not worst:
            return True, "no answers measured", []
        value, action = worst[0]
        summary = f"{key} {value * 1000:.0f} ms for {action} (limit {check.max * 1000:.0f} ms)"
        evidence = [{"action": a, key: v, "count": times[a].count} for v, a in bad[:20]]
        return not bad, summary, evidence


def _severity(kind: str) -> str:
    from ocpp_chaos.proxy.oracle import KINDS

    entry = KINDS.get(kind)
    return entry[0] if entry else "error"


# -- the run --------------------------------------------------------------------------------


async def run_scenario(loaded: LoadedScenario, options: RunOptions | None = None) -> ScenarioResult:
    """Run one scenario to its verdict. Never raises for what the scenario or the CSMS
    does: those end as a verdict of `failed` or `error` with the reason in the result."""
    import gc

    options = options or RunOptions()
    run = _Run(loaded, options)
    scenario = run.scenario
    target = options.target or scenario.target
    result = ScenarioResult(
        name=scenario.name,
        description=scenario.description,
        tags=list(scenario.tags),
        seed=run.seed,
        target=target or EMBEDDED,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        duration_s=0.0,
        verdict="passed",
    )
    run.result = result
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], FLEET_GC_THRESHOLD), *thresholds[1:])
    sampler: asyncio.Task[Any] | None = None
    try:
        async with contextlib.AsyncExitStack() as stack:
            if target is None:
                from ocpp_chaos.csms import ReferenceCSMS

                run.csms = await stack.enter_async_context(
                    ReferenceCSMS(port=0, **scenario.reference_csms.options())
                )
                target = run.csms.url
            run.proxy = await stack.enter_async_context(_proxy(target, run, options))
            stack.push_async_callback(_stop_fleet, run)
            run.build_fleet(run.proxy.url)
            sampler = spawn(_sampler(run), name="scenario-sampler")
            run.exec_task = spawn(_execute(run), name="scenario-timeline")
            try:
                async with asyncio.timeout(scenario.duration):
                    await asyncio.wait({run.exec_task})
            except TimeoutError:
                run.exec_task.cancel()
                await asyncio.gather(run.exec_task, return_exceptions=True)
                raise ScenarioError(
                    f"the run did not finish within its duration ({scenario.duration:g} s)"
                ) from None
            finally:
                sampler.cancel()
                await asyncio.gather(sampler, return_exceptions=True)
            if run.aborted:
                raise ScenarioError(f"aborted: {run.aborted}")
            if run.step_error is not None:
                raise run.step_error
            await asyncio.sleep(scenario.settle)
            run.proxy.oracle.finish(time.monotonic())
            run.sample()
            _ask_end(run)
    except ScenarioError as exc:
        result.verdict, result.error = "error", str(exc)
    except (OSError, ValueError) as exc:
        result.verdict, result.error = "error", f"{type(exc).__name__}: {exc}"
    finally:
        gc.set_threshold(*thresholds)
        for window in run.open_windows.values():
            window.end = run.now()
    _fill(run, result)
    return result


def _proxy(target: str, run: _Run, options: RunOptions) -> Any:
    from ocpp_chaos.proxy.oracle import OracleConfig
    from ocpp_chaos.proxy.server import ProxyConfig, ProxyServer

    thresholds: dict[str, float] = dict(run.scenario.oracle)
    oracle = OracleConfig(
        slow_threshold=thresholds.get("slow", 2.0),
        call_timeout=thresholds.get("unanswered", 30.0),
    )
    config = ProxyConfig(
        upstream=target, listen_port=0, seed=run.seed, tape=options.tape, oracle=oracle
    )
    return ProxyServer(config, rules=run.loaded.rules)


async def _stop_fleet(run: _Run) -> None:
    for driver in run.drivers:
        driver.stop()
    run.stop_chargers.set()
    await wind_down(run.tasks.values(), 15)


async def _sampler(run: _Run) -> None:
    """Once a second: the series for the report, steady state during the run, aborts."""
    while True:
        await asyncio.sleep(run.options.tick)
        run.sample()
        for check in run.scenario.expectations.steady_state:
            name = check.label()
            if name in run.during_failed:
                continue
            ok, summary, evidence = run.evaluate(check)
            if not ok:
                run.during_failed[name] = ExpectationResult(
                    name, "during", "failed", summary, evidence, at=run.now()
                )
        for check in run.scenario.abort:
            ok, summary, _ = run.evaluate(check)
            if ok:
                run.aborted = f"{check.label()}: {summary}"
                if run.exec_task is not None:
                    run.exec_task.cancel()
                return
        if run.options.progress is not None:
            run.options.progress(_progress(run))


def _progress(run: _Run) -> dict[str, Any]:
    chargers = list(run.chargers.values())
    return {
        "t": run.now(),
        "step": run.current_step,
        "chargers": len(chargers),
        "accepted": sum(c.state == ChargerState.ACCEPTED for c in chargers),
        "faults": sorted(w.label for w in run.open_windows.values()),
        "findings": sum(run.proxy.oracle.counts().values()),
    }


async def _execute(run: _Run) -> None:
    scenario = run.scenario
    for rule in run.loaded.rules:  # rules on from the start are fault windows too
        if rule.enabled:
            run.open_window(f"rule:{rule.name}", rule.name)
    autostart = [i for g in run.groups if g.spec.autostart for i in g.ids]
    ramp = min((g.spec.ramp for g in run.groups if g.spec.autostart), default=None)
    starter = spawn(run.start(autostart, ramp), name="scenario-autostart")
    await _steady(run, "before", wait=True)
    await starter
    results = run.result.steps if run.result is not None else []
    for index, step in enumerate(scenario.timeline):
        if run.aborted:
            return
        name = step.name or step.do
        run.current_step = f"{index + 1}/{len(scenario.timeline)} {name}"
        record = StepResult(index, step.do, name, "passed")
        results.append(record)
        try:
            if step.at is not None:
                await asyncio.sleep(max(0.0, step.at - run.now()))
            if step.after is not None:
                await _wait_for(
                    run, step.after, step.timeout, f"step {index + 1} ({name})", step.on_timeout
                )
            record.started_at = run.now()
            record.chargers = await _do(run, step, index)
            record.ended_at = run.now()
        except ScenarioError as exc:
            record.status, record.error, record.ended_at = "error", str(exc), run.now()
            run.step_error = exc
            return
        except Exception as exc:  # a step that cannot be carried out: the run is an error
            record.status, record.error, record.ended_at = "error", repr(exc), run.now()
            run.step_error = ScenarioError(f"step {index + 1} ({name}): {exc!r}")
            log.warning("scenario_step_error", step=index + 1, error=repr(exc))
            return
    run.current_step = "settling"


async def _steady(run: _Run, phase: str, *, wait: bool = False) -> None:
    """Steady state before the timeline: wait (bounded) for it to hold, then record it."""
    checks = run.scenario.expectations.steady_state
    if not checks or run.result is None:
        return
    deadline = time.monotonic() + (60.0 if wait else 0.0)
    while True:
        outcomes = [(c, *run.evaluate(c)) for c in checks]
        if all(ok for _, ok, _, _ in outcomes) or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.1)
    for check, ok, summary, evidence in outcomes:
        run.result.expectations.append(
            ExpectationResult(
                check.label(),
                phase,  # type: ignore[arg-type]
                "passed" if ok else "failed",
                summary,
                evidence,
                at=run.now(),
            )
        )


async def _wait_for(
    run: _Run, check: Check, timeout: float, what: str, on_timeout: str = "error"
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        ok, summary, _ = run.evaluate(check)
        if ok:
            return
        if time.monotonic() >= deadline:
            if on_timeout == "continue":
                log.warning("scenario_wait_timed_out", step=what, check=check.label())
                return
            raise ScenarioError(
                f"{what}: {check.label()} did not hold within {timeout:g} s ({summary})"
            )
        await asyncio.sleep(0.05)


async def _each(run: _Run, ids: list[str], act: Callable[[VirtualCharger], Any]) -> int:
    results = await asyncio.gather(*(act(run.chargers[i]) for i in ids), return_exceptions=True)
    for charger_id, outcome in zip(ids, results, strict=True):
        if isinstance(outcome, Exception):
            log.warning("scenario_step_failed", charger_id=charger_id, error=repr(outcome))
    return len(ids)


async def _do(run: _Run, step: Any, index: int) -> int:
    """Carry out one step; the number of chargers it acted on."""
    do = step.do
    ids = run.select(step.chargers, step.pick, salt=f"step{index}")
    if do == "start_chargers":
        return await run.start(ids)
    if do == "stop_chargers":
        return await run.stop(ids)
    if do in CHARGER_COMMANDS:
        return await _each(run, ids, lambda c: run_charger_command(c, step))
    if do == "send_raw":
        fault = {"type": "inject", "to": step.to, "frame": step.frame}
        for charger_id in ids:
            run.proxy.rules.fire(fault, charger_id)
        return len(ids)
    if do in ("enable_rule", "disable_rule"):
        for name in step.rule:
            if do == "enable_rule":
                run.proxy.rules.enable(name)
                run.open_window(f"rule:{name}", name)
            else:
                run.proxy.rules.disable(name)
                run.close_window(f"rule:{name}")
        return 0
    if do == "fire":
        label = str(step.fault.get("type"))
        duration = step.fault.get("duration")
        for charger_id in ids:
            run.proxy.rules.fire(step.fault, charger_id)
        key = f"fire:{index}"
        run.open_window(key, label)
        if duration is not None:
            from ocpp_chaos.rules.model import parse_duration

            loop = asyncio.get_running_loop()
            loop.call_later(parse_duration(duration), run.close_window, key)
        else:
            run.close_window(key)
        return len(ids)
    if do == "restart_connection":
        for charger_id in ids:
            run.proxy.rules.fire({"type": "disconnect"}, charger_id)
        return len(ids)
    if do == "wait":
        await asyncio.sleep(step.duration)
        return 0
    if do == "wait_for":
        await _wait_for(
            run, step.condition, step.timeout, f"step {index + 1} (wait_for)", step.on_timeout
        )
        return 0
    if do == "check_steady_state":
        await _steady(run, "during")
        return 0
    raise ScenarioError(f"unknown step {do!r}")


def _ask_end(run: _Run) -> None:
    assert run.result is not None
    expectations = run.result.expectations
    expectations.extend(run.during_failed.values())
    for check in run.scenario.expectations.steady_state:
        if check.label() not in run.during_failed:
            expectations.append(
                ExpectationResult(check.label(), "during", "passed", "held throughout")
            )
    for check in run.scenario.expectations.steady_state:
        ok, summary, evidence = run.evaluate(check)
        expectations.append(
            ExpectationResult(
                check.label(), "after", "passed" if ok else "failed", summary, evidence, run.now()
            )
        )
    for check in run.scenario.expectations.end:
        try:
            ok, summary, evidence = run.evaluate(check)
            status = "passed" if ok else "failed"
        except Exception as exc:  # a check that cannot be evaluated is an error, not a crash
            status, summary, evidence = "error", repr(exc), []
        expectations.append(
            ExpectationResult(check.label(), "end", status, summary, evidence, run.now())  # type: ignore[arg-type]
        )


def _fill(run: _Run, result: ScenarioResult) -> None:
    result.duration_s = run.now()
    result.steps = result.steps or []
    result.fault_windows = run.windows
    result.messages = _per_second(run.messages)
    result.charger_timeline = {k: v for k, v in run.timeline.items() if v}
    if run.proxy is not None:
        oracle = run.proxy.oracle
        result.findings = [f.to_json() for f in oracle.findings()][:10_000]
        result.finding_counts = dict(oracle.counts())
        result.response_times = oracle.response_times()
        with contextlib.suppress(Exception):
            result.metrics = run.metrics()
    if run.options.tape is not None:
        result.tape = str(run.options.tape)
    if result.verdict != "error":
        if any(e.status == "error" for e in result.expectations):
            result.verdict = "error"
        elif any(e.status == "failed" for e in result.expectations):
            result.verdict = "failed"


def _per_second(samples: list[dict[str, float]]) -> list[dict[str, float]]:
    """Cumulative frame totals → frames in each sampling interval."""
    out = []
    prev_up = prev_down = 0.0
    for s in samples:
        out.append({"t": s["t"], "up": s["up"] - prev_up, "down": s["down"] - prev_down})
        prev_up, prev_down = s["up"], s["down"]
    return out
