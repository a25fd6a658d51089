"""Payload paths: read, change and test JSON payload fields by a dotted path.

Syntax: dotted keys with list indices and a wildcard, e.g. `connectorId`,
`idTagInfo.status`, `meterValue[0].sampledValue[0].value`,
`meterValue[*].sampledValue[*].value`. A key may hold any character except `.`
and `[`; an index is `[n]` (`[-1]` is the last item) or `[*]`; a bare `*` key
is the wildcard too. The wildcard fans out over the items of a list (and over
the values of an object). A path may start with an index (`[0].a`) to address a
list at the top.

Pure functions: nothing here changes its input; the writers return a deep copy.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Iterator, Mapping
from enum import Enum
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ocpp_chaos.rules.model import PayloadCondition

__all__ = [
    "WILDCARD",
    "PathLike",
    "Segment",
    "Wildcard",
    "as_number",
    "condition_matches",
    "exists",
    "format_path",
    "get_values",
    "json_equal",
    "parse_path",
    "payload_matches",
    "remove_value",
    "set_value",
    "update_values",
]


class Wildcard(Enum):
    """The `*` / `[*]` path segment: every list item (or object value)."""

    ANY = "*"

    def __repr__(self) -> str:
        return "WILDCARD"


WILDCARD = Wildcard.ANY

Segment = str | int | Wildcard
"""A key (str), a list index (int) or the wildcard."""
PathLike = str | tuple[Segment, ...]
"""A path as text, or as parsed by `parse_path`."""

_INDEX = re.compile(r"-?[0-9]+")


@lru_cache(maxsize=1024)
def parse_path(path: str) -> tuple[Segment, ...]:
    """The segments of `path`. Raises ValueError on bad syntax."""
    if not isinstance(path, str) or not path:
        raise ValueError("empty payload path")
    segments: list[Segment] = []
    i, n = 0, len(path)
    while True:
        j = i
        while j < n and path[j] not in ".[":
            j += 1
        key = path[i:j]
        if key:
            segments.append(WILDCARD if key == "*" else key)
        elif j >= n or path[j] == "." or segments:
            raise ValueError(f"empty key at position {i} in payload path {path!r}")
        i = j
        while i < n and path[i] == "[":
            close = path.find("]", i)
            if close < 0:
                raise ValueError(f"unclosed '[' at position {i} in payload path {path!r}")
            body = path[i + 1 : close]
            if body == "*":
                segments.append(WILDCARD)
            elif _INDEX.fullmatch(body):
                segments.append(int(body))
            else:
                raise ValueError(
                    f"bad list index [{body}] at position {i} in payload path {path!r} "
                    "(use a number or *)"
                )
            i = close + 1
        if i >= n:
            return tuple(segments)
        if path[i] != ".":
            raise ValueError(
                f"unexpected {path[i]!r} at position {i} in payload path {path!r} "
                "(expected '.' or '[')"
            )
        i += 1
        if i >= n:
            raise ValueError(f"payload path {path!r} ends with '.'")


def format_path(segments: tuple[Segment, ...]) -> str:
    """The text form of parsed segments (inverse of `parse_path`)."""
    out = ""
    for seg in segments:
        if isinstance(seg, Wildcard):
            out += "[*]"
        elif isinstance(seg, int):
            out += f"[{seg}]"
        else:
            out += f".{seg}" if out else seg
    return out


def _segments(path: PathLike) -> tuple[Segment, ...]:
    return parse_path(path) if isinstance(path, str) else path


def _slots(node: Any, seg: Segment) -> list[tuple[Any, Any]]:
    """The existing (container, key) places `seg` reaches in `node`."""
    if isinstance(seg, Wildcard):
        if isinstance(node, list):
            return [(node, i) for i in range(len(node))]
        if isinstance(node, dict):
            return [(node, k) for k in node]
        return []
    if isinstance(seg, int):
        if isinstance(node, list) and -len(node) <= seg < len(node):
            return [(node, seg % len(node))]
        return []
    if isinstance(node, dict) and seg in node:
        return [(node, seg)]
    return []


def _walk(node: Any, segs: tuple[Segment, ...]) -> Iterator[Any]:
    if not segs:
        yield node
        return
    for container, key in _slots(node, segs[0]):
        yield from _walk(container[key], segs[1:])


def get_values(payload: Any, path: PathLike) -> list[Any]:
    """All values `path` reaches in `payload` (the wildcard fans out); [] if none.

    Level by level, without recursion: rules check payloads on the frame path.
    """
    nodes = [payload]
    for seg in _segments(path):
        found: list[Any] = []
        if isinstance(seg, Wildcard):
            for node in nodes:
                if isinstance(node, list):
                    found.extend(node)
                elif isinstance(node, dict):
                    found.extend(node.values())
        elif isinstance(seg, int):
            for node in nodes:
                if isinstance(node, list) and -len(node) <= seg < len(node):
                    found.append(node[seg])
        else:
            for node in nodes:
                if isinstance(node, dict) and seg in node:
                    found.append(node[seg])
        if not found:
            return found
        nodes = found
    return nodes


def exists(payload: Any, path: PathLike) -> bool:
    """Whether `path` reaches at least one value."""
    return next(_walk(payload, _segments(path)), _MISSING) is not _MISSING


_MISSING = object()


def _set(node: Any, segs: tuple[Segment, ...], value: Any) -> None:
    head, rest = segs[0], segs[1:]
    if not rest:
        if isinstance(head, str) and isinstance(node, dict):
            node[head] = copy.deepcopy(value)
            return
        for container, key in _slots(node, head):
            container[key] = copy.deepcopy(value)
        return
    slots = _slots(node, head)
    if (
        not slots
        and isinstance(head, str)
        and isinstance(node, dict)
        and all(isinstance(s, str) for s in rest)
    ):
        node[head] = {}
        slots = [(node, head)]
    for container, key in slots:
        _set(container[key], rest, value)


def set_value(payload: Any, path: PathLike, value: Any) -> Any:
    """A copy of `payload` with `value` at every place `path` reaches.

    A missing key is created at the end of the path, and missing objects on the
    way when the rest of the path is keys only; a list index out of range (or a
    key into a non-object) leaves that branch unchanged.
    """
    segs = _segments(path)
    out = copy.deepcopy(payload)
    if segs:
        _set(out, segs, value)
    return out


def _remove(node: Any, segs: tuple[Segment, ...]) -> None:
    head, rest = segs[0], segs[1:]
    slots = _slots(node, head)
    if rest:
        for container, key in slots:
            _remove(container[key], rest)
        return
    # Delete list items from the back so earlier indices stay valid.
    for container, key in reversed(slots):
        del container[key]


def remove_value(payload: Any, path: PathLike) -> Any:
    """A copy of `payload` without what `path` reaches (key removed / list item removed)."""
    segs = _segments(path)
    out = copy.deepcopy(payload)
    if segs:
        _remove(out, segs)
    return out


def _update(node: Any, segs: tuple[Segment, ...], fn: Callable[[Any], Any]) -> None:
    head, rest = segs[0], segs[1:]
    for container, key in _slots(node, head):
        if rest:
            _update(container[key], rest, fn)
        else:
            container[key] = fn(container[key])


def update_values(payload: Any, path: PathLike, fn: Callable[[Any], Any]) -> Any:
    """A copy of `payload` with each value `path` reaches replaced by `fn(value)`."""
    segs = _segments(path)
    out = copy.deepcopy(payload)
    if segs:
        _update(out, segs, fn)
    else:
        out = fn(out)
    return out


# -- conditions ------------------------------------------------------------------

_NUMERIC_TEXT = re.compile(r"[ \t]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t]*")


def as_number(value: Any) -> float | None:
    """`value` as a number: an int/float (not a bool) or a numeric string like "12.5"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and _NUMERIC_TEXT.fullmatch(value):
        number = float(value)
    else:
        return None
    return number if math.isfinite(number) else None


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: 1 == 1.0, but true != 1 and "1" != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, int | float | list | dict) or isinstance(b, int | float | list | dict):
        return False
    return bool(a == b)


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _value_matches(value: Any, cond: PayloadCondition) -> bool:
    if "equals" in cond.model_fields_set and not json_equal(value, cond.equals):
        return False
    if cond.in_ is not None and not any(json_equal(value, v) for v in cond.in_):
        return False
    if cond.regex is not None:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return False
        if not _regex(cond.regex).search(str(value)):
            return False
    if cond.min is not None or cond.max is not None:
        number = as_number(value)
        if number is None:
            return False
        if cond.min is not None and number < cond.min:
            return False
        if cond.max is not None and number > cond.max:
            return False
    return True


def _has_value_condition(cond: PayloadCondition) -> bool:
    return (
        cond.in_ is not None
        or cond.regex is not None
        or cond.min is not None
        or cond.max is not None
        or "equals" in cond.model_fields_set
    )


def condition_matches(payload: Any, path: PathLike, cond: PayloadCondition) -> bool:
    """Whether the field(s) at `path` satisfy `cond`.

    `exists` is about the path: true needs at least one value reached, false
    none. The value conditions (equals, in, regex, min, max) must all hold for
    one and the same value, and the path matches if ANY reached value does (so
    with a wildcard: "some item"). A path that reaches nothing fails every value
    condition. `equals`/`in` compare as JSON (1 == 1.0, true != 1, "1" != 1);
    `regex` searches the text of a string or number; `min`/`max` accept numbers
    and numeric strings ("12.5", as OCPP 1.6 meter values are).
    """
    values = get_values(payload, path)
    if cond.exists is not None and cond.exists != bool(values):
        return False
    if not _has_value_condition(cond):
        return True
    return any(_value_matches(v, cond) for v in values)


def payload_matches(payload: Any, conditions: Mapping[str, PayloadCondition]) -> bool:
    """Whether every (path, condition) pair of `conditions` matches `payload`."""
    return all(condition_matches(payload, p, c) for p, c in conditions.items())


def compile_condition(path: str, cond: PayloadCondition) -> Callable[[Any], bool]:
    """`condition_matches(payload, path, cond)` as a function of the payload alone.

    The path is parsed and the condition specialised once, when a rule is loaded:
    the engine runs these on every frame a rule could match.
    """
    segs = parse_path(path)
    checks: list[Callable[[Any], bool]] = []
    if "equals" in cond.model_fields_set:
        target = cond.equals
        if isinstance(target, str):
            checks.append(lambda v: isinstance(v, str) and v == target)
        elif isinstance(target, bool) or target is None:
            checks.append(lambda v: v is target)
        else:
            checks.append(lambda v: json_equal(v, target))
    if cond.in_ is not None:
        options = list(cond.in_)
        checks.append(lambda v: any(json_equal(v, o) for o in options))
    if cond.regex is not None:
        search = re.compile(cond.regex).search
        checks.append(
            lambda v: (
                not isinstance(v, bool)
                and isinstance(v, str | int | float)
                and search(str(v)) is not None
            )
        )
    if cond.min is not None or cond.max is not None:
        low = -math.inf if cond.min is None else cond.min
        high = math.inf if cond.max is None else cond.max

        def in_range(v: Any) -> bool:
            number = as_number(v)
            return number is not None and low <= number <= high

        checks.append(in_range)
    exists = cond.exists
    values_at = _compile_getter(segs)

    def matches(payload: Any) -> bool:
        values = values_at(payload)
        if exists is not None and exists != bool(values):
            return False
        if not checks:
            return True
        for value in values:
            for check in checks:
                if not check(value):
                    break
            else:
                return True
        return False

    return matches


def _compile_getter(segs: tuple[Segment, ...]) -> Callable[[Any], list[Any]]:
    """`get_values` for one parsed path; a path of plain keys becomes a direct walk."""
    if not all(isinstance(seg, str) for seg in segs):
        return lambda payload: get_values(payload, segs)
    keys = tuple(str(seg) for seg in segs)

    def walk(payload: Any) -> list[Any]:
        node = payload
        for key in keys:
            if isinstance(node, dict) and key in node:
                node = node[key]
            else:
                return []
        return [node]

    return walk
