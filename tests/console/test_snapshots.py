"""How the main screens look, from answers recorded once from a real engine
(tests/console/data/recorded.json, written by tests/console/record.py): the same data,
the same size and no wall clock in view, so each screen is the same on every run."""

from __future__ import annotations

import pytest

from ocpp_chaos.console import ConsoleApp, RecordedSource
from ocpp_chaos.console.screens import HelpScreen
from tests.console.conftest import started, until
from tests.console.snapshots import assert_snapshot

SIZE = (160, 50)


async def _ready(app: ConsoleApp, recorded: RecordedSource) -> None:
    frames = sum(e["event"] == "frame" for e in recorded.data["events"])
    await started(app, len(recorded.data["sessions"]))
    await until(lambda: len(app.log_panel.log_view.frames) == frames, 5)
    await until(lambda: app.rules_panel.table.row_count == len(recorded.data["rules"]), 5)


async def test_sessions_screen(request: pytest.FixtureRequest, recorded: RecordedSource):
    """The sessions table: a row per session with its counters, faults and findings."""
    app = ConsoleApp(recorded, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(app, recorded)
        await pilot.pause()
        assert_snapshot(request, app, "sessions")


async def test_log_with_frame_detail(request: pytest.FixtureRequest, recorded: RecordedSource):
    """The log, and the detail of a CALLRESULT paired with its CALL."""
    app = ConsoleApp(recorded, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(app, recorded)
        await pilot.press("2")
        log = app.log_panel.log_view
        index = next(
            i
            for i, f in enumerate(log.lines)
            if f.get("type") == "result" and f.get("action") == "StartTransaction"
        )
        await pilot.press("home", *["down"] * index)
        assert app.log_panel.detail.pair is not None
        await pilot.pause()
        assert_snapshot(request, app, "log-detail")


async def test_rules_screen(request: pytest.FixtureRequest, recorded: RecordedSource):
    """The rules with their switches and counters."""
    app = ConsoleApp(recorded, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(app, recorded)
        await pilot.press("3")
        await pilot.pause()
        assert_snapshot(request, app, "rules")


async def test_help_screen(request: pytest.FixtureRequest, recorded: RecordedSource):
    """Every key, by where it works."""
    app = ConsoleApp(recorded, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(app, recorded)
        await pilot.press("question_mark")
        await until(lambda: isinstance(app.screen, HelpScreen), 2)
        await pilot.pause()
        assert_snapshot(request, app, "help")


async def test_findings_and_fleet_screens(request: pytest.FixtureRequest, recorded: RecordedSource):
    app = ConsoleApp(recorded, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(app, recorded)
        await pilot.press("5")
        findings = len(recorded.data["findings"]["findings"])
        await until(lambda: app.findings_panel.table.row_count == findings, 5)
        await pilot.pause()
        assert_snapshot(request, app, "findings")
        await pilot.press("4")
        await until(lambda: app.fleet_panel.table.row_count == 3, 5)
        await pilot.pause()
        assert_snapshot(request, app, "fleet")
