"""`ocpp-chaos web` without a browser: its options, what it refuses, how it stops."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ocpp_chaos.cli import main
from ocpp_chaos.cli.web import console_command


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["web", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--api URL", "--api-token", "--api-token-file", "--listen", "--allow-remote"):
        assert option in out
    assert "127.0.0.1:8182" in out and "no authentication" in out


@pytest.mark.parametrize("listen", ["0.0.0.0:8182", "[::]:8182", "example.org:8182"])
def test_a_non_loopback_listen_needs_allow_remote(
    listen: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["web", "--listen", listen]) == 2
    err = capsys.readouterr().err
    assert "not a loopback address" in err and "--allow-remote" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--api", "127.0.0.1:8181"], "is not an http(s) URL"),
        (["--public-url", "somewhere"], "--public-url"),
        (["--api-token-file", "/nonexistent/token"], "--api-token-file"),
    ],
)
def test_bad_input_is_refused(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["web", *args]) == 2
    assert message in capsys.readouterr().err


def test_the_console_command_has_no_token_and_is_quoted() -> None:
    command = console_command("http://127.0.0.1:8181/x y")
    assert command.endswith(" -m ocpp_chaos console --api 'http://127.0.0.1:8181/x y'")
    assert command.startswith("exec ") and "token" not in command


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "ocpp_chaos", "web", "--listen", f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    assert result.returncode == 2, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


async def test_serves_the_page_and_stops_on_sigterm(tmp_path: Path) -> None:
    """Port 0 picks a port (the page's own links name it); SIGTERM stops it with 0. The
    token from the file is in no log line."""
    token = "not-a-real-token-4711"
    (tmp_path / "token").write_text(token)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ocpp_chaos",
        "web",
        "--listen",
        "127.0.0.1:0",
        "--api-token-file",
        str(tmp_path / "token"),
        "--headless",
        stdin=subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    logged = b""
    try:
        async with asyncio.timeout(20):
            while True:
                line = await proc.stderr.readline()
                assert line, "ocpp-chaos web exited early"
                logged += line
                entry = json.loads(line)
                if entry["event"] == "web_listening":
                    break
        url = entry["url"]
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        reader, writer = await asyncio.open_connection("127.0.0.1", int(url.rsplit(":", 1)[1]))
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        async with asyncio.timeout(10):
            page = (await reader.read()).decode()
        writer.close()
        assert page.startswith("HTTP/1.1 200") and f"{url.replace('http', 'ws')}/ws" in page
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            logged += await proc.stderr.read()
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert b'"event":"shutdown_requested"' in logged and token.encode() not in logged
