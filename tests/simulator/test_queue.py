"""The offline transaction queue: order, retry schedule, overflow and id rewriting."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp_chaos.simulator.queue import TransactionQueue, droppable


def mv(tx: int | str = 1) -> dict[str, Any]:
    return {"connectorId": 1, "transactionId": tx, "meterValue": []}


def test_strict_order() -> None:
    queue = TransactionQueue()
    queue.append("StartTransaction", {"connectorId": 1}, now=0.0)
    queue.append("MeterValues", mv(), now=1.0)
    queue.append("StopTransaction", {"transactionId": 1}, now=2.0)
    assert len(queue) == 3
    assert [queue.sent().action for _ in range(3)] == [
        "StartTransaction",
        "MeterValues",
        "StopTransaction",
    ]
    assert queue.head() is None
    assert queue.ready(100.0) is None


def test_append_returns_the_record_and_copies_the_payload() -> None:
    queue = TransactionQueue()
    payload = mv()
    first = queue.append("MeterValues", payload, now=5.0)
    second = queue.append("MeterValues", payload, now=6.0)
    payload["transactionId"] = 99
    assert first.payload["transactionId"] == 1
    assert (first.queued_at, first.attempts, first.next_try) == (5.0, 0, 0.0)
    assert second.seq > first.seq
    assert queue.head() is first


def test_ready_respects_next_try_and_never_skips_the_head() -> None:
    queue = TransactionQueue(retry_interval=60.0)
    first = queue.append("StopTransaction", {"transactionId": 1}, now=0.0)
    queue.append("StopTransaction", {"transactionId": 2}, now=0.0)
    assert queue.ready(0.0) is first
    assert queue.failed(10.0) == "retry"
    assert first.next_try == 70.0
    assert queue.ready(69.9) is None  # the second message does not overtake
    assert queue.ready(70.0) is first


def test_retry_schedule_and_give_up_after_max_attempts() -> None:
    # OCPP 1.6 §4.7 example: 3 attempts, interval 60 -> wait 60, then 120, then discard.
    queue = TransactionQueue(max_attempts=3, retry_interval=60.0)
    item = queue.append("StopTransaction", {"transactionId": 1}, now=0.0)
    queue.append("StopTransaction", {"transactionId": 2}, now=0.0)
    assert queue.failed(0.0) == "retry"
    assert (item.attempts, item.next_try) == (1, 60.0)
    assert queue.failed(60.0) == "retry"
    assert (item.attempts, item.next_try) == (2, 180.0)
    assert queue.failed(180.0) == "given_up"
    assert item.attempts == 3
    assert queue.given_up == 1
    assert len(queue) == 1
    head = queue.head()
    assert head is not None and head.payload["transactionId"] == 2


def test_permanent_failure_gives_up_at_once() -> None:
    queue = TransactionQueue(max_attempts=3)
    queue.append("MeterValues", mv(), now=0.0)
    assert queue.failed(0.0, permanent=True) == "given_up"
    assert len(queue) == 0 and queue.given_up == 1


@pytest.mark.parametrize("attempts", [0, 1])
def test_zero_or_one_attempt_means_a_single_transmission(attempts: int) -> None:
    queue = TransactionQueue(max_attempts=attempts)
    queue.append("MeterValues", mv(), now=0.0)
    assert queue.failed(0.0) == "given_up"


def test_lost_connection_does_not_count() -> None:
    queue = TransactionQueue(max_attempts=2)
    item = queue.append("StopTransaction", {"transactionId": 1}, now=0.0)
    # Sent, then the connection dropped before any answer: nothing is reported.
    assert queue.ready(0.0) is item
    # After the reconnect the same message is first, with no attempt counted.
    assert queue.ready(30.0) is item
    assert item.attempts == 0
    assert queue.failed(30.0) == "retry"
    assert queue.sent() is item
    assert queue.given_up == 0


def test_set_limits_applies_to_the_next_failure() -> None:
    queue = TransactionQueue(max_attempts=5, retry_interval=10.0)
    item = queue.append("StopTransaction", {"transactionId": 1}, now=0.0)
    queue.failed(0.0)
    assert item.next_try == 10.0
    queue.set_limits(retry_interval=100.0)
    assert item.next_try == 10.0
    queue.failed(10.0)
    assert item.next_try == 210.0
    queue.set_limits(max_attempts=2)
    assert queue.failed(210.0) == "given_up"
    assert (queue.max_attempts, queue.retry_interval) == (2, 100.0)


def test_bad_limits() -> None:
    with pytest.raises(ValueError):
        TransactionQueue(max_len=0)
    with pytest.raises(ValueError):
        TransactionQueue(max_attempts=-1)
    with pytest.raises(ValueError):
        TransactionQueue().set_limits(retry_interval=-1.0)


def test_sent_and_failed_on_an_empty_queue() -> None:
    queue = TransactionQueue()
    with pytest.raises(IndexError):
        queue.sent()
    with pytest.raises(IndexError):
        queue.failed(0.0)


def test_overflow_drops_the_oldest_meter_values_first() -> None:
    queue = TransactionQueue(max_len=4)
    queue.append("StartTransaction", {"connectorId": 1}, now=0.0)
    queue.append("MeterValues", mv("a"), now=1.0)
    queue.append("MeterValues", mv("b"), now=2.0)
    queue.append("StopTransaction", {"transactionId": 1}, now=3.0)
    queue.append("MeterValues", mv("c"), now=4.0)
    assert queue.dropped == 1
    assert [(m.action, m.payload.get("transactionId")) for m in queue] == [
        ("StartTransaction", None),
        ("MeterValues", "b"),
        ("StopTransaction", 1),
        ("MeterValues", "c"),
    ]


def test_overflow_never_drops_start_or_stop() -> None:
    queue = TransactionQueue(max_len=2)
    queue.append("StartTransaction", {"connectorId": 1}, now=0.0)
    queue.append("StopTransaction", {"transactionId": 1}, now=1.0)
    refused = queue.append("MeterValues", mv(), now=2.0)
    assert queue.dropped == 1
    assert refused not in list(queue)
    assert [m.action for m in queue] == ["StartTransaction", "StopTransaction"]
    # A non-droppable message is kept even beyond max_len.
    queue.append("StartTransaction", {"connectorId": 1}, now=3.0)
    assert [m.action for m in queue] == ["StartTransaction", "StopTransaction", "StartTransaction"]
    assert queue.dropped == 1


def test_overflow_keeps_the_head_which_may_be_in_flight() -> None:
    queue = TransactionQueue(max_len=1)
    head = queue.append("MeterValues", mv("a"), now=0.0)
    queue.append("MeterValues", mv("b"), now=1.0)
    assert list(queue) == [head]
    assert queue.dropped == 1


def test_transaction_event_droppability() -> None:
    assert droppable("MeterValues", {})
    assert droppable("TransactionEvent", {"eventType": "Updated"})
    assert not droppable("TransactionEvent", {"eventType": "Started"})
    assert not droppable("TransactionEvent", {"eventType": "Ended"})
    assert not droppable("StartTransaction", {})
    assert not droppable("StopTransaction", {})
    queue = TransactionQueue(max_len=3)
    queue.append("TransactionEvent", {"eventType": "Started", "seqNo": 0}, now=0.0)
    queue.append("TransactionEvent", {"eventType": "Updated", "seqNo": 1}, now=1.0)
    queue.append("TransactionEvent", {"eventType": "Ended", "seqNo": 2}, now=2.0)
    queue.append("TransactionEvent", {"eventType": "Updated", "seqNo": 3}, now=3.0)
    assert [m.payload["seqNo"] for m in queue] == [0, 2, 3]


def test_rewrite_transaction_id() -> None:
    queue = TransactionQueue()
    queue.append("MeterValues", mv(-1), now=0.0)
    queue.append("MeterValues", mv(-2), now=1.0)
    queue.append("MeterValues", mv("-1"), now=1.0)  # a string never matches an int
    queue.append("StopTransaction", {"transactionId": -1, "meterStop": 10}, now=2.0)
    queue.append("StatusNotification", {"connectorId": 1}, now=3.0)
    assert queue.rewrite_transaction_id(-1, 4711) == 2
    assert [m.payload.get("transactionId") for m in queue] == [4711, -2, "-1", 4711, None]
    assert queue.rewrite_transaction_id(-1, 4711) == 0


def test_snake_case_payloads_of_the_ocpp_library() -> None:
    assert droppable("TransactionEvent", {"event_type": "Updated"})
    assert not droppable("TransactionEvent", {"event_type": "Ended"})
    queue = TransactionQueue()
    queue.append("MeterValues", {"connector_id": 1, "transaction_id": -1}, now=0.0)
    queue.append("StopTransaction", {"transaction_id": -1, "meter_stop": 5}, now=1.0)
    assert queue.rewrite_transaction_id(-1, 9) == 2
    assert [m.payload["transaction_id"] for m in queue] == [9, 9]


def test_rewrite_does_not_touch_the_callers_dict() -> None:
    queue = TransactionQueue()
    payload = mv(-1)
    record = queue.append("MeterValues", payload, now=0.0)
    inner = record.payload
    queue.rewrite_transaction_id(-1, 7)
    assert payload["transactionId"] == -1
    assert inner["transactionId"] == -1
    assert record.payload["transactionId"] == 7


ACTIONS = st.sampled_from(
    ["StartTransaction", "MeterValues", "StopTransaction", "TransactionEvent"]
)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), ACTIONS, st.sampled_from(["Started", "Updated", "Ended"])),
        st.tuples(st.just("sent"), st.none(), st.none()),
        st.tuples(st.just("failed"), st.none(), st.booleans()),
    ),
    max_size=60,
)


@given(OPS, st.integers(min_value=1, max_value=6), st.integers(min_value=0, max_value=4))
def test_operations_never_reorder_the_remaining_messages(
    ops: list[tuple[str, str | None, str | bool | None]], max_len: int, attempts: int
) -> None:
    queue = TransactionQueue(max_len=max_len, max_attempts=attempts, retry_interval=1.0)
    now = 0.0
    appended: list[int] = []
    kept: set[int] = set()  # seqs of messages that must never be dropped
    removed: set[int] = set()  # seqs removed by sent() or given up by failed()
    for op, action, arg in ops:
        now += 1.0
        if op == "append":
            assert action is not None
            payload = {"eventType": arg, "transactionId": 1}
            record = queue.append(action, payload, now)
            appended.append(record.seq)
            if not droppable(action, payload):
                kept.add(record.seq)
        elif len(queue) == 0:
            continue
        elif op == "sent":
            removed.add(queue.sent().seq)
        else:
            head = queue.head()
            assert head is not None
            if queue.failed(now, permanent=bool(arg)) == "given_up":
                removed.add(head.seq)
        remaining = [m.seq for m in queue]
        assert remaining == sorted(remaining)
        assert set(remaining) <= set(appended)
        assert kept - removed <= set(remaining)
        assert len(appended) == len(queue) + len(removed) + queue.dropped
        assert queue.given_up <= len(removed)
