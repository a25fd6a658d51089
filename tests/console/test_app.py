"""The console's keys and buttons, each checked on a real engine: what the operator does in
the app is what the engine does (faults, rules, fleet, scenarios), and what the engine does
shows in the app (sessions, frames, findings)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from textual.binding import Binding
from textual.widgets import Input, TabbedContent

from ocpp_chaos.console import ConsoleApp
from ocpp_chaos.console.panels import (
    FleetPanel,
    LogPanel,
    RulesPanel,
    ScenariosPanel,
    SessionsPanel,
)
from ocpp_chaos.console.screens import FaultsMenu, HelpScreen
from ocpp_chaos.console.widgets.frame_log import FrameLog
from ocpp_chaos.simulator.backoff import Backoff
from tests.console.conftest import Running, started, text_of, until

SIZE = (160, 50)


def faults_of(running: Running, kind: str, charger: str) -> list[dict[str, Any]]:
    return [
        f
        for f in running.engine.active_faults()
        if f["fault"]["type"] == kind and charger in f["chargers"]
    ]


def session_ids(running: Running, charger: str) -> set[str]:
    return {s.id for s in running.engine.proxy.sessions.by_charger(charger)}


async def pick_session(app: ConsoleApp, charger: str) -> None:
    """Put the sessions table's cursor on `charger`'s row."""
    table = app.sessions_panel.table
    for index, row in enumerate(table.ordered_rows):
        if table._info[str(row.key.value)]["charger_id"] == charger:
            table.move_cursor(row=index)
            break
    await until(lambda: table.highlighted_charger == charger, 2)


def frames_of(running: Running, charger: str, **want: Any) -> list[dict[str, Any]]:
    out = []
    for record in running.engine.recent(charger):
        frame = record.to_json()
        if all(frame.get(k) == v for k, v in want.items()):
            out.append(frame)
    return out


# -- the sessions table and its fault keys ----------------------------------------------------


async def test_sessions_table_shows_the_engines_sessions(running: Running, chargers: list[str]):
    """Each open session is a row (keyed by session id) with the charger's protocol."""
    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE):
        await started(app, 2)
        table = app.sessions_panel.table
        rows = {r["charger_id"]: r for r in table.rows_json()}
        assert set(rows) == set(chargers)
        assert {r["subprotocol"] for r in rows.values()} == {"ocpp1.6", "ocpp2.0.1"}
        for charger in chargers:
            (session,) = session_ids(running, charger)
            assert table.get_row(session)[1] == charger


async def test_l_fires_signal_loss_and_the_charger_hears_nothing(
    running: Running, chargers: list[str]
):
    """`l`: a 30 s signal loss at the highlighted charger: its CALL gets no answer, and a
    reconnect with its id is refused while the outage lasts."""
    target, other = chargers
    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, 2)
        await pick_session(app, target)
        await pilot.press("l")
        await until(lambda: faults_of(running, "signal_loss", target), 5)
        (fault,) = faults_of(running, "signal_loss", target)
        assert fault["chargers"] == [target]
        assert 25 < fault["remaining_s"] <= 30
        assert not faults_of(running, "signal_loss", other)

        charger = running.engine.chargers[target]
        call = asyncio.ensure_future(charger.authorize("TAG-SILENCE"))
        try:
            await until(lambda: frames_of(running, target, action="Authorize", dir="up"), 5)
            (sent,) = frames_of(running, target, action="Authorize", dir="up")
            await asyncio.sleep(1.0)
            assert not call.done()
            assert not frames_of(running, target, id=sent["id"], dir="down")
        finally:
            call.cancel()
            await asyncio.gather(call, return_exceptions=True)

        refused = running.engine.proxy.totals["refused_by_rule"]
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await http.ws_connect(
                    f"{running.engine.proxy.url}/{target}", protocols=("ocpp1.6",)
                )
        assert err.value.status == 503
        assert running.engine.proxy.totals["refused_by_rule"] == refused + 1
        assert any("signal_loss" in text and target in text for _, text in app.notices)


async def test_faults_menu_signal_loss_for_3_seconds(running: Running, chargers: list[str]):
    """`f` opens the faults menu; a 3 s signal loss from it silences the charger, then its
    connection is reset and it connects again (accepted: the outage is over): a new row."""
    target = chargers[0]
    charger = running.engine.chargers[target]
    charger.backoff = Backoff(charger.rng, wait_minimum=0, random_range=0)
    (old_session,) = session_ids(running, target)
    connects = charger.counters.connects
    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, 2)
        await pick_session(app, target)
        await pilot.press("f")
        await until(lambda: isinstance(app.screen, FaultsMenu), 2)
        menu = app.screen
        assert menu.query_one("#fault-targets", Input).value == f"charger:{target}"
        menu.query_one("#loss-seconds", Input).value = "3"
        await pilot.click("#fire-signal-loss")
        await until(lambda: faults_of(running, "signal_loss", target), 5)
        assert not isinstance(app.screen, FaultsMenu)
        (fault,) = faults_of(running, "signal_loss", target)
        assert fault["fault"]["duration"] == "3s"
        assert fault["remaining_s"] <= 3

        call = asyncio.ensure_future(charger.authorize("TAG-SHORT"))
        try:
            await until(lambda: frames_of(running, target, action="Authorize", dir="up"), 2)
            (sent,) = frames_of(running, target, action="Authorize", dir="up")
            # at the end the charger's side is reset; it connects again, in a new
            # session (the CSMS's side of the old one lingers, open and silent)
            await until(lambda: charger.counters.connects > connects and charger.booted, 6)
            assert not frames_of(running, target, id=sent["id"], dir="down")
        finally:
            call.cancel()
            await asyncio.gather(call, return_exceptions=True)
        assert session_ids(running, target) - {old_session}
        assert not faults_of(running, "signal_loss", target)
        await until(lambda: len(app.sessions_panel.table._shown) == 3, 5)


async def test_faults_menu_fires_at_what_a_filter_selects(running: Running, chargers: list[str]):
    """The menu's target line takes a filter expression (the one the log uses)."""
    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, 2)
        await pilot.press("f")
        await until(lambda: isinstance(app.screen, FaultsMenu), 2)
        app.screen.query_one("#fault-targets", Input).value = "charger:SIM-*"
        app.screen.query_one("#latency-ms", Input).value = "250"
        await pilot.click("#fire-latency")
        await until(lambda: running.engine.active_faults(), 5)
        (fault,) = running.engine.active_faults()
        assert fault["fault"] == {"type": "latency", "fixed": "250ms"}
        assert sorted(fault["chargers"]) == sorted(chargers)

        await pilot.press("f")
        await until(lambda: isinstance(app.screen, FaultsMenu), 2)
        app.screen.query_one("#loss-seconds", Input).value = "soon"
        await pilot.click("#fire-signal-loss")
        await pilot.pause()
        assert isinstance(app.screen, FaultsMenu)  # stays open, says why
        assert "above 0" in text_of(app.screen.query_one("#faults-error"))
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, FaultsMenu), 2)
        assert len(running.engine.active_faults()) == 1


async def test_x_disconnects_the_session(running: Running, chargers: list[str]):
    target = chargers[1]
    (old_session,) = session_ids(running, target)
    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, 2)
        await pick_session(app, target)
        await pilot.press("x")
        await until(lambda: old_session not in session_ids(running, target), 5)
        await until(lambda: old_session not in app.sessions_panel.table._shown, 5)
        assert session_ids(running, chargers[0])  # the other one stays


async def test_t_adds_latency_for_30_seconds(running: Running, chargers: list[str]):
    target = chargers[0]
    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, 2)
        await pick_session(app, target)
        await pilot.press("t")
        await until(lambda: faults_of(running, "latency", target), 5)
        (fault,) = faults_of(running, "latency", target)
        assert fault["fault"] == {"type": "latency", "fixed": "500ms"}
        assert 25 < fault["remaining_s"] <= 30
        await until(lambda: "latency" in str(app.sessions_panel.table.get_row_at(0)[9]), 5)


async def test_c_corrupts_the_next_frame(running: Running, chargers: list[str]):
    target = chargers[0]
    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, 2)
        await pick_session(app, target)
        await pilot.press("c")
        await until(lambda: faults_of(running, "corrupt", target), 5)
        (fault,) = faults_of(running, "corrupt", target)
        assert fault["remaining_s"] is None  # the next frame, not a while
        call = asyncio.ensure_future(running.engine.chargers[target].authorize("TAG-C"))
        try:
            await until(
                lambda: any(
                    str(r.decision).startswith("corrupt") for r in running.engine.recent(target)
                ),
                5,
            )
        finally:
            call.cancel()
            await asyncio.gather(call, return_exceptions=True)
        assert not faults_of(running, "corrupt", target)  # spent


async def test_shift_c_and_the_button_clear_every_fault(running: Running, chargers: list[str]):
    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, 2)
        await pick_session(app, chargers[0])
        await pilot.press("t")
        await pick_session(app, chargers[1])
        await pilot.press("l")
        await until(lambda: len(running.engine.active_faults()) == 2, 5)
        await pilot.press("C")
        await until(lambda: not running.engine.active_faults(), 5)
        await pilot.press("t")
        await until(lambda: len(running.engine.active_faults()) == 1, 5)
        await pilot.click("#btn-clear-faults")
        await until(lambda: not running.engine.active_faults(), 5)
        assert any("Cleared 2 faults" in text for _, text in app.notices)


async def test_space_marks_several_sessions_for_one_fault(running: Running, chargers: list[str]):
    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, 2)
        for charger in chargers:
            await pick_session(app, charger)
            await pilot.press("space")
        assert app.sessions_panel.table.marked == set(chargers)
        await pilot.click("#btn-disconnect")
        await until(lambda: running.engine.active_faults() or app.notices, 5)
        await until(lambda: any("disconnect fired at" in text for _, text in app.notices), 5)
        text = next(t for _, t in app.notices if "disconnect fired at" in t)
        assert all(c in text for c in chargers)


# -- the log -----------------------------------------------------------------------------------


async def test_p_pauses_the_log_and_resume_shows_what_came(running: Running, chargers: list[str]):
    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, 2)
        await pilot.press("2")
        log = app.log_panel.log_view
        await running.api.fleet_command("plug_in", [chargers[0]])
        await until(lambda: len(log.lines) >= 2, 5)
        await pilot.press("p")
        assert app.log_panel.paused
        before = len(log.lines)
        await running.api.fleet_command("plug_in", [chargers[1]])
        await until(lambda: len(app.log_panel._waiting) >= 2, 5)
        await asyncio.sleep(0.3)
        assert len(log.lines) == before
        await pilot.press("p")
        assert not app.log_panel.paused
        assert len(log.lines) >= before + 2
        assert any(f["charger"] == chargers[1] for f in log.lines[before:])


async def test_slash_focuses_the_filter_and_it_filters(running: Running, chargers: list[str]):
    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, 2)
        await pilot.press("slash")
        assert app.query_one(TabbedContent).active == "log"
        assert isinstance(app.focused, Input) and app.focused.id == "log-filter"
        await pilot.press(*f"charger:{chargers[0]}")
        await running.api.fleet_command("plug_in", chargers)
        log = app.log_panel.log_view
        await until(lambda: {f["charger"] for f in log.frames} == set(chargers), 5)
        assert log.lines and {f["charger"] for f in log.lines} == {chargers[0]}

        field = app.log_panel.filter_input
        field.value = "dir:sideways"  # not an expression
        await pilot.pause()
        error = app.log_panel.query_one("#log-filter-error")
        assert error.display and "direction" in text_of(error)
        assert {f["charger"] for f in log.lines} == {chargers[0]}  # the last good one holds
        field.value = "type:call dir:up"
        await pilot.pause()
        assert not error.display
        assert log.lines and all(f["type"] == "call" for f in log.lines)
        await pilot.press("escape")
        assert app.focused is log


async def test_picking_a_frame_shows_its_pair_and_round_trip(running: Running, chargers: list[str]):
    """The detail pane pairs a result with its CALL by unique id and shows the RTT."""
    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, 2)
        await pilot.press("2")
        await running.api.fleet_command("plug_in", [chargers[0]])
        log = app.log_panel.log_view
        await until(lambda: any(f.get("type") == "result" for f in log.lines), 5)
        index = max(i for i, f in enumerate(log.lines) if f.get("type") == "result")
        log.cursor = index + 1
        await pilot.press("up")
        detail = app.log_panel.detail
        assert detail.frame is log.lines[index]
        assert detail.pair is not None and detail.pair["type"] == "call"
        assert detail.pair["id"] == detail.frame["id"]
        body = text_of(detail.query_one("#frame-detail-body"))
        assert "round trip" in body and "schema: valid" in body
        await pilot.press("end")
        assert log.following and detail.frame is None


async def test_e_exports_the_log_lines_next_to_the_tape(running: Running, chargers: list[str]):
    app = ConsoleApp(running.api)
    tape_dir = Path(running.engine.proxy.tape.path).parent
    async with app.run_test(size=SIZE) as pilot:
        await started(app, 2)
        await pilot.press("2")
        await running.api.fleet_command("plug_in", chargers)
        log = app.log_panel.log_view
        await until(lambda: len(log.lines) >= 4, 5)
        app.log_panel.set_filter_text(f"charger:{chargers[1]}")
        lines = log.lines
        await pilot.press("e")
        await until(lambda: list(tape_dir.glob("ocpp-chaos-export-*.jsonl")), 5)
        (path,) = tape_dir.glob("ocpp-chaos-export-*.jsonl")
        exported = [json.loads(line) for line in path.read_text().splitlines()]
        assert exported == lines
        assert any(str(path) in text for _, text in app.notices)


async def test_export_dir_option(running: Running, chargers: list[str], tmp_path: Path):
    app = ConsoleApp(running.api, export_dir=tmp_path / "out")
    (tmp_path / "out").mkdir()
    async with app.run_test(size=SIZE) as pilot:
        await started(app, 2)
        await pilot.press("e")  # on the sessions panel: the sessions
        await until(lambda: list((tmp_path / "out").glob("*.jsonl")), 5)
        (path,) = (tmp_path / "out").glob("ocpp-chaos-export-*.jsonl")
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        assert sorted(r["charger_id"] for r in rows) == sorted(chargers)


# -- panels -------------------------------------------------------------------------------------


async def test_keys_1_to_6_switch_panels(running: Running):
    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE) as pilot:
        tabs = app.query_one(TabbedContent)
        panels = ("sessions", "log", "rules", "fleet", "findings", "scenarios")
        for key, panel in zip("123456", panels, strict=True):
            await pilot.press(key)
            assert tabs.active == panel
            assert app.focused is not None
            assert app.focused in app.query_one(f"#{panel}-panel").query("*")
        await pilot.press("1")
        assert isinstance(app.focused.parent, SessionsPanel)
        await pilot.click("#--content-tab-rules")  # the mouse too
        assert tabs.active == "rules"
        assert app.focused is app.rules_panel.table


async def test_enter_on_a_session_shows_its_frames(running: Running, chargers: list[str]):
    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, 2)
        await pick_session(app, chargers[1])
        await pilot.press("enter")
        assert app.query_one(TabbedContent).active == "log"
        assert app.log_panel.filter_input.value == f"charger:{chargers[1]}"
        await running.api.fleet_command("plug_in", chargers)
        log = app.log_panel.log_view
        await until(lambda: {f["charger"] for f in log.frames} == set(chargers), 5)
        assert {f["charger"] for f in log.lines} == {chargers[1]}


async def test_question_mark_lists_every_binding(running: Running):
    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await until(lambda: isinstance(app.screen, HelpScreen), 2)
        text = text_of(app.screen.query_one("#help-table"))
        for _, bindings in ConsoleApp.help_contexts():
            for binding in bindings:
                assert (binding.tooltip or binding.description) in text
        panels = (SessionsPanel, LogPanel, FrameLog, RulesPanel, FleetPanel, ScenariosPanel)
        for cls in (ConsoleApp, *panels, FaultsMenu, HelpScreen):
            for binding in cls.BINDINGS:
                assert isinstance(binding, Binding)
                assert (binding.tooltip or binding.description) in text
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, HelpScreen), 2)


async def test_q_quits(running: Running):
    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await until(lambda: not app.is_running, 3)
    assert app.return_code == 0


async def test_rules_panel_toggles_with_space_and_enter(running: Running, chargers: list[str]):
    await running.api.add_rule(
        {
            "name": "slow-status",
            "match": {"direction": "down", "action": "StatusNotification"},
            "fault": {"type": "delay", "delay": "10ms"},
        }
    )

    def enabled() -> bool:
        return next(r for r in running.engine.rules() if r["name"] == "slow-status")["enabled"]

    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, 2)
        await pilot.press("3")
        table = app.rules_panel.table
        await until(lambda: table.highlighted_key == "slow-status", 5)
        await running.api.fleet_command("plug_in", [chargers[0]])
        await until(lambda: table.get_row("slow-status")[4] == "1", 5)  # the hit counter
        await pilot.press("space")
        await until(lambda: not enabled(), 5)
        await until(lambda: str(table.get_row("slow-status")[0]) == "[ ]", 5)
        await pilot.press("enter")
        await until(enabled, 5)
        await until(lambda: str(table.get_row("slow-status")[0]) == "[x]", 5)
        await pilot.click("#btn-toggle-rule")
        await until(lambda: not enabled(), 5)


async def test_an_api_error_is_a_notification(running: Running):
    await running.api.add_rule({"name": "doomed", "fault": {"type": "drop"}, "enabled": False})
    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await until(lambda: app.rules_panel.table.highlighted_key == "doomed", 5)
        await running.api.remove_rule("doomed")
        await pilot.press("space")  # the rule is gone: a 404
        await until(lambda: any(s == "error" for s, _ in app.notices), 5)
        _, text = app.notices[-1]
        assert "doomed" in text and "404" in text
        assert app.is_running


async def test_fleet_panel_keys_and_buttons(running: Running, chargers: list[str]):
    """i plugs in, s starts and S stops a transaction, r reboots; the buttons do the same;
    `a` adds chargers."""
    one, two = chargers
    c1 = running.engine.chargers[one]
    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, 2)
        await pilot.press("4")
        table = app.fleet_panel.table
        await until(lambda: table.row_count == 2, 5)
        table.move_cursor(row=table.get_row_index(one))
        await pilot.press("i")
        await until(lambda: c1.connectors[1].plugged, 5)
        await pilot.press("s")
        await until(lambda: 1 in c1.transactions, 5)
        await pilot.press("S")
        await until(lambda: not c1.transactions and c1.counters.transactions_ended == 1, 5)
        boots = c1.counters.boots
        await pilot.press("r")
        await until(lambda: c1.counters.boots > boots and c1.booted, 10)

        c2 = running.engine.chargers[two]
        table.move_cursor(row=table.get_row_index(two))
        await pilot.click("#btn-start_transaction")  # plugs in first
        await until(lambda: 1 in c2.transactions, 5)
        await pilot.click("#btn-stop_transaction")
        await until(lambda: not c2.transactions, 5)

        app.fleet_panel.query_one("#fleet-count", Input).value = "2"
        table.focus()
        await pilot.press("a")
        await until(lambda: len(running.engine.chargers) == 4, 5)
        await until(lambda: table.row_count == 4, 5)


async def test_findings_panel_initial_and_live(tmp_path: Path):
    """Findings already made show at start (findings()), new ones arrive live."""
    from ocpp_chaos.api.client import ApiClient
    from ocpp_chaos.api.engine import Engine
    from ocpp_chaos.api.server import ApiServer
    from ocpp_chaos.proxy.oracle import OracleConfig

    # Every answer counts as slow: the reference CSMS earns a finding per answer.
    engine = await Engine.build(oracle=OracleConfig(slow_threshold=0.0))
    async with engine, ApiServer(engine, port=0) as server, ApiClient(server.url) as api:
        ids = await api.add_chargers(1)
        await until(lambda: engine.chargers[ids[0]].booted, 10)
        await until(lambda: engine.proxy.oracle.counts().get("slow_response", 0) >= 2, 5)
        first = len(engine.proxy.oracle.findings())
        app = ConsoleApp(api)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, 1)
            await pilot.press("5")
            panel = app.findings_panel
            await until(lambda: panel.table.row_count >= first, 5)
            await api.fleet_command("plug_in", ids)
            await until(lambda: panel.table.row_count > first, 5)
            assert panel.table.row_count == len(engine.proxy.oracle.findings())
            rows = panel.export_rows()
            assert {r["kind"] for r in rows} == {"slow_response"}
            await until(lambda: "slow_response" in text_of(panel.query_one("#findings-summary")), 5)


SCENARIO = """\
name: console-test
description: one charger that waits, to be aborted
duration: 60s
fleet:
  - {name: one, count: 1, protocol: "1.6"}
timeline:
  - {do: wait, duration: 60s}
"""


async def test_scenarios_panel_starts_and_aborts_a_run(running: Running, tmp_path: Path):
    path = tmp_path / "console-test.yaml"
    path.write_text(SCENARIO)
    app = ConsoleApp(running.api)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await pilot.press("n")
        assert app.focused is not None and app.focused.id == "scenario-path"
        app.focused.value = str(path)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await until(lambda: running.engine.scenarios, 5)
        (run,) = running.engine.scenarios.values()
        table = app.scenarios_panel.table
        await until(lambda: table.highlighted_key == run.id, 5)
        table.focus()
        await pilot.press("a")
        await until(lambda: run.status == "aborted", 10)
        await until(lambda: "aborted" in str(table.get_row(run.id)[2]), 5)


async def test_disconnected_engine_shows_and_is_retried(running: Running):
    """The engine goes away: the status line says so and the console keeps polling;
    nothing crashes."""
    app = ConsoleApp(running.api, poll_interval=0.2)
    async with app.run_test(size=SIZE):
        await until(lambda: app.connected, 5)
        await running.server.stop()
        await until(lambda: app.connected is False, 5)
        status = text_of(app.query_one("#status"))
        assert "disconnected" in status
        polls_failed = app.poll_attempts
        await until(lambda: app.poll_attempts > polls_failed + 2, 5)
        assert app.is_running
        assert any("unreachable" in text for severity, text in app.notices if severity == "error")


async def test_a_flaky_engine_is_reconnected(running: Running):
    """While the link is down the console says so; when it is back, so is the data."""

    class Flaky:
        def __init__(self, api: Any) -> None:
            self.api = api
            self.url = api.url
            self.down = False

        def __getattr__(self, name: str) -> Any:
            attr = getattr(self.api, name)
            if not callable(attr) or name == "events":
                return attr

            async def call(*args: Any, **kwargs: Any) -> Any:
                if self.down:
                    raise aiohttp.ClientConnectionError("link down")
                return await attr(*args, **kwargs)

            return call

    flaky = Flaky(running.api)
    app = ConsoleApp(flaky, poll_interval=0.2)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE):
        await until(lambda: app.connected, 5)
        flaky.down = True
        await until(lambda: app.connected is False, 5)
        flaky.down = False
        await until(lambda: app.connected, 5)
        assert any("Connected again" in text for _, text in app.notices)
