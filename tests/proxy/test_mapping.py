"""The pure request mapping: charger id, upstream URL, headers, subprotocols."""

from __future__ import annotations

import pytest

from ocpp_chaos.proxy.mapping import (
    charger_id_of,
    end_to_end_headers,
    parse_subprotocols,
    upstream_url,
)


@pytest.mark.parametrize(
    ("raw_path", "expected"),
    [
        ("/ocpp/CP1", "CP1"),
        ("/CP1/", "CP1"),
        ("/a/b/CP%2F1?x=1", "CP/1"),
        ("/", ""),
        ("/ocpp/%E2%9A%A1", "⚡"),
    ],
)
def test_charger_id(raw_path: str, expected: str) -> None:
    assert charger_id_of(raw_path) == expected


@pytest.mark.parametrize(
    ("upstream", "raw_path", "expected"),
    [
        (
            "ws://csms:8180/steve/websocket/CentralSystemService",
            "/CP1",
            "ws://csms:8180/steve/websocket/CentralSystemService/CP1",
        ),
        ("wss://csms/ocpp/", "/x/y/CP%201", "wss://csms/ocpp/CP%201"),
        ("ws://csms", "/CP1?a=1&b=2", "ws://csms/CP1?a=1&b=2"),
        ("ws://csms/o?t=1", "/CP1?a=1", "ws://csms/o/CP1?t=1&a=1"),
        ("ws://csms/o", "/", "ws://csms/o"),
    ],
)
def test_upstream_url(upstream: str, raw_path: str, expected: str) -> None:
    assert upstream_url(upstream, raw_path) == expected


def test_end_to_end_headers_drop_hop_by_hop_and_connection_named() -> None:
    headers = [
        ("Host", "proxy"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade, X-Local"),
        ("Sec-WebSocket-Key", "k"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Protocol", "ocpp1.6"),
        ("Sec-WebSocket-Extensions", "permessage-deflate"),
        ("Authorization", "Basic abc"),
        ("X-Local", "1"),
        ("X-Tenant", "a"),
        ("X-Tenant", "b"),
        ("TE", "trailers"),
        ("Keep-Alive", "5"),
    ]
    assert end_to_end_headers(headers) == [
        ("Authorization", "Basic abc"),
        ("X-Tenant", "a"),
        ("X-Tenant", "b"),
    ]


def test_parse_subprotocols_keeps_order_across_headers() -> None:
    assert parse_subprotocols(
        [("Sec-WebSocket-Protocol", "ocpp2.0.1, ocpp1.6"), ("sec-websocket-protocol", "ocpp2.1")]
    ) == ["ocpp2.0.1", "ocpp1.6", "ocpp2.1"]
    assert parse_subprotocols({"Other": "x"}) == []
