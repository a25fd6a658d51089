"""The OpenAPI 3.1 document of the control API (served at `/api/openapi.json`).

The request schemas come from the same pydantic models that validate the requests (and,
for rules and fleet commands, the models of rule and scenario files), so the document
cannot drift from what the server accepts. A test checks every route is documented.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import TypeAdapter

from ocpp_chaos import __version__

__all__ = ["ROUTES", "openapi_document"]

_REF = "#/components/schemas/{model}"

# (method, path, summary, request schema name or None, success status, query parameters)
ROUTES: list[tuple[str, str, str, str | None, int, list[tuple[str, str]]]] = [
    ("get", "/api/status", "Engine status: proxy, sessions, frames, fleet", None, 200, []),
    (
        "get",
        "/api/sessions",
        "Open sessions with counters, round-trip p50/p99, active faults, findings",
        None,
        200,
        [("filter", "a filter expression choosing chargers, e.g. charger:CP-1*")],
    ),
    (
        "get",
        "/api/sessions/{charger_id}",
        "One charger: its sessions, recent frames, round-trip stats, findings, faults",
        None,
        200,
        [],
    ),
    (
        "get",
        "/api/findings",
        "Oracle findings (newest last), counts by kind, CSMS response times per action",
        None,
        200,
        [("kind", "only this kind"), ("charger", "only this charger"), ("limit", "at most")],
    ),
    ("get", "/api/rules", "Rules with state and hit counters", None, 200, []),
    ("post", "/api/rules", "Add (or replace) a rule, as in a rule file", "Rule", 201, []),
    ("post", "/api/rules/load", "Load a rule file", "RuleLoadRequest", 201, []),
    ("post", "/api/rules/{name}/enable", "Switch a rule on", None, 200, []),
    ("post", "/api/rules/{name}/disable", "Switch a rule off", None, 200, []),
    ("delete", "/api/rules/{name}", "Remove a rule", None, 200, []),
    ("get", "/api/faults", "Faults fired and still acting", None, 200, []),
    ("post", "/api/faults", "Fire a fault at chargers or a blast radius", "FaultRequest", 201, []),
    ("delete", "/api/faults", "Clear every active fault", None, 200, []),
    ("delete", "/api/faults/{name}", "Clear one fault", None, 200, []),
    ("get", "/api/fleet", "The virtual chargers and their states", None, 200, []),
    ("post", "/api/fleet", "Add virtual chargers", "FleetAddRequest", 201, []),
    (
        "post",
        "/api/fleet/commands",
        "A fleet command (a scenario step: plug_in, start_transaction, reboot, ...)",
        "FleetCommand",
        200,
        [],
    ),
    ("get", "/api/scenarios", "Scenario runs", None, 200, []),
    ("post", "/api/scenarios", "Start a scenario file", "ScenarioStartRequest", 201, []),
    ("get", "/api/scenarios/{run_id}", "One scenario run: progress, verdict", None, 200, []),
    ("post", "/api/scenarios/{run_id}/abort", "Abort a scenario run", None, 200, []),
    ("get", "/api/tape", "Download the tape (JSON lines)", None, 200, []),
    (
        "get",
        "/api/events",
        "WebSocket event stream: frames and decisions, sessions, rules, faults, findings, "
        "scenario progress (JSON lines: one object per line, a batch per message, in order)",
        None,
        101,
        [
            ("filter", "a filter expression"),
            ("charger", "charger id globs, comma-separated"),
            ("direction", "up or down"),
            ("action", "OCPP action globs"),
            ("type", "message types"),
            ("events", "event names, comma-separated"),
        ],
    ),
    ("get", "/api/openapi.json", "This document", None, 200, []),
    ("get", "/metrics", "Prometheus metrics", None, 200, []),
]


def _schemas() -> dict[str, Any]:
    from ocpp_chaos.api.commands import FleetCommand
    from ocpp_chaos.api.models import (
        FaultRequest,
        FleetAddRequest,
        RuleLoadRequest,
        ScenarioStartRequest,
    )
    from ocpp_chaos.rules.model import Rule

    adapters: list[tuple[str, Any]] = [
        ("Rule", TypeAdapter(Rule)),
        ("RuleLoadRequest", TypeAdapter(RuleLoadRequest)),
        ("FaultRequest", TypeAdapter(FaultRequest)),
        ("FleetAddRequest", TypeAdapter(FleetAddRequest)),
        ("FleetCommand", TypeAdapter(FleetCommand)),
        ("ScenarioStartRequest", TypeAdapter(ScenarioStartRequest)),
    ]
    keyed, defs = TypeAdapter.json_schemas(
        [(name, "validation", adapter) for name, adapter in adapters], ref_template=_REF
    )
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    for (name, _mode), schema in keyed.items():
        if "$ref" in schema and len(schema) == 1:
            target = schema["$ref"].rsplit("/", 1)[-1]
            if target != name:
                schemas[name] = schema
        else:
            schemas[name] = schema
    schemas["Error"] = {
        "type": "object",
        "properties": {
            "error": {"type": "string"},
            "problems": {"type": "array", "items": {}},
        },
        "required": ["error"],
    }
    return schemas


@cache
def openapi_document() -> dict[str, Any]:
    """The document (built once per process)."""
    paths: dict[str, Any] = {}
    for method, path, summary, body, status, query in ROUTES:
        op: dict[str, Any] = {
            "summary": summary,
            "operationId": f"{method}_{path.strip('/').replace('/', '_').replace('{', '')}".replace(
                "}", ""
            ).replace(".", "_"),
            "responses": {
                str(status): {"description": "OK"},
                "400": _error_response("bad request: the message says what is wrong"),
                "401": _error_response("a token is required"),
                "403": _error_response("cross-site request refused"),
                "404": _error_response("no such resource"),
            },
        }
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_params(path)
        ]
        params += [
            {"name": name, "in": "query", "description": text, "schema": {"type": "string"}}
            for name, text in query
        ]
        if params:
            op["parameters"] = params
        if body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": _REF.format(model=body)}}},
            }
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ocpp-chaos control API",
            "version": __version__,
            "description": "Drive the ocpp-chaos engine: sessions, rules, faults, the virtual "
            "fleet, scenario runs, the tape and a WebSocket event stream. Loopback by "
            "default; a token (Authorization: Bearer) when bound elsewhere.",
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"token": []}],
        "paths": paths,
    }


def _error_response(text: str) -> dict[str, Any]:
    return {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": _REF.format(model="Error")}}},
    }


def _path_params(path: str) -> list[str]:
    out = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            out.append(part[1:-1])
    return out
