"""pytest fixtures for CSMS teams who write Python tests (registered as a pytest11 entry
point, so installing ocpp-chaos makes them available; they need pytest-asyncio).

    async def test_survives_signal_loss(chaos_proxy, chaos_charger, chaos_findings):
        charger = await chaos_charger("CP-1", protocol="2.0.1")
        await charger.wait_booted()
        chaos_proxy.rules.fire({"type": "signal_loss", "duration": 5}, "CP-1")
        ...
        assert not [f for f in chaos_findings() if f.severity == "error"]

The CSMS under test is `--csms-url ws://host:port/path` (or the OCPP_CHAOS_CSMS_URL
environment variable); without one, the embedded reference CSMS runs for each test.
Every fixture binds 127.0.0.1 port 0 and stops what it started.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

F = TypeVar("F", bound=Callable[..., Any])

try:  # the fixtures are async: with pytest-asyncio they work in strict mode too
    import pytest_asyncio

    _fixture: Any = pytest_asyncio.fixture
except ImportError:  # pragma: no cover - pytest then says the async fixtures are not supported
    _fixture = pytest.fixture


def _async_fixture(fn: F) -> F:
    return cast(F, _fixture(fn))


ENV = "OCPP_CHAOS_CSMS_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ocpp-chaos")
    group.addoption(
        "--csms-url",
        default=None,
        help=f"the CSMS the ocpp-chaos fixtures test (default ${ENV}, else the embedded one)",
    )


@_async_fixture
async def chaos_csms_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The CSMS under test: --csms-url, $OCPP_CHAOS_CSMS_URL, or an embedded reference CSMS."""
    url = request.config.getoption("--csms-url", default=None) or os.environ.get(ENV)
    if url:
        yield url
        return
    from ocpp_chaos.csms import ReferenceCSMS

    async with ReferenceCSMS(port=0, heartbeat_interval=60) as csms:
        yield csms.url


@_async_fixture
async def chaos_proxy(chaos_csms_url: str) -> AsyncIterator[Any]:
    """The chaos proxy in front of the CSMS (`.url` for chargers, `.rules` to fire faults,
    `.oracle` for findings)."""
    from ocpp_chaos.proxy.server import ProxyConfig, ProxyServer

    proxy = ProxyServer(ProxyConfig(upstream=chaos_csms_url, listen_port=0))
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


@_async_fixture
async def chaos_api(chaos_proxy: Any) -> AsyncIterator[Any]:
    """A client of the control API (`ocpp_chaos.api.client.ApiClient`) of an engine around
    `chaos_proxy`: the same operations as the console and CI scripts (`add_chargers`,
    `fleet_command`, `fire`, `faults`, `findings`, `events`, ...)."""
    from ocpp_chaos.api.client import ApiClient
    from ocpp_chaos.api.engine import Engine
    from ocpp_chaos.api.server import ApiServer

    engine = Engine(chaos_proxy)
    server = ApiServer(engine, "127.0.0.1", 0)
    await server.start()
    try:
        async with ApiClient(server.url) as client:
            yield client
    finally:
        await server.stop()
        await engine.stop()


@_async_fixture
async def chaos_charger(chaos_proxy: Any) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """`await chaos_charger(charger_id, protocol="1.6", **options)`: a running virtual
    charger connected through the proxy (stopped at the end of the test)."""
    from ocpp_chaos.aio import spawn, wind_down
    from ocpp_chaos.simulator.charger import VirtualCharger
    from ocpp_chaos.simulator.charger201 import VirtualCharger201

    stop = asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []

    async def make(charger_id: str, protocol: str = "1.6", **options: Any) -> Any:
        kind = VirtualCharger201 if protocol == "2.0.1" else VirtualCharger
        charger = kind(charger_id, chaos_proxy.url, **options)
        tasks.append(spawn(charger.run(stop), name=f"chaos-charger-{charger_id}"))
        return charger

    try:
        yield make
    finally:
        stop.set()
        await wind_down(tasks, 15)


@_async_fixture
async def chaos_fleet(chaos_proxy: Any) -> Callable[..., Awaitable[Any]]:
    """`await chaos_fleet(count=100, protocol="mixed", duration=30, **FleetConfig fields)`:
    run a fleet through the proxy for `duration` seconds; returns its FleetSummary."""
    from ocpp_chaos.simulator.fleet import FleetConfig, run_fleet

    async def run(count: int = 10, duration: float = 10.0, **fields: Any) -> Any:
        cfg = FleetConfig(target=chaos_proxy.url, count=count, duration=duration, **fields)
        summary, _chargers = await run_fleet(cfg, asyncio.Event())
        return summary

    return run


@pytest.fixture
def chaos_findings(chaos_proxy: Any) -> Callable[..., list[Any]]:
    """`chaos_findings(kind=None)`: the oracle's findings about the CSMS so far."""

    def findings(kind: str | None = None) -> list[Any]:
        return list(chaos_proxy.oracle.findings(kind))

    return findings


@_async_fixture
async def chaos_scenario(chaos_csms_url: str) -> Callable[..., Awaitable[Any]]:
    """`await chaos_scenario("scenarios/basic-charge-cycle.yaml", seed=1, scale=1.0)`: run a
    scenario against the CSMS; returns its ScenarioResult (`.verdict`, `.expectations`)."""
    from ocpp_chaos.scenarios.loader import load_scenario
    from ocpp_chaos.scenarios.runner import RunOptions, run_scenario

    async def run(path: str | Path, **options: Any) -> Any:
        return await run_scenario(load_scenario(path), RunOptions(target=chaos_csms_url, **options))

    return run
