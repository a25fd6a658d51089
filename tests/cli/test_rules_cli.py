"""`ocpp-chaos rules check`, `ocpp-chaos schema rules` and `proxy --rules`, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from ocpp_chaos.cli import main

GOOD = """\
rules:
  - name: lose-signal
    match: {direction: up, action: MeterValues, charger: "CP-*"}
    first: 1
    chargers: {count: 2}
    fault: {type: signal_loss, duration: 30s, mode: reset, refuse: 503}
  - name: slow
    match:
      action: [Heartbeat, StatusNotification]
      payload: {connectorId: 1, status: {in: [Available, Faulted]}}
    window: {start: 10, duration: 2m, from: session}
    fault: {type: latency, fixed: 200ms, jitter: 0.05}
"""

BAD = """\
rules:
  - name: lose-signal
    fault: {type: signal_loss, dration: 30s}
  - name: slow
    fault: {type: delay, delay: 3x}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_rules_check_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path, "good.yaml", GOOD)
    bare = _write(tmp_path, "bare.json", '[{"name": "x", "fault": {"type": "drop"}}]')
    assert main(["rules", "check", str(good), str(bare)]) == 0
    out, err = capsys.readouterr()
    assert out == "3 rules OK in 2 files\n"
    assert err == ""


def test_rules_check_prints_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _write(tmp_path, "good.yaml", GOOD)
    bad = _write(tmp_path, "bad.yaml", BAD)
    assert main(["rules", "check", str(good), str(bad), str(tmp_path / "missing.yaml")]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{bad}:2:11: rules[0] (lose-signal).name: rule name 'lose-signal' is already used in "
        f"{good}:2:11",
        f"{bad}:3:12: rules[0] (lose-signal).fault.duration: missing required field 'duration'",
        f"{bad}:3:32: rules[0] (lose-signal).fault.dration: unknown key 'dration' "
        "(did you mean 'duration'?)",
        f"{bad}:4:11: rules[1] (slow).name: rule name 'slow' is already used in {good}:7:11",
        f"{bad}:5:33: rules[1] (slow).fault.delay: '3x' is not a duration "
        "(use seconds, or '500ms', '30s', '2m', '1h')",
        f"{tmp_path / 'missing.yaml'}:0:0: cannot read: No such file or directory",
    ]
    assert err == "6 problems in 2 of 3 files\n"


def test_rules_check_needs_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["rules", "check"])
    assert info.value.code == 2
    assert "FILE" in capsys.readouterr().err


def _schema(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["schema", "rules"]) == 0
    schema: dict[str, object] = json.loads(capsys.readouterr().out)
    return schema


def test_schema_rules_is_a_json_schema_that_agrees_with_the_loader(
    capsys: pytest.CaptureFixture[str],
) -> None:
    schema = _schema(capsys)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "ocpp-chaos rule file"
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)

    good = yaml.safe_load(GOOD)
    assert list(validator.iter_errors(good)) == []
    assert list(validator.iter_errors(good["rules"])) == []  # the bare list form
    single = {"rules": [{"name": "x", "match": {"action": "Heartbeat"}, "fault": {"type": "drop"}}]}
    assert list(validator.iter_errors(single)) == []  # one string where a list is allowed

    unknown_key = yaml.safe_load(BAD.replace("delay: 3x", "delay: 3s"))
    assert not validator.is_valid(unknown_key)  # dration
    assert not validator.is_valid({"rules": [{"name": "x", "fault": {"type": "signal_lost"}}]})
    assert not validator.is_valid({"rules": [{"name": "x", "fault": {"type": "delay"}}]})
    assert not validator.is_valid(
        {"rules": [{"name": "x", "fault": {"type": "delay", "delay": "3x"}}]}
    )
    assert not validator.is_valid({"rule": []})


def test_schema_needs_a_known_kind(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["schema", "nonsense"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_proxy_with_a_bad_rule_file_starts_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _write(tmp_path, "bad.yaml", "- name: a\n  fault: {type: delay, delay: 3x}\n")
    code = main(["proxy", "--rules", str(bad), "--listen", "127.0.0.1:0", "--headless"])
    assert code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{bad}:2:31: rules[0] (a).fault.delay: '3x' is not a duration "
        "(use seconds, or '500ms', '30s', '2m', '1h')"
    ]


def test_proxy_rules_and_seed_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ocpp_chaos.cli import build_parser, proxy

    a = _write(tmp_path, "a.yaml", "- name: a\n  fault: {type: drop}\n")
    b = _write(tmp_path, "b.json", '{"rules": [{"name": "b", "fault": {"type": "blackhole"}}]}')
    args = build_parser().parse_args(["proxy", "--rules", str(a), "--rules", str(b), "--seed", "7"])
    assert args.rules == [a, b]
    assert args.seed == 7
    assert build_parser().parse_args(["proxy"]).rules == []
    assert build_parser().parse_args(["proxy"]).seed == 0

    # run() loads the files onto args before it serves; stop it right there.
    monkeypatch.setattr(proxy, "run_until_signal", lambda main: 0)
    args.headless, args.log_level = True, "error"
    assert proxy.run(args) == 0
    assert [(path, [r.name for r in rf.rules]) for path, rf in args.rule_files] == [
        (a, ["a"]),
        (b, ["b"]),
    ]
