"""Measure what the ocpp-chaos proxy costs: throughput, added latency, memory per session.

Run: `python bench/proxy_overhead.py [--chargers N] [--seconds S] [--idle 1000,5000]
[--uvloop | --both-loops] [--no-schema] [--json] [--profile]`. Nothing is asserted: the
figures are printed next to their targets.

How it measures
---------------
Processes. The proxy (`ProxyServer`) runs alone in a child process (this file run with
`--child-proxy`), on asyncio or uvloop; it prints its port and then obeys one-line commands
on stdin (`gc`, `sessions`, `info`, `prof-on`, `prof-off`, `quit`). The load generator --
the chargers (aiohttp clients) and a minimal echo CSMS (an aiohttp WebSocket server that
answers every CALL at once with a schema-valid CALLRESULT) -- lives in this parent process,
on asyncio unless `--load-uvloop`. Direct and proxied runs use the same parent, the same
chargers' code and the same echo CSMS; the only difference is the URL. Parent and proxy
compete for the same cores (2 on the reference machine): the CPU each used is printed so a
reader can see which side was saturated.

Frames. Chargers negotiate `ocpp1.6` (so the proxy's schema check applies) and send 9
MeterValues CALLs (5 sampled values, ~610 bytes) for every Heartbeat CALL; the echo CSMS
answers `{}` or `{"currentTime": ...}`. Every frame is valid against the OCPP 1.6 schemas
(checked at start-up), so the proxied run exercises the common, valid path.

1. Throughput. N chargers each keep exactly one CALL in flight (send, await the CALLRESULT,
   repeat) for S seconds after a short warm-up, first directly against the echo CSMS, then
   through the proxy, on fresh connections each time. Only completed round trips inside
   the measuring window count. Printed: round trips/s both ways, proxied/direct, and the
   CPU used by the proxy process (from /proc/<pid>/stat) and by this process (getrusage),
   with the proxy's CPU time per round trip.
2. Added latency. The same chargers send on a fixed schedule: round trip k of charger i
   is due at t0 + (i + k*N)/rate (rate ~1,000 round trips/s in total), so the load is
   paced, not flat-out. Latency is taken from just before the send to the CALLRESULT's
   arrival; a warm-up is discarded; sends that start >1 ms after their due time are
   counted as late. Printed: p50, p99 and max directly and proxied, and the added p50/p99
   (proxied minus direct), in ms.
3. Memory per idle proxied session. A fresh proxy process opens and closes a few sessions
   (to pay one-time costs), collects garbage, and its VmRSS (/proc/<pid>/status) is read.
   Then K idle chargers are connected through it (K ascending, each step adding to the
   last), and after a settle time, a `gc` in the proxy and a check that it holds K sessions,
   VmRSS is read again. Printed: (RSS after - RSS before) / K, in KiB. RLIMIT_NOFILE is
   raised to the hard limit in both processes (each holds ~2K sockets); a K that does not
   fit is skipped with a note.

Noise. The load generator pins glibc's malloc thresholds (see `pin_malloc`): without it the
same asyncio process ran 15k or 35k direct round trips/s depending on allocator state. The
proxy keeps glibc's defaults, as users run it, unless `--pin-malloc-proxy`. Each throughput
run also reads the whole machine's busy and steal time (/proc/stat) and warns when other
processes took CPU meanwhile. Memory runs come after all throughput and latency runs.

Every phase runs under a timeout and all connections and the child are closed at the end.
`--profile` adds a last phase: proxied throughput with cProfile on in the proxy, whose top
functions are printed (cProfile slows the proxy, so this phase's rate is not a figure).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import WSMsgType, web

from ocpp_chaos.aio import spawn

PROTOCOL = "ocpp1.6"
MAX_MSG = 2 * 1024 * 1024
CONNECT_CONCURRENCY = 64
WARMUP_S = 0.5
SETTLE_S = 1.0
LATE_S = 0.001
SCRIPT = os.path.abspath(__file__)
TIMESTAMP = "2026-11-25T20:00:00.000Z"

TARGET_RATIO = {"asyncio": 0.5, "uvloop": 0.7}
TARGET_ADDED_P99_MS = 2.0
TARGET_KIB_PER_SESSION = 40.0

_METER_VALUES: dict[str, Any] = {
    "connectorId": 1,
    "transactionId": 42,
    "meterValue": [
        {
            "timestamp": TIMESTAMP,
            "sampledValue": [
                {
                    "value": "12345.6",
                    "context": "Sample.Periodic",
                    "measurand": "Energy.Active.Import.Register",
                    "unit": "Wh",
                },
                {
                    "value": "7200",
                    "context": "Sample.Periodic",
                    "measurand": "Power.Active.Import",
                    "unit": "W",
                },
                {
                    "value": "31.2",
                    "context": "Sample.Periodic",
                    "measurand": "Current.Import",
                    "phase": "L1",
                    "unit": "A",
                },
                {
                    "value": "230.1",
                    "context": "Sample.Periodic",
                    "measurand": "Voltage",
                    "phase": "L1-N",
                    "unit": "V",
                },
                {
                    "value": "54",
                    "context": "Sample.Periodic",
                    "measurand": "SoC",
                    "location": "EV",
                    "unit": "Percent",
                },
            ],
        }
    ],
}
METER_VALUES_PAYLOAD = orjson.dumps(_METER_VALUES).decode()
HEARTBEAT_EVERY = 10  # 1 Heartbeat for 9 MeterValues
RESULTS = {
    "Heartbeat": orjson.dumps({"currentTime": TIMESTAMP}).decode(),
    "MeterValues": "{}",
}


def call_frame(unique_id: str, k: int) -> str:
    """The k-th CALL of a charger: MeterValues, every HEARTBEAT_EVERY-th a Heartbeat."""
    if k % HEARTBEAT_EVERY == 0:
        return f'[2,"{unique_id}","Heartbeat",{{}}]'
    return f'[2,"{unique_id}","MeterValues",{METER_VALUES_PAYLOAD}]'


# --------------------------------------------------------------------------- helpers


def raise_nofile() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pin_malloc() -> bool:
    """Fix glibc's mmap and trim thresholds (1 MiB, 8 MiB); True if it worked.

    asyncio reads with `recv(256 KiB)`. Under glibc's default, dynamic mmap threshold
    (128 KiB until a large mmapped block is freed) every read costs an mmap, an mremap and a
    munmap, and a process flips to the fast state at some unpredictable free: the same
    asyncio process measured 15k or 35k round trips/s. Pinning makes it deterministic.
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(
            libc.mallopt(m_mmap_threshold, 1 << 20) and libc.mallopt(m_trim_threshold, 8 << 20)
        )
    except (OSError, AttributeError):
        return False


def rss_kib(pid: int) -> int:
    """VmRSS of a process, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    # After the command name: state is field 3, utime 14, stime 15 (1-based, man 5 proc).
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def machine_cpu() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle, iowait, steal = values[3], values[4], values[7] if len(values) > 7 else 0
    busy = sum(values[:8]) - idle - iowait - steal
    return busy / _CLK_TCK, steal / _CLK_TCK


def self_cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank q-quantile (0..1) of an ascending sequence."""
    if not ordered:
        return float("nan")
    rank = min(len(ordered), max(1, math.ceil(q * len(ordered))))
    return ordered[rank - 1]


def new_loop_factory(use_uvloop: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if not use_uvloop:
        return None
    import uvloop

    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name() -> str:
    loop = asyncio.get_running_loop()
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


# --------------------------------------------------------------------------- the proxy child


async def child_main(
    upstream: str,
    check_schema: bool,
    malloc_pinned: bool,
    rules_file: str | None = None,
    engine: bool = False,
) -> None:
    """Run a ProxyServer and obey commands on stdin, one per line, one JSON reply each."""
    import cProfile
    import io
    import pstats

    from ocpp_chaos import log
    from ocpp_chaos.proxy import ProxyConfig, ProxyServer

    raise_nofile()
    log.configure(headless=True, level="warning")
    rules = []
    if rules_file:
        from ocpp_chaos.rules import load_rule_file

        rules = load_rule_file(rules_file).rules
    proxy = ProxyServer(
        ProxyConfig(upstream=upstream, listen_port=0, check_schema=check_schema), rules=rules
    )
    await proxy.start()
    api = None
    if engine:  # as `ocpp-chaos proxy` runs it: the engine and its control API
        from ocpp_chaos.api.engine import Engine
        from ocpp_chaos.api.server import ApiServer

        api = ApiServer(Engine(proxy), "127.0.0.1", 0)
        await api.start()
    print(json.dumps({"port": proxy.port, "api": api.port if api else None}), flush=True)
    # Commands arrive on a pipe read by the loop itself: no helper thread to skew profiles.
    stdin = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin
    )
    profiler: cProfile.Profile | None = None
    try:
        while True:
            line = (await stdin.readline()).decode()
            cmd = line.strip()
            reply: Any = "ok"
            if cmd in ("", "quit"):
                break
            if cmd == "gc":
                gc.collect()
            elif cmd == "sessions":
                reply = len(proxy.sessions)
            elif cmd == "info":
                reply = {
                    "loop": loop_name(),
                    "check_schema": check_schema,
                    "malloc_pinned": malloc_pinned,
                    "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
                }
            elif cmd == "prof-on":
                profiler = cProfile.Profile()
                profiler.enable()
            elif cmd == "prof-off" and profiler is not None:
                profiler.disable()
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out)
                stats.sort_stats("tottime").print_stats(25)
                reply = out.getvalue()
                profiler = None
            else:
                reply = f"unknown command {cmd!r}"
            print(json.dumps({"reply": reply}), flush=True)
    finally:
        if api is not None:
            await api.stop()
        await proxy.stop()


class ProxyChild:
    """The proxy process, seen from the parent."""

    def __init__(
        self,
        upstream: str,
        *,
        use_uvloop: bool,
        check_schema: bool,
        pin_malloc: bool = False,
        rules_file: str | None = None,
        engine: bool = False,
    ) -> None:
        self.upstream = upstream
        self.rules_file = rules_file
        self.engine = engine
        self.api_port: int | None = None
        self.pin_malloc = pin_malloc
        self.use_uvloop = use_uvloop
        self.check_schema = check_schema
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        argv = [sys.executable, SCRIPT, "--child-proxy", self.upstream]
        if self.use_uvloop:
            argv.append("--uvloop")
        if not self.check_schema:
            argv.append("--no-schema")
        if self.pin_malloc:
            argv.append("--pin-malloc-proxy")
        if self.rules_file:
            argv += ["--child-rules", self.rules_file]
        if self.engine:
            argv.append("--engine")
        self.proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        ready = await self._read()
        self.port = int(ready["port"])
        self.api_port = ready.get("api")

    async def _read(self, timeout: float = 30.0) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the proxy child exited")
        value: dict[str, Any] = json.loads(line)
        return value

    async def command(self, cmd: str, timeout: float = 30.0) -> Any:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(cmd.encode() + b"\n")
        await self.proc.stdin.drain()
        return (await self._read(timeout))["reply"]

    async def stop(self, timeout: float = 15.0) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(Exception):
            assert proc.stdin is not None
            proc.stdin.write(b"quit\n")
            await proc.stdin.drain()
            proc.stdin.close()
        try:
            async with asyncio.timeout(timeout):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


# --------------------------------------------------------------------------- echo CSMS


class EchoCSMS:
    """Answers every CALL with a CALLRESULT at once (`{}`, or the time for a Heartbeat)."""

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.connections = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=(PROTOCOL,), compress=False, max_msg_size=MAX_MSG)
        await ws.prepare(request)
        self.connections += 1
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                frame = orjson.loads(msg.data)
                if frame[0] == 2:
                    result = RESULTS.get(frame[2], "{}")
                    await ws.send_str(f'[3,"{frame[1]}",{result}]')
        finally:
            self.connections -= 1
        return ws


# --------------------------------------------------------------------------- chargers

Charger = aiohttp.ClientWebSocketResponse


async def open_chargers(
    session: aiohttp.ClientSession, base: str, n: int, prefix: str
) -> list[Charger]:
    """Connect n chargers to f"{base}/{prefix}{i}" (bounded concurrency)."""
    sem = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(i: int) -> Charger:
        async with sem:
            return await session.ws_connect(
                f"{base}/{prefix}{i}",
                protocols=(PROTOCOL,),
                compress=0,
                max_msg_size=MAX_MSG,
                autoping=True,
            )

    results = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
    opened = [r for r in results if isinstance(r, aiohttp.ClientWebSocketResponse)]
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        await close_chargers(opened)
        raise RuntimeError(f"{len(errors)} of {n} chargers failed to connect: {errors[0]!r}")
    return opened


async def close_chargers(wss: Sequence[Charger], timeout: float = 20.0) -> None:
    sem = asyncio.Semaphore(256)

    async def one(ws: Charger) -> None:
        async with sem:
            await ws.close()

    try:
        async with asyncio.timeout(timeout):
            await asyncio.gather(*(one(ws) for ws in wss), return_exceptions=True)
    except TimeoutError:
        pass


async def round_trip(ws: Charger, unique_id: str, k: int) -> None:
    await ws.send_str(call_frame(unique_id, k))
    msg = await ws.receive()
    if msg.type is not WSMsgType.TEXT or not msg.data.startswith(f'[3,"{unique_id}"'):
        raise RuntimeError(f"unexpected answer {msg.type} {str(msg.data)[:80]!r}")


# --------------------------------------------------------------------------- measurements


@dataclass
class Throughput:
    rt_per_s: float
    round_trips: int
    seconds: float
    load_cpu_cores: float
    machine_busy_cores: float
    machine_steal_cores: float
    proxy_cpu_cores: float | None = None
    proxy_cpu_us_per_rt: float | None = None


async def measure_throughput(
    session: aiohttp.ClientSession,
    base: str,
    n: int,
    seconds: float,
    proxy_pid: int | None,
    prefix: str,
) -> Throughput:
    wss = await open_chargers(session, base, n, prefix)
    done = 0
    stop = False

    async def charger(i: int, ws: Charger) -> None:
        nonlocal done
        k = 0
        while not stop:
            k += 1
            await round_trip(ws, f"{i}-{k}", k)
            done += 1

    tasks = [asyncio.create_task(charger(i, ws)) for i, ws in enumerate(wss)]
    try:
        await asyncio.sleep(WARMUP_S)
        c0, t0, l0, m0 = done, time.perf_counter(), self_cpu_seconds(), machine_cpu()
        p0 = cpu_seconds(proxy_pid) if proxy_pid else 0.0
        await asyncio.sleep(seconds)
        c1, t1, l1, m1 = done, time.perf_counter(), self_cpu_seconds(), machine_cpu()
        p1 = cpu_seconds(proxy_pid) if proxy_pid else 0.0
        stop = True
        async with asyncio.timeout(10):
            await asyncio.gather(*tasks)
    finally:
        stop = True
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await close_chargers(wss)
    wall, count = t1 - t0, c1 - c0
    out = Throughput(
        rt_per_s=count / wall,
        round_trips=count,
        seconds=wall,
        load_cpu_cores=(l1 - l0) / wall,
        machine_busy_cores=(m1[0] - m0[0]) / wall,
        machine_steal_cores=(m1[1] - m0[1]) / wall,
    )
    if proxy_pid:
        out.proxy_cpu_cores = (p1 - p0) / wall
        out.proxy_cpu_us_per_rt = (p1 - p0) / max(count, 1) * 1e6
    return out


@dataclass
class Latency:
    p50_ms: float
    p99_ms: float
    max_ms: float
    samples: int
    late_sends: int
    rate_achieved: float


async def measure_latency(
    session: aiohttp.ClientSession,
    base: str,
    n: int,
    rate: float,
    seconds: float,
    prefix: str,
) -> Latency:
    wss = await open_chargers(session, base, n, prefix)
    loop = asyncio.get_running_loop()
    samples: list[float] = []
    late = 0
    t0 = loop.time() + 0.1
    measure_from = t0 + WARMUP_S
    end = measure_from + seconds

    async def charger(i: int, ws: Charger) -> None:
        nonlocal late
        k = 0
        while True:
            due = t0 + (i + k * n) / rate
            if due >= end:
                return
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            k += 1
            start = time.perf_counter()
            await round_trip(ws, f"{i}-{k}", k)
            if due >= measure_from:
                samples.append(time.perf_counter() - start)
                if -delay > LATE_S:
                    late += 1

    try:
        async with asyncio.timeout(seconds + WARMUP_S + 30):
            await asyncio.gather(*(charger(i, ws) for i, ws in enumerate(wss)))
    finally:
        await close_chargers(wss)
    samples.sort()
    return Latency(
        p50_ms=percentile(samples, 0.50) * 1000,
        p99_ms=percentile(samples, 0.99) * 1000,
        max_ms=samples[-1] * 1000 if samples else float("nan"),
        samples=len(samples),
        late_sends=late,
        rate_achieved=len(samples) / seconds,
    )


@dataclass
class Memory:
    sessions: int
    rss_before_kib: int
    rss_after_kib: int
    kib_per_session: float
    sessions_in_proxy: int


async def measure_memory(
    session: aiohttp.ClientSession,
    child: ProxyChild,
    counts: Sequence[int],
) -> tuple[list[Memory], list[str]]:
    notes: list[str] = []
    # One-time costs (imports, first connection, validators) before the baseline.
    warm = await open_chargers(session, child.url, 20, "warm")
    await close_chargers(warm)
    await asyncio.sleep(SETTLE_S)
    await child.command("gc")
    before = rss_kib(child.pid)
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    results: list[Memory] = []
    opened: list[Charger] = []
    try:
        for k in sorted(counts):
            if 2 * k + 200 > limit:
                notes.append(
                    f"skipped {k} idle sessions: needs ~{2 * k + 200} fds per process, "
                    f"RLIMIT_NOFILE is {limit}"
                )
                continue
            prefix = f"idle{len(opened)}-"
            opened += await open_chargers(session, child.url, k - len(opened), prefix)
            await asyncio.sleep(SETTLE_S)
            in_proxy = int(await child.command("sessions"))
            await child.command("gc")
            after = rss_kib(child.pid)
            results.append(Memory(k, before, after, (after - before) / k, in_proxy))
    finally:
        await close_chargers(opened, timeout=60)
    return results, notes


@dataclass
class LoopReport:
    loop: str
    check_schema: bool
    throughput_direct: Throughput
    throughput_proxied: Throughput
    ratio: float
    latency_direct: Latency
    latency_proxied: Latency
    added_p50_ms: float
    added_p99_ms: float
    memory: list[Memory]
    ratios: list[float] = field(default_factory=list)
    """Every repeat's ratio, sorted; the reported pair is the median one."""
    notes: list[str] = field(default_factory=list)
    profile: str | None = None


def client_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=None, connect=10),
    )


async def drain_events(session: aiohttp.ClientSession, api_port: int) -> None:
    """Read the engine's event stream as an attached console does."""
    async with session.ws_connect(f"ws://127.0.0.1:{api_port}/api/events") as ws:
        async for _msg in ws:
            pass


async def run_load(args: argparse.Namespace, echo: EchoCSMS, use_uvloop: bool) -> LoopReport:
    """Throughput and latency, direct and through a proxy child on the chosen loop."""
    async with client_session() as session:
        child = ProxyChild(
            echo.url,
            use_uvloop=use_uvloop,
            check_schema=not args.no_schema,
            pin_malloc=args.pin_malloc_proxy,
            engine=args.engine,
        )
        await child.start()
        console = None
        if child.api_port and not args.no_console:  # a console attached: every event streamed
            console = spawn(drain_events(session, child.api_port), name="bench-console")
        try:
            info = await child.command("info")
            say(
                f"  proxy pid {child.pid}: {info['loop']}, schema check "
                f"{'on' if info['check_schema'] else 'off'}, malloc pinned {info['malloc_pinned']}"
            )
            n, s = args.chargers, args.seconds
            # Direct and proxied alternate `--repeat` times; the pair with the median ratio
            # is reported, so one disturbed window on this shared machine does not decide.
            pairs = []
            for r in range(args.repeat):
                say(f"  throughput: direct ({r + 1}/{args.repeat}) ...")
                d = await measure_throughput(session, echo.url, n, s, None, f"direct{r}")
                say(f"  throughput: proxied ({r + 1}/{args.repeat}) ...")
                p = await measure_throughput(session, child.url, n, s, child.pid, f"proxied{r}")
                pairs.append((p.rt_per_s / d.rt_per_s, d, p))
            pairs.sort(key=lambda x: x[0])
            ratios = [round(x[0], 3) for x in pairs]
            _ratio, t_direct, t_proxied = pairs[len(pairs) // 2]
            say("  latency: direct ...")
            l_direct = await measure_latency(session, echo.url, n, args.rate, s, "ldirect")
            say("  latency: proxied ...")
            l_proxied = await measure_latency(session, child.url, n, args.rate, s, "lproxied")
            profile = None
            if args.profile:
                say("  profile: proxied throughput under cProfile ...")
                await child.command("prof-on")
                await measure_throughput(session, child.url, n, min(s, 3.0), child.pid, "prof")
                profile = str(await child.command("prof-off"))
        finally:
            if console is not None:
                console.cancel()
                await asyncio.gather(console, return_exceptions=True)
            await child.stop()
    return LoopReport(
        loop=str(info["loop"]),
        check_schema=not args.no_schema,
        throughput_direct=t_direct,
        throughput_proxied=t_proxied,
        ratio=t_proxied.rt_per_s / t_direct.rt_per_s,
        ratios=ratios,
        latency_direct=l_direct,
        latency_proxied=l_proxied,
        added_p50_ms=l_proxied.p50_ms - l_direct.p50_ms,
        added_p99_ms=l_proxied.p99_ms - l_direct.p99_ms,
        memory=[],
        profile=profile,
    )


async def run_memory(args: argparse.Namespace, echo: EchoCSMS, report: LoopReport) -> None:
    """Memory per idle session, in a fresh proxy child on the report's loop."""
    say(f"proxy on {report.loop}: memory, {', '.join(map(str, args.idle))} idle sessions ...")
    async with client_session() as session:
        child = ProxyChild(
            echo.url,
            use_uvloop=report.loop == "uvloop",
            check_schema=not args.no_schema,
            pin_malloc=args.pin_malloc_proxy,
            engine=args.engine,
        )
        await child.start()
        try:
            report.memory, notes = await measure_memory(session, child, args.idle)
            report.notes += notes
        finally:
            await child.stop(timeout=30)


# --------------------------------------------------------------------------- output


def say(text: str) -> None:
    """Progress, on stderr (stdout carries the figures or the JSON)."""
    print(text, file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    try:
        import uvloop

        uv: str | None = uvloop.__version__
    except ImportError:
        uv = None
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "uvloop": uv,
        "platform": platform.platform(),
        "proxy_code": git_revision(),
    }


def git_revision() -> str:
    """The commit of the code under test, `-dirty` when the working tree differs."""
    import ocpp_chaos

    where = os.path.dirname(os.path.abspath(ocpp_chaos.__file__))
    try:
        out = subprocess.run(
            ["git", "-C", where, "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def print_report(
    info: dict[str, Any], args: argparse.Namespace, load_loop: str, reports: list[LoopReport]
) -> None:
    print(f"ocpp-chaos proxy overhead -- {info['date']}")
    print(
        f"machine: {info['nproc']} cores (affinity {info['affinity']}), Python "
        f"{info['python']}, aiohttp {info['aiohttp']}, uvloop {info['uvloop'] or '-'}, "
        f"{info['platform']}"
    )
    print(
        f"setup: proxy alone in a child process; chargers + echo CSMS in the parent "
        f"({load_loop} loop). Both compete for the same {info['affinity']} cores, so "
        "proxied figures include that contention."
    )
    if args.engine:
        print(
            "engine: on, as `ocpp-chaos proxy` runs it (control API, recent frames, metrics "
            "counters), "
            + (
                "no console attached"
                if args.no_console
                else "a console attached (the parent reads every event of the stream)"
            )
        )
    print(
        f"malloc: glibc thresholds pinned in the load generator "
        f"{'(yes)' if info['load_malloc_pinned'] else '(FAILED)'}, in the proxy "
        f"{'yes' if info['proxy_malloc_pinned'] else 'no (glibc default, as users run it)'}"
    )
    print(
        f"frames: ocpp1.6, 9 MeterValues (~{len(call_frame('1-1', 1))} B) : 1 Heartbeat, "
        f"one CALL in flight per charger; schema check {'off' if args.no_schema else 'on'}"
    )
    print(f"proxy code: git {info['proxy_code']}; targets are printed, not asserted")
    for r in reports:
        td, tp = r.throughput_direct, r.throughput_proxied
        target = TARGET_RATIO.get(r.loop, 0.5)
        print()
        print(f"== proxy loop: {r.loop} ==")
        print(f"throughput ({args.chargers} chargers, {args.seconds:g} s each)")
        print(
            f"  direct   {td.rt_per_s:9.0f} rt/s   load process {td.load_cpu_cores:.2f} cores; "
            f"machine busy {td.machine_busy_cores:.2f}, steal {td.machine_steal_cores:.2f}"
        )
        print(
            f"  proxied  {tp.rt_per_s:9.0f} rt/s   load process {tp.load_cpu_cores:.2f} cores, "
            f"proxy process {tp.proxy_cpu_cores or 0:.2f} cores "
            f"({tp.proxy_cpu_us_per_rt or 0:.0f} us CPU per round trip); machine busy "
            f"{tp.machine_busy_cores:.2f}, steal {tp.machine_steal_cores:.2f}"
        )
        print(
            f"  ratio    {r.ratio:9.2f}        target >= {target} ({verdict(r.ratio >= target)})"
            f"   median of {len(r.ratios)}: {', '.join(f'{x:.2f}' for x in r.ratios)}"
        )
        others = max(
            td.machine_busy_cores - td.load_cpu_cores,
            tp.machine_busy_cores - tp.load_cpu_cores - (tp.proxy_cpu_cores or 0),
        )
        if others > 0.2:
            print(
                f"  WARNING: other processes used up to {others:.2f} cores meanwhile: "
                "figures disturbed"
            )
        if tp.proxy_cpu_us_per_rt:
            print(
                f"  proxy capacity with a whole core to itself: ~"
                f"{1e6 / tp.proxy_cpu_us_per_rt:.0f} rt/s (1 s / CPU per round trip)"
            )
        ld, lp = r.latency_direct, r.latency_proxied
        print(
            f"latency (paced {args.rate:g} rt/s over {args.chargers} chargers, "
            f"{args.seconds:g} s each, ms)"
        )
        print("                p50      p99      max  samples  late sends")
        for name, lat in (("direct", ld), ("proxied", lp)):
            print(
                f"  {name:8} {lat.p50_ms:8.3f} {lat.p99_ms:8.3f} {lat.max_ms:8.3f} "
                f"{lat.samples:8d} {lat.late_sends:11d}"
            )
        print(
            f"  added    {r.added_p50_ms:8.3f} {r.added_p99_ms:8.3f}   target p99 <= "
            f"{TARGET_ADDED_P99_MS:g} ms ({verdict(r.added_p99_ms <= TARGET_ADDED_P99_MS)})"
        )
        if r.memory or r.notes:
            print("memory per idle proxied session (proxy VmRSS, fresh proxy process)")
        for m in r.memory:
            met = verdict(m.kib_per_session <= TARGET_KIB_PER_SESSION)
            print(
                f"  {m.sessions:5d} sessions ({m.sessions_in_proxy} in proxy): RSS "
                f"{m.rss_before_kib / 1024:.1f} -> {m.rss_after_kib / 1024:.1f} MiB, "
                f"{m.kib_per_session:.1f} KiB/session   target <= "
                f"{TARGET_KIB_PER_SESSION:g} ({met})"
            )
        for note in r.notes:
            print(f"  note: {note}")
        if r.profile:
            print("cProfile of the proxy process under proxied throughput (top by tottime):")
            print(r.profile.rstrip())


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--chargers", type=int, default=50, help="concurrent chargers (default 50)")
    p.add_argument(
        "--seconds", type=float, default=5.0, help="measuring window of each run (default 5)"
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="alternate direct and proxied throughput runs this often and report the median "
        "ratio (default 3)",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=1000.0,
        help="paced round trips/s in total for the latency run (default 1000)",
    )
    p.add_argument(
        "--idle",
        type=lambda s: [int(x) for x in s.split(",") if x.strip()],
        default=[1000, 5000],
        help="idle session counts for the memory run (default 1000,5000; '' skips)",
    )
    loops = p.add_mutually_exclusive_group()
    loops.add_argument("--uvloop", action="store_true", help="run the proxy on uvloop")
    loops.add_argument(
        "--both-loops",
        action="store_true",
        help="run everything with the proxy on asyncio, then on uvloop",
    )
    p.add_argument(
        "--load-uvloop",
        action="store_true",
        help="run the load generator (chargers + echo CSMS) on uvloop too",
    )
    p.add_argument("--no-schema", action="store_true", help="proxy without schema checks")
    p.add_argument(
        "--engine",
        action="store_true",
        help="the proxy as `ocpp-chaos proxy` runs it: with the engine, the control API and "
        "an event-stream reader (a console attached)",
    )
    p.add_argument(
        "--no-console",
        action="store_true",
        help="with --engine: no event-stream reader (`ocpp-chaos proxy --headless`)",
    )
    p.add_argument(
        "--pin-malloc-proxy",
        action="store_true",
        help="pin glibc's malloc thresholds in the proxy too (always done in the load generator)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.add_argument(
        "--profile",
        action="store_true",
        help="add a cProfile phase of the proxy under load and print its top list",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=600.0,
        help="give up after this many seconds (default 600)",
    )
    p.add_argument("--child-proxy", metavar="UPSTREAM", help=argparse.SUPPRESS)
    p.add_argument("--child-rules", metavar="FILE", help=argparse.SUPPRESS)
    return p.parse_args(argv)


async def parent_main(args: argparse.Namespace) -> bool:
    nofile = raise_nofile()
    load_malloc_pinned = pin_malloc()
    from ocpp_chaos.frames import SchemaChecker, parse

    checker = SchemaChecker("1.6")
    for k in (HEARTBEAT_EVERY, 1):
        verdict_ = checker.check(parse(call_frame("1-1", k)), None)
        if verdict_.valid is not True:
            raise RuntimeError(f"benchmark frame is not schema-valid: {verdict_}")
    for action, result in RESULTS.items():
        verdict_ = checker.check(parse(f'[3,"1",{result}]'), action)
        if verdict_.valid is not True:
            raise RuntimeError(f"benchmark result is not schema-valid: {verdict_}")
    info = machine()
    info["nofile"] = nofile
    info["load_malloc_pinned"] = load_malloc_pinned
    info["proxy_malloc_pinned"] = args.pin_malloc_proxy
    load_loop = loop_name()
    loops = [False, True] if args.both_loops else [args.uvloop]
    echo = EchoCSMS()
    await echo.start()
    reports: list[LoopReport] = []
    errors: list[str] = []
    deadline = asyncio.get_running_loop().time() + args.time_limit
    # All throughput/latency runs first, memory runs last: opening and freeing thousands of
    # connections changes the parent's allocator state (glibc raises its mmap threshold),
    # which would make the next direct baseline incomparable.
    try:
        for use_uv in loops:
            name = "uvloop" if use_uv else "asyncio"
            say(f"proxy on {name}:")
            try:
                async with asyncio.timeout_at(deadline):
                    reports.append(await run_load(args, echo, use_uv))
            except TimeoutError:
                errors.append(f"proxy on {name}: gave up after --time-limit {args.time_limit:g} s")
                break
            except Exception as exc:  # report, and go on with the other loop
                errors.append(f"proxy on {name}: {exc!r}")
        for report in reports if args.idle else []:
            try:
                async with asyncio.timeout_at(deadline):
                    await run_memory(args, echo, report)
            except TimeoutError:
                errors.append(
                    f"memory, proxy on {report.loop}: gave up after --time-limit "
                    f"{args.time_limit:g} s"
                )
                break
            except Exception as exc:
                errors.append(f"memory, proxy on {report.loop}: {exc!r}")
    finally:
        await echo.stop()
    if args.json:
        print(
            json.dumps(
                {
                    "machine": info,
                    "load_loop": load_loop,
                    "chargers": args.chargers,
                    "seconds": args.seconds,
                    "rate": args.rate,
                    "targets": {
                        "ratio": TARGET_RATIO,
                        "added_p99_ms": TARGET_ADDED_P99_MS,
                        "kib_per_session": TARGET_KIB_PER_SESSION,
                    },
                    "results": [asdict(r) for r in reports],
                    "errors": errors,
                },
                indent=2,
            )
        )
    else:
        print_report(info, args, load_loop, reports)
        for error in errors:
            print(f"\nFAILED: {error}")
    return not errors


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_proxy:
        with asyncio.Runner(loop_factory=new_loop_factory(args.uvloop)) as runner:
            pinned = pin_malloc() if args.pin_malloc_proxy else False
            runner.run(
                child_main(
                    args.child_proxy, not args.no_schema, pinned, args.child_rules, args.engine
                )
            )
        return 0
    with asyncio.Runner(loop_factory=new_loop_factory(args.load_uvloop)) as runner:
        ok = runner.run(parent_main(args))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
