"""`ocpp-chaos`: the command line. One module per subcommand; this one routes.

Subcommands parse their options and call into the engine; heavy modules are
imported inside each subcommand so `ocpp-chaos --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ocpp_chaos import __version__
from ocpp_chaos.cli import console, csms, demo, fleet, proxy, rules, run, schema, web
from ocpp_chaos.cli.common import ExitStatus

__all__ = ["ExitStatus", "build_parser", "main"]

_COMMANDS = (proxy, fleet, run, csms, demo, console, rules, schema, web)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocpp-chaos",
        description="Chaos engineering for EV charging networks: a transparent OCPP-J chaos "
        "proxy, the embedded reference CSMS and a demo.",
    )
    parser.add_argument("--version", action="version", version=f"ocpp-chaos {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with `argv` (default: `sys.argv[1:]`) and return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return int(ExitStatus.BAD_INPUT)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return int(ExitStatus.INTERRUPTED)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
