"""Schema checks of OCPP-J payloads against the JSON schemas the `ocpp` package ships.

An observer: it says what is wrong with a message, it never blocks or changes
it. The OCPP version comes from the negotiated WebSocket subprotocol.
"""

from __future__ import annotations

import decimal
import json
import re
from dataclasses import dataclass
from typing import Any

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

    @classmethod
    def for_subprotocol(cls, subprotocol: str | None) -> SchemaChecker | None:
        version = version_of_subprotocol(subprotocol)
        return cls(version) if version else None

    def check(self, message: Message, action: str | None) -> SchemaVerdict:
        """Check `message`; for a CALLRESULT, `action` is that of the CALL it answers."""
        if isinstance(message, Call | Send):
            type_id, payload = 2, message.payload
        elif isinstance(message, CallResult):
            if action is None:
                return UNCHECKED
            type_id, payload = 3, message.payload
        else:
            return UNCHECKED
        name = action if action is not None else getattr(message, "action", None)
        if not name or not _ACTION_NAME.fullmatch(name):
            return SchemaVerdict(False, (f"action {name!r} is not a valid action name",))
        validator = None
        if isinstance(message, Send):
            # OCPP 2.1 names the schema of a SEND by its action alone
            # (NotifyPeriodicEventStream.json), not <action>Request.json.
            validator = _validator(6, name, self.version)
            if validator is not None:
                type_id = 6
        if validator is None:
            validator = _validator(type_id, name, self.version)
        if validator is None:
            return SchemaVerdict(False, (f"unknown action {name!r} in OCPP {self.version}",))
        errors = _errors(validator, payload)
        if errors and self.version == "1.6" and any("multiple of" in e for e in errors):
            # OCPP 1.6 schemas give some decimals a multipleOf 0.1, which binary
            # floats fail (21.4 may be 21.399999999999995): check them as decimals.
            exact = json.loads(json.dumps(payload), parse_float=decimal.Decimal)
            errors = _errors(_decimal_validator(type_id, name, self.version), exact)
        return SchemaVerdict(False, tuple(errors)) if errors else VALID


def _errors(validator: Any, payload: Any) -> list[str]:
    out: list[str] = []
    for error in validator.iter_errors(payload):
        where = "/".join(str(p) for p in error.absolute_path)
        out.append(f"{where}: {error.message}" if where else error.message)
        if len(out) >= _MAX_ERRORS:
            break
    return out


_MISSING: set[tuple[int, str, str]] = set()
_DECIMAL: dict[tuple[int, str, str], Any] = {}


def _validator(type_id: int, action: str, version: str) -> Any:
    from ocpp.messages import get_validator

    key = (type_id, action, version)
    if key in _MISSING:
        return None
    try:
        return get_validator(type_id, action, version)
    except (OSError, ValueError):
        _MISSING.add(key)
        return None


def _decimal_validator(type_id: int, action: str, version: str) -> Any:
    """The same schema with its numbers read as decimals (`get_validator` caches floats)."""
    key = (type_id, action, version)
    if key not in _DECIMAL:
        from jsonschema import Draft4Validator  # type: ignore[import-untyped, unused-ignore]

        schema = json.loads(
            json.dumps(_validator(type_id, action, version).schema), parse_float=decimal.Decimal
        )
        _DECIMAL[key] = Draft4Validator(schema)
    return _DECIMAL[key]
