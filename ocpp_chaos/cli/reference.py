"""The reference documentation generated from the code, so that it cannot drift from it.

Pages under `docs/` hold blocks between `<!-- BEGIN GENERATED: NAME -->` and
`<!-- END GENERATED: NAME -->`. This module writes each block from what the program
itself uses: the argparse parser (`cli_reference_markdown`), the pydantic models of rule,
scenario and template files (their field descriptions and JSON Schemas), the control
API's OpenAPI document, the Prometheus metrics families and the oracle's finding kinds.
Everything outside the blocks is written by hand.

    python -m ocpp_chaos.cli.reference            # rewrite the blocks (from the repository root)
    python -m ocpp_chaos.cli.reference --check    # exit 1 and name the stale pages

`tests/docs/` regenerates every block and compares it with the committed page.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel

__all__ = [
    "BLOCKS",
    "REGENERATE",
    "cli_reference_markdown",
    "control_api_reference_markdown",
    "findings_reference_markdown",
    "main",
    "metrics_reference_markdown",
    "render_page",
    "rules_reference_markdown",
    "scenarios_reference_markdown",
    "stale_pages",
    "templates_reference_markdown",
    "update_pages",
]

REGENERATE = "python -m ocpp_chaos.cli.reference"
"""The command that rewrites the generated blocks (run from the repository root)."""

_BEGIN = "<!-- BEGIN GENERATED: {name} ({command}) -->"
_END = "<!-- END GENERATED: {name} -->"
_BLOCK = re.compile(
    r"(?P<begin><!-- BEGIN GENERATED: (?P<name>[\w-]+) [^\n]*-->\n)"
    r"(?P<body>.*?)"
    r"(?P<end><!-- END GENERATED: (?P=name) -->)",
    re.S,
)


# -- markdown helpers -------------------------------------------------------------------------


def _cell(text: Any) -> str:
    """Text for a table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _code(text: Any) -> str:
    """`text` as inline code (backticks inside are doubled around)."""
    value = str(text)
    return f"`` {value} ``" if "`" in value else f"`{value}`"


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _show(value: Any) -> str:
    """A default value as a reader would write it in a YAML file (long ones: see the text)."""
    value = _plain(value)
    if isinstance(value, bool):
        return _code("true" if value else "false")
    if isinstance(value, float):
        return _code(f"{value:g}")
    if isinstance(value, str):
        return _code(value) if value else '`""`'
    text = json.dumps(value, separators=(", ", ": "))
    return _code(text) if len(text) <= 40 else "(see description)"


# -- the command line --------------------------------------------------------------------------


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _metavar(action: argparse.Action) -> str:
    if action.metavar is not None:
        return str(action.metavar)
    if action.choices is not None:
        return "{" + ",".join(str(c) for c in action.choices) + "}"
    return action.dest.upper() if action.option_strings else action.dest


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def _help(action: argparse.Action) -> str:
    text = action.help or ""
    if "%(" in text or "%%" in text:
        text = text % {**vars(action), "prog": ""}
    return text


def _default(action: argparse.Action) -> str | None:
    value = action.default
    if value in (None, False, [], argparse.SUPPRESS) or not _takes_value(action):
        return None
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], int):
        return f"{value[0]}:{value[1]}"  # HOST:PORT
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _usage(prog: str, parser: argparse.ArgumentParser) -> str:
    parts = [prog]
    optional = False
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if action.option_strings:
            if action.required:
                parts.append(f"{action.option_strings[-1]} {_metavar(action)}")
            else:
                optional = True
    if optional:
        parts.append("[options]")
    for action in parser._actions:
        if action.option_strings:
            continue
        name = _metavar(action) if action.choices is None else str(action.metavar or action.dest)
        if isinstance(action, argparse._SubParsersAction):
            parts.append(f"{name} ...")
        elif action.nargs == "+":
            parts.append(f"{name} [{name} ...]")
        elif action.nargs == "*":
            parts.append(f"[{name} ...]")
        elif action.nargs == "?":
            parts.append(f"[{name}]")
        else:
            parts.append(name)
    return " ".join(parts)


def _exclusive(parser: argparse.ArgumentParser) -> dict[argparse.Action, list[str]]:
    """action -> the options it cannot be combined with."""
    out: dict[argparse.Action, list[str]] = {}
    for group in parser._mutually_exclusive_groups:
        for action in group._group_actions:
            out[action] = [
                other.option_strings[-1] if other.option_strings else other.dest
                for other in group._group_actions
                if other is not action
            ]
    return out


def _command_section(
    prog: str, parser: argparse.ArgumentParser, summary: str | None, level: int
) -> list[str]:
    lines = [f"{'#' * level} `{prog}`", ""]
    description = " ".join((parser.description or "").split()) or (summary or "") + "."
    if description != ".":
        lines += [description[:1].upper() + description[1:], ""]
    lines += ["```text", _usage(prog, parser), "```", ""]
    exclusive = _exclusive(parser)
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        if action.option_strings:
            name = ", ".join(_code(o) for o in action.option_strings)
            value = _code(_metavar(action)) if _takes_value(action) else ""
        else:  # a positional: its name, and its choices if any
            name = _code(action.metavar or action.dest)
            value = _code(_metavar(action)) if action.choices is not None else ""
        text = _help(action)
        default = _default(action)
        if default is not None and "default" not in text.lower():
            text += f" (default {default})"
        if action.required and action.option_strings:
            text = "required: " + text
        if action.nargs == "+" and not action.option_strings:
            text += " (one or more)"
        if isinstance(action, argparse._AppendAction) and "repeat" not in text:
            text += " (repeatable)"
        if action in exclusive:
            text += " (not with " + ", ".join(_code(o) for o in exclusive[action]) + ")"
        rows.append((name, value, text))
    if rows:
        lines += [*_table(("option", "value", "description"), rows), ""]
    sub = _subparsers(parser)
    if sub is not None:
        helps = {a.dest: a.help for a in sub._choices_actions}
        for name, child in sub.choices.items():
            lines += _command_section(f"{prog} {name}", child, helps.get(name), level + 1)
    return lines


def cli_reference_markdown() -> str:
    """Every `ocpp-chaos` command with its usage and options, from `build_parser()`."""
    from ocpp_chaos.cli import build_parser

    parser = build_parser()
    sub = _subparsers(parser)
    assert sub is not None
    helps = {a.dest: a.help or "" for a in sub._choices_actions}
    lines = _table(
        ("command", "what it does"),
        (
            (f"[`ocpp-chaos {name}`](#ocpp-chaos-{name})", helps.get(name, ""))
            for name in sub.choices
        ),
    )
    lines += [
        "",
        "`ocpp-chaos --version` prints the version; every command takes `-h`/`--help`.",
        "",
    ]
    for name, child in sub.choices.items():
        lines += _command_section(f"ocpp-chaos {name}", child, helps.get(name), 2)
    return "\n".join(lines).rstrip() + "\n"


# -- pydantic models (file formats, API bodies) ------------------------------------------------


def _is_duration(options: Sequence[Mapping[str, Any]]) -> bool:
    types = [o.get("type") for o in options]
    return sorted(map(str, types)) == ["number", "string"] and any(
        "(ms|s|m|h)" in str(o.get("pattern", "")) for o in options
    )


def _bounds(schema: Mapping[str, Any]) -> str:
    marks = (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    )
    found = [f"{sign} {schema[key]:g}" for key, sign in marks if key in schema]
    return (" " + ", ".join(found)) if found else ""


def _flat_any(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        if "anyOf" in option and len(option) <= 2:  # a nested union (with its description)
            if _is_duration(option["anyOf"]):
                out.append(option)
            else:
                out.extend(_flat_any(option))
        elif option.get("type") != "null":
            out.append(option)
    return out


def _type(schema: Mapping[str, Any]) -> str:
    """A JSON Schema as a short phrase: `duration`, `integer ≥ 1`, `up | down`..."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "const" in schema:
        return _code(schema["const"])
    if "enum" in schema:
        return " | ".join(dict.fromkeys(_code(v) for v in schema["enum"]))
    if "discriminator" in schema:
        tag = schema["discriminator"]["propertyName"]
        return f"one of {len(schema['oneOf'])} kinds, by {_code(tag)} (below)"
    if "anyOf" in schema or "oneOf" in schema:
        options = _flat_any(schema)
        if "anyOf" in schema and _is_duration(schema["anyOf"]):
            return "duration"
        if (
            len(options) == 2
            and options[1].get("type") == "array"
            and options[1].get("items") == options[0]
        ):
            if options[1].get("minItems") == options[1].get("maxItems") == 2:
                return f"{_type(options[0])}, or a [min, max] range"
            return f"{_type(options[0])}, or a list of them"
        return " or ".join(_type(o) for o in options)
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind if k != "null")
    if kind == "array":
        if "prefixItems" in schema:
            return "[" + ", ".join(_type(i) for i in schema["prefixItems"]) + "]"
        items = _type(schema.get("items", {}))
        if schema.get("minItems") == 2 and schema.get("maxItems") == 2:
            return f"[min, max] of {items}"
        return f"list of {items}"
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping) and extra:
            return f"mapping to {_type(extra)}"
        return "mapping"
    if kind in ("integer", "number"):
        return f"{kind}{_bounds(schema)}"
    if kind == "string":
        text = "text"
        if "minLength" in schema or "maxLength" in schema:
            low, high = schema.get("minLength", 0), schema.get("maxLength")
            if high is None:
                text += f", at least {low} characters"
            elif low:
                text += f", {low} to {high} characters"
            else:
                text += f", at most {high} characters"
        if "pattern" in schema:
            text += f", matching {_code(schema['pattern'])}"
        return text
    if kind == "boolean":
        return "true | false"
    return "any"


def _field(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return info
    return None


def _default_text(model: type[BaseModel], key: str, required: bool) -> str:
    if required:
        return "required"
    info = _field(model, key)
    if info is None:
        return ""
    value = info.get_default(call_default_factory=True)
    return "—" if value is None else _show(value)


FIELD_NOTES: dict[tuple[str, str], str] = {
    ("Rule", "name"): "unique among the rules loaded; how the API, scenarios and the tape "
    "call the rule",
    ("Rule", "description"): "for people",
    ("Rule", "enabled"): "off: loaded, but acts only once switched on",
    ("Rule", "match"): "which frames (or sessions) it applies to",
    ("Rule", "window"): "when it is live",
    ("Rule", "fault"): "what it does (the fault types below)",
    ("Check", "check"): "what it asks (the table below)",
    ("Check", "chargers"): "'all', group names or charger ids",
    ("Check", "started"): "transactions: at least this many started",
    ("Check", "ended"): "transactions: at least this many ended",
    ("Check", "kinds"): "findings, no_findings, max_findings: the finding kinds (none: every "
    "error finding)",
    ("Check", "min"): "findings, metric: the least",
    ("Check", "max"): "max_findings, metric: the most; response_time: a duration",
    ("Check", "percentile"): "response_time: which percentile",
    ("Check", "metric"): "metric: which one (the metrics below)",
    ("Scenario", "name"): "the scenario's name (reports, JUnit suite)",
    ("Scenario", "seed"): "seed of every random choice (--seed overrides)",
    ("Scenario", "fleet"): "the groups of virtual chargers",
    ("Scenario", "timeline"): "the steps, in order (below)",
    ("Scenario", "expectations"): "what the verdict asks",
}
"""Descriptions for fields whose model gives none, by (schema name, field)."""


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    head, dot, _rest = text.partition(". ")
    return head + "." if dot else text


def _model_rows(
    model: type[BaseModel],
    schema: Mapping[str, Any],
    skip: Iterable[str] = (),
    defs: Mapping[str, Any] | None = None,
) -> list[tuple[str, str, str, str]]:
    """One row per field: name, type, default, description (a referenced model's first
    sentence when the field has none of its own)."""
    required = set(schema.get("required", []))
    rows = []
    for key, prop in schema.get("properties", {}).items():
        if key in skip:
            continue
        description = FIELD_NOTES.get((str(schema.get("title", "")), key)) or prop.get(
            "description", ""
        )
        for option in [prop, *_flat_any(prop)]:
            if description:
                break
            ref = str(option.get("$ref", "")).rsplit("/", 1)[-1]
            if ref and defs is not None and ref in defs:
                description = _first_sentence(defs[ref].get("description", ""))
            elif not ref:
                description = option.get("description", "")
        rows.append(
            (_code(key), _type(prop), _default_text(model, key, key in required), description)
        )
    return rows


def _model_section(
    model: type[BaseModel],
    schema: Mapping[str, Any],
    *,
    title: str | None = None,
    level: int = 3,
    skip: Iterable[str] = (),
    note: str = "",
    defs: Mapping[str, Any] | None = None,
) -> list[str]:
    lines = [f"{'#' * level} {title or model.__name__}", ""]
    description = note or " ".join(str(schema.get("description", "")).split())
    if description:
        lines += [description, ""]
    rows = _model_rows(model, schema, skip, defs)
    if rows:
        lines += [*_table(("field", "type", "default", "description"), rows), ""]
    return lines


def _union_members(annotated: Any) -> list[type[BaseModel]]:
    """The models of an `Annotated[A | B | ..., Field(discriminator=...)]`."""
    union = get_args(annotated)[0]
    return [m for m in get_args(union) if isinstance(m, type) and issubclass(m, BaseModel)]


def _tag(model: type[BaseModel], key: str) -> str:
    info = model.model_fields[key]
    return str(get_args(info.annotation)[0])


def rules_reference_markdown() -> str:
    """Rule files: the rule, its match, selectors and every fault, from the models."""
    from ocpp_chaos.rules.loader import rule_file_json_schema
    from ocpp_chaos.rules.model import (
        BlastRadius,
        Fault,
        InjectCall,
        Match,
        PayloadCondition,
        Rule,
        Window,
    )

    defs = rule_file_json_schema()["$defs"]
    section = partial(_model_section, defs=defs)
    lines: list[str] = []
    lines += section(Rule, defs["Rule"], title="Rule")
    lines += section(Match, defs["Match"], title="`match`")
    lines += section(PayloadCondition, defs["PayloadCondition"], title="Payload conditions")
    lines += section(Window, defs["Window"], title="`window`")
    lines += section(BlastRadius, defs["BlastRadius"], title="`chargers` (blast radius)")
    faults = _union_members(Fault)
    lines += ["### Faults", ""]
    lines += _table(
        ("type", "what it does"),
        (
            (f"[`{_tag(m, 'type')}`](#{_tag(m, 'type')})", defs[m.__name__].get("description", ""))
            for m in faults
        ),
    )
    lines.append("")
    for model in faults:
        lines += section(
            model, defs[model.__name__], title=f"`{_tag(model, 'type')}`", level=4, skip=["type"]
        )
    lines += section(InjectCall, defs["InjectCall"], title="`inject.call`", level=4)
    return "\n".join(lines).rstrip() + "\n"


STEP_NOTES: dict[str, str] = {
    "start_chargers": "Start the selected chargers (a group with `autostart: false`, or chargers "
    "stopped before).",
    "stop_chargers": "Stop the selected chargers' firmware: their connections end and they "
    "stay away until started again.",
    "plug_in": "An EV arrives and is plugged into `connector`.",
    "unplug": "The EV leaves `connector`; a transaction running there is stopped first "
    "(reason EVDisconnected).",
    "authorize": "The charger authorizes `id_tag` (Authorize online; offline from its local "
    "list and cache).",
    "start_transaction": "Start a transaction on `connector` for `id_tag`, plugging an EV in "
    "first if none is there (1.6 StartTransaction, 2.0.1 TransactionEvent Started).",
    "stop_transaction": "Stop the transaction on `connector` with `reason` (1.6 "
    "StopTransaction, 2.0.1 TransactionEvent Ended).",
    "send_raw": "",
    "enable_rule": "Switch on the named rules (from the scenario's `rules`).",
    "disable_rule": "Switch off the named rules; frames they hold (delayed, reordered) are "
    "delivered.",
    "fire": "",
    "reboot": "The charger resets (`Soft` or `Hard`): its transactions stop, the connection "
    "drops, it reconnects and boots again.",
    "power_loss": "The charger loses power: the connection is gone and it boots again; "
    "`keep_queue` keeps its queued transaction messages (non-volatile memory) or loses them.",
    "clock_drift": "The charger's clock jumps by `offset` (negative: behind) and drifts `ppm` "
    "from then on; every timestamp it sends is off.",
    "connector_fault": "The connector fails: Faulted with `error_code` (a 1.6 "
    "ChargePointErrorCode); a transaction on it ends.",
    "clear_connector_fault": "The connector's fault clears: it is usable again.",
    "restart_connection": "",
    "wait": "Wait `duration`.",
    "wait_for": "Wait until `condition` holds (at most `timeout`).",
    "check_steady_state": "",
}
"""What each step does, for the steps whose model has no docstring of its own."""

METRIC_NOTES: dict[str, str] = {
    "transactions_started": "transactions the selected chargers started (accepted or not)",
    "transactions_ended": "transactions they ended",
    "calls_to_csms": "data frames the proxy relayed to the CSMS (charger to CSMS)",
    "findings": "oracle findings of any kind and severity",
    "error_findings": "oracle findings whose kind is an error",
    "chargers_accepted": "chargers whose boot is Accepted now",
    "boots": "BootNotifications the chargers sent",
    "reconnects": "connections after each charger's first",
    "replayed": "transaction messages sent from an offline queue after a reconnect",
}
"""What each `metric` of a `metric` check counts."""


def scenarios_reference_markdown() -> str:
    """Scenario files: the scenario, fleet, rules, expectations, every check, metric and step."""
    from ocpp_chaos.scenarios.loader import scenario_json_schema
    from ocpp_chaos.scenarios.model import (
        CHECKS,
        METRICS,
        Check,
        FleetGroup,
        Pick,
        ReferenceCsms,
        RulesSection,
        Scenario,
        StartChargers,
        Step,
    )

    schema = scenario_json_schema()
    defs = schema["$defs"]
    section = partial(_model_section, defs=defs)
    if set(METRIC_NOTES) != set(METRICS):
        raise AssertionError(f"METRIC_NOTES must describe exactly {sorted(METRICS)}")
    steps = _union_members(Step)
    tags = {m: _tag(m, "do") for m in steps}
    if set(STEP_NOTES) != set(tags.values()):
        raise AssertionError(f"STEP_NOTES must name exactly {sorted(tags.values())}")

    lines: list[str] = []
    lines += section(Scenario, schema, title="Scenario")
    lines += section(FleetGroup, defs["FleetGroup"], title="`fleet` groups")
    lines += section(RulesSection, defs["RulesSection"], title="`rules`")
    lines += section(ReferenceCsms, defs["ReferenceCsms"], title="`reference_csms`")
    expectations = Scenario.model_fields["expectations"].annotation
    assert isinstance(expectations, type) and issubclass(expectations, BaseModel)
    lines += section(expectations, defs["Expectations"], title="`expectations`")
    lines += section(
        Check,
        defs["Check"],
        title="Checks",
        note="A check is a condition (a step's `after`, `wait_for`'s `condition`, `abort`) or "
        "an expectation (`steady_state`, `end`). `check` names what it asks; the other "
        "fields refine it.",
    )
    lines += _table(("check", "holds when"), ((_code(k), v) for k, v in CHECKS.items()))
    lines += ["", "### Metrics (`check: metric`)", ""]
    lines += _table(("metric", "counts"), ((_code(m), METRIC_NOTES[m]) for m in METRICS))
    lines += ["", "### Selecting chargers", ""]
    common = [k for k in defs["StartChargers"]["properties"] if k != "do"]
    lines += _model_rows_table(
        StartChargers, defs["StartChargers"], keep=common, title="", defs=defs
    )
    lines += section(Pick, defs["Pick"], title="`pick`", level=4)
    lines += ["### Steps", ""]
    lines += [
        "Every step takes the fields above (`chargers`, `pick`, `name`, `at`, `after`, "
        "`timeout`, `on_timeout`) and these of its own:",
        "",
    ]
    for model in steps:
        do = tags[model]
        note = " ".join(str(defs[model.__name__].get("description", "")).split())
        lines += section(
            model,
            defs[model.__name__],
            title=f"`{do}`",
            level=4,
            skip=["do", *common],
            note=note or STEP_NOTES[do],
        )
    return "\n".join(lines).rstrip() + "\n"


def _model_rows_table(
    model: type[BaseModel],
    schema: Mapping[str, Any],
    *,
    keep: Sequence[str],
    title: str,
    defs: Mapping[str, Any],
) -> list[str]:
    skip = [k for k in schema.get("properties", {}) if k not in keep]
    lines = [title, ""] if title else []
    rows = _model_rows(model, schema, skip, defs)
    return [*lines, *_table(("field", "type", "default", "description"), rows), ""]


def templates_reference_markdown() -> str:
    """Charger templates: every field, connector types, EVs, arrivals and dwell."""
    from ocpp_chaos.simulator.template import (
        CONNECTOR_TYPES,
        DC_CONNECTOR_TYPES,
        ChargerTemplate,
        ConnectorSpec,
        EVSpec,
        FixedArrivals,
        FixedDwell,
        LognormalDwell,
        MeterValues,
        PoissonArrivals,
        UniformDwell,
        template_json_schema,
    )

    schema = template_json_schema()
    defs = schema["$defs"]
    section = partial(_model_section, defs=defs)
    lines: list[str] = []
    lines += section(ChargerTemplate, schema, title="Template")
    lines += section(ConnectorSpec, defs["ConnectorSpec"], title="`connectors` / `evses`")
    lines += [
        "Connector types: " + ", ".join(_code(t) for t in CONNECTOR_TYPES) + ".",
        "",
        "DC unless `dc: false`: " + ", ".join(_code(t) for t in sorted(DC_CONNECTOR_TYPES)) + ".",
        "",
    ]
    lines += section(MeterValues, defs["MeterValues"], title="`meter_values`")
    lines += section(EVSpec, defs["EVSpec"], title="`evs`")
    kinds: list[tuple[type[BaseModel], str, str]] = [
        (PoissonArrivals, "arrivals", "process"),
        (FixedArrivals, "arrivals", "process"),
        (LognormalDwell, "dwell", "distribution"),
        (UniformDwell, "dwell", "distribution"),
        (FixedDwell, "dwell", "distribution"),
    ]
    for model, field, key in kinds:
        lines += section(
            model,
            defs[model.__name__],
            title=f"`{field}: {{{key}: {_tag(model, key)}}}`",
            skip=[key],
        )
    return "\n".join(lines).rstrip() + "\n"


# -- the control API ---------------------------------------------------------------------------


def control_api_reference_markdown() -> str:
    """Every route of the control API and its request bodies, from the OpenAPI document."""
    from ocpp_chaos.api.models import (
        FaultRequest,
        FleetAddRequest,
        RuleLoadRequest,
        ScenarioStartRequest,
    )
    from ocpp_chaos.api.openapi import openapi_document

    document = openapi_document()
    schemas = document["components"]["schemas"]
    section = partial(_model_section, defs=schemas)
    rows = []
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            body_name = str(body.get("schema", {}).get("$ref", "")).rsplit("/", 1)[-1]
            query = [p for p in op.get("parameters", []) if p["in"] == "query"]
            success = next(iter(op["responses"]))
            rows.append(
                (
                    method.upper(),
                    _code(path),
                    op["summary"],
                    f"[{body_name}](#{body_name.lower()})" if body_name else "",
                    ", ".join(f"{_code(p['name'])} ({p['description']})" for p in query),
                    success,
                )
            )
    lines = _table(("method", "path", "what", "body", "query", "success"), rows)
    lines += [
        "",
        'Every error is `application/json`: `{"error": "...", "problems": [...]}` with '
        "status 400 (bad request, unknown fields named in `problems`), 401 (a token is "
        "required), 403 (a cross-site `Origin`) or 404 (no such charger, rule, fault or run).",
        "",
        "### Rule",
        "",
        "A rule exactly as in a rule file (as JSON): see [rules.md](rules.md#rule).",
        "",
        "### FleetCommand",
        "",
        "A scenario step without its timing fields (`at`, `after`, `timeout`, `on_timeout` are "
        "refused): `do` is one of "
        + ", ".join(
            f"[`{do}`](scenarios.md#{do})"
            for do in schemas["FleetCommand"]["discriminator"]["mapping"]
        )
        + "; the other fields are the step's (see [scenarios.md](scenarios.md#steps)).",
        "",
    ]
    for model in (RuleLoadRequest, FaultRequest, FleetAddRequest, ScenarioStartRequest):
        lines += section(model, schemas[model.__name__])
    return "\n".join(lines).rstrip() + "\n"


# -- metrics and findings ------------------------------------------------------------------------


def metrics_reference_markdown() -> str:
    """Every Prometheus metric family of `/metrics`, read from a (not started) engine."""
    from ocpp_chaos.api.engine import Engine
    from ocpp_chaos.api.server import ApiServer
    from ocpp_chaos.proxy import ProxyConfig, ProxyServer
    from ocpp_chaos.proxy.oracle import HISTOGRAM_BOUNDS

    proxy = ProxyServer(ProxyConfig(upstream="ws://127.0.0.1:9/", listen_port=0))
    api = ApiServer(Engine(proxy), "127.0.0.1", 0)
    suffix = {"counter": "_total", "histogram": "_bucket, _sum, _count"}
    rows = []
    for family in api.metrics.collect():
        labels = tuple(getattr(family, "_labelnames", ()))
        if family.type == "histogram":
            labels = (*labels, "le")
            name = f"{_code(family.name)} (`_bucket`, `_sum`, `_count`)"
        else:
            name = _code(family.name + suffix.get(family.type, ""))
        rows.append((name, family.type, ", ".join(_code(x) for x in labels), family.documentation))
    lines = _table(("metric", "type", "labels", "meaning"), rows)
    bounds = ", ".join(f"{b:g}" for b in HISTOGRAM_BOUNDS)
    lines += ["", f"Histogram buckets (`le`, seconds): {bounds}, `+Inf`."]
    return "\n".join(lines).rstrip() + "\n"


def findings_reference_markdown() -> str:
    """The CSMS oracle's finding kinds with their severity and spec references."""
    from ocpp_chaos.proxy.oracle import KINDS

    rows = [(_code(kind), severity, spec, about) for kind, (severity, spec, about) in KINDS.items()]
    return "\n".join(_table(("kind", "severity", "spec", "what the CSMS did"), rows)) + "\n"


# -- pages ----------------------------------------------------------------------------------------

BLOCKS: dict[str, tuple[str, Callable[[], str]]] = {
    "cli": ("docs/reference/cli.md", cli_reference_markdown),
    "rules": ("docs/reference/rules.md", rules_reference_markdown),
    "scenarios": ("docs/reference/scenarios.md", scenarios_reference_markdown),
    "templates": ("docs/reference/templates.md", templates_reference_markdown),
    "control-api": ("docs/reference/control-api.md", control_api_reference_markdown),
    "metrics": ("docs/reference/metrics.md", metrics_reference_markdown),
    "findings": ("docs/faults.md", findings_reference_markdown),
}
"""Block name -> (page, relative to the repository root; what writes the block)."""


def render_page(text: str, page: str, *, cache: dict[str, str] | None = None) -> str:
    """`text` (the page `page`) with each of its generated blocks written anew. Raises
    ValueError for a block name that is not known or a block missing from its page."""
    cache = {} if cache is None else cache

    def body(name: str) -> str:
        if name not in cache:
            cache[name] = BLOCKS[name][1]()
        return cache[name]

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in BLOCKS:
            raise ValueError(f"{page}: unknown generated block {name!r}")
        begin = _BEGIN.format(name=name, command=REGENERATE)
        return f"{begin}\n{body(name)}{_END.format(name=name)}"

    found = {m["name"] for m in _BLOCK.finditer(text)}
    wanted = {name for name, (path, _) in BLOCKS.items() if path == page}
    if wanted - found:
        raise ValueError(f"{page}: no generated block {sorted(wanted - found)}")
    return _BLOCK.sub(replace, text)


def _pages(root: Path) -> dict[str, tuple[Path, str, str]]:
    """page -> (path, its text now, its text with the blocks regenerated)."""
    cache: dict[str, str] = {}
    out = {}
    for page in dict.fromkeys(path for path, _ in BLOCKS.values()):
        path = root / page
        text = path.read_text(encoding="utf-8")
        out[page] = (path, text, render_page(text, page, cache=cache))
    return out


def stale_pages(root: Path) -> list[str]:
    """The pages whose generated blocks differ from what the code says now."""
    return [page for page, (_p, old, new) in _pages(root).items() if old != new]


def update_pages(root: Path) -> list[str]:
    """Rewrite the generated blocks under `root`; returns the pages that changed."""
    changed = []
    for page, (path, old, new) in _pages(root).items():
        if old != new:
            path.write_text(new, encoding="utf-8")
            changed.append(page)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=REGENERATE, description="Rewrite the generated blocks of the reference pages."
    )
    parser.add_argument("--check", action="store_true", help="only report stale pages (exit 1)")
    parser.add_argument(
        "--root", type=Path, default=Path("."), help="the repository root (default: .)"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_pages(args.root)
        for page in stale:
            print(f"{page} is out of date: run `{REGENERATE}`", file=sys.stderr)
        return 1 if stale else 0
    for page in update_pages(args.root):
        print(f"updated {page}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
