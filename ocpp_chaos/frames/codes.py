"""The CALLERROR codes each OCPP-J version defines, and how a code is spelled per version.

OCPP 1.6-J §4.2.3 and OCPP 2.0.1/2.1 Part 4 §4.3 list the codes. Some errors
changed their spelling (1.6 `FormationViolation` and `OccurenceConstraintViolation`
became `FormatViolation` and `OccurrenceConstraintViolation`), and 2.x added
`RpcFrameworkError` and `MessageTypeNotSupported`.
"""

from __future__ import annotations

__all__ = ["ERROR_CODES", "error_code_for_version", "is_valid_error_code"]

_V16 = frozenset(
    {
        "NotImplemented",
        "NotSupported",
        "InternalError",
        "ProtocolError",
        "SecurityError",
        "FormationViolation",
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",
        "TypeConstraintViolation",
        "GenericError",
    }
)
_V2X = frozenset(
    {
        "FormatViolation",
        "GenericError",
        "InternalError",
        "MessageTypeNotSupported",
        "NotImplemented",
        "NotSupported",
        "OccurrenceConstraintViolation",
        "PropertyConstraintViolation",
        "ProtocolError",
        "RpcFrameworkError",
        "SecurityError",
        "TypeConstraintViolation",
    }
)

ERROR_CODES: dict[str, frozenset[str]] = {"1.6": _V16, "2.0.1": _V2X, "2.1": _V2X}
"""Version ("1.6", "2.0.1", "2.1") → the CALLERROR codes it defines."""

# The same error under its 1.6 and its 2.x spelling.
_SPELLING_16 = {
    "FormatViolation": "FormationViolation",
    "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
    "RpcFrameworkError": "FormationViolation",
    "MessageTypeNotSupported": "ProtocolError",
}
_SPELLING_2X = {
    "FormationViolation": "FormatViolation",
    "OccurenceConstraintViolation": "OccurrenceConstraintViolation",
}


def error_code_for_version(code: str, version: str) -> str:
    """`code` spelled as `version` ("1.6", "2.0.1", "2.1") names it."""
    table = _SPELLING_16 if version == "1.6" else _SPELLING_2X
    return table.get(code, code)


def is_valid_error_code(code: str, version: str | None = None) -> bool:
    """Whether `code` exists in `version` (in any version when None)."""
    if version is None:
        return code in _V16 or code in _V2X
    return code in ERROR_CODES.get(version, frozenset())
