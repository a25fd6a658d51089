"""OCPP-J messages as frozen data, parsed from and serialised to WebSocket frames.

Sans-IO: nothing here touches a socket. Every message keeps the exact bytes it
was parsed from (`raw`), so a frame that nobody changed is relayed unchanged.
`parse()` never raises on input from the wire: what is not a valid OCPP-J
message becomes `Malformed` with the reason, and stays relayable.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any

import orjson

__all__ = [
    "ARITY",
    "MAX_UNIQUE_ID_LENGTH",
    "Call",
    "CallError",
    "CallResult",
    "CallResultError",
    "Malformed",
    "MalformedReason",
    "Message",
    "MessageType",
    "Send",
    "parse",
    "serialise",
]

MAX_UNIQUE_ID_LENGTH = 36


class MessageType(IntEnum):
    """The message type ids of OCPP-J (5 and 6 exist in OCPP 2.1 only)."""

    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4
    CALLRESULTERROR = 5
    SEND = 6


class MalformedReason(str, Enum):  # noqa: UP042 (StrEnum would change str())
    """Why a frame is not a valid OCPP-J message."""

    BINARY_FRAME = "binary_frame"
    INVALID_UTF8 = "invalid_utf8"
    BAD_JSON = "bad_json"
    NOT_A_LIST = "not_a_list"
    WRONG_ARITY = "wrong_arity"
    UNKNOWN_TYPE_ID = "unknown_type_id"
    BAD_UNIQUE_ID = "bad_unique_id"
    BAD_ACTION = "bad_action"
    BAD_PAYLOAD = "bad_payload"
    BAD_ERROR_CODE = "bad_error_code"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Base:
    raw: bytes = field(repr=False, compare=False, default=b"")
    """The exact bytes of the frame this message was parsed from (empty when built in code)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Call(_Base):
    """A request: `[2, uniqueId, action, payload]`."""

    unique_id: str
    action: str
    payload: dict[str, Any]

    message_type = MessageType.CALL

    def result(self, payload: dict[str, Any]) -> CallResult:
        """The CALLRESULT answering this CALL."""
        return CallResult(unique_id=self.unique_id, payload=payload)

    def error(
        self, code: str, description: str = "", details: dict[str, Any] | None = None
    ) -> CallError:
        """A CALLERROR answering this CALL."""
        return CallError(
            unique_id=self.unique_id, code=code, description=description, details=details or {}
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CallResult(_Base):
    """A successful response: `[3, uniqueId, payload]`."""

    unique_id: str
    payload: dict[str, Any]

    message_type = MessageType.CALLRESULT


@dataclass(frozen=True, slots=True, kw_only=True)
class CallError(_Base):
    """An error response: `[4, uniqueId, errorCode, errorDescription, errorDetails]`."""

    unique_id: str
    code: str
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    message_type = MessageType.CALLERROR


@dataclass(frozen=True, slots=True, kw_only=True)
class CallResultError(_Base):
    """OCPP 2.1: an error about a CALLRESULT: `[5, uniqueId, errorCode, description, details]`."""

    unique_id: str
    code: str
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    message_type = MessageType.CALLRESULTERROR


@dataclass(frozen=True, slots=True, kw_only=True)
class Send(_Base):
    """OCPP 2.1: an unconfirmed message: `[6, uniqueId, action, payload]`."""

    unique_id: str
    action: str
    payload: dict[str, Any]

    message_type = MessageType.SEND


@dataclass(frozen=True, slots=True, kw_only=True)
class Malformed(_Base):
    """A frame that is not a valid OCPP-J message. It is still relayable as `raw`."""

    reason: MalformedReason
    detail: str = ""
    binary: bool = False
    """True when the frame came as a binary WebSocket frame."""
    unique_id: str | None = None
    """The unique id, when one could be read (e.g. an unknown type id with a valid id)."""
    action: str | None = None
    """The action, when one could be read."""

    message_type = None


Message = Call | CallResult | CallError | CallResultError | Send | Malformed

ARITY: dict[MessageType, int] = {
    MessageType.CALL: 4,
    MessageType.CALLRESULT: 3,
    MessageType.CALLERROR: 5,
    MessageType.CALLRESULTERROR: 5,
    MessageType.SEND: 4,
}


_TYPE_IDS = {int(t): t for t in MessageType}


def _malformed(
    raw: bytes,
    reason: MalformedReason,
    detail: str,
    *,
    binary: bool = False,
    unique_id: str | None = None,
    action: str | None = None,
) -> Malformed:
    return Malformed(
        raw=raw, reason=reason, detail=detail, binary=binary, unique_id=unique_id, action=action
    )


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN, Infinity and -Infinity, which are not JSON (RFC 8259).
    raise ValueError(f"{name} is not valid JSON")


def _parse_float(text: str) -> float:
    # 1e400 is JSON but no float: it would be re-encoded as the non-JSON `Infinity`.
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


# One decoder for every frame: `json.loads` with keyword arguments builds a new one per call.
_DECODER = json.JSONDecoder(parse_float=_parse_float, parse_constant=_reject_constant)
# orjson reads integers past 64 bits as floats: frames with a run of 20 digits go the exact
# (slower) way. Found by mapping digits to "0" and the rest to "x" (5x faster than a regex).
_DIGITS = bytes(0x30 if 0x30 <= i <= 0x39 else 0x78 for i in range(256))
_LONG_RUN = b"0" * 20


def _loads(raw: bytes) -> Any:
    """JSON from frame bytes; raises UnicodeDecodeError, ValueError or RecursionError.

    orjson first (several times faster, and as strict: no NaN, no out-of-range
    floats); whatever it refuses is read again by the standard library, whose
    verdict (and acceptance of lone surrogate escapes or deep nesting) is the one
    that counts, so both paths classify every frame the same way.
    """
    if _LONG_RUN not in raw.translate(_DIGITS):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return _DECODER.decode(raw.decode("utf-8"))


def parse(data: bytes | str, *, binary: bool = False) -> Message:
    """Parse one WebSocket frame into an OCPP-J message. Never raises.

    `data` is the frame payload; `binary` says it came as a binary frame (OCPP-J
    allows text frames only, so a binary frame is `Malformed` whatever it holds).
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if binary:
        return _malformed(raw, MalformedReason.BINARY_FRAME, "binary frame", binary=True)
    try:
        value = _loads(raw)
    except UnicodeDecodeError as exc:
        return _malformed(raw, MalformedReason.INVALID_UTF8, f"{exc.reason} at byte {exc.start}")
    except (ValueError, RecursionError) as exc:
        return _malformed(raw, MalformedReason.BAD_JSON, str(exc)[:200])
    if not isinstance(value, list):
        return _malformed(raw, MalformedReason.NOT_A_LIST, f"top level is {type(value).__name__}")
    if not value:
        return _malformed(raw, MalformedReason.WRONG_ARITY, "empty list")
    type_id = value[0]
    unique_id = value[1] if len(value) > 1 and isinstance(value[1], str) else None
    if unique_id is not None and len(unique_id) > MAX_UNIQUE_ID_LENGTH:
        unique_id = None
    mtype = _TYPE_IDS.get(type_id) if type(type_id) is int else None
    if mtype is None:
        return _malformed(
            raw, MalformedReason.UNKNOWN_TYPE_ID, f"type id {type_id!r}", unique_id=unique_id
        )
    if len(value) != ARITY[mtype]:
        return _malformed(
            raw,
            MalformedReason.WRONG_ARITY,
            f"{mtype.name} needs {ARITY[mtype]} elements, got {len(value)}",
            unique_id=unique_id,
        )
    uid = value[1]
    if not isinstance(uid, str):
        return _malformed(raw, MalformedReason.BAD_UNIQUE_ID, f"unique id is {type(uid).__name__}")
    if len(uid) > MAX_UNIQUE_ID_LENGTH:
        return _malformed(
            raw, MalformedReason.BAD_UNIQUE_ID, f"unique id has {len(uid)} characters (max 36)"
        )
    if mtype in (MessageType.CALL, MessageType.SEND):
        action, payload = value[2], value[3]
        if not isinstance(action, str) or not action:
            return _malformed(
                raw, MalformedReason.BAD_ACTION, "action is not a string", unique_id=uid
            )
        if not isinstance(payload, dict):
            return _malformed(
                raw,
                MalformedReason.BAD_PAYLOAD,
                "payload is not an object",
                unique_id=uid,
                action=action,
            )
        if mtype is MessageType.CALL:
            return Call(raw=raw, unique_id=uid, action=action, payload=payload)
        return Send(raw=raw, unique_id=uid, action=action, payload=payload)
    if mtype is MessageType.CALLRESULT:
        payload = value[2]
        if not isinstance(payload, dict):
            return _malformed(
                raw, MalformedReason.BAD_PAYLOAD, "payload is not an object", unique_id=uid
            )
        return CallResult(raw=raw, unique_id=uid, payload=payload)
    code, description, details = value[2], value[3], value[4]
    if not isinstance(code, str):
        return _malformed(
            raw, MalformedReason.BAD_ERROR_CODE, "error code is not a string", unique_id=uid
        )
    if not isinstance(description, str) or not isinstance(details, dict):
        return _malformed(
            raw,
            MalformedReason.BAD_PAYLOAD,
            "error description or details of the wrong type",
            unique_id=uid,
        )
    cls = CallError if mtype is MessageType.CALLERROR else CallResultError
    return cls(raw=raw, unique_id=uid, code=code, description=description, details=details)


def _dumps(value: Any) -> bytes:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (parsed from a "\ud800" escape) has no UTF-8 form: escape it.
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def serialise(message: Message) -> bytes:
    """The frame bytes for `message`.

    A message that carries `raw` (it was parsed and not changed since) comes
    back byte for byte; a message built in code is written as compact JSON.
    Use `dataclasses.replace()` to change a parsed message: the copy keeps `raw`,
    so pass `raw=b""` along with the change to have it re-encoded.
    """
    if message.raw or isinstance(message, Malformed):
        return message.raw
    if isinstance(message, Call | Send):
        return _dumps(
            [int(message.message_type), message.unique_id, message.action, message.payload]
        )
    if isinstance(message, CallResult):
        return _dumps([int(MessageType.CALLRESULT), message.unique_id, message.payload])
    return _dumps(
        [
            int(message.message_type),
            message.unique_id,
            message.code,
            message.description,
            message.details,
        ]
    )
