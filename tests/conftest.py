"""Fixtures shared by the test suite. Every server binds 127.0.0.1 port 0 and is stopped here."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import structlog

from ocpp_chaos.proxy import ProxyConfig, ProxyServer
from ocpp_chaos.testing.raw import RawServer


@pytest.fixture(autouse=True)
def _quiet_logs() -> Iterator[None]:
    """Quiet structlog for each test, and undo whatever a CLI test configured."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    structlog.reset_defaults()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        cache_logger_on_first_use=False,
    )
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.fixture
async def raw_server() -> AsyncIterator[RawServer]:
    async with RawServer() as server:
        yield server


ProxyFactory = Callable[..., Awaitable[ProxyServer]]


@pytest.fixture
async def make_proxy() -> AsyncIterator[ProxyFactory]:
    """Start proxies on port 0; all are stopped at teardown."""
    proxies: list[ProxyServer] = []

    async def make(upstream: str, **kwargs: Any) -> ProxyServer:
        proxy = ProxyServer(ProxyConfig(upstream=upstream, listen_port=0, **kwargs))
        await proxy.start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        await proxy.stop()


async def run_cli(*args: str, timeout: float = 60.0) -> tuple[int, str, str]:
    """Run `python -m ocpp_chaos ARGS` to its end: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ocpp_chaos",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--snapshot-update` rewrites the console's screen snapshots (tests/console/)."""
    try:
        parser.addoption(
            "--snapshot-update",
            action="store_true",
            default=False,
            help="rewrite the snapshot files instead of comparing with them",
        )
    except ValueError:  # a snapshot plugin (syrupy) declares the same option
        pass
