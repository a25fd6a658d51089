"""The connector state machine: the table, the settling rules and whole sessions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp_chaos.simulator.connector import (
    SCHEDULES_INOPERATIVE,
    TRANSITIONS,
    Connector,
    ConnectorEvent,
    ConnectorStatus,
    IllegalTransition,
    occupied,
    status_201,
)

S = ConnectorStatus
E = ConnectorEvent

ALLOWED = [(s, e, t) for s, row in TRANSITIONS.items() for e, t in row.items()]
FORBIDDEN = [(s, e) for s in S for e in E if e not in TRANSITIONS[s]]

# Where the settling rules may take a step beyond the table's target, and nowhere else:
# (table target, settled status). Restated here so the test checks the module, not itself.
SETTLES = {
    (S.CHARGING, S.SUSPENDED_EV),  # no cable: E4
    (S.FINISHING, S.AVAILABLE),  # no cable: B1, C1, D1, E1
    (S.FINISHING, S.UNAVAILABLE),  # no cable, Inoperative scheduled: C8, D8, E8
    (S.AVAILABLE, S.UNAVAILABLE),  # Inoperative scheduled: F8, G8, I8
    (S.PREPARING, S.UNAVAILABLE),  # Inoperative scheduled, no new session: F2/G2 refused
    (S.AVAILABLE, S.PREPARING),  # cable in: H2, I2
}


def _cable_for(status: ConnectorStatus, event: ConnectorEvent, target: ConnectorStatus) -> bool:
    """A cable state in which the step is legal and lands exactly on the table's target."""
    if event is E.PLUG_IN:
        return False
    if event is E.UNPLUG:
        return True
    if target is S.AVAILABLE or status is S.AVAILABLE:
        return False
    needs_cable = (S.CHARGING, S.FINISHING)
    return status in needs_cable or target in needs_cable or event in (E.TX_STARTED, E.EV_RESUME)


def _fire(c: Connector, event: ConnectorEvent) -> tuple[bool, ConnectorStatus]:
    """Fire `event`: whether the status changed, and the status now."""
    changed = c.fire(event)
    return changed, c.status


def _session(*events: ConnectorEvent, plugged: bool = False) -> Connector:
    c = Connector(1, plugged=plugged)
    for event in events:
        c.fire(event)
    return c


def test_table_covers_every_status() -> None:
    assert set(TRANSITIONS) == set(S)
    for row in TRANSITIONS.values():
        assert all(isinstance(t, S) for t in row.values())


@pytest.mark.parametrize(("status", "event", "target"), ALLOWED)
def test_every_allowed_transition(
    status: ConnectorStatus, event: ConnectorEvent, target: ConnectorStatus
) -> None:
    c = Connector(7, status=status, plugged=_cable_for(status, event, target))
    assert c.can(event)
    assert c.fire(event) is (target is not status)
    assert c.status is target


@pytest.mark.parametrize(("status", "event"), FORBIDDEN)
@pytest.mark.parametrize("plugged", [False, True])
def test_every_missing_transition_raises_and_changes_nothing(
    status: ConnectorStatus, event: ConnectorEvent, plugged: bool
) -> None:
    if status is S.AVAILABLE and plugged:
        plugged = False  # an Available connector has no cable
    if status in (S.CHARGING, S.FINISHING):
        plugged = True
    c = Connector(3, status=status, plugged=plugged)
    before = (c.status, c.plugged, c.pending_unavailable, c.error_code)
    assert not c.can(event)
    with pytest.raises(IllegalTransition) as info:
        c.fire(event)
    assert (c.status, c.plugged, c.pending_unavailable, c.error_code) == before
    assert info.value.status is status and info.value.event is event
    assert status.value in str(info.value) and event.value in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("event", [E.TX_STARTED, E.EV_RESUME])
def test_energy_events_need_a_cable(event: ConnectorEvent) -> None:
    status = S.PREPARING if event is E.TX_STARTED else S.SUSPENDED_EV
    c = Connector(1, status=status, plugged=False)
    assert not c.can(event)
    with pytest.raises(IllegalTransition, match="no EV connected"):
        c.fire(event)
    assert c.status is status


def test_full_session() -> None:
    c = Connector(1)
    steps = [
        (E.PLUG_IN, S.PREPARING, True),
        (E.AUTHORIZED, S.PREPARING, False),
        (E.TX_STARTED, S.CHARGING, True),
        (E.EV_SUSPEND, S.SUSPENDED_EV, True),
        (E.EV_RESUME, S.CHARGING, True),
        (E.TX_STOPPED, S.FINISHING, True),
        (E.UNPLUG, S.AVAILABLE, True),
    ]
    for event, status, changed in steps:
        assert c.fire(event) is changed, event
        assert c.status is status, event
    assert not c.plugged and not c.pending_unavailable


def test_remote_start_before_the_cable() -> None:
    c = _session(E.AUTHORIZED)
    assert c.status is S.PREPARING and not c.plugged
    assert not c.can(E.TX_STARTED)
    c.fire(E.PLUG_IN)
    assert _fire(c, E.TX_STARTED) == (True, S.CHARGING)


def test_authorisation_timeout_without_cable_is_available_with_cable_finishing() -> None:
    assert _session(E.AUTHORIZED, E.DEAUTHORIZED).status is S.AVAILABLE  # B1
    c = _session(E.PLUG_IN, E.DEAUTHORIZED)  # B6
    assert c.status is S.FINISHING
    assert _fire(c, E.AUTHORIZED) == (True, S.PREPARING)  # F2


def test_ev_side_disconnect_keeps_the_transaction_until_stopped() -> None:
    c = _session(E.PLUG_IN, E.AUTHORIZED, E.TX_STARTED)
    assert _fire(c, E.UNPLUG) == (True, S.SUSPENDED_EV)
    assert not c.can(E.EV_RESUME)
    c.fire(E.PLUG_IN)  # reconnected: energy may flow again
    assert _fire(c, E.EV_RESUME) == (True, S.CHARGING)
    c.fire(E.UNPLUG)
    assert _fire(c, E.TX_STOPPED) == (True, S.AVAILABLE)  # C1/D1: no user action left


def test_stop_then_unplug_reports_finishing_then_available() -> None:
    c = _session(E.PLUG_IN, E.TX_STARTED)
    assert _fire(c, E.TX_STOPPED) == (True, S.FINISHING)
    assert _fire(c, E.UNPLUG) == (True, S.AVAILABLE)


def test_evse_resume_without_ev_settles_in_suspended_ev() -> None:
    c = _session(E.PLUG_IN, E.TX_STARTED, E.EVSE_SUSPEND, E.UNPLUG)
    assert c.status is S.SUSPENDED_EVSE
    assert _fire(c, E.EVSE_RESUME) == (True, S.SUSPENDED_EV)  # E4


@pytest.mark.parametrize("suspend", [None, E.EV_SUSPEND, E.EVSE_SUSPEND])
def test_change_availability_scheduled_during_a_transaction(
    suspend: ConnectorEvent | None,
) -> None:
    c = _session(E.PLUG_IN, E.AUTHORIZED, E.TX_STARTED)
    if suspend is not None:
        c.fire(suspend)
    status = c.status
    assert c.fire(E.MAKE_UNAVAILABLE) is False  # "Scheduled": no status change
    assert c.pending_unavailable and c.status is status
    assert _fire(c, E.TX_STOPPED) == (True, S.FINISHING)  # C6: the cable is still in
    assert c.pending_unavailable
    assert _fire(c, E.UNPLUG) == (True, S.UNAVAILABLE)  # F8, not Available
    assert not c.pending_unavailable
    assert _fire(c, E.MAKE_AVAILABLE) == (True, S.AVAILABLE)  # H1


def test_scheduled_unavailability_when_the_ev_left_first() -> None:
    c = _session(E.PLUG_IN, E.TX_STARTED, E.MAKE_UNAVAILABLE, E.UNPLUG)
    assert c.status is S.SUSPENDED_EV and c.pending_unavailable
    assert _fire(c, E.TX_STOPPED) == (True, S.UNAVAILABLE)  # C8/D8


def test_operative_cancels_a_scheduled_inoperative() -> None:
    c = _session(E.PLUG_IN, E.TX_STARTED, E.MAKE_UNAVAILABLE)
    assert c.fire(E.MAKE_AVAILABLE) is False and not c.pending_unavailable
    c.fire(E.TX_STOPPED)
    assert _fire(c, E.UNPLUG) == (True, S.AVAILABLE)


def test_inoperative_is_immediate_without_a_transaction() -> None:
    assert _session(E.MAKE_UNAVAILABLE).status is S.UNAVAILABLE  # A8
    c = _session(E.PLUG_IN, E.MAKE_UNAVAILABLE)
    assert c.status is S.UNAVAILABLE and c.plugged
    assert _fire(c, E.MAKE_AVAILABLE) == (True, S.PREPARING)  # H2
    assert _session(E.AUTHORIZED, E.MAKE_UNAVAILABLE).status is S.UNAVAILABLE


def test_inoperative_is_scheduled_while_finishing() -> None:
    c = _session(E.PLUG_IN, E.TX_STARTED, E.TX_STOPPED)
    assert _fire(c, E.MAKE_UNAVAILABLE) == (False, S.FINISHING)
    assert c.pending_unavailable
    assert _fire(c, E.AUTHORIZED) == (True, S.UNAVAILABLE)  # no new session (F2 refused)
    c = _session(E.PLUG_IN, E.TX_STARTED, E.TX_STOPPED, E.MAKE_UNAVAILABLE)
    assert _fire(c, E.UNPLUG) == (True, S.UNAVAILABLE)  # F8


def test_inoperative_is_scheduled_while_reserved() -> None:
    c = _session(E.RESERVE, E.MAKE_UNAVAILABLE)
    assert c.status is S.RESERVED and c.pending_unavailable
    assert _fire(c, E.RESERVATION_ENDED) == (True, S.UNAVAILABLE)  # G8
    c = _session(E.RESERVE, E.MAKE_UNAVAILABLE)
    assert _fire(c, E.AUTHORIZED) == (True, S.UNAVAILABLE)  # reservation used up: G8


def test_reservation() -> None:
    c = _session(E.RESERVE)
    assert c.status is S.RESERVED
    assert _fire(c, E.PLUG_IN) == (False, S.RESERVED)  # not the holder (yet)
    assert _fire(c, E.AUTHORIZED) == (True, S.PREPARING)  # G2
    c = _session(E.RESERVE, E.PLUG_IN)
    assert _fire(c, E.RESERVATION_ENDED) == (True, S.PREPARING)  # cable in


@pytest.mark.parametrize("status", list(S))
def test_fault_from_every_status(status: ConnectorStatus) -> None:
    c = Connector(2, status=status, plugged=status in (S.CHARGING, S.FINISHING))
    assert c.fire(E.FAULT) is (status is not S.FAULTED)
    assert c.status is S.FAULTED
    assert c.error_code == "OtherError"


def test_fault_keeps_a_specific_error_code_and_clears_it() -> None:
    c = Connector(1)
    c.error_code = "GroundFailure"
    c.fire(E.FAULT)
    assert c.error_code == "GroundFailure"
    assert _fire(c, E.FAULT_CLEARED) == (True, S.AVAILABLE) and c.error_code == "NoError"


def test_fault_clears_to_the_idle_status_matching_the_cable() -> None:
    c = _session(E.PLUG_IN, E.TX_STARTED, E.FAULT)
    c.fire(E.TX_STOPPED)  # the charger ends the interrupted transaction
    assert c.status is S.FAULTED
    assert _fire(c, E.FAULT_CLEARED) == (True, S.PREPARING)  # I2
    c = _session(E.MAKE_UNAVAILABLE, E.FAULT)
    assert c.pending_unavailable  # Inoperative survives the fault
    assert _fire(c, E.FAULT_CLEARED) == (True, S.UNAVAILABLE)  # I8
    c = _session(E.FAULT, E.MAKE_UNAVAILABLE)
    assert _fire(c, E.FAULT_CLEARED) == (True, S.UNAVAILABLE)


def test_inconsistent_connectors_are_refused() -> None:
    with pytest.raises(ValueError):
        Connector(1, status=S.AVAILABLE, plugged=True)
    with pytest.raises(ValueError):
        Connector(1, status=S.CHARGING, plugged=False)
    with pytest.raises(ValueError):
        Connector(1, status=S.UNAVAILABLE, pending_unavailable=True)
    with pytest.raises(ValueError):
        Connector(1, status=S.PREPARING, pending_unavailable=True)


def test_status_201() -> None:
    expected = {
        S.AVAILABLE: "Available",
        S.PREPARING: "Occupied",
        S.CHARGING: "Occupied",
        S.SUSPENDED_EV: "Occupied",
        S.SUSPENDED_EVSE: "Occupied",
        S.FINISHING: "Occupied",
        S.RESERVED: "Reserved",
        S.UNAVAILABLE: "Unavailable",
        S.FAULTED: "Faulted",
    }
    assert {s: status_201(s) for s in S} == expected
    assert {s for s in S if occupied(s)} == {s for s, v in expected.items() if v == "Occupied"}


def test_enum_values() -> None:
    assert [s.value for s in S] == [
        "Available",
        "Preparing",
        "Charging",
        "SuspendedEV",
        "SuspendedEVSE",
        "Finishing",
        "Reserved",
        "Unavailable",
        "Faulted",
    ]
    assert all(e.value == e.name.lower() for e in E)


@given(st.lists(st.sampled_from(list(E)), max_size=60))
def test_random_event_sequences(events: list[ConnectorEvent]) -> None:
    c = Connector(1)
    for event in events:
        before = (c.status, c.plugged, c.pending_unavailable, c.error_code)
        legal = c.can(event)
        try:
            changed = c.fire(event)
        except IllegalTransition:
            assert not legal
            assert (c.status, c.plugged, c.pending_unavailable, c.error_code) == before
            continue
        assert legal
        target = TRANSITIONS[before[0]][event]
        assert c.status is target or (target, c.status) in SETTLES
        assert changed is (c.status is not before[0])
        # The invariants the settling rules keep.
        assert isinstance(c.status, ConnectorStatus)
        assert not (c.status is S.AVAILABLE and c.plugged)
        assert not (c.status in (S.CHARGING, S.FINISHING) and not c.plugged)
        assert not (c.pending_unavailable and c.status not in SCHEDULES_INOPERATIVE)
        assert (c.error_code != "NoError") is (c.status is S.FAULTED)
        if event is E.PLUG_IN:
            assert c.plugged
        if event is E.UNPLUG:
            assert not c.plugged
