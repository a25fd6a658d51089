"""The message log keeps the newest frames only, filters what it keeps, and finds a
frame's request or response through the API once the log no longer holds it."""

from __future__ import annotations

from ocpp_chaos.api.filters import parse_filter
from ocpp_chaos.console import ConsoleApp, RecordedSource
from ocpp_chaos.console.format import pair_of
from ocpp_chaos.console.widgets.frame_detail import PAIR_PENDING
from tests.console.conftest import started, until


def frames(recorded: RecordedSource) -> list[dict]:
    return [e for e in recorded.data["events"] if e["event"] == "frame"]


async def test_the_log_is_bounded_and_filters_what_it_keeps(recorded: RecordedSource):
    app = ConsoleApp(recorded, poll_interval=3600, max_log_lines=10)
    async with app.run_test(size=(160, 50)) as pilot:
        await started(app, len(recorded.data["sessions"]))
        await pilot.press("2")
        log = app.log_panel.log_view
        await until(lambda: len(log.frames) == 10, 5)
        assert log.frames == frames(recorded)[-10:]  # the newest ten, in order
        log.set_filter(parse_filter("charger:SIM-00001"))
        assert log.lines == [f for f in log.frames if f["charger"] == "SIM-00001"]

        # more frames: the oldest go, from the filtered view too; the cursor keeps its frame
        await pilot.press("up")
        picked = log.picked
        assert picked is log.lines[-1]
        extra = [dict(f, t=f["t"] + 100, seq=f["seq"] + 1000) for f in frames(recorded)[:2]]
        log.add(extra)
        assert log.frames == [*frames(recorded)[-8:], *extra]
        assert log.lines == [f for f in log.frames if f["charger"] == "SIM-00001"]
        assert log.picked is picked


async def test_a_pair_the_log_lost_comes_from_the_api(recorded: RecordedSource):
    """With only the newest frame kept, its CALL is looked up in the charger's recent
    frames (GET /api/sessions/{id})."""
    app = ConsoleApp(recorded, poll_interval=3600, max_log_lines=1)
    async with app.run_test(size=(160, 50)) as pilot:
        await started(app, len(recorded.data["sessions"]))
        await pilot.press("2")
        log = app.log_panel.log_view
        last = frames(recorded)[-1]
        await until(lambda: log.frames == [last], 5)
        assert last["type"] == "result"
        await pilot.press("up")
        detail = app.log_panel.detail
        assert detail.frame is log.frames[0]
        await until(lambda: detail.pair is not PAIR_PENDING, 5)
        expected = pair_of(last, recorded.data["session"][last["charger"]]["frames"])
        assert expected is not None and detail.pair == expected
        assert detail.pair["type"] == "call" and detail.pair["id"] == last["id"]
