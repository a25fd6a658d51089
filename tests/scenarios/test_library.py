"""The scenario library (top-level scenarios/): every file loads, passes against the
embedded reference CSMS (which is correct), and fails against a CSMS with the one bug it
is about (tests/scenarios/broken.py), so no scenario is a check that cannot fail."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from ocpp_chaos.cli.run import scenario_files
from ocpp_chaos.scenarios.loader import load_scenario, scenario_json_schema
from ocpp_chaos.scenarios.result import ScenarioResult
from ocpp_chaos.scenarios.runner import RunOptions, run_scenario
from tests.scenarios.broken import BUGS, broken_csms

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = scenario_files([ROOT / "scenarios"])
NAMES = [p.stem for p in LIBRARY]


def test_the_library_is_there_and_every_file_loads() -> None:
    assert len(LIBRARY) >= 2
    for path in LIBRARY:
        loaded = load_scenario(path)
        assert loaded.scenario.name == path.stem  # one file per scenario, named after it
        assert loaded.scenario.expectations.end, path
        text = path.read_text()
        assert text.startswith("# yaml-language-server: $schema=scenario.schema.json"), path
        assert "Spec:" in text and "Finds" in text, f"{path}: say what it finds, and where"


def test_every_scenario_has_a_broken_csms() -> None:
    assert set(NAMES) <= set(BUGS), set(NAMES) - set(BUGS)


def test_the_shipped_schema_is_current() -> None:
    shipped = json.loads((ROOT / "scenarios" / "scenario.schema.json").read_text())
    assert shipped == scenario_json_schema()


# The library runs concurrently (each run has its own CSMS, proxy and fleet; they mostly
# wait), so the suite's time is that of the longest scenario, not the sum.


async def _run_all(broken: bool) -> dict[str, ScenarioResult]:
    async def one(path: Path) -> tuple[str, ScenarioResult]:
        loaded = load_scenario(path)
        if not broken:
            return path.stem, await run_scenario(loaded, RunOptions())
        async with broken_csms(loaded.scenario) as csms:
            return path.stem, await run_scenario(loaded, RunOptions(target=csms.url))

    return dict(await asyncio.gather(*(one(p) for p in LIBRARY)))


async def test_every_scenario_passes_against_the_reference_csms() -> None:
    results = await _run_all(broken=False)
    wrong = {
        name: (r.verdict, r.error, [e for e in r.expectations if e.status != "passed"])
        for name, r in results.items()
        if r.verdict != "passed"
    }
    assert not wrong, wrong


async def test_every_scenario_fails_against_a_csms_with_its_bug() -> None:
    results = await _run_all(broken=True)
    wrong = {
        name: (r.verdict, r.error, [e.name for e in r.expectations if e.status != "passed"])
        for name, r in results.items()
        if r.verdict != "failed" or not any(e.status == "failed" for e in r.expectations)
    }
    assert not wrong, wrong
