"""`ocpp-chaos run`: exit codes (0 pass, 1 an expectation failed, 2 bad file / run error),
reports written, dry runs, directories as suites, and scenario file errors with their place."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ocpp_chaos.cli import main
from ocpp_chaos.scenarios.loader import ScenarioFileError, load_scenario, load_scenario_text
from tests.conftest import run_cli

PASSING = """
name: tiny-pass
fleet: [{name: a, count: 2, protocol: "1.6"}]
duration: 60s
settle: 0.5s
timeline:
  - {do: start_transaction, after: {check: all_accepted}}
  - {do: stop_transaction}
  - {do: wait_for, condition: {check: queues_empty}, timeout: 20s}
expectations:
  steady_state: [{check: all_accepted}]
  end:
    - {check: transactions, started: 2, ended: 2}
    - {check: every_call_answered}
"""

FAILING = PASSING.replace("tiny-pass", "tiny-fail").replace("started: 2, ended: 2", "started: 5")

ERRORING = """
name: tiny-error
fleet: [{name: a, count: 1}]
duration: 30s
timeline:
  - {do: wait_for, condition: {check: transactions, started: 1}, timeout: 1s}
expectations:
  end: [{check: every_call_answered}]
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


async def test_exit_codes_and_reports(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    _write(suite, "a-pass", PASSING)
    _write(suite, "b-fail", FAILING)
    junit, report, html = tmp_path / "out.xml", tmp_path / "out.json", tmp_path / "out.html"
    code, out, err = await run_cli(
        "run",
        str(suite),
        "--headless",
        "--junit",
        str(junit),
        "--report",
        str(report),
        "--html",
        str(html),
        timeout=120,
    )
    assert code == 1, err[-3000:]
    verdicts = {
        json.loads(line)["scenario"]: json.loads(line)["verdict"] for line in out.splitlines()
    }
    assert verdicts == {"tiny-pass": "passed", "tiny-fail": "failed"}
    tree = ET.parse(junit).getroot()
    suites = {s.get("name"): s for s in tree.iter("testsuite")}
    assert suites["tiny-fail"].get("failures") == "1" and suites["tiny-pass"].get("failures") == "0"
    data = json.loads(report.read_text())
    assert data["summary"]["passed"] == 1 and data["summary"]["failed"] == 1
    assert "<svg" in html.read_text()

    code, out, _ = await run_cli("run", str(suite / "a-pass.yaml"), "--headless", timeout=120)
    assert code == 0


async def test_a_step_that_times_out_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "err", ERRORING)
    code, out, _ = await run_cli("run", str(path), "--headless", timeout=60)
    assert code == 2
    line = json.loads(out.splitlines()[-1])
    assert line["verdict"] == "error" and "did not hold within 1 s" in line["error"]


async def test_unreachable_target_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "p", PASSING.replace("duration: 60s", "duration: 8s"))
    code, _out, _ = await run_cli(
        "run", str(path), "--headless", "--target", "ws://127.0.0.1:1/ocpp", timeout=60
    )
    assert code == 2


def test_dry_run_and_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "p", PASSING)
    assert main(["run", "--dry-run", str(path)]) == 0
    assert "fleet a: 2 chargers" in capsys.readouterr().out
    bad = _write(tmp_path, "bad", PASSING.replace("do: stop_transaction", "do: stop_transacton"))
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:8:10:" in err and "did you mean 'stop_transaction'" in err
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2


def test_file_errors_name_the_place() -> None:
    with pytest.raises(ScenarioFileError) as caught:
        load_scenario_text(
            "name: x\nfleet: [{name: a}]\ntimeline:\n  - {do: plug_in, chargers: [b]}\n", "s.yaml"
        )
    assert "s.yaml:4:30: timeline[0].chargers[0]: 'b' is no group or charger id" in str(
        caught.value
    )
    with pytest.raises(ScenarioFileError, match=r"s.yaml:2:17: fleet\[0\]\.count: must be greater"):
        load_scenario_text("name: x\nfleet: [{count: 0}]\n", "s.yaml")


def test_rule_names_must_exist(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "r", "name: r\nfleet: [{name: a}]\ntimeline: [{do: enable_rule, rule: nope}]\n"
    )
    with pytest.raises(ValueError, match="no rule named 'nope'"):
        load_scenario(path)
