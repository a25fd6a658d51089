"""`ocpp-chaos proxy` as a user runs it: a real process, JSON logs, SIGINT, the tape."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import pytest

from ocpp_chaos.cli import main
from ocpp_chaos.testing.raw import RawClient


async def _start(*args: str) -> tuple[asyncio.subprocess.Process, str, list[dict]]:
    if "--api" not in args and "--no-api" not in args:
        args = (*args, "--api", "127.0.0.1:0")  # never the fixed default port in tests
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ocpp_chaos",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    logs: list[dict] = []
    async with asyncio.timeout(20):
        while True:
            line = await proc.stderr.readline()
            assert line, f"proxy exited early: {logs}"
            entry = json.loads(line)  # headless logs are JSON lines
            logs.append(entry)
            if entry["event"] == "proxy_listening":
                return proc, entry["url"], logs


async def _stop(proc: asyncio.subprocess.Process, logs: list[dict]) -> int:
    proc.send_signal(signal.SIGINT)
    assert proc.stderr is not None
    async with asyncio.timeout(20):
        rest = await proc.stderr.read()
        code = await proc.wait()
    logs.extend(json.loads(x) for x in rest.decode().splitlines() if x.strip())
    return code


async def test_proxy_process_relays_and_flushes_the_tape_on_ctrl_c(raw_server, tmp_path) -> None:
    tape = tmp_path / "tape.jsonl"
    proc, url, logs = await _start(
        "proxy",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        raw_server.url + "/csms",
        "--tape",
        str(tape),
        "--headless",
    )
    try:
        client = await RawClient.connect(
            f"{url}/CP-CLI",
            protocols=["ocpp1.6"],
            headers={"Authorization": "Basic Q1A6aHVudGVyMg=="},
        )
        frames = [("text", f'[2,"{i}","Heartbeat",{{}}]'.encode()) for i in range(200)]
        await client.send_all(frames)
        conn = (await raw_server.wait_connections(1))[0]
        assert await conn.rec.wait_frames(200) == frames
        code = await _stop(proc, logs)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 0
    await client.rec.wait_ended()
    assert client.rec.close is not None and client.rec.close[0] == 1001
    await conn.rec.wait_ended()
    assert conn.rec.close is not None and conn.rec.close[0] == 1001
    await client.aclose()
    lines = [json.loads(x) for x in tape.read_text().splitlines()]
    ups = [ln for ln in lines if ln.get("dir") == "up" and ln.get("opcode") == "text"]
    assert [ln["text"] for ln in ups] == [d.decode() for _, d in frames]
    events = {e["event"] for e in logs}
    assert {"proxy_listening", "session_open", "session_closed", "tape_closed"} <= events
    assert "hunter2" not in json.dumps(logs) and "Q1A6aHVudGVyMg==" not in json.dumps(logs)


def test_help_lists_the_commands(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("proxy", "csms", "demo"):
        assert command in out


def test_key_without_certificate_is_a_clear_error(tmp_path, capsys) -> None:
    key = tmp_path / "k.pem"
    key.write_text("x")
    assert main(["proxy", "--headless", "--tls-key", str(key), "--listen", "127.0.0.1:0"]) == 2
    assert "--tls-key needs --tls-cert" in capsys.readouterr().err


def test_missing_certificate_file_is_a_clear_error(tmp_path, capsys) -> None:
    assert (
        main(
            [
                "proxy",
                "--headless",
                "--tls-cert",
                str(tmp_path / "nope.pem"),
                "--listen",
                "127.0.0.1:0",
            ]
        )
        == 2
    )
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--slow", "--call-timeout"])
def test_oracle_thresholds_must_be_seconds(flag, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["proxy", flag, "-1"])
    assert info.value.code == 2
    assert "seconds" in capsys.readouterr().err


async def test_proxy_process_logs_what_the_oracle_finds(raw_server) -> None:
    proc, url, logs = await _start(
        "proxy",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        raw_server.url,
        "--headless",
        "--call-timeout",
        "0.1",
    )
    try:
        async with await RawClient.connect(f"{url}/CP-O", protocols=["ocpp1.6"]) as client:
            await client.send("text", b'[2,"h1","Heartbeat",{}]')  # the raw CSMS never answers
            await (await raw_server.wait_connections(1))[0].rec.wait_frames(1)
            assert proc.stderr is not None
            async with asyncio.timeout(20):
                while not any(e["event"] == "oracle_finding" for e in logs):
                    logs.append(json.loads(await proc.stderr.readline()))
        code = await _stop(proc, logs)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 0
    finding = next(e for e in logs if e["event"] == "oracle_finding")
    assert finding["kind"] == "unanswered_call" and finding["charger_id"] == "CP-O"
    stopped = next(e for e in logs if e["event"] == "proxy_stopped")
    assert stopped["findings"]["unanswered_call"] == 1


@pytest.mark.parametrize("bad", ["nope", "127.0.0.1:99999", "host:"])
def test_bad_listen_address(bad, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["proxy", "--listen", bad])
    assert info.value.code == 2


async def test_proxy_process_applies_rule_files(raw_server, tmp_path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text("- name: no-heartbeats\n  match: {action: Heartbeat}\n  fault: {type: drop}\n")
    tape = tmp_path / "tape.jsonl"
    proc, url, logs = await _start(
        "proxy",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        raw_server.url,
        "--rules",
        str(rules),
        "--seed",
        "7",
        "--tape",
        str(tape),
        "--headless",
    )
    try:
        client = await RawClient.connect(f"{url}/CP-R", protocols=["ocpp1.6"])
        await client.send("text", b'[2,"1","Heartbeat",{}]')
        await client.send("text", b'[2,"2","Authorize",{"idTag":"T"}]')
        conn = (await raw_server.wait_connections(1))[0]
        assert await conn.rec.wait_frames(1) == [("text", b'[2,"2","Authorize",{"idTag":"T"}]')]
        await client.aclose()
        assert await _stop(proc, logs) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert any(e["event"] == "rule_loaded" and e["rule"] == "no-heartbeats" for e in logs)
    lines = [json.loads(x) for x in tape.read_text().splitlines()]
    assert [ln["decision"] for ln in lines if ln.get("opcode") == "text"] == [
        "drop:no-heartbeats",
        "forward",
    ]


async def test_proxy_without_upstream_relays_to_the_embedded_csms() -> None:
    from ocpp_chaos.testing.chargers import run_charger_flow

    proc, url, logs = await _start("proxy", "--listen", "127.0.0.1:0", "--headless")
    try:
        async with asyncio.timeout(30):
            result = await run_charger_flow(f"{url}/ocpp", "CP-EMB", "2.0.1", transactions=1)
        assert result.boot_status == "Accepted" and result.transaction_id is not None
        assert await _stop(proc, logs) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert any(e["event"] == "embedded_csms" for e in logs)


async def test_proxy_serves_the_control_api(tmp_path) -> None:
    from ocpp_chaos.api.client import ApiClient, ApiError

    token_file = tmp_path / "token"
    token_file.write_text("tok-123\n")
    proc, url, logs = await _start(
        "proxy",
        "--listen",
        "127.0.0.1:0",
        "--headless",
        "--api",
        "127.0.0.1:0",
        "--api-token-file",
        str(token_file),
    )
    try:
        assert proc.stderr is not None
        async with asyncio.timeout(20):
            while not any(e["event"] == "api_listening" for e in logs):
                logs.append(json.loads(await proc.stderr.readline()))
        api_url = next(e["url"] for e in logs if e["event"] == "api_listening")
        async with ApiClient(api_url, token="tok-123") as api:
            status = await api.status()
            assert status["proxy"] == url and status["embedded_csms"] is True
        async with ApiClient(api_url) as api:
            with pytest.raises(ApiError) as info:
                await api.status()
            assert info.value.status == 401
        assert await _stop(proc, logs) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert "tok-123" not in json.dumps(logs)


def test_a_public_api_address_needs_a_token(capsys, monkeypatch) -> None:
    monkeypatch.delenv("OCPP_CHAOS_API_TOKEN", raising=False)
    code = main(["proxy", "--headless", "--listen", "127.0.0.1:0", "--api", "0.0.0.0:0"])
    assert code == 2
    assert "needs a token" in capsys.readouterr().err
    code = main(["proxy", "--listen", "127.0.0.1:0", "--no-api"])
    assert code == 2
    assert "--no-api needs --headless" in capsys.readouterr().err
