"""Typed wrappers of the `ocpp` library's routing decorators (the library has no hints)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from ocpp.routing import after as _library_after
from ocpp.routing import on as _library_on

__all__ = ["after", "on"]

F = TypeVar("F", bound=Callable[..., Any])


def on(action: str, **options: Any) -> Callable[[F], F]:
    """`ocpp.routing.on`: the handler that answers `action`."""
    return cast(Callable[[F], F], _library_on(action, **options))


def after(action: str) -> Callable[[F], F]:
    """`ocpp.routing.after`: runs once the answer to `action` is sent (may call out)."""
    return cast(Callable[[F], F], _library_after(action))
