"""The CSMS oracle, sans IO: frames in with fixed clocks, findings out."""

from __future__ import annotations

import json
from typing import Any

import pytest
import structlog

from ocpp_chaos.frames import Direction
from ocpp_chaos.proxy.monitor import SessionMonitor
from ocpp_chaos.proxy.oracle import (
    HISTOGRAM_BOUNDS,
    KINDS,
    Finding,
    Oracle,
    OracleConfig,
    ResponseTimes,
)

UP, DOWN = Direction.UP, Direction.DOWN
NOW = "2026-11-25T10:00:00.000Z"
WALL = 1.7e9


def frame(*items: Any) -> bytes:
    return json.dumps(list(items)).encode()


class Link:
    """One session as the proxy relays it, with no rules: every frame the charger sends is
    written to the CSMS unchanged; every frame of the CSMS is read. Times are set by hand."""

    def __init__(
        self,
        subprotocol: str = "ocpp1.6",
        *,
        charger: str = "CP1",
        session: str = "s1",
        oracle: Oracle | None = None,
        config: OracleConfig | None = None,
        now: float = 100.0,
    ) -> None:
        self.now = now
        self.oracle = oracle or Oracle(config or OracleConfig(), wall_clock=lambda: WALL)
        self.monitor = SessionMonitor(session, charger, subprotocol, clock=lambda: self.now)
        self.watch = self.oracle.session_open(
            session,
            charger,
            subprotocol,
            now,
            offered=[subprotocol],
            selected=subprotocol,
            schema=self.monitor.schema,
        )

    def up(self, data: bytes, after: float = 0.0) -> None:
        """The charger sends `data`; the proxy writes it to the CSMS unchanged."""
        self.now += after
        message, _pairing, _verdict = self.monitor.see(UP, data)
        self.watch.written(message, self.now)

    def made_up(self, data: bytes, after: float = 0.0, binary: bool = False) -> None:
        """A rule writes `data` to the CSMS (corrupted, injected): never read from the charger."""
        self.now += after
        self.watch.written_frame(data, binary, self.now)

    def down(self, data: bytes, after: float = 0.0) -> None:
        """The CSMS sends `data`: read by the proxy (and checked by the monitor first)."""
        self.now += after
        message, pairing, verdict = self.monitor.see(DOWN, data)
        self.watch.read(message, pairing.action, verdict, self.now)

    def close(self, by: str | None = "charger", code: int | None = 1000, after: float = 0.0):
        self.now += after
        self.watch.closed(self.now, by=by, code=code, reason="bye")

    def kinds(self) -> list[str]:
        found = self.oracle.findings()
        assert all(f.kind in KINDS for f in found)
        return [f.kind for f in found]


BOOT_16 = {"chargePointVendor": "V", "chargePointModel": "M"}
BOOT_16_OK = {"status": "Accepted", "currentTime": NOW, "interval": 300}
BOOT_201 = {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}
START = {"connectorId": 1, "idTag": "TAG1", "meterStart": 0, "timestamp": NOW}


def boot_201(link: Link, status: str = "Accepted", uid: str = "b") -> None:
    link.up(frame(2, uid, "BootNotification", BOOT_201))
    link.down(frame(3, uid, {"currentTime": NOW, "interval": 10, "status": status}))


def tx_event(seq: int, txid: str = "T1", event: str = "Updated") -> dict[str, Any]:
    return {
        "eventType": event,
        "timestamp": NOW,
        "triggerReason": "MeterValuePeriodic",
        "seqNo": seq,
        "transactionInfo": {"transactionId": txid},
    }


# -- a correct CSMS gives nothing ----------------------------------------------------------


def test_a_correct_16_charge_cycle_gives_no_finding_and_response_times() -> None:
    link = Link()
    link.up(frame(2, "1", "BootNotification", BOOT_16))
    link.down(frame(3, "1", BOOT_16_OK), after=0.01)
    link.up(frame(2, "2", "Heartbeat", {}), after=1)
    link.down(frame(3, "2", {"currentTime": NOW}), after=0.02)
    link.up(frame(2, "3", "StartTransaction", START), after=1)
    link.down(frame(3, "3", {"idTagInfo": {"status": "Accepted"}, "transactionId": 7}), after=0.05)
    mv = {
        "connectorId": 1,
        "transactionId": 7,
        "meterValue": [{"timestamp": NOW, "sampledValue": [{"value": "10"}]}],
    }
    link.up(frame(2, "4", "MeterValues", mv), after=1)
    link.down(frame(3, "4", {}), after=0.01)
    # the CSMS asks something, the charger answers, then it asks again: not concurrent
    link.down(frame(2, "c1", "Reset", {"type": "Soft"}), after=1)
    link.up(frame(3, "c1", {"status": "Accepted"}), after=0.01)
    link.down(frame(2, "c2", "ClearCache", {}), after=0.01)
    link.up(frame(3, "c2", {"status": "Accepted"}), after=0.01)
    stop = {"transactionId": 7, "meterStop": 10, "timestamp": NOW}
    link.up(frame(2, "5", "StopTransaction", stop), after=1)
    link.down(frame(3, "5", {}), after=0.01)
    link.oracle.tick(link.now + 60)
    link.close(after=1)
    assert link.oracle.finish(link.now + 100) == []
    assert link.kinds() == []
    times = link.oracle.response_times()
    assert set(times) == {
        "BootNotification",
        "Heartbeat",
        "StartTransaction",
        "MeterValues",
        "StopTransaction",
    }
    assert times["StartTransaction"]["count"] == 1
    assert times["StartTransaction"]["p50"] == pytest.approx(0.05)
    assert times["Heartbeat"]["max"] == pytest.approx(0.02)


def test_a_correct_201_session_gives_no_finding() -> None:
    link = Link("ocpp2.0.1")
    boot_201(link)
    link.up(frame(2, "h", "Heartbeat", {}), after=1)
    link.down(frame(3, "h", {"currentTime": NOW}))
    for seq, event in enumerate(["Started", "Updated", "Updated", "Ended"]):
        link.up(frame(2, f"t{seq}", "TransactionEvent", tx_event(seq, event=event)), after=1)
        link.down(frame(3, f"t{seq}", {}), after=0.01)
    link.close(after=1)
    link.oracle.finish(link.now + 100)
    assert link.kinds() == []


# -- timing --------------------------------------------------------------------------------


def test_slow_response_above_the_threshold_only_and_always_sampled() -> None:
    link = Link()
    link.up(frame(2, "a", "Heartbeat", {}))
    link.down(frame(3, "a", {"currentTime": NOW}), after=1.5)
    assert link.kinds() == []
    link.up(frame(2, "b", "Heartbeat", {}), after=1)
    link.down(frame(3, "b", {"currentTime": NOW}), after=2.5)
    assert link.kinds() == ["slow_response"]
    finding = link.oracle.findings()[0]
    assert finding.severity == "warning"
    assert finding.evidence["unique_id"] == "b" and finding.evidence["action"] == "Heartbeat"
    assert finding.evidence["rt_ms"] == pytest.approx(2500)
    assert finding.spec == "OCPP-J 1.6 §4.1.1"
    assert link.oracle.response_times()["Heartbeat"]["count"] == 2


def test_slow_threshold_is_configurable() -> None:
    link = Link(config=OracleConfig(slow_threshold=0.01))
    link.up(frame(2, "a", "Heartbeat", {}))
    link.down(frame(3, "a", {"currentTime": NOW}), after=0.02)
    assert link.kinds() == ["slow_response"]
    link.oracle.configure(slow=10)
    link.up(frame(2, "b", "Heartbeat", {}), after=1)
    link.down(frame(3, "b", {"currentTime": NOW}), after=5)
    assert link.kinds() == ["slow_response"]


def test_unanswered_call_is_reported_by_tick_once_and_a_late_answer_pairs() -> None:
    link = Link()
    link.up(frame(2, "a", "Heartbeat", {}))
    assert link.oracle.tick(link.now + 29.9) == []
    new = link.oracle.tick(link.now + 30.5)
    assert [f.kind for f in new] == ["unanswered_call"]
    assert new[0].severity == "error" and new[0].evidence["unique_id"] == "a"
    assert link.oracle.tick(link.now + 60) == []
    link.down(frame(3, "a", {"currentTime": NOW}), after=40)  # late: neither unknown nor slow
    assert link.kinds() == ["unanswered_call"]
    assert link.oracle.response_times()["Heartbeat"]["count"] == 1


def test_call_timeout_is_configurable() -> None:
    link = Link(config=OracleConfig(call_timeout=0.5))
    link.up(frame(2, "a", "Heartbeat", {}))
    assert [f.kind for f in link.oracle.tick(link.now + 0.6)] == ["unanswered_call"]


def test_a_session_closed_before_the_timeout_gives_a_warning_only_for_old_calls() -> None:
    link = Link()
    link.up(frame(2, "old", "Heartbeat", {}))
    link.up(frame(2, "new", "Heartbeat", {}), after=4)
    link.close(after=0.5)  # old: 4.5 s > 2 s slow threshold; new: 0.5 s
    assert link.kinds() == ["unanswered_at_close"]
    finding = link.oracle.findings()[0]
    assert finding.severity == "warning" and finding.evidence["unique_id"] == "old"
    assert link.oracle.tick(link.now + 100) == []
    assert link.oracle.finish(link.now + 100) == []


def test_a_session_closed_after_the_timeout_between_ticks_reports_unanswered() -> None:
    link = Link()
    link.up(frame(2, "a", "Heartbeat", {}))
    link.close(after=31)
    assert link.kinds() == ["unanswered_call"]


def test_finish_reports_open_calls_older_than_the_slow_threshold() -> None:
    link = Link()
    link.up(frame(2, "old", "Heartbeat", {}))
    link.up(frame(2, "flying", "Heartbeat", {}), after=9.9)
    new = link.oracle.finish(link.now + 0.1)
    assert [(f.kind, f.evidence["unique_id"]) for f in new] == [("unanswered_call", "old")]
    assert link.oracle.finish(link.now + 0.2) == []  # not twice


# -- pairing -------------------------------------------------------------------------------


def test_unknown_unique_id_never_sent_and_answered_twice() -> None:
    link = Link()
    link.down(frame(3, "ghost", {}))
    link.up(frame(2, "a", "Heartbeat", {}))
    link.down(frame(3, "a", {"currentTime": NOW}))
    link.down(frame(3, "a", {"currentTime": NOW}))
    link.down(frame(4, "zzz", "GenericError", "", {}))
    assert link.kinds() == ["unknown_unique_id"] * 3
    twice = [f.evidence["answered_twice"] for f in link.oracle.findings()]
    assert twice == [False, True, False]


def test_a_duplicated_frame_with_the_same_id_may_be_answered_once_or_twice() -> None:
    link = Link()
    link.up(frame(2, "d", "Heartbeat", {}))
    link.up(frame(2, "d", "Heartbeat", {}))  # the proxy's duplicate fault, same id
    link.down(frame(3, "d", {"currentTime": NOW}))
    link.oracle.tick(link.now + 60)
    assert link.kinds() == []  # one answer is enough
    link.down(frame(3, "d", {"currentTime": NOW}))  # the copy's answer is not unknown
    assert link.kinds() == []
    link.down(frame(3, "d", {"currentTime": NOW}))  # a third answer is
    assert link.kinds() == ["unknown_unique_id"]


def test_wrong_message_types() -> None:
    link = Link()
    link.down(frame(5, "x", "GenericError", "", {}))  # CALLRESULTERROR is 2.1 only
    link.down(frame(6, "x", "NotifyPeriodicEventStream", {}))  # SEND is 2.1 only
    link.down(frame(7, "x", {}))  # no such type
    link.down(frame(2, "c", "ClearCache", {}))
    link.down(frame(3, "c", {"status": "Accepted"}))  # answers its own CALL
    assert link.kinds() == ["wrong_response_type"] * 4
    assert link.oracle.findings()[0].evidence["message_type"] == 5


def test_21_message_types_are_fine_in_21() -> None:
    link = Link("ocpp2.1")
    link.down(frame(6, "x", "NotifyPeriodicEventStream", {}))
    link.down(frame(5, "x", "GenericError", "", {}))
    assert link.kinds() == []


def test_a_frame_from_the_csms_that_is_not_ocpp_j() -> None:
    link = Link()
    link.down(b"[3, oops")
    assert link.kinds() == ["malformed_from_csms"]
    assert link.oracle.findings()[0].evidence["reason"] == "bad_json"


# -- schemas and error codes ---------------------------------------------------------------


def test_schema_invalid_response_uses_the_monitors_verdict() -> None:
    link = Link()
    link.up(frame(2, "1", "BootNotification", BOOT_16))
    link.down(frame(3, "1", {"status": "Maybe", "currentTime": NOW, "interval": 300}))
    assert link.kinds() == ["schema_invalid_response"]
    finding = link.oracle.findings()[0]
    assert finding.evidence["action"] == "BootNotification" and finding.evidence["errors"]


def test_schema_of_an_answer_to_a_call_a_rule_made_is_checked_once() -> None:
    link = Link()
    # injected by a rule: the monitor never read it, so it cannot pair the answer
    link.made_up(frame(2, "inj", "Heartbeat", {}))
    link.down(frame(3, "inj", {"currentTime": 5}))
    assert link.kinds() == ["schema_invalid_response"]
    link.made_up(frame(2, "inj2", "Heartbeat", {}))
    link.down(frame(3, "inj2", {"currentTime": NOW}))
    assert link.kinds() == ["schema_invalid_response"]


def test_schema_invalid_request_from_the_csms() -> None:
    link = Link()
    link.down(frame(2, "c1", "Reset", {"type": "Sideways"}))
    link.up(frame(3, "c1", {"status": "Rejected"}))
    link.down(frame(2, "c2", "Reset", {"type": "Hard"}))
    assert link.kinds() == ["schema_invalid_request"]
    assert link.oracle.findings()[0].evidence["action"] == "Reset"


@pytest.mark.parametrize(
    ("subprotocol", "code", "found"),
    [
        ("ocpp1.6", "FormationViolation", False),
        ("ocpp1.6", "FormatViolation", True),  # the 2.x spelling
        ("ocpp1.6", "RpcFrameworkError", True),
        ("ocpp2.0.1", "FormatViolation", False),
        ("ocpp2.0.1", "FormationViolation", True),
        ("ocpp2.0.1", "Oops", True),
    ],
)
def test_unknown_error_code_per_version(subprotocol: str, code: str, found: bool) -> None:
    link = Link(subprotocol)
    link.up(frame(2, "a", "Heartbeat", {}))
    link.down(frame(4, "a", code, "", {}))
    assert link.kinds() == (["unknown_error_code"] if found else [])
    if found:
        assert link.oracle.findings()[0].evidence["code"] == code


# -- the CSMS's own CALLs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subprotocol", "severity"), [("ocpp1.6", "warning"), ("ocpp2.0.1", "error")]
)
def test_concurrent_call(subprotocol: str, severity: str) -> None:
    link = Link(subprotocol)
    link.down(frame(2, "c1", "ClearCache", {}))
    link.down(frame(2, "c2", "ClearCache", {}), after=0.1)
    assert link.kinds() == ["concurrent_call"]
    finding = link.oracle.findings()[0]
    assert finding.severity == severity
    assert finding.evidence["outstanding_unique_id"] == "c1"
    assert "4.1.1" in finding.spec


def test_a_call_after_the_previous_timed_out_is_not_concurrent() -> None:
    link = Link()
    link.down(frame(2, "c1", "ClearCache", {}))
    link.down(frame(2, "c2", "ClearCache", {}), after=31)
    assert link.kinds() == []


# -- malformed frames written to the CSMS ---------------------------------------------------------


def test_malformed_frame_unanswered_within_the_timeout() -> None:
    link = Link("ocpp2.0.1")
    link.made_up(b'[2,"m1","Heartbeat"]')  # corrupted by a rule: wrong arity
    assert link.oracle.tick(link.now + 29) == []
    new = link.oracle.tick(link.now + 31)
    assert [f.kind for f in new] == ["malformed_unanswered"]
    assert new[0].severity == "error"
    assert new[0].evidence["reason"] == "wrong_arity"
    assert new[0].evidence["frame"] == '[2,"m1","Heartbeat"]'


@pytest.mark.parametrize(
    ("bad", "answer_id"),
    [
        (b'[2,"m1","Heartbeat"]', "m1"),  # the id could be read: that id
        (b'[2,"m1","Heartbeat"]', "-1"),  # ... or the placeholder
        (b'[2,"m1","Heart', "-1"),  # not JSON: -1
        (b"\xff\xfe", ""),  # not UTF-8: any id
        (b'{"not": "an array"}', "whatever"),
    ],
)
def test_any_callerror_answers_a_malformed_frame(bad: bytes, answer_id: str) -> None:
    link = Link("ocpp2.0.1")
    link.made_up(bad)
    link.down(frame(4, answer_id, "RpcFrameworkError", "bad frame", {}), after=0.1)
    link.oracle.tick(link.now + 60)
    assert link.kinds() == []


def test_a_callresult_to_a_malformed_frame_is_no_answer() -> None:
    link = Link("ocpp2.0.1")
    link.made_up(b'[2,"m1","Heartbeat"]')
    link.down(frame(3, "m1", {"currentTime": NOW}))
    assert link.kinds() == ["malformed_unanswered"]


def test_malformed_frames_that_need_no_answer() -> None:
    link = Link("ocpp1.6")
    link.made_up(b'[3,"r1",{"status":')  # a broken answer: nothing answers an answer
    link.made_up(b'[7,"x","Heartbeat",{}]')  # OCPP-J 1.6 §4.1.3: ignore unknown types
    link.oracle.tick(link.now + 60)
    assert link.kinds() == []
    link2 = Link("ocpp2.0.1", session="s2", oracle=link.oracle)
    link2.made_up(b'[7,"x","Heartbeat",{}]')  # 2.0.1 §4.4: answer MessageTypeNotSupported
    link.oracle.tick(link2.now + 60)
    assert link.kinds() == ["malformed_unanswered"]


def test_a_callerror_to_a_frame_that_needed_no_answer_is_not_an_unknown_id() -> None:
    link = Link("ocpp1.6")
    link.made_up(b'[7,"cf-4","Heartbeat",{}]')
    link.down(frame(4, "cf-4", "ProtocolError", "unknown type id 7", {}))
    assert link.kinds() == []
    link.down(frame(4, "cf-4", "ProtocolError", "again", {}))  # but not twice
    assert link.kinds() == ["unknown_unique_id"]


def test_malformed_unanswered_is_a_warning_on_16_and_at_close_a_warning() -> None:
    link = Link("ocpp1.6")
    link.made_up(b"not json")
    link.oracle.tick(link.now + 31)
    assert [f.severity for f in link.oracle.findings()] == ["warning"]
    link.made_up(b"not json either", after=40)
    link.close(after=3)
    assert link.kinds() == ["malformed_unanswered", "unanswered_at_close"]


# -- transactions --------------------------------------------------------------------------


def test_transaction_not_acknowledged_until_a_retry_is() -> None:
    oracle = Oracle(wall_clock=lambda: WALL)
    link = Link(oracle=oracle)
    link.up(frame(2, "s1", "StartTransaction", START))
    link.close(after=5)  # unanswered at close: a warning, the charger will retry
    assert link.kinds() == ["unanswered_at_close"]
    again = Link(oracle=oracle, session="s2", now=link.now + 10)
    again.up(frame(2, "s2", "StartTransaction", START))  # the retry, a new unique id
    again.down(frame(3, "s2", {"idTagInfo": {"status": "Accepted"}, "transactionId": 1}))
    assert [f.kind for f in oracle.finish(again.now + 100)] == []
    # never acknowledged at all
    third = Link(oracle=oracle, session="s3", charger="CP2", now=again.now)
    stop = {"transactionId": 1, "meterStop": 5, "timestamp": NOW}
    third.up(frame(2, "x", "StopTransaction", stop))
    third.close(after=1)
    new = oracle.finish(third.now + 100)
    assert [(f.kind, f.charger_id) for f in new] == [("transaction_not_acknowledged", "CP2")]
    assert new[0].evidence["action"] == "StopTransaction"


def test_meter_values_without_a_transaction_are_not_transaction_messages() -> None:
    link = Link()
    mv = {"connectorId": 1, "meterValue": [{"timestamp": NOW, "sampledValue": [{"value": "1"}]}]}
    link.up(frame(2, "m", "MeterValues", mv))
    link.down(frame(4, "m", "InternalError", "", {}))
    link.oracle.finish(link.now + 100)
    assert link.kinds() == []


def test_transaction_message_rejected() -> None:
    link = Link()
    stop = {"transactionId": 1, "meterStop": 5, "timestamp": NOW}
    link.up(frame(2, "x", "StopTransaction", stop))
    link.down(frame(4, "x", "InternalError", "db down", {}))
    link.oracle.finish(link.now + 100)
    assert link.kinds() == ["transaction_message_rejected"]  # not also "not acknowledged"
    assert link.oracle.findings()[0].evidence["code"] == "InternalError"


def test_acknowledged_out_of_order() -> None:
    link = Link()

    def mv(n: int) -> dict[str, Any]:
        stamp = f"2026-11-25T10:00:0{n}.000Z"
        return {
            "connectorId": 1,
            "transactionId": 3,
            "meterValue": [{"timestamp": stamp, "sampledValue": [{"value": str(n)}]}],
        }

    link.up(frame(2, "m1", "MeterValues", mv(1)))
    link.up(frame(2, "m2", "MeterValues", mv(2)))
    link.down(frame(3, "m2", {}))
    link.down(frame(3, "m1", {}))
    assert link.kinds() == ["acknowledged_out_of_order"]
    assert link.oracle.findings()[0].evidence["earlier_unique_id"] == "m1"
    link.up(frame(2, "m3", "MeterValues", mv(3)))
    link.up(frame(2, "m4", "MeterValues", mv(4)))
    link.down(frame(3, "m3", {}))
    link.down(frame(3, "m4", {}))
    assert link.kinds() == ["acknowledged_out_of_order"]


def test_duplicate_start_transaction_counted_twice() -> None:
    link = Link()
    link.up(frame(2, "a", "StartTransaction", START))
    link.up(frame(2, "b", "StartTransaction", START))  # a fresh-id duplicate
    link.down(frame(3, "a", {"idTagInfo": {"status": "Accepted"}, "transactionId": 1}))
    link.down(frame(3, "b", {"idTagInfo": {"status": "Accepted"}, "transactionId": 2}))
    assert link.kinds() == ["duplicate_transaction"]
    assert link.oracle.findings()[0].evidence["transaction_ids"] == [1, 2]


def test_duplicate_start_transaction_with_the_same_id_and_across_sessions() -> None:
    oracle = Oracle(wall_clock=lambda: WALL)
    link = Link(oracle=oracle)
    link.up(frame(2, "a", "StartTransaction", START))
    link.up(frame(2, "a", "StartTransaction", START))  # the same frame twice
    link.down(frame(3, "a", {"idTagInfo": {"status": "Accepted"}, "transactionId": 1}))
    link.down(frame(3, "a", {"idTagInfo": {"status": "Accepted"}, "transactionId": 1}))
    assert link.kinds() == []  # idempotent: the same transaction
    link.close()
    again = Link(oracle=oracle, session="s2")
    again.up(frame(2, "r", "StartTransaction", START))  # a retry after reconnecting
    again.down(frame(3, "r", {"idTagInfo": {"status": "Accepted"}, "transactionId": 9}))
    assert again.kinds() == ["duplicate_transaction"]
    other = dict(START, meterStart=5)  # another charge: a new transaction is right
    again.up(frame(2, "n", "StartTransaction", other))
    again.down(frame(3, "n", {"idTagInfo": {"status": "Accepted"}, "transactionId": 10}))
    assert again.kinds() == ["duplicate_transaction"]


def test_seqno_rejected_for_gaps_restarts_and_repeats_but_not_for_the_normal_case() -> None:
    link = Link("ocpp2.0.1")
    boot_201(link)
    link.up(frame(2, "t0", "TransactionEvent", tx_event(0, event="Started")))
    link.down(frame(3, "t0", {}))
    link.up(frame(2, "t1", "TransactionEvent", tx_event(1)))
    link.down(frame(3, "t1", {}))
    link.up(frame(2, "gap", "TransactionEvent", tx_event(5)))  # 2..4 missing
    link.down(frame(4, "gap", "ProtocolError", "seqNo gap", {}))
    link.up(frame(2, "again", "TransactionEvent", tx_event(5)))  # a retry, fresh id
    link.down(frame(4, "again", "GenericError", "seen it", {}))
    link.up(frame(2, "restart", "TransactionEvent", tx_event(3)))  # numbering went back
    link.down(frame(4, "restart", "GenericError", "", {}))
    assert link.kinds() == ["seqno_rejected"] * 3
    assert [f.evidence["anomaly"] for f in link.oracle.findings()] == [
        "gap",
        "duplicate",
        "restart",
    ]
    assert "E13" in link.oracle.findings()[0].spec
    link.up(frame(2, "next", "TransactionEvent", tx_event(1, txid="T2", event="Started")))
    link.down(frame(4, "next", "InternalError", "", {}))
    assert link.kinds()[-1] == "transaction_message_rejected"


def test_a_callerror_to_a_same_id_copy_is_allowed() -> None:
    link = Link("ocpp2.0.1")
    boot_201(link)
    link.up(frame(2, "t0", "TransactionEvent", tx_event(0, event="Started")))
    link.up(frame(2, "t0", "TransactionEvent", tx_event(0, event="Started")))
    link.down(frame(3, "t0", {}))
    link.down(frame(4, "t0", "RpcFrameworkError", "id in use", {}))
    link.oracle.finish(link.now + 100)
    assert link.kinds() == []


# -- boot (2.0.1) --------------------------------------------------------------------------


def test_accepted_before_boot_while_pending() -> None:
    link = Link("ocpp2.0.1")
    boot_201(link, status="Pending")
    status = {"timestamp": NOW, "connectorStatus": "Available", "evseId": 1, "connectorId": 1}
    link.up(frame(2, "s", "StatusNotification", status))
    link.down(frame(3, "s", {}))
    assert link.kinds() == ["accepted_before_boot"]
    finding = link.oracle.findings()[0]
    assert finding.evidence["action"] == "StatusNotification"
    assert "B02.FR.09" in finding.spec
    link.up(frame(2, "h", "Heartbeat", {}))
    link.down(frame(4, "h", "SecurityError", "boot first", {}))  # the right answer
    assert link.kinds() == ["accepted_before_boot"]


def test_a_transaction_event_refused_before_the_boot_is_no_rejection() -> None:
    link = Link("ocpp2.0.1")
    boot_201(link, status="Pending")
    link.up(frame(2, "t", "TransactionEvent", tx_event(0, event="Started")))
    link.down(frame(4, "t", "SecurityError", "boot first", {}))  # B02.FR.09
    assert link.kinds() == []
    link.up(frame(2, "t2", "TransactionEvent", tx_event(1)))
    link.down(frame(4, "t2", "InternalError", "oops", {}))  # not the answer asked for
    assert link.kinds() == ["transaction_message_rejected"]
    boot_201(link, uid="b2")
    link.up(frame(2, "t3", "TransactionEvent", tx_event(2)))
    link.down(frame(4, "t3", "SecurityError", "no", {}))  # accepted now: a rejection
    assert link.kinds() == ["transaction_message_rejected", "transaction_message_rejected"]


def test_what_the_csms_asked_for_while_pending_may_be_accepted() -> None:
    link = Link("ocpp2.0.1")
    boot_201(link, status="Pending")
    link.down(frame(2, "g", "TriggerMessage", {"requestedMessage": "StatusNotification"}))
    link.up(frame(3, "g", {"status": "Accepted"}))
    status = {"timestamp": NOW, "connectorStatus": "Available", "evseId": 1, "connectorId": 1}
    link.up(frame(2, "s", "StatusNotification", status))
    link.down(frame(3, "s", {}))
    assert link.kinds() == []


def test_boot_acceptance_outlives_the_session_and_a_new_boot_resets_it() -> None:
    oracle = Oracle(wall_clock=lambda: WALL)
    link = Link("ocpp2.0.1", oracle=oracle)
    boot_201(link)
    link.close()
    again = Link("ocpp2.0.1", oracle=oracle, session="s2")  # reconnects, no new boot
    again.up(frame(2, "h", "Heartbeat", {}))
    again.down(frame(3, "h", {"currentTime": NOW}))
    assert again.kinds() == []
    again.up(frame(2, "b2", "BootNotification", BOOT_201))  # boots again: not accepted yet
    again.up(frame(2, "h2", "Heartbeat", {}))
    again.down(frame(3, "h2", {"currentTime": NOW}))
    assert again.kinds() == ["accepted_before_boot"]


def test_a_charger_never_seen_booting_counts_as_booted_unless_configured() -> None:
    link = Link("ocpp2.0.1")
    link.up(frame(2, "h", "Heartbeat", {}))
    link.down(frame(3, "h", {"currentTime": NOW}))
    assert link.kinds() == []
    strict = Link("ocpp2.0.1", config=OracleConfig(unbooted_until_seen=True))
    strict.up(frame(2, "h", "Heartbeat", {}))
    strict.down(frame(3, "h", {"currentTime": NOW}))
    assert strict.kinds() == ["accepted_before_boot"]


def test_no_boot_check_on_16() -> None:
    link = Link("ocpp1.6", config=OracleConfig(unbooted_until_seen=True))
    link.up(frame(2, "h", "Heartbeat", {}))
    link.down(frame(3, "h", {"currentTime": NOW}))
    assert link.kinds() == []


# -- connections ---------------------------------------------------------------------------


def test_upgrade_refused_with_a_status_or_unreachable() -> None:
    oracle = Oracle(wall_clock=lambda: WALL)
    oracle.upgrade_failed("s1", "CP1", 1.0, status=401)
    oracle.upgrade_failed("s2", "CP1", 2.0, error="Connection refused")
    first, second = oracle.findings()
    assert (first.kind, first.severity, first.evidence) == (
        "upgrade_refused",
        "error",
        {"status": 401},
    )
    assert second.evidence == {"error": "Connection refused"}
    assert "401" in first.message and first.session == "s1"


def test_subprotocol_mismatch() -> None:
    oracle = Oracle(wall_clock=lambda: WALL)
    oracle.session_open("s1", "CP1", None, 1.0, offered=["ocpp1.6"], selected=None)
    oracle.session_open("s2", "CP1", None, 1.0, offered=["ocpp1.6"], selected="ocpp2.0.1")
    oracle.session_open("s3", "CP1", "ocpp1.6", 1.0, offered=["ocpp1.6"], selected="ocpp1.6")
    oracle.session_open("s4", "CP1", None, 1.0, offered=[], selected=None)  # nothing offered
    assert [(f.kind, f.severity, f.session) for f in oracle.findings()] == [
        ("subprotocol_mismatch", "warning", "s1"),
        ("subprotocol_mismatch", "error", "s2"),
    ]


@pytest.mark.parametrize(
    ("by", "code", "expected"),
    [
        ("csms", 1000, "warning"),
        ("csms", 1001, "warning"),
        ("csms", 1006, "error"),
        ("csms", 1011, "error"),
        ("charger", 1000, None),
        ("proxy", 1001, None),
        ("rule:cut", 1006, None),
    ],
)
def test_closed_by_csms(by: str, code: int, expected: str | None) -> None:
    link = Link()
    link.close(by=by, code=code)
    found = link.oracle.findings()
    assert [f.severity for f in found] == ([expected] if expected else [])
    if expected:
        assert found[0].kind == "closed_by_csms" and found[0].evidence["close_code"] == code


# -- the oracle itself ---------------------------------------------------------------------


def test_findings_are_capped_and_counted() -> None:
    link = Link(config=OracleConfig(max_findings=3))
    for n in range(5):
        link.down(frame(3, f"ghost{n}", {}))
    assert len(link.oracle.findings()) == 3
    assert link.oracle.counts() == {"unknown_unique_id": 5}
    assert link.oracle.dropped == {"unknown_unique_id": 2}
    assert link.oracle.counts_by_severity() == {("unknown_unique_id", "error"): 5}


def test_counts_by_severity_follow_each_finding() -> None:
    for by, code in (("csms", 1000), ("csms", 1006)):
        link = Link()
        link.close(by=by, code=code)
        severity = "warning" if code == 1000 else "error"
        assert link.oracle.counts_by_severity() == {("closed_by_csms", severity): 1}


def test_subscribers_logs_and_json() -> None:
    oracle = Oracle(wall_clock=lambda: WALL)
    got: list[Finding] = []
    unsubscribe = oracle.subscribe(got.append)

    def broken(_f: Finding) -> None:
        raise RuntimeError("subscriber bug")

    oracle.subscribe(broken)
    link = Link(oracle=oracle)
    with structlog.testing.capture_logs() as logs:
        link.down(frame(3, "ghost", {"x": "y" * 500}))
    assert [f.kind for f in got] == ["unknown_unique_id"]
    events = [e for e in logs if e["event"] == "oracle_finding"]
    assert events and events[0]["kind"] == "unknown_unique_id"
    assert events[0]["charger_id"] == "CP1" and "frame" not in events[0]
    assert any(e["event"] == "oracle_subscriber_failed" for e in logs)
    line = got[0].to_json()
    assert line["type"] == "finding" and line["kind"] == "unknown_unique_id"
    assert line["t"] == WALL and line["charger"] == "CP1" and line["session"] == "s1"
    assert len(line["evidence"]["frame"]) <= 200
    json.dumps(line)
    unsubscribe()
    link.down(frame(3, "ghost2", {}))
    assert len(got) == 1


def test_every_kind_is_documented() -> None:
    for kind, (severity, spec, description) in KINDS.items():
        assert severity in ("error", "warning"), kind
        assert spec and description, kind
    expected = {
        "slow_response",
        "unanswered_call",
        "unanswered_at_close",
        "unknown_unique_id",
        "wrong_response_type",
        "schema_invalid_response",
        "schema_invalid_request",
        "unknown_error_code",
        "concurrent_call",
        "malformed_unanswered",
        "transaction_not_acknowledged",
        "transaction_message_rejected",
        "acknowledged_out_of_order",
        "duplicate_transaction",
        "seqno_rejected",
        "accepted_before_boot",
        "upgrade_refused",
        "subprotocol_mismatch",
        "closed_by_csms",
    }
    assert expected <= set(KINDS)


def test_response_times_buckets_percentiles_and_bounded_reservoir() -> None:
    times = ResponseTimes(reservoir=100)
    for n in range(1, 101):
        times.add(n / 1000)  # 1..100 ms
    assert times.count == 100 and times.max == pytest.approx(0.1)
    assert times.p50 == pytest.approx(0.05) and times.p99 == pytest.approx(0.099)
    assert sum(n for _le, n in times.buckets()) == 100
    for _ in range(10_000):
        times.add(5.0)
    assert len(times._reservoir) == 100  # bounded
    assert times.count == 10_100 and times.p50 == pytest.approx(5.0)
    times.add(1e9)  # past the last bound
    data = times.to_json()
    assert data["buckets"][-1] == [None, 1]
    assert data["max"] == 1e9 and data["count"] == 10_101
    uppers = [le for le, _n in times.buckets()]
    assert uppers == sorted(uppers)
    # each sample lands in the bucket whose bound is the first >= it
    small = ResponseTimes()
    small.add(0.0009)
    ((le, n),) = small.buckets()
    assert n == 1 and 0.0009 <= le < 0.0009 * 1.3


def test_response_times_fixed_histogram_is_cumulative_and_counts_every_sample() -> None:
    times = ResponseTimes(reservoir=4)
    samples = [-1.0, 0.0, 0.001, 0.0011, 0.005, 2.0, 30.0, 31.0, 1e9] * 40  # folds at 256
    for x in samples:
        times.add(x)
    buckets, total = times.histogram()
    assert [le for le, _n in buckets] == [*HISTOGRAM_BOUNDS, float("inf")]
    for le, n in buckets:  # a sample on a bound is in that bound's bucket (le: <=)
        assert n == sum(1 for x in samples if max(x, 0.0) <= le)
    assert buckets[-1][1] == times.count == len(samples)
    assert total == pytest.approx(times.total) == pytest.approx(sum(max(x, 0.0) for x in samples))


def test_per_session_state_is_bounded() -> None:
    link = Link()
    for n in range(1000):
        link.up(frame(2, f"c{n}", "Heartbeat", {}))
    assert len(link.watch.pending) <= 256
    link.close()
    assert link.oracle._watches == {}
