"""The rule file format, defined once.

The same pydantic models validate rule files (with errors that name the file,
line and field, see `loader.py`), build the engine's compiled rules, and
export the JSON Schema editors use (`ocpp-chaos schema rules`).

A rule file is a list of rules, or a mapping with a `rules:` list:

```yaml
rules:
  - name: lose-signal-mid-transaction
    match: {direction: up, action: MeterValues}
    first: 1
    chargers: {count: 2}
    fault: {type: signal_loss, duration: 30s, mode: reset, refuse: 503}
```
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ocpp_chaos.fileformat import OneOrMany
from ocpp_chaos.frames.codes import is_valid_error_code

__all__ = [
    "CONNECT_FAULTS",
    "FAULT_TYPES",
    "SESSION_FAULTS",
    "BlastRadius",
    "Duration",
    "Fault",
    "Match",
    "PayloadCondition",
    "Rule",
    "RuleFile",
    "Window",
    "parse_duration",
]

_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any) -> float:
    """Seconds from a number (seconds) or a string such as `500ms`, `30s`, `2m`, `1h`."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '30s'")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a duration (a finite number of seconds)")
        return float(value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return float(m.group(1)) * _UNITS[m.group(2)]
    raise ValueError(f"{value!r} is not a duration (use seconds, or '500ms', '30s', '2m', '1h')")


def _duration(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def _signed_duration(value: Any) -> float:
    return parse_duration(value)


_DURATION_SCHEMA = {
    "anyOf": [
        {"type": "number"},
        {"type": "string", "pattern": r"^\s*-?\d+(\.\d+)?\s*(ms|s|m|h)?\s*$"},
    ],
    "description": "seconds, or a string such as '500ms', '30s', '2m', '1h'",
}

Duration = Annotated[float, BeforeValidator(_duration), WithJsonSchema(_DURATION_SCHEMA)]
"""Seconds (not negative); in files a number or `'500ms'`, `'30s'`, `'2m'`, `'1h'`."""
SignedDuration = Annotated[
    float, BeforeValidator(_signed_duration), WithJsonSchema(_DURATION_SCHEMA)
]
"""Seconds, may be negative (a clock skew backwards)."""


_OneOrMany = OneOrMany  # one string, or a list of them


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


# -- match ---------------------------------------------------------------------

Protocol = Literal["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]
MessageKind = Literal["call", "result", "error", "malformed", "send", "resulterror"]


class PayloadCondition(_Model):
    """A condition on one payload field. Given as a plain value, it means `equals`."""

    equals: Any = Field(None, description="the field equals this value")
    in_: list[Any] | None = Field(None, alias="in", description="the field is one of these values")
    regex: str | None = Field(
        None, description="the field (as text) matches this regular expression"
    )
    min: float | None = Field(None, description="the field is a number >= min")
    max: float | None = Field(None, description="the field is a number <= max")
    exists: bool | None = Field(None, description="the field is present (true) or absent (false)")

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_condition(self) -> PayloadCondition:
        if not self.model_fields_set:
            raise ValueError("give one of equals, in, regex, min, max, exists")
        return self


def _check_path(path: str) -> str:
    """Raise ValueError naming what is wrong with a payload path."""
    from ocpp_chaos.rules.paths import parse_path  # paths imports this module for types

    parse_path(path)
    return path


class Match(_Model):
    """Which frames a rule applies to. Every field given must match; none given matches all."""

    direction: Literal["up", "down", "both"] = Field(
        "both", description="up = charger to CSMS, down = CSMS to charger"
    )
    charger: Annotated[list[str], _OneOrMany] | None = Field(
        None,
        description="charger id patterns: a glob ('CP-*') or, prefixed with 're:', a regular "
        "expression; one or a list",
    )
    protocol: Annotated[list[Protocol], _OneOrMany] | None = Field(
        None, description="negotiated OCPP subprotocol(s)"
    )
    message: Annotated[list[MessageKind], _OneOrMany] | None = Field(
        None, description="call, result, error, malformed (and 2.1's send, resulterror)"
    )
    action: Annotated[list[str], _OneOrMany] | None = Field(
        None,
        description="OCPP action name(s); a result or error matches through the action of the "
        "CALL it answers",
    )
    payload: dict[str, PayloadCondition] | None = Field(
        None,
        description="conditions on payload fields by path ('a.b[0].c', '*' for any list item)",
    )

    @field_validator("charger")
    @classmethod
    def _patterns_compile(cls, value: list[str] | None) -> list[str] | None:
        for pattern in value or []:
            if pattern.startswith("re:"):
                try:
                    re.compile(pattern[3:])
                except re.error as exc:
                    raise ValueError(f"invalid regular expression {pattern[3:]!r}: {exc}") from None
        return value

    @field_validator("payload")
    @classmethod
    def _paths_parse(cls, value: dict[str, PayloadCondition] | None) -> Any:
        for path in value or {}:
            _check_path(path)
        return value

    @field_validator("payload", mode="before")
    @classmethod
    def _plain_value_means_equals(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v if isinstance(v, dict) else {"equals": v} for k, v in value.items()}
        return value

    @property
    def frame_specific(self) -> bool:
        """True when the rule selects frames (message, action or payload), not whole sessions."""
        return bool(self.message or self.action or self.payload)


# -- selection -----------------------------------------------------------------


class Window(_Model):
    """When a rule is live: from `start` for `duration` (forever if absent)."""

    start: Duration = Field(0.0, description="seconds (or '30s') after the reference point")
    duration: Duration | None = Field(None, description="how long it stays live; forever if absent")
    from_: Literal["activation", "session"] = Field(
        "activation", alias="from", description="the reference: rule activation or session start"
    )


class BlastRadius(_Model):
    """How many chargers a rule hits: `count` of them, or `percent` of them."""

    count: int | None = Field(None, ge=1)
    percent: float | None = Field(None, gt=0, le=100)

    @model_validator(mode="after")
    def _exactly_one(self) -> BlastRadius:
        if (self.count is None) == (self.percent is None):
            raise ValueError("give exactly one of count, percent")
        return self


# -- faults --------------------------------------------------------------------


class _Fault(_Model):
    pass


class Drop(_Fault):
    """Drop the matched frame, or (`response: true`) let a CALL pass and drop its answer."""

    type: Literal["drop"]
    response: bool = Field(False, description="drop only the answer to the matched CALL")


class Delay(_Fault):
    """Deliver the matched frame later; frames behind it may overtake it."""

    type: Literal["delay"]
    delay: Duration = Field(description="how long, e.g. '2s'")


class Hold(_Fault):
    """Hold the answer to the matched CALL past the sender's timeout, then deliver or drop it."""

    type: Literal["hold"]
    hold: Duration = Field(description="how long, e.g. '60s'")
    then: Literal["deliver", "drop"] = "deliver"


class Duplicate(_Fault):
    """Send the matched frame `copies` more times (with fresh unique ids if asked)."""

    type: Literal["duplicate"]
    copies: int = Field(1, ge=1, le=100)
    fresh_id: bool = Field(False, description="give each copy a new unique id")
    spacing: Duration = Field(0.0, description="time between copies, e.g. '100ms'")


class Reorder(_Fault):
    """Hold the matched frame until the next `after` frames have passed (1 = swap with the next)."""

    type: Literal["reorder"]
    after: int = Field(1, ge=1, le=1000, description="how many later frames overtake it")
    max_hold: Duration = Field(30.0, description="deliver it anyway after this long")


CorruptMode = Literal[
    "truncate",
    "invalid_json",
    "invalid_utf8",
    "binary",
    "wrong_type_id",
    "unknown_action",
    "bad_unique_id",
    "missing_field",
    "wrong_type",
    "random_bytes",
]


class Corrupt(_Fault):
    """Damage the matched frame in a chosen way."""

    type: Literal["corrupt"]
    mode: CorruptMode
    field: str | None = Field(
        None, description="payload path for missing_field / wrong_type (default: the first field)"
    )
    unique_id: Literal["empty", "too_long", "numeric"] = Field(
        "too_long", description="for bad_unique_id"
    )
    keep: float = Field(0.5, gt=0, lt=1, description="for truncate: the fraction of bytes kept")

    @field_validator("field")
    @classmethod
    def _path_parses(cls, value: str | None) -> str | None:
        return None if value is None else _check_path(value)


class Mutate(_Fault):
    """Change payload fields of the matched frame (which is then re-encoded)."""

    type: Literal["mutate"]
    set: dict[str, Any] = Field(default_factory=dict, description="path: new value")
    remove: list[str] = Field(default_factory=list, description="paths to remove")
    add: dict[str, float] = Field(
        default_factory=dict,
        description="path: number to add (meter going backwards: negative; seqNo gap: +N)",
    )
    skew: dict[str, SignedDuration] = Field(
        default_factory=dict, description="path: seconds to shift an ISO timestamp by ('-1h')"
    )

    @model_validator(mode="after")
    def _something(self) -> Mutate:
        if not (self.set or self.remove or self.add or self.skew):
            raise ValueError("give at least one of set, remove, add, skew")
        for path in [*self.set, *self.remove, *self.add, *self.skew]:
            _check_path(path)
        return self


class ReplyError(_Fault):
    """Answer the matched CALL with a CALLERROR in the peer's place; do not forward it."""

    type: Literal["reply_error"]
    code: str = Field(
        "InternalError", description="a CALLERROR code; spelled per the session's OCPP version"
    )
    description: str = ""
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("code")
    @classmethod
    def _known_code(cls, value: str) -> str:
        if not is_valid_error_code(value):
            raise ValueError(f"{value!r} is not a CALLERROR code of OCPP 1.6, 2.0.1 or 2.1")
        return value


class Reply(_Fault):
    """Answer the matched CALL with this CALLRESULT payload in the peer's place."""

    type: Literal["reply"]
    payload: dict[str, Any]


class SignalLoss(_Fault):
    """The 3G/4G drop: silence both ways for `duration`, then reset or half-open."""

    type: Literal["signal_loss"]
    duration: Duration = Field(description="how long nothing passes, e.g. '30s'")
    mode: Literal["reset", "half_open"] = Field(
        "reset", description="at the end: reset the charger's TCP connection, or leave it half-open"
    )
    refuse: Literal[503, 404, "tcp-reset"] = Field(
        503, description="how the charger's reconnects are refused until the outage ends"
    )


class Blackhole(_Fault):
    """Nothing passes either way (pings included); both connections stay open."""

    type: Literal["blackhole"]
    duration: Duration | None = Field(None, description="how long; until the rule is off if absent")


class Latency(_Fault):
    """Every matched frame arrives `fixed` + up to `jitter` later; order is kept."""

    type: Literal["latency"]
    fixed: Duration = Field(0.0, description="e.g. '200ms'")
    jitter: Duration = Field(0.0, description="uniform extra delay up to this, seeded")


class Disconnect(_Fault):
    """Close the session: with a close code and reason, or by an abrupt TCP reset."""

    type: Literal["disconnect"]
    side: Literal["charger", "csms", "both"] = "both"
    code: int = Field(1000, description="close code (1000-1014 sendable ones, 3000-4999)")
    reason: str = ""
    abrupt: bool = Field(False, description="reset the TCP connection instead of closing")

    _code = field_validator("code")(classmethod(lambda cls, v: _close_code(v)))


def _close_code(value: int) -> int:
    if not (
        value in {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
        or 3000 <= value <= 4999
    ):
        raise ValueError(f"{value} cannot be sent in a close frame")
    return value


def _refusal(value: int | str) -> int | str:
    if isinstance(value, int) and not 400 <= value <= 599:
        raise ValueError("an HTTP error status is 400-599")
    return value


Refusal = Annotated[int | Literal["tcp-reset"], AfterValidator(_refusal)]
"""How a connection is refused: an HTTP error status, or `tcp-reset`."""


class RejectConnect(_Fault):
    """Refuse new connections of the matched chargers with an HTTP status (or a TCP reset)."""

    type: Literal["reject_connect"]
    status: Refusal = Field(503, description="HTTP status, or 'tcp-reset'")


class Throttle(_Fault):
    """Matched frames pass at most `bytes_per_second` (per direction); order is kept."""

    type: Literal["throttle"]
    bytes_per_second: int = Field(ge=1)


class Flap(_Fault):
    """Disconnect each matched session `period` after it opens, every time it reconnects."""

    type: Literal["flap"]
    period: Duration = Field(description="how long each connection lives, e.g. '20s'")
    code: int = Field(1001, description="close code (ignored when abrupt)")
    reason: str = "flap"
    abrupt: bool = Field(False, description="reset the TCP connection instead of closing")
    _code = field_validator("code")(classmethod(lambda cls, v: _close_code(v)))


class CsmsOutage(_Fault):
    """The CSMS goes away: every matched session is dropped at once when the rule switches
    on, and new connections are refused for `duration` (then the reconnect storm comes)."""

    type: Literal["csms_outage"]
    duration: Duration = Field(description="how long new connections are refused")
    refuse: Refusal = Field(503, description="HTTP status, or 'tcp-reset'")
    abrupt: bool = Field(True, description="reset the connections (else close them with code)")
    code: int = Field(1011, description="close code when not abrupt")
    _code = field_validator("code")(classmethod(lambda cls, v: _close_code(v)))


class StripSubprotocol(_Fault):
    """Hide the subprotocol in the handshake: the CSMS is offered none, or the charger is
    told none was chosen."""

    type: Literal["strip_subprotocol"]
    side: Literal["csms", "charger"] = "csms"


class RewriteHeader(_Fault):
    """Set (or, with no value, remove) a header of the upgrade request sent to the CSMS."""

    type: Literal["rewrite_header"]
    header: str = Field(min_length=1, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
    value: str | None = Field(None, description="the new value; absent removes the header")


class InjectCall(_Model):
    """A CALL to make up: its unique id is fresh each time, and its answer is swallowed."""

    action: str = Field(min_length=1)
    payload: dict[str, Any] = Field(default_factory=dict)


class Inject(_Fault):
    """Send a made-up frame to one side: on each matching frame, or (with no frame-specific
    match) `delay` after a session opens, then every `period`, `times` times."""

    type: Literal["inject"]
    to: Literal["charger", "csms"]
    frame: str | None = Field(None, description="the exact text to send")
    call: InjectCall | None = Field(None, description="a CALL to send with a fresh unique id")
    delay: Duration = Field(0.0, description="after the session opens")
    period: Duration | None = Field(None, description="repeat this often")
    times: int = Field(1, ge=1, le=100_000, description="how many frames per session")

    @model_validator(mode="after")
    def _one_frame(self) -> Inject:
        if (self.frame is None) == (self.call is None):
            raise ValueError("give exactly one of frame, call")
        if self.times > 1 and self.period is None:
            raise ValueError("times > 1 needs a period")
        return self


Fault = Annotated[
    Drop
    | Delay
    | Hold
    | Duplicate
    | Reorder
    | Corrupt
    | Mutate
    | ReplyError
    | Reply
    | SignalLoss
    | Blackhole
    | Latency
    | Disconnect
    | RejectConnect
    | Throttle
    | Flap
    | CsmsOutage
    | StripSubprotocol
    | RewriteHeader
    | Inject,
    Field(discriminator="type"),
]

FAULT_TYPES: tuple[str, ...] = (
    "drop",
    "delay",
    "hold",
    "duplicate",
    "reorder",
    "corrupt",
    "mutate",
    "reply_error",
    "reply",
    "signal_loss",
    "blackhole",
    "latency",
    "disconnect",
    "reject_connect",
    "throttle",
    "flap",
    "csms_outage",
    "strip_subprotocol",
    "rewrite_header",
    "inject",
)
SESSION_FAULTS = frozenset(
    {"signal_loss", "blackhole", "disconnect", "flap", "inject", "csms_outage"}
)
"""Faults that act on a whole session: without frame-specific matchers they fire as soon as the
rule is live for a session; with them (signal_loss, blackhole, disconnect, inject), on a
matching frame. flap and csms_outage always act on sessions."""
CONNECT_FAULTS = frozenset({"reject_connect", "strip_subprotocol", "rewrite_header"})
"""Faults that act on the WebSocket handshake of new connections."""


# -- rule ------------------------------------------------------------------------


class Rule(_Model):
    """One named fault rule."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    description: str = ""
    enabled: bool = True
    match: Match = Field(default_factory=lambda: Match())
    nth: int | None = Field(None, ge=1, description="only the nth matching frame (per charger)")
    first: int | None = Field(
        None, ge=1, description="only the first N matching frames (per charger)"
    )
    every: int | None = Field(None, ge=1, description="every Nth matching frame (per charger)")
    after: int | None = Field(
        None, ge=0, description="skip the first N matching frames (per charger)"
    )
    count: int | None = Field(None, ge=1, description="stop after N hits in total")
    probability: float | None = Field(
        None, ge=0, le=1, description="hit with this probability (seeded)"
    )
    window: Window | None = None
    chargers: Literal["all", "one"] | BlastRadius = Field(
        "all",
        description="blast radius: all, one, {count: N} or {percent: P}, chosen from the seed",
    )
    fault: Fault

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.nth is not None and (self.first is not None or self.every is not None):
            raise ValueError("nth cannot be combined with first or every")
        needs_call = {"reply_error", "reply", "hold"}
        if self.fault.type in needs_call and self.match.message not in (None, ["call"]):
            raise ValueError(f"a {self.fault.type} fault answers CALLs: match.message must be call")
        if (
            isinstance(self.fault, Drop)
            and self.fault.response
            and self.match.message
            not in (
                None,
                ["call"],
            )
        ):
            raise ValueError("drop with response: true needs match.message call")
        return self


class RuleFile(_Model):
    """A rule file: `rules:` followed by a list of rules (a bare list is accepted too)."""

    rules: list[Rule]

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, value: Any) -> Any:
        return {"rules": value} if isinstance(value, list) else value

    @model_validator(mode="after")
    def _unique_names(self) -> RuleFile:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"two rules are named {rule.name!r}")
            seen.add(rule.name)
        return self
