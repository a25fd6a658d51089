"""The cheap ChargePoint set-up (ocpp_routing.init_charge_point) stays what the library's
own __init__ does: the same attributes, and the same routes."""

from __future__ import annotations

from typing import Any

from ocpp.routing import create_route_map
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v201 import ChargePoint as ChargePoint201

from ocpp_chaos.simulator.charger import VirtualCharger
from ocpp_chaos.simulator.charger201 import VirtualCharger201


async def _pair(charger: VirtualCharger, base: type) -> tuple[Any, Any]:
    ours = charger._make_cp(object())
    library = base.__new__(type(ours))
    base.__init__(library, charger.charger_id, object(), response_timeout=charger.call_timeout)
    return ours, library


async def test_same_attributes_as_the_library_init() -> None:
    for charger, base in (
        (VirtualCharger("A", "ws://127.0.0.1:1"), ChargePoint16),
        (VirtualCharger201("B", "ws://127.0.0.1:1"), ChargePoint201),
    ):
        ours, library = await _pair(charger, base)
        assert set(vars(ours)) - {"charger"} == set(vars(library))
        assert ours._response_timeout == library._response_timeout
        assert type(ours._call_lock) is type(library._call_lock)
        assert type(ours._response_queue) is type(library._response_queue)
        assert ours.logger is library.logger


async def test_same_routes_bound_to_the_instance() -> None:
    for charger, base in (
        (VirtualCharger("A", "ws://127.0.0.1:1"), ChargePoint16),
        (VirtualCharger201("B", "ws://127.0.0.1:1"), ChargePoint201),
    ):
        ours, _ = await _pair(charger, base)
        expected = create_route_map(ours)
        assert set(ours.route_map) == set(expected) and len(expected) > 10
        for action, handlers in expected.items():
            got = ours.route_map[action]
            assert set(got) == set(handlers)
            for option, handler in handlers.items():
                if option == "_skip_schema_validation":
                    assert got[option] == handler
                else:
                    assert got[option] == handler and got[option].__self__ is ours


def test_validation_runs_inline() -> None:
    from ocpp import messages

    assert messages.ASYNC_VALIDATION is False


async def test_unknown_action_is_a_key_error() -> None:
    cp = VirtualCharger("A", "ws://127.0.0.1:1")._make_cp(object())
    try:
        cp.route_map["NoSuchAction"]
    except KeyError:
        pass
    else:
        raise AssertionError("expected KeyError")


def test_quick_validator_accepts_valid_and_raises_the_library_error_on_invalid() -> None:
    import pytest
    from ocpp import messages
    from ocpp.exceptions import FormatViolationError, ProtocolError, TypeConstraintViolationError

    from ocpp_chaos.ocpp_routing import QuickFirstValidator

    validator = messages.get_validator(2, "BootNotification", "1.6")
    assert isinstance(validator, QuickFirstValidator)
    ok = messages.Call("1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    messages._validate_payload(ok, "1.6")
    for payload, error in (
        ({"chargePointVendor": "V"}, ProtocolError),
        ({"chargePointVendor": 5, "chargePointModel": "M"}, TypeConstraintViolationError),
        ({"chargePointVendor": "V", "chargePointModel": "M", "x": 1}, FormatViolationError),
    ):
        with pytest.raises(error):
            messages._validate_payload(messages.Call("1", "BootNotification", payload), "1.6")
    # 1.6 schedules keep the library's decimal validator
    import decimal

    library = messages.get_validator(2, "SetChargingProfile", "1.6", decimal.Decimal)
    assert not isinstance(library, QuickFirstValidator)
