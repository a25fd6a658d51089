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
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import ClientWebSocketResponse, WSMsgType, web
from aiohttp.http_websocket import WebSocketError

from ocpp_chaos.aio import spawn
from ocpp_chaos.frames import Direction
from ocpp_chaos.proxy.monitor import FrameRecord, SessionMonitor

__all__ = ["Session", "SessionEvent"]

log = structlog.get_logger("ocpp_chaos.proxy")

# Close codes that may be sent in a close frame (RFC 6455 §7.4).
_SENDABLE = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})
_MAX_REASON = 123

# Frames are read undecoded (decode_text=False) on both sides.
WS = web.WebSocketResponse[Any] | ClientWebSocketResponse[Any]


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
    if transport is None or transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


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
    ) -> None:
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
        self.closing = False
        self.closed_by: str | None = None
        self.close_code: int | None = None
        self.close_reason: str = ""

    # -- public --------------------------------------------------------------

    async def run(self) -> None:
        """Relay until either side goes away; both connections are closed on return."""
        self._emit(
            self._event(
                "session_open", subprotocol=self.subprotocol, remote=self.remote, path=self.path
            )
        )
        log.info("session_open", subprotocol=self.subprotocol, remote=self.remote)
        up = spawn(self._pump(Direction.UP), name=f"pump-up-{self.id}-{self.charger_id}")
        down = spawn(self._pump(Direction.DOWN), name=f"pump-down-{self.id}-{self.charger_id}")
        try:
            _done, pending = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            if pending:
                await asyncio.wait(pending, timeout=self._close_timeout * 2)
        finally:
            for task in (up, down):
                if not task.done():
                    task.cancel()
            await asyncio.gather(up, down, return_exceptions=True)
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
        side = "charger" if direction is Direction.UP else "csms"
        monitor = self.monitor
        while True:
            msg = await src.receive()
            mtype = msg.type
            if mtype is WSMsgType.TEXT or mtype is WSMsgType.BINARY:
                data: bytes = msg.data
                record = monitor.observe(direction, data, binary=mtype is WSMsgType.BINARY)
                self._emit(record)
                if record.reason is not None and record.kind == "malformed":
                    log.info(
                        "malformed_frame",
                        direction=direction.value,
                        reason=record.reason,
                        size=len(data),
                    )
                if not await self._send(dst, data, mtype):
                    return
            elif mtype is WSMsgType.PING or mtype is WSMsgType.PONG:
                self._emit(monitor.observe_control(direction, mtype.name.lower(), msg.data))
                if not await self._send(dst, msg.data, mtype):
                    return
            elif mtype is WSMsgType.CLOSE:
                code, reason = msg.data, msg.extra or ""
                self._emit(monitor.observe_control(direction, "close", reason=f"{code} {reason}"))
                if not self.closing:
                    self.closing = True
                    self.closed_by, self.close_code, self.close_reason = side, code, reason
                    await self._close_all(sendable_code(code), reason)
                return
            elif mtype is WSMsgType.ERROR:
                exc = msg.data
                if self.closing:
                    return
                self.closing = True
                self.closed_by = side
                if isinstance(exc, WebSocketError):
                    # aiohttp already closed `src` with the code (1009 too big, 1002...).
                    self.close_code, self.close_reason = exc.code, str(exc)
                    if exc.code == 1009:
                        log.warning("frame_too_big", direction=direction.value, error=str(exc))
                    else:
                        log.info(
                            "websocket_error",
                            direction=direction.value,
                            code=exc.code,
                            error=str(exc),
                        )
                    await self._close_all(sendable_code(exc.code), self.close_reason)
                else:
                    self.close_code, self.close_reason = 1006, repr(exc)
                    log.info("connection_lost", side=side, error=repr(exc))
                    abort(dst)
                return
            else:  # CLOSING (we are closing it ourselves) or CLOSED (the peer vanished)
                if not self.closing:
                    self.closing = True
                    self.closed_by, self.close_code = side, 1006
                    log.info("connection_lost", side=side)
                    abort(dst)
                return

    async def _send(self, dst: WS, data: bytes, opcode: WSMsgType) -> bool:
        if dst.closed:
            return False
        try:
            await dst.send_frame(data, opcode)
        except (ConnectionError, RuntimeError, OSError):
            return False
        return True

    async def _close_all(self, code: int, reason: str) -> None:
        message = reason.encode("utf-8")[:_MAX_REASON]

        async def one(ws: WS) -> None:
            try:
                async with asyncio.timeout(self._close_timeout):
                    await ws.close(code=code, message=message)
            except (TimeoutError, ConnectionError, RuntimeError, OSError):
                abort(ws)

        await asyncio.gather(one(self.csms_ws), one(self.charger_ws))

    def _event(self, kind: str, **detail: Any) -> SessionEvent:
        return SessionEvent(kind, time.time(), self.id, self.charger_id, detail)
