"""Differential transparency: what crosses the proxy is exactly what crosses a direct link.

Raw recording peers on 127.0.0.1 exchange a corpus both ways, once directly and
once through the proxy; the frames that arrive must be byte-identical, in the
same order, with the same opcode.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocpp_chaos.proxy import ProxyConfig, ProxyServer
from ocpp_chaos.testing.raw import Frame, RawClient, RawServer


def _t(value: object) -> Frame:
    return ("text", json.dumps(value, ensure_ascii=False).encode())


MIB = 1024 * 1024

CORPUS_UP: list[Frame] = [
    # OCPP 1.6
    _t([2, "1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]),
    _t([2, "2", "Heartbeat", {}]),
    (
        "text",
        b'[2, "3",  "StatusNotification" , {"connectorId":1,"errorCode":"NoError",'
        b'"status":"Available"}]',
    ),  # odd whitespace must survive
    # OCPP 2.0.1
    _t(
        [
            2,
            "4",
            "TransactionEvent",
            {
                "eventType": "Started",
                "timestamp": "2026-11-25T10:00:00.000Z",
                "triggerReason": "Authorized",
                "seqNo": 0,
                "transactionInfo": {"transactionId": "tx-1"},
            },
        ]
    ),
    # OCPP 2.1: CALLRESULTERROR and SEND
    _t([5, "5", "InternalError", "oops", {}]),
    _t([6, "6", "NotifyPeriodicEventStream", {"id": 1, "pending": 0, "basetime": "x", "data": []}]),
    _t([3, "down-1", {"status": "Accepted"}]),
    _t([4, "down-2", "NotImplemented", "", {}]),
    # broken on purpose
    ("text", b'[2, "7", "Heartbeat", {'),
    ("text", b"\xff\xfe\x80 not utf-8"),
    ("text", b"\xed\xa0\x80"),  # a UTF-16 surrogate encoded in UTF-8: invalid
    ("binary", b"\x00\x01\x02binary\xff"),
    ("binary", b'[2,"8","Heartbeat",{}]'),
    ("text", b""),
    ("binary", b""),
    _t([2, "9", "DataTransfer", {"vendorId": "Ünïcødé", "data": "充电桩 ⚡ 🚗"}]),
    ("text", b'[2,"10","DataTransfer",{"vendorId":"big","data":"' + b"x" * (MIB - 60) + b'"}]'),
    ("binary", bytes(range(256)) * 4096),  # 1 MiB binary
]

CORPUS_DOWN: list[Frame] = [
    _t(
        [3, "1", {"status": "Accepted", "currentTime": "2026-11-25T10:00:00.000Z", "interval": 300}]
    ),
    _t([2, "c1", "Reset", {"type": "Hard"}]),
    _t(
        [
            2,
            "c2",
            "RequestStartTransaction",
            {"idToken": {"idToken": "X", "type": "ISO14443"}, "remoteStartId": 1},
        ]
    ),
    _t([4, "2", "FormationViolation", "bad", {"a": 1}]),
    ("text", b"not json at all"),
    ("text", b"\xc3\x28"),
    ("binary", b"\xde\xad\xbe\xef"),
    ("text", b""),
    _t([3, "9", {"status": "Accepted", "data": "ありがとう"}]),
    ("text", b'[3,"10",{"data":"' + b"y" * (MIB - 30) + b'"}]'),
]


async def exchange(
    server: RawServer, url: str, up: list[Frame], down: list[Frame]
) -> tuple[list[Frame], list[Frame]]:
    """Send `up` from a raw charger and `down` from the raw server at once; return what arrived."""
    before = len(server.connections)
    async with await RawClient.connect(f"{url}/ocpp/CP-1") as client:
        conns = await server.wait_connections(before + 1)
        conn = conns[before]
        await asyncio.gather(client.send_all(up), conn.send_all(down))
        got_up = await conn.rec.wait_frames(len(up), timeout=20)
        got_down = await client.rec.wait_frames(len(down), timeout=20)
        return list(got_up), list(got_down)


async def test_corpus_is_relayed_byte_for_byte_in_order(raw_server: RawServer, make_proxy) -> None:
    proxy = await make_proxy(raw_server.url)
    direct = await exchange(raw_server, raw_server.url, CORPUS_UP, CORPUS_DOWN)
    proxied = await exchange(raw_server, proxy.url, CORPUS_UP, CORPUS_DOWN)
    assert direct == (CORPUS_UP, CORPUS_DOWN)  # the peers themselves are exact
    assert proxied[0] == direct[0]
    assert proxied[1] == direct[1]


async def test_valid_text_corpus_through_websockets_peers(
    raw_server: RawServer, make_proxy
) -> None:
    """The same with a `websockets` charger: what it sends as text arrives as the same text."""
    from websockets.asyncio.client import connect

    proxy = await make_proxy(raw_server.url)
    texts = [d.decode() for op, d in CORPUS_UP if op == "text" and _is_utf8(d)]
    async with connect(
        f"{proxy.url}/ocpp/CP-ws",
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        compression=None,
        max_size=None,
    ) as ws:
        conn = (await raw_server.wait_connections(1))[0]
        for text in texts:
            await ws.send(text)
        await ws.send(b"\x00binary")
        await ws.send(b"\xff\xfe", text=True)  # invalid UTF-8 as a text frame
        got = await conn.rec.wait_frames(len(texts) + 2)
        down = [("text", "réponse ⚡".encode()), ("binary", b"\x01\x02")]
        await conn.send_all(down)
        assert await ws.recv() == "réponse ⚡"
        assert await ws.recv() == b"\x01\x02"
    assert got == [("text", t.encode()) for t in texts] + [
        ("binary", b"\x00binary"),
        ("text", b"\xff\xfe"),
    ]


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


# -- property test -------------------------------------------------------------

frames = st.lists(
    st.tuples(st.sampled_from(["text", "binary"]), st.binary(max_size=2048))
    | st.tuples(
        st.just("text"), st.text(max_size=512).map(lambda s: s.encode("utf-8", "surrogatepass"))
    ),
    max_size=15,
)


@pytest.fixture(scope="module")
def relay_pair():
    """One event loop with a raw server and a proxy, kept for all hypothesis examples."""
    loop = asyncio.new_event_loop()
    server = RawServer()
    loop.run_until_complete(server.start())
    proxy = ProxyServer(ProxyConfig(upstream=server.url, listen_port=0))
    loop.run_until_complete(proxy.start())
    yield loop, server, proxy
    loop.run_until_complete(proxy.stop())
    loop.run_until_complete(server.stop())
    loop.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(up=frames, down=frames)
def test_random_frame_sequences_pass_unchanged(
    relay_pair, up: list[Frame], down: list[Frame]
) -> None:
    loop, server, proxy = relay_pair
    got_up, got_down = loop.run_until_complete(
        asyncio.wait_for(exchange(server, proxy.url, up, down), timeout=30)
    )
    assert got_up == up
    assert got_down == down
