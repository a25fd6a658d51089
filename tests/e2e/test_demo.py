"""The demo pointed at a CSMS (`--target`): the same fleet and chaos; its verdict fails when
the CSMS has a weakness the chaos exposes (here: it ignores corrupted frames)."""

from __future__ import annotations

import asyncio
import json

from ocpp_chaos.api.engine import Engine
from ocpp_chaos.csms import ReferenceCSMS
from ocpp_chaos.demo import DEMO_RULES, run_demo
from tests.conftest import run_cli
from tests.scenarios.broken import SilentOnMalformed16, SilentOnMalformed201


async def test_the_demo_command_passes_the_reference_and_fails_a_broken_csms() -> None:
    """Both at once (each is mostly waiting): the CLI against the embedded CSMS, and the
    same demo in-process against a CSMS that ignores corrupted frames."""
    await asyncio.gather(_demo_command_gives_a_verdict(), _demo_fails_a_broken_csms())


async def _demo_fails_a_broken_csms() -> None:
    sessions = {"ocpp1.6": SilentOnMalformed16, "ocpp2.0.1": SilentOnMalformed201}
    async with ReferenceCSMS(port=0, heartbeat_interval=2, sessions=sessions) as csms:
        engine = await Engine.build(csms.url)
        async with engine:
            async with asyncio.timeout(90):
                summary = await run_demo(engine, duration=12, chargers=6, settle=15)
    assert summary.target == csms.url
    assert summary.verdict == "failed"
    failed = {e.name for e in summary.result.expectations if e.status == "failed"}
    assert "no error found by the CSMS oracle" in failed
    assert summary.findings.get("malformed_unanswered", 0) >= 1
    # the demo's rules are ordinary rules: the console's rules panel lists them
    assert {r["name"] for r in engine.rules()} >= {r["name"] for r in DEMO_RULES}


async def _demo_command_gives_a_verdict() -> None:
    code, out, err = await run_cli(
        "demo",
        "--headless",
        "--duration",
        "16",
        "--api",
        "127.0.0.1:0",
        timeout=90,
    )
    assert code == 0, err[-2000:]
    summary = json.loads(out.strip().splitlines()[-1])["summary"]
    assert summary["verdict"] == "passed", summary["expectations"]
    assert [p["phase"] for p in summary["phases"]] == [
        "signal loss",
        "corrupted frames",
        "reordering",
        "CSMS outage",
    ]
    assert len(summary["expectations"]) == 5
    assert all(e["status"] == "passed" for e in summary["expectations"])
    assert summary["chargers"] == 50  # the default fleet
    assert summary["sessions"] > 50  # the outage made them reconnect
    assert summary["transactions_started"] >= 1
    assert summary["frames_up"] > 0 and summary["frames_down"] > 0
    assert summary["rtt_p50_ms"] is not None and summary["rtt_p99_ms"] >= summary["rtt_p50_ms"]
    assert summary["schema_violations"] == 0
    for line in err.splitlines():  # headless logs are JSON
        json.loads(line)


async def test_the_demo_says_when_its_target_cannot_be_reached() -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out, err = await run_cli(
        "demo",
        "--headless",
        "--chargers",
        "3",
        "--duration",
        "10",
        "--target",
        f"ws://127.0.0.1:{port}/ocpp",
        "--api",
        "127.0.0.1:0",
        timeout=60,
    )
    assert code == 3, err[-2000:]
    summary = json.loads(out.strip().splitlines()[-1])["summary"]
    assert summary["verdict"] == "error" and "cannot be reached" in summary["error"]
    assert summary["phases"] == []  # no chaos against nothing
    assert any(json.loads(x)["event"] == "demo_target_unreachable" for x in err.splitlines())
