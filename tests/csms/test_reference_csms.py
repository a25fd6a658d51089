"""The reference CSMS over real sockets: flows, records, garbage handling, lifecycle."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from ocpp_chaos.csms import (
    BootPolicy,
    ReferenceCSMS,
    charger_id_from_path,
    ocpp_timestamp,
    run_csms,
)
from ocpp_chaos.testing.chargers import run_charger_flow

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
VERSIONS = ["1.6", "2.0.1", "2.1"]
STEP = 5.0  # seconds any single test step may take


@pytest.fixture
async def csms() -> AsyncIterator[ReferenceCSMS]:
    server = ReferenceCSMS(heartbeat_interval=42)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def raw(csms: ReferenceCSMS, charger_id: str, version: str) -> ClientConnection:
    """A bare WebSocket client, to send frames the ocpp library would never send."""
    return await connect(
        f"{csms.url}/ocpp/{charger_id}",
        subprotocols=[Subprotocol(f"ocpp{version}")],
        compression=None,
    )


async def reply(ws: ClientConnection) -> list[Any]:
    async with asyncio.timeout(STEP):
        frame = await ws.recv()
    assert isinstance(frame, str), "replies are text frames"
    value = json.loads(frame)
    assert isinstance(value, list)
    return value


async def heartbeat_answered(ws: ClientConnection, unique_id: str = "hb-1") -> None:
    """The connection still works: a valid Heartbeat is the next thing answered."""
    await ws.send(json.dumps([2, unique_id, "Heartbeat", {}]))
    answer = await reply(ws)
    assert answer[:2] == [3, unique_id]
    assert TIMESTAMP.match(answer[2]["currentTime"])


# -- full flows -------------------------------------------------------------------


async def test_flow_16_records_calls_and_transaction(csms: ReferenceCSMS) -> None:
    async with asyncio.timeout(20):
        result = await run_charger_flow(
            f"{csms.url}/ocpp", "CP16", "1.6", transactions=1, meter_samples=2, heartbeats=2
        )
        await csms.wait_for(lambda: not csms.connected)

    assert result.boot_status == "Accepted"
    assert result.transaction_id == 1
    expected = [
        "BootNotification",
        "Heartbeat",
        "Heartbeat",
        "StatusNotification",
        "Authorize",
        "StatusNotification",
        "StartTransaction",
        "StatusNotification",
        "MeterValues",
        "MeterValues",
        "StopTransaction",
        "StatusNotification",
    ]
    assert result.actions_sent == expected
    assert len(result.rtts) == len(expected) and all(0 < rtt < STEP for rtt in result.rtts)

    assert csms.received_actions("CP16") == expected
    assert csms.received_actions("someone-else") == []
    boot = csms.received[0]
    assert (boot.charger_id, boot.protocol, boot.action) == ("CP16", "1.6", "BootNotification")
    assert boot.payload["chargePointVendor"] == "ocpp-chaos"  # as sent, camelCase
    statuses = [r.payload["status"] for r in csms.received if r.action == "StatusNotification"]
    assert statuses == ["Available", "Preparing", "Charging", "Available"]

    record = csms.transactions[1]
    assert (record.charger_id, record.protocol, record.id_tag) == ("CP16", "1.6", "CHAOS-TAG-1")
    assert (record.meter_start, record.meter_stop) == (1000.0, 1500.0)
    assert record.ended and record.stop_reason == "Local"
    assert record.events == ["Started", "MeterValues", "MeterValues", "Stopped"]
    assert len(record.meter_values) == 2
    assert record.started_at is not None and TIMESTAMP.match(record.started_at)


async def test_flow_16_transaction_ids_increase(csms: ReferenceCSMS) -> None:
    async with asyncio.timeout(20):
        first = await run_charger_flow(f"{csms.url}/ocpp", "CP-A", "1.6", transactions=2)
        second = await run_charger_flow(f"{csms.url}/ocpp", "CP-B", "1.6")
    assert (first.transaction_id, second.transaction_id) == (2, 3)
    assert sorted(k for k in csms.transactions if isinstance(k, int)) == [1, 2, 3]
    assert csms.transactions[3].charger_id == "CP-B"


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_flow_2x_records_transaction_events(csms: ReferenceCSMS, version: str) -> None:
    async with asyncio.timeout(20):
        result = await run_charger_flow(f"{csms.url}/ocpp", "CP2", version, meter_samples=3)
        await csms.wait_for(lambda: not csms.connected)

    assert result.boot_status == "Accepted"
    assert isinstance(result.transaction_id, str)
    expected = [
        "BootNotification",
        "Heartbeat",
        "StatusNotification",
        "Authorize",
        "StatusNotification",
        "TransactionEvent",
        "TransactionEvent",
        "TransactionEvent",
        "TransactionEvent",
        "TransactionEvent",
        "StatusNotification",
    ]
    assert result.actions_sent == expected == csms.received_actions("CP2")
    assert {r.protocol for r in csms.received} == {version}
    statuses = [
        r.payload["connectorStatus"] for r in csms.received if r.action == "StatusNotification"
    ]
    assert statuses == ["Available", "Occupied", "Available"]

    record = csms.transactions[result.transaction_id]
    assert record.events == ["Started", "Updated", "Updated", "Updated", "Ended"]
    assert record.seq_nos == [0, 1, 2, 3, 4]
    assert (record.meter_start, record.meter_stop) == (1000.0, 1750.0)
    assert (record.evse_id, record.connector_id, record.id_tag) == (1, 1, "CHAOS-TAG-1")
    assert record.ended and record.stop_reason == "Local"
    assert len(record.meter_values) == 5
    assert record.meter_values[0]["sampledValue"][0]["unitOfMeasure"] == {"unit": "Wh"}


@pytest.mark.parametrize("version", VERSIONS)
async def test_boot_and_heartbeat_answers(csms: ReferenceCSMS, version: str) -> None:
    boot: dict[str, Any] = (
        {"chargePointVendor": "V", "chargePointModel": "M"}
        if version == "1.6"
        else {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}
    )
    async with asyncio.timeout(STEP):
        ws = await raw(csms, "CP-boot", version)
        async with ws:
            assert ws.subprotocol == f"ocpp{version}"
            await ws.send(json.dumps([2, "b-1", "BootNotification", boot]))
            answer = await reply(ws)
            await heartbeat_answered(ws)
    assert answer[:2] == [3, "b-1"]
    assert answer[2]["status"] == "Accepted"
    assert answer[2]["interval"] == 42
    assert TIMESTAMP.match(answer[2]["currentTime"])


def boot_payload(version: str) -> dict[str, Any]:
    if version == "1.6":
        return {"chargePointVendor": "V", "chargePointModel": "M"}
    return {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("status", ["Pending", "Rejected"])
async def test_boots_held_pending_then_accepted(version: str, status: str) -> None:
    policy = BootPolicy(status, hold=1.5)  # type: ignore[arg-type]
    async with ReferenceCSMS(heartbeat_interval=42, boot=policy) as csms:
        async with asyncio.timeout(STEP), await raw(csms, "CP-held", version) as ws:
            await ws.send(json.dumps([2, "h-0", "Heartbeat", {}]))  # before any boot
            assert (await reply(ws))[:3] == [4, "h-0", "SecurityError"]
            await ws.send(json.dumps([2, "b-1", "BootNotification", boot_payload(version)]))
            first = await reply(ws)
            assert first[2]["status"] == status
            assert first[2]["interval"] == 2  # the hold left, rounded up
            await ws.send(json.dumps([2, "h-1", "Heartbeat", {}]))
            assert (await reply(ws))[:3] == [4, "h-1", "SecurityError"]
            await asyncio.sleep(1.6)
            await ws.send(json.dumps([2, "b-2", "BootNotification", boot_payload(version)]))
            second = await reply(ws)
            assert second[2]["status"] == "Accepted"
            assert second[2]["interval"] == 42
            await heartbeat_answered(ws)
        # accepted for good: a reconnect without a boot is served
        async with asyncio.timeout(STEP), await raw(csms, "CP-held", version) as ws:
            await heartbeat_answered(ws)
    assert csms.received_actions("CP-held").count("Heartbeat") == 4  # refused ones recorded


async def test_while_pending_the_csms_takes_what_it_asked_for() -> None:
    from ocpp.v201 import call as call_201

    async with ReferenceCSMS(boot=BootPolicy("Pending", hold=60)) as csms:
        async with asyncio.timeout(STEP), await raw(csms, "CP-trig", "2.0.1") as ws:
            await ws.send(json.dumps([2, "b-1", "BootNotification", boot_payload("2.0.1")]))
            assert (await reply(ws))[2]["status"] == "Pending"
            asked = asyncio.create_task(
                csms.call("CP-trig", call_201.TriggerMessage(requested_message="Heartbeat"))
            )
            command = await reply(ws)
            assert command[2] == "TriggerMessage"
            await ws.send(json.dumps([3, command[1], {"status": "Accepted"}]))
            await asked
            await heartbeat_answered(ws)  # asked for
            status = {"timestamp": ocpp_timestamp(), "connectorStatus": "Available"}
            status |= {"evseId": 1, "connectorId": 1}
            await ws.send(json.dumps([2, "s-1", "StatusNotification", status]))
            assert (await reply(ws))[:3] == [4, "s-1", "SecurityError"]  # not asked for


def test_boot_policy_answers() -> None:
    assert BootPolicy().answer(0.0, 0.0, 300) == ("Accepted", 300)
    assert BootPolicy("Pending", 10).answer(100.0, 100.0, 300) == ("Pending", 10)
    assert BootPolicy("Rejected", 10).answer(100.0, 109.5, 300) == ("Rejected", 1)
    assert BootPolicy("Pending", 10).answer(100.0, 110.0, 300) == ("Accepted", 300)
    with pytest.raises(ValueError, match="boot status"):
        BootPolicy("Maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="hold"):
        BootPolicy("Pending", -1)


# -- garbage ------------------------------------------------------------------------

# (name, frame, binary, unique id expected, code for 1.6, code for 2.x)
MALFORMED = [
    (
        "bad_json",
        '[2, "bj-1", "Heartbeat", {',
        False,
        "-1",
        "FormationViolation",
        "RpcFrameworkError",
    ),
    (
        "not_a_list",
        '{"action": "Heartbeat"}',
        False,
        "-1",
        "FormationViolation",
        "RpcFrameworkError",
    ),
    ("empty_list", "[]", False, "-1", "ProtocolError", "RpcFrameworkError"),
    (
        "wrong_arity",
        '[2, "wa-1", "Heartbeat"]',
        False,
        "wa-1",
        "ProtocolError",
        "RpcFrameworkError",
    ),
    (
        "unknown_type_id",
        '[9, "ut-1", "Heartbeat", {}]',
        False,
        "ut-1",
        "ProtocolError",
        "MessageTypeNotSupported",
    ),
    (
        "unique_id_not_a_string",
        '[2, 17, "Heartbeat", {}]',
        False,
        "-1",
        "ProtocolError",
        "RpcFrameworkError",
    ),
    (
        "payload_not_an_object",
        '[2, "po-1", "Heartbeat", []]',
        False,
        "po-1",
        "FormationViolation",
        "FormatViolation",
    ),
    (
        "binary_call",
        b'[2,"bin-1","Heartbeat",{}]',
        True,
        "bin-1",
        "FormationViolation",
        "RpcFrameworkError",
    ),
    (
        "binary_garbage",
        b"\x00\xff\xfe garbage",
        True,
        "-1",
        "FormationViolation",
        "RpcFrameworkError",
    ),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("frame", "binary", "unique_id", "code_16", "code_2x"),
    [pytest.param(*case[1:], id=case[0]) for case in MALFORMED],
)
async def test_malformed_frame_gets_callerror_and_connection_survives(
    csms: ReferenceCSMS,
    version: str,
    frame: str | bytes,
    binary: bool,
    unique_id: str,
    code_16: str,
    code_2x: str,
) -> None:
    async with asyncio.timeout(STEP):
        ws = await raw(csms, "CP-garbage", version)
        async with ws:
            await ws.send(frame, text=not binary)
            answer = await reply(ws)
            await heartbeat_answered(ws)
    assert answer[0] == 4, "a CALLERROR"
    assert answer[1] == unique_id
    assert answer[2] == (code_16 if version == "1.6" else code_2x)
    assert isinstance(answer[3], str) and isinstance(answer[4], dict)
    assert csms.received_actions() == ["Heartbeat"], "garbage is not recorded as a CALL"


@pytest.mark.parametrize("version", VERSIONS)
async def test_broken_responses_are_not_answered(csms: ReferenceCSMS, version: str) -> None:
    async with asyncio.timeout(STEP):
        ws = await raw(csms, "CP-resp", version)
        async with ws:
            await ws.send('[3, "r-1"]')  # a CALLRESULT of the wrong arity
            await ws.send('[4, "r-2", 500, "", {}]')  # a CALLERROR with a numeric code
            await ws.send('[3, "r-3", {}]')  # a response to nothing we asked
            # The Heartbeat's answer is the first frame back: nothing answered the above.
            await heartbeat_answered(ws)


@pytest.mark.parametrize("version", VERSIONS)
async def test_garbage_burst_then_flow(csms: ReferenceCSMS, version: str) -> None:
    async with asyncio.timeout(STEP * 2):
        ws = await raw(csms, "CP-burst", version)
        async with ws:
            for case in MALFORMED:
                await ws.send(case[1], text=not case[2])
            answers = [await reply(ws) for _ in MALFORMED]
            await heartbeat_answered(ws)
        result = await run_charger_flow(f"{csms.url}/ocpp", "CP-after", version)
    assert [a[0] for a in answers] == [4] * len(MALFORMED)
    assert [a[1] for a in answers] == [case[3] for case in MALFORMED]
    assert result.boot_status == "Accepted"


@pytest.mark.parametrize("version", VERSIONS)
async def test_unknown_and_unsupported_actions(csms: ReferenceCSMS, version: str) -> None:
    async with asyncio.timeout(STEP):
        ws = await raw(csms, "CP-actions", version)
        async with ws:
            await ws.send('[2, "u-1", "FlyToTheMoon", {}]')
            unknown = await reply(ws)
            # Reset exists in every version, but a CSMS never handles it.
            await ws.send('[2, "u-2", "Reset", {"type": "Hard"}]')
            unsupported = await reply(ws)
            await heartbeat_answered(ws)
    assert unknown[:3] == [4, "u-1", "NotImplemented"]
    assert unsupported[:3] == [4, "u-2", "NotSupported"]
    assert csms.received_actions() == ["FlyToTheMoon", "Reset", "Heartbeat"]


@pytest.mark.parametrize("version", VERSIONS)
async def test_schema_violations_get_the_version_spelling(
    csms: ReferenceCSMS, version: str
) -> None:
    async with asyncio.timeout(STEP):
        ws = await raw(csms, "CP-schema", version)
        async with ws:
            await ws.send('[2, "s-1", "Heartbeat", {"unexpected": 1}]')
            extra = await reply(ws)
            await ws.send('[2, "s-2", "Authorize", {}]')
            missing = await reply(ws)
            await heartbeat_answered(ws)
    assert extra[:3] == [4, "s-1", "FormationViolation" if version == "1.6" else "FormatViolation"]
    assert missing[:3] == [4, "s-2", "ProtocolError"]


@pytest.mark.parametrize(("version", "answered"), [("1.6", True), ("2.0.1", True), ("2.1", False)])
async def test_ocpp21_message_types(csms: ReferenceCSMS, version: str, answered: bool) -> None:
    """SEND (6) is valid in 2.1 only, and never answered there."""
    async with asyncio.timeout(STEP):
        ws = await raw(csms, "CP-send", version)
        async with ws:
            await ws.send('[6, "t-1", "NotifyPeriodicEventStream", {}]')
            if answered:
                answer = await reply(ws)
                assert answer[:2] == [4, "t-1"]
                assert answer[2] == (
                    "ProtocolError" if version == "1.6" else "MessageTypeNotSupported"
                )
            await heartbeat_answered(ws)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_data_transfer(csms: ReferenceCSMS, version: str) -> None:
    async with asyncio.timeout(STEP):
        ws = await raw(csms, "CP-dt", version)
        async with ws:
            await ws.send('[2, "d-1", "DataTransfer", {"vendorId": "ocpp-chaos", "data": "x"}]')
            known = await reply(ws)
            await ws.send('[2, "d-2", "DataTransfer", {"vendorId": "com.acme"}]')
            unknown = await reply(ws)
    assert known == [3, "d-1", {"status": "Accepted"}]
    assert unknown == [3, "d-2", {"status": "UnknownVendorId"}]


async def test_invalid_utf8_closes_with_1007_and_csms_carries_on(csms: ReferenceCSMS) -> None:
    """websockets itself closes on invalid UTF-8 in a text frame (RFC 6455): not ours to answer."""
    async with asyncio.timeout(STEP):
        ws = await raw(csms, "CP-utf8", "1.6")
        await ws.send(b'[2,"x","Heartbeat",{}]\xff', text=True)
        await ws.wait_closed()
        assert ws.close_code == 1007
        await csms.wait_for(lambda: not csms.connected)
        result = await run_charger_flow(f"{csms.url}/ocpp", "CP-utf8", "1.6")
    assert result.boot_status == "Accepted"


# -- connections ------------------------------------------------------------------------


async def test_two_chargers_at_once(csms: ReferenceCSMS) -> None:
    async with asyncio.timeout(20):
        a, b = await raw(csms, "A", "1.6"), await raw(csms, "B", "2.0.1")
        a2 = await raw(csms, "A", "1.6")
        await csms.wait_for(lambda: csms.connected == {"A": 2, "B": 1})
        for ws in (a, b, a2):
            await ws.close()
        await csms.wait_for(lambda: csms.connected == {})

        r16, r201 = await asyncio.gather(
            run_charger_flow(f"{csms.url}/ocpp", "CP-1", "1.6", meter_samples=5),
            run_charger_flow(f"{csms.url}/ocpp", "CP-2", "2.0.1", meter_samples=5),
        )
    assert csms.received_actions("CP-1") == r16.actions_sent
    assert csms.received_actions("CP-2") == r201.actions_sent
    assert csms.transactions[r16.transaction_id or 0].charger_id == "CP-1"
    assert csms.transactions[r201.transaction_id or ""].charger_id == "CP-2"


async def test_stop_closes_every_connection(csms: ReferenceCSMS) -> None:
    async with asyncio.timeout(STEP):
        clients = [await raw(csms, f"S{n}", v) for n, v in enumerate(VERSIONS)]
        await csms.wait_for(lambda: len(csms.connected) == 3)
        await csms.stop()
        for ws in clients:
            await ws.wait_closed()
            assert ws.close_code == 1001  # going away
        assert csms.connected == {}
        await csms.stop()  # idempotent
        with pytest.raises(OSError):
            await connect(f"{csms.url}/ocpp/late", subprotocols=[Subprotocol("ocpp1.6")])


async def test_charger_id_is_last_segment_percent_decoded(csms: ReferenceCSMS) -> None:
    async with asyncio.timeout(STEP):
        async with connect(
            f"{csms.url}/ocpp/v1/CP%2F7%20x?token=1", subprotocols=[Subprotocol("ocpp1.6")]
        ) as ws:
            await csms.wait_for(lambda: "CP/7 x" in csms.connected)
            await heartbeat_answered(ws)
        result = await run_charger_flow(f"{csms.url}/ocpp/", "id with/slash", "2.0.1")
    assert csms.received[0].charger_id == "CP/7 x"
    assert set(csms.received_actions("id with/slash")) >= {"BootNotification"}
    assert result.boot_status == "Accepted"
    assert charger_id_from_path("/a/b%20c?d=e") == "b c"


async def test_missing_charger_id_and_subprotocol_are_rejected(csms: ReferenceCSMS) -> None:
    async with asyncio.timeout(STEP):
        with pytest.raises(InvalidStatus) as no_id:
            await connect(f"{csms.url}/ocpp/", subprotocols=[Subprotocol("ocpp1.6")])
        with pytest.raises(InvalidStatus) as no_subprotocol:
            await connect(f"{csms.url}/ocpp/CP")
        with pytest.raises(InvalidStatus) as wrong_subprotocol:
            await connect(f"{csms.url}/ocpp/CP", subprotocols=[Subprotocol("ocpp1.5")])
    assert no_id.value.response.status_code == 404
    assert no_subprotocol.value.response.status_code == 400
    assert wrong_subprotocol.value.response.status_code == 400
    assert csms.connected == {}


async def test_subprotocol_follows_charger_preference() -> None:
    async with asyncio.timeout(STEP):
        async with ReferenceCSMS(subprotocols=("ocpp1.6", "ocpp2.0.1")) as only_two:
            offered = [Subprotocol("ocpp2.1"), Subprotocol("ocpp2.0.1"), Subprotocol("ocpp1.6")]
            async with connect(f"{only_two.url}/ocpp/CP", subprotocols=offered) as ws:
                assert ws.subprotocol == "ocpp2.0.1"
            with pytest.raises(InvalidStatus):
                await connect(f"{only_two.url}/ocpp/CP", subprotocols=[Subprotocol("ocpp2.1")])
    with pytest.raises(ValueError, match="unsupported subprotocols"):
        ReferenceCSMS(subprotocols=("ocpp1.5",))


async def test_wait_for_times_out(csms: ReferenceCSMS) -> None:
    async with asyncio.timeout(STEP):
        with pytest.raises(TimeoutError):
            await csms.wait_for(lambda: False, timeout=0.05)


async def test_run_csms_serves_until_cancelled() -> None:
    # The suite's conftest filters below WARNING; csms_listening is an info event.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    async with asyncio.timeout(STEP * 2):
        with structlog.testing.capture_logs() as logs:
            task = asyncio.create_task(run_csms("127.0.0.1", 0, heartbeat_interval=7))
            while not any(e["event"] == "csms_listening" for e in logs):
                await asyncio.sleep(0.01)
            url = next(e["url"] for e in logs if e["event"] == "csms_listening")
            result = await run_charger_flow(f"{url}/ocpp", "CP-cli", "1.6")
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert result.boot_status == "Accepted"
    assert any(e["event"] == "csms_stopped" for e in logs)


def test_ocpp_timestamp_has_milliseconds() -> None:
    assert TIMESTAMP.match(ocpp_timestamp())
