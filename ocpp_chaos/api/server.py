"""The control API: HTTP/JSON and a WebSocket event stream over the engine (aiohttp).

Loopback by default; any other address needs a token, checked on every request and on
the event stream (`Authorization: Bearer <token>`). A request whose `Origin` names
another site than the API itself is refused (a web page must not drive the engine).
Every error is JSON: `{"error": "...", "problems": [...]}`.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError

from ocpp_chaos.aio import spawn
from ocpp_chaos.api.commands import fleet_command_adapter
from ocpp_chaos.api.engine import Engine, EngineError, NotFound
from ocpp_chaos.api.filters import FilterError, parse_filter
from ocpp_chaos.api.models import (
    FaultRequest,
    FleetAddRequest,
    RuleLoadRequest,
    ScenarioStartRequest,
)
from ocpp_chaos.fileformat import FileFormatError

__all__ = ["DEFAULT_API_PORT", "ApiConfigError", "ApiServer", "is_loopback"]

log = structlog.get_logger("ocpp_chaos.api")

DEFAULT_API_PORT = 8181
EVENT_BATCH_S = 0.02
"""The event stream gathers what comes within this long after an event, and sends it."""
EVENT_BATCH_MAX = 2_000
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiConfigError(ValueError):
    """The API cannot start as asked (e.g. a public address without a token)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(data, default=str), status=status, content_type="application/json"
    )


def _error(status: int, message: str, problems: list[Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if problems:
        body["problems"] = problems
    return _json(body, status)


def _validation_problems(exc: ValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"])
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        out.append({"field": field, "message": message})
    return out


class ApiServer:
    """Serves `engine` on host:port (port 0 picks a free one, read back in `port`)."""

    def __init__(
        self,
        engine: Engine,
        host: str = "127.0.0.1",
        port: int = DEFAULT_API_PORT,
        *,
        token: str | None = None,
    ) -> None:
        if not is_loopback(host) and not token:
            raise ApiConfigError(
                f"the control API on {host} (not loopback) needs a token: "
                "--api-token or --api-token-file"
            )
        self.engine = engine
        self.host = host
        self.requested_port = port
        self.port = 0
        self._token = token.encode() if token else None
        self._runner: web.AppRunner | None = None
        self._streams: set[web.WebSocketResponse] = set()
        from ocpp_chaos.api.metrics import FrameCounter, Metrics

        self.frame_counter = FrameCounter()
        engine.proxy.observers.append(self.frame_counter)
        self.metrics = Metrics(engine.proxy, self.frame_counter, self._extra_metrics)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors, self._guard])
        r = app.router
        r.add_get("/api/openapi.json", self.openapi)
        r.add_get("/api/status", self.status)
        r.add_get("/api/sessions", self.sessions)
        r.add_get("/api/sessions/{charger_id}", self.session)
        r.add_get("/api/findings", self.findings)
        r.add_get("/api/rules", self.rules)
        r.add_post("/api/rules", self.add_rule)
        r.add_post("/api/rules/load", self.load_rules)
        r.add_post("/api/rules/{name}/enable", self.enable_rule)
        r.add_post("/api/rules/{name}/disable", self.disable_rule)
        r.add_delete("/api/rules/{name}", self.remove_rule)
        r.add_get("/api/faults", self.faults)
        r.add_post("/api/faults", self.fire)
        r.add_delete("/api/faults", self.clear_faults)
        r.add_delete("/api/faults/{name}", self.clear_fault)
        r.add_get("/api/fleet", self.fleet)
        r.add_post("/api/fleet", self.add_chargers)
        r.add_post("/api/fleet/commands", self.fleet_command)
        r.add_get("/api/scenarios", self.scenarios)
        r.add_post("/api/scenarios", self.start_scenario)
        r.add_get("/api/scenarios/{run_id}", self.scenario)
        r.add_post("/api/scenarios/{run_id}/abort", self.abort_scenario)
        r.add_get("/api/tape", self.tape)
        r.add_get("/api/events", self.events)
        r.add_get("/metrics", self.prometheus)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.requested_port)
        await site.start()
        from ocpp_chaos.aio import bound_port

        self.port = bound_port(site)
        log.info("api_listening", url=self.url, token=self._token is not None)

    async def stop(self) -> None:
        for ws in list(self._streams):
            await ws.close(code=1001, message=b"engine stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- middlewares ---------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _error(exc.status, exc.reason if exc.text is None else exc.text.strip())
        except ValidationError as exc:
            return _error(400, "invalid request body", _validation_problems(exc))
        except FileFormatError as exc:
            return _error(400, "invalid file", [str(p) for p in exc.problems])
        except NotFound as exc:
            return _error(404, str(exc.args[0]) if exc.args else "not found")
        except (EngineError, FilterError) as exc:
            return _error(400, str(exc))
        except (OSError, ValueError) as exc:
            return _error(400, f"{type(exc).__name__}: {exc}")

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None and not self._same_site(origin, request.host):
            return _error(403, f"cross-site request from {origin!r} refused")
        if self._token is not None:
            given = request.headers.get("Authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                value.strip().encode(), self._token
            ):
                return _error(401, "a valid token is required (Authorization: Bearer <token>)")
        return await handler(request)

    @staticmethod
    def _same_site(origin: str, host: str) -> bool:
        parts = urlsplit(origin)
        return bool(parts.netloc) and parts.netloc.lower() == host.lower()

    # -- helpers ----------------------------------------------------------------------------

    async def _body(self, request: web.Request) -> Any:
        try:
            return await request.json(loads=json.loads)
        except (ValueError, UnicodeDecodeError) as exc:
            raise EngineError(f"the body is not JSON: {exc}") from None

    async def _model(self, request: web.Request, model: type[BaseModel]) -> Any:
        body = await self._body(request)
        if not isinstance(body, dict):
            raise EngineError("the body must be a JSON object")
        return model.model_validate(body)

    def _extra_metrics(self) -> dict[str, float]:
        engine = self.engine
        return {
            "virtual_chargers": float(len(engine.chargers)),
            "faults_active": float(len(engine.active_faults())),
            "scenarios_running": float(
                sum(r.status == "running" for r in engine.scenarios.values())
            ),
            "event_subscribers": float(engine.bus.readers),
        }

    # -- resources --------------------------------------------------------------------------

    async def openapi(self, request: web.Request) -> web.Response:
        from ocpp_chaos.api.openapi import openapi_document

        return _json(openapi_document())

    async def status(self, request: web.Request) -> web.Response:
        return _json({**self.engine.status(), "api": self.url})

    async def sessions(self, request: web.Request) -> web.Response:
        return _json(self.engine.sessions(request.query.get("filter")))

    async def session(self, request: web.Request) -> web.Response:
        return _json(self.engine.session(request.match_info["charger_id"]))

    async def findings(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            limit = int(q.get("limit", "1000"))
        except ValueError:
            raise EngineError("limit must be a number") from None
        return _json(self.engine.findings(q.get("kind"), q.get("charger"), limit))

    async def rules(self, request: web.Request) -> web.Response:
        return _json(self.engine.rules())

    async def add_rule(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if not isinstance(body, dict):
            raise EngineError("the body must be a rule (a JSON object)")
        return _json(self.engine.add_rule(body), 201)

    async def load_rules(self, request: web.Request) -> web.Response:
        req: RuleLoadRequest = await self._model(request, RuleLoadRequest)
        return _json({"loaded": self.engine.load_rules(req.path)}, 201)

    async def enable_rule(self, request: web.Request) -> web.Response:
        return _json(self.engine.set_rule(request.match_info["name"], True))

    async def disable_rule(self, request: web.Request) -> web.Response:
        return _json(self.engine.set_rule(request.match_info["name"], False))

    async def remove_rule(self, request: web.Request) -> web.Response:
        self.engine.remove_rule(request.match_info["name"])
        return _json({"removed": request.match_info["name"]})

    async def faults(self, request: web.Request) -> web.Response:
        return _json(self.engine.active_faults())

    async def fire(self, request: web.Request) -> web.Response:
        req: FaultRequest = await self._model(request, FaultRequest)
        radius = req.radius.model_dump(exclude_none=True) if req.radius is not None else None
        fired = self.engine.fire(
            req.fault, req.chargers, select=req.select, radius=radius, duration=req.duration
        )
        return _json(fired, 201)

    async def clear_fault(self, request: web.Request) -> web.Response:
        self.engine.clear_fault(request.match_info["name"])
        return _json({"cleared": [request.match_info["name"]]})

    async def clear_faults(self, request: web.Request) -> web.Response:
        return _json({"cleared": self.engine.clear_faults()})

    async def fleet(self, request: web.Request) -> web.Response:
        return _json(self.engine.fleet())

    async def add_chargers(self, request: web.Request) -> web.Response:
        req: FleetAddRequest = await self._model(request, FleetAddRequest)
        ids = self.engine.add_chargers(
            req.count,
            protocol=req.protocol,
            connectors=req.connectors,
            id_pattern=req.id_pattern,
            sessions=req.sessions,
            config=req.config,
            template=req.template,
        )
        return _json({"added": ids}, 201)

    async def fleet_command(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if not isinstance(body, dict):
            raise EngineError("the body must be a command (a JSON object with `do`)")
        timeline_only = sorted(k for k in ("at", "after", "timeout", "on_timeout") if k in body)
        if timeline_only:
            raise EngineError(f"{', '.join(timeline_only)}: only scenario timelines wait")
        step = fleet_command_adapter().validate_python(body)
        return _json(await self.engine.fleet_command(step))

    async def scenarios(self, request: web.Request) -> web.Response:
        return _json([r.to_json() for r in self.engine.scenarios.values()])

    async def start_scenario(self, request: web.Request) -> web.Response:
        req: ScenarioStartRequest = await self._model(request, ScenarioStartRequest)
        return _json(self.engine.start_scenario(req.path, seed=req.seed, scale=req.scale), 201)

    async def scenario(self, request: web.Request) -> web.Response:
        return _json(self.engine.scenario(request.match_info["run_id"]))

    async def abort_scenario(self, request: web.Request) -> web.Response:
        return _json(await self.engine.abort_scenario(request.match_info["run_id"]))

    async def tape(self, request: web.Request) -> web.StreamResponse:
        path = await self.engine.tape_path()
        return web.FileResponse(
            path,
            headers={
                "Content-Type": "application/x-ndjson",
                "Content-Disposition": f'attachment; filename="{path.name}"',
            },
        )

    async def prometheus(self, request: web.Request) -> web.Response:
        body = self.metrics.render()
        return web.Response(body=body, headers={"Content-Type": self.metrics.content_type})

    # -- the event stream -----------------------------------------------------------------

    async def events(self, request: web.Request) -> web.StreamResponse:
        """WebSocket: events as JSON lines (one object per line, several lines per text
        message when they come together), in order. Query: `filter` (an
        expression), or `charger`, `direction`, `action`, `type` (comma lists); `events`
        (comma list of event names: frame, session_open, session_closed, finding, rule,
        fault, fleet, scenario)."""
        q = request.query
        terms = [q.get("filter", "")]
        for key in ("charger", "direction", "action", "type"):
            if q.get(key):
                terms.append(f"{key}:{q[key]}")
        flt = parse_filter(" ".join(t for t in terms if t))
        wanted = {e for e in q.get("events", "").split(",") if e}
        # no per-message deflate: compressing every event costs the proxy more than the
        # bytes it saves on loopback (bench/proxy_overhead.py --engine)
        ws = web.WebSocketResponse(heartbeat=20, max_msg_size=64 * 1024, compress=False)
        await ws.prepare(request)
        self._streams.add(ws)
        sub = self.engine.bus.subscribe(flt, events=frozenset(wanted) if wanted else None)

        async def watch() -> None:  # the client's side: it only ever closes
            async for _msg in ws:
                pass
            sub.close()

        watcher = spawn(watch(), name="api-events-reader")
        try:
            await ws.send_str(
                orjson.dumps({"event": "hello", "t": time.time(), "filter": flt.text}).decode()
            )
            while not ws.closed:
                try:
                    first = await sub.get()
                except EOFError:
                    break
                # One wake-up per batch, not per frame: under load this is what keeps an
                # attached console cheap for the proxy (bench/proxy_overhead.py --engine).
                await asyncio.sleep(EVENT_BATCH_S)
                batch = [first, *sub.drain(EVENT_BATCH_MAX)]
                dropped, sub.dropped = sub.dropped, 0
                if dropped:
                    batch.insert(0, {"event": "dropped", "count": dropped})
                # JSON lines, a batch per message: a WebSocket frame costs the proxy as
                # much as a relayed one, so one per event would double its work.
                await ws.send_str(
                    b"\n".join(orjson.dumps(item, default=str) for item in batch).decode()
                )
        except ConnectionResetError:
            pass
        finally:
            sub.close()
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            self._streams.discard(ws)
            if not ws.closed:
                await ws.close()
        return ws
