"""`ocpp-chaos proxy`: the transparent chaos proxy between chargers and a CSMS."""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from pathlib import Path
from typing import Any

from ocpp_chaos.cli.common import (
    ExitStatus,
    add_api_options,
    add_logging_options,
    parse_hostport,
    run_until_signal,
)
from ocpp_chaos.cli.engine import check_engine_options, configure_logs, run_engine

HELP = "relay chargers to a CSMS through the chaos proxy"


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "proxy",
        help=HELP,
        description=HELP + ". Without --upstream it starts the embedded "
        "reference CSMS and relays to it.",
    )
    p.add_argument(
        "--listen",
        type=parse_hostport,
        default=("127.0.0.1", 9000),
        metavar="HOST:PORT",
        help="where chargers connect (default 127.0.0.1:9000)",
    )
    p.add_argument(
        "--upstream",
        metavar="URL",
        help="the CSMS base URL (ws:// or wss://); the charger id is appended. "
        "Default: the embedded reference CSMS",
    )
    p.add_argument(
        "--tape", type=Path, metavar="FILE", help="append every frame to FILE as JSON lines"
    )
    p.add_argument(
        "--tls-cert", type=Path, metavar="PEM", help="serve wss:// with this certificate"
    )
    p.add_argument("--tls-key", type=Path, metavar="PEM", help="private key for --tls-cert")
    p.add_argument(
        "--upstream-ca",
        type=Path,
        metavar="PEM",
        help="CA bundle to verify a wss:// CSMS (default: system CAs)",
    )
    p.add_argument(
        "--upstream-cert",
        type=Path,
        metavar="PEM",
        help="client certificate towards the CSMS (security profile 3)",
    )
    p.add_argument("--upstream-key", type=Path, metavar="PEM", help="key for --upstream-cert")
    p.add_argument(
        "--max-frame-size",
        type=int,
        default=None,
        metavar="BYTES",
        help="largest frame relayed; larger ones close with 1009 (default 1 MiB + 64 KiB)",
    )
    p.add_argument(
        "--no-schema",
        action="store_true",
        help="do not check payloads against the OCPP JSON schemas",
    )
    p.add_argument(
        "--rules",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="fault rules to apply (YAML or JSON); repeat for several files. "
        "Check them with `ocpp-chaos rules check`",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of every random choice the rules make (default 0): "
        "the same seed and traffic give the same faults",
    )
    p.add_argument(
        "--slow",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="the CSMS oracle reports answers slower than this (default 2)",
    )
    p.add_argument(
        "--call-timeout",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="the CSMS oracle reports CALLs left unanswered this long (default 30)",
    )
    add_api_options(p)
    add_logging_options(p)
    p.set_defaults(run=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"seconds must be >= 0: {text!r}")
    return value


def validate_tls(args: argparse.Namespace) -> str | None:
    """A message if the TLS options do not fit together, else None."""
    if args.tls_key and not args.tls_cert:
        return "--tls-key needs --tls-cert"
    if args.upstream_key and not args.upstream_cert:
        return "--upstream-key needs --upstream-cert"
    for name in ("tls_cert", "tls_key", "upstream_ca", "upstream_cert", "upstream_key"):
        path = getattr(args, name)
        if path is not None and not path.is_file():
            return f"--{name.replace('_', '-')}: no such file: {path}"
    return None


def run(args: argparse.Namespace) -> int:
    from ocpp_chaos.rules.loader import RuleFileError, load_rule_files

    # The rule files first: a mistake in one stops the command before anything starts.
    try:
        args.rule_files = load_rule_files(args.rules)
    except RuleFileError as exc:
        for rule_problem in exc.problems:
            print(rule_problem, file=sys.stderr)
        return int(ExitStatus.BAD_INPUT)
    problem = check_engine_options(args)
    if problem:
        print(f"ocpp-chaos proxy: {problem}", file=sys.stderr)
        return int(ExitStatus.BAD_INPUT)
    configure_logs(args)
    problem = validate_tls(args)
    if problem:
        import structlog

        structlog.get_logger("ocpp_chaos.cli").error("bad_option", message=problem)
        return int(ExitStatus.BAD_INPUT)
    return run_until_signal(lambda stop: serve(args, stop))


async def serve(args: argparse.Namespace, stop: asyncio.Event) -> int:
    import structlog

    from ocpp_chaos.api.engine import Engine
    from ocpp_chaos.proxy import DEFAULT_MAX_FRAME_SIZE, ProxyConfig, ProxyServer
    from ocpp_chaos.proxy.oracle import OracleConfig

    logger = structlog.get_logger("ocpp_chaos.cli")
    csms = None
    upstream = args.upstream
    if upstream is None:
        from ocpp_chaos.csms import ReferenceCSMS

        csms = ReferenceCSMS(port=0)
        await csms.start()
        upstream = csms.url
        logger.info("embedded_csms", url=upstream)
    host, port = args.listen
    config = ProxyConfig(
        upstream=upstream,
        listen_host=host,
        listen_port=port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        upstream_ca=args.upstream_ca,
        upstream_cert=args.upstream_cert,
        upstream_key=args.upstream_key,
        max_frame_size=args.max_frame_size or DEFAULT_MAX_FRAME_SIZE,
        tape=args.tape,
        check_schema=not args.no_schema,
        seed=args.seed,
        oracle=OracleConfig(slow_threshold=args.slow, call_timeout=args.call_timeout),
    )
    rules = [rule for _path, rule_file in args.rule_files for rule in rule_file.rules]
    server = ProxyServer(config, rules=rules)
    for rule in rules:
        logger.info("rule_loaded", rule=rule.name, fault=rule.fault.type, enabled=rule.enabled)
    engine = Engine(server, csms=csms, seed=args.seed)
    try:
        await server.start()
    except OSError as exc:
        logger.error("listen_failed", listen=f"{host}:{port}", error=str(exc))
        if not args.headless:
            print(f"ocpp-chaos proxy: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        if csms is not None:
            await csms.stop()
        return int(ExitStatus.BAD_INPUT)
    return await run_engine(engine, args, stop, title=f"ocpp-chaos proxy {server.url}")
