"""Pairing of requests and responses by unique id, per session and direction.

Sans-IO bookkeeping: the caller passes each message with its direction and the
time it was seen; the tracker says which CALL a response answers and after how
long, which CALLs are still unanswered, and which responses answer nothing.
The same table serves both directions: a CALL travelling `up` is answered by a
response travelling `down`, and the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ocpp_chaos.frames.events import (
    Call,
    CallError,
    CallResult,
    Malformed,
    Message,
    Send,
)

__all__ = ["Direction", "Outstanding", "Pairing", "RpcTracker"]


class Direction(str, Enum):  # noqa: UP042 (StrEnum would change str())
    """`up` = charger to CSMS, `down` = CSMS to charger."""

    UP = "up"
    DOWN = "down"

    @property
    def opposite(self) -> Direction:
        return Direction.DOWN if self is Direction.UP else Direction.UP


# Not frozen: a frozen dataclass pays object.__setattr__ per field, on every frame.
@dataclass(slots=True)
class Outstanding:
    """A CALL waiting for its answer."""

    unique_id: str
    action: str
    direction: Direction
    sent_at: float


@dataclass(slots=True)
class Pairing:
    """What the tracker learned from one message."""

    action: str | None = None
    """The action of the CALL (for a response: of the CALL it answers)."""
    rtt: float | None = None
    """For a response: seconds since its CALL was seen."""
    unknown_id: bool = False
    """A response whose unique id matches no outstanding CALL of the other side."""
    duplicate_id: bool = False
    """A CALL reusing the unique id of a CALL of the same side still outstanding."""
    concurrent_call: bool = False
    """A CALL sent while the same side already had one outstanding."""


_NOTHING = Pairing()
_OPPOSITE = {Direction.UP: Direction.DOWN, Direction.DOWN: Direction.UP}


class RpcTracker:
    """Outstanding CALLs of one session, both directions.

    `max_outstanding` bounds the memory a peer that never answers can take:
    past it the oldest outstanding CALL is forgotten (and counted in `evicted`).
    """

    def __init__(self, max_outstanding: int = 1024) -> None:
        # Plain dicts keep insertion order: the first key is the oldest CALL.
        self._pending: dict[Direction, dict[str, Outstanding]] = {
            Direction.UP: {},
            Direction.DOWN: {},
        }
        self.max_outstanding = max_outstanding
        self.evicted = 0

    def feed(self, direction: Direction, message: Message, now: float) -> Pairing:
        """Record `message` seen travelling in `direction` at time `now`."""
        kind = type(message)
        if kind is Call:
            assert isinstance(message, Call)
            pending = self._pending[direction]
            duplicate = message.unique_id in pending
            concurrent = bool(pending) and not duplicate
            if duplicate:
                del pending[message.unique_id]  # re-inserted last: newest
            pending[message.unique_id] = Outstanding(
                message.unique_id, message.action, direction, now
            )
            if len(pending) > self.max_outstanding:
                del pending[next(iter(pending))]
                self.evicted += 1
            return Pairing(
                action=message.action, duplicate_id=duplicate, concurrent_call=concurrent
            )
        if kind is CallResult or kind is CallError:
            assert isinstance(message, CallResult | CallError)
            call = self._pending[_OPPOSITE[direction]].pop(message.unique_id, None)
            if call is None:
                return Pairing(unknown_id=True)
            return Pairing(action=call.action, rtt=now - call.sent_at)
        if isinstance(message, Send):
            return Pairing(action=message.action)
        if isinstance(message, Malformed) and message.action is not None:
            return Pairing(action=message.action)
        return _NOTHING  # a CallResultError, or a Malformed without an action

    def outstanding(self, direction: Direction | None = None) -> list[Outstanding]:
        """CALLs not answered yet, oldest first (both directions unless one is given)."""
        dirs = [direction] if direction else [Direction.UP, Direction.DOWN]
        found = [c for d in dirs for c in self._pending[d].values()]
        return sorted(found, key=lambda c: c.sent_at)

    def unanswered_since(self, before: float) -> list[Outstanding]:
        """CALLs sent before `before` and still unanswered."""
        return [c for c in self.outstanding() if c.sent_at < before]

    def action_of(self, direction: Direction, unique_id: str) -> str | None:
        """The action of the outstanding CALL a response travelling `direction` would answer."""
        call = self._pending[direction.opposite].get(unique_id)
        return call.action if call else None
