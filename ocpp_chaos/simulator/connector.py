"""The connector status state machine of a virtual charge point, as a table.

Rule 1 (after h11's `_state.py`): everything that decides a connector's status lives in
this file. Rule 2: this file knows nothing about OCPP messages or IO; the charger fires
events and sends a StatusNotification when `fire` says the status changed.

Two parts, like h11:

- `TRANSITIONS`, the event-triggered table: status -> event -> status. Comments name
  the cell of the OCPP 1.6 §4.9 StatusNotification transition table (rows A-I are the
  "from" status Available..Faulted, columns 1-9 the "to" status in the same order, e.g.
  C6 = Charging -> Finishing). A self-loop (status -> same status) means "accepted, the
  status does not change" (the event may still change `plugged` or the scheduled
  unavailability). A missing entry is illegal: `fire` raises `IllegalTransition`.
- `_settle`, the state-triggered transitions, applied after every event. They depend on
  the cable and on a scheduled ChangeAvailability(Inoperative), which the table cannot
  see, and keep three invariants: never Available with a cable in, never Charging or
  Finishing without one, Inoperative scheduled only in a status in `SCHEDULES_INOPERATIVE`.

A step reports only where it settles: Charging --TX_STOPPED--> Finishing with no cable
settles at Available, so the charger sends one StatusNotification(Available) (cell C1).

Modelling choices (each deliberate, see the comments on the rows):

- `plugged` means an EV is connected through this connector (a tethered cable: unplugging
  is the cable leaving the EV, 1.6's "fixed cable was removed on EV side").
- ChangeAvailability(Inoperative) is scheduled while a transaction runs (1.6 §5.2:
  "Scheduled"), and, following the table's cells, while Finishing (F8: until the user
  actions are done), Reserved (G8) and Faulted (I8): `pending_unavailable` is set and the
  status stays. It takes effect as soon as the connector settles outside those statuses:
  TX_STOPPED with the cable in goes to Finishing (C6) and UNPLUG then to Unavailable (F8);
  TX_STOPPED with the cable out goes straight to Unavailable (C8, D8, E8). In Available
  and Preparing (no transaction, no B8 cell) it is immediate.
- A fault clears to the idle status matching the cable (Available, Preparing, or
  Unavailable when Inoperative), not to the pre-fault status of 1.6's I1-I8: the charger
  ends a transaction the fault interrupted (TX_STOPPED is accepted while Faulted) and
  re-fires RESERVE if a reservation survived.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "SCHEDULES_INOPERATIVE",
    "TRANSITIONS",
    "Connector",
    "ConnectorEvent",
    "ConnectorStatus",
    "IllegalTransition",
    "occupied",
    "status_201",
]


class ConnectorStatus(str, Enum):  # noqa: UP042 (StrEnum would change str())
    """OCPP 1.6 ChargePointStatus values for a connector (id > 0)."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class ConnectorEvent(str, Enum):  # noqa: UP042 (StrEnum would change str())
    """What happens to a connector: the user, the EV, the EVSE or the CSMS acting."""

    PLUG_IN = "plug_in"
    """An EV is connected."""
    UNPLUG = "unplug"
    """The EV is disconnected."""
    AUTHORIZED = "authorized"
    """A user or remote start is authorised; the cable may be absent yet."""
    DEAUTHORIZED = "deauthorized"
    """Authorisation timed out or was cancelled before a transaction started."""
    TX_STARTED = "tx_started"
    """A transaction started (StartTransaction sent) and energy may flow."""
    EV_SUSPEND = "ev_suspend"
    """The EV stops taking energy (battery full, S2 opened)."""
    EV_RESUME = "ev_resume"
    """The EV takes energy again."""
    EVSE_SUSPEND = "evse_suspend"
    """The EVSE stops offering energy (e.g. a charging profile limit of 0)."""
    EVSE_RESUME = "evse_resume"
    """The EVSE offers energy again."""
    TX_STOPPED = "tx_stopped"
    """The transaction stopped (StopTransaction sent)."""
    FAULT = "fault"
    """A fault that prevents charging is detected."""
    FAULT_CLEARED = "fault_cleared"
    """The fault is resolved."""
    MAKE_UNAVAILABLE = "make_unavailable"
    """ChangeAvailability(Inoperative) for this connector."""
    MAKE_AVAILABLE = "make_available"
    """ChangeAvailability(Operative) for this connector."""
    RESERVE = "reserve"
    """ReserveNow accepted for this connector."""
    RESERVATION_ENDED = "reservation_ended"
    """The reservation expired or was cancelled (CancelReservation)."""


_S = ConnectorStatus
_E = ConnectorEvent

# The event-triggered transitions. Cells are 1.6 §4.9's; "self" = accepted, no change.
TRANSITIONS: dict[ConnectorStatus, dict[ConnectorEvent, ConnectorStatus]] = {
    _S.AVAILABLE: {
        _E.PLUG_IN: _S.PREPARING,  # A2: usage initiated by inserting the plug
        _E.AUTHORIZED: _S.PREPARING,  # A2: idTag presented / RemoteStartTransaction
        _E.RESERVE: _S.RESERVED,  # A7
        _E.MAKE_UNAVAILABLE: _S.UNAVAILABLE,  # A8
        _E.MAKE_AVAILABLE: _S.AVAILABLE,  # self: already Operative (§5.2: Accepted)
        _E.FAULT: _S.FAULTED,  # A9
        # A3-A5 (straight to a transaction) go through Preparing here: plug, then TX_STARTED.
    },
    _S.PREPARING: {
        _E.PLUG_IN: _S.PREPARING,  # self: authorised first, the cable follows
        _E.AUTHORIZED: _S.PREPARING,  # self: cable first, the idTag follows
        _E.UNPLUG: _S.AVAILABLE,  # B1: plug removed
        # B6: idTag not presented in time with the cable in. Without a cable this settles
        # at Available, which is B1 (ConnectionTimeOut on expected user action).
        _E.DEAUTHORIZED: _S.FINISHING,
        # B3. B4/B5 are TX_STARTED followed by EV_SUSPEND/EVSE_SUSPEND. Needs the cable.
        _E.TX_STARTED: _S.CHARGING,
        # No B8 cell, but no transaction runs, so §5.2 accepts ChangeAvailability at once.
        _E.MAKE_UNAVAILABLE: _S.UNAVAILABLE,
        _E.MAKE_AVAILABLE: _S.PREPARING,  # self
        _E.FAULT: _S.FAULTED,  # B9
    },
    _S.CHARGING: {
        _E.EV_SUSPEND: _S.SUSPENDED_EV,  # C4
        _E.EVSE_SUSPEND: _S.SUSPENDED_EVSE,  # C5
        # C6 with the cable in; settles at Available without it (C1), or at Unavailable
        # when Inoperative is scheduled (C8).
        _E.TX_STOPPED: _S.FINISHING,
        # §4.9, StopTransactionOnEVSideDisconnect=false: the EV side is disconnected, the
        # transaction goes on, status SuspendedEV (C4). With the key true the charger then
        # fires TX_STOPPED (settling at Available, C1), or fires TX_STOPPED first and
        # UNPLUG after, which reports Finishing then Available as §4.9's text describes.
        _E.UNPLUG: _S.SUSPENDED_EV,
        _E.MAKE_UNAVAILABLE: _S.CHARGING,  # self, scheduled (§5.2; C8 when the tx stops)
        _E.MAKE_AVAILABLE: _S.CHARGING,  # self, cancels a scheduled Inoperative
        _E.FAULT: _S.FAULTED,  # C9
    },
    _S.SUSPENDED_EV: {
        _E.EV_RESUME: _S.CHARGING,  # D3. Needs the cable.
        _E.EVSE_SUSPEND: _S.SUSPENDED_EVSE,  # D5: SuspendedEVSE has precedence (§4.9)
        _E.TX_STOPPED: _S.FINISHING,  # D6; settles at Available (D1) / Unavailable (D8)
        _E.UNPLUG: _S.SUSPENDED_EV,  # self: EV side disconnected, transaction goes on
        _E.PLUG_IN: _S.SUSPENDED_EV,  # self: EV reconnected; EV_RESUME lets energy flow
        _E.MAKE_UNAVAILABLE: _S.SUSPENDED_EV,  # self, scheduled
        _E.MAKE_AVAILABLE: _S.SUSPENDED_EV,  # self
        _E.FAULT: _S.FAULTED,  # D9
    },
    _S.SUSPENDED_EVSE: {
        # E3; settles at SuspendedEV without a cable (E4). The connector does not remember
        # an EV suspension under an EVSE one: the charger re-fires EV_SUSPEND (E4 too).
        _E.EVSE_RESUME: _S.CHARGING,
        _E.TX_STOPPED: _S.FINISHING,  # E6; settles at Available (E1) / Unavailable (E8)
        _E.UNPLUG: _S.SUSPENDED_EVSE,  # self: SuspendedEVSE keeps precedence
        _E.PLUG_IN: _S.SUSPENDED_EVSE,  # self
        _E.MAKE_UNAVAILABLE: _S.SUSPENDED_EVSE,  # self, scheduled
        _E.MAKE_AVAILABLE: _S.SUSPENDED_EVSE,  # self
        _E.FAULT: _S.FAULTED,  # E9
    },
    _S.FINISHING: {
        _E.UNPLUG: _S.AVAILABLE,  # F1; settles at Unavailable when scheduled (F8)
        # F2: idTag presented again, a new transaction. Settles at Unavailable when
        # Inoperative is scheduled (F8): no new session on a connector going out of use.
        _E.AUTHORIZED: _S.PREPARING,
        _E.MAKE_UNAVAILABLE: _S.FINISHING,  # self, scheduled until user actions end (F8)
        _E.MAKE_AVAILABLE: _S.FINISHING,  # self
        _E.FAULT: _S.FAULTED,  # F9
    },
    _S.RESERVED: {
        _E.RESERVATION_ENDED: _S.AVAILABLE,  # G1 (expired / cancelled); G8 when scheduled
        # G2: the reservation's idTag (the charger checks it). With Inoperative scheduled
        # the reservation was what held it off, so this settles at Unavailable (G8).
        _E.AUTHORIZED: _S.PREPARING,
        _E.RESERVE: _S.RESERVED,  # self: ReserveNow with the same reservationId replaces it
        # self: no 1.6 cell leaves Reserved on a plug alone; 2.0.1 G01.FR.09: "Connector
        # status SHALL not change" for an EV connecting without the reserved IdToken.
        _E.PLUG_IN: _S.RESERVED,
        _E.UNPLUG: _S.RESERVED,  # self
        _E.MAKE_UNAVAILABLE: _S.RESERVED,  # self, scheduled until the reservation ends (G8)
        _E.MAKE_AVAILABLE: _S.RESERVED,  # self
        _E.FAULT: _S.FAULTED,  # G9
    },
    _S.UNAVAILABLE: {
        _E.MAKE_AVAILABLE: _S.AVAILABLE,  # H1; settles at Preparing with a cable in (H2)
        _E.MAKE_UNAVAILABLE: _S.UNAVAILABLE,  # self (§5.2: already there, Accepted)
        _E.PLUG_IN: _S.UNAVAILABLE,  # self: the cable is physical, the status holds
        _E.UNPLUG: _S.UNAVAILABLE,  # self
        _E.FAULT: _S.FAULTED,  # H9; the Inoperative setting survives the fault
    },
    _S.FAULTED: {
        # I1 (I2 with a cable in, I8 when Inoperative). Not the pre-fault status of I3-I7:
        # see the module docstring.
        _E.FAULT_CLEARED: _S.AVAILABLE,
        _E.FAULT: _S.FAULTED,  # self: another fault (the caller may set error_code)
        _E.PLUG_IN: _S.FAULTED,  # self
        _E.UNPLUG: _S.FAULTED,  # self
        _E.TX_STOPPED: _S.FAULTED,  # self: the charger ends the interrupted transaction
        _E.RESERVATION_ENDED: _S.FAULTED,  # self: a reservation expires meanwhile
        _E.MAKE_UNAVAILABLE: _S.FAULTED,  # self, scheduled until the fault clears (I8)
        _E.MAKE_AVAILABLE: _S.FAULTED,  # self
    },
}

SCHEDULES_INOPERATIVE = frozenset(
    {_S.CHARGING, _S.SUSPENDED_EV, _S.SUSPENDED_EVSE, _S.FINISHING, _S.RESERVED, _S.FAULTED}
)
"""Where MAKE_UNAVAILABLE is scheduled (a self-loop in the table) rather than immediate."""

# Events that move energy: they need an EV connected.
_NEEDS_CABLE = frozenset({_E.TX_STARTED, _E.EV_RESUME})

_OCCUPIED = frozenset({_S.PREPARING, _S.CHARGING, _S.SUSPENDED_EV, _S.SUSPENDED_EVSE, _S.FINISHING})


class IllegalTransition(ValueError):
    """An event the connector cannot take in its current status."""

    def __init__(self, status: ConnectorStatus, event: ConnectorEvent, why: str = "") -> None:
        self.status = status
        self.event = event
        detail = f": {why}" if why else ""
        super().__init__(f"no transition for {event.value!r} in status {status.value}{detail}")


def occupied(status: ConnectorStatus) -> bool:
    """Whether OCPP 2.0.1 calls this 1.6 status Occupied (the five 1.6 in-use statuses)."""
    return status in _OCCUPIED


def status_201(status: ConnectorStatus) -> str:
    """The OCPP 2.0.1 ConnectorStatusEnumType for a 1.6 status.

    Preparing, Charging, SuspendedEV, SuspendedEVSE and Finishing are all "Occupied";
    Available, Reserved, Unavailable and Faulted keep their name.
    """
    return "Occupied" if occupied(status) else status.value


@dataclass(slots=True)
class Connector:
    """One connector (id > 0) of a charge point: its status and what the status hides."""

    connector_id: int
    status: ConnectorStatus = ConnectorStatus.AVAILABLE
    plugged: bool = False
    """An EV is connected. PLUG_IN and UNPLUG set it; a caller may also set it first."""
    error_code: str = "NoError"
    """1.6 ChargePointErrorCode: set by the caller for a specific fault, else OtherError
    on FAULT; back to NoError on FAULT_CLEARED."""
    pending_unavailable: bool = False
    """ChangeAvailability(Inoperative) is scheduled: the connector becomes Unavailable as
    soon as it leaves `SCHEDULES_INOPERATIVE`. Set by MAKE_UNAVAILABLE in those statuses
    and by FAULT while Unavailable (the setting survives the fault); cleared by
    MAKE_AVAILABLE (which cancels it) and on reaching Unavailable."""

    def __post_init__(self) -> None:
        if self.status is _S.AVAILABLE and self.plugged:
            raise ValueError("an Available connector has no cable in")
        if self.status in (_S.CHARGING, _S.FINISHING) and not self.plugged:
            raise ValueError(f"a {self.status.value} connector has a cable in")
        if self.pending_unavailable and self.status not in SCHEDULES_INOPERATIVE:
            raise ValueError(f"Inoperative cannot be scheduled while {self.status.value}")

    def can(self, event: ConnectorEvent) -> bool:
        """Whether `fire(event)` would be accepted now."""
        return self._refusal(event) is None

    def fire(self, event: ConnectorEvent) -> bool:
        """Apply `event`; True if the status changed (time for a StatusNotification).

        Raises `IllegalTransition`, changing nothing, when the table has no entry for the
        current status and `event` (or the event needs a cable and none is in). Whether
        to ignore that, as much real firmware does, is the caller's decision.
        """
        why = self._refusal(event)
        if why is not None:
            raise IllegalTransition(self.status, event, why)
        before = self.status
        # Side effects of the event on what the status hides.
        if event is _E.PLUG_IN:
            self.plugged = True
        elif event is _E.UNPLUG:
            self.plugged = False
        elif event is _E.MAKE_UNAVAILABLE:
            self.pending_unavailable = True  # cleared below if Unavailable is reached now
        elif event is _E.MAKE_AVAILABLE:
            self.pending_unavailable = False
        elif event is _E.FAULT:
            if before is _S.UNAVAILABLE:
                self.pending_unavailable = True  # Inoperative persists (§4.9, I8)
            if self.error_code == "NoError":
                self.error_code = "OtherError"
        elif event is _E.FAULT_CLEARED:
            self.error_code = "NoError"
        self.status = self._settle(TRANSITIONS[before][event])
        return self.status is not before

    def _refusal(self, event: ConnectorEvent) -> str | None:
        """Why `event` is illegal now ("" for no table entry), or None if it is legal."""
        if event not in TRANSITIONS[self.status]:
            return ""
        if event in _NEEDS_CABLE and not self.plugged:
            return "no EV connected"
        return None

    def _settle(self, status: ConnectorStatus) -> ConnectorStatus:
        """The state-triggered transitions, in order, from where the table led."""
        if status is _S.CHARGING and not self.plugged:
            status = _S.SUSPENDED_EV  # E4: restriction lifted, no EV to take energy
        if status is _S.FINISHING and not self.plugged:
            status = _S.AVAILABLE  # B1, C1, D1, E1: ended with no user action left
        if self.pending_unavailable and status not in SCHEDULES_INOPERATIVE:
            status = _S.UNAVAILABLE  # C8, D8, E8, F8, G8, I8: the scheduled Inoperative
        if status is _S.AVAILABLE and self.plugged:
            status = _S.PREPARING  # A2, H2, I2: a cable in means usage has begun
        if status is _S.UNAVAILABLE:
            self.pending_unavailable = False
        return status
