"""How many virtual chargers one process holds: RSS per charger, boots per second, CPU.

A minimal fast CSMS (an aiohttp server that answers every CALL at once) runs in a child
process; this process runs the fleet (`ocpp_chaos.simulator.fleet.run_fleet`, no EV sessions,
mixed 1.6/2.0.1 unless told otherwise) and measures itself: its RSS before the fleet and once
N chargers are booted and idle (heartbeats due every `--heartbeat` s, meter values off), the
time from the first connection to the last boot (boots/s), and its CPU per charger over a
steady-state window.

    python bench/fleet_scale.py [--counts 1000,5000,10000] [--protocol mixed] [--ramp 2000]

Figures are printed, never asserted. Targets: <= 50 KiB per charger, >= 1,000 boots/s.
Traffic stays on 127.0.0.1; every run stops by itself (bounded by --time-limit).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import sys
import time
from typing import Any

CSMS = r"""
import asyncio, json, sys
from aiohttp import web, WSMsgType
NOW = "2026-11-25T00:00:00.000Z"
ANSWERS = {"BootNotification": {"status": "Accepted", "currentTime": NOW, "interval": %d},
           "Heartbeat": {"currentTime": NOW}}
async def handler(request):
    ws = web.WebSocketResponse(protocols=["ocpp1.6", "ocpp2.0.1"], compress=False)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            frame = json.loads(msg.data)
            if frame[0] == 2:
                await ws.send_str(json.dumps([3, frame[1], ANSWERS.get(frame[2], {})]))
    return ws
async def main():
    app = web.Application(); app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None); await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096); await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
try:
    import uvloop
    uvloop.run(main())
except ImportError:
    asyncio.run(main())
"""

TARGET_KIB = 50.0
TARGET_BOOTS = 1000.0


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(count: int, args: argparse.Namespace, url: str) -> dict[str, Any]:
    from ocpp_chaos.simulator.fleet import FleetConfig, run_fleet

    gc.collect()
    before = rss_kib()
    stop = asyncio.Event()
    cfg = FleetConfig(
        target=url,
        count=count,
        protocol=args.protocol,
        ramp=args.ramp,
        duration=args.time_limit,
        sessions=False,
        seed=1,
    )
    result: dict[str, Any] = {"chargers": count}
    started = time.monotonic()
    cpu_started = cpu_s()
    chargers_ref: list[Any] = []

    all_booted = asyncio.Event()

    def progress(summary: Any) -> None:
        if "boot_s" not in result and summary.booted >= count:
            result["boot_s"] = time.monotonic() - started
            result["boot_cpu_percent"] = (cpu_s() - cpu_started) / result["boot_s"] * 100
            all_booted.set()

    async def steady() -> None:
        await all_booted.wait()
        await asyncio.sleep(1.0)
        gc.collect()
        result["rss_kib"] = rss_kib() - before
        c0, t0 = cpu_s(), time.monotonic()
        await asyncio.sleep(args.steady)
        result["cpu_per_charger_us_per_s"] = (cpu_s() - c0) / (time.monotonic() - t0) / count * 1e6
        stop.set()

    watcher = asyncio.ensure_future(steady())
    summary, chargers_ref = await run_fleet(cfg, stop, progress=progress, progress_every=0.2)
    watcher.cancel()
    if "boot_s" in result:
        result["boots_per_s"] = count / result["boot_s"]
        result["kib_per_charger"] = result["rss_kib"] / count if "rss_kib" in result else None
    result["booted"] = summary.booted
    del chargers_ref
    gc.collect()
    return result


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the CSMS child
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    logging.getLogger().setLevel(logging.ERROR)
    csms = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CSMS % args.heartbeat,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert csms.stdout is not None
        port = int(await csms.stdout.readline())
        url = f"ws://127.0.0.1:{port}/ocpp"
        out = []
        for count in args.counts:
            print(f"  {count} chargers ...", file=sys.stderr, flush=True)
            out.append(await asyncio.wait_for(measure(count, args, url), args.time_limit + 60))
        return out
    finally:
        if csms.stdin is not None:
            csms.stdin.close()
        try:
            await asyncio.wait_for(csms.wait(), 10)
        except TimeoutError:
            csms.kill()
            await csms.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument(
        "--counts", type=lambda s: [int(x) for x in s.split(",")], default=[1000, 5000, 10000]
    )
    p.add_argument("--protocol", default="mixed", choices=["1.6", "2.0.1", "mixed"])
    p.add_argument("--ramp", type=float, default=2000.0, help="chargers started per second")
    p.add_argument("--heartbeat", type=int, default=60, help="heartbeat interval given at boot")
    p.add_argument("--steady", type=float, default=5.0, help="steady-state CPU window (s)")
    p.add_argument("--time-limit", type=float, default=120.0, help="per count (s)")
    p.add_argument(
        "--loop",
        choices=["auto", "asyncio", "uvloop"],
        default="auto",
        help="event loop (auto: uvloop when installed, as `ocpp-chaos fleet` does)",
    )
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    factory = None
    if args.loop in ("auto", "uvloop"):
        try:
            import uvloop

            factory = uvloop.new_event_loop
        except ImportError:
            if args.loop == "uvloop":
                raise
    args.loop_name = "uvloop" if factory is not None else "asyncio"
    with asyncio.Runner(loop_factory=factory) as runner:
        results = runner.run(run(args))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"ocpp-chaos fleet scale -- {args.protocol} chargers, no EV sessions, heartbeat "
        f"{args.heartbeat} s; {args.loop_name}; {os.cpu_count()} cores; "
        f"Python {sys.version.split()[0]}"
    )
    print(
        f"{'chargers':>9} {'booted':>7} {'boots/s':>9} {'boot CPU %':>11} {'KiB/charger':>12} "
        f"{'CPU us/s each':>14}"
    )
    for r in results:
        print(
            f"{r['chargers']:9d} {r['booted']:7d} {r.get('boots_per_s', 0):9.0f} "
            f"{r.get('boot_cpu_percent', 0):11.0f} "
            f"{r.get('kib_per_charger') or 0:12.1f} {r.get('cpu_per_charger_us_per_s', 0):14.1f}"
        )
    print(f"targets: <= {TARGET_KIB:.0f} KiB per charger, >= {TARGET_BOOTS:.0f} boots/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
