"""What the subcommands share: exit statuses, address parsing, running a coroutine."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import Callable, Coroutine
from enum import IntEnum
from pathlib import Path
from typing import Any

__all__ = [
    "ExitStatus",
    "add_api_options",
    "add_logging_options",
    "add_token_options",
    "api_token",
    "console_log_file",
    "parse_hostport",
    "run_until_signal",
]

TOKEN_ENV = "OCPP_CHAOS_API_TOKEN"
"""The environment variable a control API token may come from (not the command line,
where other users of the machine can read it)."""


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


def add_logging_options(parser: argparse.ArgumentParser, *, level: str = "info") -> None:
    parser.add_argument(
        "--headless",
        action="store_true",
        help="no interactive display; logs as JSON lines on stderr",
    )
    parser.add_argument(
        "--log-level",
        default=level,
        choices=["debug", "info", "warning", "error"],
        help=f"default: {level}",
    )


def add_api_options(parser: argparse.ArgumentParser) -> None:
    """The engine's control API: where it listens, its token, and the console's log file."""
    parser.add_argument(
        "--api",
        type=parse_hostport,
        default=("127.0.0.1", 8181),
        metavar="HOST:PORT",
        help="where the control API listens (default 127.0.0.1:8181; port 0 picks one). "
        "Anything but loopback needs a token",
    )
    parser.add_argument("--no-api", action="store_true", help="no control API (headless only)")
    add_token_options(parser)
    parser.add_argument(
        "--log-file",
        type=Path,
        metavar="FILE",
        help="where logs go while the console runs (default: "
        "~/.local/state/ocpp-chaos/console.log)",
    )


def add_token_options(parser: argparse.ArgumentParser, *, note: str = "") -> None:
    """--api-token / --api-token-file (the environment variable is read too: api_token)."""
    token = parser.add_mutually_exclusive_group()
    token.add_argument(
        "--api-token",
        metavar="TOKEN",
        help=f"the control API's token (better: --api-token-file or ${TOKEN_ENV}){note}",
    )
    token.add_argument(
        "--api-token-file", type=Path, metavar="FILE", help="read the API token from FILE"
    )


def api_token(args: argparse.Namespace) -> str | None:
    """The token from --api-token, --api-token-file or the environment (None: no token)."""
    if getattr(args, "api_token", None):
        return str(args.api_token)
    path = getattr(args, "api_token_file", None)
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"--api-token-file: {exc.strerror}: {path}") from None
        if not text:
            raise ValueError(f"--api-token-file: {path} is empty")
        return text
    return os.environ.get(TOKEN_ENV) or None


def console_log_file(args: argparse.Namespace) -> Path:
    """Where logs go while the console owns the terminal."""
    if getattr(args, "log_file", None) is not None:
        return Path(args.log_file)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "ocpp-chaos" / "console.log"


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
