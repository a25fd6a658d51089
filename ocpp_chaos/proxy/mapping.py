"""Pure functions that map a charger's upgrade request onto the upstream CSMS.

No IO: the server calls these with what the request carried.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = [
    "HOP_BY_HOP",
    "charger_id_of",
    "end_to_end_headers",
    "parse_subprotocols",
    "rewrite_headers",
    "upstream_url",
]

# Headers that belong to one hop (RFC 9110 §7.6.1) or to one WebSocket handshake:
# the proxy's client side makes its own.
HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Host",
        "Content-Length",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Accept",
    )
)


def _path_and_query(raw_path: str) -> tuple[str, str]:
    path, _, query = raw_path.partition("?")
    return path, query


def charger_id_of(raw_path: str) -> str:
    """The charger id: the last non-empty segment of the request path, percent-decoded."""
    path, _ = _path_and_query(raw_path)
    segments = [s for s in path.split("/") if s]
    return unquote(segments[-1]) if segments else ""


def upstream_url(upstream: str, raw_path: str) -> str:
    """The URL the proxy connects to for a charger that asked for `raw_path`.

    The charger's last path segment (its id, percent-encoding kept as sent) is
    appended to the upstream URL's path; the charger's query string is appended
    to the upstream's own query. `ws://proxy/any/prefix/CP%2F1?x=1` with upstream
    `ws://csms:8180/steve/websocket/CentralSystemService` goes to
    `ws://csms:8180/steve/websocket/CentralSystemService/CP%2F1?x=1`.
    """
    parts = urlsplit(upstream)
    path, query = _path_and_query(raw_path)
    segments = [s for s in path.split("/") if s]
    base = parts.path.rstrip("/")
    new_path = f"{base}/{segments[-1]}" if segments else (parts.path or "/")
    new_query = "&".join(q for q in (parts.query, query) if q)
    return urlunsplit((parts.scheme, parts.netloc, new_path, new_query, ""))


def end_to_end_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The request headers to carry to the CSMS: all but the hop-by-hop ones.

    Headers named in a `Connection` header are hop-by-hop too. Order and
    repeated headers are kept.
    """
    items = list(headers)
    named = {
        token.strip().lower()
        for name, value in items
        if name.lower() == "connection"
        for token in value.split(",")
    }
    return [(n, v) for n, v in items if n.lower() not in HOP_BY_HOP and n.lower() not in named]


def parse_subprotocols(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[str]:
    """The subprotocols a client offered, in order (all `Sec-WebSocket-Protocol` headers)."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: list[str] = []
    for name, value in items:
        if name.lower() == "sec-websocket-protocol":
            out.extend(p.strip() for p in value.split(",") if p.strip())
    return out


def rewrite_headers(
    headers: list[tuple[str, str]], changes: Iterable[tuple[str, str | None]]
) -> list[tuple[str, str]]:
    """`headers` with each named header replaced by the value given, or removed (None)."""
    out = list(headers)
    for name, value in changes:
        out = [(n, v) for n, v in out if n.lower() != name.lower()]
        if value is not None:
            out.append((name, value))
    return out
