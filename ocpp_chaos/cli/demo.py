"""`ocpp-chaos demo`: the embedded CSMS (or yours), the proxy, a fleet and rotating chaos in
the console (or headless, then the verdict and a summary)."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from pathlib import Path
from typing import Any

from ocpp_chaos.cli.common import (
    ExitStatus,
    add_api_options,
    add_logging_options,
    run_until_signal,
)
from ocpp_chaos.cli.engine import check_engine_options, configure_logs, run_engine

HELP = "a fleet charging through the proxy while chaos rotates, in the console"


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help=HELP,
        description="The embedded reference CSMS (or --target yours), the proxy in front of "
        "it, virtual chargers (OCPP 1.6 and 2.0.1) with EVs arriving and charging, and a "
        "chaos timeline rotating through signal loss, corrupted frames, reordering and a "
        "CSMS outage. Opens the console unless --headless (take over: fire your own faults, "
        "toggle the demo's rules). Ends with the verdict of the demo's expectations "
        "(exit 1 if one failed).",
    )
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long the chaos runs (default: 60 headless; until you quit the console)",
    )
    p.add_argument(
        "--chargers",
        type=int,
        default=50,
        metavar="N",
        help="how many chargers, alternating OCPP 1.6 and 2.0.1 (default 50)",
    )
    p.add_argument(
        "--target",
        metavar="URL",
        help="your CSMS (ws:// or wss://; the charger id is appended) instead of the "
        "embedded reference CSMS",
    )
    p.add_argument("--seed", type=int, default=1, metavar="N", help="seed of the chaos (default 1)")
    p.add_argument("--tape", type=Path, metavar="FILE", help="record every frame to FILE")
    add_api_options(p)
    add_logging_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if (args.duration is not None and args.duration <= 0) or args.chargers < 1:
        print("ocpp-chaos demo: --duration must be > 0 and --chargers >= 1", file=sys.stderr)
        return int(ExitStatus.BAD_INPUT)
    problem = check_engine_options(args)
    if problem:
        print(f"ocpp-chaos demo: {problem}", file=sys.stderr)
        return int(ExitStatus.BAD_INPUT)
    configure_logs(args)
    return run_until_signal(lambda stop: _demo(args, stop))


async def _demo(args: argparse.Namespace, stop: asyncio.Event) -> int:
    from ocpp_chaos.api.engine import Engine
    from ocpp_chaos.demo import DemoSummary, run_demo

    duration = args.duration
    if duration is None:
        duration = 60.0 if args.headless else math.inf
    engine = await Engine.build(
        args.target, tape=args.tape, seed=args.seed, csms_options={"heartbeat_interval": 10}
    )

    async def work() -> DemoSummary:
        return await run_demo(engine, duration=duration, chargers=args.chargers, stop=stop)

    code = await run_engine(engine, args, stop, title="ocpp-chaos demo", work=work)
    summary: DemoSummary | None = args.work_result
    if code != ExitStatus.OK or summary is None:
        return code
    if args.headless:
        print(json.dumps({"summary": summary.to_json()}))
    else:
        print(summary.render())
    if summary.verdict == "error":  # the target could not be reached
        return int(ExitStatus.CSMS_UNREACHABLE)
    if math.isinf(duration):  # the operator ended it: what it shows is the state then
        return int(ExitStatus.OK)
    return int(ExitStatus.OK if summary.verdict == "passed" else ExitStatus.VERDICT_FAILED)
