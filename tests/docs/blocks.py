"""Fenced code blocks of the Markdown pages under docs/, and the checks of shell examples.

Every block says what it is in its info string, and the tests run it accordingly:

- ```yaml rules | scenario | template | step | check | fault``: loaded with the file format's
  own loader (scenarios are also run against the embedded reference CSMS);
- ```json``, ```jsonl``: parsed;
- ```sh``: each `ocpp-chaos` command line (also after `docker run ... ocpp-chaos` and
  `python -m ocpp_chaos`) is parsed by the real CLI parser, repository paths it names must
  exist, `curl`/`websocat` calls must name a control API route (and their JSON bodies must
  be valid requests), and `python bench/X.py` options must exist in that script;
- ```filter``: each line is a filter expression;
- ```python pytest``: run as a test file with the pytest plugin;
- ```text``: not run (output, synopses).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

LANGUAGES = {"yaml", "json", "jsonl", "sh", "filter", "python", "text"}
YAML_KINDS = {"rules", "scenario", "template", "step", "check", "fault"}


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    """1-based line of the opening fence."""
    language: str
    tags: tuple[str, ...]
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def kind(self) -> str:
        return self.tags[0] if self.tags else ""


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def blocks(paths: list[Path] | None = None) -> list[Block]:
    out: list[Block] = []
    for path in paths if paths is not None else pages():
        lines = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.lstrip().startswith("```"):
                info = line.strip()[3:].split()
                start = i
                body: list[str] = []
                i += 1
                while i < len(lines) and lines[i].strip() != "```":
                    body.append(lines[i])
                    i += 1
                language = info[0] if info else ""
                out.append(Block(path, start + 1, language, tuple(info[1:]), "\n".join(body)))
            i += 1
    return out


def of(language: str, kind: str | None = None) -> list[Block]:
    return [b for b in blocks() if b.language == language and (kind is None or b.kind == kind)]


# -- shell ------------------------------------------------------------------------------------

_REDIRECT = re.compile(r"^\d?>>?$|^\d?>&\d$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def commands(text: str) -> Iterator[list[str]]:
    """The simple commands of a shell snippet: continuation lines joined, comments and
    redirections dropped, split at `&&`, `||`, `;` and `|`, leading VAR=value dropped."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
        else:
            logical.append(pending + line)
            pending = ""
    if pending:
        logical.append(pending)
    for line in logical:
        tokens = shlex.split(line, comments=True)
        command: list[str] = []
        skip = False
        for token in [*tokens, ";"]:
            if skip:
                skip = False
                continue
            if token in ("&&", "||", ";", "|"):
                while command and _ASSIGNMENT.match(command[0]):
                    command.pop(0)
                if command:
                    yield command
                command = []
            elif _REDIRECT.match(token):
                skip = True
            elif token.startswith((">", "<")):
                continue
            else:
                command.append(token)


def cli_arguments(command: list[str]) -> list[str] | None:
    """The `ocpp-chaos` arguments of a command, or None when it does not run ocpp-chaos."""
    name = Path(command[0]).name
    if name == "ocpp-chaos":
        return command[1:]
    if name.startswith("python") and command[1:3] == ["-m", "ocpp_chaos"]:
        return command[3:]
    if name == "docker" and command[1:2] == ["run"]:
        if "ocpp-chaos" in command[2:]:
            rest = command[command.index("ocpp-chaos", 2) + 1 :]
            return rest or None  # nothing after the image: its default command
    return None


def parse_cli(arguments: list[str]) -> str | None:
    """None when the real parser accepts the arguments, else its complaint."""
    from ocpp_chaos.cli import build_parser

    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            args = build_parser().parse_args(arguments)
    except SystemExit as exc:
        return errors.getvalue().strip().splitlines()[-1] if exc.code else None
    if args.command is None:
        return "no command"
    return None


def repository_paths(arguments: list[str]) -> list[str]:
    """Arguments that name files of this repository (rules/, scenarios/, docs/, bench/)."""
    return [
        a
        for a in arguments
        if a.startswith(("rules/", "scenarios/", "docs/", "bench/")) and "*" not in a
    ]


# -- the control API -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiCall:
    method: str
    path: str
    body: Any


def api_call(command: list[str]) -> ApiCall | None:
    """The control API request of a `curl` or `websocat` command (None for other commands)."""
    name = Path(command[0]).name
    if name not in ("curl", "websocat"):
        return None
    method = None
    data = None
    url = None
    args = iter(command[1:])
    for arg in args:
        if arg in ("-X", "--request"):
            method = next(args)
        elif arg.startswith("-X") and len(arg) > 2:
            method = arg[2:]
        elif arg in ("-d", "--data", "--data-raw", "--json"):
            data = next(args)
        elif arg in ("-H", "--header", "-o", "--output", "-w"):
            next(args)
        elif not arg.startswith("-") and url is None:
            url = arg
    if url is None:
        raise ValueError(f"{shlex.join(command)}: no URL")
    if "://" not in url:
        url = "http://" + url
    path = urlsplit(url).path
    method = (method or ("POST" if data is not None else "GET")).upper()
    body = json.loads(data) if data is not None else None
    return ApiCall(method, path, body)


def route_of(call: ApiCall) -> tuple[str, str | None] | None:
    """(path pattern, request body schema) of the OpenAPI route the call names, or None."""
    from ocpp_chaos.api.openapi import ROUTES

    for method, pattern, _summary, body, _status, _query in ROUTES:
        regex = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(pattern)) + "$"
        if method.upper() == call.method and re.match(regex, call.path):
            return pattern, body
    return None


def validate_body(schema: str, body: Any) -> None:
    """Raise if `body` is not a valid request body of the named schema."""
    from ocpp_chaos.api import models
    from ocpp_chaos.api.commands import fleet_command_adapter
    from ocpp_chaos.rules.model import Rule

    if schema == "FleetCommand":
        fleet_command_adapter().validate_python(body)
    elif schema == "Rule":
        Rule.model_validate(body)
    else:
        getattr(models, schema).model_validate(body)
