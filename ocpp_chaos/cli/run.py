"""`ocpp-chaos run`: run scenario files (or a directory of them) to a verdict.

Exit status: 0 every expectation held, 1 an expectation failed, 2 a scenario could not
be read or run (bad file, target unreachable, a step timed out).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from ocpp_chaos.cli.common import ExitStatus, add_logging_options, run_until_signal

HELP = "run scenarios against a CSMS and give a verdict (JUnit/JSON/HTML reports)"


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("run", help=HELP, description=HELP + ".")
    p.add_argument("paths", nargs="+", type=Path, metavar="SCENARIO", help="files or directories")
    p.add_argument(
        "--target", metavar="URL", help="the CSMS (default: the scenario's, else embedded)"
    )
    p.add_argument("--seed", type=int, help="override the scenarios' seeds")
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply fleet sizes (e.g. 0.1 for a quick CI run; default 1)",
    )
    p.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML")
    p.add_argument("--report", type=Path, metavar="FILE", help="write the JSON report")
    p.add_argument("--html", type=Path, metavar="FILE", help="write the HTML report")
    p.add_argument(
        "--tape-dir", type=Path, metavar="DIR", help="record each run's tape (JSONL) here"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="check the files and print the plan; run nothing"
    )
    add_logging_options(p, level="warning")
    # the progress line and the verdict are the interactive output; logs only for trouble
    p.set_defaults(run=run)


def scenario_files(paths: list[Path]) -> list[Path]:
    """The scenario files named, directories expanded (*.yaml, *.yml, *.json, sorted)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                sorted(
                    p
                    for p in path.iterdir()
                    if p.suffix in (".yaml", ".yml", ".json")
                    and not p.name.endswith(".schema.json")
                )
            )
        else:
            out.append(path)
    return out


def run(args: argparse.Namespace) -> int:
    from ocpp_chaos import log
    from ocpp_chaos.scenarios.loader import load_scenario

    files = scenario_files(args.paths)
    if not files:
        print("ocpp-chaos run: no scenario files", file=sys.stderr)
        return int(ExitStatus.BAD_INPUT)
    loaded = []
    bad = False
    for path in files:
        try:
            loaded.append(load_scenario(path))
        except (ValueError, OSError) as exc:
            print(f"ocpp-chaos run: {exc}", file=sys.stderr)
            bad = True
    if bad:
        return int(ExitStatus.BAD_INPUT)
    if args.dry_run:
        for item in loaded:
            print(_plan(item, args))
        return int(ExitStatus.OK)
    log.configure(headless=args.headless, level=args.log_level)
    return run_until_signal(lambda stop: _run_all(loaded, args, stop))


def _plan(item: Any, args: argparse.Namespace) -> str:
    s = item.scenario
    lines = [f"{item.path}: {s.name} (seed {args.seed if args.seed is not None else s.seed})"]
    target = args.target or s.target or "embedded reference CSMS"
    lines.append(f"  target: {target}")
    for g in s.fleet:
        count = max(1, round(g.count * args.scale))
        kind = f"template {g.template}" if g.template else f"OCPP {g.protocol}"
        lines.append(f"  fleet {g.name}: {count} chargers, {kind}")
    lines.append(f"  rules: {len(item.rules)}")
    for i, step in enumerate(s.timeline, 1):
        when = f"at {step.at:g}s " if step.at is not None else ""
        lines.append(f"  {i:2d}. {when}{step.name or step.do} → {', '.join(step.chargers)}")
    for c in s.expectations.steady_state:
        lines.append(f"  steady state: {c.label()}")
    for c in s.expectations.end:
        lines.append(f"  end: {c.label()}")
    return "\n".join(lines)


async def _run_all(loaded: list[Any], args: argparse.Namespace, stop: asyncio.Event) -> int:
    from ocpp_chaos.aio import spawn
    from ocpp_chaos.scenarios.report import verdict_table, write_reports
    from ocpp_chaos.scenarios.runner import RunOptions, run_scenario

    results = []
    for item in loaded:
        if stop.is_set():
            break
        tape = None
        if args.tape_dir is not None:
            args.tape_dir.mkdir(parents=True, exist_ok=True)
            tape = args.tape_dir / f"{item.scenario.name}.jsonl"
        options = RunOptions(
            target=args.target,
            seed=args.seed,
            scale=args.scale,
            tape=tape,
            progress=None if args.headless else _progress_line,
        )
        task = spawn(run_scenario(item, options), name=f"scenario-{item.scenario.name}")
        stopper = spawn(stop.wait(), name="scenario-stop")
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            break
        result = task.result()
        results.append(result)
        if not args.headless:
            print(file=sys.stderr)
    write_reports(results, junit=args.junit, json=args.report, html=args.html)
    if args.headless:
        for result in results:
            print(
                json.dumps(
                    {
                        "scenario": result.name,
                        "verdict": result.verdict,
                        "error": result.error,
                        "expectations": [
                            {"name": e.name, "phase": e.phase, "status": e.status}
                            for e in result.expectations
                        ],
                    }
                )
            )
    else:
        print(verdict_table(results))
    if len(results) < len(loaded):
        return int(ExitStatus.INTERRUPTED)
    return max((r.exit_code for r in results), default=0)


def _progress_line(state: dict[str, Any]) -> None:
    faults = ",".join(state["faults"]) or "none"
    print(
        f"\r{state['t']:6.1f}s  {state['step'][:40]:40}  "
        f"{state['accepted']}/{state['chargers']} accepted  faults: {faults[:30]:30}  "
        f"findings: {state['findings']}",
        end="",
        file=sys.stderr,
        flush=True,
    )
