"""TLS on both sides, with certificates made in the test (trustme)."""

from __future__ import annotations

import ssl

import aiohttp
import pytest
import trustme

from ocpp_chaos.testing.raw import RawClient, RawServer

HB = b'[2,"1","Heartbeat",{}]'


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _server_ctx(ca: trustme.CA, *, require_client_cert: bool = False) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(ctx)
    return ctx


def _client_ctx(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


async def test_wss_to_chargers_and_wss_upstream_with_client_certificate(
    ca, make_proxy, tmp_path
) -> None:
    """Charger -wss-> proxy -wss (mutual TLS)-> CSMS, with frames intact both ways."""
    proxy_cert = ca.issue_cert("127.0.0.1")
    proxy_cert_pem = tmp_path / "proxy.pem"
    proxy_key_pem = tmp_path / "proxy.key"
    proxy_cert.cert_chain_pems[0].write_to_path(proxy_cert_pem)
    proxy_cert.private_key_pem.write_to_path(proxy_key_pem)
    client_cert = ca.issue_cert("proxy-client@example")
    client_pem = tmp_path / "client.pem"
    client_key = tmp_path / "client.key"
    client_cert.cert_chain_pems[0].write_to_path(client_pem)
    client_cert.private_key_pem.write_to_path(client_key)
    ca_pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(ca_pem)

    async with RawServer(ssl_context=_server_ctx(ca, require_client_cert=True)) as server:
        assert server.url.startswith("wss://")
        proxy = await make_proxy(
            server.url,
            tls_cert=proxy_cert_pem,
            tls_key=proxy_key_pem,
            upstream_ca=ca_pem,
            upstream_cert=client_pem,
            upstream_key=client_key,
        )
        assert proxy.url.startswith("wss://")
        async with await RawClient.connect(
            f"{proxy.url}/CP-TLS", ssl_context=_client_ctx(ca)
        ) as client:
            conn = (await server.wait_connections(1))[0]
            await client.send("text", HB)
            await conn.send("text", b'[3,"1",{"currentTime":"2026-11-25T00:00:00.000Z"}]')
            assert await conn.rec.wait_frames(1) == [("text", HB)]
            assert (await client.rec.wait_frames(1))[0][0] == "text"
            peer = conn.request.transport.get_extra_info("peercert")
            assert peer is not None  # the CSMS saw the proxy's client certificate


async def test_upstream_certificate_not_trusted_gives_502(ca, make_proxy) -> None:
    async with RawServer(ssl_context=_server_ctx(ca)) as server:
        proxy = await make_proxy(server.url)  # system CAs do not know the test CA
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await session.ws_connect(f"{proxy.url}/CP1", protocols=["ocpp1.6"])
        assert info.value.status == 502
        assert server.connections == []
