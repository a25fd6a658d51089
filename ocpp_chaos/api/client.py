"""A small async client of the control API (the console, the pytest plugin and the tests
use it):

    async with ApiClient("http://127.0.0.1:8181") as api:
        await api.fire({"type": "signal_loss", "duration": "30s"}, chargers=["CP-1"])
        async with api.events(charger="CP-1") as stream:
            async for event in stream: ...
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import orjson

__all__ = ["ApiClient", "ApiError", "EventStream"]


class ApiError(Exception):
    """The API answered with an error: `status`, `message`, `problems`."""

    def __init__(self, status: int, message: str, problems: list[Any] | None = None) -> None:
        self.status = status
        self.message = message
        self.problems = problems or []
        detail = f"{status}: {message}"
        if self.problems:
            detail += " (" + "; ".join(str(p) for p in self.problems) + ")"
        super().__init__(detail)


class EventStream:
    """The event stream: `async for event in stream` (dicts, in order)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._iter: AsyncIterator[dict[str, Any]] | None = None

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        if self._iter is None:
            self._iter = self._events()
        return self._iter

    async def _events(self) -> AsyncIterator[dict[str, Any]]:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                for line in msg.data.split("\n"):  # JSON lines: one event each
                    if line:
                        yield orjson.loads(line)
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR):
                return

    async def next(self) -> dict[str, Any]:
        """The next event (raises EOFError when the stream has ended)."""
        try:
            return await self.__aiter__().__anext__()
        except StopAsyncIteration:
            raise EOFError("the event stream ended") from None

    async def close(self) -> None:
        await self.ws.close()


class ApiClient:
    """One connection pool to an engine's control API."""

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        return self._session

    async def request(
        self, method: str, path: str, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        """Send one request; the decoded JSON answer, or ApiError."""
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        data = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": "application/json"} if data is not None else None
        async with self._http().request(
            method, self.url + path, data=data, params=query, headers=headers
        ) as resp:
            raw = await resp.read()
            if resp.status >= 400:
                try:
                    err = orjson.loads(raw)
                    raise ApiError(resp.status, err.get("error", ""), err.get("problems"))
                except (orjson.JSONDecodeError, AttributeError):
                    raise ApiError(resp.status, raw.decode("utf-8", "replace")) from None
            if resp.content_type == "application/json":
                return orjson.loads(raw)
            return raw

    # -- resources --------------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        return await self.request("GET", "/api/status")  # type: ignore[no-any-return]

    async def sessions(self, filter: str | None = None) -> list[dict[str, Any]]:
        return await self.request("GET", "/api/sessions", params={"filter": filter})  # type: ignore[no-any-return]

    async def session(self, charger_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/api/sessions/{_seg(charger_id)}")  # type: ignore[no-any-return]

    async def findings(
        self, kind: str | None = None, charger: str | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        params = {"kind": kind, "charger": charger, "limit": limit}
        return await self.request("GET", "/api/findings", params=params)  # type: ignore[no-any-return]

    async def rules(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/api/rules")  # type: ignore[no-any-return]

    async def add_rule(self, rule: Mapping[str, Any]) -> dict[str, Any]:
        return await self.request("POST", "/api/rules", dict(rule))  # type: ignore[no-any-return]

    async def load_rules(self, path: str) -> list[str]:
        answer = await self.request("POST", "/api/rules/load", {"path": str(path)})
        return list(answer["loaded"])

    async def enable_rule(self, name: str) -> dict[str, Any]:
        return await self.request("POST", f"/api/rules/{_seg(name)}/enable")  # type: ignore[no-any-return]

    async def disable_rule(self, name: str) -> dict[str, Any]:
        return await self.request("POST", f"/api/rules/{_seg(name)}/disable")  # type: ignore[no-any-return]

    async def remove_rule(self, name: str) -> None:
        await self.request("DELETE", f"/api/rules/{_seg(name)}")

    async def faults(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/api/faults")  # type: ignore[no-any-return]

    async def fire(
        self,
        fault: Mapping[str, Any],
        chargers: list[str] | None = None,
        *,
        select: str | None = None,
        radius: Mapping[str, Any] | None = None,
        duration: float | str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"fault": dict(fault), "chargers": list(chargers or [])}
        if select is not None:
            body["select"] = select
        if radius is not None:
            body["radius"] = dict(radius)
        if duration is not None:
            body["duration"] = duration
        return await self.request("POST", "/api/faults", body)  # type: ignore[no-any-return]

    async def clear_fault(self, name: str) -> None:
        await self.request("DELETE", f"/api/faults/{_seg(name)}")

    async def clear_faults(self) -> int:
        return int((await self.request("DELETE", "/api/faults"))["cleared"])

    async def fleet(self) -> dict[str, Any]:
        return await self.request("GET", "/api/fleet")  # type: ignore[no-any-return]

    async def add_chargers(self, count: int = 1, **options: Any) -> list[str]:
        answer = await self.request("POST", "/api/fleet", {"count": count, **options})
        return list(answer["added"])

    async def fleet_command(
        self, do: str, chargers: list[str] | None = None, **params: Any
    ) -> dict[str, Any]:
        """e.g. `fleet_command("plug_in", ["SIM-00001"], connector=1)`."""
        body = {"do": do, "chargers": list(chargers or ["all"]), **params}
        return await self.request("POST", "/api/fleet/commands", body)  # type: ignore[no-any-return]

    async def scenarios(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/api/scenarios")  # type: ignore[no-any-return]

    async def start_scenario(
        self, path: str, *, seed: int | None = None, scale: float | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"path": str(path)}
        if seed is not None:
            body["seed"] = seed
        if scale is not None:
            body["scale"] = scale
        return await self.request("POST", "/api/scenarios", body)  # type: ignore[no-any-return]

    async def scenario(self, run_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/api/scenarios/{_seg(run_id)}")  # type: ignore[no-any-return]

    async def abort_scenario(self, run_id: str) -> dict[str, Any]:
        return await self.request("POST", f"/api/scenarios/{_seg(run_id)}/abort")  # type: ignore[no-any-return]

    async def tape(self) -> bytes:
        return bytes(await self.request("GET", "/api/tape"))

    async def metrics(self) -> str:
        raw = await self.request("GET", "/metrics")
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def openapi(self) -> dict[str, Any]:
        return await self.request("GET", "/api/openapi.json")  # type: ignore[no-any-return]

    @contextlib.asynccontextmanager
    async def events(self, **query: str | None) -> AsyncIterator[EventStream]:
        """Open the event stream (query: filter, charger, direction, action, type, events);
        the first event is `hello`."""
        params = {k: v for k, v in query.items() if v is not None}
        ws_url = self.url.replace("http", "ws", 1) + "/api/events"
        ws = await self._http().ws_connect(ws_url, params=params, heartbeat=30)
        stream = EventStream(ws)
        try:
            yield stream
        finally:
            await stream.close()


def _seg(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")
