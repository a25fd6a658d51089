"""Read rule files (YAML or JSON) into `RuleFile` models, with errors a person can act on.

Every mistake in a file is reported at once, each as a `Problem` with the file,
the line and column (1-based) of the offending node, the field as the user
wrote it and a plain message:

    rules.yaml:7:7: rules[1] (lose-signal).fault.dration: unknown key 'dration'
        (did you mean 'duration'?)

Reading, parsing and placing each pydantic error in the file are shared with the
other file formats (`ocpp_chaos.fileformat`); this module says what is particular
to rule files: a bare list of rules is the `rules:` list, rules are shown with
their names, hints for keys put at the wrong level, and a rule name used twice, in
one file or across the files given to `load_rule_files`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, get_origin

from pydantic_core import ErrorDetails

from ocpp_chaos.fileformat import (
    Document,
    FileFormat,
    FileFormatError,
    Loc,
    Problem,
    allowed_keys,
    load_model_file,
    load_model_text,
    model_schema,
    models_of,
    parse_text,
    read_text,
    sorted_problems,
    validate_document,
)
from ocpp_chaos.rules.model import Match, Rule, RuleFile

__all__ = [
    "RULE_FILE_FORMAT",
    "Problem",
    "RuleFileError",
    "load_rule_file",
    "load_rule_files",
    "load_rule_text",
    "rule_file_json_schema",
]


class RuleFileError(FileFormatError):
    """One or more rule files are invalid; `problems` lists every mistake found."""


# -- what is particular to rule files ---------------------------------------------------

_EMPTY = "the file is empty: expected a list of rules, or a mapping with a 'rules:' list"
_RULES_DISPLAY = ("rules",)


def _rules_path(doc: Document) -> Loc:
    """The document path of the rules list: () for a bare list, ('rules',) otherwise."""
    return () if isinstance(doc.data, list) else ("rules",)


def _rule_names(doc: Document) -> list[tuple[int, str]]:
    rules = doc.data if isinstance(doc.data, list) else None
    if isinstance(doc.data, dict):
        rules = doc.data.get("rules")
    if not isinstance(rules, list):
        return []
    return [
        (i, rule["name"])
        for i, rule in enumerate(rules)
        if isinstance(rule, dict) and isinstance(rule.get("name"), str)
    ]


def _duplicate_names(doc: Document) -> list[Problem]:
    """A rule name used twice in the file, reported where it is used the second time."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for index, name in _rule_names(doc):
        if name in seen:
            path = (*_rules_path(doc), index, "name")
            line, column = doc.value_mark(path)
            first_line = doc.value_mark((*_rules_path(doc), seen[name], "name"))[0]
            problems.append(
                Problem(
                    doc.file,
                    line,
                    column,
                    f"{doc.display((*_RULES_DISPLAY, index))}.name",
                    f"rule name {name!r} is already used by rules[{seen[name]}] "
                    f"(line {first_line})",
                )
            )
        else:
            seen[name] = index
    return problems


def _is_duplicate_name_error(error: ErrorDetails) -> bool:
    # RuleFile's own check; the loader reports it with the position of the second name.
    return error["loc"] == () and "two rules are named" in error["msg"]


def _fault_keys() -> set[str]:
    keys: set[str] = set()
    for model in models_of(Rule):
        info = model.model_fields.get("type")
        if info is not None and get_origin(info.annotation) is Literal:
            keys.update(allowed_keys(model))
    return keys - {"type"}


def _unknown_key_hint(parent: Any, key: str) -> str | None:
    if parent is Rule and key in allowed_keys(Match):
        return " (it belongs under match:)"
    if parent is Rule and key in _fault_keys():
        return " (fault options belong under fault:)"
    return None


RULE_FILE_FORMAT: FileFormat[RuleFile] = FileFormat(
    RuleFile,
    empty=_EMPTY,
    root="a rule file is a list of rules, or a mapping with a 'rules:' list",
    root_list="rules",
    labelled=(_RULES_DISPLAY,),
    error=RuleFileError,
    check=_duplicate_names,
    ignore=_is_duplicate_name_error,
    missing_hints={(Rule, "fault"): " (e.g. fault: {type: drop})"},
    mapping_messages={Rule: "a rule must be a mapping with a name and a fault"},
    pattern_messages={
        (Rule, "name"): "a rule name is letters, digits and _ . : - and starts with a letter "
        "or digit"
    },
    unknown_key_hint=_unknown_key_hint,
)
"""How rule files are read (`ocpp_chaos.fileformat`)."""


# -- public API ----------------------------------------------------------------


def load_rule_text(text: str, filename: str = "<string>") -> RuleFile:
    """Validate the rule file `text` (YAML, or JSON); `filename` names it in problems."""
    return load_model_text(text, filename, RULE_FILE_FORMAT)


def load_rule_file(path: str | Path) -> RuleFile:
    """Read and validate one rule file; `.json` files are JSON, others YAML (or JSON)."""
    return load_model_file(path, RULE_FILE_FORMAT)


def load_rule_files(paths: Iterable[str | Path]) -> list[tuple[Path, RuleFile]]:
    """Read and validate several rule files, whose rule names must all differ.

    The problems of every file are collected before `RuleFileError` is raised.
    """
    problems: list[Problem] = []
    loaded: list[tuple[Path, RuleFile]] = []
    names: dict[str, tuple[int, str]] = {}  # rule name -> (file number, "file:line:column")
    for number, entry in enumerate(paths):
        path, filename = Path(entry), str(entry)
        try:
            text = read_text(filename, error=RuleFileError)
            doc = parse_text(text, filename, RULE_FILE_FORMAT)
        except RuleFileError as exc:
            problems.extend(exc.problems)
            continue
        rule_file, file_problems = validate_document(doc, RULE_FILE_FORMAT)
        for index, name in _rule_names(doc):
            line, column = doc.value_mark((*_rules_path(doc), index, "name"))
            first = names.setdefault(name, (number, f"{filename}:{line}:{column}"))
            if first[0] != number:
                file_problems.append(
                    Problem(
                        filename,
                        line,
                        column,
                        f"{doc.display((*_RULES_DISPLAY, index))}.name",
                        f"rule name {name!r} is already used in {first[1]}",
                    )
                )
        problems.extend(sorted_problems(file_problems))
        if rule_file is not None and not file_problems:
            loaded.append((path, rule_file))
    if problems:
        raise RuleFileError(problems)
    return loaded


def rule_file_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of rule files, for editors and yaml-language-server.

    Derived from `RuleFile`, then adjusted where the models accept more than
    pydantic's schema says: the bare list of rules, a single string where a
    list of strings is allowed (`action: MeterValues`), and a plain value as a
    payload condition (`payload: {connectorId: 1}` means `equals`).
    """
    schema, defs = model_schema(RuleFile)
    payload = defs["Match"]["properties"]["payload"]
    for option in payload.get("anyOf", [payload]):
        if option.get("type") == "object" and "additionalProperties" in option:
            condition = option["additionalProperties"]
            option["additionalProperties"] = {
                "anyOf": [condition, {"type": ["string", "number", "boolean", "null", "array"]}],
                "description": "a condition, or a plain value meaning 'equals' it",
            }
    schema.pop("title", None)
    description = schema.pop("description", "")
    rules_form = {**schema, "description": description}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ocpp-chaos rule file",
        "description": "Fault rules for the ocpp-chaos proxy: a mapping with a 'rules:' list, "
        "or a bare list of rules. Check a file with `ocpp-chaos rules check FILE`.",
        "anyOf": [
            rules_form,
            {"type": "array", "items": {"$ref": "#/$defs/Rule"}, "description": "a list of rules"},
        ],
        "$defs": defs,
    }
