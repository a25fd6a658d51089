"""What the proxy knows about one session, built from the frames it relays.

Sans-IO: the session feeds each frame with its direction; the monitor parses
it, pairs it with its request or response, checks its schema and counts it,
and returns a `FrameRecord` for the tape, the log and the event bus. Clocks are
passed in so tests can drive it with fixed times.
"""

from __future__ import annotations

import base64
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ocpp_chaos.frames import (
    Call,
    CallError,
    CallResult,
    CallResultError,
    Direction,
    Malformed,
    Message,
    Pairing,
    RpcTracker,
    SchemaChecker,
    SchemaVerdict,
    Send,
    parse,
)
from ocpp_chaos.frames.schema import UNCHECKED

__all__ = ["DirectionStats", "FrameRecord", "SessionMonitor", "SessionStats", "kind_of"]

_KINDS: dict[type, str] = {
    Call: "call",
    CallResult: "result",
    CallError: "error",
    CallResultError: "resulterror",
    Send: "send",
    Malformed: "malformed",
}


def kind_of(message: Message) -> str:
    """`call`, `result`, `error`, `resulterror`, `send` or `malformed`."""
    return _KINDS[type(message)]


@dataclass(slots=True)
class FrameRecord:
    """One frame as the proxy saw it: the unit of the tape and the event stream."""

    time: float
    """Wall-clock time (Unix seconds) the frame was read."""
    session: str
    charger_id: str
    direction: Direction
    opcode: str
    """`text`, `binary`, `ping`, `pong` or `close`."""
    raw: bytes
    kind: str | None = None
    action: str | None = None
    unique_id: str | None = None
    rtt: float | None = None
    schema: SchemaVerdict = UNCHECKED
    reason: str | None = None
    """For a malformed frame: why. For a close frame: the close code and reason."""
    decision: str = "forward"
    message: Message | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The tape line for this frame (exact text, or base64 when not valid UTF-8 text)."""
        out: dict[str, Any] = {
            "t": round(self.time, 6),
            "session": self.session,
            "charger": self.charger_id,
            "dir": self.direction.value,
            "opcode": self.opcode,
        }
        if self.opcode == "text":
            try:
                out["text"] = self.raw.decode("utf-8")
            except UnicodeDecodeError:
                out["b64"] = base64.b64encode(self.raw).decode("ascii")
        elif self.raw:
            out["b64"] = base64.b64encode(self.raw).decode("ascii")
        for key, value in (
            ("type", self.kind),
            ("action", self.action),
            ("id", self.unique_id),
            ("reason", self.reason),
        ):
            if value is not None:
                out[key] = value
        if self.rtt is not None:
            out["rtt_ms"] = round(self.rtt * 1000, 3)
        if self.schema.valid is not None:
            out["schema"] = self.schema.label
            if self.schema.errors:
                out["schema_errors"] = list(self.schema.errors)
        out["decision"] = self.decision
        return out


@dataclass(slots=True)
class DirectionStats:
    frames: int = 0
    bytes: int = 0
    malformed: int = 0


@dataclass(slots=True)
class SessionStats:
    """Counters of one session. Round-trip times keep the most recent `RTT_WINDOW`."""

    RTT_WINDOW = 2048

    up: DirectionStats = field(default_factory=DirectionStats)
    down: DirectionStats = field(default_factory=DirectionStats)
    last_action: str | None = None
    schema_violations: int = 0
    unknown_responses: int = 0
    rtts: deque[float] = field(default_factory=lambda: deque(maxlen=SessionStats.RTT_WINDOW))

    def direction(self, d: Direction) -> DirectionStats:
        return self.up if d is Direction.UP else self.down

    def rtt_percentile(self, q: float) -> float | None:
        """The q-quantile (0..1) of the recent round-trip times, in seconds."""
        if not self.rtts:
            return None
        ordered = sorted(self.rtts)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class SessionMonitor:
    """Parses, pairs, checks and counts the frames of one session."""

    def __init__(
        self,
        session: str,
        charger_id: str,
        subprotocol: str | None,
        *,
        check_schema: bool = True,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self.charger_id = charger_id
        self.subprotocol = subprotocol
        self.tracker = RpcTracker()
        self.stats = SessionStats()
        self.schema = SchemaChecker.for_subprotocol(subprotocol) if check_schema else None
        self._clock = clock
        self._wall = wall_clock

    def observe(self, direction: Direction, data: bytes, *, binary: bool = False) -> FrameRecord:
        """A data frame (text or binary) read from `direction`'s sender."""
        message, pairing, verdict = self.see(direction, data, binary)
        return self.record(direction, data, binary, message, pairing, verdict)

    def see(
        self, direction: Direction, data: bytes, binary: bool = False
    ) -> tuple[Message, Pairing, SchemaVerdict]:
        """Parse, pair, check and count a data frame, without building its record.

        The relay calls this for every frame, and `record()` only when something
        (the tape, an observer, a rule) needs the record: the common path stays lean.
        """
        message = parse(data, binary=binary)
        pairing = self.tracker.feed(direction, message, self._clock())
        stats = self.stats
        dstats = stats.up if direction is Direction.UP else stats.down
        dstats.frames += 1
        dstats.bytes += len(data)
        if type(message) is Malformed:
            dstats.malformed += 1
        if pairing.unknown_id:
            stats.unknown_responses += 1
        if pairing.rtt is not None:
            stats.rtts.append(pairing.rtt)
        if pairing.action is not None:
            stats.last_action = pairing.action
        verdict = UNCHECKED
        if self.schema is not None:
            verdict = self.schema.check(message, pairing.action)
            if verdict.valid is False:
                stats.schema_violations += 1
        return message, pairing, verdict

    def record(
        self,
        direction: Direction,
        data: bytes,
        binary: bool,
        message: Message,
        pairing: Pairing,
        verdict: SchemaVerdict,
    ) -> FrameRecord:
        """The record of a frame `see()` has seen, for the tape, the log and the rules."""
        return FrameRecord(
            time=self._wall(),
            session=self.session,
            charger_id=self.charger_id,
            direction=direction,
            opcode="binary" if binary else "text",
            raw=data,
            kind=_KINDS[type(message)],
            action=pairing.action,
            unique_id=getattr(message, "unique_id", None),
            rtt=pairing.rtt,
            schema=verdict,
            reason=message.reason.value if isinstance(message, Malformed) else None,
            message=message,
        )

    def observe_control(
        self, direction: Direction, opcode: str, data: bytes = b"", reason: str | None = None
    ) -> FrameRecord:
        """A ping, pong or close frame read from `direction`'s sender."""
        return FrameRecord(
            time=self._wall(),
            session=self.session,
            charger_id=self.charger_id,
            direction=direction,
            opcode=opcode,
            raw=data,
            reason=reason,
        )

    @property
    def unanswered(self) -> int:
        """CALLs of either side still waiting for an answer."""
        return len(self.tracker.outstanding())
