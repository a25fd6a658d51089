"""The rules engine: frames and timers in, decisions out. Pure and seeded.

The proxy calls `on_connect` before it connects a charger upstream,
`session_open`/`session_closed` around each session, `on_frame` for every frame
read, and `on_timer` when a `Wakeup` it was given comes due. Each returns data
(`decisions.py`); the engine does no IO and never sleeps, and every random
choice is a hash of (seed, rule, charger, match number), so the same seed and
the same traffic give the same decisions whatever else runs concurrently.

Counting: `nth`, `first`, `every` and `after` count the matching frames of each
charger; `count` counts the hits of the rule across all chargers. A session
fault (`signal_loss`, `blackhole`, `disconnect`) whose match names no message,
action or payload hits each selected charger once per activation of the rule,
as soon as the rule is live for its session.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import random
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ocpp_chaos.frames import Call, CallError, CallResult, Direction, Message, serialise
from ocpp_chaos.frames.schema import version_of_subprotocol
from ocpp_chaos.rules import faults as transforms
from ocpp_chaos.rules.decisions import (
    FORWARD,
    PLAIN_CONNECT,
    Abort,
    Action,
    Close,
    ConnectPlan,
    Detach,
    Outcome,
    Refuse,
    Release,
    Send,
    Side,
    Wakeup,
)
from ocpp_chaos.rules.model import (
    CONNECT_FAULTS,
    SESSION_FAULTS,
    Blackhole,
    BlastRadius,
    Corrupt,
    CsmsOutage,
    Delay,
    Disconnect,
    Drop,
    Duplicate,
    Flap,
    Hold,
    Inject,
    Latency,
    Mutate,
    RejectConnect,
    Reorder,
    Reply,
    ReplyError,
    RewriteHeader,
    Rule,
    SignalLoss,
    StripSubprotocol,
    Throttle,
)
from ocpp_chaos.rules.paths import compile_condition

__all__ = ["FrameEvent", "RuleEngine", "RuleStats", "UnknownRule"]

DEFAULT_LINGER = 120.0
"""How long the CSMS side of a connection the charger lost stays open and silent."""

_ALWAYS_SESSION = frozenset({"flap", "csms_outage"})
_PER_SESSION = frozenset({"flap", "inject"})
"""Session faults that hit every session, not each charger once per activation."""


class FrameEvent(Protocol):
    """What the engine needs to know of a frame (the proxy's `FrameRecord` is one)."""

    session: str
    charger_id: str
    direction: Direction
    opcode: str
    raw: bytes
    kind: str | None
    action: str | None
    unique_id: str | None
    message: Message | None


class UnknownRule(KeyError):
    """No rule of that name is loaded."""


def _unit(seed: int, *parts: object) -> float:
    """A uniform number in [0, 1) fixed by the seed and the parts."""
    text = "\x1f".join(str(p) for p in (seed, *parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") / 2**64


def _rng(seed: int, *parts: object) -> random.Random:
    return random.Random(int(_unit(seed, *parts) * 2**53))


@dataclass
class RuleStats:
    """Per rule: how often it matched and hit, and what it did."""

    matched: int = 0
    hits: int = 0
    decisions: dict[str, int] = field(default_factory=dict)


@dataclass
class _RuleState:
    rule: Rule
    order: int
    enabled: bool
    activated_at: float | None
    chargers: Callable[[str], bool]
    payload: list[Callable[[Any], bool]]
    actions: frozenset[str] | None
    kinds: frozenset[str] | None
    protocols: frozenset[str] | None
    directions: frozenset[Direction]
    session_level: bool
    stats: RuleStats = field(default_factory=RuleStats)
    per_charger: dict[str, int] = field(default_factory=dict)
    radius: set[str] = field(default_factory=set)
    radius_epoch: int = -1
    """The session epoch of the last radius choice (see `_in_radius`)."""
    applied: set[str] = field(default_factory=set)
    """Chargers a session fault was applied to during this activation."""

    @property
    def fault_type(self) -> str:
        return self.rule.fault.type


@dataclass
class _Held:
    sends: list[Send]
    remaining: int
    deadline: float
    rule: str


@dataclass(slots=True)
class _Session:
    id: str
    charger_id: str
    subprotocol: str | None
    version: str | None
    started_at: float
    isolated_until: float = -math.inf
    isolated_by: str | None = None
    last_release: dict[Direction, float] = field(default_factory=dict)
    pending_response: dict[tuple[Direction, str], tuple[str, str, float]] = field(
        default_factory=dict
    )
    """(direction the answer travels, unique id) → (rule, 'drop'|'deliver'|'hold-drop', hold)."""
    held: dict[Direction, list[_Held]] = field(default_factory=dict)
    injected: dict[str, int] = field(default_factory=dict)
    """Frames sent so far per inject rule."""
    next_free: dict[Direction, float] = field(default_factory=dict)
    """Throttle: when each direction's link is free again."""
    index: dict[tuple[Direction, str | None, str | None], list[_RuleState]] = field(
        default_factory=dict
    )
    """(direction, action, kind) → the live frame rules that could match (`_candidates`)."""
    index_version: int = -1


def _compile_chargers(patterns: list[str] | None) -> Callable[[str], bool]:
    """Glob patterns match the whole id; `re:` patterns are searched in it."""
    if not patterns:
        return lambda _cid: True
    checks: list[Callable[[str], object]] = []
    for pattern in patterns:
        if pattern.startswith("re:"):
            checks.append(re.compile(pattern[3:]).search)
        else:
            checks.append(re.compile(fnmatch.translate(pattern)).match)
    cache: dict[str, bool] = {}

    def matches(charger_id: str) -> bool:
        hit = cache.get(charger_id)
        if hit is None:
            hit = any(check(charger_id) for check in checks)
            if len(cache) < 100_000:
                cache[charger_id] = hit
        return hit

    return matches


class RuleEngine:
    """Rules, their state, and the state of each session they act on."""

    def __init__(self, rules: Iterable[Rule] = (), *, seed: int = 0) -> None:
        self.seed = seed
        self._rules: dict[str, _RuleState] = {}
        self._order = 0
        self._sessions: dict[str, _Session] = {}
        self._refusals: dict[str, tuple[float, int | str, str]] = {}
        self._adhoc = 0
        self._live: list[_RuleState] = []
        self._frame_live: list[_RuleState] = []
        self._connect_live: list[_RuleState] = []
        self._version = 0
        self._epoch = 0
        """Bumped when a session opens: a blast radius not yet full chooses again."""
        """Bumped whenever the live rules change; sessions rebuild their rule index."""
        self._outages: list[tuple[float, int | str, str, Callable[[str], bool]]] = []
        """Active CSMS outages: (until, refusal, rule, which chargers)."""
        for rule in rules:
            self.add(rule)

    # -- rule management -----------------------------------------------------

    @property
    def rules(self) -> list[Rule]:
        return [s.rule for s in self._rules.values()]

    def stats(self, name: str) -> RuleStats:
        return self._state(name).stats

    def is_enabled(self, name: str) -> bool:
        return self._state(name).enabled

    def _state(self, name: str) -> _RuleState:
        try:
            return self._rules[name]
        except KeyError:
            raise UnknownRule(name) from None

    def add(self, rule: Rule, now: float | None = None) -> dict[str, list[Action]]:
        """Load a rule (it replaces a rule of the same name). Enabled rules act at once."""
        if rule.name in self._rules:
            self.remove(rule.name, now or 0.0)
        m = rule.match
        directions = (
            frozenset({Direction.UP, Direction.DOWN})
            if m.direction == "both"
            else frozenset({Direction(m.direction)})
        )
        state = _RuleState(
            rule=rule,
            order=self._order,
            enabled=False,
            activated_at=None,
            chargers=_compile_chargers(m.charger),
            payload=[compile_condition(p, c) for p, c in (m.payload or {}).items()],
            actions=frozenset(m.action) if m.action else None,
            kinds=frozenset(m.message) if m.message else None,
            protocols=frozenset(m.protocol) if m.protocol else None,
            directions=directions,
            session_level=rule.fault.type in _ALWAYS_SESSION
            or (rule.fault.type in SESSION_FAULTS and not m.frame_specific),
        )
        self._order += 1
        self._rules[rule.name] = state
        if rule.enabled:
            return self.enable(rule.name, now or 0.0)
        return {}

    def enable(self, name: str, now: float) -> dict[str, list[Action]]:
        """Switch a rule on at `now`. Returns what to do at once, by session id."""
        state = self._state(name)
        if state.enabled:
            return {}
        state.enabled = True
        state.activated_at = now
        state.applied.clear()
        self._refresh()
        out: dict[str, list[Action]] = {}
        if isinstance(state.rule.fault, CsmsOutage):
            return self._start_outage(state, now)
        if state.session_level:
            for sess in self._sessions.values():
                actions = self._session_fault_check(state, sess, now)
                if actions:
                    out[sess.id] = actions
        return out

    def _start_outage(self, state: _RuleState, now: float) -> dict[str, list[Action]]:
        """The CSMS goes away: drop every matched session now, refuse newcomers for a while."""
        fault = state.rule.fault
        assert isinstance(fault, CsmsOutage)
        name = state.rule.name
        self._outages.append((now + fault.duration, fault.refuse, name, state.chargers))
        self._hit(state, "csms_outage")
        out: dict[str, list[Action]] = {}
        for sess in self._sessions.values():
            if not state.chargers(sess.charger_id):
                continue
            if fault.abrupt:
                out[sess.id] = [Abort("csms", name), Abort("charger", name)]
            else:
                out[sess.id] = [Close("charger", fault.code, "CSMS outage", name)]
        return out

    def disable(self, name: str, now: float) -> dict[str, list[Action]]:
        """Switch a rule off. What it holds is released (not lost) unless it drops."""
        state = self._state(name)
        if not state.enabled:
            return {}
        state.enabled = False
        self._refresh()
        out: dict[str, list[Action]] = {}
        for sess in self._sessions.values():
            actions: list[Action] = [Release(name)]
            if sess.isolated_by == name:
                sess.isolated_until = now
                sess.isolated_by = None
            for held in sess.held.values():
                for h in [h for h in held if h.rule == name]:
                    held.remove(h)
                    actions.extend(_now(s) for s in h.sends)
            for key, (rule, _what, _hold) in list(sess.pending_response.items()):
                if rule == name:
                    del sess.pending_response[key]
            out[sess.id] = actions
        for charger, (_until, _status, rule) in list(self._refusals.items()):
            if rule == name:
                del self._refusals[charger]
        self._outages = [o for o in self._outages if o[2] != name]
        return out

    def remove(self, name: str, now: float) -> dict[str, list[Action]]:
        """Unload a rule (switching it off first)."""
        out = self.disable(name, now)
        del self._rules[name]
        self._refresh()
        return out

    def fire(self, fault: Any, charger: str, now: float) -> tuple[str, dict[str, list[Action]]]:
        """Fire a fault at one charger now, without a file: an ad-hoc rule that hits once."""
        self._adhoc += 1
        name = f"adhoc-{self._adhoc}"
        rule = Rule.model_validate(
            {
                "name": name,
                "match": {"charger": [_glob_escape(charger)]},
                "count": 1,
                "fault": fault if isinstance(fault, dict) else fault.model_dump(by_alias=True),
            }
        )
        return name, self.add(rule, now)

    # -- connections and sessions --------------------------------------------

    def on_connect(self, charger_id: str, subprotocols: Sequence[str], now: float) -> ConnectPlan:
        """How to handle a new connection of `charger_id`: refuse it, or alter its handshake."""
        refusal = self._refusals.get(charger_id)
        if refusal is not None:
            until, status, rule = refusal
            if now < until:
                return ConnectPlan(refuse=Refuse(status, rule), rules=(rule,))  # type: ignore[arg-type]
            del self._refusals[charger_id]
        if self._outages:
            self._outages = [o for o in self._outages if now < o[0]]
            for _until, status, rule, chargers in self._outages:
                if chargers(charger_id):
                    self._count(rule, "refuse")
                    return ConnectPlan(refuse=Refuse(status, rule), rules=(rule,))  # type: ignore[arg-type]
        if not self._connect_live:
            return PLAIN_CONNECT
        strip_offer = strip_answer = False
        headers: list[tuple[str, str | None]] = []
        hits: list[str] = []
        offered = set(subprotocols)
        for state in self._connect_live:
            fault = state.rule.fault
            if not state.chargers(charger_id):
                continue
            if state.protocols is not None and not state.protocols & offered:
                continue
            if not self._in_window(state, None, now) or not self._in_radius(state, charger_id):
                continue
            if state.rule.count is not None and state.stats.hits >= state.rule.count:
                continue
            self._hit(state, fault.type)
            hits.append(state.rule.name)
            if isinstance(fault, RejectConnect):
                return ConnectPlan(refuse=Refuse(fault.status, state.rule.name), rules=tuple(hits))
            if isinstance(fault, StripSubprotocol):
                if fault.side == "csms":
                    strip_offer = True
                else:
                    strip_answer = True
            elif isinstance(fault, RewriteHeader):
                headers.append((fault.header, fault.value))
        if not hits:
            return PLAIN_CONNECT
        return ConnectPlan(
            strip_offer=strip_offer,
            strip_answer=strip_answer,
            headers=tuple(headers),
            rules=tuple(hits),
        )

    def session_open(
        self, session: str, charger_id: str, subprotocol: str | None, now: float
    ) -> list[Action]:
        """A session started. Returns what to do at once (session faults, timers)."""
        sess = _Session(
            id=session,
            charger_id=charger_id,
            subprotocol=subprotocol,
            version=version_of_subprotocol(subprotocol),
            started_at=now,
        )
        self._sessions[session] = sess
        self._epoch += 1
        actions: list[Action] = []
        for state in self._live_rules():
            if state.session_level and not isinstance(state.rule.fault, CsmsOutage):
                actions.extend(self._session_fault_check(state, sess, now))
        return actions

    def session_closed(self, session: str) -> None:
        self._sessions.pop(session, None)

    def quiet(
        self,
        session: str,
        direction: Direction,
        action: str | None,
        kind: str,
        message: Message | None,
        now: float,
    ) -> bool:
        """True when no rule can touch this frame now: it goes straight through.

        The relay asks this before building a frame's record, so a frame no rule
        matches (the usual case) costs a dictionary look-up, plus the payload
        conditions of the rules that target its action.
        """
        sess = self._sessions.get(session)
        if sess is None:
            return True
        if sess.pending_response or sess.held or now < sess.isolated_until:
            return False
        if not self._frame_live:
            return True
        candidates = self._candidates(sess, direction, action, kind)
        if not candidates:
            return True
        if any(not c.payload for c in candidates):
            return False
        payload = _payload(message)
        if payload is None:
            return True
        return not any(all(check(payload) for check in c.payload) for c in candidates)

    def _candidates(
        self, sess: _Session, direction: Direction, action: str | None, kind: str | None
    ) -> list[_RuleState]:
        """The live frame rules that could match a frame of this session, direction, action
        and message kind.

        Those decide every matcher but the payload, so the filtering is done once per
        (session, direction, action, kind) and kept until the rules change.
        """
        if sess.index_version != self._version:
            sess.index = {}
            sess.index_version = self._version
        key = (direction, action, kind)
        found = sess.index.get(key)
        if found is None:
            found = [
                s
                for s in self._frame_live
                if direction in s.directions
                and (s.actions is None or action in s.actions)
                and (s.kinds is None or kind in s.kinds)
                and (s.protocols is None or sess.subprotocol in s.protocols)
                and s.chargers(sess.charger_id)
            ]
            if len(sess.index) < 256:  # a peer may invent any number of actions
                sess.index[key] = found
        return found

    def isolated(self, session: str, now: float) -> bool:
        """Whether nothing may pass for `session` now (signal loss, black hole)."""
        sess = self._sessions.get(session)
        return sess is not None and now < sess.isolated_until

    # -- frames ----------------------------------------------------------------

    def on_frame(self, ev: FrameEvent, now: float) -> Outcome:
        """Decide what happens to one frame read from `ev.direction`'s sender."""
        sess = self._sessions.get(ev.session)
        if sess is None:
            return FORWARD
        if now < sess.isolated_until:
            rule = sess.isolated_by or "isolated"
            self._count(rule, "blackhole")
            return Outcome((), decision=f"blackhole:{rule}", hits=(rule,))
        if not self._frame_live and not sess.pending_response and not sess.held:
            return FORWARD
        sends: list[Send] = [Send(ev.direction, ev.raw, ev.opcode, message=ev.message)]
        actions: list[Action] = []
        labels: list[str] = []
        hits: list[str] = []
        if ev.kind in ("result", "error") and ev.unique_id is not None:
            pending = sess.pending_response.pop((ev.direction, ev.unique_id), None)
            if pending is not None:
                rule, what, hold = pending
                self._count(rule, what)
                labels.append(f"{what}:{rule}")
                hits.append(rule)
                if what in ("drop", "swallow"):
                    sends = []
                else:
                    sends = [
                        Send(
                            ev.direction,
                            ev.raw,
                            ev.opcode,
                            at=now + hold,
                            rule=rule,
                            message=ev.message,
                        )
                    ]
        for state in self._candidates(sess, ev.direction, ev.action, ev.kind):
            if not sends:
                break
            if state.payload and not self._payload_matches(state, ev):
                continue
            if not self._selected(state, sess, ev, now):
                continue
            sends, extra = self._apply(state, sess, ev, sends, now)
            actions.extend(extra)
            labels.append(f"{state.fault_type}:{state.rule.name}")
            hits.append(state.rule.name)
        if sends and sess.held.get(ev.direction):
            sends.extend(self._release_overtaken(sess, ev.direction, now))
        if not labels and len(sends) == 1 and sends[0].at is None and not actions:
            return FORWARD
        return Outcome(
            (*sends, *actions),
            forward=False,
            decision=",".join(labels) or "forward",
            hits=tuple(hits),
        )

    def on_timer(self, session: str, key: str, now: float) -> list[Action]:
        """A `Wakeup` came due."""
        sess = self._sessions.get(session)
        if sess is None:
            return []
        kind, _, name = key.partition(":")
        if kind == "reorder":
            out: list[Action] = []
            for held in sess.held.values():
                for h in [h for h in held if h.deadline <= now]:
                    held.remove(h)
                    out.extend(_now(s) for s in h.sends)
            return out
        if kind == "window":
            state = self._rules.get(name)
            if state is None or not state.enabled:
                return []
            return self._session_fault_check(state, sess, now)
        if kind == "signal_loss_end":
            # The outage is over for new connections; this one stays dead: reset on
            # the charger's side (mode reset) or silent both ways (half_open), while
            # the CSMS's side lingers, open and silent, as it would in the field.
            state = self._rules.get(name)
            fault = state.rule.fault if state is not None else None
            sess.isolated_until = math.inf
            linger: list[Action] = [
                Detach("charger", DEFAULT_LINGER, name),
                Detach("csms", DEFAULT_LINGER, name),
                Wakeup(now + DEFAULT_LINGER, f"linger_end:{name}"),
            ]
            if isinstance(fault, SignalLoss) and fault.mode == "reset":
                return [*linger, Abort("charger", name)]
            return linger
        if kind in ("flap", "inject"):
            state = self._rules.get(name)
            if state is None or not state.enabled:
                return []
            return self._session_timer(state, sess, kind, now)
        if kind == "linger_end":
            return [Abort("csms", name or None), Abort("charger", name or None)]
        return []

    # -- matching and selection ------------------------------------------------

    def _live_rules(self) -> list[_RuleState]:
        return self._live

    def _refresh(self) -> None:
        self._version += 1
        self._live = [s for s in self._rules.values() if s.enabled]
        self._frame_live = [
            s for s in self._live if not s.session_level and s.rule.fault.type not in CONNECT_FAULTS
        ]
        self._connect_live = [s for s in self._live if s.rule.fault.type in CONNECT_FAULTS]

    def _payload_matches(self, state: _RuleState, ev: FrameEvent) -> bool:
        """The one matcher `_candidates` leaves: conditions on payload fields."""
        payload = _payload(ev.message)
        if payload is None:
            return False
        return all(check(payload) for check in state.payload)

    def _in_window(self, state: _RuleState, sess: _Session | None, now: float) -> bool:
        window = state.rule.window
        if window is None:
            return True
        if window.from_ == "session":
            if sess is None:
                return True
            ref = sess.started_at
        else:
            ref = state.activated_at if state.activated_at is not None else 0.0
        elapsed = now - ref
        if elapsed < window.start:
            return False
        return window.duration is None or elapsed < window.start + window.duration

    def _window_start(self, state: _RuleState, sess: _Session) -> float | None:
        window = state.rule.window
        if window is None:
            return None
        ref = sess.started_at if window.from_ == "session" else (state.activated_at or 0.0)
        return ref + window.start

    def _in_radius(self, state: _RuleState, charger_id: str) -> bool:
        radius = state.rule.chargers
        if radius == "all":
            return True
        if isinstance(radius, BlastRadius) and radius.percent is not None:
            return _unit(self.seed, state.rule.name, "radius", charger_id) * 100 < radius.percent
        size = (radius.count if isinstance(radius, BlastRadius) else None) or 1
        if charger_id in state.radius:
            return True
        if len(state.radius) >= size:
            return False
        if state.radius_epoch == self._epoch:
            # No session opened since the last choice, which took every connected candidate
            # (the radius is still not full): this charger is a newcomer and fills a place,
            # without another scan of all sessions on this frame path.
            state.radius.add(charger_id)
            return True
        # Not full yet: choose, by the seed, among the chargers connected now (and this
        # one). With the fleet up, N chargers are picked by the seed whatever the order
        # they came in; chargers arriving later fill what is left, in arrival order.
        pool = {
            sess.charger_id
            for sess in self._sessions.values()
            if state.chargers(sess.charger_id)
            and (state.protocols is None or sess.subprotocol in state.protocols)
        }
        pool.add(charger_id)
        pool -= state.radius
        name = state.rule.name
        ranked = sorted(pool, key=lambda cid: _unit(self.seed, name, "radius", cid))
        state.radius.update(ranked[: size - len(state.radius)])
        state.radius_epoch = self._epoch
        return charger_id in state.radius

    def _selected(self, state: _RuleState, sess: _Session, ev: FrameEvent, now: float) -> bool:
        rule = state.rule
        if not self._in_window(state, sess, now):
            return False
        if not self._in_radius(state, sess.charger_id):
            return False
        state.stats.matched += 1
        n = state.per_charger.get(sess.charger_id, 0) + 1
        state.per_charger[sess.charger_id] = n
        k = n - (rule.after or 0)
        if k < 1:
            return False
        if rule.nth is not None and k != rule.nth:
            return False
        if rule.first is not None and k > rule.first:
            return False
        if rule.every is not None and k % rule.every != 0:
            return False
        if rule.count is not None and state.stats.hits >= rule.count:
            return False
        if rule.probability is not None and (
            _unit(self.seed, rule.name, sess.charger_id, n) >= rule.probability
        ):
            return False
        state.stats.hits += 1
        return True

    def _hit(self, state: _RuleState, decision: str) -> None:
        state.stats.hits += 1
        state.stats.decisions[decision] = state.stats.decisions.get(decision, 0) + 1

    def _count(self, rule: str, decision: str) -> None:
        state = self._rules.get(rule)
        if state is not None:
            state.stats.decisions[decision] = state.stats.decisions.get(decision, 0) + 1

    # -- faults ------------------------------------------------------------------

    def _apply(
        self, state: _RuleState, sess: _Session, ev: FrameEvent, sends: list[Send], now: float
    ) -> tuple[list[Send], list[Action]]:
        fault = state.rule.fault
        name = state.rule.name
        self._count(name, fault.type)
        n = state.per_charger.get(sess.charger_id, 0)
        msg = ev.message
        if isinstance(fault, Drop):
            if fault.response and isinstance(msg, Call):
                sess.pending_response[(ev.direction.opposite, msg.unique_id)] = (name, "drop", 0.0)
                return sends, []
            return [], []
        if isinstance(fault, Hold):
            if isinstance(msg, Call):
                what = "hold" if fault.then == "deliver" else "drop"
                sess.pending_response[(ev.direction.opposite, msg.unique_id)] = (
                    name,
                    what,
                    fault.hold,
                )
            return sends, []
        if isinstance(fault, Delay):
            return [_later(s, now + fault.delay, name) for s in sends], []
        if isinstance(fault, Latency):
            out = []
            for s in sends:
                jitter = fault.jitter * _unit(self.seed, name, sess.charger_id, n, "jitter")
                at = max(now + fault.fixed + jitter, sess.last_release.get(s.direction, -math.inf))
                sess.last_release[s.direction] = at
                out.append(_later(s, at, name))
            return out, []
        if isinstance(fault, Throttle):
            out = []
            for s in sends:
                start = max(now, sess.next_free.get(s.direction, now), s.at or now)
                sess.next_free[s.direction] = start + len(s.data) / fault.bytes_per_second
                out.append(s if start <= now else _later(s, start, name))
            return out, []
        if isinstance(fault, Inject):
            return sends, [self._injected(state, sess, fault, n)]
        if isinstance(fault, Duplicate):
            rng = _rng(self.seed, name, sess.charger_id, n, "dup")
            out = list(sends)
            for i in range(1, fault.copies + 1):
                for s in sends:
                    copy = (
                        transforms.with_fresh_id(msg, rng) if (fault.fresh_id and msg) else s.data
                    )
                    when = (s.at or now) + fault.spacing * i if fault.spacing else s.at
                    out.append(
                        Send(
                            s.direction,
                            copy,
                            s.opcode,
                            when,
                            name,
                            injected=True,
                            message=s.message if copy is s.data else None,
                        )
                    )
            return out, []
        if isinstance(fault, Reorder):
            sess.held.setdefault(ev.direction, []).append(
                _Held(list(sends), fault.after, now + fault.max_hold, name)
            )
            return [], [Wakeup(now + fault.max_hold, f"reorder:{name}")]
        if isinstance(fault, Corrupt):
            if msg is None:
                return sends, []
            rng = _rng(self.seed, name, sess.charger_id, n, "corrupt")
            data, binary = transforms.corrupt(msg, fault, rng)
            opcode = "binary" if binary else "text"
            return [Send(s.direction, data, opcode, s.at, name) for s in sends], []
        if isinstance(fault, Mutate):
            if msg is None:
                return sends, []
            mutated = transforms.mutate(msg, fault)
            if mutated is None:
                return sends, []
            return [Send(s.direction, mutated, s.opcode, s.at, name) for s in sends], []
        if isinstance(fault, ReplyError):
            if not isinstance(msg, Call):
                return sends, []
            frame = transforms.call_error_frame(
                msg, fault.code, sess.version, fault.description, fault.details
            )
            return [], [Send(ev.direction.opposite, frame, "text", None, name, injected=True)]
        if isinstance(fault, Reply):
            if not isinstance(msg, Call):
                return sends, []
            frame = transforms.call_result_frame(msg, fault.payload)
            return [], [Send(ev.direction.opposite, frame, "text", None, name, injected=True)]
        if isinstance(fault, SignalLoss | Blackhole | Disconnect):
            # A session fault triggered by this frame: the frame is lost with the link.
            return [], self._start_session_fault(state, sess, now)
        return sends, []

    def _session_fault_check(self, state: _RuleState, sess: _Session, now: float) -> list[Action]:
        """Apply a session-level fault to `sess` if it is live and selected for it."""
        per_session = state.fault_type in _PER_SESSION
        if not per_session and sess.charger_id in state.applied:
            return []
        rule = state.rule
        if not state.chargers(sess.charger_id):
            return []
        if state.protocols is not None and sess.subprotocol not in state.protocols:
            return []
        if not self._in_window(state, sess, now):
            start = self._window_start(state, sess)
            if start is not None and start > now:
                return [Wakeup(start, f"window:{rule.name}")]
            return []
        if not self._in_radius(state, sess.charger_id):
            return []
        if rule.count is not None and state.stats.hits >= rule.count:
            return []
        if rule.probability is not None and (
            _unit(self.seed, rule.name, sess.charger_id, "session") >= rule.probability
        ):
            state.applied.add(sess.charger_id)
            return []
        state.applied.add(sess.charger_id)
        state.stats.matched += 1
        state.stats.hits += 1
        self._count(rule.name, rule.fault.type)
        return self._start_session_fault(state, sess, now)

    def _start_session_fault(self, state: _RuleState, sess: _Session, now: float) -> list[Action]:
        fault = state.rule.fault
        name = state.rule.name
        if isinstance(fault, Disconnect):
            sides: list[Side] = ["charger", "csms"] if fault.side == "both" else [fault.side]
            if fault.abrupt:
                return [Abort(side, name) for side in sides]
            return [Close(side, fault.code, fault.reason, name) for side in sides]
        if isinstance(fault, Flap):
            return [Wakeup(now + fault.period, f"flap:{name}")]
        if isinstance(fault, Inject):
            sess.injected[name] = 0
            return [Wakeup(now + fault.delay, f"inject:{name}")]
        if isinstance(fault, Blackhole):
            sess.isolated_until = math.inf if fault.duration is None else now + fault.duration
            sess.isolated_by = name
            return []
        if isinstance(fault, SignalLoss):
            until = now + fault.duration
            sess.isolated_until = until
            sess.isolated_by = name
            self._refusals[sess.charger_id] = (until, fault.refuse, name)
            return [Wakeup(until, f"signal_loss_end:{name}")]
        return []

    def _session_timer(
        self, state: _RuleState, sess: _Session, kind: str, now: float
    ) -> list[Action]:
        fault = state.rule.fault
        name = state.rule.name
        if isinstance(fault, Flap) and kind == "flap":
            self._count(name, "flap")
            if fault.abrupt:
                return [Abort("charger", name)]
            return [Close("charger", fault.code, fault.reason, name)]
        if isinstance(fault, Inject) and kind == "inject":
            sent = sess.injected.get(name, 0)
            if sent >= fault.times:
                return []
            sess.injected[name] = sent + 1
            self._count(name, "inject")
            actions: list[Action] = [self._injected(state, sess, fault, sent)]
            if fault.period is not None and sent + 1 < fault.times:
                actions.append(Wakeup(now + fault.period, f"inject:{name}"))
            return actions
        return []

    def _injected(self, state: _RuleState, sess: _Session, fault: Inject, n: int) -> Send:
        """The frame an inject fault sends; a made-up CALL's answer will be swallowed."""
        direction = Direction.UP if fault.to == "csms" else Direction.DOWN
        if fault.frame is not None:
            return Send(direction, fault.frame.encode(), "text", None, state.rule.name, True)
        assert fault.call is not None
        rng = _rng(self.seed, state.rule.name, sess.id, n, "inject")
        call = Call(
            unique_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            action=fault.call.action,
            payload=fault.call.payload,
        )
        sess.pending_response[(direction.opposite, call.unique_id)] = (
            state.rule.name,
            "swallow",
            0.0,
        )
        return Send(direction, serialise(call), "text", None, state.rule.name, True)

    def _release_overtaken(self, sess: _Session, direction: Direction, now: float) -> list[Send]:
        """A frame went past the held ones: count it; release those it was the last for."""
        out: list[Send] = []
        held = sess.held[direction]
        for h in list(held):
            h.remaining -= 1
            if h.remaining <= 0:
                held.remove(h)
                out.extend(_now(s) for s in h.sends)
        if not held:
            del sess.held[direction]
        return out


def _now(send: Send) -> Send:
    return Send(
        send.direction, send.data, send.opcode, None, send.rule, send.injected, send.message
    )


def _later(send: Send, at: float, rule: str) -> Send:
    return Send(send.direction, send.data, send.opcode, at, rule, send.injected, send.message)


def _payload(message: Message | None) -> Any:
    if isinstance(message, CallError):
        return message.details
    if isinstance(message, Call | CallResult):
        return message.payload
    return getattr(message, "payload", None)


def _glob_escape(charger_id: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", charger_id)
