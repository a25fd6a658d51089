"""`ocpp-chaos demo`: the embedded CSMS, the proxy and a few chargers, then a summary."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from ocpp_chaos.cli.common import ExitStatus, add_logging_options, run_until_signal

HELP = "run the embedded reference CSMS, the proxy and a few chargers, and summarise"


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("demo", help=HELP, description=HELP + ".")
    p.add_argument(
        "--duration",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="how long the chargers run (default 20)",
    )
    p.add_argument(
        "--chargers",
        type=int,
        default=4,
        metavar="N",
        help="how many chargers, alternating OCPP 1.6 and 2.0.1 (default 4)",
    )
    p.add_argument("--tape", type=Path, metavar="FILE", help="record every frame to FILE")
    add_logging_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ocpp_chaos import log

    if args.duration <= 0 or args.chargers < 1:
        print("ocpp-chaos demo: --duration must be > 0 and --chargers >= 1", file=sys.stderr)
        return int(ExitStatus.BAD_INPUT)
    log.configure(headless=args.headless, level=args.log_level)
    return run_until_signal(lambda stop: _demo(args, stop))


async def _demo(args: argparse.Namespace, stop: asyncio.Event) -> int:
    from ocpp_chaos.demo import run_demo

    summary = await run_demo(
        duration=args.duration,
        chargers=args.chargers,
        stop=stop,
        tape=str(args.tape) if args.tape else None,
    )
    if args.headless:
        print(json.dumps({"summary": summary.to_json()}))
    else:
        print(summary.render())
    if summary.flows_completed == 0:
        return int(ExitStatus.VERDICT_FAILED)
    return int(ExitStatus.OK)
