"""The engine: the proxy, an optional embedded CSMS, a virtual fleet and scenario runs in
one process, with the operations every face uses (the control API, the console, scripts).

What it adds to the parts: an event bus (frames, sessions, findings, rule, fault, fleet and
scenario changes, each with a sequence number) that the API's event stream and the
console read; recent frames per charger for the session detail; faults fired by an
operator with their lifetime (list, clear); a fleet that grows and shrinks on request;
scenario runs started, watched and aborted while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from ocpp_chaos import __version__
from ocpp_chaos.aio import spawn, wind_down
from ocpp_chaos.api.commands import CHARGER_COMMANDS, run_charger_command
from ocpp_chaos.api.filters import Filter, parse_filter
from ocpp_chaos.proxy.monitor import FrameRecord
from ocpp_chaos.proxy.oracle import KINDS, Finding
from ocpp_chaos.proxy.server import ProxyServer
from ocpp_chaos.proxy.session import SessionEvent
from ocpp_chaos.rules.model import SESSION_FAULTS, Fault, Rule
from ocpp_chaos.simulator.charger import VirtualCharger
from ocpp_chaos.simulator.fleet import DefaultPlan, Driver, FleetConfig, build_charger
from ocpp_chaos.simulator.template import ChargerTemplate

__all__ = ["ActiveFault", "Engine", "EngineError", "EventBus", "NotFound", "Subscription"]

log = structlog.get_logger("ocpp_chaos.engine")

RECENT_FRAMES = 100
"""Frames kept per charger for the session detail (the newest)."""
RECENT_CHARGERS = 2_000
"""Chargers whose recent frames are kept (the most recently active): bounds the memory
of a long field trial with many chargers coming and going."""


class EngineError(ValueError):
    """A request the engine cannot carry out (the message says why): a 400."""


class NotFound(LookupError):
    """No such session, rule, fault, charger or scenario run: a 404."""


# -- the event bus -------------------------------------------------------------------------


class Subscription:
    """One reader of the bus: a bounded queue (the oldest events go first when a reader
    falls behind; `dropped` counts them) and an optional filter."""

    def __init__(
        self,
        bus: EventBus,
        flt: Filter | None,
        maxsize: int,
        events: frozenset[str] | None = None,
    ) -> None:
        self._bus = bus
        self.filter = flt
        self.events = events
        """Only these event names (None: all)."""
        self.maxsize = maxsize
        self._queue: deque[dict[str, Any]] = deque()
        self._ready = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def put(self, event: dict[str, Any]) -> None:
        if self.events is not None and event.get("event") not in self.events:
            return
        if self.filter is not None and not self.filter.matches(event):
            return
        if len(self._queue) >= self.maxsize:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(event)
        self._ready.set()

    async def get(self) -> dict[str, Any]:
        """The next event (waits for one); raises EOFError once closed and drained."""
        while not self._queue:
            if self.closed:
                raise EOFError
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    def drain(self, limit: int = 1000) -> list[dict[str, Any]]:
        """What is queued now (at most `limit`), without waiting."""
        out: list[dict[str, Any]] = []
        while self._queue and len(out) < limit:
            out.append(self._queue.popleft())
        return out

    def close(self) -> None:
        self.closed = True
        self._ready.set()
        self._bus.unsubscribe(self)


class EventBus:
    """Fan-out of the engine's events, in order, to every subscription."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._seq = itertools.count(1)

    @property
    def active(self) -> bool:
        return bool(self._subs)

    @property
    def readers(self) -> int:
        """How many subscriptions read the bus now."""
        return len(self._subs)

    def subscribe(
        self,
        flt: Filter | None = None,
        maxsize: int = 10_000,
        events: frozenset[str] | None = None,
    ) -> Subscription:
        sub = Subscription(self, flt, maxsize, events)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, event: dict[str, Any]) -> None:
        event["seq"] = next(self._seq)
        for sub in self._subs:
            sub.put(event)

    def close(self) -> None:
        for sub in list(self._subs):
            sub.close()


# -- faults fired by an operator --------------------------------------------------------------


@dataclass
class ActiveFault:
    """A fault fired at chargers: the rules that carry it and when it ends."""

    name: str
    fault: dict[str, Any]
    chargers: list[str]
    rules: list[str]
    fired_at: float
    """Unix time."""
    until: float | None
    """Monotonic time it ends (None: when it has hit, or until cleared)."""
    cleared: bool = False

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "name": self.name,
            "fault": self.fault,
            "chargers": self.chargers,
            "rules": self.rules,
            "fired_at": round(self.fired_at, 3),
            "remaining_s": None if self.until is None else round(max(0.0, self.until - now), 3),
        }


def _fault_duration(fault: Mapping[str, Any]) -> float | None:
    from ocpp_chaos.rules.model import parse_duration

    value = fault.get("duration")
    return None if value is None else parse_duration(value)


# -- scenario runs ------------------------------------------------------------------------------


@dataclass
class ScenarioRun:
    id: str
    path: str
    name: str
    started_at: float
    status: str = "running"
    """running, passed, failed, error or aborted."""
    progress: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    task: asyncio.Task[Any] | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "name": self.name,
            "started_at": round(self.started_at, 3),
            "status": self.status,
            "progress": self.progress,
            "result": self.result,
        }


# -- the engine ---------------------------------------------------------------------------------


class Engine:
    """The proxy (and what runs around it) with the operations of every face."""

    def __init__(
        self,
        proxy: ProxyServer,
        *,
        csms: Any = None,
        recent_frames: int = RECENT_FRAMES,
        seed: int = 1,
    ) -> None:
        self.proxy = proxy
        self.csms = csms
        """The embedded reference CSMS when the engine runs one (else None)."""
        self.bus = EventBus()
        self.recent_frames = recent_frames
        self._recent: OrderedDict[str, deque[FrameRecord]] = OrderedDict()
        self._faults: dict[str, ActiveFault] = {}
        self._fault_ids = itertools.count(1)
        self.chargers: dict[str, VirtualCharger] = {}
        self._charger_tasks: dict[str, asyncio.Task[Any]] = {}
        self._drivers: dict[str, list[Driver]] = {}
        self._fleet_stop = asyncio.Event()
        self._fleet_n = 0
        self._rng = random.Random(seed)
        self.seed = seed
        self.scenarios: dict[str, ScenarioRun] = {}
        self._scenario_ids = itertools.count(1)
        self.started_at = time.time()
        self._started = False
        proxy.observers.append(self._observe)

    # -- life -------------------------------------------------------------------------------

    @classmethod
    async def build(
        cls,
        upstream: str | None = None,
        *,
        rules: Iterable[Rule] = (),
        seed: int = 1,
        csms_options: Mapping[str, Any] | None = None,
        **proxy_options: Any,
    ) -> Engine:
        """An engine in front of `upstream`, or of an embedded reference CSMS (started
        here) when it is None. `proxy_options` go to ProxyConfig (listen_host, listen_port,
        tape, oracle, ...). Call `start()` (or use `async with`) next."""
        from ocpp_chaos.proxy.server import ProxyConfig

        csms = None
        if upstream is None:
            from ocpp_chaos.csms import ReferenceCSMS

            csms = ReferenceCSMS(port=0, **dict(csms_options or {}))
            await csms.start()
            upstream = csms.url
        proxy_options.setdefault("listen_port", 0)
        proxy = ProxyServer(ProxyConfig(upstream=upstream, seed=seed, **proxy_options), rules)
        return cls(proxy, csms=csms, seed=seed)

    async def start(self) -> None:
        """Start the proxy (an embedded CSMS was started by `build`)."""
        if not self.proxy.port:
            await self.proxy.start()
        self._started = True
        self.started_at = time.time()

    async def stop(self) -> None:
        """Abort scenario runs, stop the fleet, the proxy and the embedded CSMS."""
        for run in self.scenarios.values():
            if run.task is not None and not run.task.done():
                run.task.cancel()
        await asyncio.gather(
            *(r.task for r in self.scenarios.values() if r.task is not None),
            return_exceptions=True,
        )
        await self._stop_chargers(list(self.chargers))
        self.bus.close()
        await self.proxy.stop()
        if self.csms is not None:
            await self.csms.stop()

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- events -----------------------------------------------------------------------------

    def _observe(self, event: Any) -> None:
        if isinstance(event, FrameRecord):
            recent = self._recent.get(event.charger_id)
            if recent is None:
                recent = self._recent[event.charger_id] = deque(maxlen=self.recent_frames)
                if len(self._recent) > RECENT_CHARGERS:
                    self._recent.popitem(last=False)
            else:
                self._recent.move_to_end(event.charger_id)
            recent.append(event)
            if self.bus.active:
                self.bus.publish({"event": "frame", **event.to_json()})
        elif isinstance(event, SessionEvent):
            self.bus.publish(event.to_json())
        elif isinstance(event, Finding):
            self.bus.publish({"event": "finding", **event.to_json()})

    def publish(self, event: str, **fields: Any) -> None:
        self.bus.publish({"event": event, "t": round(time.time(), 6), **fields})

    # -- status and sessions ----------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        up, down = self.proxy.frames()
        now = time.monotonic()
        return {
            "version": __version__,
            "uptime_s": round(time.time() - self.started_at, 3),
            "proxy": self.proxy.url if self.proxy.port else None,
            "upstream": _redact(self.proxy.config.upstream),
            "embedded_csms": self.csms is not None,
            "sessions": len(self.proxy.sessions),
            "frames_up": up,
            "frames_down": down,
            "totals": dict(self.proxy.totals),
            "rules": len(self.proxy.engine.rules),
            "faults_active": len(self.active_faults(now)),
            "chargers": len(self.chargers),
            "chargers_running": sum(not t.done() for t in self._charger_tasks.values()),
            "findings": dict(sorted(self.proxy.oracle.counts().items())),
            "scenarios_running": sum(r.status == "running" for r in self.scenarios.values()),
            "tape": str(self.proxy.tape.path) if self.proxy.tape is not None else None,
            "event_subscribers": self.bus.readers,
        }

    def sessions(self, flt: str | None = None) -> list[dict[str, Any]]:
        """Every open session with its counters, active faults and findings."""
        selector = parse_filter(flt) if flt else None
        findings = self._findings_by_charger()
        faults = self._faults_by_charger()
        now_wall = time.time()
        out = []
        for session in self.proxy.sessions:
            if selector is not None and not selector.select([session.charger_id]):
                continue
            info = session.info()
            info["connected_for_s"] = round(max(0.0, now_wall - info["started_at"]), 3)
            info["faults"] = faults.get(session.charger_id, [])
            info["findings"] = findings.get(session.charger_id, 0)
            out.append(info)
        out.sort(key=lambda s: (s["charger_id"], s["session"]))
        return out

    def session(self, charger_id: str) -> dict[str, Any]:
        """One charger's sessions (open ones), recent frames, round-trip stats and findings."""
        open_sessions = self.proxy.sessions.by_charger(charger_id)
        recent = self._recent.get(charger_id)
        charger = self.chargers.get(charger_id)
        if not open_sessions and recent is None and charger is None:
            raise NotFound(f"no session of charger {charger_id!r}")
        infos = []
        for session in open_sessions:
            info = session.info()
            rtts = sorted(session.monitor.stats.rtts)
            info["rtt_ms"] = _quantiles_ms(rtts)
            infos.append(info)
        return {
            "charger_id": charger_id,
            "sessions": infos,
            "frames": [r.to_json() for r in (recent or ())],
            "findings": [
                f.to_json() for f in self.proxy.oracle.findings() if f.charger_id == charger_id
            ],
            "faults": self._faults_by_charger().get(charger_id, []),
            "charger": _charger_json(charger) if charger is not None else None,
        }

    def recent(self, charger_id: str) -> list[FrameRecord]:
        return list(self._recent.get(charger_id, ()))

    def findings(
        self, kind: str | None = None, charger: str | None = None, limit: int = 1000
    ) -> dict[str, Any]:
        if kind is not None and kind not in KINDS:
            raise EngineError(f"unknown finding kind {kind!r}")
        found = self.proxy.oracle.findings(kind)
        if charger is not None:
            found = [f for f in found if f.charger_id == charger]
        return {
            "counts": dict(sorted(self.proxy.oracle.counts().items())),
            "findings": [f.to_json() for f in found[-limit:]],
            "response_times": self.proxy.oracle.response_times(),
        }

    def _findings_by_charger(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.proxy.oracle.findings():
            if f.charger_id:
                out[f.charger_id] = out.get(f.charger_id, 0) + 1
        return out

    # -- rules --------------------------------------------------------------------------------

    def rules(self) -> list[dict[str, Any]]:
        return self.proxy.rules.describe()

    def add_rule(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Add (or replace) a rule given as in a rule file; raises pydantic's ValidationError."""
        rule = Rule.model_validate(dict(body))
        self.proxy.rules.add(rule)
        self.publish("rule", op="added", rule=rule.name, enabled=rule.enabled)
        return self._rule(rule.name)

    def load_rules(self, path: str) -> list[str]:
        """Load a rule file (its errors name the file, line and field)."""
        names = self.proxy.rules.load(path)
        self.publish("rule", op="loaded", rules=names, path=str(path))
        return names

    def set_rule(self, name: str, enabled: bool) -> dict[str, Any]:
        self._rule(name)
        if enabled:
            self.proxy.rules.enable(name)
        else:
            self.proxy.rules.disable(name)
        self.publish("rule", op="enabled" if enabled else "disabled", rule=name)
        return self._rule(name)

    def remove_rule(self, name: str) -> None:
        self._rule(name)
        self.proxy.rules.remove(name)
        self.publish("rule", op="removed", rule=name)

    def _rule(self, name: str) -> dict[str, Any]:
        for rule in self.proxy.rules.describe():
            if rule["name"] == name:
                return rule
        raise NotFound(f"no rule named {name!r}")

    # -- faults -------------------------------------------------------------------------------

    def fire(
        self,
        fault: Mapping[str, Any],
        chargers: Iterable[str] = (),
        *,
        select: str | None = None,
        radius: Mapping[str, Any] | None = None,
        duration: float | None = None,
    ) -> dict[str, Any]:
        """Fire a fault at chargers now: the given ids, the chargers a filter expression
        selects among those connected (and in the fleet), narrowed by a seeded blast
        radius (`{"count": N}` or `{"percent": P}`). Session faults (signal_loss,
        disconnect, blackhole, flap, inject, csms_outage) act once per charger; frame
        faults (delay, corrupt, drop, ...) hit each charger's next matching frame, or every
        matching frame for `duration` seconds."""
        from pydantic import TypeAdapter

        body = dict(fault)
        TypeAdapter(Fault).validate_python(body)
        targets = self._targets(list(chargers), select, radius)
        if not targets:
            raise EngineError("no charger selected (give chargers, or a filter that names some)")
        name = f"op-{next(self._fault_ids)}"
        now = time.monotonic()
        kind = body["type"]
        rules: list[str] = []
        if kind in SESSION_FAULTS:
            for charger_id in targets:
                rules.append(self.proxy.rules.fire(body, charger_id))
            own = _fault_duration(body)
            until = now + own if own is not None else None
        else:
            rule_body: dict[str, Any] = {
                "name": name,
                "match": {"charger": [_glob_escape(c) for c in targets]},
                "fault": body,
            }
            if duration is None:
                rule_body["first"] = 1
            self.proxy.rules.add(Rule.model_validate(rule_body))
            rules.append(name)
            until = now + duration if duration is not None else None
        active = ActiveFault(name, body, targets, rules, time.time(), until)
        self._faults[name] = active
        if duration is not None and kind not in SESSION_FAULTS:
            asyncio.get_running_loop().call_later(duration, self._expire, name)
        self.publish("fault", op="fired", **active.to_json(now))
        log.info("fault_fired", fault=kind, chargers=len(targets), name=name)
        return active.to_json(now)

    def _expire(self, name: str) -> None:
        with contextlib.suppress(NotFound):
            self.clear_fault(name)

    def active_faults(self, now: float | None = None) -> list[dict[str, Any]]:
        """Faults still acting (or waiting for their frame)."""
        now = time.monotonic() if now is None else now
        out = []
        for name, active in list(self._faults.items()):
            if self._spent(active, now):
                del self._faults[name]
                continue
            out.append(active.to_json(now))
        return out

    def _spent(self, active: ActiveFault, now: float) -> bool:
        """Over: its time is up, or (untimed) it has hit every charger it was fired at.
        An untimed blackhole or flap lasts until cleared."""
        if active.until is not None:
            return now >= active.until
        kind = active.fault["type"]
        if kind in ("blackhole", "flap"):
            return False
        try:
            hits = sum(self.proxy.engine.stats(rule).hits for rule in active.rules)
        except LookupError:
            return True
        return hits >= len(active.chargers)

    def clear_fault(self, name: str) -> None:
        """End a fault now: its rules are removed (silence lifts, held frames go on)."""
        active = self._faults.pop(name, None)
        if active is None:
            raise NotFound(f"no active fault named {name!r}")
        for rule in active.rules:
            with contextlib.suppress(Exception):
                self.proxy.rules.remove(rule)
        self.publish("fault", op="cleared", name=name, chargers=active.chargers)

    def clear_faults(self) -> int:
        names = list(self._faults)
        for name in names:
            self.clear_fault(name)
        return len(names)

    def _faults_by_charger(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for active in self.active_faults():
            for charger_id in active["chargers"]:
                out.setdefault(charger_id, []).append(str(active["fault"]["type"]))
        return out

    def _targets(
        self, chargers: list[str], select: str | None, radius: Mapping[str, Any] | None
    ) -> list[str]:
        ids = list(dict.fromkeys(chargers))
        if select:
            known = {s.charger_id for s in self.proxy.sessions} | set(self.chargers)
            ids.extend(i for i in parse_filter(select).select(sorted(known)) if i not in ids)
        if radius:
            count = radius.get("count")
            percent = radius.get("percent")
            if count is None and percent is None:
                raise EngineError("radius: give count or percent")
            n = int(count) if count is not None else round(len(ids) * float(percent or 0) / 100)
            n = max(1, min(len(ids), n)) if ids else 0
            ids = sorted(self._rng.sample(ids, n), key=ids.index)
        return ids

    # -- the fleet ----------------------------------------------------------------------------

    def add_chargers(
        self,
        count: int,
        *,
        protocol: str = "1.6",
        connectors: int = 1,
        id_pattern: str = "SIM-{n:05}",
        sessions: bool = False,
        config: Mapping[str, str] | None = None,
        template: str | None = None,
        password: str | None = None,
        idle_mean: float = 30.0,
        charge_seconds: tuple[float, float] = (60.0, 300.0),
        call_timeout: float | None = None,
    ) -> list[str]:
        """Build `count` virtual chargers connecting through the proxy and start them
        (with `sessions`, EVs arrive after `idle_mean` s on average and stay
        `charge_seconds`)."""
        if not self.proxy.port:
            raise EngineError("the proxy is not running")
        if protocol not in ("1.6", "2.0.1", "mixed"):
            raise EngineError(f"protocol {protocol!r}: choose 1.6, 2.0.1 or mixed")
        templates: list[ChargerTemplate] = []
        if template is not None:
            from ocpp_chaos.simulator.template import load_template_file

            templates = [load_template_file(template)]
        cfg = FleetConfig(
            target=self.proxy.url,
            count=count,
            protocol=protocol,
            connectors=connectors,
            id_pattern=id_pattern,
            sessions=sessions,
            config=dict(config or {}),
            templates=templates,
            seed=self.seed,
            password=password,
            idle_mean=idle_mean,
            charge_seconds=charge_seconds,
        )
        ids: list[str] = []
        for _ in range(count):
            self._fleet_n += 1
            n = self._fleet_n
            try:
                charger_id = id_pattern.format(n=n)
            except (KeyError, IndexError, ValueError) as exc:
                raise EngineError(f"id_pattern {id_pattern!r}: {exc}") from None
            if charger_id in self.chargers:
                raise EngineError(f"charger {charger_id!r} exists already")
            charger_rng = random.Random(self._rng.getrandbits(64))
            charger, plan = build_charger(cfg, n, charger_id, charger_rng)
            if call_timeout is not None:
                charger.call_timeout = call_timeout
            self.chargers[charger_id] = charger
            drivers = []
            if sessions:
                dc_template = plan if isinstance(plan, ChargerTemplate) else None
                for c in charger.connectors:
                    drivers.append(
                        Driver(
                            charger,
                            c,
                            plan if isinstance(plan, ChargerTemplate) else DefaultPlan(cfg),
                            random.Random(charger_rng.getrandbits(64)),
                            dc=dc_template is not None and dc_template.is_dc(c),
                        )
                    )
            self._drivers[charger_id] = drivers
            ids.append(charger_id)
        self._start_chargers(ids)
        self.publish("fleet", op="added", chargers=ids, protocol=protocol)
        return ids

    def _start_chargers(self, ids: Iterable[str]) -> int:
        started = 0
        for charger_id in ids:
            task = self._charger_tasks.get(charger_id)
            if task is not None and not task.done():
                continue
            charger = self.chargers[charger_id]
            self._charger_tasks[charger_id] = spawn(
                charger.run(self._fleet_stop), name=f"engine-{charger_id}"
            )
            for driver in self._drivers.get(charger_id, ()):
                driver.start()
            started += 1
        return started

    async def _stop_chargers(self, ids: Iterable[str]) -> int:
        tasks = []
        for charger_id in ids:
            for driver in self._drivers.get(charger_id, ()):
                driver.stop()
            task = self._charger_tasks.pop(charger_id, None)
            if task is not None and not task.done():
                task.cancel()
                tasks.append(task)
        await wind_down(tasks, 15)
        return len(tasks)

    def fleet(self) -> dict[str, Any]:
        chargers = [
            {**_charger_json(c), "running": not self._task_done(i)}
            for i, c in self.chargers.items()
        ]
        states: dict[str, int] = {}
        for c in chargers:
            states[c["state"]] = states.get(c["state"], 0) + 1
        return {"count": len(chargers), "states": states, "chargers": chargers}

    def _task_done(self, charger_id: str) -> bool:
        task = self._charger_tasks.get(charger_id)
        return task is None or task.done()

    async def fleet_command(self, step: Any) -> dict[str, Any]:
        """Carry out a fleet command (a scenario step model: plug_in, reboot, ...) on the
        chargers it names (`chargers`: ids, fleet group "all"; `pick` narrows them)."""
        ids = self._fleet_ids(step.chargers, step.pick)
        if not ids:
            raise EngineError("no virtual charger selected")
        do = step.do
        errors: dict[str, str] = {}
        if do == "start_chargers":
            done = self._start_chargers(ids)
        elif do == "stop_chargers":
            done = await self._stop_chargers(ids)
        elif do in CHARGER_COMMANDS:
            results = await asyncio.gather(
                *(run_charger_command(self.chargers[i], step) for i in ids),
                return_exceptions=True,
            )
            for charger_id, outcome in zip(ids, results, strict=True):
                if isinstance(outcome, Exception):
                    errors[charger_id] = str(outcome) or type(outcome).__name__
            done = len(ids) - len(errors)
        else:  # the model's union admits nothing else
            raise EngineError(f"{do!r} is not a fleet command")
        self.publish("fleet", op=do, chargers=ids, errors=errors)
        return {"do": do, "chargers": ids, "done": done, "errors": errors}

    def _fleet_ids(self, selectors: list[str], pick: Any) -> list[str]:
        ids: list[str] = []
        for selector in selectors:
            if selector == "all":
                chosen = list(self.chargers)
            elif selector in self.chargers:
                chosen = [selector]
            else:
                try:
                    chosen = parse_filter(selector).select(self.chargers)
                except ValueError as exc:
                    raise EngineError(str(exc)) from None
                if not chosen:
                    raise NotFound(f"no virtual charger {selector!r}")
            ids.extend(i for i in chosen if i not in ids)
        if pick is not None and ids:
            n = pick.count if pick.count is not None else round(len(ids) * pick.percent / 100)
            n = max(1, min(len(ids), n))
            ids = sorted(self._rng.sample(ids, n), key=ids.index)
        return ids

    # -- scenarios ----------------------------------------------------------------------------

    def start_scenario(
        self, path: str, *, seed: int | None = None, scale: float = 1.0
    ) -> dict[str, Any]:
        """Run a scenario file through this engine's proxy (its chargers show up in the
        sessions, its own proxy applies its rules); watch it with `scenario(id)`."""
        from ocpp_chaos.scenarios.loader import load_scenario
        from ocpp_chaos.scenarios.runner import RunOptions, run_scenario

        if not self.proxy.port:
            raise EngineError("the proxy is not running")
        loaded = load_scenario(Path(path))  # ScenarioFileError: a 400 with file:line
        run = ScenarioRun(
            id=f"run-{next(self._scenario_ids)}",
            path=str(path),
            name=loaded.scenario.name,
            started_at=time.time(),
        )

        def progress(state: dict[str, Any]) -> None:
            run.progress = state
            self.publish("scenario", id=run.id, status=run.status, progress=state)

        async def go() -> None:
            try:
                result = await run_scenario(
                    loaded,
                    RunOptions(target=self.proxy.url, seed=seed, scale=scale, progress=progress),
                )
            except asyncio.CancelledError:
                run.status = "aborted"
                self.publish("scenario", id=run.id, status=run.status)
                raise
            run.result = result.to_json()
            run.status = result.verdict
            self.publish("scenario", id=run.id, status=run.status, verdict=result.verdict)

        run.task = spawn(go(), name=f"scenario-{run.id}")
        self.scenarios[run.id] = run
        self.publish("scenario", id=run.id, status=run.status, name=run.name, path=run.path)
        return run.to_json()

    def scenario(self, run_id: str) -> dict[str, Any]:
        run = self.scenarios.get(run_id)
        if run is None:
            raise NotFound(f"no scenario run {run_id!r}")
        return run.to_json()

    async def abort_scenario(self, run_id: str) -> dict[str, Any]:
        run = self.scenarios.get(run_id)
        if run is None:
            raise NotFound(f"no scenario run {run_id!r}")
        if run.task is not None and not run.task.done():
            run.task.cancel()
            await asyncio.gather(run.task, return_exceptions=True)
        return run.to_json()

    # -- the tape -----------------------------------------------------------------------------

    async def tape_path(self) -> Path:
        """The tape file, with everything relayed so far written to it."""
        tape = self.proxy.tape
        if tape is None:
            raise NotFound("this engine records no tape (start it with --tape FILE)")
        await asyncio.to_thread(tape.sync)
        return Path(tape.path)


def _glob_escape(charger_id: str) -> str:
    out = []
    for ch in charger_id:
        out.append(f"[{ch}]" if ch in "*?[" else ch)
    return "".join(out)


def _quantiles_ms(ordered: list[float]) -> dict[str, float | int | None]:
    def pick(q: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000, 3)

    return {
        "count": len(ordered),
        "p50": pick(0.5),
        "p90": pick(0.9),
        "p99": pick(0.99),
        "max": pick(1.0),
    }


def _charger_json(c: VirtualCharger) -> dict[str, Any]:
    return {
        "charger_id": c.charger_id,
        "protocol": c.SUBPROTOCOL,
        "state": str(c.state),
        "booted": c.booted,
        "connected": c.connected,
        "connectors": {
            str(n): {
                "status": conn.status.value,
                "plugged": conn.plugged,
                "transaction": n in c.transactions,
            }
            for n, conn in c.connectors.items()
        },
        "queued": len(c.queue),
        "transactions": c.counters.transactions,
    }


def _redact(url: str) -> str:
    from ocpp_chaos.log import redact_text

    return redact_text(url)
