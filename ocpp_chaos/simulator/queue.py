"""The offline queue of transaction-related messages of a virtual charger (sans-IO).

OCPP 1.6 §4.7 and OCPP 2.0.1 E12/E13: a charger keeps its transaction messages
(StartTransaction, MeterValues, StopTransaction; TransactionEvent) while it is
offline and sends them after reconnecting, oldest first and before any new
transaction message. A message the CSMS fails to process is sent again, up to
TransactionMessageAttempts transmissions, waiting TransactionMessageRetryInterval
times the number of preceding transmissions before each one; then it is skipped.

What counts as an attempt (a transmission that failed): a CALLERROR answer, or no
answer within the message timeout while the connection stays up (OCPP 2.0.1
TC_E_50 treats both as failures). The caller reports those with `failed()`. A
lost connection is not a failure of the CSMS to process the message: the caller
reports nothing, the message stays at the head with its attempt count unchanged
and is sent again first after the reconnect.

The queue only keeps order and schedule; the caller sends `ready()` and reports
the outcome with `sent()` or `failed()`, which always refer to the head.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Queued", "TransactionQueue", "droppable"]

# OCPP JSON spelling, and the snake_case one of the ocpp library's call dataclasses.
_TRANSACTION_ID_FIELDS = ("transactionId", "transaction_id")


@dataclass
class Queued:
    """One queued message: `attempts` counts failed transmissions, `seq` the queue order."""

    action: str
    payload: dict[str, Any]
    queued_at: float
    attempts: int = 0
    next_try: float = 0.0
    seq: int = field(kw_only=True)


def droppable(action: str, payload: dict[str, Any]) -> bool:
    """Whether a full queue may drop the message: intermediate meter values only.

    MeterValues (1.6) and TransactionEvent with eventType Updated (2.0.1) may go;
    StartTransaction/StopTransaction and TransactionEvent Started/Ended never do,
    nor does any other action. The payload may use OCPP JSON names (eventType) or
    the ocpp library's snake_case ones (event_type).
    """
    if action == "MeterValues":
        return True
    if action != "TransactionEvent":
        return False
    return "Updated" in (payload.get("eventType"), payload.get("event_type"))


class TransactionQueue:
    """Transaction messages in strict order, with the OCPP retry schedule and a size limit.

    When an append finds the queue full (`max_len` messages), the oldest droppable
    message (see `droppable`) other than the head is removed and counted in
    `dropped`. The head is kept because it may be in flight, and `sent()`/`failed()`
    refer to it. If nothing can be removed, a droppable newcomer is refused (counted
    in `dropped`, not stored); a non-droppable one is stored anyway, so the queue
    only ever exceeds `max_len` with Start/Stop/Started/Ended messages.
    """

    def __init__(
        self, *, max_len: int = 10_000, max_attempts: int = 3, retry_interval: float = 60.0
    ) -> None:
        if max_len < 1:
            raise ValueError(f"max_len must be >= 1, not {max_len}")
        self._messages: deque[Queued] = deque()
        self._max_len = max_len
        self._max_attempts = 0
        self._retry_interval = 0.0
        self._seq = 0
        self.dropped = 0
        """Droppable messages removed or refused because the queue was full."""
        self.given_up = 0
        """Messages skipped after failing max_attempts times (or a permanent failure)."""
        self.set_limits(max_attempts=max_attempts, retry_interval=retry_interval)

    @property
    def max_attempts(self) -> int:
        """Transmissions of one message before it is skipped (0 and 1 both mean one)."""
        return self._max_attempts

    @property
    def retry_interval(self) -> float:
        """Seconds per preceding transmission to wait before a retransmission."""
        return self._retry_interval

    def set_limits(
        self, *, max_attempts: int | None = None, retry_interval: float | None = None
    ) -> None:
        """Apply TransactionMessageAttempts / TransactionMessageRetryInterval.

        New limits apply from the next `failed()`; a retry already scheduled keeps
        its time.
        """
        if max_attempts is not None:
            if max_attempts < 0:
                raise ValueError(f"max_attempts must be >= 0, not {max_attempts}")
            self._max_attempts = max_attempts
        if retry_interval is not None:
            if retry_interval < 0:
                raise ValueError(f"retry_interval must be >= 0, not {retry_interval}")
            self._retry_interval = float(retry_interval)

    def append(self, action: str, payload: dict[str, Any], now: float) -> Queued:
        """Queue a message at the tail and return its record.

        The payload is copied (shallowly), so later changes by the caller do not
        reach the queue. A refused message (see the class docstring) is returned
        too, but is not in the queue.
        """
        self._seq += 1
        item = Queued(action, dict(payload), now, seq=self._seq)
        if len(self._messages) >= self._max_len and not self._drop_oldest():
            if droppable(action, payload):
                self.dropped += 1
                return item
        self._messages.append(item)
        return item

    def head(self) -> Queued | None:
        """The oldest message, the only one that may be sent next."""
        return self._messages[0] if self._messages else None

    def ready(self, now: float) -> Queued | None:
        """The head if its retry time has come, else None (later messages never overtake)."""
        head = self.head()
        if head is None or head.next_try > now:
            return None
        return head

    def sent(self) -> Queued:
        """The head was answered (CALLRESULT): remove and return it."""
        if not self._messages:
            raise IndexError("sent() on an empty queue")
        return self._messages.popleft()

    def failed(self, now: float, *, permanent: bool = False) -> Literal["retry", "given_up"]:
        """The head failed to be processed (CALLERROR, or no answer on a live connection).

        Counts one attempt. Retries at `now + retry_interval * attempts` until the
        message has been transmitted `max_attempts` times; then (or at once when
        `permanent`, e.g. an error that no retry will fix) the message is removed and
        counted in `given_up`. Do not call this for a lost connection: that is not an
        attempt, and the head simply stays queued.
        """
        if not self._messages:
            raise IndexError("failed() on an empty queue")
        head = self._messages[0]
        head.attempts += 1
        if permanent or head.attempts >= self._max_attempts:
            self._messages.popleft()
            self.given_up += 1
            return "given_up"
        head.next_try = now + self._retry_interval * head.attempts
        return "retry"

    def rewrite_transaction_id(self, old: int | str, new: int | str) -> int:
        """Give queued messages the CSMS's transaction id in place of a provisional one.

        OCPP 1.6: a StartTransaction replayed after a reconnect is answered with the
        real transactionId; MeterValues/StopTransaction queued behind it carry the id
        the charger made up while offline. Every queued message whose top-level
        `transactionId` (or the ocpp library's `transaction_id`) equals `old` (same
        type too, so 1 never matches "1" or True) gets `new`. Returns how many
        messages were changed.
        """
        changed = 0
        for item in self._messages:
            for field_name in _TRANSACTION_ID_FIELDS:
                current = item.payload.get(field_name)
                if type(current) is type(old) and current == old:
                    item.payload = {**item.payload, field_name: new}
                    changed += 1
                    break
        return changed

    def __len__(self) -> int:
        return len(self._messages)

    def __iter__(self) -> Iterator[Queued]:
        """The queued messages, head first (a snapshot: safe to change the queue meanwhile)."""
        return iter(list(self._messages))

    def _drop_oldest(self) -> bool:
        """Remove the oldest droppable message other than the head; False if there is none."""
        for index, item in enumerate(self._messages):
            if index > 0 and droppable(item.action, item.payload):
                del self._messages[index]
                self.dropped += 1
                return True
        return False
