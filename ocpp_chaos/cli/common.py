"""What the subcommands share: exit statuses, address parsing, running a coroutine."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable, Coroutine
from enum import IntEnum
from typing import Any

__all__ = ["ExitStatus", "add_logging_options", "parse_hostport", "run_until_signal"]


class ExitStatus(IntEnum):
    """The exit statuses of every `ocpp-chaos` command."""

    OK = 0
    VERDICT_FAILED = 1
    BAD_INPUT = 2
    CSMS_UNREACHABLE = 3
    INTERRUPTED = 130


def parse_hostport(value: str, *, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """`HOST:PORT`, `:PORT` or `PORT` (IPv6 as `[::1]:PORT`) → (host, port)."""
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "", text
    host = host.strip("[]") or default_host
    try:
        port = int(port_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range 0-65535")
    return host, port


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--headless",
        action="store_true",
        help="no interactive display; logs as JSON lines on stderr",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="default: info",
    )


def run_until_signal(
    main: Callable[[asyncio.Event], Coroutine[Any, Any, int]],
) -> int:
    """Run `main(stop_event)` on an event loop (uvloop when installed).

    SIGINT and SIGTERM set `stop_event`, so `main` can shut down gracefully
    (close sessions, flush the tape) and return its exit status.
    """
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        pass

    async def runner() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            return await main(stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    with asyncio.Runner(loop_factory=loop_factory) as r:
        return r.run(runner())
