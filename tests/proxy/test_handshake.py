"""The upgrade: subprotocols, headers, path and query, refusals and an unreachable CSMS."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from structlog.testing import capture_logs

from ocpp_chaos.testing.raw import RawClient, RawServer


async def _connect_status(url: str, protocols: list[str]) -> int:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(url, protocols=protocols)
        return info.value.status


@pytest.mark.parametrize(
    ("offered", "server_protocols", "expected"),
    [
        (["ocpp1.6"], ["ocpp1.6"], "ocpp1.6"),
        (["ocpp2.0.1", "ocpp1.6"], ["ocpp2.0.1", "ocpp1.6"], "ocpp2.0.1"),
        # the CSMS prefers another of the offered ones: the charger gets the CSMS's choice
        (["ocpp2.0.1", "ocpp1.6"], ["ocpp1.6"], "ocpp1.6"),
        (["ocpp2.1", "ocpp2.0.1"], ["ocpp2.0.1", "ocpp2.1"], "ocpp2.1"),  # aiohttp: charger order
    ],
)
async def test_subprotocol_negotiation(make_proxy, offered, server_protocols, expected) -> None:
    async with RawServer(protocols=server_protocols) as server:
        proxy = await make_proxy(server.url)
        async with await RawClient.connect(f"{proxy.url}/CP1", protocols=offered) as client:
            conn = (await server.wait_connections(1))[0]
            assert client.protocol == expected
            assert conn.protocol == expected
            # the CSMS was offered exactly the charger's list, in order
            assert conn.headers.getall("Sec-WebSocket-Protocol") == [",".join(offered)]
            session = next(iter(proxy.sessions))
            assert session.subprotocol == expected


async def test_no_subprotocol_offered_none_forwarded(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url)
    async with await RawClient.connect(f"{proxy.url}/CP1", protocols=[]) as client:
        conn = (await raw_server.wait_connections(1))[0]
        assert "Sec-WebSocket-Protocol" not in conn.headers
        assert client.protocol is None
        assert conn.protocol is None


async def test_csms_picking_a_protocol_the_proxy_got_is_passed_on(make_proxy) -> None:
    """A CSMS that chooses by its own preference: its pick (from the offer) reaches the charger."""
    async with RawServer(choose=lambda offered: offered[-1] if offered else None) as server:
        proxy = await make_proxy(server.url)
        async with await RawClient.connect(
            f"{proxy.url}/CP1", protocols=["ocpp2.1", "ocpp2.0.1", "ocpp1.6"]
        ) as client:
            assert client.protocol == "ocpp1.6"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 500])
async def test_refused_upgrade_is_answered_with_the_same_status(make_proxy, status) -> None:
    async with RawServer(refuse_status=status) as server:
        proxy = await make_proxy(server.url)
        assert await _connect_status(f"{proxy.url}/CP1", ["ocpp1.6"]) == status
        assert proxy.totals["refused"] == 1
        assert len(proxy.sessions) == 0


async def test_subprotocol_mismatch_refused_by_a_websockets_csms(make_proxy) -> None:
    """websockets servers refuse a charger offering none of their subprotocols with 400."""
    from websockets.asyncio.server import serve

    async def handler(ws):  # pragma: no cover - never reached
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"]) as server:  # type: ignore[list-item]
        port = server.sockets[0].getsockname()[1]
        proxy = await make_proxy(f"ws://127.0.0.1:{port}")
        assert await _connect_status(f"{proxy.url}/CP1", ["ocpp1.6"]) == 400


async def test_unreachable_csms_gives_502_and_says_why(make_proxy) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    proxy = await make_proxy(f"ws://127.0.0.1:{port}/ocpp")
    with capture_logs() as logs:
        assert await _connect_status(f"{proxy.url}/CP1", ["ocpp1.6"]) == 502
    entry = next(e for e in logs if e["event"] == "upstream_unreachable")
    assert f"127.0.0.1:{port}" in entry["upstream"]
    assert entry["error"]
    assert proxy.totals["unreachable"] == 1


async def test_plain_http_request_gets_426(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url)
    async with aiohttp.ClientSession() as session, session.get(f"{proxy.url}/CP1") as resp:
        assert resp.status == 426


async def test_authorization_and_end_to_end_headers_pass_hop_by_hop_do_not(
    make_proxy, raw_server
) -> None:
    proxy = await make_proxy(raw_server.url)
    headers = {
        "Authorization": "Basic Q1AxOnMzY3JldC1wYXNzd29yZA==",  # CP1:s3cret-password
        "X-Charger-Serial": "SN-42",
        "User-Agent": "FirmwareX/1.2",
        "Keep-Alive": "timeout=5",
        "Proxy-Authorization": "Basic cHJveHk6cHJveHk=",
        "X-Hop": "must not pass",
        "Connection": "Upgrade, X-Hop",
    }
    with capture_logs() as logs:
        async with await RawClient.connect(f"{proxy.url}/CP1", headers=headers) as client:
            conn = (await raw_server.wait_connections(1))[0]
            await client.send("text", b'[2,"1","Heartbeat",{}]')
            await conn.rec.wait_frames(1)
    got = conn.headers
    assert got["Authorization"] == headers["Authorization"]
    assert got["X-Charger-Serial"] == "SN-42"
    assert got["User-Agent"] == "FirmwareX/1.2"
    assert "Keep-Alive" not in got
    assert "Proxy-Authorization" not in got
    assert "X-Hop" not in got
    # the password never reaches the logs
    text = repr(logs)
    assert "s3cret-password" not in text
    assert "Q1AxOnMzY3JldC1wYXNzd29yZA==" not in text


@pytest.mark.parametrize(
    ("upstream_path", "charger_path", "expected"),
    [
        (
            "/steve/websocket/CentralSystemService",
            "/ocpp/CP1",
            "/steve/websocket/CentralSystemService/CP1",
        ),
        (
            "/steve/websocket/CentralSystemService/",
            "/CP1",
            "/steve/websocket/CentralSystemService/CP1",
        ),
        ("", "/any/deep/prefix/CP%2F1", "/CP%2F1"),  # percent-encoding kept
        ("/ocpp", "/x/CP%20one?token=abc&x=1", "/ocpp/CP%20one?token=abc&x=1"),
        ("/ocpp?tenant=7", "/CP1?x=1", "/ocpp/CP1?tenant=7&x=1"),
    ],
)
async def test_path_and_query_mapping(
    make_proxy, raw_server, upstream_path, charger_path, expected
) -> None:
    proxy = await make_proxy(raw_server.url + upstream_path)
    async with await RawClient.connect(f"{proxy.url}{charger_path}"):
        conn = (await raw_server.wait_connections(1))[0]
        assert conn.raw_path == expected


async def test_second_connection_of_a_charger_is_its_own_session(make_proxy, raw_server) -> None:
    proxy = await make_proxy(raw_server.url)
    async with (
        await RawClient.connect(f"{proxy.url}/CP1") as a,
        await RawClient.connect(f"{proxy.url}/CP1") as b,
    ):
        conns = await raw_server.wait_connections(2)
        await a.send("text", b'[2,"a","Heartbeat",{}]')
        await b.send("text", b'[2,"b","Heartbeat",{}]')
        await conns[0].rec.wait_frames(1)
        await conns[1].rec.wait_frames(1)
        assert {c.frames[0][1] for c in conns} == {
            b'[2,"a","Heartbeat",{}]',
            b'[2,"b","Heartbeat",{}]',
        }
        sessions = proxy.sessions.by_charger("CP1")
        assert len(sessions) == 2
        assert len({s.id for s in sessions}) == 2
