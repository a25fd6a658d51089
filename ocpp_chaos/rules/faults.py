"""Frame transforms for the frame faults: corrupt, mutate, fresh ids, injected answers.

Pure functions: no IO, and randomness only from the `random.Random` passed in,
so a seed reproduces the same bytes. None of them raises on a message that
`parse()` produced, however broken the frame was.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from ocpp_chaos.frames.codes import error_code_for_version
from ocpp_chaos.frames.events import (
    ARITY,
    MAX_UNIQUE_ID_LENGTH,
    Call,
    CallError,
    CallResult,
    CallResultError,
    Malformed,
    Message,
    MessageType,
    Send,
    parse,
    serialise,
)
from ocpp_chaos.rules.model import Corrupt, Mutate
from ocpp_chaos.rules.paths import PathLike, parse_path, remove_value, set_value, update_values

__all__ = [
    "UNKNOWN_ACTION",
    "call_error_frame",
    "call_result_frame",
    "corrupt",
    "mutate",
    "with_fresh_id",
]

UNKNOWN_ACTION = "ChaosUnknownAction"
"""The action `corrupt` mode `unknown_action` puts in a CALL."""

_UNKNOWN_TYPE_IDS = (0, 1, 7, 9)

# The head of an OCPP-J frame: `[typeId, "uniqueId", "action"` (the action is optional).
_WS = r"[ \t\n\r]*"
_STR = r'"(?:[^"\\]|\\.)*"'
_HEAD = re.compile(
    rf"({_WS}\[{_WS})([0-9]+)({_WS},{_WS})({_STR})(?:({_WS},{_WS})({_STR}))?", re.DOTALL
)
_TYPE_ID, _UNIQUE_ID, _ACTION = 2, 4, 6


def _encode(value: Any) -> bytes:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a "\ud800" escape
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def _as_list(message: Call | CallResult | CallError | CallResultError | Send) -> list[Any]:
    if isinstance(message, Call | Send):
        return [int(message.message_type), message.unique_id, message.action, message.payload]
    if isinstance(message, CallResult):
        return [int(MessageType.CALLRESULT), message.unique_id, message.payload]
    return [
        int(message.message_type),
        message.unique_id,
        message.code,
        message.description,
        message.details,
    ]


def _replace_head(
    message: Call | CallResult | CallError | CallResultError | Send, group: int, value: Any
) -> bytes:
    """The frame with its type id, unique id or action replaced; the rest kept byte for byte."""
    data = serialise(message)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    m = _HEAD.match(text)
    if m is not None and m.group(group) is not None:
        literal = json.dumps(value, ensure_ascii=False)
        new = text[: m.start(group)] + literal + text[m.end(group) :]
        try:
            return new.encode("utf-8")
        except UnicodeEncodeError:
            pass
    # Not the usual layout (should not happen for parsed frames): re-encode compact.
    items = _as_list(message)
    items[{_TYPE_ID: 0, _UNIQUE_ID: 1, _ACTION: 2}[group]] = value
    return _encode(items)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


# -- byte damage -------------------------------------------------------------------


def _truncate(data: bytes, keep: float) -> bytes:
    """The first `keep` of `data`, at least one byte shorter (trailing whitespace aside)."""
    if not data:
        return data
    content = len(data.rstrip(b" \t\r\n")) or len(data)
    return data[: max(0, min(int(len(data) * keep), content - 1))]


def _invalid_json(data: bytes, rng: random.Random) -> bytes:
    """Valid UTF-8 text that is not JSON: the frame with a bracket dropped or a stray character."""
    text = data.decode("utf-8", "replace")
    candidates: list[str] = []
    last = text.rfind("]")
    if last >= 0:
        candidates.append(text[:last] + text[last + 1 :])  # the closing bracket dropped
        candidates.append(text[:last] + "," + text[last:])  # a trailing comma
    first = text.find("[")
    if first >= 0:
        candidates.append(text[: first + 1] + "}" + text[first + 1 :])  # a stray brace
    if candidates:
        out = rng.choice(candidates)
        if not _is_json(out):
            return out.encode("utf-8")
    return ("}" + text).encode("utf-8")  # no JSON text starts with '}'


_BAD_UTF8 = (b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\x80")


def _invalid_utf8(data: bytes, rng: random.Random) -> bytes:
    """`data` with a byte sequence that is not UTF-8 inserted at a random place."""
    pos = rng.randint(0, len(data))
    out = data[:pos] + rng.choice(_BAD_UTF8) + data[pos:]
    try:
        out.decode("utf-8")
    except UnicodeDecodeError:
        return out
    return out + b"\xff"


def _damage(data: bytes, fault: Corrupt) -> bytes:
    """Byte damage for a frame with no structure to work on: truncated, and not a valid message."""
    out = _truncate(data, fault.keep)
    if not isinstance(parse(out), Malformed):
        out += b"\xff\xfe"
    return out


# -- payload damage ----------------------------------------------------------------


def _payload_of(
    message: Call | CallResult | CallError | CallResultError | Send,
) -> dict[str, Any]:
    if isinstance(message, CallError | CallResultError):
        return message.details
    return message.payload


def _with_payload(
    message: Call | CallResult | CallError | CallResultError | Send, payload: Any
) -> bytes:
    if isinstance(message, CallError | CallResultError):
        return serialise(dataclasses.replace(message, details=payload, raw=b""))
    return serialise(dataclasses.replace(message, payload=payload, raw=b""))


def _number_from_text(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _other_type(value: Any) -> Any:
    """A value of another JSON type (str→number, number→str, object↔array, bool→str, null→0)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        number = _number_from_text(value.strip())
        return 0 if number is None else number
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return {str(i): item for i, item in enumerate(value)}
    if value is None:
        return 0
    return str(value)


def _target_path(payload: dict[str, Any], field: str | None) -> PathLike | None:
    if field is not None:
        parse_path(field)  # a bad path is a rule error: raise ValueError
        return field
    # The first key as a parsed path: it may hold '.' or '[' (or be empty).
    return next(((key,) for key in payload), None)


def corrupt(message: Message, fault: Corrupt, rng: random.Random) -> tuple[bytes, bool]:
    """The damaged frame for `message` and whether to send it as a binary frame.

    Never raises on a parsed message (a bad `fault.field` path raises ValueError).
    Structural modes (wrong_type_id, unknown_action, bad_unique_id,
    missing_field, wrong_type) on a `Malformed` message fall back to byte
    damage: truncated to `fault.keep`, and made sure not to parse as a message.
    A frame that came binary stays binary.
    """
    data = serialise(message)
    binary = isinstance(message, Malformed) and message.binary
    mode = fault.mode
    if mode == "binary":
        return data, True
    if mode == "truncate":
        return _truncate(data, fault.keep), binary
    if mode == "invalid_json":
        return _invalid_json(data, rng), binary
    if mode == "invalid_utf8":
        return _invalid_utf8(data, rng), binary
    if mode == "random_bytes":
        return rng.randbytes(len(data)), binary
    if isinstance(message, Malformed):
        return _damage(data, fault), binary
    if mode == "wrong_type_id":
        arity = ARITY[MessageType(int(message.message_type))]
        choices = [int(t) for t in MessageType if ARITY[t] != arity]
        return _replace_head(
            message, _TYPE_ID, rng.choice(choices + list(_UNKNOWN_TYPE_IDS))
        ), False
    if mode == "unknown_action":
        if isinstance(message, Call | Send):
            return _replace_head(message, _ACTION, UNKNOWN_ACTION), False
        return _invalid_json(data, rng), False
    if mode == "bad_unique_id":
        new_id: str | int
        if fault.unique_id == "empty":
            new_id = ""
        elif fault.unique_id == "numeric":
            new_id = rng.randint(1, 2**31 - 1)
        else:
            new_id = message.unique_id + "-"
            while len(new_id) <= MAX_UNIQUE_ID_LENGTH:
                new_id += f"{rng.getrandbits(32):08x}"
        return _replace_head(message, _UNIQUE_ID, new_id), False
    payload = _payload_of(message)
    path = _target_path(payload, fault.field)
    if mode == "missing_field":
        new = payload if path is None else remove_value(payload, path)
        return _with_payload(message, new), False
    # wrong_type
    new = payload if path is None else update_values(payload, path, _other_type)
    return _with_payload(message, new), False


# -- mutate ------------------------------------------------------------------------

_DECIMAL_TEXT = re.compile(r"[+-]?[0-9]+(?:\.([0-9]+))?")


def _places(number: Decimal) -> int:
    exponent = number.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _add(delta: float) -> Callable[[Any], Any]:
    def add(value: Any) -> Any:
        if isinstance(value, bool) or not math.isfinite(delta):
            return value
        if isinstance(value, int):
            return value + int(delta) if float(delta).is_integer() else value + delta
        if isinstance(value, float):
            total = value + delta
            return total if math.isfinite(total) else value
        if isinstance(value, str):
            m = _DECIMAL_TEXT.fullmatch(value)
            if m is None:
                return value
            step = Decimal(repr(delta))
            places = max(len(m.group(1) or ""), _places(step))
            try:
                result = (Decimal(value) + step).quantize(Decimal(1).scaleb(-places))
            except InvalidOperation:
                return value
            return format(result.copy_abs() if result.is_zero() else result, "f")
        return value

    return add


_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})([Tt ])([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?([Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)


def _skew(seconds: float) -> Callable[[Any], Any]:
    def skew(value: Any) -> Any:
        if not isinstance(value, str) or not math.isfinite(seconds):
            return value
        m = _TIMESTAMP.fullmatch(value)
        if m is None:
            return value
        year, month, day, sep, hour, minute, second, digits, zone = m.groups()
        digits = digits or ""
        try:
            base = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
            scale = 10 ** len(digits)
            ticks = int(digits or 0) + int(
                (Decimal(repr(seconds)) * scale).to_integral_value(ROUND_HALF_EVEN)
            )
            whole, ticks = divmod(ticks, scale)
            new = base + timedelta(seconds=whole)
        except (ValueError, OverflowError, InvalidOperation):
            return value
        text = (
            f"{new.year:04d}-{new.month:02d}-{new.day:02d}{sep}"
            f"{new.hour:02d}:{new.minute:02d}:{new.second:02d}"
        )
        if digits:
            text += "." + str(ticks).zfill(len(digits))
        return text + (zone or "")

    return skew


def mutate(message: Message, fault: Mutate) -> bytes | None:
    """The frame with `fault`'s changes to its payload (a CALLERROR's details), re-encoded compact.

    Applied in order: set, remove, add, skew. `add` changes numbers and numeric
    strings (which stay strings, with the decimals of the old value or of the
    delta, whichever has more); `skew` shifts ISO 8601 timestamps keeping their
    format (separator, fractional digits, zone suffix). Values of another type,
    and paths that reach nothing, are left as they are. None for `Malformed`.
    A bad path raises ValueError.
    """
    if isinstance(message, Malformed):
        return None
    payload: Any = _payload_of(message)
    for path, value in fault.set.items():
        payload = set_value(payload, path, value)
    for path in fault.remove:
        payload = remove_value(payload, path)
    for path, delta in fault.add.items():
        payload = update_values(payload, path, _add(delta))
    for path, seconds in fault.skew.items():
        payload = update_values(payload, path, _skew(seconds))
    return _with_payload(message, payload)


# -- ids and injected answers ------------------------------------------------------


def with_fresh_id(message: Message, rng: random.Random) -> bytes:
    """The same frame with a new uuid4-style unique id from `rng`; `Malformed` → unchanged."""
    if isinstance(message, Malformed):
        return message.raw
    new_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return _replace_head(message, _UNIQUE_ID, new_id)


def _version(version: str) -> str:
    v = version.strip().lower()
    return v[4:] if v.startswith("ocpp") else v


def call_error_frame(
    call: Call,
    code: str,
    version: str | None,
    description: str = "",
    details: dict[str, Any] | None = None,
) -> bytes:
    """A CALLERROR answering `call`, `code` spelled as `version` ("1.6" or "ocpp1.6") names it."""
    if version is not None:
        code = error_code_for_version(code, _version(version))
    return serialise(call.error(code, description, details))


def call_result_frame(call: Call, payload: dict[str, Any]) -> bytes:
    """A CALLRESULT answering `call` with `payload`."""
    return serialise(call.result(payload))
