"""Typed wrappers of the `ocpp` library's routing decorators (the library has no hints)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar, cast

import jsonschema_rs
from ocpp import messages as _ocpp_messages
from ocpp.charge_point import LOGGER as _LIBRARY_LOGGER
from ocpp.routing import after as _library_after
from ocpp.routing import on as _library_on

__all__ = [
    "LazyRoutes",
    "QuickFirstValidator",
    "after",
    "class_routes",
    "init_charge_point",
    "on",
]

F = TypeVar("F", bound=Callable[..., Any])


def on(action: str, **options: Any) -> Callable[[F], F]:
    """`ocpp.routing.on`: the handler that answers `action`."""
    return cast(Callable[[F], F], _library_on(action, **options))


def after(action: str) -> Callable[[F], F]:
    """`ocpp.routing.after`: runs once the answer to `action` is sent (may call out)."""
    return cast(Callable[[F], F], _library_after(action))


# --- the library's ChargePoint, made cheap per connection ---------------------------------
#
# ChargePoint.__init__ builds its route map by probing every name any class in the process
# ever decorated (`ocpp.routing.routables`) with getattr, and keeps bound methods for each:
# a few hundred microseconds and ~10 KiB per connection, which a fleet of 10,000 virtual
# chargers pays 10,000 times. `init_charge_point` sets the same attributes with a route map
# computed once per class whose handlers are bound when a CALL arrives.
# tests/test_ocpp_routing.py checks the attributes against the library's own __init__.


class LazyRoutes(Mapping[str, dict[str, Any]]):
    """`route_map` of one charge point: the class's routes, bound on lookup."""

    __slots__ = ("_owner", "_routes")

    def __init__(self, owner: object, routes: dict[str, dict[str, Any]]) -> None:
        self._owner = owner
        self._routes = routes

    def __getitem__(self, action: str) -> dict[str, Any]:
        entry = self._routes[action]
        bound = dict(entry)
        for option in ("_on_action", "_after_action"):
            if option in entry:
                bound[option] = entry[option].__get__(self._owner)
        return bound

    def __iter__(self) -> Iterator[str]:
        return iter(self._routes)

    def __len__(self) -> int:
        return len(self._routes)


_CLASS_ROUTES: dict[type, dict[str, dict[str, Any]]] = {}


def class_routes(cls: type) -> dict[str, dict[str, Any]]:
    """The route map of `cls` with plain functions (what create_route_map finds)."""
    routes = _CLASS_ROUTES.get(cls)
    if routes is None:
        routes = {}
        for name in dir(cls):
            attr = getattr(cls, name, None)
            for option in ("_on_action", "_after_action"):
                action = getattr(attr, option, None)
                if action is None:
                    continue
                entry = routes.setdefault(action, {})
                if option == "_on_action":
                    entry["_skip_schema_validation"] = getattr(
                        attr, "_skip_schema_validation", False
                    )
                entry[option] = attr
        _CLASS_ROUTES[cls] = routes
    return routes


def init_charge_point(
    cp: Any, charger_id: str, connection: Any, response_timeout: float, logger: Any = None
) -> None:
    """What `ocpp.ChargePoint.__init__` does, with the class's cached routes."""
    cp.id = charger_id
    cp._response_timeout = response_timeout
    cp._connection = connection
    cp.route_map = LazyRoutes(cp, class_routes(type(cp)))
    cp._call_lock = asyncio.Lock()
    cp._response_queue = asyncio.Queue()
    cp._unique_id_generator = uuid.uuid4
    cp.logger = logger if logger is not None else _LIBRARY_LOGGER


# Schema checks inline, not in the default thread pool: cheaper per message (85 vs 127 us,
# STACK-NOTES) and no GIL hand-off between the loop and a worker thread per message.
_ocpp_messages.ASYNC_VALIDATION = False


class QuickFirstValidator:
    """The library's validator, asked only when jsonschema-rs finds the payload invalid.

    jsonschema-rs says "valid" in about a microsecond where the library's pure-Python
    validator takes ~100 us; on an invalid payload the library's own validator runs, so
    the error (and the CALLERROR code the library derives from it) is exactly its own.
    """

    __slots__ = ("_fast", "_library", "schema")

    def __init__(self, library: Any) -> None:
        self._library = library
        self.schema = library.schema
        self._fast = jsonschema_rs.validator_for(library.schema)

    def validate(self, payload: Any) -> None:
        if not self._fast.is_valid(payload):
            self._library.validate(payload)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._library, name)


_library_get_validator = _ocpp_messages.get_validator
_QUICK: dict[tuple[int, str, str], QuickFirstValidator] = {}


def _get_validator(
    message_type_id: int, action: str, ocpp_version: str, parse_float: Any = float
) -> Any:
    library = _library_get_validator(message_type_id, action, ocpp_version, parse_float)
    if parse_float is not float:
        # OCPP 1.6 schedules are checked on decimals (multipleOf 0.1): the library's way.
        return library
    key = (message_type_id, action, ocpp_version)
    quick = _QUICK.get(key)
    if quick is None or quick._library is not library:
        quick = _QUICK[key] = QuickFirstValidator(library)
    return quick


if getattr(_ocpp_messages.get_validator, "__module__", None) != __name__:
    _ocpp_messages.get_validator = _get_validator
