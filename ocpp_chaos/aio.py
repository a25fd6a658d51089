"""asyncio helpers shared by every part that does IO."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

import structlog

T = TypeVar("T")

_tasks: set[asyncio.Task[Any]] = set()
_log = structlog.get_logger("ocpp_chaos.aio")


def spawn(coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
    """Start a named task and keep a reference to it until it ends.

    A bare `asyncio.create_task()` result can be garbage-collected mid-flight,
    and an exception in it is only reported when it is collected: here it is
    logged when the task ends.
    """
    task = asyncio.create_task(coro, name=name)  # noqa: TID251 - the one allowed place
    _tasks.add(task)
    task.add_done_callback(_done)
    return task


def _done(task: asyncio.Task[Any]) -> None:
    _tasks.discard(task)
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        _log.error("task_failed", task=task.get_name(), error=repr(exc), exc_info=exc)


async def wind_down(tasks: Iterable[asyncio.Task[Any]], timeout: float) -> None:
    """Give `tasks` up to `timeout` seconds to end by themselves (after being told to
    stop), then cancel what is left; never raises."""
    pending = list(tasks)
    try:
        async with asyncio.timeout(timeout):
            await asyncio.gather(*pending, return_exceptions=True)
    except TimeoutError:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def bound_port(site: Any) -> int:
    """The port an aiohttp `TCPSite` listens on (useful when it was asked for port 0)."""
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    if not sockets:
        raise RuntimeError("the site is not listening")
    return int(sockets[0].getsockname()[1])
