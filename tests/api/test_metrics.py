"""The control API's /metrics: a real proxy, real chargers, the reference CSMS or a broken
one, and the exposition parsed back with prometheus_client's own parser.

Timing findings come from thresholds set to zero or huge, never from measuring.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from ocpp.v16 import call
from prometheus_client.parser import text_string_to_metric_families

from ocpp_chaos.api.metrics import FrameCounter, Metrics
from ocpp_chaos.csms import ReferenceCSMS
from ocpp_chaos.frames import Direction
from ocpp_chaos.proxy import ProxyConfig, ProxyServer
from ocpp_chaos.proxy.monitor import FrameRecord
from ocpp_chaos.proxy.oracle import HISTOGRAM_BOUNDS, KINDS, Finding, OracleConfig
from ocpp_chaos.proxy.session import SessionEvent
from ocpp_chaos.rules.model import Rule
from ocpp_chaos.simulator.charger import VirtualCharger
from ocpp_chaos.testing.raw import RawClient

NOW = "2026-11-25T10:00:00.000Z"

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]
"""sample name -> sorted label pairs -> value."""


def scrape(metrics: Metrics) -> tuple[Samples, dict[str, str]]:
    """Render and parse back: the samples, and each family's type."""
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(metrics.render().decode("utf-8")):
        types[family.name] = family.type
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples, types


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get(name, {}).get(tuple(sorted(labels.items())))


def histogram(samples: Samples, action: str) -> tuple[list[tuple[float, float]], float, float]:
    """([(le, cumulative count), ...] in bound order, count, sum) of one action."""
    buckets = sorted(
        (float(dict(labels)["le"]), n)
        for labels, n in samples["ocpp_chaos_csms_response_seconds_bucket"].items()
        if dict(labels)["action"] == action
    )
    count = value(samples, "ocpp_chaos_csms_response_seconds_count", action=action)
    total = value(samples, "ocpp_chaos_csms_response_seconds_sum", action=action)
    assert count is not None and total is not None
    return buckets, count, total


def assert_consistent(buckets: list[tuple[float, float]], count: float, total: float) -> None:
    assert [le for le, _n in buckets] == [*HISTOGRAM_BOUNDS, math.inf]
    counts = [n for _le, n in buckets]
    assert counts == sorted(counts)  # cumulative
    assert counts[-1] == count  # +Inf is every sample
    assert total >= 0


def rule(**kw: Any) -> Rule:
    return Rule.model_validate(kw)


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def frame(*items: Any) -> bytes:
    return json.dumps(list(items)).encode()


# -- a correct CSMS, a virtual charger ------------------------------------------------------


async def test_a_charger_through_the_proxy_in_front_of_the_reference_csms(make_proxy) -> None:
    async with ReferenceCSMS(port=0) as csms:
        proxy = await make_proxy(csms.url, oracle=OracleConfig(slow_threshold=1e6))
        frames = FrameCounter()
        proxy.observers.append(frames)
        proxy.rules.add(
            rule(
                name="slow-dt",
                match={"action": "DataTransfer", "direction": "up", "message": "call"},
                fault={"type": "delay", "delay": "10ms"},
            )
        )
        proxy.rules.add(rule(name="off", enabled=False, fault={"type": "drop"}))
        metrics = Metrics(proxy, frames, extra=lambda: {"fleet_chargers": 1, "odd key!": 2.5})
        assert metrics.content_type.startswith("text/plain")

        charger = VirtualCharger("CP-M", proxy.url, call_timeout=5)
        stop = asyncio.Event()
        task = asyncio.ensure_future(charger.run(stop))
        try:
            async with asyncio.timeout(15):
                await charger.wait_booted()
                answer = await charger.send(call.DataTransfer(vendor_id="ocpp-chaos"))
            assert answer is not None
            await until(lambda: frames.frames().get(("DataTransfer", "down", "result")) == 1)
            samples, types = scrape(metrics)
        finally:
            stop.set()
            async with asyncio.timeout(15):
                await task

        assert value(samples, "ocpp_chaos_sessions") == 1
        assert types["ocpp_chaos_sessions"] == "gauge"
        assert value(samples, "ocpp_chaos_sessions_opened_total") == 1
        assert types["ocpp_chaos_sessions_opened"] == "counter"
        for name in ("upstream_refused", "upstream_unreachable", "connections_refused_by_rule"):
            assert value(samples, f"ocpp_chaos_{name}_total") == 0

        def frames_of(action: str, direction: str, kind: str) -> float | None:
            return value(
                samples, "ocpp_chaos_frames_total", action=action, direction=direction, type=kind
            )

        assert frames_of("BootNotification", "up", "call") == 1
        assert frames_of("BootNotification", "down", "result") == 1
        assert frames_of("DataTransfer", "up", "call") == 1
        assert frames_of("DataTransfer", "down", "result") == 1
        assert (frames_of("StatusNotification", "up", "call") or 0) >= 1

        assert value(samples, "ocpp_chaos_rule_enabled", rule="slow-dt") == 1
        assert value(samples, "ocpp_chaos_rule_enabled", rule="off") == 0
        assert value(samples, "ocpp_chaos_rule_hits_total", rule="slow-dt", fault="delay") == 1
        assert value(samples, "ocpp_chaos_rule_matched_total", rule="slow-dt", fault="delay") == 1
        assert value(samples, "ocpp_chaos_rule_hits_total", rule="off", fault="drop") == 0
        assert (
            value(samples, "ocpp_chaos_rule_decisions_total", rule="slow-dt", decision="delay") == 1
        )

        assert types["ocpp_chaos_csms_response_seconds"] == "histogram"
        buckets, count, total = histogram(samples, "BootNotification")
        assert count == 1
        assert_consistent(buckets, count, total)
        buckets, count, total = histogram(samples, "DataTransfer")
        assert count == 1
        assert_consistent(buckets, count, total)

        # every kind is there from the start, at zero: the reference CSMS does nothing wrong
        findings = samples["ocpp_chaos_findings_total"]
        assert {dict(labels)["kind"] for labels in findings} == set(KINDS)
        assert set(findings.values()) == {0}

        assert value(samples, "ocpp_chaos_fleet_chargers") == 1
        assert value(samples, "ocpp_chaos_odd_key_") == 2.5

        await until(lambda: len(proxy.sessions) == 0)
        samples, _types = scrape(metrics)
        assert value(samples, "ocpp_chaos_sessions") == 0
        assert value(samples, "ocpp_chaos_sessions_opened_total") == 1
        assert value(samples, "ocpp_chaos_sessions_closed_total", by="charger") == 1


# -- a broken CSMS, a raw charger -----------------------------------------------------------


async def test_findings_of_a_broken_csms_are_counted_by_kind_and_severity(
    make_proxy, raw_server
) -> None:
    # slow_threshold 0: every answer counts as slow, whatever the machine's speed
    proxy = await make_proxy(raw_server.url, oracle=OracleConfig(slow_threshold=0.0))
    frames = FrameCounter()
    proxy.observers.append(frames)
    metrics = Metrics(proxy, frames)
    client = await RawClient.connect(f"{proxy.url}/CP-BAD", protocols=["ocpp1.6"])
    async with client:
        (conn,) = await raw_server.wait_connections(1)
        await client.send("text", frame(2, "h1", "Heartbeat", {}))
        await client.send("text", b"not json")
        await client.send("ping", b"hi")
        await conn.rec.wait_frames(3)
        await conn.send("text", frame(3, "h1", {"currentTime": NOW}))  # slow (threshold 0)
        await conn.send("text", frame(3, "nobody", {"currentTime": NOW}))  # unknown id
        await until(lambda: {"slow_response", "unknown_unique_id"} <= set(proxy.oracle.counts()))
        await client.rec.wait_frames(2)
        samples, _types = scrape(metrics)
        conn.abort()  # the CSMS resets the connection: closed_by_csms, as an error
        await until(lambda: "closed_by_csms" in proxy.oracle.counts())
        await until(lambda: len(proxy.sessions) == 0)

    def findings(kind: str, severity: str) -> float | None:
        return value(samples, "ocpp_chaos_findings_total", kind=kind, severity=severity)

    assert findings("slow_response", "warning") == 1
    assert findings("unknown_unique_id", "error") == 1
    assert findings("unanswered_call", "error") == 0

    def frames_of(action: str, direction: str, kind: str) -> float | None:
        return value(
            samples, "ocpp_chaos_frames_total", action=action, direction=direction, type=kind
        )

    assert frames_of("Heartbeat", "up", "call") == 1
    assert frames_of("Heartbeat", "down", "result") == 1
    assert frames_of("", "up", "malformed") == 1
    assert frames_of("", "up", "ping") == 1
    assert frames_of("", "down", "result") == 1  # the answer to nothing

    buckets, count, total = histogram(samples, "Heartbeat")
    assert count == 1
    assert_consistent(buckets, count, total)

    assert findings("closed_by_csms", "warning") == 0  # not yet
    after, _types = scrape(metrics)
    # closed_by_csms is a warning by default; a reset connection makes it an error
    assert KINDS["closed_by_csms"][0] == "warning"
    assert value(after, "ocpp_chaos_findings_total", kind="closed_by_csms", severity="error") == 1
    assert value(after, "ocpp_chaos_findings_total", kind="closed_by_csms", severity="warning") == 0
    assert value(after, "ocpp_chaos_sessions_closed_total", by="csms") == 1
    assert value(after, "ocpp_chaos_sessions") == 0


# -- without sockets ------------------------------------------------------------------------


def idle_proxy() -> ProxyServer:
    """A proxy never started: its state is all Metrics reads."""
    return ProxyServer(ProxyConfig(upstream="ws://127.0.0.1:9", listen_port=0))


def record(action: str | None, direction: Direction, kind: str | None, opcode: str = "text"):
    return FrameRecord(
        time=0.0,
        session="s1",
        charger_id="CP",
        direction=direction,
        opcode=opcode,
        raw=b"",
        kind=kind,
        action=action,
    )


def test_the_frame_counter_counts_frames_and_sessions_and_ignores_the_rest() -> None:
    counter = FrameCounter(max_series=3)
    counter(SessionEvent("session_open", 0.0, "s1", "CP", {}))
    counter(record("Heartbeat", Direction.UP, "call"))
    counter(record("Heartbeat", Direction.UP, "call"))
    counter(record("Heartbeat", Direction.DOWN, "result"))
    counter(record(None, Direction.DOWN, None, opcode="close"))
    counter(record("Made-Up-1", Direction.UP, "call"))  # past the cap
    counter(record("Made-Up-2", Direction.UP, "call"))
    counter(record("Heartbeat", Direction.UP, "call"))  # an existing series still counts
    counter(SessionEvent("session_closed", 0.0, "s1", "CP", {"by": "rule:cut"}))
    counter(SessionEvent("session_closed", 0.0, "s2", "CP", {"by": None}))
    counter(Finding("slow_response", "warning", "CP", "s1", 0.0, "spec", "slow"))
    counter("anything else")
    assert counter.frames() == {
        ("Heartbeat", "up", "call"): 3,
        ("Heartbeat", "down", "result"): 1,
        ("", "down", "close"): 1,
        ("(other)", "up", "call"): 2,
    }
    assert counter.opened == 1
    assert counter.closed() == {"rule": 1, "unknown": 1}


def test_extra_gauges_never_take_a_name_and_a_failing_extra_costs_only_itself() -> None:
    proxy = idle_proxy()
    extra: dict[str, Any] = {
        "sessions": 99,  # ocpp_chaos_sessions is the proxy's own
        "frames_total": 99,  # ocpp_chaos_frames' sample name
        "fleet-chargers": 3,
        "fleet_chargers": 4,  # the same name once cleaned: the first (sorted) wins
        "not_a_number": "x",
        "ratio": 0.5,
    }
    metrics = Metrics(proxy, FrameCounter(), extra=lambda: extra)
    samples, types = scrape(metrics)
    assert value(samples, "ocpp_chaos_sessions") == 0
    assert types["ocpp_chaos_frames"] == "counter"
    assert value(samples, "ocpp_chaos_fleet_chargers") == 3
    assert value(samples, "ocpp_chaos_ratio") == 0.5
    assert "ocpp_chaos_not_a_number" not in samples

    def broken() -> dict[str, float]:
        raise RuntimeError("engine bug")

    samples, _types = scrape(Metrics(proxy, FrameCounter(), extra=broken))
    assert value(samples, "ocpp_chaos_sessions") == 0


def test_label_values_are_escaped() -> None:
    counter = FrameCounter()  # an action is whatever a charger or the CSMS wrote
    counter(record('Act"ion\\\n', Direction.UP, "call"))
    samples, _types = scrape(Metrics(idle_proxy(), counter))
    assert (
        value(samples, "ocpp_chaos_frames_total", action='Act"ion\\\n', direction="up", type="call")
        == 1
    )


@pytest.mark.parametrize("n", [3, 300])  # before and after the oracle folds its samples in
def test_the_histogram_agrees_with_the_oracle(n: int) -> None:
    proxy = idle_proxy()
    for i in range(n):
        proxy.oracle._sample("Heartbeat", (0.0, 0.005, 0.0051, 2.0, 1e6)[i % 5])
    samples, _types = scrape(Metrics(proxy, FrameCounter()))
    buckets, count, total = histogram(samples, "Heartbeat")
    times = proxy.oracle.histograms()["Heartbeat"]
    assert count == times.count == n
    assert total == pytest.approx(times.total)
    assert_consistent(buckets, count, total)
    expected = {
        le: sum(1 for i in range(n) if (0.0, 0.005, 0.0051, 2.0, 1e6)[i % 5] <= le)
        for le in (*HISTOGRAM_BOUNDS, math.inf)
    }
    assert dict(buckets) == expected
