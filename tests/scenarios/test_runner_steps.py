"""The runner's steps and checks that the library does not use, each with its effect on the
chargers and the CSMS: seeded picks, reboot, power loss, connector faults, frames to the
charger, steady-state checks mid-run, abort conditions, and a check that cannot hold."""

from __future__ import annotations

from ocpp_chaos.csms import ReferenceCSMS
from ocpp_chaos.scenarios.loader import LoadedScenario, load_scenario_text
from ocpp_chaos.scenarios.runner import RunOptions, run_scenario

STEPS = """
name: steps
seed: 11
duration: 90s
settle: 0.5s
fleet:
  - {name: a, count: 4, protocol: "1.6"}
  - {name: b, count: 2, protocol: "2.0.1"}
timeline:
  - {do: connector_fault, chargers: a, pick: {count: 2}, error_code: HighTemperature,
     after: {check: all_accepted}}
  - {do: clear_connector_fault, chargers: a}
  - {do: reboot, chargers: [b-001], kind: Hard}
  - {do: wait_for, condition: {check: all_accepted}, timeout: 30s}
  - {do: power_loss, chargers: [b-002]}
  - {do: wait_for, condition: {check: all_accepted}, timeout: 30s}
  - {do: send_raw, chargers: [a-001], to: charger, frame: '[2,"x-1","ClearCache",{}]'}
  - {do: check_steady_state}
  - {do: wait, duration: 1s}
expectations:
  steady_state: [{check: all_accepted}]
  end:
    - {check: metric, metric: boots, min: 8, max: 8, name: two reboots}
"""


def _loaded(text: str) -> LoadedScenario:
    return LoadedScenario(load_scenario_text(text), None)


async def test_steps_act_on_chargers_and_csms() -> None:
    async with ReferenceCSMS(port=0, heartbeat_interval=60) as csms:
        result = await run_scenario(_loaded(STEPS), RunOptions(target=csms.url))
    assert result.verdict == "passed", (result.error, result.expectations, result.steps)
    faulted = {
        r.charger_id
        for r in csms.received
        if r.action == "StatusNotification" and r.payload.get("errorCode") == "HighTemperature"
    }
    assert len(faulted) == 2 and faulted <= {"a-001", "a-002", "a-003", "a-004"}
    boots = [r.charger_id for r in csms.received if r.action == "BootNotification"]
    assert boots.count("b-001") == 2 and boots.count("b-002") == 2
    # the frame to a-001 came from the proxy, so the CSMS never saw ClearCache's answer
    assert not any(r.action == "ClearCache" for r in csms.received)
    phases = {(e.name, e.phase) for e in result.expectations}
    assert ("all_accepted", "before") in phases and ("all_accepted", "during") in phases
    assert [s.status for s in result.steps] == ["passed"] * 9
    assert result.steps[0].chargers == 2


async def test_the_same_seed_picks_the_same_chargers() -> None:
    picked = []
    for _ in range(2):
        async with ReferenceCSMS(port=0) as csms:
            await run_scenario(
                _loaded(STEPS.replace("duration: 90s", "duration: 60s")),
                RunOptions(target=csms.url),
            )
        picked.append(
            sorted(
                r.charger_id
                for r in csms.received
                if r.action == "StatusNotification"
                and r.payload.get("errorCode") == "HighTemperature"
            )
        )
    assert picked[0] == picked[1]


ABORT = """
name: abort
duration: 60s
fleet: [{name: a, count: 1}]
abort: [{check: transactions, started: 1}]
timeline:
  - {do: start_transaction, after: {check: all_accepted}}
  - {do: wait, duration: 30s}
expectations:
  end: [{check: every_call_answered}]
"""


async def test_an_abort_condition_ends_the_run_as_an_error() -> None:
    result = await run_scenario(_loaded(ABORT), RunOptions())
    assert result.verdict == "error"
    assert result.error is not None and result.error.startswith("aborted: transactions")
    assert result.steps[-1].do == "wait" and result.steps[-1].ended_at is None  # cut short


FAILS = """
name: fails
duration: 60s
settle: 0.2s
fleet: [{name: a, count: 2}]
timeline:
  - {do: wait_for, condition: {check: all_accepted}}
expectations:
  end:
    - {check: transactions, started: 1}
    - {check: all_accepted}
"""


async def test_expectations_that_do_not_hold_fail_with_evidence() -> None:
    result = await run_scenario(_loaded(FAILS), RunOptions())
    statuses = {e.name: e.status for e in result.expectations}
    assert result.verdict == "failed" and result.exit_code == 1
    assert statuses == {"transactions started>=1": "failed", "all_accepted": "passed"}
    failed = next(e for e in result.expectations if e.status == "failed")
    assert failed.summary == "0 started, 0 ended"


WINDOWS = """
name: windows
duration: 30s
settle: 0.2s
fleet: [{name: a, count: 1}]
rules:
  inline:
    - {name: always, fault: {type: latency, fixed: 1ms}}
    - {name: later, enabled: false, fault: {type: latency, fixed: 1ms}}
timeline:
  - {do: enable_rule, rule: later, after: {check: all_accepted}}
  - {do: disable_rule, rule: later}
  - {do: fire, fault: {type: disconnect}}
expectations:
  end: [{check: every_call_answered}]
"""


async def test_fault_windows_for_the_report() -> None:
    result = await run_scenario(_loaded(WINDOWS), RunOptions())
    windows = {w.label: w for w in result.fault_windows}
    assert set(windows) == {"always", "later", "disconnect"}
    assert windows["always"].start == 0.0 or windows["always"].start < windows["later"].start
    assert windows["later"].end is not None and windows["later"].end >= windows["later"].start


async def test_a_step_that_cannot_be_carried_out_is_an_error() -> None:
    text = WINDOWS.replace("rule: later, after", "rule: nosuchrule, after")
    result = await run_scenario(_loaded(text), RunOptions())
    assert result.verdict == "error"
    assert result.steps[0].status == "error" and "nosuchrule" in (result.error or "")
