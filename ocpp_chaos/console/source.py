"""Where the console's data comes from: one small interface.

`ApiClient` (the control API) is the real source. `RecordedSource` serves answers captured
once from a real engine (a JSON file), so a screen can be shown, tested and snapshotted
without a live engine's changing clocks; what an operator asks of it is recorded in
`calls`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Protocol

__all__ = ["ConsoleSource", "RecordedSource"]


class ConsoleSource(Protocol):
    """What the console asks of an engine (the `ApiClient` methods it uses)."""

    url: str

    async def status(self) -> dict[str, Any]: ...

    async def sessions(self, filter: str | None = None) -> list[dict[str, Any]]: ...

    async def session(self, charger_id: str) -> dict[str, Any]: ...

    async def findings(
        self, kind: str | None = None, charger: str | None = None, limit: int | None = None
    ) -> dict[str, Any]: ...

    async def rules(self) -> list[dict[str, Any]]: ...

    async def enable_rule(self, name: str) -> dict[str, Any]: ...

    async def disable_rule(self, name: str) -> dict[str, Any]: ...

    async def faults(self) -> list[dict[str, Any]]: ...

    async def fire(
        self,
        fault: Mapping[str, Any],
        chargers: list[str] | None = None,
        *,
        select: str | None = None,
        radius: Mapping[str, Any] | None = None,
        duration: float | str | None = None,
    ) -> dict[str, Any]: ...

    async def clear_faults(self) -> int: ...

    async def fleet(self) -> dict[str, Any]: ...

    async def add_chargers(self, count: int = 1, **options: Any) -> list[str]: ...

    async def fleet_command(
        self, do: str, chargers: list[str] | None = None, **params: Any
    ) -> dict[str, Any]: ...

    async def scenarios(self) -> list[dict[str, Any]]: ...

    async def start_scenario(
        self, path: str, *, seed: int | None = None, scale: float | None = None
    ) -> dict[str, Any]: ...

    async def abort_scenario(self, run_id: str) -> dict[str, Any]: ...

    def events(
        self, **query: str | None
    ) -> contextlib.AbstractAsyncContextManager[AsyncIterable[dict[str, Any]]]: ...


class RecordedSource:
    """Answers recorded from a real engine: a dict (or JSON file) with the keys `status`,
    `sessions`, `session` (charger id → answer), `findings`, `rules`, `faults`, `fleet`,
    `scenarios` and `events` (the event stream, served once, then silence)."""

    url = "recorded"

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data: dict[str, Any] = copy.deepcopy(dict(data))
        self.calls: list[tuple[str, Any]] = []
        """What was asked of it, in order: (method, arguments)."""

    @classmethod
    def from_file(cls, path: str | Path) -> RecordedSource:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def _get(self, key: str, default: Any) -> Any:
        return copy.deepcopy(self.data.get(key, default))

    async def status(self) -> dict[str, Any]:
        return dict(self._get("status", {}))

    async def sessions(self, filter: str | None = None) -> list[dict[str, Any]]:
        sessions: list[dict[str, Any]] = self._get("sessions", [])
        if filter:
            from ocpp_chaos.api.filters import parse_filter

            flt = parse_filter(filter)
            sessions = [s for s in sessions if flt.select([s["charger_id"]])]
        return sessions

    async def session(self, charger_id: str) -> dict[str, Any]:
        from ocpp_chaos.api.client import ApiError

        answer = self._get("session", {}).get(charger_id)
        if answer is None:
            raise ApiError(404, f"no session of charger {charger_id!r}")
        return dict(answer)

    async def findings(
        self, kind: str | None = None, charger: str | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        return dict(self._get("findings", {"counts": {}, "findings": []}))

    async def rules(self) -> list[dict[str, Any]]:
        return list(self._get("rules", []))

    async def _set_rule(self, name: str, enabled: bool) -> dict[str, Any]:
        self.calls.append(("enable_rule" if enabled else "disable_rule", name))
        for rule in self.data.get("rules", []):
            if rule["name"] == name:
                rule["enabled"] = enabled
                return dict(rule)
        from ocpp_chaos.api.client import ApiError

        raise ApiError(404, f"no rule named {name!r}")

    async def enable_rule(self, name: str) -> dict[str, Any]:
        return await self._set_rule(name, True)

    async def disable_rule(self, name: str) -> dict[str, Any]:
        return await self._set_rule(name, False)

    async def faults(self) -> list[dict[str, Any]]:
        return list(self._get("faults", []))

    async def fire(
        self,
        fault: Mapping[str, Any],
        chargers: list[str] | None = None,
        *,
        select: str | None = None,
        radius: Mapping[str, Any] | None = None,
        duration: float | str | None = None,
    ) -> dict[str, Any]:
        args: dict[str, Any] = {
            "fault": dict(fault),
            "chargers": list(chargers or []),
            "select": select,
            "duration": duration,
        }
        self.calls.append(("fire", args))
        return {"name": f"op-{len(self.calls)}", **args}

    async def clear_faults(self) -> int:
        self.calls.append(("clear_faults", None))
        return 0

    async def fleet(self) -> dict[str, Any]:
        return dict(self._get("fleet", {"count": 0, "states": {}, "chargers": []}))

    async def add_chargers(self, count: int = 1, **options: Any) -> list[str]:
        self.calls.append(("add_chargers", {"count": count, **options}))
        return []

    async def fleet_command(
        self, do: str, chargers: list[str] | None = None, **params: Any
    ) -> dict[str, Any]:
        self.calls.append(("fleet_command", {"do": do, "chargers": chargers, **params}))
        return {"do": do, "chargers": chargers or [], "done": len(chargers or []), "errors": {}}

    async def scenarios(self) -> list[dict[str, Any]]:
        return list(self._get("scenarios", []))

    async def start_scenario(
        self, path: str, *, seed: int | None = None, scale: float | None = None
    ) -> dict[str, Any]:
        self.calls.append(("start_scenario", path))
        return {"id": "run-recorded", "path": path, "name": path, "status": "running"}

    async def abort_scenario(self, run_id: str) -> dict[str, Any]:
        self.calls.append(("abort_scenario", run_id))
        return {"id": run_id, "status": "aborted"}

    @contextlib.asynccontextmanager
    async def events(self, **query: str | None) -> AsyncIterator[AsyncIterable[dict[str, Any]]]:
        yield self._replay()

    async def _replay(self) -> AsyncIterator[dict[str, Any]]:
        yield {"event": "hello", "t": 0.0, "filter": ""}
        for event in self._get("events", []):
            yield event
        await asyncio.Event().wait()  # then silence, as a quiet engine
