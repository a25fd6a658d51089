"""The OCPP-J frame layer: parse, serialise, pair and check messages. No IO here."""

from ocpp_chaos.frames.events import (
    MAX_UNIQUE_ID_LENGTH,
    Call,
    CallError,
    CallResult,
    CallResultError,
    Malformed,
    MalformedReason,
    Message,
    MessageType,
    Send,
    parse,
    serialise,
)
from ocpp_chaos.frames.rpc import Direction, Outstanding, Pairing, RpcTracker
from ocpp_chaos.frames.schema import SchemaChecker, SchemaVerdict, version_of_subprotocol

__all__ = [
    "MAX_UNIQUE_ID_LENGTH",
    "Call",
    "CallError",
    "CallResult",
    "CallResultError",
    "Direction",
    "Malformed",
    "MalformedReason",
    "Message",
    "MessageType",
    "Outstanding",
    "Pairing",
    "RpcTracker",
    "SchemaChecker",
    "SchemaVerdict",
    "Send",
    "parse",
    "serialise",
    "version_of_subprotocol",
]
