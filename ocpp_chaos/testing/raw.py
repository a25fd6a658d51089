"""Raw WebSocket peers that record every frame exactly: a server and a client.

Used by the transparency tests (and useful to CSMS teams writing their own):
both record `(opcode, bytes)` for each frame in arrival order, never decode
text, never answer pings by themselves unless asked, and can send any frame
(invalid UTF-8 text, binary, empty, huge) or close with any code.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from ocpp_chaos.aio import bound_port, spawn

__all__ = ["Frame", "RawClient", "RawConnection", "RawServer"]

Frame = tuple[str, bytes]
"""`(opcode, payload)` with opcode `text`, `binary`, `ping` or `pong`."""

_OPCODES = {
    WSMsgType.TEXT: "text",
    WSMsgType.BINARY: "binary",
    WSMsgType.PING: "ping",
    WSMsgType.PONG: "pong",
}
_TYPES = {v: k for k, v in _OPCODES.items()}
MAX = 64 * 1024 * 1024


@dataclass
class _Recorder:
    frames: list[Frame] = field(default_factory=list)
    close: tuple[int | None, str] | None = None
    """The close frame received (code, reason), if any."""
    lost: bool = False
    """The connection ended without a close frame (an abrupt loss)."""
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_frames(self, n: int, timeout: float = 5.0) -> list[Frame]:
        """Wait until at least `n` data/control frames arrived."""
        async with asyncio.timeout(timeout):
            while len(self.frames) < n:
                self.changed.clear()
                await self.changed.wait()
        return self.frames

    async def wait_ended(self, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            await self.ended.wait()


async def _read_loop(
    ws: web.WebSocketResponse[Any] | aiohttp.ClientWebSocketResponse[Any],
    rec: _Recorder,
    pong: bool,
    gate: asyncio.Event | None = None,
) -> None:
    try:
        while True:
            if gate is not None:
                await gate.wait()
            msg = await ws.receive()
            if msg.type in _OPCODES:
                rec.frames.append((_OPCODES[msg.type], bytes(msg.data)))
                rec.changed.set()
                if msg.type is WSMsgType.PING and pong:
                    await ws.pong(msg.data)
            elif msg.type is WSMsgType.CLOSE:
                rec.close = (msg.data, msg.extra or "")
                await ws.close(
                    code=msg.data if _sendable(msg.data) else 1000,
                    message=(msg.extra or "").encode(),
                )
                break
            elif msg.type is WSMsgType.CLOSING:
                break
            else:  # CLOSED or ERROR without a close frame
                rec.lost = rec.close is None
                break
    except (ConnectionError, RuntimeError):
        rec.lost = rec.close is None
    finally:
        rec.ended.set()
        rec.changed.set()


def _sendable(code: int | None) -> bool:
    return code is not None and (
        code in {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
        or 3000 <= code <= 4999
    )


class _Sender:
    ws: web.WebSocketResponse[Any] | aiohttp.ClientWebSocketResponse[Any]

    async def send(self, opcode: str, data: bytes) -> None:
        """Send one frame with the given opcode and exact bytes."""
        await self.ws.send_frame(data, _TYPES[opcode])

    async def send_all(self, frames: Iterable[Frame]) -> None:
        for opcode, data in frames:
            await self.send(opcode, data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code=code, message=reason.encode())

    def abort(self) -> None:
        """Drop the TCP connection without a close frame."""
        from ocpp_chaos.proxy.session import abort

        abort(self.ws)


class RawConnection(_Sender):
    """One connection accepted by `RawServer`."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse) -> None:
        self.request = request
        self.ws = ws
        self.raw_path = request.raw_path
        self.headers = request.headers
        self.protocol = ws.ws_protocol
        self.rec = _Recorder()

    @property
    def frames(self) -> list[Frame]:
        return self.rec.frames


class RawServer:
    """A recording WebSocket server on 127.0.0.1, port 0 by default."""

    def __init__(
        self,
        *,
        protocols: Sequence[str] = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1"),
        choose: Callable[[list[str]], str | None] | None = None,
        refuse_status: int | None = None,
        pong: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
        read_gate: asyncio.Event | None = None,
    ) -> None:
        """`read_gate`: when given, the server reads a frame only while the event is set
        (a slow or stalled CSMS)."""
        self.read_gate = read_gate
        self.protocols = list(protocols)
        self.choose = choose
        self.refuse_status = refuse_status
        self.pong = pong
        self.ssl_context = ssl_context
        self.host = host
        self.port = 0
        self.connections: list[RawConnection] = []
        self._new = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"{'wss' if self.ssl_context else 'ws'}://{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0, ssl_context=self.ssl_context)
        await site.start()
        self.port = bound_port(site)

    async def stop(self) -> None:
        for conn in self.connections:
            if not conn.ws.closed:
                conn.abort()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> RawServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_connections(self, n: int = 1, timeout: float = 5.0) -> list[RawConnection]:
        async with asyncio.timeout(timeout):
            while len(self.connections) < n:
                self._new.clear()
                await self._new.wait()
        return self.connections

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_status is not None:
            return web.Response(status=self.refuse_status, text="refused by test server")
        offered = [
            p.strip()
            for value in request.headers.getall("Sec-WebSocket-Protocol", [])
            for p in value.split(",")
            if p.strip()
        ]
        if self.choose is not None:
            chosen = self.choose(offered)
            protocols: list[str] = [chosen] if chosen else []
        else:
            protocols = self.protocols
        ws = web.WebSocketResponse(
            protocols=protocols,
            autoping=False,
            autoclose=False,
            decode_text=False,
            max_msg_size=MAX,
            compress=False,
        )
        await ws.prepare(request)
        conn = RawConnection(request, ws)
        self.connections.append(conn)
        self._new.set()
        await _read_loop(ws, conn.rec, self.pong, self.read_gate)
        return ws


class RawClient(_Sender):
    """A recording WebSocket client (a 'raw charger')."""

    def __init__(
        self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse[Any], pong: bool
    ) -> None:
        self.session = session
        self.ws = ws
        self.protocol = ws.protocol
        self.rec = _Recorder()
        self._reader = spawn(_read_loop(ws, self.rec, pong), name="raw-client-reader")

    @property
    def frames(self) -> list[Frame]:
        return self.rec.frames

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        protocols: Sequence[str] = ("ocpp1.6",),
        headers: dict[str, str] | None = None,
        ssl_context: ssl.SSLContext | bool = True,
        pong: bool = True,
    ) -> RawClient:
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(
                url,
                protocols=list(protocols),
                headers=headers,
                autoping=False,
                autoclose=False,
                decode_text=False,
                max_msg_size=MAX,
                ssl=ssl_context,
            )
        except BaseException:
            await session.close()
            raise
        return cls(session, ws, pong)

    async def aclose(self) -> None:
        """Close (1000 if still open), stop reading and release the HTTP session."""
        if not self.ws.closed:
            try:
                async with asyncio.timeout(5):
                    await self.ws.close()
            except (TimeoutError, ConnectionError, RuntimeError):
                self.abort()
        try:
            async with asyncio.timeout(5):
                await self._reader
        except (TimeoutError, asyncio.CancelledError):
            self._reader.cancel()
        await self.session.close()

    async def __aenter__(self) -> RawClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
