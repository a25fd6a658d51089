"""A real engine (embedded reference CSMS, proxy, control API on 127.0.0.1 port 0) and a
client of its API, for the API and console tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from ocpp_chaos.api.client import ApiClient
from ocpp_chaos.api.engine import Engine
from ocpp_chaos.api.server import ApiServer


@dataclass
class Running:
    engine: Engine
    server: ApiServer
    api: ApiClient


@pytest.fixture
async def running(tmp_path) -> AsyncIterator[Running]:
    engine = await Engine.build(tape=tmp_path / "tape.jsonl")
    async with engine:
        server = ApiServer(engine, port=0)
        async with server, ApiClient(server.url) as api:
            yield Running(engine, server, api)


async def until(
    predicate: Callable[[], Awaitable[bool]] | Callable[[], bool], timeout: float = 20.0
) -> None:
    """Poll `predicate` (sync or async) until true; fail after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            value = predicate()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return
            await asyncio.sleep(0.05)
