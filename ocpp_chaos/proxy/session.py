"""One charger connection relayed to the CSMS: two pumps, one per direction.

This is the IO edge around the sans-IO monitor. Each pump reads a frame from
one side, has it observed, and writes it to the other side with the same
opcode and the exact bytes. Writing awaits the destination, so a slow reader
on one side stops the pump and, through TCP flow control, the sender: memory
stays bounded. Pings and pongs are relayed, not answered; close frames carry
their code and reason across; a connection lost without a close frame is
mirrored as an abrupt loss on the other side.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import math
import socket
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from aiohttp import ClientWebSocketResponse, WSMsgType, web
from aiohttp.http_websocket import WebSocketError

from ocpp_chaos.aio import spawn
from ocpp_chaos.frames import Direction, Malformed
from ocpp_chaos.proxy.monitor import FrameRecord, SessionMonitor, kind_of
from ocpp_chaos.rules.decisions import (
    FORWARD,
    Abort,
    Action,
    Close,
    Detach,
    Release,
    Send,
    Side,
    Wakeup,
)
from ocpp_chaos.rules.engine import RuleEngine

if TYPE_CHECKING:
    from ocpp_chaos.proxy.oracle import Oracle, SessionWatch

__all__ = ["Session", "SessionEvent"]

log = structlog.get_logger("ocpp_chaos.proxy")

# Close codes that may be sent in a close frame (RFC 6455 §7.4).
_SENDABLE = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})
_MAX_REASON = 123

# Frames are read undecoded (decode_text=False) on both sides.
WS = web.WebSocketResponse[Any] | ClientWebSocketResponse[Any]

MAX_QUEUED = 10_000
"""Frames and timers a session may hold for later; past it, reading pauses."""

_OPCODES = {
    "text": WSMsgType.TEXT,
    "binary": WSMsgType.BINARY,
    "ping": WSMsgType.PING,
    "pong": WSMsgType.PONG,
}


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _other(side: Side) -> Side:
    return "csms" if side == "charger" else "charger"


class Sink(Protocol):
    """Where records go; `recording` says whether anything consumes them now."""

    @property
    def recording(self) -> bool: ...


class _NoSink:
    recording = False


_NO_SINK = _NoSink()


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """A session opened or closed."""

    kind: str
    """`session_open` or `session_closed`."""
    time: float
    session: str
    charger_id: str
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "t": round(self.time, 6),
            "event": self.kind,
            "session": self.session,
            "charger": self.charger_id,
            **self.detail,
        }


def sendable_code(code: int | None) -> int:
    """A close code the proxy may put in a close frame (1005/1006/1015 and junk become 1000)."""
    if code is not None and (code in _SENDABLE or 3000 <= code <= 4999):
        return code
    return 1000


def _transport(ws: WS) -> asyncio.Transport | None:
    # aiohttp does not expose the transport of an upgraded connection; its
    # writer holds it (both server and client side).
    writer = getattr(ws, "_writer", None)
    return getattr(writer, "transport", None) if writer is not None else None


def abort(ws: WS) -> None:
    """Drop the TCP connection under `ws` at once, with a reset: the peer sees 1006."""
    transport = _transport(ws)
    if transport is not None:
        reset_transport(transport)


def reset_transport(transport: asyncio.BaseTransport) -> None:
    """Close a TCP transport with a reset (RST), not an orderly FIN."""
    if transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if isinstance(transport, asyncio.WriteTransport | asyncio.Transport):
        transport.abort()
    else:
        transport.close()


class Session:
    """A charger's connection and its upstream twin."""

    def __init__(
        self,
        *,
        session_id: str,
        charger_id: str,
        charger_ws: web.WebSocketResponse[Any],
        csms_ws: ClientWebSocketResponse[Any],
        subprotocol: str | None,
        remote: str | None,
        path: str,
        upstream_url: str,
        check_schema: bool = True,
        emit: Callable[[FrameRecord | SessionEvent], None] = lambda _e: None,
        close_timeout: float = 5.0,
        engine: RuleEngine | None = None,
        sink: Sink | None = None,
        oracle: Oracle | None = None,
        upstream_offered: Sequence[str] = (),
        upstream_selected: str | None = None,
    ) -> None:
        """`oracle` judges the CSMS from what this session writes to and reads from it;
        `upstream_offered` are the subprotocols offered to the CSMS and
        `upstream_selected` the Sec-WebSocket-Protocol it answered (None: none)."""
        self.id = session_id
        self.charger_id = charger_id
        self.charger_ws = charger_ws
        self.csms_ws = csms_ws
        self.subprotocol = subprotocol
        self.remote = remote
        self.path = path
        self.upstream_url = upstream_url
        self.started_at = time.time()
        self.monitor = SessionMonitor(
            session_id, charger_id, subprotocol, check_schema=check_schema
        )
        self._emit = emit
        self._close_timeout = close_timeout
        self.engine = engine
        self._sink: Sink = sink or _NO_SINK
        self.closing = False
        self._detached: set[Side] = set()
        """Sides whose loss is not mirrored to the other side (a fault cut the link)."""
        self._gone: set[Side] = set()
        # The timeline of frames and timers due later exists only once a rule delays
        # something: an idle session holds none of it (memory per session matters).
        self._timeline: list[tuple[float, int, Send | Wakeup]] = []
        self._seq = 0
        self._wake: asyncio.Future[None] | None = None
        self._wake_at = math.inf
        self._timer_task: asyncio.Task[None] | None = None
        self._room: asyncio.Event | None = None
        """Cleared while MAX_QUEUED items wait: reading pauses until there is room."""
        self.closed_by: str | None = None
        self.close_code: int | None = None
        self.close_reason: str = ""
        self._aborted: dict[Side, str | None] | None = None
        """Sides the proxy reset itself (a rule): their loss is not the peer's doing."""
        # One attribute, not three: past 30 attributes an instance dict stops sharing its
        # keys with the other sessions' and costs ~1.5 KiB more per session.
        self._oracle_open = (
            None if oracle is None else (oracle, tuple(upstream_offered), upstream_selected)
        )
        self.watch: SessionWatch | None = None
        """The oracle's view of this session, from `run()` on."""

    # -- public --------------------------------------------------------------

    async def run(self) -> None:
        """Relay until either side goes away; both connections are closed on return."""
        self._emit(
            self._event(
                "session_open", subprotocol=self.subprotocol, remote=self.remote, path=self.path
            )
        )
        log.info("session_open", subprotocol=self.subprotocol, remote=self.remote)
        if self._oracle_open is not None:
            oracle, offered, selected = self._oracle_open
            self.watch = oracle.session_open(
                self.id,
                self.charger_id,
                self.subprotocol,
                time.monotonic(),
                offered=offered,
                selected=selected,
                schema=self.monitor.schema,
            )
        if self.engine is not None:
            await self.execute(
                self.engine.session_open(
                    self.id, self.charger_id, self.subprotocol, time.monotonic()
                )
            )
        up = spawn(self._pump(Direction.UP), name=f"pump-up-{self.id}-{self.charger_id}")
        down = spawn(self._pump(Direction.DOWN), name=f"pump-down-{self.id}-{self.charger_id}")
        try:
            _done, pending = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            while pending:
                # A cut link keeps the other side open (and silent) until it goes
                # away or the fault's linger ends; otherwise the end was mirrored.
                _done, pending = await asyncio.wait(pending, timeout=self._close_timeout * 2)
                if pending and not self._detached:
                    break
        finally:
            for task in (up, down, self._timer_task):
                if task is not None and not task.done():
                    task.cancel()
            await asyncio.gather(up, down, return_exceptions=True)
            if self._timer_task is not None:
                await asyncio.gather(self._timer_task, return_exceptions=True)
            if self.engine is not None:
                self.engine.session_closed(self.id)
            for ws in (self.charger_ws, self.csms_ws):
                if not ws.closed:
                    abort(ws)
            stats = self.monitor.stats
            log.info(
                "session_closed",
                by=self.closed_by,
                code=self.close_code,
                frames_up=stats.up.frames,
                frames_down=stats.down.frames,
            )
            self._emit(
                self._event(
                    "session_closed",
                    by=self.closed_by,
                    code=self.close_code,
                    reason=self.close_reason,
                )
            )
            if self.watch is not None:
                self.watch.closed(
                    time.monotonic(),
                    by=self.closed_by,
                    code=self.close_code,
                    reason=self.close_reason,
                )

    async def close(self, code: int = 1001, reason: str = "proxy shutting down") -> None:
        """Close both sides with `code` (graceful shutdown)."""
        if self.closing:
            return
        self.closing = True
        self.closed_by = self.closed_by or "proxy"
        self.close_code = code
        self.close_reason = reason
        await self._close_all(code, reason)

    def info(self) -> dict[str, Any]:
        """A snapshot for the registry, the log and the control API."""
        stats = self.monitor.stats
        p50 = stats.rtt_percentile(0.5)
        p99 = stats.rtt_percentile(0.99)
        return {
            "session": self.id,
            "charger_id": self.charger_id,
            "subprotocol": self.subprotocol,
            "remote": self.remote,
            "path": self.path,
            "started_at": self.started_at,
            "frames_up": stats.up.frames,
            "frames_down": stats.down.frames,
            "bytes_up": stats.up.bytes,
            "bytes_down": stats.down.bytes,
            "malformed_up": stats.up.malformed,
            "malformed_down": stats.down.malformed,
            "calls_unanswered": self.monitor.unanswered,
            "unknown_responses": stats.unknown_responses,
            "last_action": stats.last_action,
            "schema_violations": stats.schema_violations,
            "rtt_p50_ms": None if p50 is None else round(p50 * 1000, 3),
            "rtt_p99_ms": None if p99 is None else round(p99 * 1000, 3),
            "rtt_samples": len(stats.rtts),
            "closing": self.closing,
        }

    # -- the relay -----------------------------------------------------------

    def _ends(self, direction: Direction) -> tuple[WS, WS]:
        if direction is Direction.UP:
            return self.charger_ws, self.csms_ws
        return self.csms_ws, self.charger_ws

    async def _pump(self, direction: Direction) -> None:
        try:
            await self._relay(direction)
        except Exception as exc:
            # A bug of ours, or garbage that got past aiohttp: end this session
            # only, and tell both peers with 1011 (internal error).
            log.error("session_failed", direction=direction.value, error=repr(exc), exc_info=exc)
            if not self.closing:
                self.closing = True
                self.closed_by, self.close_code, self.close_reason = "proxy", 1011, repr(exc)
                await self._close_all(1011, "proxy internal error")

    async def _relay(self, direction: Direction) -> None:
        src, dst = self._ends(direction)
        side: Side = "charger" if direction is Direction.UP else "csms"
        monitor = self.monitor
        engine = self.engine
        sink = self._sink
        # The oracle sees what is read from the CSMS (before the rules) and what is
        # written to it (after them); looked up once, called per frame.
        watch = self.watch
        on_read = watch.read if watch is not None and direction is Direction.DOWN else None
        on_write = watch.written if watch is not None and direction is Direction.UP else None
        while True:
            room = self._room
            if room is not None and not room.is_set():
                await room.wait()
            msg = await src.receive()
            mtype = msg.type
            if mtype is WSMsgType.TEXT or mtype is WSMsgType.BINARY:
                data: bytes = msg.data
                binary = mtype is WSMsgType.BINARY
                message, pairing, verdict = monitor.see(direction, data, binary)
                if isinstance(message, Malformed):
                    log.info(
                        "malformed_frame",
                        direction=direction.value,
                        reason=message.reason.value,
                        size=len(data),
                    )
                now = time.monotonic()
                if on_read is not None:
                    on_read(message, pairing.action, verdict, now)
                if not sink.recording and (
                    engine is None
                    or engine.quiet(
                        self.id, direction, pairing.action, kind_of(message), message, now
                    )
                ):
                    # Nothing wants this frame's record: relay it and go on.
                    if on_write is not None:
                        on_write(message, now)
                    if not await self._send(dst, data, mtype):
                        return
                    continue
                record = monitor.record(direction, data, binary, message, pairing, verdict)
            elif mtype is WSMsgType.PING or mtype is WSMsgType.PONG:
                record = monitor.observe_control(direction, mtype.name.lower(), msg.data)
                now = time.monotonic()
            elif mtype is WSMsgType.CLOSE:
                await self._peer_closed(direction, side, msg.data, msg.extra or "")
                return
            elif mtype is WSMsgType.ERROR:
                await self._peer_failed(direction, side, msg.data)
                return
            else:  # CLOSING (we are closing it ourselves) or CLOSED (the peer vanished)
                self._peer_lost(side)
                return
            outcome = engine.on_frame(record, now) if engine is not None else FORWARD
            if outcome.forward:
                self._emit(record)
                if on_write is not None and record.message is not None:
                    on_write(record.message, now)
                if not await self._send(dst, record.raw, mtype):
                    return
                continue
            record.decision = outcome.decision
            self._emit(record)
            await self.execute(outcome.actions)

    async def _peer_closed(self, direction: Direction, side: Side, code: int, reason: str) -> None:
        """`side` sent a close frame: relay it, unless the link is cut (then only echo it)."""
        self._emit(self.monitor.observe_control(direction, "close", reason=f"{code} {reason}"))
        if self.closing:
            return
        if self._cut(side):
            # Nothing crosses a cut link: the other side never hears of this close.
            self._gone.add(side)
            await self._close_one(self._ws(side), sendable_code(code), reason)
            return
        self.closing = True
        self.closed_by, self.close_code, self.close_reason = side, code, reason
        await self._close_all(sendable_code(code), reason)

    async def _peer_failed(self, direction: Direction, side: Side, exc: object) -> None:
        if self.closing:
            return
        if not isinstance(exc, WebSocketError):
            self._peer_lost(side, repr(exc))
            return
        # aiohttp already closed the sender with the code (1009 too big, 1002...).
        self.closing = True
        self.closed_by, self.close_code, self.close_reason = side, exc.code, str(exc)
        if exc.code == 1009:
            log.warning("frame_too_big", direction=direction.value, error=str(exc))
        else:
            log.info("websocket_error", direction=direction.value, code=exc.code, error=str(exc))
        await self._close_all(sendable_code(exc.code), self.close_reason)

    def _peer_lost(self, side: Side, error: str | None = None) -> None:
        """`side`'s connection ended without a close frame: mirror it, unless the link is cut."""
        self._gone.add(side)
        if self.closing:
            return
        if self._cut(side):
            return
        self.closing = True
        aborted = self._aborted
        by = f"rule:{aborted[side]}" if aborted is not None and side in aborted else side
        self.closed_by, self.close_code = by, 1006
        log.info("connection_lost", side=side, error=error)
        abort(self._ws(_other(side)))

    def _cut(self, side: Side) -> bool:
        """Whether the link is cut for `side` (detached by a fault, or isolated now)."""
        if side in self._detached:
            return True
        return self.engine is not None and self.engine.isolated(self.id, time.monotonic())

    # -- decisions -------------------------------------------------------------

    async def execute(self, actions: Iterable[Action]) -> None:
        """Carry out the engine's decisions for this session."""
        for action in actions:
            if isinstance(action, Send):
                if action.at is None:
                    await self._write(action)
                else:
                    self._schedule(action.at, action)
            elif isinstance(action, Wakeup):
                self._schedule(action.at, action)
            elif isinstance(action, Release):
                self._release(action.rule)
            elif isinstance(action, Close):
                log.info("fault_close", side=action.side, code=action.code, rule=action.rule)
                if not self.closing:
                    self.closing = True
                    self.closed_by, self.close_code = f"rule:{action.rule}", action.code
                    self.close_reason = action.reason
                    await self._close_all(action.code, action.reason)
            elif isinstance(action, Abort):
                log.info("fault_abort", side=action.side, rule=action.rule)
                ws = self._ws(action.side)
                self._detached.discard(action.side)
                if self._aborted is None:
                    self._aborted = {}
                self._aborted[action.side] = action.rule
                if not ws.closed:
                    abort(ws)
            elif isinstance(action, Detach):
                self._detached.add(action.side)

    async def _write(self, send: Send) -> None:
        dst = self.csms_ws if send.direction is Direction.UP else self.charger_ws
        watch = self.watch
        if watch is not None and send.direction is Direction.UP and not dst.closed:
            if send.message is not None:
                watch.written(send.message, time.monotonic())
            elif send.opcode == "text" or send.opcode == "binary":
                watch.written_frame(send.data, send.opcode == "binary", time.monotonic())
        if send.injected:
            record = self.monitor.observe_control(send.direction, send.opcode, send.data)
            record.decision = f"inject:{send.rule}"
            self._emit(record)
        await self._send(dst, send.data, _OPCODES[send.opcode])

    def _schedule(self, at: float, item: Send | Wakeup) -> None:
        self._seq += 1
        heapq.heappush(self._timeline, (at, self._seq, item))
        if len(self._timeline) >= MAX_QUEUED:
            if self._room is None:
                self._room = asyncio.Event()
            self._room.clear()
        if self._timer_task is None:
            self._timer_task = spawn(self._run_timeline(), name=f"timeline-{self.id}")
        elif at < self._wake_at:
            self._wake_up()

    def _wake_up(self) -> None:
        """Make the timeline look again (something earlier than it waits for arrived)."""
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    def _release(self, rule: str) -> None:
        now = time.monotonic()
        changed = False
        for i, (at, seq, item) in enumerate(self._timeline):
            if isinstance(item, Send) and item.rule == rule and at > now:
                self._timeline[i] = (now, seq, item)
                changed = True
        if changed:
            heapq.heapify(self._timeline)
            self._wake_up()

    async def _run_timeline(self) -> None:
        """Send delayed frames and fire timers when they come due, in time order.

        It sleeps on one future per wait, woken by a loop timer at the earliest due
        time or by `_schedule` when something earlier arrives. Once a session has
        used it, it stays until the session ends (idle, it costs one pending future).
        """
        timeline = self._timeline
        loop = asyncio.get_running_loop()
        while True:
            if not timeline:
                wake = self._wake = loop.create_future()
                self._wake_at = math.inf
                try:
                    await wake
                finally:
                    self._wake = None
                continue
            at, _seq, item = timeline[0]
            delay = at - time.monotonic()
            if delay > 0:
                wake = self._wake = loop.create_future()
                self._wake_at = at
                handle = loop.call_later(delay, _resolve, wake)
                try:
                    await wake
                finally:
                    handle.cancel()
                    self._wake, self._wake_at = None, math.inf
                continue
            heapq.heappop(timeline)
            if self._room is not None and len(timeline) < MAX_QUEUED:
                self._room.set()
            try:
                if isinstance(item, Send):
                    await self._write(item)
                elif self.engine is not None:
                    await self.execute(self.engine.on_timer(self.id, item.key, time.monotonic()))
            except Exception as exc:
                log.error("timeline_failed", error=repr(exc), exc_info=exc)

    def _ws(self, side: Side) -> WS:
        return self.charger_ws if side == "charger" else self.csms_ws

    async def _send(self, dst: WS, data: bytes, opcode: WSMsgType) -> bool:
        if dst.closed:
            return False
        try:
            await dst.send_frame(data, opcode)
        except (ConnectionError, RuntimeError, OSError):
            return False
        return True

    async def _close_one(self, ws: WS, code: int, reason: str) -> None:
        try:
            async with asyncio.timeout(self._close_timeout):
                await ws.close(code=code, message=reason.encode("utf-8")[:_MAX_REASON])
        except (TimeoutError, ConnectionError, RuntimeError, OSError):
            abort(ws)

    async def _close_all(self, code: int, reason: str) -> None:
        await asyncio.gather(
            self._close_one(self.csms_ws, code, reason),
            self._close_one(self.charger_ws, code, reason),
        )

    def _event(self, kind: str, **detail: Any) -> SessionEvent:
        return SessionEvent(kind, time.time(), self.id, self.charger_id, detail)
