"""`ocpp-chaos console`: the operator console (a terminal UI) on a running engine.

It attaches to the engine's control API (started by `ocpp-chaos proxy` or `demo`). The
token comes from --api-token-file or $OCPP_CHAOS_API_TOKEN (or --api-token, which other
users of the machine can read in the process list). While the console owns the terminal,
logs go to --log-file, or nowhere.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from ocpp_chaos.cli.common import ExitStatus, add_token_options, api_token

HELP = "attach the operator console (a terminal UI) to a running engine's control API"
DEFAULT_API_URL = "http://127.0.0.1:8181"


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "console",
        help=HELP,
        description=HELP + ": live sessions, the message log, rules, faults, the virtual "
        "fleet, findings and scenario runs. Press ? in it for the keys.",
    )
    p.add_argument(
        "--api",
        default=DEFAULT_API_URL,
        metavar="URL",
        help=f"the engine's control API (default {DEFAULT_API_URL})",
    )
    add_token_options(p)
    p.add_argument(
        "--log-file",
        type=Path,
        metavar="FILE",
        help="append logs here while the console runs (default: none, logs are dropped)",
    )
    p.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="for --log-file (default: info)",
    )
    p.add_argument("--title", help="the console's title (default: ocpp-chaos console)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    url = str(args.api)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        print(f"ocpp-chaos console: --api {url!r} is not an http(s):// URL", file=sys.stderr)
        return int(ExitStatus.BAD_INPUT)
    try:
        token = api_token(args)
    except ValueError as exc:
        print(f"ocpp-chaos console: {exc}", file=sys.stderr)
        return int(ExitStatus.BAD_INPUT)
    try:
        log_stream = _log_stream(args.log_file)
    except OSError as exc:
        print(f"ocpp-chaos console: --log-file: {exc}", file=sys.stderr)
        return int(ExitStatus.BAD_INPUT)
    with log_stream:
        from ocpp_chaos.log import configure

        configure(headless=True, level=args.log_level, stream=log_stream)
        from ocpp_chaos.console import run_console

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_console(url, token, title=args.title))
    return int(ExitStatus.OK)


def _log_stream(path: Path | None) -> TextIO:
    """Where logs go while the terminal is the console's: the file, or nowhere."""
    if path is None:
        return open(os.devnull, "w", encoding="utf-8")  # closed by the caller
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("a", encoding="utf-8")
