"""Schema checks of OCPP-J payloads against the JSON schemas the `ocpp` package ships.

An observer: it says what is wrong with a message, it never blocks or changes
it. The OCPP version comes from the negotiated WebSocket subprotocol.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from ocpp_chaos.frames.events import Call, CallResult, Message, Send

__all__ = ["SchemaChecker", "SchemaVerdict", "version_of_subprotocol"]

_SUBPROTOCOL_VERSIONS = {
    "ocpp1.6": "1.6",
    "ocpp2.0.1": "2.0.1",
    "ocpp2.1": "2.1",
}

# An action names a schema file: anything else could walk the file system.
_ACTION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")
_MAX_ERRORS = 5
_MAX_CACHED = 1024


def version_of_subprotocol(subprotocol: str | None) -> str | None:
    """`"ocpp1.6"` → `"1.6"`; None for a subprotocol that is not a known OCPP version."""
    if subprotocol is None:
        return None
    return _SUBPROTOCOL_VERSIONS.get(subprotocol.strip().lower())


@dataclass(frozen=True, slots=True)
class SchemaVerdict:
    """The outcome of one check. `valid` is None when no schema applies."""

    valid: bool | None
    errors: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return {True: "valid", False: "invalid", None: "unchecked"}[self.valid]


UNCHECKED = SchemaVerdict(None)
VALID = SchemaVerdict(True)


class SchemaChecker:
    """Checks CALL and CALLRESULT payloads of one OCPP version."""

    def __init__(self, version: str) -> None:
        if version not in ("1.6", "2.0.1", "2.1"):
            raise ValueError(f"no OCPP schemas for version {version!r}")
        self.version = version
        # (type id, action) → compiled validator, or the verdict when there is none.
        self._validators: dict[tuple[int, str], Any] = {}

    @classmethod
    def for_subprotocol(cls, subprotocol: str | None) -> SchemaChecker | None:
        version = version_of_subprotocol(subprotocol)
        return cls(version) if version else None

    def check(self, message: Message, action: str | None) -> SchemaVerdict:
        """Check `message`; for a CALLRESULT, `action` is that of the CALL it answers."""
        kind = type(message)
        if kind is Call:
            type_id, payload, name = 2, message.payload, action or message.action  # type: ignore[union-attr]
        elif kind is CallResult:
            if action is None:
                return UNCHECKED
            type_id, payload, name = 3, message.payload, action  # type: ignore[union-attr]
        elif kind is Send:
            type_id, payload, name = 6, message.payload, action or message.action  # type: ignore[union-attr]
        else:
            return UNCHECKED
        key = (type_id, name or "")
        try:
            validator = self._validators[key]
        except KeyError:
            validator = self._find(*key)
            if len(self._validators) < _MAX_CACHED:  # a peer may invent any number of actions
                self._validators[key] = validator
        if isinstance(validator, SchemaVerdict):
            return validator
        if validator.is_valid(payload):
            return VALID
        return SchemaVerdict(False, tuple(_errors(validator, payload)))

    def _find(self, type_id: int, name: str) -> Any:
        """The validator for (type, action), or the verdict when there can be none."""
        if not name or not _ACTION_NAME.fullmatch(name):
            return SchemaVerdict(False, (f"action {name!r} is not a valid action name",))
        validator = None
        if type_id == 6:
            # OCPP 2.1 names the schema of a SEND by its action alone
            # (NotifyPeriodicEventStream.json), not <action>Request.json.
            validator = _validator(6, name, self.version) or _validator(2, name, self.version)
        else:
            validator = _validator(type_id, name, self.version)
        if validator is None:
            return SchemaVerdict(False, (f"unknown action {name!r} in OCPP {self.version}",))
        return validator


def _errors(validator: Any, payload: Any) -> list[str]:
    out: list[str] = []
    for error in validator.iter_errors(payload):
        where = "/".join(str(p) for p in error.instance_path)
        out.append(f"{where}: {error.message}" if where else error.message)
        if len(out) >= _MAX_ERRORS:
            break
    return out


_COMPILED: dict[tuple[int, str, str], Any] = {}


def _validator(type_id: int, action: str, version: str) -> Any:
    """The compiled validator of one schema the `ocpp` package ships (None if there is none).

    The schemas come from `ocpp.messages.get_validator`; they are compiled with
    jsonschema-rs, which checks a payload in about a microsecond where the
    pure-Python validator takes 200 (measured with bench/proxy_overhead.py), and
    which checks `multipleOf` exactly, so OCPP 1.6's 0.1 steps need no decimals.
    """
    key = (type_id, action, version)
    try:
        return _COMPILED[key]
    except KeyError:
        pass
    from ocpp.messages import get_validator

    try:
        schema = get_validator(type_id, action, version).schema
    except (OSError, ValueError):
        _COMPILED[key] = None
        return None
    compiled = jsonschema_rs.validator_for(schema)
    _COMPILED[key] = compiled
    return compiled
