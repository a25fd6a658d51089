"""The operator console: a Textual app over an engine's control API.

It reaches the engine only through a `ConsoleSource` (the `ApiClient`, or recorded
answers): it polls the sessions (and the panel on view) about once a second and reads the
event stream for frames, findings and changes. Keys and buttons ask the app (messages up)
to call the API; an API error becomes a notification, an engine that went away shows
"disconnected" while the console keeps retrying. Nothing is printed while it runs.

    await run_console("http://127.0.0.1:8181", token=None)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

import structlog
from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from ocpp_chaos.api.client import ApiError
from ocpp_chaos.console.messages import (
    AbortScenario,
    AddChargers,
    ClearFaults,
    FaultOrder,
    FireFault,
    FleetCommand,
    OpenFaultsMenu,
    ShowChargerFrames,
    StartScenario,
    ToggleRule,
)
from ocpp_chaos.console.panels import (
    FindingsPanel,
    FleetPanel,
    LogPanel,
    RulesPanel,
    ScenariosPanel,
    SessionsPanel,
)
from ocpp_chaos.console.screens import FaultsMenu, HelpScreen
from ocpp_chaos.console.source import ConsoleSource
from ocpp_chaos.console.widgets.frame_log import FrameLog

__all__ = ["PANELS", "ConsoleApp", "run_console"]

log = structlog.get_logger("ocpp_chaos.console")

PANELS: tuple[tuple[str, str], ...] = (
    ("sessions", "Sessions"),
    ("log", "Log"),
    ("rules", "Rules"),
    ("fleet", "Fleet"),
    ("findings", "Findings"),
    ("scenarios", "Scenarios"),
)
"""(id, title) of the panels, in the order of their keys 1..6."""

_PANEL_KEYS = Binding.Group("Panels", compact=True)

MIN_POLL_GAP = 0.5
"""Seconds between two polls at least, however often events ask for one."""


class ConsoleApp(App[None]):
    """The console; `source` is an `ApiClient` (or a `RecordedSource`)."""

    CSS_PATH = "console.tcss"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(str(n), f"show_panel('{panel}')", f"Show {title.lower()}", group=_PANEL_KEYS)
            for n, (panel, title) in enumerate(PANELS, start=1)
        ),
        Binding("slash", "focus_filter", "Filter", key_display="/"),
        Binding("p", "toggle_pause", "Pause"),
        Binding("e", "export", "Export"),
        Binding("C", "clear_faults", "Clear faults"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        source: ConsoleSource,
        *,
        title: str | None = None,
        export_dir: str | Path | None = None,
        poll_interval: float = 1.0,
        max_log_lines: int = 5000,
    ) -> None:
        super().__init__()
        self.source = source
        self.title = title or "ocpp-chaos console"
        self.sub_title = source.url
        self.export_dir = Path(export_dir) if export_dir is not None else None
        self.poll_interval = poll_interval
        self.max_log_lines = max_log_lines
        self.connected: bool | None = None
        """Whether the last poll reached the engine (None: not tried yet)."""
        self.link_error: str | None = None
        self.stream_live = False
        self.engine_status: dict[str, Any] = {}
        self.polls = 0
        """Polls that reached the engine."""
        self.poll_attempts = 0
        self.notices: deque[tuple[str, str]] = deque(maxlen=200)
        """The notifications shown (severity, text), newest last."""
        self._inbox: deque[dict[str, Any]] = deque(maxlen=50_000)
        self._dirty: set[str] = {"rules", "fleet", "scenarios", "findings"}
        self._poke = asyncio.Event()
        self._switched_to: str | None = None
        self._failures = 0

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="⚡")
        yield Static("", id="status")
        with TabbedContent(initial="sessions", id="tabs"):
            with TabPane("1 Sessions", id="sessions"):
                yield SessionsPanel(id="sessions-panel")
            with TabPane("2 Log", id="log"):
                yield LogPanel(self.source, self.max_log_lines, id="log-panel")
            with TabPane("3 Rules", id="rules"):
                yield RulesPanel(id="rules-panel")
            with TabPane("4 Fleet", id="fleet"):
                yield FleetPanel(id="fleet-panel")
            with TabPane("5 Findings", id="findings"):
                yield FindingsPanel(id="findings-panel")
            with TabPane("6 Scenarios", id="scenarios"):
                yield ScenariosPanel(id="scenarios-panel")
        yield Footer()

    def on_mount(self) -> None:
        self._show_status()
        self.set_interval(0.1, self._drain)
        self.run_worker(self._poll_loop(), name="poll", group="engine", exit_on_error=False)
        self.run_worker(self._stream_loop(), name="events", group="engine", exit_on_error=False)
        self.sessions_panel.focus_main()

    @property
    def sessions_panel(self) -> SessionsPanel:
        return self.query_one(SessionsPanel)

    @property
    def log_panel(self) -> LogPanel:
        return self.query_one(LogPanel)

    @property
    def rules_panel(self) -> RulesPanel:
        return self.query_one(RulesPanel)

    @property
    def fleet_panel(self) -> FleetPanel:
        return self.query_one(FleetPanel)

    @property
    def findings_panel(self) -> FindingsPanel:
        return self.query_one(FindingsPanel)

    @property
    def scenarios_panel(self) -> ScenariosPanel:
        return self.query_one(ScenariosPanel)

    @property
    def active_panel(self) -> str:
        return str(self.query_one(TabbedContent).active or "sessions")

    def _panel(self, name: str) -> Any:
        return self.query_one(f"#{name}-panel")

    # -- notifications -----------------------------------------------------------------------

    def notify(self, message: str, *, severity: Any = "information", **kwargs: Any) -> None:
        self.notices.append((str(severity), str(message)))
        kwargs.setdefault("markup", False)
        super().notify(message, severity=severity, **kwargs)

    # -- talking to the engine ---------------------------------------------------------------

    def refresh_soon(self, *what: str) -> None:
        """Poll now (also the data of `what`: rules, fleet, scenarios, findings)."""
        self._dirty.update(what)
        self._poke.set()

    async def _poll_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self._poll()
            except Exception as exc:  # a bug of ours: say so, keep polling
                self._failed("poll", exc)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._poke.wait()
            self._poke.clear()
            await asyncio.sleep(max(0.0, MIN_POLL_GAP - (loop.time() - started)))

    async def _poll(self) -> None:
        source = self.source
        # the panel on view is polled; findings come live (fetched on view and reconnect)
        want = {*self._dirty, self.active_panel} - ({"findings"} - self._dirty)
        self._dirty.clear()
        self.poll_attempts += 1
        try:
            status = await source.status()
            sessions = await source.sessions()
            rules = await source.rules() if "rules" in want else None
            fleet = await source.fleet() if "fleet" in want else None
            runs = await source.scenarios() if "scenarios" in want else None
            findings = await source.findings(limit=2000) if "findings" in want else None
        except ApiError as exc:
            self._dirty.update(want)
            self._link(False, f"API error {exc}")
            return
        except Exception as exc:  # refused, reset, timed out: the engine is away
            self._dirty.update(want)
            self._link(False, f"{type(exc).__name__}: {exc}".rstrip(": "))
            return
        self.polls += 1
        self.engine_status = status
        try:
            self.sessions_panel.apply(sessions)
            if rules is not None:
                self.rules_panel.apply(rules)
            if fleet is not None:
                self.fleet_panel.apply(fleet)
            if runs is not None:
                self.scenarios_panel.apply(runs)
            if findings is not None:
                self.findings_panel.add(findings.get("findings") or [])
            self.findings_panel.set_counts(status.get("findings") or {})
        except NoMatches:  # the app is closing: its panels are gone
            return
        self._link(True)

    def _link(self, ok: bool, error: str | None = None) -> None:
        was = self.connected
        self.connected = ok
        self.link_error = error
        if not ok:
            self._dirty.update({"rules", "fleet", "scenarios", "findings"})
            if was is not False:
                self.notify(
                    f"Engine at {self.source.url} unreachable ({error}); retrying",
                    severity="error",
                    title="Disconnected",
                )
        elif was is False:
            self.notify(f"Connected again to {self.source.url}", title="Reconnected")
        self._show_status()

    async def _stream_loop(self) -> None:
        """Read the event stream; reconnect (with back-off) whenever it ends."""
        delay = 0.5
        while True:
            try:
                async with self.source.events() as stream:
                    async for event in stream:
                        if event.get("event") == "hello":
                            self.stream_live = True
                            delay = 0.5
                            self._show_status()
                            self.refresh_soon("findings")
                            continue
                        self._inbox.append(event)
            except asyncio.CancelledError:
                raise
            except Exception:  # refused, reset, closed: the status line says so
                pass
            if self.stream_live:
                self.stream_live = False
                self._show_status()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _drain(self) -> None:
        """Hand the events read since last time to the panels, in one batch (frames and
        findings each in one go); an event the console cannot show is reported, the rest
        go on."""
        if not self._inbox:
            return
        events = list(self._inbox)
        self._inbox.clear()
        frames: list[dict[str, Any]] = []
        findings: list[dict[str, Any]] = []
        for event in events:
            kind = event.get("event")
            if kind == "frame":
                frames.append(event)
            elif kind == "finding":
                findings.append(event)
            else:
                self._guarded(self._other_event, event)
        if frames:
            self._guarded(self.log_panel.add, frames)
        if findings:
            self._guarded(self.findings_panel.add, findings)

    def _other_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind in ("session_open", "session_closed"):
            self.refresh_soon()
        elif kind in ("rule", "fault"):
            self.refresh_soon("rules")
        elif kind == "fleet":
            self.refresh_soon("fleet")
        elif kind == "scenario":
            self.scenarios_panel.on_event_scenario(event)
        elif kind == "dropped":
            self.log_panel.note_dropped(int(event.get("count") or 0))

    def _guarded(self, handle: Callable[[Any], Any], item: Any) -> None:
        try:
            handle(item)
        except NoMatches:  # closing: the panels are gone
            pass
        except Exception as exc:  # a bug of ours, or an odd event: say so, go on
            self._failed("events", exc)

    def _failed(self, what: str, exc: Exception) -> None:
        log.error("console_failed", part=what, error=repr(exc), exc_info=exc)
        if self._failures < 3:  # not once a second forever
            self._failures += 1
            self.notify(f"Console error ({what}): {exc!r}", severity="error")

    def _show_status(self) -> None:
        with contextlib.suppress(NoMatches):  # the app is closing
            self.query_one("#status", Static).update(self._status_line())

    def _status_line(self) -> Text:
        line = Text()
        if self.connected is None:
            line.append("◌ connecting to ", style="yellow")
            line.append(self.source.url)
        elif not self.connected:
            line.append("○ disconnected ", style="bold red")
            line.append(f"from {self.source.url}: {self.link_error}; retrying", style="red")
        else:
            s = self.engine_status
            line.append("● connected ", style="bold green")
            line.append(self.source.url)
            faults = int(s.get("faults_active") or 0)
            findings = sum((s.get("findings") or {}).values())
            for text, style in (
                (f"{s.get('sessions', 0)} sessions", ""),
                (f"frames ↑{s.get('frames_up', 0)} ↓{s.get('frames_down', 0)}", ""),
                (f"{faults} fault{_s(faults)} active", "bold red" if faults else ""),
                (f"{findings} finding{_s(findings)}", "bold yellow" if findings else ""),
                (f"{s.get('chargers', 0)} virtual chargers", ""),
                (f"{s.get('rules', 0)} rules", ""),
            ):
                line.append("  ·  ", style="dim")
                line.append(text, style=style)
            line.append("  ·  ", style="dim")
            if self.stream_live:
                line.append("events live", style="green")
            else:
                line.append("events reconnecting", style="yellow")
        if self.log_panel.paused:
            line.append("  ·  ", style="dim")
            line.append("LOG PAUSED", style="bold reverse yellow")
        return line

    def _api(
        self,
        what: str,
        call: Callable[[], Awaitable[Any]],
        done: Callable[[Any], str] | None = None,
        *,
        refresh: tuple[str, ...] = (),
    ) -> None:
        """Carry out one API call in a worker; its answer or error becomes a notification."""

        async def go() -> None:
            try:
                answer = await call()
            except ApiError as exc:
                self.notify(f"{what}: {exc}", severity="error", title="The engine said no")
                return
            except Exception as exc:  # the engine went away mid-call
                failure = f"{what}: {type(exc).__name__}: {exc}"
                self.notify(failure, severity="error", title="API call failed")
                return
            if done is not None:
                with contextlib.suppress(NoMatches):  # the app is closing
                    self.notify(done(answer))
            self.refresh_soon(*refresh)

        self.run_worker(go(), group="api", exit_on_error=False)

    # -- what the panels ask for ---------------------------------------------------------------

    @on(FireFault)
    def _fire(self, message: FireFault) -> None:
        order = message.order

        def done(answer: dict[str, Any]) -> str:
            chargers = ", ".join(answer.get("chargers") or order.chargers)
            return f"{order.label} fired at {chargers} ({answer.get('name')})"

        self._api(
            f"fire {order.label} at {order.targets}",
            lambda: self.source.fire(
                order.fault, order.chargers, select=order.select, duration=order.duration
            ),
            done,
            refresh=("rules",),
        )

    @on(ClearFaults)
    def _clear(self) -> None:
        self.action_clear_faults()

    @on(OpenFaultsMenu)
    def _menu(self, message: OpenFaultsMenu) -> None:
        if not message.chargers:
            self.notify("No session selected", severity="warning")
            return

        def chosen(order: FaultOrder | None) -> None:
            if order is not None:
                self.post_message(FireFault(order))

        self.push_screen(FaultsMenu(message.chargers), chosen)

    @on(ToggleRule)
    def _toggle_rule(self, message: ToggleRule) -> None:
        name, enable = message.rule, message.enable

        def done(rule: dict[str, Any]) -> str:
            self.rules_panel.table.apply_one(rule)  # at once: the next toggle starts here
            return f"Rule {name} {'on' if enable else 'off'}"

        self._api(
            f"{'enable' if enable else 'disable'} rule {name}",
            lambda: (self.source.enable_rule if enable else self.source.disable_rule)(name),
            done,
            refresh=("rules",),
        )

    @on(FleetCommand)
    def _fleet_command(self, message: FleetCommand) -> None:
        do, chargers = message.do, message.chargers

        def done(answer: dict[str, Any]) -> str:
            text = f"{do}: done on {answer.get('done', 0)} of {len(answer.get('chargers') or [])}"
            errors = answer.get("errors") or {}
            if errors:
                text += "; " + "; ".join(f"{c}: {e}" for c, e in list(errors.items())[:5])
            return text

        self._api(
            f"{do} on {', '.join(chargers)}",
            lambda: self.source.fleet_command(do, chargers, **message.params),
            done,
            refresh=("fleet",),
        )

    @on(AddChargers)
    def _add_chargers(self, message: AddChargers) -> None:
        self._api(
            f"add {message.count} chargers",
            lambda: self.source.add_chargers(
                message.count, protocol=message.protocol, sessions=message.sessions
            ),
            lambda ids: (
                f"Added {len(ids)} chargers: {', '.join(ids[:5])}"
                + (", ..." if len(ids) > 5 else "")
            ),
            refresh=("fleet",),
        )

    @on(StartScenario)
    def _start_scenario(self, message: StartScenario) -> None:
        self._api(
            f"start scenario {message.path}",
            lambda: self.source.start_scenario(message.path),
            lambda run: f"Scenario {run.get('name')} started as {run.get('id')}",
            refresh=("scenarios",),
        )

    @on(AbortScenario)
    def _abort_scenario(self, message: AbortScenario) -> None:
        self._api(
            f"abort {message.run_id}",
            lambda: self.source.abort_scenario(message.run_id),
            lambda run: f"{run.get('id')}: {run.get('status')}",
            refresh=("scenarios",),
        )

    @on(ShowChargerFrames)
    def _show_charger_frames(self, message: ShowChargerFrames) -> None:
        self.action_show_panel("log")
        self.log_panel.set_filter_text(shlex.quote(f"charger:{message.charger_id}"))

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pane = event.pane.id
        if not pane:
            return
        if pane == self._switched_to:  # a key switched: it has set the focus already
            self._switched_to = None
        else:  # a click on the tab
            self._panel(pane).focus_main()
        self.refresh_soon(pane)

    # -- actions ----------------------------------------------------------------------------

    def action_show_panel(self, name: str) -> None:
        tabs = self.query_one(TabbedContent)
        if tabs.active != name:
            self._switched_to = name
            tabs.active = name
        self._panel(name).focus_main()

    def action_focus_filter(self) -> None:
        self.action_show_panel("log")
        self.log_panel.focus_filter()

    def action_toggle_pause(self) -> None:
        panel = self.log_panel
        panel.set_paused(not panel.paused)
        self._show_status()

    def action_clear_faults(self) -> None:
        self._api(
            "clear faults",
            self.source.clear_faults,
            lambda n: f"Cleared {n} fault{'s' if n != 1 else ''}",
            refresh=("rules",),
        )

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_contexts()))

    @classmethod
    def help_contexts(cls) -> list[tuple[str, list[BindingType]]]:
        """Every binding, by where it works (the help screen lists these)."""
        return [
            ("anywhere", list(cls.BINDINGS)),
            (
                "1 sessions",
                [
                    *SessionsPanel.BINDINGS,
                    Binding("enter", "", "Show the charger's frames in the log"),
                ],
            ),
            ("2 log", [*FrameLog.BINDINGS, *LogPanel.BINDINGS]),
            (
                "3 rules",
                [*RulesPanel.BINDINGS, Binding("enter", "", "Toggle rule")],
            ),
            ("4 fleet", list(FleetPanel.BINDINGS)),
            ("6 scenarios", list(ScenariosPanel.BINDINGS)),
            ("faults menu", list(FaultsMenu.BINDINGS)),
            ("help", list(HelpScreen.BINDINGS)),
        ]

    def action_export(self) -> None:
        panel = self.active_panel
        rows = self._panel(panel).export_rows()
        folder = self._export_folder()

        async def write() -> None:
            try:
                path = await asyncio.to_thread(_write_jsonl, folder, rows)
            except OSError as exc:
                self.notify(f"Export failed: {exc}", severity="error")
                return
            what = "log lines" if panel == "log" else f"{panel} rows"
            self.notify(f"Exported {len(rows)} {what} to {path}", title="Export")

        self.run_worker(write(), group="export", exit_on_error=False)

    def _export_folder(self) -> Path:
        """The export directory given, else the tape's (when it is on this machine), else
        the working directory."""
        if self.export_dir is not None:
            return self.export_dir
        tape = self.engine_status.get("tape")
        if tape:
            folder = Path(str(tape)).expanduser().parent
            if folder.is_dir() and os.access(folder, os.W_OK):
                return folder
        return Path.cwd()


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _write_jsonl(folder: Path, rows: list[dict[str, Any]]) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = folder / f"ocpp-chaos-export-{stamp}.jsonl"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"ocpp-chaos-export-{stamp}-{n}.jsonl"
    with path.open("x", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    return path


async def run_console(api_url: str, token: str | None, *, title: str | None = None) -> None:
    """Run the console against the control API at `api_url` until the operator quits.
    Runs on the caller's event loop (an engine may share it)."""
    from ocpp_chaos.api.client import ApiClient

    async with ApiClient(api_url, token=token, timeout=10.0) as client:
        await ConsoleApp(client, title=title).run_async()
