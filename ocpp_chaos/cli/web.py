"""`ocpp-chaos web`: the console in a web browser, served by textual-serve.

Each browser tab gets its own console process (`python -m ocpp_chaos console --api URL`),
started by textual-serve with a shell. The API token reaches it through the environment
(OCPP_CHAOS_API_TOKEN), never on a command line nor in a log.

textual-serve has no authentication: whoever reaches the page drives the engine with the
token. So it serves on loopback only, unless --allow-remote says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ocpp_chaos.cli.common import (
    TOKEN_ENV,
    ExitStatus,
    add_logging_options,
    add_token_options,
    api_token,
    parse_hostport,
    run_until_signal,
)

HELP = "serve the console in a web browser (one console process per browser tab)"
DEFAULT_API_URL = "http://127.0.0.1:8181"
DEFAULT_LISTEN = ("127.0.0.1", 8182)
TAB_STOP_TIMEOUT = 10.0
"""How long the open tabs get to close, and their consoles to quit, when the command stops."""
CONSOLE_EXIT_TIMEOUT = 2.0
"""How long a console gets to exit once its output has ended (then SIGTERM, then SIGKILL)."""

_DESCRIPTION = (
    HELP + ". The page has no authentication of its own (textual-serve has none): whoever "
    "reaches it drives the engine with the API token. It is served on a loopback address "
    "only, unless --allow-remote is given (then put it behind a reverse proxy that "
    "authenticates)."
)


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("web", help=HELP, description=_DESCRIPTION)
    p.add_argument(
        "--api",
        default=DEFAULT_API_URL,
        metavar="URL",
        help=f"the engine's control API (default {DEFAULT_API_URL})",
    )
    add_token_options(p, note="; passed to each console through the environment")
    p.add_argument(
        "--listen",
        type=parse_hostport,
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help="where the page is served (default 127.0.0.1:8182; port 0 picks one). "
        "Loopback only, unless --allow-remote",
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --listen address that is not loopback. There is no login: anyone "
        "who reaches the page controls the engine",
    )
    p.add_argument(
        "--public-url",
        metavar="URL",
        help="the address browsers use to reach the page, when it is not http://HOST:PORT "
        "(e.g. behind a reverse proxy)",
    )
    add_logging_options(p)
    p.set_defaults(run=run)


def console_command(api_url: str) -> str:
    """The shell command textual-serve runs for each browser tab (no token in it). `exec`:
    the console replaces the shell, so the process textual-serve holds is the console."""
    return "exec " + " ".join(
        shlex.quote(part)
        for part in (sys.executable, "-m", "ocpp_chaos", "console", "--api", api_url)
    )


def _bad(message: str) -> int:
    print(f"ocpp-chaos web: {message}", file=sys.stderr)
    return int(ExitStatus.BAD_INPUT)


def run(args: argparse.Namespace) -> int:
    from ocpp_chaos import log
    from ocpp_chaos.api.server import is_loopback

    host, _port = args.listen
    if not is_loopback(host) and not args.allow_remote:
        return _bad(
            f"--listen {host} is not a loopback address; the web console has no "
            "authentication of its own, so serving it there needs --allow-remote "
            "(and a reverse proxy that authenticates)"
        )
    api = urlsplit(args.api)
    if api.scheme not in ("http", "https") or not api.hostname:
        return _bad(f"--api {args.api!r} is not an http(s) URL such as {DEFAULT_API_URL}")
    if args.public_url is not None:
        public = urlsplit(args.public_url)
        if public.scheme not in ("http", "https") or not public.hostname:
            return _bad(f"--public-url {args.public_url!r} is not an http(s) URL")
    try:
        token = api_token(args)
    except ValueError as exc:
        return _bad(str(exc))
    if token:
        # Inherited by every console textual-serve starts: not on their command lines.
        os.environ[TOKEN_ENV] = token
    log.configure(headless=args.headless, level=args.log_level)
    return run_until_signal(lambda stop: serve(args, stop))


def _url(host: str, port: int) -> str:
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


def _web_server_class() -> type[Any]:
    """textual-serve's Server on our event loop and logging. Its tabs end when their
    console does (the page then offers a restart) and are all stopped on shutdown."""
    import structlog
    from aiohttp import WSCloseCode
    from aiohttp import web as aioweb
    from textual_serve.app_service import AppService
    from textual_serve.server import Server, to_int

    logger = structlog.get_logger("ocpp_chaos.web")

    class Tab(AppService):
        """One tab's console process. textual-serve stops reading it at the end of its
        output and leaves the browser waiting when it dies; this waits for the process to
        end (ending it if it lingers) and closes the tab's websocket then."""

        async def run(self) -> None:
            try:
                await super().run()
            finally:
                await self._reap()
                await self.remote_close()

        async def _reap(self) -> None:
            process: asyncio.subprocess.Process | None = self._process
            if process is None:
                return
            for end in (None, process.terminate, process.kill):
                if end is not None:
                    with contextlib.suppress(ProcessLookupError):
                        end()
                try:
                    async with asyncio.timeout(CONSOLE_EXIT_TIMEOUT):
                        code = await process.wait()
                except TimeoutError:
                    continue
                logger.debug("web_console_exited", pid=process.pid, code=code)
                return

    class WebServer(Server):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.tabs: dict[aioweb.WebSocketResponse, asyncio.Event] = {}
            """Each open tab's websocket, and what its handler sets when it has ended."""

        def initialize_logging(self) -> None:
            """Logging is configured by the CLI (ocpp_chaos.log)."""

        async def on_startup(self, app: aioweb.Application) -> None:
            """No banner: the CLI logs where it listens once it does."""

        async def handle_websocket(self, request: aioweb.Request) -> aioweb.WebSocketResponse:
            """One browser tab, as textual-serve's own handler, with `Tab` for its console."""
            ws = aioweb.WebSocketResponse(heartbeat=15)
            width = to_int(request.query.get("width", "80"), 80)
            height = to_int(request.query.get("height", "24"), 24)
            await ws.prepare(request)
            ended = self.tabs[ws] = asyncio.Event()
            logger.info("web_tab_opened", peer=request.remote, tabs=len(self.tabs))

            async def close() -> None:
                await ws.close()

            tab = Tab(
                self.command,
                write_bytes=ws.send_bytes,
                write_str=ws.send_str,
                close=close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            try:
                await tab.start(width, height)
                await self._process_messages(ws, tab)
            except Exception:
                logger.exception("web_tab_failed", peer=request.remote)
            finally:
                await tab.stop()  # asks the console to quit, waits for it to end
                await ws.close()
                del self.tabs[ws]
                ended.set()
                logger.info("web_tab_closed", peer=request.remote, tabs=len(self.tabs))
            return ws

        async def stop_tabs(self) -> None:
            """Close every tab: each handler then asks its console to quit and waits for
            it. (Before the server closes its connections, so that the browser's answer
            to the close is still read.)"""
            tabs = dict(self.tabs)

            async def stop(ws: aioweb.WebSocketResponse, ended: asyncio.Event) -> None:
                await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
                await ended.wait()

            try:
                async with asyncio.timeout(TAB_STOP_TIMEOUT):
                    await asyncio.gather(*(stop(ws, ended) for ws, ended in tabs.items()))
            except TimeoutError:
                left = sum(not ended.is_set() for ended in tabs.values())
                logger.warning("web_tabs_not_stopped", count=left)

    return WebServer


_WEB_FONT = re.compile(r"<link[^>]*fonts\.googleapis\.com[^>]*>", re.DOTALL)


def offline_templates(folder: Path) -> Path:
    """textual-serve's page template as installed, without its Google Fonts stylesheet:
    the console must not make a browser on a test bench or in a field trial call the
    internet (the terminal falls back to a local monospace font). Written into `folder`."""
    import textual_serve

    source = Path(textual_serve.__file__).parent / "templates"
    for page in source.glob("*.html"):
        (folder / page.name).write_text(_WEB_FONT.sub("", page.read_text()))
    return folder


async def serve(args: argparse.Namespace, stop: asyncio.Event) -> int:
    import structlog
    from aiohttp import web

    logger = structlog.get_logger("ocpp_chaos.cli")
    host, port = args.listen
    templates = tempfile.TemporaryDirectory(prefix="ocpp-chaos-web-")
    server = _web_server_class()(
        console_command(args.api),
        host=host,
        port=port,
        title="ocpp-chaos console",
        public_url=args.public_url,
        templates_path=offline_templates(Path(templates.name)),
    )
    # textual-serve's own serve() runs its own loop; this runs its app on ours.
    app = await server._make_app()
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=TAB_STOP_TIMEOUT
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            logger.error("listen_failed", listen=f"{host}:{port}", error=str(exc))
            if not args.headless:
                print(
                    f"ocpp-chaos web: cannot listen on {host}:{port}: {exc.strerror or exc}",
                    file=sys.stderr,
                )
            return int(ExitStatus.BAD_INPUT)
        if port == 0:  # the page names its own address: read back the port picked
            port = int(runner.addresses[0][1])
        if args.public_url is None:
            server.public_url = _url(host, port)
            if host in ("0.0.0.0", "::"):
                logger.warning(
                    "web_public_url_unknown",
                    hint="the page tells browsers to connect to "
                    f"{server.public_url}; give --public-url with the address they use",
                )
        logger.info("web_listening", url=server.public_url, api=args.api)
        await stop.wait()
        logger.info("shutdown_requested")
        await server.stop_tabs()
    finally:
        await runner.cleanup()
        templates.cleanup()
    return int(ExitStatus.OK)
