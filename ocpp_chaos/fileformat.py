"""Files people write (YAML or JSON), read into pydantic models with errors they can act on.

Rule files, charger templates and scenario files share this implementation. Every
mistake in a file is reported at once, each as a `Problem` with the file, the line
and column (1-based) of the offending node, the field as the user wrote it and a
plain message:

    rules.yaml:7:7: rules[1] (lose-signal).fault.dration: unknown key 'dration'
        (did you mean 'duration'?)

Validation is the pydantic model's; this module only finds where each error is.
The document is parsed once with the YAML composer, which gives the node tree with
a start mark per key and value, and the data constructed from it. Each pydantic
error location, such as `('rules', 1, 'fault', 'signal_loss', 'duration')`, is
followed through the data and the model types together: elements that the model
inserts (a union's tag, like `signal_loss`) are not keys of the document and are
skipped. JSON is a subset of YAML, so a JSON file is decoded with `json` and
located with the same composer.

A key given twice in one mapping (YAML and JSON parsers silently keep the last) is
always a problem. A validator that finds mistakes inside its value (a bad key of a
mapping, the third point of a list) raises `LocatedError` to report each one where
it is. What differs between formats (the message for an empty file, a bare list
meaning a field, extra checks, hints) is a `FileFormat`.

The simple API: `load_model_text(text, filename, Model)`, `load_model_file(path,
Model)` and `json_schema(Model, title=...)`.
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, BeforeValidator, ValidationError
from pydantic_core import ErrorDetails

__all__ = [
    "KEY",
    "Document",
    "FileFormat",
    "FileFormatError",
    "Loc",
    "LocatedError",
    "OneOrMany",
    "Problem",
    "allowed_keys",
    "json_schema",
    "listify",
    "load_model_file",
    "load_model_text",
    "model_schema",
    "models_of",
    "parse_text",
    "read_text",
    "sorted_problems",
    "suggest",
    "validate_document",
]

Loc = tuple[Any, ...]
M = TypeVar("M", bound=BaseModel)

KEY = "[key]"
"""The last element of a location that means "the key", not its value (pydantic's own
marker for the errors of a mapping's keys): the problem is placed at the key."""


@dataclass(frozen=True)
class Problem:
    """One mistake in a file. `line` and `column` are 1-based; 0 when unknown."""

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


class FileFormatError(ValueError):
    """One or more files are invalid; `problems` lists every mistake found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class LocatedError(ValueError):
    """Raise from a validator to report mistakes inside the value it validates.

    Each item is (path, message): the path is relative to the validated value (a
    field validator's field, a model validator's model), e.g. `("HeartbeatInterva",
    KEY)` for a key of a mapping or `(2, 0)` for the first number of the third item
    of a list. Outside the loader it reads as "path: message; ...".
    """

    def __init__(self, items: Iterable[tuple[Loc, str]]) -> None:
        self.items = [(tuple(path), message) for path, message in items]
        if not self.items:
            raise ValueError("LocatedError needs at least one (path, message)")
        super().__init__("; ".join(_plain(path, message) for path, message in self.items))


def _plain(path: Loc, message: str) -> str:
    shown = ".".join(str(p) for p in path if p != KEY)
    return f"{shown}: {message}" if shown else message


def listify(value: Any) -> Any:
    """A single string where a list of strings is allowed: the list of it."""
    return [value] if isinstance(value, str) else value


OneOrMany = BeforeValidator(listify)
"""`Annotated[list[str], OneOrMany]`: one string or a list of them; `json_schema` knows it."""


@dataclass(frozen=True)
class FileFormat(Generic[M]):
    """What one kind of file needs beyond its model: messages, hooks and its error type.

    `root_list`: a bare list at the top of a file is the value of this field (it is
    validated, and shown in problems, as that field). `labelled`: display paths of
    lists whose items are shown with their `label_key` value, as in
    `rules[2] (lose-signal)`. `check` adds the
    format's own problems (duplicate names); `ignore` drops pydantic errors that
    `check` reports better. The hints are keyed by model class (and field name).
    """

    model: type[M]
    empty: str = "the file is empty"
    root: str = "must be a mapping"
    """The message for a top-level value of the wrong type (", not <value>" follows)."""
    root_list: str | None = None
    labelled: Collection[Loc] = ()
    label_key: str = "name"
    error: type[FileFormatError] = FileFormatError
    check: Callable[[Document], list[Problem]] | None = None
    ignore: Callable[[ErrorDetails], bool] | None = None
    missing_hints: Mapping[tuple[type[BaseModel], str], str] = field(default_factory=dict)
    """(model, field) -> text appended to "missing required field 'x'"."""
    mapping_messages: Mapping[type[BaseModel], str] = field(default_factory=dict)
    """model -> message when something else is given where the model is."""
    pattern_messages: Mapping[tuple[type[BaseModel], str], str] = field(default_factory=dict)
    """(model, field) -> message when a string field does not match its pattern."""
    unknown_key_hint: Callable[[Any, str], str | None] | None = None
    """(model, key) -> a hint for an unknown key (else a spelling suggestion is given)."""


def _format_of(spec: type[M] | FileFormat[M]) -> FileFormat[M]:
    return spec if isinstance(spec, FileFormat) else FileFormat(spec)


# -- public API ----------------------------------------------------------------


def load_model_text(text: str, filename: str, spec: type[M] | FileFormat[M]) -> M:
    """Validate `text` (YAML, or JSON) as `spec`'s model; `filename` names it in problems.

    Raises `spec.error` (a `FileFormatError`) listing every problem found.
    """
    fmt = _format_of(spec)
    doc = parse_text(text, filename, fmt)
    instance, problems = validate_document(doc, fmt)
    if problems or instance is None:
        raise fmt.error(problems)
    return instance


def load_model_file(path: str | Path, spec: type[M] | FileFormat[M]) -> M:
    """Read and validate one file; `.json` files are JSON, others YAML (or JSON)."""
    fmt = _format_of(spec)
    return load_model_text(read_text(path, error=fmt.error), str(path), fmt)


def read_text(path: str | Path, *, error: type[FileFormatError] = FileFormatError) -> str:
    """The text of a UTF-8 file; a file that cannot be read is a problem on line 0."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"cannot read: not UTF-8 text (byte {exc.start})"
    except OSError as exc:
        message = f"cannot read: {exc.strerror or exc}"
    raise error([Problem(str(path), 0, 0, "", message)])


def sorted_problems(problems: Iterable[Problem]) -> list[Problem]:
    """The problems without repeats, by line and column."""
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.line, p.column))


def json_schema(
    model: type[BaseModel], *, title: str, description: str | None = None
) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of files of `model`, for editors and CI.

    `description` defaults to the model's docstring.
    """
    schema, defs = model_schema(model)
    schema.pop("title", None)
    doc = schema.pop("description", "")
    out: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "description": description if description is not None else doc,
        **schema,
    }
    if defs:
        out["$defs"] = defs
    return out


def model_schema(model: type[BaseModel]) -> tuple[dict[str, Any], dict[str, Any]]:
    """`model`'s JSON Schema (by alias) and its `$defs`, separately.

    Fields that also take a single item (`OneOrMany`) accept it in the schema too.
    """
    schema = model.model_json_schema(by_alias=True)
    defs: dict[str, Any] = schema.pop("$defs", {})
    for sub in models_of(model):
        props = (schema if sub is model else defs.get(sub.__name__, {})).get("properties", {})
        for name, info in sub.model_fields.items():
            prop = props.get(info.alias or name)
            if prop is not None and (
                _is_one_or_many(info.annotation)
                or any(getattr(m, "func", None) is listify for m in info.metadata)
            ):
                _accept_single_item(prop)
    return schema, defs


def models_of(root: type[BaseModel]) -> list[type[BaseModel]]:
    """Every model reachable from `root` through its fields, `root` first."""
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


def allowed_keys(model: Any) -> list[str]:
    """The keys a mapping for `model` may have (aliases where given); [] if not a model."""
    if not _is_model(model):
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


# -- reading and parsing -------------------------------------------------------


@dataclass
class Document:
    """A parsed file: its data and where each of its values and keys starts."""

    file: str
    data: Any
    format: FileFormat[Any] = field(default_factory=lambda: FileFormat(BaseModel))
    values: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def bare_list(self) -> bool:
        """The file is a bare list standing for the format's `root_list` field."""
        return self.format.root_list is not None and isinstance(self.data, list)

    def value_mark(self, path: Loc) -> tuple[int, int]:
        """Where the value at `path` starts, else where its nearest enclosing value does."""
        for end in range(len(path), -1, -1):
            mark = self.values.get(path[:end])
            if mark is not None:
                return mark
        return (1, 1)

    def key_mark(self, path: Loc) -> tuple[int, int]:
        """Where the key of the value at `path` starts (else where the value does)."""
        return self.keys.get(path) or self.value_mark(path)

    def display_path(self, path: Loc) -> str:
        """How the document path `path` is shown: `rules[2] (lose-signal).fault.duration`."""
        if self.bare_list:
            return self.display((self.format.root_list, *path))
        return self.display(path)

    def display(self, display: Loc) -> str:
        """How a display path (a document path, with the root list's name) is shown."""
        out = ""
        data: Any = self.data
        labelled = {tuple(loc) for loc in self.format.labelled}
        for i, elem in enumerate(display):
            if i == 0 and self.bare_list and elem == self.format.root_list:
                out = str(elem)
                continue
            if isinstance(elem, int):
                out += f"[{elem}]"
                item = data[elem] if isinstance(data, list) and 0 <= elem < len(data) else None
                if tuple(display[:i]) in labelled and isinstance(item, dict):
                    name = item.get(self.format.label_key)
                    if isinstance(name, str) and 0 < len(name) <= 60 and not re.search(r"\s", name):
                        out += f" ({name})"
                data = item
                continue
            key = str(elem)
            out += ("." if out else "") + key if _IDENTIFIER.match(key) else f"[{json.dumps(key)}]"
            data = data.get(elem) if isinstance(data, dict) else None
        return out


def parse_text(
    text: str,
    filename: str,
    spec: type[BaseModel] | FileFormat[Any],
    *,
    json_only: bool | None = None,
) -> Document:
    """Parse YAML or JSON (JSON only for a `.json` file, unless `json_only` says otherwise).

    Syntax errors raise the format's error; an empty file parses to data None.
    """
    fmt: FileFormat[Any] = _format_of(spec)
    if json_only is None:
        json_only = filename.lower().endswith(".json")
    text = text.removeprefix("\ufeff")
    stripped = text.lstrip()
    if json_only or stripped[:1] in ("{", "["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            if json_only:
                problem = Problem(filename, exc.lineno, exc.colno, "", f"invalid JSON: {exc.msg}")
                raise fmt.error([problem]) from None
        else:
            doc = Document(filename, data, fmt)
            try:
                # Raw tabs in JSON are whitespace (in strings they must be escaped); YAML
                # rejects some, and a space keeps the columns.
                _compose(text.replace("\t", " "), doc, construct=False)
            except yaml.YAMLError:
                doc.values.clear()  # no positions: problems point at 1:1
                doc.keys.clear()
                doc.problems.clear()
            return doc
    doc = Document(filename, None, fmt)
    try:
        _compose(text, doc, construct=True)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise fmt.error([Problem(filename, line, column, "", _yaml_message(exc))]) from None
    except yaml.YAMLError as exc:
        raise fmt.error([Problem(filename, 1, 1, "", f"invalid YAML: {exc}")]) from None
    return doc


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    if exc.context and exc.context_mark and exc.problem_mark:
        if exc.context_mark.line != exc.problem_mark.line:
            parts[0] += f" (line {exc.context_mark.line + 1})"
    return "invalid YAML: " + ", ".join(parts)


_MAX_INDEXED = 100_000  # aliases can make a small document a very large tree


def _compose(text: str, doc: Document, *, construct: bool) -> None:
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
                                doc.display_path((*path, key)),
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


def validate_document(
    doc: Document, spec: type[M] | FileFormat[M] | None = None
) -> tuple[M | None, list[Problem]]:
    """The instance and no problems, or None (or an instance) and every problem found.

    `spec` defaults to the format the document was parsed with.
    """
    fmt: FileFormat[Any] = doc.format if spec is None else _format_of(spec)
    if fmt is not doc.format:
        doc.format = fmt
    problems = list(doc.problems)
    if doc.data is None:
        return None, [Problem(doc.file, 1, 1, "", fmt.empty)]
    if fmt.check is not None:
        problems.extend(fmt.check(doc))
    instance: M | None = None
    data = {fmt.root_list: doc.data} if doc.bare_list else doc.data
    try:
        instance = fmt.model.model_validate(data)
    except ValidationError as exc:
        errors = [
            e
            for e in _expand_located(exc.errors(include_url=False))
            if fmt.ignore is None or not fmt.ignore(e)
        ]
        problems.extend(_problem(doc, error) for error in _merge_unions(doc, errors))
    return instance, sorted_problems(problems)


def _expand_located(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """One error per item of each `LocatedError`, at its place."""
    out: list[ErrorDetails] = []
    for error in errors:
        located = _ctx(error).get("error")
        if error["type"] != "value_error" or not isinstance(located, LocatedError):
            out.append(error)
            continue
        for path, message in located.items:
            item: dict[str, Any] = {
                "type": "value_error",
                "loc": (*error["loc"], *path),
                "msg": message,
                "input": error["input"],
                "ctx": {"error": message},
            }
            out.append(typing.cast(ErrorDetails, item))
    return out


# -- from a pydantic error to a Problem ------------------------------------------------


@dataclass
class _Walk:
    """A pydantic error location followed through the document and the model types."""

    path: Loc  # the document path: the keys and indices of loc found in the data
    display: Loc  # `path` as shown: with the root list's name for a bare list too
    absent: Any  # the last loc element when it is not in the document (a missing field)
    parent: Any  # the type holding the last element (a model class, for key suggestions)
    type: Any  # the type at the end of loc (None when unknown)
    tag_at: int | None  # index in loc of the first tag of a non-discriminated union
    at_key: bool  # the location ends in KEY: the problem is the key, not its value


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


def _literal_tags(model: type[BaseModel]) -> dict[str, str]:
    """The fields of `model` that are a single string literal (a union tag), and their value."""
    tags: dict[str, str] = {}
    for name, info in model.model_fields.items():
        if get_origin(info.annotation) is Literal:
            values = get_args(info.annotation)
            if len(values) == 1 and isinstance(values[0], str):
                tags[info.alias or name] = values[0]
    return tags


def _union_member(tp: Any, tag: str) -> tuple[Any, bool]:
    """The member of union `tp` that pydantic's loc `tag` names, and whether it is discriminated."""
    members = [_unwrap(m) for m in get_args(tp) if m is not _NONE_TYPE]
    for member in members:
        if _is_model(member) and tag in _literal_tags(member).values():
            return member, True
    for member in members:
        if _is_model(member) and re.search(rf"\b{member.__name__}\b", tag):
            return member, False
        if get_origin(member) is Literal and tag.startswith("literal["):
            return member, False
        if isinstance(member, type) and tag == member.__name__:
            return member, False
    return None, False


def _discriminator(tp: Any) -> tuple[str, list[str]] | None:
    """The tag key and the tags of a discriminated union of models, else None."""
    if not _is_union(tp):
        return None
    members = [_unwrap(m) for m in get_args(tp) if m is not _NONE_TYPE]
    if not members or not all(_is_model(m) for m in members):
        return None
    tags = [_literal_tags(m) for m in members]
    common = [key for key in tags[0] if all(key in t for t in tags[1:])]
    if not common:
        return None
    key = "type" if "type" in common else common[0]
    return key, [t[key] for t in tags]


def _field_type(model: type[BaseModel], key: Any) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info.annotation
    return None


def _walk(doc: Document, loc: Loc) -> _Walk:
    data: Any = doc.data
    tp: Any = doc.format.model
    path: list[Any] = []
    display: list[Any] = []
    parent: Any = None
    absent: Any = _ABSENT
    tag_at: int | None = None
    at_key = False
    for i, elem in enumerate(loc):
        if elem == KEY and i == len(loc) - 1:
            at_key = True
            continue
        tp = _unwrap(tp)
        if _is_union(tp) and isinstance(elem, str):
            member, discriminated = _union_member(tp, elem)
            if member is not None or not (isinstance(data, dict) and elem in data):
                if not discriminated and tag_at is None:
                    tag_at = i
                tp = member
                continue
        parent = tp
        if i == 0 and doc.bare_list and elem == doc.format.root_list:
            display.append(elem)  # a bare list is the root list field
            tp = _field_type(doc.format.model, elem)
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
        elif get_origin(tp) is tuple and isinstance(elem, int):
            args = get_args(tp)
            tp = args[0] if len(args) == 2 and args[1] is Ellipsis else _item(args, elem)
        else:
            tp = None
    return _Walk(tuple(path), tuple(display), absent, parent, _unwrap(tp), tag_at, at_key)


def _item(args: tuple[Any, ...], index: int) -> Any:
    return args[index] if 0 <= index < len(args) else None


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

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


def _merge_unions(doc: Document, errors: list[ErrorDetails]) -> list[ErrorDetails]:
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
        ("Tuple should", "must"),
        ("Dictionary should", "must"),
        ("Value should", "must"),
        ("Value error, ", ""),
        ("Assertion failed, ", ""),
    ):
        if msg.startswith(before):
            msg = after + msg[len(before) :]
            break
    return msg.replace(" items after validation,", " items,")


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


def suggest(word: Any, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest of `choices` to `word`, else ''."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _quoted_choices(text: str) -> list[str]:
    return re.findall(r"'([^']*)'", text)


def _problem(doc: Document, error: ErrorDetails) -> Problem:
    fmt = doc.format
    walk = _walk(doc, tuple(error["loc"]))
    kind = error["type"]
    value = error.get("input")
    ctx = _ctx(error)
    where = doc.display(walk.display)
    line, column = doc.key_mark(walk.path) if walk.at_key else doc.value_mark(walk.path)

    def problem(message: str, at: str = where) -> Problem:
        return Problem(doc.file, line, column, at, message)

    if kind == "missing" and walk.absent is not _ABSENT:
        name = walk.absent
        hint = fmt.missing_hints.get((walk.parent, name), "") if _is_model(walk.parent) else ""
        return problem(f"missing required field {name!r}{hint}", _join(where, name))

    if kind == "extra_forbidden" and walk.path:
        key = walk.path[-1]
        line, column = doc.key_mark(walk.path)
        allowed = allowed_keys(walk.parent)
        custom = fmt.unknown_key_hint(walk.parent, key) if fmt.unknown_key_hint else None
        hint = suggest(key, allowed) if custom is None else custom
        if not hint and allowed:
            hint = "; expected one of: " + ", ".join(allowed)
        return problem(f"unknown key {key!r}{hint}")

    union = _discriminator(walk.type)
    if union and kind in ("union_tag_invalid", "union_tag_not_found", "model_attributes_type"):
        key, tags = union
        key = str(ctx.get("discriminator", repr(key))).strip("'")
        if not isinstance(value, dict):
            example = f"{{{key}: {value}}}" if value in tags else f"{{{key}: {tags[0]}}}"
            return problem(f"must be a mapping such as {example}, not {_show(value)}")
        if key not in value:
            message = f"missing required field {key!r}, one of: {', '.join(tags)}"
            return problem(message, _join(where, key))
        line, column = doc.value_mark((*walk.path, key))
        tag = value[key]
        last = walk.display[-1] if walk.display else None
        what = f"{last} {key}" if isinstance(last, str) else key
        message = f"{what} {_show(tag)} is unknown{suggest(tag, tags)}; one of: {', '.join(tags)}"
        return problem(message, _join(where, key))

    if kind in ("model_attributes_type", "model_type", "dict_type"):
        if not walk.display:
            return problem(f"{fmt.root}, not {_show(value)}")
        custom = fmt.mapping_messages.get(walk.type) if _is_model(walk.type) else None
        if custom is not None:
            return problem(f"{custom}, not {_show(value)}")
        return problem(f"must be a mapping, not {_show(value)}")

    if kind in ("literal_error", "union_mismatch"):
        expected = str(ctx.get("expected", ""))
        choices = ctx.get("choices") or _quoted_choices(expected)
        message = f"must be {expected}" if kind == "literal_error" else error["msg"]
        hint = suggest(value, choices) if isinstance(value, str) else ""
        return problem(f"{message}, not {_show(value)}{hint}")

    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return problem(str(ctx["error"]))

    if kind == "string_pattern_mismatch" and _is_model(walk.parent) and walk.display:
        custom = fmt.pattern_messages.get((walk.parent, walk.display[-1]))
        if custom is not None:
            return problem(f"{custom}, not {_show(value)}")

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


# -- JSON Schema -------------------------------------------------------------------


def _is_one_or_many(tp: Any) -> bool:
    """The field is `Annotated[list[...], OneOrMany]` (or Optional)."""
    for arg in (tp, *get_args(tp)):
        if get_origin(arg) is typing.Annotated:
            inner, *metadata = get_args(arg)
            if get_origin(inner) is list and any(
                getattr(m, "func", None) is listify for m in metadata
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
