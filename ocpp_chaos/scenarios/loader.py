"""Reading scenario files: YAML or JSON, every mistake as file:line:column: field: message.

Paths inside a scenario (templates, rule files) are relative to the scenario file; they
are checked here too, so a missing or broken file is reported before anything starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocpp_chaos.fileformat import FileFormat, FileFormatError, json_schema, load_model_file
from ocpp_chaos.fileformat import load_model_text as _load_text
from ocpp_chaos.rules.model import Rule
from ocpp_chaos.scenarios.model import Scenario
from ocpp_chaos.simulator.template import ChargerTemplate

__all__ = [
    "LoadedScenario",
    "ScenarioFileError",
    "load_scenario",
    "load_scenario_text",
    "scenario_json_schema",
]


class ScenarioFileError(FileFormatError):
    """A scenario file (or a file it names) is invalid."""


SCENARIO_FORMAT: FileFormat[Scenario] = FileFormat(
    Scenario,
    empty="the file is empty: a scenario needs at least name and fleet",
    root="a scenario is a mapping with at least name and fleet",
    labelled=(("timeline",), ("fleet",), ("rules", "inline")),
    error=ScenarioFileError,
)


@dataclass
class LoadedScenario:
    """A scenario with the files it names, read and checked."""

    scenario: Scenario
    path: Path | None
    templates: dict[str, ChargerTemplate] = field(default_factory=dict)
    """Template path as written → the template."""
    rules: list[Rule] = field(default_factory=list)
    """Every rule: from the files first, then inline (inline wins on a name clash)."""

    def __post_init__(self) -> None:
        if not self.rules:  # built from a text: its inline rules (no files to read)
            self.rules = list(self.scenario.rules.inline)


def load_scenario_text(text: str, filename: str = "<string>") -> Scenario:
    """Validate a scenario's text (files it names are not read)."""
    return _load_text(text, filename, SCENARIO_FORMAT)


def load_scenario(path: str | Path) -> LoadedScenario:
    """Read a scenario file and the templates and rule files it names.

    Raises ScenarioFileError (the scenario's problems), TemplateFileError or
    RuleFileError (a named file's problems, with that file's name), or OSError.
    """
    from ocpp_chaos.rules.loader import load_rule_file
    from ocpp_chaos.simulator.template import load_template_file

    path = Path(path)
    scenario = load_model_file(path, SCENARIO_FORMAT)
    base = path.parent
    loaded = LoadedScenario(scenario, path)
    for group in scenario.fleet:
        if group.template is not None and group.template not in loaded.templates:
            loaded.templates[group.template] = load_template_file(base / group.template)
    by_name: dict[str, Rule] = {}
    for name in scenario.rules.files:
        for rule in load_rule_file(base / name).rules:
            by_name[rule.name] = rule
    for rule in scenario.rules.inline:
        by_name[rule.name] = rule
    loaded.rules = list(by_name.values())
    _check_references(loaded)
    return loaded


def _check_references(loaded: LoadedScenario) -> None:
    """Rule names the timeline uses must exist (in the rule files or inline)."""
    scenario = loaded.scenario
    names = {rule.name for rule in loaded.rules}
    problems: list[str] = []
    for i, step in enumerate(scenario.timeline):
        for rule in getattr(step, "rule", []) or []:
            if rule not in names:
                problems.append(f"timeline[{i}].rule: no rule named {rule!r}")
    if problems:
        origin = str(loaded.path) if loaded.path else "<string>"
        raise ValueError("\n".join(f"{origin}: {p}" for p in problems))


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files (draft 2020-12)."""
    return json_schema(
        Scenario,
        title="ocpp-chaos scenario",
        description="A fleet, fault rules, a timeline of steps and expectations about the CSMS.",
    )
