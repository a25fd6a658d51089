"""Which CALLERROR the reference CSMS answers to a frame it cannot handle.

The `ocpp` library stays silent on bad JSON, a non-list, a wrong arity or an
unknown message type id; a correct CSMS answers with a CALLERROR so the sender
does not wait for a response until its timeout. The rules here:

* Only frames that are, or may be, requests get an answer. A broken CALLRESULT
  or CALLERROR (type 3, 4, or 5) is not answered: a CALLERROR only ever answers
  a CALL, and answering errors with errors can loop between two peers.
* The unique id is the one readable from the frame, else "-1".
* OCPP 1.6 (which has no RpcFrameworkError): `FormationViolation` for a frame
  that is not a well-formed message, `ProtocolError` for an incomplete one
  (wrong arity, unreadable unique id) or an unknown message type id.
* OCPP 2.x: `RpcFrameworkError` when the frame cannot be read as an OCPP-J
  message (binary, not UTF-8, not JSON, not a list, wrong arity, unreadable
  unique id or action), `MessageTypeNotSupported` for an unknown message type
  id (the code 2.0.1 defines for exactly that), `FormatViolation` when the
  payload is not a JSON object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ocpp_chaos.frames import Malformed, MalformedReason, parse

__all__ = ["ErrorReply", "reply_to_malformed", "serialise_call_error"]

_RESPONSE_TYPE_IDS = (3, 4, 5)
UNKNOWN_UNIQUE_ID = "-1"

_CODES_16 = {
    MalformedReason.BINARY_FRAME: "FormationViolation",
    MalformedReason.INVALID_UTF8: "FormationViolation",
    MalformedReason.BAD_JSON: "FormationViolation",
    MalformedReason.NOT_A_LIST: "FormationViolation",
    MalformedReason.BAD_ACTION: "FormationViolation",
    MalformedReason.BAD_PAYLOAD: "FormationViolation",
    MalformedReason.BAD_ERROR_CODE: "FormationViolation",
    MalformedReason.WRONG_ARITY: "ProtocolError",
    MalformedReason.BAD_UNIQUE_ID: "ProtocolError",
    MalformedReason.UNKNOWN_TYPE_ID: "ProtocolError",
}

_CODES_2X = {
    MalformedReason.BINARY_FRAME: "RpcFrameworkError",
    MalformedReason.INVALID_UTF8: "RpcFrameworkError",
    MalformedReason.BAD_JSON: "RpcFrameworkError",
    MalformedReason.NOT_A_LIST: "RpcFrameworkError",
    MalformedReason.WRONG_ARITY: "RpcFrameworkError",
    MalformedReason.BAD_UNIQUE_ID: "RpcFrameworkError",
    MalformedReason.BAD_ACTION: "RpcFrameworkError",
    MalformedReason.BAD_PAYLOAD: "FormatViolation",
    MalformedReason.BAD_ERROR_CODE: "FormatViolation",
    MalformedReason.UNKNOWN_TYPE_ID: "MessageTypeNotSupported",
}


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """A CALLERROR to send: `[4, unique_id, code, description, {}]`."""

    unique_id: str
    code: str
    description: str


def _type_id(raw: bytes) -> Any:
    """The first element of the frame when it is a JSON list, else None."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if isinstance(value, list) and value:
        return value[0]
    return None


def reply_to_malformed(message: Malformed, version: str) -> ErrorReply | None:
    """The CALLERROR answering `message`, or None when it must not be answered."""
    unique_id = message.unique_id
    if message.binary:
        # A binary frame is malformed whatever it holds, but when it holds a
        # readable message its unique id lets the sender fail that request now.
        inner = parse(message.raw)
        if inner.message_type is not None and int(inner.message_type) in _RESPONSE_TYPE_IDS:
            return None
        unique_id = getattr(inner, "unique_id", None)
    elif message.reason in (
        MalformedReason.WRONG_ARITY,
        MalformedReason.BAD_UNIQUE_ID,
        MalformedReason.BAD_PAYLOAD,
        MalformedReason.BAD_ERROR_CODE,
    ):
        type_id = _type_id(message.raw)
        if type(type_id) is int and type_id in _RESPONSE_TYPE_IDS:
            return None
    codes = _CODES_16 if version == "1.6" else _CODES_2X
    description = (
        f"{message.reason.value}: {message.detail}" if message.detail else (message.reason.value)
    )
    return ErrorReply(
        unique_id=unique_id if unique_id is not None else UNKNOWN_UNIQUE_ID,
        code=codes[message.reason],
        description=description[:255],
    )


def serialise_call_error(
    unique_id: str, code: str, description: str, details: dict[str, Any] | None = None
) -> str:
    """The CALLERROR frame text."""
    return json.dumps(
        [4, unique_id, code, description, details or {}],
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
