"""Deliberately broken CSMSs: the reference CSMS with one bug each, so every scenario in
the library is shown to fail when the CSMS has the weakness the scenario is about."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from ocpp.exceptions import GenericError

from ocpp_chaos.csms import ReferenceCSMS
from ocpp_chaos.csms.sessions import CsmsSession, Session16, Session201
from ocpp_chaos.frames import Call
from ocpp_chaos.ocpp_routing import on
from ocpp_chaos.scenarios.model import Scenario


class SlowStatus16(Session16):
    """Takes 2.5 s to answer a StatusNotification."""

    @on("StatusNotification")
    async def on_status_notification(self, **kwargs: Any) -> Any:
        await asyncio.sleep(2.5)
        return Session16.on_status_notification(self, **kwargs)


class SlowStatus201(Session201):
    @on("StatusNotification")
    async def on_status_notification(self, **kwargs: Any) -> Any:
        await asyncio.sleep(2.5)
        return Session201.on_status_notification(self, **kwargs)


class ForgetsOnReconnect16(Session16):
    """Rejects transaction messages on a connection that did not start with a boot (it
    loses its state when a charger reconnects)."""

    booted = False

    @on("BootNotification")
    def on_boot_notification(self, **kwargs: Any) -> Any:
        self.booted = True
        return Session16.on_boot_notification(self, **kwargs)

    @on("StopTransaction")
    def on_stop_transaction(self, **kwargs: Any) -> Any:
        if not self.booted:
            raise GenericError(description="unknown transaction (state lost on reconnect)")
        return Session16.on_stop_transaction(self, **kwargs)


class ForgetsOnReconnect201(Session201):
    """Rejects TransactionEvents on a connection that did not start with a boot."""

    booted = False

    @on("BootNotification")
    def on_boot_notification(self, **kwargs: Any) -> Any:
        self.booted = True
        return Session201.on_boot_notification(self, **kwargs)

    @on("TransactionEvent")
    def on_transaction_event(self, **kwargs: Any) -> Any:
        if not self.booted:
            raise GenericError(description="unknown charging station (state lost on reconnect)")
        return Session201.on_transaction_event(self, **kwargs)


class RejectsOffline201(Session201):
    """Rejects TransactionEvents flagged offline."""

    @on("TransactionEvent")
    def on_transaction_event(self, **kwargs: Any) -> Any:
        if kwargs.get("offline"):
            raise GenericError(description="offline events are not accepted")
        return Session201.on_transaction_event(self, **kwargs)


class SilentOnMalformed16(Session16):
    """Says nothing to a frame it cannot read."""

    async def _answer_malformed(self, message: Any) -> None:
        return None


class SilentOnMalformed201(Session201):
    async def _answer_malformed(self, message: Any) -> None:
        return None


class NotIdempotent16(Session16):
    """Gives every StartTransaction a new transaction id, repeats included."""

    @on("StartTransaction")
    def on_start_transaction(self, **kwargs: Any) -> Any:
        self.ledger.starts.clear()
        return Session16.on_start_transaction(self, **kwargs)


class RejectsRepeatedSeqNo201(Session201):
    """Rejects a TransactionEvent whose seqNo it has already seen."""

    seen: set[tuple[str, int]]

    @on("TransactionEvent")
    def on_transaction_event(self, **kwargs: Any) -> Any:
        seen = self.__dict__.setdefault("seen", set())
        key = (kwargs["transaction_info"]["transaction_id"], kwargs["seq_no"])
        if key in seen:
            raise GenericError(description="seqNo already received")
        seen.add(key)
        return Session201.on_transaction_event(self, **kwargs)


def _off_by_minutes(timestamp: str) -> bool:
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return abs((moment - datetime.now(UTC)).total_seconds()) > 300


class StrictClock16(Session16):
    """Rejects transaction messages whose timestamp is more than 5 minutes off."""

    @on("StartTransaction")
    def on_start_transaction(self, **kwargs: Any) -> Any:
        if _off_by_minutes(kwargs["timestamp"]):
            raise GenericError(description="timestamp out of range")
        return Session16.on_start_transaction(self, **kwargs)


class StrictClock201(Session201):
    @on("TransactionEvent")
    def on_transaction_event(self, **kwargs: Any) -> Any:
        if _off_by_minutes(kwargs["timestamp"]):
            raise GenericError(description="timestamp out of range")
        return Session201.on_transaction_event(self, **kwargs)


class RejectsUnknownTransaction16(Session16):
    """A StopTransaction or MeterValues for a transaction it does not know: CALLERROR."""

    @on("StopTransaction")
    def on_stop_transaction(self, **kwargs: Any) -> Any:
        if kwargs["transaction_id"] not in self.ledger.transactions:
            raise GenericError(description="unknown transaction")
        return Session16.on_stop_transaction(self, **kwargs)

    @on("MeterValues")
    def on_meter_values(self, **kwargs: Any) -> Any:
        tx = kwargs.get("transaction_id")
        if tx is not None and tx not in self.ledger.transactions:
            raise GenericError(description="unknown transaction")
        return Session16.on_meter_values(self, **kwargs)


class StrictSeqNo201(Session201):
    """Rejects a TransactionEvent whose seqNo is not the previous one plus one."""

    @on("TransactionEvent")
    def on_transaction_event(self, **kwargs: Any) -> Any:
        last: dict[str, int] = self.__dict__.setdefault("last", {})
        tx = kwargs["transaction_info"]["transaction_id"]
        seq = kwargs["seq_no"]
        if tx in last and seq != last[tx] + 1:
            raise GenericError(description=f"seqNo {seq} after {last[tx]}")
        last[tx] = seq
        return Session201.on_transaction_event(self, **kwargs)


class SlowBoot16(Session16):
    @on("BootNotification")
    async def on_boot_notification(self, **kwargs: Any) -> Any:
        await asyncio.sleep(2.5)
        return Session16.on_boot_notification(self, **kwargs)


class SlowBoot201(Session201):
    @on("BootNotification")
    async def on_boot_notification(self, **kwargs: Any) -> Any:
        await asyncio.sleep(2.5)
        return Session201.on_boot_notification(self, **kwargs)


class RejectsLateMeterValues16(Session16):
    """MeterValues for a transaction that has already stopped: CALLERROR."""

    @on("MeterValues")
    def on_meter_values(self, **kwargs: Any) -> Any:
        record = self.ledger.transactions.get(kwargs.get("transaction_id"))
        if record is not None and record.ended:
            raise GenericError(description="the transaction has already stopped")
        return Session16.on_meter_values(self, **kwargs)


class RejectsLateTransactionEvent201(Session201):
    """A TransactionEvent that comes after its transaction's Ended event (so with a seqNo
    lower than the Ended one's): CALLERROR."""

    @on("TransactionEvent")
    def on_transaction_event(self, **kwargs: Any) -> Any:
        tx = str(kwargs["transaction_info"]["transaction_id"])
        record = self.ledger.transactions.get(tx)
        if record is not None and record.ended:
            raise GenericError(description="the transaction has already ended")
        return Session201.on_transaction_event(self, **kwargs)


class AcceptsBeforeBoot201(Session201):
    """Answers a charger whose boot it has not accepted (it told it Pending) as if it had."""

    def admits(self, action: str) -> bool:
        return True


class HangsUpOnPending16(Session16):
    """Closes the connection of a charger that sends a request while its boot is Pending
    (OCPP 1.6 §4.2: the channel SHOULD NOT be closed while Pending)."""

    async def _dispatch(self, message: Call) -> None:
        if not self.admits(message.action):
            await self._connection.close(1008, "not accepted")
            return
        await Session16._dispatch(self, message)


BUGS: dict[str, dict[str, type[CsmsSession]]] = {
    "basic-charge-cycle": {"ocpp1.6": SlowStatus16, "ocpp2.0.1": SlowStatus201},
    "csms-outage-reconnect-storm": {
        "ocpp1.6": ForgetsOnReconnect16,
        "ocpp2.0.1": ForgetsOnReconnect201,
    },
    "boot-storm": {"ocpp1.6": SlowBoot16, "ocpp2.0.1": SlowBoot201},
    "clock-skew": {"ocpp1.6": StrictClock16, "ocpp2.0.1": StrictClock201},
    "transaction-id-minus-one": {"ocpp1.6": RejectsUnknownTransaction16},
    "seqno-reset-and-gaps": {"ocpp2.0.1": StrictSeqNo201},
    "corrupted-frames": {"ocpp1.6": SilentOnMalformed16, "ocpp2.0.1": SilentOnMalformed201},
    "duplicated-transaction-messages": {
        "ocpp1.6": NotIdempotent16,
        "ocpp2.0.1": RejectsRepeatedSeqNo201,
    },
    "lost-responses": {"ocpp1.6": NotIdempotent16, "ocpp2.0.1": RejectsRepeatedSeqNo201},
    "slow-and-flapping-network": {
        "ocpp1.6": ForgetsOnReconnect16,
        "ocpp2.0.1": ForgetsOnReconnect201,
    },
    "signal-loss-mid-transaction": {
        "ocpp1.6": ForgetsOnReconnect16,
        "ocpp2.0.1": RejectsOffline201,
    },
    "out-of-order-transaction-messages": {
        "ocpp1.6": RejectsLateMeterValues16,
        "ocpp2.0.1": RejectsLateTransactionEvent201,
    },
    "requests-before-boot-accepted": {
        "ocpp1.6": HangsUpOnPending16,
        "ocpp2.0.1": AcceptsBeforeBoot201,
    },
}
"""Scenario name → the broken session classes it must catch."""


def broken_csms(scenario: Scenario) -> ReferenceCSMS:
    """The reference CSMS with the scenario's bug, set up as the scenario sets it up."""
    return ReferenceCSMS(port=0, sessions=BUGS[scenario.name], **scenario.reference_csms.options())
