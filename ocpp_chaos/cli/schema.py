"""`ocpp-chaos schema KIND`: print the JSON Schema of a file format, for editors and CI.

For yaml-language-server (VS Code's YAML extension and others), save the output
and start a rule file with `# yaml-language-server: $schema=rules.schema.json` (a charger
template with `$schema=template.schema.json`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from ocpp_chaos.cli.common import ExitStatus

HELP = "print the JSON Schema of a file format"


def _rules() -> dict[str, Any]:
    from ocpp_chaos.rules.loader import rule_file_json_schema

    return rule_file_json_schema()


def _template() -> dict[str, Any]:
    from ocpp_chaos.simulator.template import template_json_schema

    return template_json_schema()


def _scenario() -> dict[str, Any]:
    from ocpp_chaos.scenarios.loader import scenario_json_schema

    return scenario_json_schema()


# kind -> (help, schema); a new file format (e.g. scenarios) adds a line here.
SCHEMAS: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "rules": ("fault rule files (ocpp-chaos proxy --rules)", _rules),
    "template": ("charger templates (scenarios/templates/)", _template),
    "scenario": ("scenario files (ocpp-chaos run)", _scenario),
}


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "schema",
        help=HELP,
        description=HELP + " (JSON Schema draft 2020-12) on stdout.",
    )
    p.add_argument(
        "kind",
        choices=sorted(SCHEMAS),
        help="; ".join(f"{kind}: {text}" for kind, (text, _) in sorted(SCHEMAS.items())),
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    _, build = SCHEMAS[args.kind]
    print(json.dumps(build(), indent=2, ensure_ascii=False))
    return int(ExitStatus.OK)
