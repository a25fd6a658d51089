"""What the commands that run an engine (`proxy`, `demo`) share: the control API, the
console or headless waiting, and where logs go meanwhile."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from ocpp_chaos.aio import spawn
from ocpp_chaos.cli.common import ExitStatus, api_token, console_log_file

__all__ = ["check_engine_options", "configure_logs", "run_engine"]


def check_engine_options(args: argparse.Namespace) -> str | None:
    """A message if the control API / console options do not fit together; reads the
    token into `args.token`."""
    from ocpp_chaos.api.server import is_loopback

    try:
        args.token = api_token(args)
    except ValueError as exc:
        return str(exc)
    if args.no_api and not args.headless:
        return "--no-api needs --headless (the console works through the control API)"
    if not args.no_api and not is_loopback(args.api[0]) and not args.token:
        return (
            f"--api {args.api[0]}: a control API on a non-loopback address needs a token "
            "(--api-token-file FILE or $OCPP_CHAOS_API_TOKEN)"
        )
    return None


def configure_logs(args: argparse.Namespace) -> None:
    """Headless: JSON lines on stderr. With the console: JSON lines to the log file (the
    terminal belongs to the console)."""
    from ocpp_chaos import log

    if args.headless:
        log.configure(headless=True, level=args.log_level)
        return
    path = console_log_file(args)
    path.parent.mkdir(parents=True, exist_ok=True)
    args.log_stream = path.open("a", encoding="utf-8", buffering=1)
    log.configure(headless=True, level=args.log_level, stream=args.log_stream)


async def run_engine(
    engine: Any,
    args: argparse.Namespace,
    stop: asyncio.Event,
    *,
    title: str,
    work: Callable[[], Coroutine[Any, Any, Any]] | None = None,
) -> int:
    """Start the engine and its control API; then run `work` (if any) and wait for `stop`
    or the end of `work` (headless), or run the console until the operator quits it (the
    work goes on behind it). Stops everything it started."""
    import structlog

    from ocpp_chaos.api.server import ApiServer

    logger = structlog.get_logger("ocpp_chaos.cli")
    api = None
    args.work_result = None
    try:
        await engine.start()
        if not args.no_api:
            host, port = args.api
            api = ApiServer(engine, host, port, token=args.token)
            try:
                await api.start()
            except OSError as exc:
                logger.error(
                    "api_listen_failed",
                    listen=f"{host}:{port}",
                    error=str(exc),
                    hint="choose another --api HOST:PORT, or --no-api",
                )
                if not args.headless:
                    print(f"control API on {host}:{port}: {exc}", file=sys.stderr)
                return int(ExitStatus.BAD_INPUT)
        job = spawn(work(), name="engine-work") if work is not None else None
        if args.headless or api is None:
            waiters = {spawn(stop.wait(), name="engine-stop")}
            if job is not None:
                waiters.add(job)
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                logger.info("shutdown_requested")
            for waiter in waiters:
                if waiter is not job:
                    waiter.cancel()
        else:
            from ocpp_chaos.console import run_console

            console = asyncio.ensure_future(run_console(api.url, args.token, title=title))
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({console, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if not console.done():
                console.cancel()
            await asyncio.gather(console, stopper, return_exceptions=True)
            if console.done() and not console.cancelled() and console.exception() is not None:
                raise console.exception()  # type: ignore[misc]
            stop.set()  # the operator quit: the work ends too
        if job is not None:
            if not job.done():  # it sees `stop` too: a moment to end by itself
                await asyncio.wait({job}, timeout=10)
            if not job.done():
                job.cancel()
            await asyncio.gather(job, return_exceptions=True)
            if not job.cancelled() and job.exception() is not None:
                raise job.exception()  # type: ignore[misc]
            args.work_result = None if job.cancelled() else job.result()
    finally:
        if api is not None:
            await api.stop()
        await engine.stop()
    return int(ExitStatus.OK)
