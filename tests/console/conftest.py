"""The console tests: a real engine (embedded reference CSMS, proxy and control API on
127.0.0.1 port 0, from tests/api/conftest.py) with two virtual chargers, and helpers to
drive the app."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from ocpp_chaos.console import ConsoleApp, RecordedSource
from tests.api.conftest import Running, running, until

__all__ = ["Running", "chargers", "recorded", "running", "started", "text_of", "until"]

DATA = Path(__file__).parent / "data" / "recorded.json"


@pytest.fixture
async def chargers(running: Running) -> AsyncIterator[list[str]]:
    """Two virtual chargers (1.6 and 2.0.1) booted through the proxy."""
    ids = await running.api.add_chargers(2, protocol="mixed")
    await until(lambda: all(running.engine.chargers[i].booted for i in ids), 10)
    yield ids


@pytest.fixture
def recorded() -> RecordedSource:
    """Answers recorded from a real engine (tests/console/record.py writes them)."""
    return RecordedSource.from_file(DATA)


async def started(app: ConsoleApp, sessions: int, timeout: float = 5.0) -> None:
    """Wait until the app shows `sessions` sessions and reads the event stream."""
    table = app.sessions_panel.table
    await until(lambda: table.row_count == sessions and app.stream_live, timeout)


def text_of(widget: Any, width: int = 200) -> str:
    """What a Static shows, as plain text."""
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(widget.content)
    return console.export_text()
