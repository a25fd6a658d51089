"""The web console's test set-up: Debian's Chromium (installed here when missing), a real
engine whose control API needs a token, and `ocpp-chaos web` as a process of its own.

Loopback only: the engine, the API and the page listen on 127.0.0.1, and the browser is
refused every request to any other host.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ocpp_chaos.api.client import ApiClient
from ocpp_chaos.api.engine import Engine
from ocpp_chaos.api.server import ApiServer
from tests.api.conftest import Running

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    # headless comes from Playwright's launch(headless=True); the profile is a fresh
    # temporary user-data-dir that Playwright makes for each launch.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


# -- Chromium ----------------------------------------------------------------------------------


def _apt(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        return subprocess.run(
            ["apt-get", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(["apt-get", *args], 1, "", f"{exc}")


def _show(result: subprocess.CompletedProcess[str]) -> str:
    tail = lambda text: "\n".join(text.splitlines()[-40:])  # noqa: E731
    return (
        f"$ {' '.join(result.args)}  (exit {result.returncode})\n"
        f"{tail(result.stdout)}\n{tail(result.stderr)}"
    )


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium: installed with apt-get when missing. A failed install fails the
    test with apt's output (the browser test is never skipped)."""
    if CHROMIUM.exists():
        return str(CHROMIUM)
    attempts = [_apt("install", "-y", "chromium", timeout=900)]
    if attempts[-1].returncode != 0 or not CHROMIUM.exists():
        # Package lists missing or stale: update them, then try once more.
        attempts.append(_apt("update", timeout=300))
        attempts.append(_apt("install", "-y", "chromium", timeout=900))
    if not CHROMIUM.exists():
        pytest.fail(
            f"could not install Debian's chromium ({CHROMIUM} is missing):\n\n"
            + "\n\n".join(_show(r) for r in attempts),
            pytrace=False,
        )
    return str(CHROMIUM)


# -- the engine, with a token --------------------------------------------------------------------


@pytest.fixture
def api_token() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture
async def running(tmp_path: Path, api_token: str) -> AsyncIterator[Running]:
    """As tests/api's `running`, but its API needs `api_token`: the console only gets in
    if the token went through `ocpp-chaos web` and the environment."""
    engine = await Engine.build(tape=tmp_path / "tape.jsonl")
    async with engine:
        server = ApiServer(engine, port=0, token=api_token)
        async with server, ApiClient(server.url, token=api_token) as api:
            yield Running(engine, server, api)


# -- `ocpp-chaos web` as a process -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for_port(port: int, proc: asyncio.subprocess.Process, timeout: float) -> None:
    """Until 127.0.0.1:port accepts a connection; fails if `proc` exits first."""
    async with asyncio.timeout(timeout):
        while True:
            if proc.returncode is not None:
                raise AssertionError(f"ocpp-chaos web exited early ({proc.returncode})")
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return


def group_members(pgid: int) -> dict[int, str]:
    """Live processes (zombies left out) of process group `pgid`: pid → command line."""
    out: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces or parentheses.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return out


@dataclass
class WebProcess:
    proc: asyncio.subprocess.Process
    port: int
    output: Path
    pgid: int = field(init=False)

    def __post_init__(self) -> None:
        self.pgid = self.proc.pid  # start_new_session: its own process group

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    async def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (as a service manager would), then its exit status (None: it did not
        stop in time)."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(timeout):
                return await self.proc.wait()
        except TimeoutError:
            return None


@contextlib.asynccontextmanager
async def web_process(
    api_url: str, token_file: Path, tmp_path: Path, *extra: str
) -> AsyncIterator[WebProcess]:
    """`ocpp-chaos web` on a free loopback port, in its own process group: every console
    it starts (one per tab) is in that group, and the whole group is killed at the end."""
    port = free_port()
    output = tmp_path / "web.log"
    env = {k: v for k, v in os.environ.items() if k != "OCPP_CHAOS_API_TOKEN"}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")  # the console's log file
    with output.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ocpp_chaos",
            "web",
            "--api",
            api_url,
            "--api-token-file",
            str(token_file),
            "--listen",
            f"127.0.0.1:{port}",
            "--headless",
            *extra,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    web = WebProcess(proc, port, output)
    try:
        try:
            await wait_for_port(port, proc, timeout=20)
        except (AssertionError, TimeoutError) as exc:
            raise AssertionError(f"ocpp-chaos web did not listen: {exc}\n{web.text()}") from None
        yield web
    finally:
        if proc.returncode is None:
            await web.stop(timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(web.pgid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await proc.wait()


# -- reading the terminal in the page -------------------------------------------------------------

_TERMINAL_HOOK = re.compile(r"this\.terminal=new (\w+)\.Terminal\(")


def hooked_textual_js() -> str:
    """textual-serve's page script, with its xterm.js Terminal also kept as
    `window.__ocppChaosTerminal` so the test can read the screen from xterm's buffer
    (the page draws on a canvas; the text is nowhere in the DOM)."""
    import textual_serve

    source = (Path(textual_serve.__file__).parent / "static" / "js" / "textual.js").read_text()
    hooked, count = _TERMINAL_HOOK.subn(
        r"this.terminal=window.__ocppChaosTerminal=new \1.Terminal(", source
    )
    assert count == 1, (
        "textual-serve's textual.js no longer has `this.terminal=new X.Terminal(`: "
        "update the hook in tests/web/conftest.py"
    )
    return hooked


SCREEN_JS = """() => {
    const term = window.__ocppChaosTerminal;
    if (!term) return null;
    const buffer = term.buffer.active;
    const rows = [];
    for (let y = 0; y < term.rows; y++) {
        const line = buffer.getLine(buffer.viewportY + y);
        rows.push(line ? line.translateToString(true) : "");
    }
    return rows.join("\\n");
}"""

TAB_CLOSED_JS = "() => document.body.classList.contains('-closed')"
"""True once the tab's websocket has closed (textual-serve's page then offers a restart)."""


def is_loopback_url(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return (parts.hostname or "") in LOOPBACK_HOSTS


@pytest.fixture
def token_file(tmp_path: Path, api_token: str) -> Iterator[Path]:
    path = tmp_path / "api-token"
    path.write_text(api_token + "\n")
    path.chmod(0o600)
    yield path
