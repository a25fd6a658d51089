"""What the rules engine asks the proxy to do: data, carried out by the session's scheduler.

The engine never sleeps and never touches a socket. It answers each event with
a list of these; the session (`proxy/session.py`) carries them out on its clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ocpp_chaos.frames import Direction, Message

__all__ = [
    "FORWARD",
    "PLAIN_CONNECT",
    "Abort",
    "Action",
    "Close",
    "ConnectPlan",
    "Detach",
    "Outcome",
    "Refuse",
    "Release",
    "Send",
    "Side",
    "Wakeup",
]

Side = Literal["charger", "csms"]


@dataclass(frozen=True, slots=True)
class Send:
    """Write `data` to the receiver of `direction` (`up` → the CSMS), at `at` or now."""

    direction: Direction
    data: bytes
    opcode: str = "text"
    """`text`, `binary`, `ping` or `pong`."""
    at: float | None = None
    """Monotonic time to send at; None = at once."""
    rule: str | None = None
    """The rule that produced or delayed it (None for a plain forward)."""
    injected: bool = False
    """A frame the proxy made up (a reply, a duplicate), not one it relays."""
    message: Message | None = field(default=None, compare=False, repr=False)
    """The parsed message when `data` is the frame's unchanged bytes (None when a rule made
    or changed them), so whoever watches the written frame need not parse it again."""


@dataclass(frozen=True, slots=True)
class Close:
    """Close one side's WebSocket with a code and reason."""

    side: Side
    code: int
    reason: str
    rule: str | None = None


@dataclass(frozen=True, slots=True)
class Abort:
    """Reset one side's TCP connection (the peer sees 1006)."""

    side: Side
    rule: str | None = None


@dataclass(frozen=True, slots=True)
class Detach:
    """From now on a loss of `side` is not mirrored to the other side (a half-open link);
    the other side is reset after `linger` seconds unless it goes away first."""

    side: Side
    linger: float
    rule: str | None = None


@dataclass(frozen=True, slots=True)
class Wakeup:
    """Call the engine's `on_timer(session, key)` at monotonic time `at`."""

    at: float
    key: str


@dataclass(frozen=True, slots=True)
class Release:
    """Send at once every frame queued for later by `rule` (the rule was switched off)."""

    rule: str


@dataclass(frozen=True, slots=True)
class Refuse:
    """Refuse a new connection: an HTTP status, or `tcp-reset`."""

    status: int | Literal["tcp-reset"]
    rule: str


@dataclass(frozen=True, slots=True)
class ConnectPlan:
    """How to handle a new connection: refuse it, or change its handshake."""

    refuse: Refuse | None = None
    strip_offer: bool = False
    """Offer the CSMS no subprotocol."""
    strip_answer: bool = False
    """Tell the charger no subprotocol was chosen."""
    headers: tuple[tuple[str, str | None], ...] = ()
    """Request headers to set (value) or remove (None) towards the CSMS."""
    rules: tuple[str, ...] = ()


PLAIN_CONNECT = ConnectPlan()


Action = Send | Close | Abort | Detach | Wakeup | Release


@dataclass(frozen=True, slots=True)
class Outcome:
    """The engine's answer to one frame: what to do, and the decision label for the tape."""

    actions: tuple[Action, ...]
    forward: bool = False
    """True: relay the frame unchanged now (then carry out `actions`). False: `actions` say
    everything, including whether and when the frame itself is sent."""
    decision: str = "forward"
    """`forward`, or `fault:rule` for each rule that hit, joined with `,`."""
    hits: tuple[str, ...] = ()


FORWARD = Outcome(actions=(), forward=True)
"""Nothing to change: the caller forwards the frame as it is (the fast path)."""
