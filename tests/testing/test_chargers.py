"""The test chargers against scripted servers: early ends, errors, fail-fast, cleanup."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from ocpp.exceptions import InternalError
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request
from websockets.typing import Subprotocol

from ocpp_chaos.csms import ReferenceCSMS
from ocpp_chaos.testing.chargers import run_charger_flow

CLOSE = object()
"""A script answer: close the connection instead of replying."""

Script = Callable[[list[Any]], Any]


@dataclass
class ScriptedServer:
    """A WebSocket server that answers each CALL as `script` says (text, None = silence, CLOSE)."""

    script: Script
    url: str = ""
    paths: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    calls: list[list[Any]] = field(default_factory=list)
    got_call: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def process_request(self, _: ServerConnection, request: Request) -> None:
        self.paths.append(request.path)
        self.headers.append(dict(request.headers.raw_items()))

    async def handler(self, ws: ServerConnection) -> None:
        try:
            async for frame in ws:
                call = json.loads(frame)
                self.calls.append(call)
                self.got_call.set()
                answer = self.script(call)
                if answer is CLOSE:
                    await ws.close()
                elif answer is not None:
                    await ws.send(answer)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()


@pytest.fixture
async def scripted() -> AsyncIterator[Callable[[Script], Any]]:
    servers = []

    async def start(script: Script) -> ScriptedServer:
        scripted = ScriptedServer(script)
        server = await serve(
            scripted.handler,
            "127.0.0.1",
            0,
            compression=None,
            ping_interval=None,
            subprotocols=[Subprotocol("ocpp1.6"), Subprotocol("ocpp2.0.1")],
            process_request=scripted.process_request,
        )
        servers.append(server)
        scripted.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        return scripted

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def boot_16(status: str) -> Script:
    def answer(call: list[Any]) -> str:
        if call[2] == "BootNotification":
            return json.dumps(
                [
                    3,
                    call[1],
                    {"status": status, "interval": 10, "currentTime": "2026-01-01T00:00:00.000Z"},
                ]
            )
        return json.dumps([4, call[1], "NotImplemented", "scripted", {}])

    return answer


def charger_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t.get_name().startswith("charger-")}


async def test_boot_not_accepted_ends_the_flow(scripted: Callable[[Script], Any]) -> None:
    server = await scripted(boot_16("Rejected"))
    async with asyncio.timeout(5):
        result = await run_charger_flow(f"{server.url}/ocpp", "CP", "1.6")
        await server.closed.wait()
    assert result.boot_status == "Rejected"
    assert result.actions_sent == ["BootNotification"]
    assert result.transaction_id is None and len(result.rtts) == 1
    assert charger_tasks() == set()


async def test_path_headers_and_subprotocol(scripted: Callable[[Script], Any]) -> None:
    server = await scripted(boot_16("Rejected"))
    async with asyncio.timeout(5):
        await run_charger_flow(
            f"{server.url}/ocpp/",
            "a b/c",
            "ocpp1.6",
            headers={"Authorization": "Basic Q1A6c2VjcmV0"},
        )
    assert server.paths == ["/ocpp/a%20b%2Fc"]
    assert server.headers[0]["Authorization"] == "Basic Q1A6c2VjcmV0"
    assert server.headers[0]["Sec-WebSocket-Protocol"] == "ocpp1.6"


async def test_callerror_raises_the_ocpp_error(scripted: Callable[[Script], Any]) -> None:
    server = await scripted(
        lambda call: json.dumps([4, call[1], "InternalError", "scripted failure", {}])
    )
    async with asyncio.timeout(5):
        with pytest.raises(InternalError):
            await run_charger_flow(f"{server.url}/ocpp", "CP", "2.0.1")
        await server.closed.wait()
    assert charger_tasks() == set()


async def test_dropped_connection_fails_fast(scripted: Callable[[Script], Any]) -> None:
    server = await scripted(lambda _: CLOSE)
    async with asyncio.timeout(3):  # far below the call timeout
        with pytest.raises(ConnectionClosed):
            await run_charger_flow(f"{server.url}/ocpp", "CP", "1.6", call_timeout=30)
    assert charger_tasks() == set()


async def test_silence_times_out(scripted: Callable[[Script], Any]) -> None:
    server = await scripted(lambda _: None)
    async with asyncio.timeout(5):
        with pytest.raises(TimeoutError):
            await run_charger_flow(f"{server.url}/ocpp", "CP", "1.6", call_timeout=0.3)
        await server.closed.wait()
    assert charger_tasks() == set()


async def test_cancelled_flow_closes_and_leaves_no_task(
    scripted: Callable[[Script], Any],
) -> None:
    server = await scripted(lambda _: None)
    async with asyncio.timeout(5):
        flow = asyncio.create_task(run_charger_flow(f"{server.url}/ocpp", "CP", "2.0.1"))
        await server.got_call.wait()
        flow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await flow
        await server.closed.wait()
    assert charger_tasks() == set()


async def test_minimal_flow_and_no_leftover_tasks() -> None:
    async with ReferenceCSMS() as csms, asyncio.timeout(5):
        result = await run_charger_flow(
            f"{csms.url}/ocpp", "CP", "1.6", transactions=0, heartbeats=0
        )
    assert result.actions_sent == ["BootNotification", "StatusNotification"]
    assert result.transaction_id is None
    assert charger_tasks() == set()


async def test_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported OCPP version"):
        await run_charger_flow("ws://127.0.0.1:9", "CP", "1.5")
