"""Read rule files (YAML or JSON) into `RuleFile` models, with errors a person can act on.

Every mistake in a file is reported at once, each as a `Problem` with the file,
the line and column (1-based) of the offending node, the field as the user
wrote it and a plain message:

    rules.yaml:7:7: rules[1] (lose-signal).fault.dration: unknown key 'dration'
        (did you mean 'duration'?)

Validation is the pydantic models' (`model.py`); this module only finds where
each error is. The document is parsed once with the YAML composer, which gives
the node tree with a start mark per key and value, and the data constructed
from it. Each pydantic error location, such as `('rules', 1, 'fault',
'signal_loss', 'duration')`, is followed through the data and the model types
together: elements that the model inserts (a union's tag, like `signal_loss`)
are not keys of the document and are skipped. JSON is a subset of YAML, so a
JSON file is decoded with `json` and located with the same composer.

Two checks are the loader's own: a key given twice in one mapping (YAML and JSON
parsers silently keep the last), and a rule name used twice, in one file or
across the files given to `load_rule_files`.
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ocpp_chaos.rules.model import Match, Rule, RuleFile

__all__ = [
    "Problem",
    "RuleFileError",
    "load_rule_file",
    "load_rule_files",
    "load_rule_text",
    "rule_file_json_schema",
]


@dataclass(frozen=True)
class Problem:
    """One mistake in a rule file. `line` and `column` are 1-based; 0 when unknown."""

    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class RuleFileError(ValueError):
    """One or more rule files are invalid; `problems` lists every mistake found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


# -- public API ----------------------------------------------------------------


def load_rule_text(text: str, filename: str = "<string>") -> RuleFile:
    """Validate the rule file `text` (YAML, or JSON); `filename` names it in problems."""
    doc = _parse(text, filename, json_only=filename.lower().endswith(".json"))
    rule_file, problems = _validate(doc)
    if problems or rule_file is None:
        raise RuleFileError(problems)
    return rule_file


def load_rule_file(path: str | Path) -> RuleFile:
    """Read and validate one rule file; `.json` files are JSON, others YAML (or JSON)."""
    text = _read(Path(path), str(path))
    return load_rule_text(text, str(path))


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
            doc = _parse(_read(path, filename), filename, json_only=path.suffix.lower() == ".json")
        except RuleFileError as exc:
            problems.extend(exc.problems)
            continue
        rule_file, file_problems = _validate(doc)
        for index, name in _rule_names(doc):
            line, column = doc.value_mark((*doc.rules_path, index, "name"))
            first = names.setdefault(name, (number, f"{filename}:{line}:{column}"))
            if first[0] != number:
                file_problems.append(
                    Problem(
                        filename,
                        line,
                        column,
                        f"{_display(doc, (*_RULES_DISPLAY, index))}.name",
                        f"rule name {name!r} is already used in {first[1]}",
                    )
                )
        problems.extend(_sorted(file_problems))
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
    schema = RuleFile.model_json_schema(by_alias=True)
    defs: dict[str, Any] = schema.pop("$defs")
    for model in _models(RuleFile):
        props = defs.get(model.__name__, {}).get("properties", {})
        for name, info in model.model_fields.items():
            prop = props.get(info.alias or name)
            if prop is not None and _is_one_or_many(info.annotation):
                _accept_single_item(prop)
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


# -- reading and parsing -------------------------------------------------------

_EMPTY = "the file is empty: expected a list of rules, or a mapping with a 'rules:' list"
_RULES_DISPLAY = ("rules",)
Loc = tuple[Any, ...]


def _read(path: Path, filename: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"cannot read: not UTF-8 text (byte {exc.start})"
    except OSError as exc:
        message = f"cannot read: {exc.strerror or exc}"
    raise RuleFileError([Problem(filename, 0, 0, "", message)])


@dataclass
class _Document:
    """A parsed file: its data and where each of its values and keys starts."""

    file: str
    data: Any
    values: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def rules_path(self) -> Loc:
        """The document path of the rules list: () for a bare list, ('rules',) otherwise."""
        return () if isinstance(self.data, list) else ("rules",)

    def value_mark(self, path: Loc) -> tuple[int, int]:
        """Where the value at `path` starts, else where its nearest enclosing value does."""
        for end in range(len(path), -1, -1):
            mark = self.values.get(path[:end])
            if mark is not None:
                return mark
        return (1, 1)

    def key_mark(self, path: Loc) -> tuple[int, int]:
        return self.keys.get(path) or self.value_mark(path)


def _parse(text: str, filename: str, *, json_only: bool) -> _Document:
    """Parse YAML or JSON. Syntax errors raise `RuleFileError`; an empty file parses to None."""
    text = text.removeprefix("\ufeff")
    stripped = text.lstrip()
    if json_only or stripped[:1] in ("{", "["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            if json_only:
                problem = Problem(filename, exc.lineno, exc.colno, "", f"invalid JSON: {exc.msg}")
                raise RuleFileError([problem]) from None
        else:
            doc = _Document(filename, data)
            try:
                # Raw tabs in JSON are whitespace (in strings they must be escaped); YAML
                # rejects some, and a space keeps the columns.
                _compose(text.replace("\t", " "), doc, construct=False)
            except yaml.YAMLError:
                doc.values.clear()  # no positions: problems point at 1:1
                doc.keys.clear()
                doc.problems.clear()
            return doc
    doc = _Document(filename, None)
    try:
        _compose(text, doc, construct=True)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise RuleFileError([Problem(filename, line, column, "", _yaml_message(exc))]) from None
    except yaml.YAMLError as exc:
        raise RuleFileError([Problem(filename, 1, 1, "", f"invalid YAML: {exc}")]) from None
    return doc


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    if exc.context and exc.context_mark and exc.problem_mark:
        if exc.context_mark.line != exc.problem_mark.line:
            parts[0] += f" (line {exc.context_mark.line + 1})"
    return "invalid YAML: " + ", ".join(parts)


_MAX_INDEXED = 100_000  # aliases can make a small document a very large tree


def _compose(text: str, doc: _Document, *, construct: bool) -> None:
    """Compose `text` with the YAML composer; fill `doc`'s marks (and data if `construct`)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return
        if construct:
            doc.data = loader.construct_document(node)
        budget = [_MAX_INDEXED]

        def key_of(key_node: yaml.Node) -> Any:
            if isinstance(key_node, yaml.ScalarNode):
                return loader.construct_object(key_node)
            return None

        def index(n: yaml.Node, path: Loc, ancestors: frozenset[int]) -> None:
            if budget[0] <= 0 or id(n) in ancestors:
                return
            budget[0] -= 1
            doc.values[path] = (n.start_mark.line + 1, n.start_mark.column + 1)
            inner = ancestors | {id(n)}
            if isinstance(n, yaml.MappingNode):
                seen: dict[Any, yaml.Node] = {}
                for key_node, value_node in n.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = key_of(key_node)
                    if key is None:
                        continue
                    if key in seen:
                        first = seen[key].start_mark
                        doc.problems.append(
                            Problem(
                                doc.file,
                                key_node.start_mark.line + 1,
                                key_node.start_mark.column + 1,
                                _display_path(doc, (*path, key)),
                                f"key {key!r} is given twice in this mapping (first at "
                                f"{first.line + 1}:{first.column + 1}); only the last would count",
                            )
                        )
                    seen[key] = key_node
                    mark = key_node.start_mark
                    doc.keys[(*path, key)] = (mark.line + 1, mark.column + 1)
                    index(value_node, (*path, key), inner)
            elif isinstance(n, yaml.SequenceNode):
                for i, item in enumerate(n.value):
                    index(item, (*path, i), inner)

        index(node, (), frozenset())
    finally:
        loader.dispose()


# -- validation ------------------------------------------------------------------


def _validate(doc: _Document) -> tuple[RuleFile | None, list[Problem]]:
    """The RuleFile and no problems, or None (or a RuleFile) and every problem found."""
    problems = list(doc.problems)
    if doc.data is None:
        return None, [Problem(doc.file, 1, 1, "", _EMPTY)]
    seen: dict[str, int] = {}
    for index, name in _rule_names(doc):
        if name in seen:
            path = (*doc.rules_path, index, "name")
            line, column = doc.value_mark(path)
            first_line = doc.value_mark((*doc.rules_path, seen[name], "name"))[0]
            problems.append(
                Problem(
                    doc.file,
                    line,
                    column,
                    f"{_display(doc, (*_RULES_DISPLAY, index))}.name",
                    f"rule name {name!r} is already used by rules[{seen[name]}] "
                    f"(line {first_line})",
                )
            )
        else:
            seen[name] = index
    rule_file: RuleFile | None = None
    try:
        rule_file = RuleFile.model_validate(doc.data)
    except ValidationError as exc:
        errors = [e for e in exc.errors(include_url=False) if not _is_duplicate_name_error(e)]
        problems.extend(_problem(doc, error) for error in _merge_unions(doc, errors))
    return rule_file, _sorted(problems)


def _is_duplicate_name_error(error: ErrorDetails) -> bool:
    # RuleFile's own check; the loader reports it with the position of the second name.
    return error["loc"] == () and "two rules are named" in error["msg"]


def _rule_names(doc: _Document) -> list[tuple[int, str]]:
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


def _sorted(problems: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.line, p.column))


# -- from a pydantic error to a Problem ------------------------------------------------


@dataclass
class _Walk:
    """A pydantic error location followed through the document and the model types."""

    path: Loc  # the document path: the keys and indices of loc found in the data
    display: Loc  # `path` as shown: with 'rules' for a bare list too
    absent: Any  # the last loc element when it is not in the document (a missing field)
    parent: Any  # the type holding the last element (a model class, for key suggestions)
    type: Any  # the type at the end of loc (None when unknown)
    tag_at: int | None  # index in loc of the first tag of a non-discriminated union


_ABSENT = object()
_NONE_TYPE = type(None)


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional."""
    while True:
        origin = get_origin(tp)
        if origin is typing.Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not _NONE_TYPE]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _fault_tag(model: type[BaseModel]) -> str | None:
    info = model.model_fields.get("type")
    if info is not None and get_origin(info.annotation) is Literal:
        values = get_args(info.annotation)
        if len(values) == 1 and isinstance(values[0], str):
            return values[0]
    return None


def _union_member(tp: Any, tag: str) -> tuple[Any, bool]:
    """The member of union `tp` that pydantic's loc `tag` names, and whether it is discriminated."""
    members = [_unwrap(m) for m in get_args(tp) if m is not _NONE_TYPE]
    for member in members:
        if _is_model(member) and _fault_tag(member) == tag:
            return member, True
    for member in members:
        if _is_model(member) and re.search(rf"\b{member.__name__}\b", tag):
            return member, False
        if get_origin(member) is Literal and tag.startswith("literal["):
            return member, False
        if isinstance(member, type) and tag == member.__name__:
            return member, False
    return None, False


def _field_type(model: type[BaseModel], key: Any) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info.annotation
    return None


def _walk(doc: _Document, loc: Loc) -> _Walk:
    data: Any = doc.data
    tp: Any = RuleFile
    path: list[Any] = []
    display: list[Any] = []
    parent: Any = None
    absent: Any = _ABSENT
    tag_at: int | None = None
    for i, elem in enumerate(loc):
        tp = _unwrap(tp)
        if _is_union(tp) and isinstance(elem, str):
            member, discriminated = _union_member(tp, elem)
            if member is not None or not (isinstance(data, dict) and elem in data):
                if not discriminated and tag_at is None:
                    tag_at = i
                tp = member
                continue
        parent = tp
        if i == 0 and elem == "rules" and isinstance(data, list):
            display.append(elem)  # a bare list is the rules list
            tp = list[Rule]
            continue
        if isinstance(data, dict) and elem in data:
            data = data[elem]
        elif isinstance(data, list) and isinstance(elem, int) and 0 <= elem < len(data):
            data = data[elem]
        else:
            # Not in the document: a missing field (last), or a tag such as a validator's,
            # or an index into a single value the model turned into a list.
            if i == len(loc) - 1 and _is_model(tp):
                absent = elem
            continue
        path.append(elem)
        display.append(elem)
        if _is_model(tp):
            tp = _field_type(tp, elem)
        elif get_origin(tp) is list:
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            tp = None
    return _Walk(tuple(path), tuple(display), absent, parent, _unwrap(tp), tag_at)


def _display_path(doc: _Document, path: Loc) -> str:
    """The display of a document path."""
    return _display(doc, ("rules", *path) if isinstance(doc.data, list) else path)


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _display(doc: _Document, display: Loc) -> str:
    """`rules[2] (lose-signal).fault.duration` from ('rules', 2, 'fault', 'duration')."""
    out = ""
    data: Any = doc.data
    for i, elem in enumerate(display):
        if i == 0 and elem == "rules" and isinstance(data, list):
            out = "rules"
            continue
        if isinstance(elem, int):
            out += f"[{elem}]"
            item = data[elem] if isinstance(data, list) and 0 <= elem < len(data) else None
            if display[:i] == _RULES_DISPLAY and isinstance(item, dict):
                name = item.get("name")
                if isinstance(name, str) and 0 < len(name) <= 60 and not re.search(r"\s", name):
                    out += f" ({name})"
            data = item
            continue
        key = str(elem)
        out += ("." if out else "") + key if _IDENTIFIER.match(key) else f"[{json.dumps(key)}]"
        data = data.get(elem) if isinstance(data, dict) else None
    return out


_ROOT_MISMATCH = {
    "literal_error",
    "model_type",
    "model_attributes_type",
    "dict_type",
    "list_type",
    "int_type",
    "int_parsing",
    "int_from_float",
    "float_type",
    "float_parsing",
    "string_type",
    "bool_type",
    "bool_parsing",
    "none_required",
}


def _merge_unions(doc: _Document, errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Reduce the per-member errors of a (non-discriminated) union to the ones that matter.

    pydantic reports why each member rejected the value. Members that rejected
    it for its type (a mapping given where a literal is, a string for a model)
    are noise when another member accepted the type and found a deeper mistake;
    when every member rejected the type, the errors are merged into one.
    """
    groups: dict[Loc, dict[str, list[ErrorDetails]]] = {}
    order: list[Loc | int] = []
    for number, error in enumerate(errors):
        loc = tuple(error["loc"])
        tag_at = _walk(doc, loc).tag_at
        if tag_at is None:
            order.append(number)
            continue
        prefix = loc[:tag_at]
        if prefix not in groups:
            groups[prefix] = {}
            order.append(prefix)
        groups[prefix].setdefault(str(loc[tag_at]), []).append(error)
    out: list[ErrorDetails] = []
    for item in order:
        if isinstance(item, int):
            out.append(errors[item])
            continue
        branches = groups[item]
        depth = len(item) + 1
        deeper = {
            tag: errs
            for tag, errs in branches.items()
            if not all(len(e["loc"]) == depth and e["type"] in _ROOT_MISMATCH for e in errs)
        }
        if deeper:
            for errs in deeper.values():
                out.extend(errs)
            continue
        every = [e for errs in branches.values() for e in errs]
        expected: list[str] = []
        for e in every:
            choices = _quoted_choices(str(_ctx(e).get("expected", "")))
            if e["type"] == "literal_error" and choices:
                expected.extend(repr(c) for c in choices)
            else:
                expected.append(_expected(e))
        expected = list(dict.fromkeys(expected))
        choices = [c for e in every for c in _quoted_choices(str(_ctx(e).get("expected", "")))]
        merged: dict[str, Any] = {
            "type": "union_mismatch",
            "loc": item,
            "msg": "must be " + _join_or(expected),
            "input": every[0]["input"],
            "ctx": {"choices": choices},
        }
        out.append(typing.cast(ErrorDetails, merged))
    return out


def _ctx(error: ErrorDetails) -> dict[str, Any]:
    return dict(error.get("ctx") or {})


def _expected(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "literal_error":
        return str(ctx.get("expected", "one of the allowed values"))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "a mapping"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "an integer"
    if kind in ("float_type", "float_parsing"):
        return "a number"
    if kind == "string_type":
        return "a string"
    if kind in ("bool_type", "bool_parsing"):
        return "true or false"
    if kind == "list_type":
        return "a list"
    return _human(error["msg"]).removeprefix("must be ")


def _join_or(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _human(msg: str) -> str:
    for before, after in (
        ("Input should be", "must be"),
        ("String should", "must"),
        ("List should", "must"),
        ("Dictionary should", "must"),
        ("Value should", "must"),
        ("Value error, ", ""),
        ("Assertion failed, ", ""),
    ):
        if msg.startswith(before):
            return after + msg[len(before) :]
    return msg


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _suggest(word: Any, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _allowed_keys(model: Any) -> list[str]:
    if not _is_model(model):
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _quoted_choices(text: str) -> list[str]:
    return re.findall(r"'([^']*)'", text)


def _problem(doc: _Document, error: ErrorDetails) -> Problem:
    walk = _walk(doc, tuple(error["loc"]))
    kind = error["type"]
    value = error.get("input")
    ctx = _ctx(error)
    where = _display(doc, walk.display)
    line, column = doc.value_mark(walk.path)

    def problem(message: str, at: str = where) -> Problem:
        return Problem(doc.file, line, column, at, message)

    if kind == "missing" and walk.absent is not _ABSENT:
        name = walk.absent
        hint = " (e.g. fault: {type: drop})" if name == "fault" and walk.parent is Rule else ""
        return problem(f"missing required field {name!r}{hint}", _join(where, name))

    if kind == "extra_forbidden" and walk.path:
        key = walk.path[-1]
        line, column = doc.key_mark(walk.path)
        allowed = _allowed_keys(walk.parent)
        if walk.parent is Rule and key in _allowed_keys(Match):
            hint = " (it belongs under match:)"
        elif walk.parent is Rule and key in _fault_keys():
            hint = " (fault options belong under fault:)"
        else:
            hint = _suggest(key, allowed)
            if not hint and allowed:
                hint = "; expected one of: " + ", ".join(allowed)
        return problem(f"unknown key {key!r}{hint}")

    tags = _union_tags(walk.type)
    if tags and kind in ("union_tag_invalid", "union_tag_not_found", "model_attributes_type"):
        key = str(ctx.get("discriminator", "'type'")).strip("'")
        if not isinstance(value, dict):
            example = f"{{{key}: {value}}}" if value in tags else f"{{{key}: {tags[0]}}}"
            return problem(f"must be a mapping such as {example}, not {_show(value)}")
        if key not in value:
            message = f"missing required field {key!r}, one of: {', '.join(tags)}"
            return problem(message, _join(where, key))
        line, column = doc.value_mark((*walk.path, key))
        tag = value[key]
        what = f"{walk.display[-1]} {key}" if walk.display else key
        message = f"{what} {_show(tag)} is unknown{_suggest(tag, tags)}; one of: {', '.join(tags)}"
        return problem(message, _join(where, key))

    if kind in ("model_attributes_type", "model_type", "dict_type"):
        if not walk.display:
            return problem(
                f"a rule file is a list of rules, or a mapping with a 'rules:' list, "
                f"not {_show(value)}"
            )
        if walk.type is Rule:
            return problem(f"a rule must be a mapping with a name and a fault, not {_show(value)}")
        return problem(f"must be a mapping, not {_show(value)}")

    if kind in ("literal_error", "union_mismatch"):
        expected = str(ctx.get("expected", ""))
        choices = ctx.get("choices") or _quoted_choices(expected)
        message = f"must be {expected}" if kind == "literal_error" else error["msg"]
        hint = _suggest(value, choices) if isinstance(value, str) else ""
        return problem(f"{message}, not {_show(value)}{hint}")

    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return problem(str(ctx["error"]))

    if kind == "string_pattern_mismatch" and walk.parent is Rule and walk.display[-1] == "name":
        return problem(
            "a rule name is letters, digits and _ . : - and starts with a letter or digit, "
            f"not {_show(value)}"
        )

    message = _human(error["msg"])
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        message = "must not be empty"
    elif message.startswith("must") and not isinstance(value, dict | list):
        message += f", not {_show(value)}"
    return problem(message)


def _join(where: str, key: Any) -> str:
    text = str(key)
    if not _IDENTIFIER.match(text):
        return f"{where}[{json.dumps(text)}]"
    return f"{where}.{text}" if where else text


def _union_tags(tp: Any) -> list[str]:
    """The tags of a discriminated union of fault models, else []."""
    if not _is_union(tp):
        return []
    tags = [_fault_tag(m) for m in get_args(tp) if _is_model(m)]
    return [t for t in tags if t is not None]


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """Every model reachable from `root` through its fields."""
    found: list[type[BaseModel]] = []

    def visit(tp: Any) -> None:
        if _is_model(tp):
            if tp in found:
                return
            found.append(tp)
            for info in tp.model_fields.values():
                visit(info.annotation)
            return
        for arg in get_args(tp):
            visit(arg)

    visit(root)
    return found


def _fault_keys() -> set[str]:
    keys: set[str] = set()
    for model in _models(Rule):
        if _fault_tag(model) is not None:
            keys.update(_allowed_keys(model))
    return keys - {"type"}


def _is_one_or_many(tp: Any) -> bool:
    """The field is `Annotated[list[...], BeforeValidator(<wraps a single item>)]` (or Optional)."""
    for arg in (tp, *get_args(tp)):
        if get_origin(arg) is typing.Annotated:
            inner, *metadata = get_args(arg)
            if get_origin(inner) is list and any(
                getattr(m, "func", None) is not None and m.func.__name__ == "_listify"
                for m in metadata
            ):
                return True
    return False


def _accept_single_item(prop: dict[str, Any]) -> None:
    """A `{type: array, items: X}` option in `prop` also accepts X alone."""
    options = prop.get("anyOf")
    if options is None:
        options = [dict(prop)]
        for key in ("type", "items"):
            prop.pop(key, None)
        prop["anyOf"] = options
    for option in list(options):
        if option.get("type") == "array" and "items" in option:
            options.insert(options.index(option), dict(option["items"]))
