"""What the engine sends that the console cannot show is reported, never a crash."""

from __future__ import annotations

from ocpp_chaos.console import ConsoleApp, RecordedSource
from tests.console.conftest import until


async def test_bad_data_is_a_notification_and_the_console_goes_on():
    source = RecordedSource(
        {
            "sessions": [{"charger_id": "no-session-key"}],
            "events": [
                {"event": "frame", "charger": "CP-1", "type": "result", "rtt_ms": "fast"},
                {"event": "dropped", "count": "many"},
            ],
        }
    )
    app = ConsoleApp(source, poll_interval=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: sum("Console error" in t for _, t in app.notices) >= 2, 5)
        assert {t.split(")")[0] for _, t in app.notices} >= {
            "Console error (poll",
            "Console error (events",
        }
        await pilot.press("2", "up")  # the odd frame, in the log and the detail pane
        assert app.log_panel.detail.frame == source.data["events"][0]
        await pilot.pause()
        source.data["sessions"] = []
        polls = app.polls
        await until(lambda: app.polls > polls + 1, 5)  # still polling
        assert app.is_running
