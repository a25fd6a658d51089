"""Record what a real engine's control API answers, for the console's snapshot tests.

    .venv/bin/python -m tests.console.record        # rewrites tests/console/data/recorded.json

An engine (embedded reference CSMS, proxy, API on 127.0.0.1 port 0) gets three virtual
chargers, a rule, a transaction, a corrupted frame and a fault; the event stream is read
meanwhile. The answers (status, sessions, each session's detail, findings, rules, faults,
fleet, scenarios) and the events are written as they came; the snapshots then show the
same screen on any machine and at any time. Run it again when the API's shapes change
(then `pytest tests/console --snapshot-update`, and read the new snapshots).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import structlog

from ocpp_chaos.api.client import ApiClient
from ocpp_chaos.api.engine import Engine
from ocpp_chaos.api.server import ApiServer
from ocpp_chaos.proxy.oracle import OracleConfig

OUT = Path(__file__).parent / "data" / "recorded.json"


async def _until(predicate: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


async def record() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        # A 1 ms "slow" threshold, so the quick reference CSMS earns some findings.
        engine = await Engine.build(
            tape=Path(tmp) / "tape.jsonl", oracle=OracleConfig(slow_threshold=0.001)
        )
        async with engine:
            server = ApiServer(engine, port=0)
            async with server, ApiClient(server.url) as api:
                events: list[dict[str, Any]] = []
                async with api.events() as stream:
                    hello = await stream.next()
                    assert hello["event"] == "hello"

                    async def read() -> None:
                        async for event in stream:
                            events.append(event)

                    reader = asyncio.ensure_future(read())
                    ids = await api.add_chargers(3, protocol="mixed")
                    await _until(lambda: all(engine.chargers[i].booted for i in ids))
                    await api.add_rule(
                        {
                            "name": "slow-heartbeats",
                            "description": "heartbeat answers 2 s late",
                            "match": {"direction": "down", "action": "Heartbeat"},
                            "fault": {"type": "delay", "delay": "2s"},
                        }
                    )
                    await api.add_rule(
                        {
                            "name": "lost-meter-values",
                            "enabled": False,
                            "match": {"direction": "up", "action": "MeterValues"},
                            "probability": 0.1,
                            "fault": {"type": "drop"},
                        }
                    )
                    await api.fleet_command("start_transaction", [ids[0]])
                    await api.fire({"type": "corrupt", "mode": "wrong_type"}, [ids[1]])
                    await api.fleet_command("plug_in", [ids[1]])
                    await api.add_rule(
                        {
                            "name": "slow-status-answer",
                            "match": {
                                "charger": [ids[2]],
                                "direction": "down",
                                "message": "result",
                                "action": "StatusNotification",
                            },
                            "first": 1,
                            "fault": {"type": "delay", "delay": "2100ms"},
                        }
                    )
                    await api.fleet_command("plug_in", [ids[2]])
                    await api.fire({"type": "latency", "fixed": "50ms"}, [ids[2]], duration=600)
                    await api.fleet_command("unplug", [ids[2]])
                    data = {
                        "status": await api.status(),
                        "sessions": await api.sessions(),
                        "session": {i: await api.session(i) for i in ids},
                        "findings": await api.findings(),
                        "rules": await api.rules(),
                        "faults": await api.faults(),
                        "fleet": await api.fleet(),
                        "scenarios": await api.scenarios(),
                    }
                    reader.cancel()
                    await asyncio.gather(reader, return_exceptions=True)
                data["events"] = events
                data["status"]["tape"] = None  # the temporary directory is gone
                data["status"]["api"] = "http://127.0.0.1:8181"
                return data


def main() -> int:
    logging.getLogger().setLevel(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    data = asyncio.run(record())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(data['sessions'])} sessions, {len(data['events'])} events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
