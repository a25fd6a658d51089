"""`ocpp-chaos csms`: the embedded reference CSMS on its own."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from ocpp_chaos.cli.common import ExitStatus, add_logging_options, parse_hostport, run_until_signal

HELP = "run the embedded reference CSMS (OCPP 1.6, 2.0.1, 2.1)"


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("csms", help=HELP, description=HELP + ".")
    p.add_argument(
        "--listen",
        type=parse_hostport,
        default=("127.0.0.1", 9100),
        metavar="HOST:PORT",
        help="where chargers (or the proxy) connect (default 127.0.0.1:9100)",
    )
    p.add_argument(
        "--heartbeat-interval",
        type=int,
        default=300,
        metavar="SECONDS",
        help="interval given to chargers in BootNotification (default 300)",
    )
    add_logging_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ocpp_chaos import log

    log.configure(headless=args.headless, level=args.log_level)
    return run_until_signal(lambda stop: serve(args, stop))


async def serve(args: argparse.Namespace, stop: asyncio.Event) -> int:
    import structlog

    from ocpp_chaos.csms import ReferenceCSMS

    host, port = args.listen
    csms = ReferenceCSMS(host, port, heartbeat_interval=args.heartbeat_interval)
    try:
        await csms.start()
    except OSError as exc:
        structlog.get_logger("ocpp_chaos.cli").error(
            "listen_failed", listen=f"{host}:{port}", error=str(exc)
        )
        return int(ExitStatus.BAD_INPUT)
    structlog.get_logger("ocpp_chaos.cli").info("csms_listening", url=csms.url)
    try:
        await stop.wait()
    finally:
        await csms.stop()
    return int(ExitStatus.OK)
