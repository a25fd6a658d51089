"""`ocpp-chaos rules`: work with fault rule files (`rules check FILE...`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ocpp_chaos.cli.common import ExitStatus

HELP = "check fault rule files"


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "rules", help=HELP, description="Work with fault rule files (YAML or JSON)."
    )
    commands = p.add_subparsers(dest="rules_command", metavar="SUBCOMMAND", required=True)
    check = commands.add_parser(
        "check",
        help="validate rule files and report every problem",
        description="Validate rule files. Each problem is printed on stdout as "
        "FILE:LINE:COLUMN: FIELD: MESSAGE; the exit status is 1 if there is any.",
    )
    check.add_argument("files", nargs="+", type=Path, metavar="FILE", help="rule files")
    check.set_defaults(run=run_check)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def run_check(args: argparse.Namespace) -> int:
    from ocpp_chaos.rules.loader import RuleFileError, load_rule_files

    files: list[Path] = args.files
    try:
        loaded = load_rule_files(files)
    except RuleFileError as exc:
        for problem in exc.problems:
            print(problem)
        bad = len({p.file for p in exc.problems})
        print(
            f"{_plural(len(exc.problems), 'problem')} in {bad} of {_plural(len(files), 'file')}",
            file=sys.stderr,
        )
        return int(ExitStatus.VERDICT_FAILED)
    rules = sum(len(rule_file.rules) for _, rule_file in loaded)
    print(f"{_plural(rules, 'rule')} OK in {_plural(len(loaded), 'file')}")
    return int(ExitStatus.OK)
