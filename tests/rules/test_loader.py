"""Rule files from disk: every fault type loads, and every mistake is reported where it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ocpp_chaos.rules import (
    FAULT_TYPES,
    Problem,
    RuleFile,
    RuleFileError,
    load_rule_file,
    load_rule_files,
    load_rule_text,
)

EVERY_FAULT = """\
# one rule of each fault type
rules:
  - name: drop-heartbeats
    match: {direction: up, action: Heartbeat}
    every: 2
    fault: {type: drop}
  - name: drop-boot-answer
    match: {action: BootNotification, message: call}
    first: 1
    fault: {type: drop, response: true}
  - name: slow-meter
    match: {action: [MeterValues, TransactionEvent], charger: "CP-*"}
    fault: {type: delay, delay: 2s}
  - name: hold-authorize
    match: {action: Authorize}
    fault: {type: hold, hold: 60s, then: drop}
  - name: duplicate-start
    match: {action: StartTransaction}
    nth: 1
    fault: {type: duplicate, copies: 2, fresh_id: true, spacing: 100ms}
  - name: reorder-status
    match: {action: StatusNotification}
    fault: {type: reorder, after: 1, max_hold: 5}
  - name: corrupt-json
    probability: 0.1
    fault: {type: corrupt, mode: truncate, keep: 0.3}
  - name: meter-backwards
    match:
      action: MeterValues
      payload:
        connectorId: 1
        "meterValue[0].sampledValue[*].measurand": {in: [Energy.Active.Import.Register]}
        idTag: {regex: "^TAG-[0-9]+$"}
    fault:
      type: mutate
      add: {"meterValue[0].sampledValue[0].value": -100}
      skew: {"meterValue[0].timestamp": -1h}
  - name: reject-remote-start
    match: {direction: down, action: RemoteStartTransaction}
    fault: {type: reply_error, code: NotSupported, description: nope}
  - name: accept-boot-locally
    match: {action: BootNotification}
    fault: {type: reply, payload: {status: Accepted, interval: 300}}
  - name: lose-signal
    match: {charger: "re:^CP-[0-9]+$", action: MeterValues}
    chargers: {count: 2}
    window: {start: 30s, duration: 5m, from: session}
    fault: {type: signal_loss, duration: 30s, mode: reset, refuse: 503}
  - name: blackhole
    chargers: one
    fault: {type: blackhole, duration: 10s}
  - name: latency
    chargers: {percent: 50}
    match: {protocol: ocpp1.6}
    fault: {type: latency, fixed: 200ms, jitter: 50ms}
  - name: disconnect
    count: 3
    after: 10
    fault: {type: disconnect, side: charger, code: 1001, reason: going away}
  - name: refuse
    enabled: false
    fault: {type: reject_connect, status: tcp-reset}
  - name: narrow-link
    fault: {type: throttle, bytes_per_second: 2000}
  - name: flaky-modem
    fault: {type: flap, period: 20s, abrupt: true}
  - name: outage
    enabled: false
    fault: {type: csms_outage, duration: 1m, refuse: tcp-reset}
  - name: no-subprotocol
    fault: {type: strip_subprotocol, side: csms}
  - name: no-auth
    fault: {type: rewrite_header, header: Authorization}
  - name: trigger
    fault:
      type: inject
      to: charger
      delay: 5s
      call: {action: TriggerMessage, payload: {requestedMessage: StatusNotification}}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _check_every_fault(rule_file: RuleFile) -> None:
    assert [r.fault.type for r in rule_file.rules] == [
        "drop",
        "drop",
        "delay",
        "hold",
        "duplicate",
        "reorder",
        "corrupt",
        "mutate",
        "reply_error",
        "reply",
        "signal_loss",
        "blackhole",
        "latency",
        "disconnect",
        "reject_connect",
        "throttle",
        "flap",
        "csms_outage",
        "strip_subprotocol",
        "rewrite_header",
        "inject",
    ]
    assert {r.fault.type for r in rule_file.rules} == set(FAULT_TYPES)
    by_name = {r.name: r for r in rule_file.rules}
    assert by_name["slow-meter"].fault.delay == 2.0  # type: ignore[union-attr]
    assert by_name["slow-meter"].match.charger == ["CP-*"]
    assert by_name["lose-signal"].window is not None
    assert by_name["lose-signal"].window.duration == 300.0
    assert by_name["meter-backwards"].fault.skew == {"meterValue[0].timestamp": -3600.0}  # type: ignore[union-attr]
    payload = by_name["meter-backwards"].match.payload
    assert payload is not None and payload["connectorId"].equals == 1


def test_every_fault_type_loads_from_yaml(tmp_path: Path) -> None:
    _check_every_fault(load_rule_file(_write(tmp_path, "rules.yaml", EVERY_FAULT)))


def test_every_fault_type_loads_from_json(tmp_path: Path) -> None:
    data = yaml.safe_load(EVERY_FAULT)
    _check_every_fault(load_rule_file(_write(tmp_path, "rules.json", json.dumps(data, indent=2))))


def test_bare_list_loads_from_yaml_and_json(tmp_path: Path) -> None:
    data = yaml.safe_load(EVERY_FAULT)["rules"]
    _check_every_fault(load_rule_file(_write(tmp_path, "bare.yaml", yaml.safe_dump(data))))
    _check_every_fault(load_rule_file(_write(tmp_path, "bare.json", json.dumps(data))))


def test_json_content_is_recognised_without_the_extension(tmp_path: Path) -> None:
    text = '{"rules": [{"name": "x", "fault": {"type": "drop"}}]}'
    assert load_rule_file(_write(tmp_path, "rules.txt", text)).rules[0].name == "x"
    flow_yaml = "[{name: x, fault: {type: drop}}]"  # starts like JSON, is YAML
    assert load_rule_file(_write(tmp_path, "flow.yaml", flow_yaml)).rules[0].name == "x"


def test_empty_rule_list_is_valid() -> None:
    assert load_rule_text("rules: []\n").rules == []


def _problems(tmp_path: Path, text: str, name: str = "rules.yaml") -> list[str]:
    path = _write(tmp_path, name, text)
    with pytest.raises(RuleFileError) as info:
        load_rule_file(path)
    assert all(p.file == str(path) for p in info.value.problems)
    return [str(p).removeprefix(str(tmp_path) + "/") for p in info.value.problems]


# (id, file name, text, [(exact "file:line:column: field", phrase of the message), ...])
BROKEN = [
    (
        "unknown key in match",
        "rules.yaml",
        "rules:\n  - name: a\n    match: {action: Heartbeat, dirction: up}\n"
        "    fault: {type: drop}\n",
        [
            (
                "rules.yaml:3:32: rules[0] (a).match.dirction",
                "unknown key 'dirction' (did you mean 'direction'?)",
            )
        ],
    ),
    (
        "unknown key in fault",
        "rules.yaml",
        "rules:\n  - name: lose\n    fault:\n      type: signal_loss\n      dration: 30s\n",
        [
            ("rules.yaml:4:7: rules[0] (lose).fault.duration", "missing required field 'duration'"),
            (
                "rules.yaml:5:7: rules[0] (lose).fault.dration",
                "unknown key 'dration' (did you mean 'duration'?)",
            ),
        ],
    ),
    (
        "unknown key at rule level",
        "rules.yaml",
        "- name: a\n  fautl: {type: drop}\n",
        [
            ("rules.yaml:1:3: rules[0] (a).fault", "missing required field 'fault'"),
            ("rules.yaml:2:3: rules[0] (a).fautl", "unknown key 'fautl' (did you mean 'fault'?)"),
        ],
    ),
    (
        "match key at rule level",
        "rules.yaml",
        "- name: a\n  action: Heartbeat\n  fault: {type: drop}\n",
        [("rules.yaml:2:3: rules[0] (a).action", "unknown key 'action' (it belongs under match:)")],
    ),
    (
        "missing fault",
        "rules.yaml",
        "rules:\n  - name: a\n    match: {action: Heartbeat}\n",
        [("rules.yaml:2:5: rules[0] (a).fault", "missing required field 'fault'")],
    ),
    (
        "unknown fault type",
        "rules.yaml",
        "rules:\n  - name: a\n    fault: {type: signal_lost, duration: 30s}\n",
        [
            (
                "rules.yaml:3:19: rules[0] (a).fault.type",
                "fault type 'signal_lost' is unknown (did you mean 'signal_loss'?); "
                "one of: drop, delay, hold,",
            )
        ],
    ),
    (
        "fault without a type",
        "rules.yaml",
        "- name: a\n  fault: {duration: 30s}\n",
        [("rules.yaml:2:10: rules[0] (a).fault.type", "missing required field 'type', one of:")],
    ),
    (
        "fault given as a string",
        "rules.yaml",
        "- name: a\n  fault: drop\n",
        [("rules.yaml:2:10: rules[0] (a).fault", "must be a mapping such as {type: drop}")],
    ),
    (
        "bad duration",
        "rules.yaml",
        "- name: a\n  fault: {type: delay, delay: 3x}\n",
        [("rules.yaml:2:31: rules[0] (a).fault.delay", "'3x' is not a duration")],
    ),
    (
        "negative duration",
        "rules.yaml",
        "- name: a\n  fault:\n    type: signal_loss\n    duration: -2s\n",
        [("rules.yaml:4:15: rules[0] (a).fault.duration", "a duration cannot be negative")],
    ),
    (
        "probability above 1",
        "rules.yaml",
        "- name: a\n  probability: 1.5\n  fault: {type: drop}\n",
        [("rules.yaml:2:16: rules[0] (a).probability", "must be less than or equal to 1, not 1.5")],
    ),
    (
        "bad regex in charger",
        "rules.yaml",
        "- name: a\n  match: {charger: 're:('}\n  fault: {type: drop}\n",
        [("rules.yaml:2:20: rules[0] (a).match.charger", "invalid regular expression '('")],
    ),
    (
        "bad regex in payload",
        "rules.yaml",
        "- name: a\n  match:\n    payload:\n      idTag: {regex: '[A-'}\n  fault: {type: drop}\n",
        [
            (
                "rules.yaml:4:22: rules[0] (a).match.payload.idTag.regex",
                "invalid regular expression",
            )
        ],
    ),
    (
        "nth with first",
        "rules.yaml",
        "rules:\n  - name: a\n    nth: 2\n    first: 3\n    fault: {type: drop}\n",
        [("rules.yaml:2:5: rules[0] (a)", "nth cannot be combined with first or every")],
    ),
    (
        "duplicate rule names",
        "rules.yaml",
        "- name: a\n  fault: {type: drop}\n- name: b\n  fault: {type: drop}\n"
        "- name: a\n  fault: {type: blackhole}\n",
        [
            (
                "rules.yaml:5:9: rules[2] (a).name",
                "rule name 'a' is already used by rules[0] (line 1)",
            )
        ],
    ),
    (
        "reply_error with an unknown code",
        "rules.yaml",
        "- name: a\n  fault: {type: reply_error, code: Oops}\n",
        [("rules.yaml:2:36: rules[0] (a).fault.code", "'Oops' is not a CALLERROR code")],
    ),
    (
        "payload condition with no condition",
        "rules.yaml",
        "- name: a\n  match: {payload: {idTag: {}}}\n  fault: {type: drop}\n",
        [
            (
                "rules.yaml:2:28: rules[0] (a).match.payload.idTag",
                "give one of equals, in, regex, min, max, exists",
            )
        ],
    ),
    (
        "disconnect code 1006",
        "rules.yaml",
        "- name: a\n  fault: {type: disconnect, code: 1006}\n",
        [("rules.yaml:2:35: rules[0] (a).fault.code", "1006 cannot be sent in a close frame")],
    ),
    (
        "chargers neither all, one nor a mapping",
        "rules.yaml",
        "- name: a\n  chargers: some\n  fault: {type: drop}\n",
        [
            (
                "rules.yaml:2:13: rules[0] (a).chargers",
                "must be 'all', 'one' or a mapping, not 'some'",
            )
        ],
    ),
    (
        "chargers count below 1",
        "rules.yaml",
        "- name: a\n  chargers: {count: 0}\n  fault: {type: drop}\n",
        [("rules.yaml:2:21: rules[0] (a).chargers.count", "must be greater than or equal to 1")],
    ),
    (
        "literal with a typo",
        "rules.yaml",
        "- name: a\n  match: {direction: upp}\n  fault: {type: drop}\n",
        [
            (
                "rules.yaml:2:22: rules[0] (a).match.direction",
                "must be 'up', 'down' or 'both', not 'upp' (did you mean 'up'?)",
            )
        ],
    ),
    (
        "bad rule name",
        "rules.yaml",
        "- name: my rule\n  fault: {type: drop}\n",
        [("rules.yaml:1:9: rules[0].name", "a rule name is letters, digits and _ . : -")],
    ),
    (
        "key given twice",
        "rules.yaml",
        "- name: a\n  fault: {type: drop}\n  fault: {type: delay, delay: 1}\n",
        [("rules.yaml:3:3: rules[0] (a).fault", "key 'fault' is given twice in this mapping")],
    ),
    (
        "YAML syntax error",
        "rules.yaml",
        "rules:\n  - name: a\n   fault: {type: drop}\n",
        [("rules.yaml:3:4", "invalid YAML: while parsing a block collection (line 2)")],
    ),
    (
        "YAML unclosed flow mapping",
        "rules.yaml",
        "- name: a\n  fault: {type: drop\n",
        [("rules.yaml:3:1", "invalid YAML: while parsing a flow mapping (line 2)")],
    ),
    (
        "empty file",
        "rules.yaml",
        "",
        [("rules.yaml:1:1", "the file is empty")],
    ),
    (
        "only comments",
        "rules.yaml",
        "# nothing yet\n",
        [("rules.yaml:1:1", "the file is empty")],
    ),
    (
        "not a list nor a mapping",
        "rules.yaml",
        "drop everything\n",
        [("rules.yaml:1:1", "a rule file is a list of rules, or a mapping with a 'rules:' list")],
    ),
    (
        "rules misspelt",
        "rules.yaml",
        "rule:\n  - name: a\n",
        [
            ("rules.yaml:1:1: rules", "missing required field 'rules'"),
            ("rules.yaml:1:1: rule", "unknown key 'rule' (did you mean 'rules'?)"),
        ],
    ),
    (
        "JSON syntax error",
        "rules.json",
        '{"rules": [\n  {"name": "a", "fault": {"type": "drop",}}\n]}\n',
        [("rules.json:2:42", "invalid JSON: Expecting property name enclosed in double quotes")],
    ),
    (
        "JSON unknown key",
        "rules.json",
        '{"rules": [\n\t{"name": "a",\n'
        '\t "fault": {"type": "delay", "delay": 1, "jitter": 2}}\n]}\n',
        [("rules.json:3:42: rules[0] (a).fault.jitter", "unknown key 'jitter'; expected one of")],
    ),
]


@pytest.mark.parametrize(
    ("name", "text", "expected"), [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN]
)
def test_broken_file_reports_where_and_what(
    tmp_path: Path, name: str, text: str, expected: list[tuple[str, str]]
) -> None:
    problems = _problems(tmp_path, text, name)
    assert len(problems) == len(expected), problems
    for line, (where, phrase) in zip(problems, expected, strict=True):
        assert line.startswith(where + ": "), line
        assert phrase in line, line


def test_every_problem_of_a_file_is_reported_in_order(tmp_path: Path) -> None:
    text = """\
rules:
  - name: a
    match: {dirction: up}
    fault: {type: delay, delay: 3x}
  - name: b
    probability: 1.5
    fault: {type: signal_lost}
  - name: c
    fault: {type: reply_error, code: Oops}
  - name: a
    fault: {type: disconnect, code: 1006}
"""
    problems = _problems(tmp_path, text)
    assert [p.split(": ")[0] + ": " + p.split(": ")[1] for p in problems] == [
        "rules.yaml:3:13: rules[0] (a).match.dirction",
        "rules.yaml:4:33: rules[0] (a).fault.delay",
        "rules.yaml:6:18: rules[1] (b).probability",
        "rules.yaml:7:19: rules[1] (b).fault.type",
        "rules.yaml:9:38: rules[2] (c).fault.code",
        "rules.yaml:10:11: rules[3] (a).name",
        "rules.yaml:11:37: rules[3] (a).fault.code",
    ]


def test_problem_format_and_error_text() -> None:
    problem = Problem("r.yaml", 3, 7, "rules[0] (a).fault.delay", "'3x' is not a duration")
    assert str(problem) == "r.yaml:3:7: rules[0] (a).fault.delay: '3x' is not a duration"
    assert str(Problem("r.yaml", 1, 1, "", "the file is empty")) == "r.yaml:1:1: the file is empty"
    error = RuleFileError([problem, problem])
    assert str(error) == f"{problem}\n{problem}"
    with pytest.raises(AttributeError):
        problem.line = 4  # type: ignore[misc]


def test_load_rule_text_names_the_file() -> None:
    with pytest.raises(RuleFileError) as info:
        load_rule_text("- name: a\n", "inline.yaml")
    assert [str(p) for p in info.value.problems] == [
        "inline.yaml:1:3: rules[0] (a).fault: missing required field 'fault' "
        "(e.g. fault: {type: drop})"
    ]


def test_unreadable_file_is_a_problem_on_line_0(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(RuleFileError) as info:
        load_rule_file(missing)
    assert [str(p) for p in info.value.problems] == [
        f"{missing}:0:0: cannot read: No such file or directory"
    ]
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"rules: \xff\n")
    with pytest.raises(RuleFileError, match=r"binary.yaml:0:0: cannot read: not UTF-8"):
        load_rule_file(binary)


def test_load_rule_files_returns_every_file(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yaml", "- name: x\n  fault: {type: drop}\n")
    b = _write(tmp_path, "b.json", '[{"name": "y", "fault": {"type": "drop"}}]')
    loaded = load_rule_files([a, str(b)])
    assert [(path.name, [r.name for r in rf.rules]) for path, rf in loaded] == [
        ("a.yaml", ["x"]),
        ("b.json", ["y"]),
    ]
    assert load_rule_files([]) == []


def test_load_rule_files_reports_a_name_used_in_two_files(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yaml", "rules:\n  - name: x\n    fault: {type: drop}\n")
    b = _write(
        tmp_path, "b.yaml", "- name: y\n  fault: {type: drop}\n- name: x\n  fault: {type: drop}\n"
    )
    with pytest.raises(RuleFileError) as info:
        load_rule_files([a, b])
    assert [str(p) for p in info.value.problems] == [
        f"{b}:3:9: rules[1] (x).name: rule name 'x' is already used in {a}:2:11"
    ]


def test_load_rule_files_collects_the_problems_of_every_file(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yaml", "- name: x\n  fault: {type: delay, delay: 3x}\n")
    good = _write(tmp_path, "good.yaml", "- name: g\n  fault: {type: drop}\n")
    b = _write(tmp_path, "b.yaml", "- name: y\n  fault: {type: dorp}\n")
    empty = _write(tmp_path, "empty.yaml", "")
    with pytest.raises(RuleFileError) as info:
        load_rule_files([a, good, b, empty, tmp_path / "nope.yaml"])
    assert [(Path(p.file).name, p.line, p.column, p.field) for p in info.value.problems] == [
        ("a.yaml", 2, 31, "rules[0] (x).fault.delay"),
        ("b.yaml", 2, 17, "rules[0] (y).fault.type"),
        ("empty.yaml", 1, 1, ""),
        ("nope.yaml", 0, 0, ""),
    ]
    assert "did you mean 'drop'?" in info.value.problems[1].message
