"""`ocpp-chaos console`, run in-process: its options, where the token and the logs come
from and go; and `run_console` on the engine's own event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import structlog

from ocpp_chaos.cli import main
from ocpp_chaos.console import ConsoleApp, run_console
from tests.console.conftest import Running, running, until

__all__ = ["running"]


@pytest.fixture
def fake_console(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace the app by a recorder of how it was asked to run."""
    calls: list[dict[str, Any]] = []

    async def fake(api_url: str, token: str | None, *, title: str | None = None) -> None:
        structlog.get_logger("test").warning("while_the_console_runs", secret_token="abc")
        calls.append({"url": api_url, "token": token, "title": title})

    monkeypatch.setattr("ocpp_chaos.console.run_console", fake)
    monkeypatch.delenv("OCPP_CHAOS_API_TOKEN", raising=False)
    return calls


def test_console_attaches_with_a_token_from_the_environment(
    fake_console: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
):
    monkeypatch.setenv("OCPP_CHAOS_API_TOKEN", "from-env")
    log = tmp_path / "logs" / "console.log"
    status = main(["console", "--api", "http://127.0.0.1:9", "--log-file", str(log)])
    assert status == 0
    assert fake_console == [{"url": "http://127.0.0.1:9", "token": "from-env", "title": None}]
    out, err = capsys.readouterr()
    assert out == "" and err == ""  # the logs went to the file, never to the terminal
    text = log.read_text()
    assert "while_the_console_runs" in text and "abc" not in text


def test_console_defaults_and_token_file(fake_console: list[dict[str, Any]], tmp_path: Path):
    token = tmp_path / "token"
    token.write_text("from-file\n")
    assert main(["console", "--api-token-file", str(token), "--title", "lab"]) == 0
    assert fake_console == [{"url": "http://127.0.0.1:8181", "token": "from-file", "title": "lab"}]


@pytest.mark.parametrize(
    "argv",
    [
        ["console", "--api", "ftp://127.0.0.1:8181"],
        ["console", "--api", "127.0.0.1:8181"],
        ["console", "--api-token-file", "/nonexistent/token"],
    ],
)
def test_console_bad_input(
    fake_console: list[dict[str, Any]], argv: list[str], capsys: pytest.CaptureFixture[str]
):
    assert main(argv) == 2
    assert not fake_console
    assert "ocpp-chaos console:" in capsys.readouterr().err


def test_console_token_options_exclude_each_other(fake_console: list[dict[str, Any]]):
    with pytest.raises(SystemExit) as exit_:
        main(["console", "--api-token", "a", "--api-token-file", "b"])
    assert exit_.value.code == 2


async def test_run_console_shares_the_engines_loop(
    running: Running, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
):
    """`run_console` runs the app on the caller's loop (here, the engine's) until it quits;
    the engine keeps serving meanwhile."""
    seen: dict[str, Any] = {}
    original = ConsoleApp.run_async

    async def headless(self: ConsoleApp, **kwargs: Any) -> Any:
        async def watch() -> None:
            await until(lambda: self.connected and self.stream_live, 5)
            seen["title"] = self.title
            seen["url"] = self.source.url
            self.exit()

        watcher = asyncio.ensure_future(watch())
        try:
            return await original(self, headless=True, size=(120, 40), **kwargs)
        finally:
            watcher.cancel()

    monkeypatch.setattr(ConsoleApp, "run_async", headless)
    await asyncio.wait_for(run_console(running.server.url, None, title="lab console"), 10)
    assert seen == {"title": "lab console", "url": running.server.url}
    assert capfd.readouterr() == ("", "")  # nothing printed meanwhile
    assert (await running.api.status())["event_subscribers"] == 0  # the stream was closed
