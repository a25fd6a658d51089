"""Filter expressions: one small language for the console's log filter, the event
stream and the targets of faults.

    charger:CP-1*  dir:up  action:Meter*,StartTransaction  type:call  some text

Terms are ANDed; a `key:value` term's value is a comma-separated list of globs (any may
match, case-insensitive for actions and types); a bare word must occur in the frame's text
(or, for a session, its charger id). Keys: `charger` (or `id`), `dir` (`direction`: up,
down), `action`, `type` (call, result, error, resulterror, send, malformed, or a control
opcode: ping, pong, close; `event` for session, finding, rule, fault and scenario events),
`session`. Sans-IO: it matches JSON events (the event stream's form) and charger ids.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Filter", "FilterError", "parse_filter"]

_KEYS = {
    "charger": "charger",
    "id": "charger",
    "dir": "dir",
    "direction": "dir",
    "action": "action",
    "type": "type",
    "session": "session",
}
_DIRECTIONS = {"up", "down"}


class FilterError(ValueError):
    """A filter expression that cannot be understood (the message says which term)."""


def _compile(globs: Iterable[str], *, fold: bool) -> re.Pattern[str]:
    parts = [fnmatch.translate(g.lower() if fold else g) for g in globs if g]
    return re.compile("|".join(parts) or r"(?!)", re.IGNORECASE if fold else 0)


@dataclass(frozen=True)
class Filter:
    """A parsed expression; `matches(event)` for events, `select(ids)` for chargers."""

    text: str = ""
    terms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    words: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms and not self.words

    def _pattern(self, key: str) -> re.Pattern[str] | None:
        globs = self.terms.get(key)
        if not globs:
            return None
        return _compile(globs, fold=key != "charger")

    def matches(self, event: Mapping[str, Any]) -> bool:
        """Whether an event (a frame's tape line, or another event) passes."""
        if self.empty:
            return True
        is_frame = event.get("event", "frame") == "frame"
        checks = {
            "charger": event.get("charger"),
            "dir": event.get("dir"),
            "action": event.get("action"),
            "type": (event.get("type") or event.get("opcode")) if is_frame else event.get("event"),
            "session": event.get("session"),
        }
        for key in self.terms:
            pattern = self._pattern(key)
            if pattern is None:
                continue
            value = checks[key]
            if key == "type" and not is_frame and pattern.fullmatch("event"):
                continue
            if value is None or not pattern.fullmatch(str(value)):
                return False
        if self.words:
            text = str(event.get("text") or event.get("message") or event.get("charger") or "")
            haystack = text.lower()
            if not all(w.lower() in haystack for w in self.words):
                return False
        return True

    def select(self, charger_ids: Iterable[str]) -> list[str]:
        """The charger ids this expression names (only `charger` terms and bare words
        count: a bare word selects ids that contain it)."""
        pattern = self._pattern("charger")
        out = []
        for charger_id in charger_ids:
            if pattern is not None and not pattern.fullmatch(charger_id):
                continue
            if not all(w.lower() in charger_id.lower() for w in self.words):
                continue
            out.append(charger_id)
        return out


def parse_filter(text: str) -> Filter:
    """Parse an expression (see the module's docstring); raises FilterError."""
    try:
        tokens = shlex.split(text or "")
    except ValueError as exc:
        raise FilterError(f"filter {text!r}: {exc}") from None
    terms: dict[str, list[str]] = {}
    words: list[str] = []
    for token in tokens:
        key, sep, value = token.partition(":")
        if sep and key.lower() in _KEYS:
            name = _KEYS[key.lower()]
            values = [v for v in value.split(",") if v]
            if not values:
                raise FilterError(f"filter term {token!r}: give a value after ':'")
            if name == "dir":
                bad = [v for v in values if v.lower() not in _DIRECTIONS]
                if bad:
                    raise FilterError(f"filter term {token!r}: direction is up or down")
            terms.setdefault(name, []).extend(values)
        elif sep and re.fullmatch(r"[A-Za-z]+", key):
            raise FilterError(
                f"filter term {token!r}: unknown key {key!r} (use {', '.join(sorted(set(_KEYS)))})"
            )
        else:
            words.append(token)
    return Filter(text=text, terms={k: tuple(v) for k, v in terms.items()}, words=tuple(words))
