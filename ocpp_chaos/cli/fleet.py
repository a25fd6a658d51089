"""`ocpp-chaos fleet`: virtual chargers against a CSMS (or the proxy in front of one)."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from pathlib import Path
from typing import Any

from ocpp_chaos.cli.common import ExitStatus, add_logging_options, run_until_signal

HELP = "run a fleet of virtual OCPP 1.6 / 2.0.1 chargers against a CSMS or the proxy"


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("fleet", help=HELP, description=HELP + ".")
    p.add_argument(
        "--target",
        required=True,
        metavar="URL",
        help="where chargers connect; each appends /<charger id> (e.g. ws://127.0.0.1:9000/ocpp)",
    )
    p.add_argument("--count", type=int, default=10, metavar="N", help="chargers (default 10)")
    p.add_argument(
        "--protocol",
        default="1.6",
        choices=["1.6", "2.0.1", "mixed"],
        help="OCPP version of the chargers; mixed alternates (default 1.6)",
    )
    p.add_argument(
        "--ramp",
        default="50/s",
        metavar="N/s",
        help="how many chargers start per second (default 50/s)",
    )
    p.add_argument(
        "--id-pattern",
        default="SIM-{n:05}",
        metavar="PATTERN",
        help="charger ids, Python format with n = 1..count (default SIM-{n:05})",
    )
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop after this long (default: until Ctrl-C)",
    )
    p.add_argument("--seed", type=int, default=1, help="seed of every random choice (default 1)")
    p.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help="Basic-auth password for every charger (security profile 1/2)",
    )
    p.add_argument(
        "--no-sessions", action="store_true", help="chargers only boot and heartbeat; no EVs come"
    )
    p.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for every charger (repeatable): a 1.6 configuration key "
        "(MeterValueSampleInterval=10) or a 2.0.1 device-model variable "
        "(SampledDataCtrlr.TxUpdatedInterval=10)",
    )
    p.add_argument(
        "--template",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="a charger template (YAML/JSON; repeatable: chargers take them in turn); it "
        "sets the protocol, connectors, settings and EVs (ocpp-chaos schema template)",
    )
    add_logging_options(p)
    p.set_defaults(run=run)


def _config(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--config {item!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def run(args: argparse.Namespace) -> int:
    from ocpp_chaos import log
    from ocpp_chaos.simulator.fleet import FleetConfig, parse_ramp
    from ocpp_chaos.simulator.template import TemplateFileError, load_template_file

    try:
        templates = [load_template_file(path) for path in args.template]
    except TemplateFileError as exc:
        print(f"ocpp-chaos fleet: {exc}", file=sys.stderr)
        return int(ExitStatus.BAD_INPUT)

    try:
        password = None
        if args.password_file is not None:
            password = args.password_file.read_text().strip()
        cfg = FleetConfig(
            target=args.target,
            count=args.count,
            protocol=args.protocol,
            ramp=parse_ramp(args.ramp),
            id_pattern=args.id_pattern,
            duration=args.duration,
            seed=args.seed,
            password=password,
            sessions=not args.no_sessions,
            config=_config(args.config),
            templates=templates,
        )
        if cfg.count < 1:
            raise ValueError("--count must be at least 1")
        cfg.charger_ids()
        from ocpp_chaos.simulator.fleet import build_charger

        # a bad key or value is an error now, not once per charger: build one of each kind
        for n in range(1, min(cfg.count, max(2, len(cfg.templates))) + 1):
            build_charger(cfg, n, "CHECK", random.Random(0))
    except (ValueError, OSError, KeyError, IndexError) as exc:
        print(f"ocpp-chaos fleet: {exc}", file=sys.stderr)
        return int(ExitStatus.BAD_INPUT)
    log.configure(headless=args.headless, level=args.log_level)
    return run_until_signal(lambda stop: _fleet(cfg, args.headless, stop))


async def _fleet(cfg: Any, headless: bool, stop: asyncio.Event) -> int:
    import structlog

    from ocpp_chaos.simulator.fleet import FleetSummary, run_fleet

    logger = structlog.get_logger("ocpp_chaos.cli")

    def progress(summary: FleetSummary) -> None:
        if headless:
            logger.info("fleet_progress", **summary.to_json())
        else:
            print(f"\r{summary.line()}", end="", file=sys.stderr, flush=True)

    summary, _chargers = await run_fleet(cfg, stop, progress=progress)
    if not headless:
        print(file=sys.stderr)
    print(json.dumps({"summary": summary.to_json()}) if headless else summary.line())
    return int(ExitStatus.OK if summary.booted else ExitStatus.CSMS_UNREACHABLE)
