"""structlog configuration, called once by the CLI.

Headless: one JSON object per line (orjson). Otherwise a readable console
renderer. The standard library's `logging` (aiohttp, websockets, ocpp) goes
through the same processors. Secrets never reach the output: values of keys
that name a credential are masked, and so is the password part of a URL or a
Basic/Bearer credential that slipped into a message.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import orjson
import structlog

__all__ = ["configure", "redact", "redact_text"]

_SECRET_KEYS = re.compile(
    r"(authori[sz]ation|password|passwd|secret|token|api[_-]?key|cookie)", re.IGNORECASE
)
_SECRET_TEXT = [
    # user:password@host in a URL
    (
        re.compile(r"(?P<pre>[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]*@", re.IGNORECASE),
        r"\g<pre>***@",
    ),
    # Authorization header values
    (
        re.compile(r"\b(?P<pre>(Basic|Bearer|Digest)\s+)[A-Za-z0-9+/=._~-]+", re.IGNORECASE),
        r"\g<pre>***",
    ),
]
MASK = "***"


def redact_text(text: str) -> str:
    """Mask credentials in free text (URLs with a password, Authorization values)."""
    for pattern, repl in _SECRET_TEXT:
        text = pattern.sub(repl, text)
    return text


def redact(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secret-looking keys and credentials inside strings."""
    for key, value in list(event_dict.items()):
        if _SECRET_KEYS.search(key):
            event_dict[key] = MASK
        elif isinstance(value, str):
            event_dict[key] = redact_text(value)
        elif isinstance(value, dict):
            event_dict[key] = {
                k: MASK if _SECRET_KEYS.search(str(k)) else v for k, v in value.items()
            }
    return event_dict


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]


def configure(
    *,
    headless: bool,
    level: str = "info",
    stream: TextIO | None = None,
) -> None:
    """Configure structlog and the standard library's logging for the whole process."""
    out = stream or sys.stderr
    lvl = logging.getLevelNamesMapping()[level.upper()]
    if headless:
        renderer: Any = structlog.processors.JSONRenderer(
            serializer=lambda obj, **_: orjson.dumps(obj, default=str).decode()
        )
        final: list[Any] = [structlog.processors.format_exc_info, renderer]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
        final = [renderer]
    structlog.configure(
        processors=[*_shared_processors(), *final],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(lvl)
    # The ocpp library logs every frame at INFO; aiohttp's access log is noise here.
    for noisy in ("ocpp", "aiohttp.access", "websockets"):
        logging.getLogger(noisy).setLevel(max(lvl, logging.WARNING))
