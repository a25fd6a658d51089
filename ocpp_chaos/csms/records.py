"""What the reference CSMS remembers: every CALL received and every transaction.

Tests and the demo read these records to check what reached the CSMS through
the chaos proxy, so they keep the payloads exactly as the charger sent them
(camelCase, as on the wire).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["Ledger", "Received", "TransactionRecord", "energy_wh", "ocpp_timestamp"]


def ocpp_timestamp(at: datetime | None = None) -> str:
    """`YYYY-MM-DDThh:mm:ss.mmmZ` in UTC.

    Millisecond precision on purpose: some CSMSs reject more than three
    fractional digits, which `datetime.isoformat()` would give.
    """
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Received:
    """One CALL as the CSMS received it.

    `protocol` is the OCPP version ("1.6", "2.0.1", "2.1"), `payload` the
    request payload as sent (camelCase), `at` the wall-clock time (`time.time()`).
    """

    charger_id: str
    protocol: str
    action: str
    payload: dict[str, Any]
    at: float


@dataclass
class TransactionRecord:
    """A transaction the CSMS has heard of, with its start, stop and meter data.

    OCPP 1.6 ids are integers the CSMS hands out in StartTransaction; 2.x ids
    are strings chosen by the charger. A 2.x transaction whose `Started` event
    never arrived (lost on the way) is still recorded from its first event, so
    `events` tells what actually came.
    """

    transaction_id: str | int
    charger_id: str
    protocol: str
    id_tag: str | None = None
    connector_id: int | None = None
    evse_id: int | None = None
    started_at: str | None = None
    """The charger's timestamp of the start."""
    stopped_at: str | None = None
    """The charger's timestamp of the stop; None while the transaction runs."""
    stop_reason: str | None = None
    meter_start: float | None = None
    """Energy register (Wh) at the start."""
    meter_stop: float | None = None
    """Energy register (Wh) at the stop."""
    events: list[str] = field(default_factory=list)
    """1.6: "Started", "MeterValues", "Stopped"; 2.x: the eventType of each TransactionEvent."""
    seq_nos: list[int] = field(default_factory=list)
    """2.x: the seqNo of each TransactionEvent, in arrival order."""
    meter_values: list[dict[str, Any]] = field(default_factory=list)
    """Every meterValue object received for this transaction, as sent."""

    @property
    def ended(self) -> bool:
        """Whether a StopTransaction / TransactionEvent Ended arrived."""
        return self.stopped_at is not None


_ENERGY = "Energy.Active.Import.Register"


def energy_wh(meter_values: list[dict[str, Any]]) -> float | None:
    """The last Energy.Active.Import.Register reading in `meter_values`, in Wh.

    Understands both 1.6 (`unit`) and 2.x (`unitOfMeasure`) sampled values; a
    sampled value without a measurand is the energy register by definition.
    Returns None when there is no readable energy value.
    """
    found: float | None = None
    for meter_value in meter_values:
        samples = meter_value.get("sampledValue") if isinstance(meter_value, dict) else None
        if not isinstance(samples, list):
            continue
        for sample in samples:
            if not isinstance(sample, dict) or sample.get("measurand", _ENERGY) != _ENERGY:
                continue
            try:
                value = float(sample["value"])
            except (KeyError, TypeError, ValueError):
                continue
            unit = sample.get("unit")
            unit_of_measure = sample.get("unitOfMeasure")
            if isinstance(unit_of_measure, dict):
                unit = unit_of_measure.get("unit", unit)
                multiplier = unit_of_measure.get("multiplier", 0)
                if isinstance(multiplier, int):
                    value *= 10.0**multiplier
            if unit == "kWh":
                value *= 1000.0
            found = value
    return found


class Ledger:
    """The CSMS's memory, shared by every connection of one ReferenceCSMS."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.transactions: dict[str | int, TransactionRecord] = {}
        self.starts: dict[tuple[Any, ...], int] = {}
        """(charger, connector, idTag, meterStart, timestamp) → the id given (1.6)."""
        self.registrations: dict[str, str] = {}
        """charger id → the status of the last BootNotification answer it got."""
        self.first_boots: dict[str, float] = {}
        """charger id → when (monotonic seconds) its first BootNotification came."""
        self._next_id = itertools.count(1)

    def record_call(
        self, charger_id: str, protocol: str, action: str, payload: dict[str, Any]
    ) -> None:
        """Remember one CALL."""
        self.received.append(Received(charger_id, protocol, action, payload, time.time()))

    def remember_start(self, key: tuple[Any, ...], transaction_id: int) -> None:
        """A 1.6 StartTransaction's identity → its id (the last 10,000 kept)."""
        self.starts[key] = transaction_id
        if len(self.starts) > 10_000:
            del self.starts[next(iter(self.starts))]

    def new_transaction_id(self) -> int:
        """The next OCPP 1.6 transaction id (1, 2, 3, ...)."""
        return next(self._next_id)

    def transaction(
        self, transaction_id: str | int, charger_id: str, protocol: str
    ) -> TransactionRecord:
        """The record of `transaction_id`, created on first sight."""
        record = self.transactions.get(transaction_id)
        if record is None:
            record = TransactionRecord(transaction_id, charger_id, protocol)
            self.transactions[transaction_id] = record
        return record
