"""Every example in docs/ runs: rule, template, scenario and step snippets load (scenarios
also run to a passing verdict against the embedded reference CSMS, all at once), JSON
parses, filter expressions parse, shell commands are accepted by the real CLI parser and
name existing routes and files, and the pytest example passes with the plugin."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter

from tests.docs.blocks import (
    LANGUAGES,
    ROOT,
    YAML_KINDS,
    Block,
    api_call,
    blocks,
    cli_arguments,
    commands,
    of,
    pages,
    parse_cli,
    repository_paths,
    route_of,
    validate_body,
)


def _ids(items: list[Block]) -> list[str]:
    return [b.where for b in items]


def test_the_pages_exist_and_every_block_says_what_it_is() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in pages()}
    for name in (
        "docs/README.md",
        "docs/getting-started.md",
        "docs/faults.md",
        "docs/testing-in-ci.md",
        "docs/architecture.md",
        "docs/performance.md",
        "docs/reference/cli.md",
        "docs/reference/rules.md",
        "docs/reference/scenarios.md",
        "docs/reference/templates.md",
        "docs/reference/control-api.md",
        "docs/reference/metrics.md",
        "docs/reference/tape.md",
    ):
        assert name in names, name
    bad = [
        f"{b.where}: ```{b.language} {' '.join(b.tags)}"
        for b in blocks()
        if b.language not in LANGUAGES
        or (b.language == "yaml" and b.kind not in YAML_KINDS)
        or (b.language == "python" and b.tags != ("pytest",))
    ]
    assert not bad, "tag each block (see tests/docs/blocks.py): " + "; ".join(bad)


def test_the_index_links_every_page() -> None:
    index = (ROOT / "docs" / "README.md").read_text()
    for page in pages():
        if page.name != "README.md":
            assert page.relative_to(ROOT / "docs").as_posix() in index, page


def test_relative_links_point_at_files() -> None:
    import re

    missing = []
    for page in pages():
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                missing.append(f"{page.relative_to(ROOT)}: {target}")
    assert not missing, missing


# -- YAML ------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", of("yaml", "rules"), ids=_ids(of("yaml", "rules")))
def test_rule_examples_load(block: Block) -> None:
    from ocpp_chaos.rules.loader import load_rule_text

    assert load_rule_text(block.text, block.where).rules


@pytest.mark.parametrize("block", of("yaml", "template"), ids=_ids(of("yaml", "template")))
def test_template_examples_load(block: Block) -> None:
    from ocpp_chaos.simulator.template import load_template_text

    load_template_text(block.text, block.where)


def _items(block: Block) -> list[Any]:
    data = yaml.safe_load(block.text)
    return data if isinstance(data, list) else [data]


@pytest.mark.parametrize("block", of("yaml", "step"), ids=_ids(of("yaml", "step")))
def test_step_examples_validate(block: Block) -> None:
    from ocpp_chaos.scenarios.model import Step

    adapter: TypeAdapter[Any] = TypeAdapter(Step)
    for item in _items(block):
        adapter.validate_python(item)


@pytest.mark.parametrize("block", of("yaml", "check"), ids=_ids(of("yaml", "check")))
def test_check_examples_validate(block: Block) -> None:
    from ocpp_chaos.scenarios.model import Check

    for item in _items(block):
        Check.model_validate(item)


@pytest.mark.parametrize("block", of("yaml", "fault"), ids=_ids(of("yaml", "fault")))
def test_fault_examples_validate(block: Block) -> None:
    from ocpp_chaos.rules.model import Fault

    adapter: TypeAdapter[Any] = TypeAdapter(Fault)
    for item in _items(block):
        adapter.validate_python(item)


async def test_scenario_examples_pass_against_the_reference_csms() -> None:
    """All at once (each is short), against the embedded reference CSMS."""
    from ocpp_chaos.scenarios.loader import LoadedScenario, load_scenario_text
    from ocpp_chaos.scenarios.runner import RunOptions, run_scenario

    examples = of("yaml", "scenario")
    assert examples, "the docs show at least one scenario"
    loaded = [LoadedScenario(load_scenario_text(b.text, b.where), None) for b in examples]
    for block, item in zip(examples, loaded, strict=True):
        assert item.scenario.duration <= 20, f"{block.where}: keep doc scenarios under 20 s"
    async with asyncio.timeout(40):
        results = await asyncio.gather(*(run_scenario(item, RunOptions()) for item in loaded))
    failed = [
        (b.where, r.verdict, r.error, [(e.name, e.status, e.summary) for e in r.expectations])
        for b, r in zip(examples, results, strict=True)
        if r.verdict != "passed"
    ]
    assert not failed, failed


# -- JSON and filters ----------------------------------------------------------------------------


@pytest.mark.parametrize("block", of("json"), ids=_ids(of("json")))
def test_json_examples_parse(block: Block) -> None:
    json.loads(block.text)


@pytest.mark.parametrize("block", of("jsonl"), ids=_ids(of("jsonl")))
def test_json_lines_examples_parse(block: Block) -> None:
    for line in block.text.splitlines():
        if line.strip():
            assert isinstance(json.loads(line), dict), line


@pytest.mark.parametrize("block", of("filter"), ids=_ids(of("filter")))
def test_filter_examples_parse(block: Block) -> None:
    from ocpp_chaos.api.filters import parse_filter

    for line in block.text.splitlines():
        if line.strip():
            assert not parse_filter(line).empty, line


# -- shell ------------------------------------------------------------------------------------


def _check_command(command: list[str], where: str) -> list[str]:
    problems: list[str] = []
    arguments = cli_arguments(command)
    if arguments is not None:
        complaint = parse_cli(arguments)
        if complaint:
            problems.append(f"{where}: {' '.join(command)}: {complaint}")
        for path in repository_paths(arguments):
            if not (ROOT / path).exists():
                problems.append(f"{where}: {path} does not exist")
    call = api_call(command)
    if call is not None:
        route = route_of(call)
        if route is None:
            problems.append(f"{where}: {call.method} {call.path} is not a control API route")
        elif call.body is not None:
            _pattern, schema = route
            if schema is None:
                problems.append(f"{where}: {call.method} {call.path} takes no body")
            else:
                try:
                    validate_body(schema, call.body)
                except ValueError as exc:
                    problems.append(f"{where}: {call.method} {call.path}: {exc}")
    if Path(command[0]).name.startswith("python") and len(command) > 1:
        script = command[1]
        if script.startswith("bench/"):
            text = (ROOT / script).read_text()
            for option in command[2:]:
                name = option.split("=", 1)[0]
                if name.startswith("--") and f'"{name}"' not in text:
                    problems.append(f"{where}: {script} has no option {name}")
        if command[1:2] == ["-m"] and command[2].startswith("ocpp_chaos."):
            __import__(command[2])
    return problems


@pytest.mark.parametrize("block", of("sh"), ids=_ids(of("sh")))
def test_shell_examples_use_real_commands_options_and_routes(block: Block) -> None:
    problems: list[str] = []
    for command in commands(block.text):
        problems += _check_command(command, block.where)
    assert not problems, problems


def test_the_shell_checks_catch_mistakes() -> None:
    """The checks above can fail."""
    bad = [
        "ocpp-chaos proxy --upstreem ws://x",
        "ocpp-chaos fleet --count 3",  # --target is required
        "ocpp-chaos run rules/no-such-file.yaml",
        "curl -s localhost:8181/api/nothing",
        'curl -s -XPOST localhost:8181/api/faults -d \'{"fault": {"type": "nope"}}\'',
        "docker run --rm ocpp-chaos demo --chargerz 3",
        "python bench/proxy_overhead.py --no-such-option",
    ]
    for text in bad:
        (command,) = commands(text)
        assert _check_command(command, "test"), text
    good = "OCPP_CHAOS_API_TOKEN=x ocpp-chaos schema rules > rules.schema.json && echo ok"
    assert [c[:3] for c in commands(good)] == [["ocpp-chaos", "schema", "rules"], ["echo", "ok"]]


def test_the_github_actions_example_runs_real_commands() -> None:
    workflow = yaml.safe_load((ROOT / "docs" / "github-actions-example.yml").read_text())
    runs = [s["run"] for job in workflow["jobs"].values() for s in job["steps"] if "run" in s]
    checked = 0
    for text in runs:
        for command in commands(text):
            if cli_arguments(command) is not None:
                checked += 1
                complaint = parse_cli(cli_arguments(command) or [])
                assert complaint is None, (command, complaint)
    assert checked >= 1


# -- the pytest plugin -----------------------------------------------------------------------------


@pytest.mark.parametrize("block", of("python", "pytest"), ids=_ids(of("python", "pytest")))
def test_pytest_examples_pass_with_the_plugin(block: Block, tmp_path: Path) -> None:
    name = f"test_{block.path.stem.replace('-', '_')}_{block.line}.py"
    (tmp_path / name).write_text(block.text + "\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            name,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
