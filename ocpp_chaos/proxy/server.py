"""The proxy listener: accepts chargers, connects each one upstream, runs its session.

aiohttp on both sides. Frames are read undecoded (`decode_text=False`) and
written with `send_frame` and their own opcode, so text that is not UTF-8,
binary frames and empty frames pass untouched. Automatic pings and closes are
off on both sides: the proxy relays them instead of answering them.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import structlog
from aiohttp import web

from ocpp_chaos.aio import bound_port, spawn
from ocpp_chaos.log import redact_text
from ocpp_chaos.proxy.control import RulesController
from ocpp_chaos.proxy.mapping import (
    charger_id_of,
    end_to_end_headers,
    parse_subprotocols,
    rewrite_headers,
    upstream_url,
)
from ocpp_chaos.proxy.monitor import FrameRecord
from ocpp_chaos.proxy.oracle import Finding, Oracle, OracleConfig
from ocpp_chaos.proxy.session import Session, SessionEvent, reset_transport
from ocpp_chaos.proxy.tape import Tape
from ocpp_chaos.rules.decisions import ConnectPlan
from ocpp_chaos.rules.engine import RuleEngine
from ocpp_chaos.rules.model import Rule

__all__ = ["DEFAULT_MAX_FRAME_SIZE", "ProxyConfig", "ProxyServer", "SessionRegistry"]

log = structlog.get_logger("ocpp_chaos.proxy")

# 1 MiB of OCPP payload plus headroom for the envelope.
DEFAULT_MAX_FRAME_SIZE = 1024 * 1024 + 64 * 1024

Event = FrameRecord | SessionEvent | Finding
"""What the proxy emits to the tape and its observers."""
Observer = Callable[[Event], None]


@dataclass
class ProxyConfig:
    """Everything `ocpp-chaos proxy` can be told."""

    upstream: str
    listen_host: str = "127.0.0.1"
    listen_port: int = 9000
    tls_cert: Path | None = None
    tls_key: Path | None = None
    upstream_ca: Path | None = None
    upstream_cert: Path | None = None
    upstream_key: Path | None = None
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    tape: Path | None = None
    check_schema: bool = True
    connect_timeout: float = 10.0
    close_timeout: float = 5.0
    seed: int = 0
    """Seeds every random choice of the rules (same seed and traffic, same faults)."""
    oracle: OracleConfig = field(default_factory=OracleConfig)
    """What the CSMS oracle counts as slow and as unanswered."""

    def server_ssl(self) -> ssl.SSLContext | None:
        """The TLS context for serving `wss://` to chargers, if a certificate is given."""
        if self.tls_cert is None:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self.tls_cert), str(self.tls_key) if self.tls_key else None)
        return ctx

    def upstream_ssl(self) -> ssl.SSLContext | bool:
        """The TLS context for `wss://` towards the CSMS (system CAs unless `upstream_ca`)."""
        if not self.upstream.lower().startswith("wss:"):
            return True
        ctx = ssl.create_default_context(cafile=str(self.upstream_ca) if self.upstream_ca else None)
        if self.upstream_cert is not None:
            ctx.load_cert_chain(
                str(self.upstream_cert), str(self.upstream_key) if self.upstream_key else None
            )
        return ctx


class SessionRegistry:
    """The sessions alive now, by session id. Two connections of one charger are two entries."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}

    def add(self, session: Session) -> None:
        self._sessions[session.id] = session

    def remove(self, session: Session) -> None:
        self._sessions.pop(session.id, None)

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._sessions.values()))

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def by_charger(self, charger_id: str) -> list[Session]:
        return [s for s in self._sessions.values() if s.charger_id == charger_id]

    def snapshot(self) -> list[dict[str, object]]:
        return [s.info() for s in self._sessions.values()]


class ProxyServer:
    """The transparent proxy: `start()`, relay, `stop()`."""

    def __init__(self, config: ProxyConfig, rules: Iterable[Rule] = ()) -> None:
        self.config = config
        self.sessions = SessionRegistry()
        self.engine = RuleEngine(seed=config.seed)
        self.rules = RulesController(self.engine, self.sessions)
        """Load, enable, disable, remove rules and fire faults while traffic flows."""
        for rule in rules:
            self.rules.add(rule)
        self.observers: list[Observer] = []
        self.oracle = Oracle(config.oracle)
        """Always on: what the CSMS did wrong or slowly (`findings()`, `counts()`,
        `response_times()`, `subscribe()`). Findings also go to the tape and observers."""
        self.oracle.subscribe(self._emit)
        self._ticker: asyncio.Task[None] | None = None
        self._frames_closed = (0, 0)
        self.totals = {
            "sessions": 0,
            "refused": 0,
            "unreachable": 0,
            "refused_by_rule": 0,
        }
        self.tape: Tape | None = None
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._upstream_ssl: ssl.SSLContext | bool = True
        self.port: int = 0
        self._stopping = False

    @property
    def url(self) -> str:
        scheme = "wss" if self.config.tls_cert else "ws"
        return f"{scheme}://{self.config.listen_host}:{self.port}"

    async def start(self) -> None:
        """Bind the listener (port 0 picks a free port, read back in `port`)."""
        cfg = self.config
        self._upstream_ssl = cfg.upstream_ssl()
        server_ssl = cfg.server_ssl()
        if cfg.tape is not None:
            self.tape = Tape(cfg.tape)
        self._client = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ssl=self._upstream_ssl),
            timeout=aiohttp.ClientTimeout(total=None, connect=cfg.connect_timeout),
            auto_decompress=False,
            skip_auto_headers=("User-Agent",),
        )
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=cfg.close_timeout)
        await self._runner.setup()
        site = web.TCPSite(self._runner, cfg.listen_host, cfg.listen_port, ssl_context=server_ssl)
        await site.start()
        self.port = bound_port(site)
        self._ticker = spawn(self._tick(), name="oracle-tick")
        log.info(
            "proxy_listening",
            url=self.url,
            upstream=redact_text(cfg.upstream),
            tape=str(cfg.tape) if cfg.tape else None,
        )

    async def stop(self) -> None:
        """Run the oracle's end-of-run checks, close every session with 1001, stop
        listening and flush the tape."""
        if self._stopping:
            return
        self._stopping = True
        self.finish_oracle()
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        sessions = list(self.sessions)
        if sessions:
            log.info("proxy_closing_sessions", sessions=len(sessions))
            await asyncio.gather(
                *(s.close(1001, "proxy shutting down") for s in sessions), return_exceptions=True
            )
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()
        if self.tape is not None:
            self.tape.close()
            log.info("tape_closed", path=str(self.tape.path), lines=self.tape.written)
        up, down = self.frames()
        log.info(
            "proxy_stopped",
            frames_up=up,
            frames_down=down,
            findings=dict(sorted(self.oracle.counts().items())),
            **self.totals,
        )

    def finish_oracle(self) -> list[Finding]:
        """The oracle's end-of-run checks (`Oracle.finish`) now; `stop()` runs them too.
        Returns the new findings."""
        return self.oracle.finish(time.monotonic())

    async def _tick(self) -> None:
        """One timer for the whole proxy: the oracle reports what stayed unanswered."""
        interval = self.config.oracle.tick_interval
        while True:
            await asyncio.sleep(interval)
            try:
                self.oracle.tick(time.monotonic())
            except Exception as exc:  # a bug in a check must not stop the others
                log.error("oracle_tick_failed", error=repr(exc), exc_info=exc)

    async def __aenter__(self) -> ProxyServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- events --------------------------------------------------------------

    @property
    def recording(self) -> bool:
        """Whether frame records are consumed (a tape or an observer): else not built."""
        return self.tape is not None or bool(self.observers)

    def frames(self) -> tuple[int, int]:
        """Data frames relayed so far, (up, down), ended sessions included."""
        up, down = self._frames_closed
        for s in self.sessions:
            up += s.monitor.stats.up.frames
            down += s.monitor.stats.down.frames
        return up, down

    def _emit(self, event: Event) -> None:
        if self.tape is not None:
            self.tape.write(event.to_json())
        for observer in self.observers:
            try:
                observer(event)
            except Exception as exc:  # an observer's bug must not end a session
                log.error("observer_failed", observer=repr(observer), error=repr(exc))

    # -- the handshake -------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.Response(
                status=426,
                text="ocpp-chaos proxy: WebSocket upgrade required\n",
                headers={"Upgrade": "websocket"},
            )
        if self._stopping:
            return web.Response(status=503, text="ocpp-chaos proxy: shutting down\n")
        raw_path = request.raw_path
        charger_id = charger_id_of(raw_path)
        plan = self.engine.on_connect(
            charger_id, parse_subprotocols(request.headers.items()), time.monotonic()
        )
        refusal = plan.refuse
        if refusal is not None:
            self.totals["refused_by_rule"] += 1
            log.info(
                "connect_refused", charger_id=charger_id, rule=refusal.rule, status=refusal.status
            )
            if refusal.status == "tcp-reset":
                transport = request.transport
                if transport is not None:
                    reset_transport(transport)
                raise web.HTTPServiceUnavailable()  # never written: the socket is gone
            return web.Response(
                status=int(refusal.status), text=f"refused by ocpp-chaos rule {refusal.rule}\n"
            )
        session_id = f"s{next(self._ids)}"
        remote = request.remote
        with structlog.contextvars.bound_contextvars(charger_id=charger_id, session=session_id):
            return await self._relay(request, session_id, charger_id, raw_path, remote, plan)

    async def _relay(
        self,
        request: web.Request,
        session_id: str,
        charger_id: str,
        raw_path: str,
        remote: str | None,
        plan: ConnectPlan,
    ) -> web.StreamResponse:
        cfg = self.config
        assert self._client is not None
        url = upstream_url(cfg.upstream, raw_path)
        offered = parse_subprotocols(request.headers.items())
        headers = end_to_end_headers(request.headers.items())
        if plan.headers:
            headers = rewrite_headers(headers, plan.headers)
        if plan.rules:
            log.info(
                "handshake_altered",
                rules=list(plan.rules),
                strip_offer=plan.strip_offer,
                strip_answer=plan.strip_answer,
                headers=[h for h, _v in plan.headers],
            )
        try:
            csms_ws = await self._client.ws_connect(
                url,
                protocols=[] if plan.strip_offer else offered,
                headers=headers,
                autoclose=False,
                autoping=False,
                compress=0,
                max_msg_size=cfg.max_frame_size,
                decode_text=False,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=cfg.close_timeout),
            )
        except aiohttp.WSServerHandshakeError as exc:
            status = exc.status if exc.status and exc.status >= 400 else 502
            self.totals["refused"] += 1
            log.warning(
                "upstream_refused", status=exc.status, reason=exc.message, upstream=redact_text(url)
            )
            self.oracle.upgrade_failed(
                session_id,
                charger_id,
                time.monotonic(),
                status=exc.status,
                error=None if exc.status else redact_text(exc.message or "handshake failed"),
            )
            return web.Response(status=status, text=f"upstream CSMS answered {exc.status}\n")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.totals["unreachable"] += 1
            error = redact_text(str(exc) or type(exc).__name__)
            log.error("upstream_unreachable", upstream=redact_text(url), error=error)
            self.oracle.upgrade_failed(session_id, charger_id, time.monotonic(), error=error)
            return web.Response(status=502, text="ocpp-chaos proxy: upstream CSMS unreachable\n")

        chosen = csms_ws.protocol
        raw_chosen = csms_ws._response.headers.get("Sec-WebSocket-Protocol")
        if raw_chosen and not chosen:
            log.warning("csms_chose_unoffered_subprotocol", chosen=raw_chosen, offered=offered)
        charger_ws = web.WebSocketResponse(
            protocols=[chosen] if chosen and not plan.strip_answer else (),
            autoclose=False,
            autoping=False,
            compress=False,
            max_msg_size=cfg.max_frame_size,
            decode_text=False,
            timeout=cfg.close_timeout,
        )
        try:
            await charger_ws.prepare(request)
        except Exception:
            await csms_ws.close(code=1001, message=b"charger went away during handshake")
            raise
        session = Session(
            session_id=session_id,
            charger_id=charger_id,
            charger_ws=charger_ws,
            csms_ws=csms_ws,
            subprotocol=chosen,
            remote=remote,
            path=raw_path.partition("?")[0],
            upstream_url=url,
            check_schema=cfg.check_schema,
            emit=self._emit,
            close_timeout=cfg.close_timeout,
            engine=self.engine,
            sink=self,
            oracle=self.oracle,
            upstream_offered=[] if plan.strip_offer else offered,
            upstream_selected=raw_chosen,
        )
        self.sessions.add(session)
        self.totals["sessions"] += 1
        try:
            await session.run()
        except Exception as exc:  # one session's failure never reaches another
            log.error("session_failed", error=repr(exc), exc_info=exc)
        finally:
            self.sessions.remove(session)
            up, down = self._frames_closed
            stats = session.monitor.stats
            self._frames_closed = (up + stats.up.frames, down + stats.down.frames)
        return charger_ws
