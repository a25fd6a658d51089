"""The embedded reference CSMS: a small, correct CSMS to put behind the chaos proxy.

It answers what a charger sends during a normal session (boot, heartbeats,
status, authorisation, transactions, meter values, ...) for OCPP 1.6, 2.0.1 and
2.1, and records every CALL and transaction so that tests can check what got
through. The OCPP version comes from the negotiated WebSocket subprotocol, the
charger id from the last segment of the request path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote

import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, NegotiationError
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from ocpp_chaos.csms.boot import BootPolicy
from ocpp_chaos.csms.records import Ledger, Received, TransactionRecord
from ocpp_chaos.csms.sessions import SESSION_CLASSES, CsmsSession

__all__ = ["ReferenceCSMS", "charger_id_from_path", "run_csms"]

log = structlog.get_logger(__name__)

DEFAULT_SUBPROTOCOLS = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")


def charger_id_from_path(path: str) -> str:
    """The charger id in a request path: its last segment, percent-decoded.

    `/ocpp/CP%2F1?x=1` → `CP/1`. Empty when the path ends with `/`.
    """
    return unquote(path.split("?", 1)[0].rsplit("/", 1)[-1])


class ReferenceCSMS:
    """A WebSocket OCPP server that accepts chargers and answers them correctly.

    Use as `async with ReferenceCSMS() as csms:`; `port=0` binds a free port,
    readable as `csms.port` / `csms.url` after `start()`. `boot` makes it answer
    chargers' first boots Pending or Rejected for a while (`BootPolicy`); by default
    every boot is Accepted.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        heartbeat_interval: int = 300,
        subprotocols: Sequence[str] = DEFAULT_SUBPROTOCOLS,
        sessions: Mapping[str, type[CsmsSession]] | None = None,
        boot: BootPolicy | None = None,
    ) -> None:
        unknown = [p for p in subprotocols if p not in SESSION_CLASSES]
        if unknown or not subprotocols:
            raise ValueError(
                f"unsupported subprotocols {unknown}; choose from {list(SESSION_CLASSES)}"
            )
        self.host = host
        self.port = port
        self.heartbeat_interval = heartbeat_interval
        self.boot = boot or BootPolicy()
        self.subprotocols = tuple(subprotocols)
        self.session_classes = {**SESSION_CLASSES, **(sessions or {})}
        """subprotocol → the session class that answers it (tests swap in broken ones)."""
        self.connected: dict[str, int] = {}
        """charger id → number of open connections."""
        self._ledger = Ledger()
        self._server: Server | None = None
        self._sessions: dict[str, CsmsSession] = {}
        """The newest session of each connected charger (commands go there)."""

    # -- records ----------------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        """Every CALL received, in arrival order (all chargers)."""
        return self._ledger.received

    @property
    def transactions(self) -> dict[str | int, TransactionRecord]:
        """Every transaction heard of, by id (1.6: int, 2.x: str)."""
        return self._ledger.transactions

    def received_actions(self, charger_id: str | None = None) -> list[str]:
        """The actions of the CALLs received, of one charger or of all."""
        return [
            r.action
            for r in self._ledger.received
            if charger_id is None or r.charger_id == charger_id
        ]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Poll `predicate` until it holds; raise TimeoutError after `timeout` seconds.

        Polling (every 10 ms) because the predicate may look at anything.
        """
        try:
            async with asyncio.timeout(timeout):
                while not predicate():  # noqa: ASYNC110 - an arbitrary predicate, no event
                    await asyncio.sleep(0.01)
        except TimeoutError:
            raise TimeoutError(f"condition not met within {timeout} s") from None

    # -- commands ----------------------------------------------------------------

    async def call(self, charger_id: str, request: Any, *, timeout: float = 30.0) -> Any:
        """Send a command (an `ocpp` library request of the charger's version, e.g.
        `ocpp.v16.call.RemoteStartTransaction(...)`) and return the charger's answer.

        KeyError if the charger is not connected; the CALLERROR as the library's
        OCPPError; TimeoutError after `timeout` seconds.
        """
        session = self._sessions.get(charger_id)
        if session is None:
            raise KeyError(f"charger {charger_id!r} is not connected")
        session.expect(request)
        async with asyncio.timeout(timeout):
            return await session.call(request, suppress=False)

    def version_of(self, charger_id: str) -> str | None:
        """The OCPP version a connected charger speaks ("1.6", "2.0.1", "2.1")."""
        session = self._sessions.get(charger_id)
        return None if session is None else session.version

    # -- lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """`ws://host:port` of the bound server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and start accepting chargers."""
        if self._server is not None:
            raise RuntimeError("ReferenceCSMS already started")
        # The library logs every frame at INFO.
        logging.getLogger("ocpp").setLevel(logging.WARNING)
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            subprotocols=[Subprotocol(p) for p in self.subprotocols],
            select_subprotocol=self._select_subprotocol,
            process_request=self._check_path,
            compression=None,
            # Liveness is what OCPP Heartbeats are for; pings of our own would
            # only add frames to what the proxy records. Pings are still answered.
            ping_interval=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("csms_started", url=self.url, subprotocols=list(self.subprotocols))

    async def stop(self) -> None:
        """Close every connection (1001 going away) and the server. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close(close_connections=True)
        await server.wait_closed()
        log.info("csms_stopped", url=self.url)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- connections ---------------------------------------------------------------

    def _select_subprotocol(
        self, _connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        """The charger's most preferred subprotocol that this CSMS speaks."""
        for subprotocol in offered:
            if subprotocol in self.subprotocols:
                return subprotocol
        raise NegotiationError(
            "missing subprotocol"
            if not offered
            else f"no supported subprotocol; expected one of {', '.join(self.subprotocols)}"
        )

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        if not charger_id_from_path(request.path):
            log.warning("csms_rejected", path=request.path, reason="no charger id in path")
            return connection.respond(HTTPStatus.NOT_FOUND, "No charger id in the path.\n")
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        charger_id = charger_id_from_path(connection.request.path if connection.request else "")
        subprotocol = connection.subprotocol or ""
        session = self.session_classes[subprotocol](
            charger_id, connection, self._ledger, self.heartbeat_interval, self.boot
        )
        structlog.contextvars.bind_contextvars(charger_id=charger_id, protocol=session.version)
        self.connected[charger_id] = self.connected.get(charger_id, 0) + 1
        self._sessions[charger_id] = session
        log.info("csms_charger_connected", remote=str(connection.remote_address))
        try:
            await session.start()
        except ConnectionClosed as closed:
            log.info("csms_charger_disconnected", code=closed.rcvd.code if closed.rcvd else None)
        finally:
            if self._sessions.get(charger_id) is session:
                del self._sessions[charger_id]
            remaining = self.connected.get(charger_id, 1) - 1
            if remaining > 0:
                self.connected[charger_id] = remaining
            else:
                self.connected.pop(charger_id, None)


async def run_csms(host: str, port: int, *, heartbeat_interval: int = 300) -> None:
    """Run a ReferenceCSMS until cancelled (the `ocpp-chaos csms` command)."""
    async with ReferenceCSMS(host, port, heartbeat_interval=heartbeat_interval) as csms:
        log.info("csms_listening", url=csms.url)
        await asyncio.Event().wait()
