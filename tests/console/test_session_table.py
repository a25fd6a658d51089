"""The sessions table at scale: 1,500 sessions, then a refresh where a few values changed,
is a few cell updates, not a rebuild (no wall clock: calls are counted)."""

from __future__ import annotations

import copy
from typing import Any

from ocpp_chaos.console import ConsoleApp, RecordedSource
from ocpp_chaos.console.format import connected_for, session_cells
from ocpp_chaos.console.widgets.session_table import SessionTable
from tests.console.conftest import until

N = 1500


def session(n: int) -> dict[str, Any]:
    return {
        "session": f"s{n}",
        "charger_id": f"SIM-{n:05}",
        "subprotocol": "ocpp1.6" if n % 2 else "ocpp2.0.1",
        "started_at": 1_800_000_000.0,
        "connected_for_s": 75.0,
        "frames_up": 10,
        "frames_down": 10,
        "last_action": "Heartbeat",
        "rtt_p50_ms": 1.5,
        "closing": False,
        "faults": [],
        "findings": 0,
    }


class Counting:
    """Counts the table's row and cell operations."""

    def __init__(self, table: SessionTable) -> None:
        self.calls: dict[str, int] = {}
        for name in ("update_cell", "add_row", "remove_row", "clear", "add_rows", "sort"):
            original = getattr(table, name)

            def counted(*args: Any, _name: str = name, _original: Any = original, **kw: Any):
                self.calls[_name] = self.calls.get(_name, 0) + 1
                return _original(*args, **kw)

            setattr(table, name, counted)


async def test_a_refresh_of_1500_sessions_updates_only_changed_cells():
    sessions = [session(n) for n in range(1, N + 1)]
    source = RecordedSource({"sessions": sessions})
    app = ConsoleApp(source, poll_interval=3600)
    async with app.run_test(size=(160, 50)) as pilot:
        table = app.sessions_panel.table
        await until(lambda: table.row_count == N, 10)
        table.move_cursor(row=700)
        await pilot.pause()
        counting = Counting(table)

        changed = copy.deepcopy(sessions)
        changed[3]["frames_up"] = 11  # one cell
        changed[700]["last_action"] = "MeterValues"  # one cell
        changed[700]["rtt_p50_ms"] = 2.0  # one cell
        changed[1200]["faults"] = ["signal_loss"]  # two cells: state and faults
        del changed[1400]  # a session went
        changed.append(session(N + 1))  # and one came
        source.data["sessions"] = changed
        app.refresh_soon()
        await until(lambda: "s1501" in table._shown, 5)

        assert counting.calls == {"update_cell": 5, "add_row": 1, "remove_row": 1}
        assert table.row_count == N
        assert table.highlighted_session == "s701"  # the cursor stayed on its session
        row = table.get_row("s701")
        assert row[7] == "MeterValues" and row[8] == "2.0"
        assert str(table.get_row("s1201")[3]) == "silenced"

        counting.calls.clear()
        app.refresh_soon()  # nothing changed: nothing to do
        polls = app.polls
        await until(lambda: app.polls > polls, 5)
        assert counting.calls == {}


def test_cells_change_rarely():
    """Connected-for is coarse, so a minute-old session's cell changes once a minute."""
    assert [connected_for(s) for s in (0, 59, 60, 119, 3599, 3600, 3661, 90000)] == [
        "0s",
        "59s",
        "1m",
        "1m",
        "59m",
        "1h00m",
        "1h01m",
        "1d01h",
    ]
    a = session_cells({**session(1), "connected_for_s": 61})
    b = session_cells({**session(1), "connected_for_s": 119})
    assert a == b
