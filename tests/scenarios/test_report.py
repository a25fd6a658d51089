"""The reports of a scenario run: JUnit XML, JSON, HTML, the terminal table, the files."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ocpp_chaos.scenarios.report import (
    html_report,
    json_report,
    junit_xml,
    parse_json_report,
    summary_counts,
    verdict_table,
    write_reports,
)
from ocpp_chaos.scenarios.result import (
    ExpectationResult,
    FaultWindow,
    ScenarioResult,
    StepResult,
)

NASTY = "a<b>&c\"d'e \x00\x01\x1b[31m\x7f \ufffe é ✓ 日本 ]]> </script> --> \ud800"
"""Markup, quotes, control characters XML forbids, an ANSI escape, non-ASCII, a lone
surrogate."""


def passed_result() -> ScenarioResult:
    return ScenarioResult(
        name="boot-storm",
        description="All chargers boot at once.",
        tags=["smoke", "OCPP-1.6:4.2"],
        seed=7,
        target="ws://127.0.0.1:9000/ocpp",
        started_at="2025-01-02T03:04:05+00:00",
        duration_s=42.5,
        verdict="passed",
        expectations=[
            ExpectationResult("all_accepted", "before", "passed", "10/10 accepted", at=0.0),
            ExpectationResult("all_accepted", "during", "passed", "held throughout"),
            ExpectationResult("every_call_answered", "end", "passed", "120 calls answered"),
        ],
        steps=[
            StepResult(0, "start_chargers", "start", "passed", 0.0, 1.5, chargers=10),
            StepResult(1, "wait", "settle", "passed", 1.5, 40.0),
        ],
        findings=[
            {
                "kind": "slow_response",
                "severity": "warning",
                "charger": "cp-002",
                "spec": "OCPP-J 4.1",
                "message": "BootNotification took 2.3 s",
            }
        ],
        finding_counts={"slow_response": 1},
        response_times={
            "BootNotification": {
                "count": 10,
                "p50": 0.012,
                "p95": 0.4,
                "p99": 2.3,
                "max": 2.3,
                "buckets": [[0.01, 4], [0.05, 3], [0.5, 2], [5.0, 1], [None, 0]],
            },
            "Heartbeat": {"count": 30, "p50": 0.002, "p95": 0.004, "p99": 0.01, "max": 0.02},
        },
        messages=[{"t": float(t), "up": t % 7 + 1, "down": t % 5} for t in range(43)],
        fault_windows=[
            FaultWindow("delay 2s", 10.0, 20.0),
            FaultWindow("outage", 15.0, 18.0),
            FaultWindow("drop 10%", 30.0, None),
        ],
        charger_timeline={
            f"cp-{n:03}": [[0.0, "connecting"], [0.5 + n / 10, "accepted"], [30.0, "offline"]]
            for n in range(1, 11)
        },
        metrics={"transactions_started": 0.0, "boots": 10.0},
        tape="runs/boot-storm.jsonl",
    )


def failed_result() -> ScenarioResult:
    return ScenarioResult(
        name="slow-csms",
        description="",
        tags=[],
        seed=1,
        target="embedded reference CSMS",
        started_at="2025-01-02T03:05:00Z",
        duration_s=10.0,
        verdict="failed",
        expectations=[
            ExpectationResult("no_findings", "end", "passed", "no error finding"),
            ExpectationResult(
                "response_time p99<=2s",
                "end",
                "failed",
                "p99 2.4 s > 2 s for StartTransaction",
                evidence=[{"action": "StartTransaction", "p99": 2.4, "charger": "cp-001"}],
                at=9.5,
            ),
            ExpectationResult("all_accepted", "during", "error", "could not ask: timeout"),
        ],
    )


def error_result() -> ScenarioResult:
    return ScenarioResult(
        name="unreachable",
        description="The CSMS is not there.",
        tags=["x"],
        seed=3,
        target="ws://10.0.0.1:1/",
        started_at="2025-01-02T03:06:00+00:00",
        duration_s=1.25,
        verdict="error",
        error="connection refused",
        steps=[StepResult(0, "start_chargers", "", "error", 0.0, 1.2, error="refused")],
    )


def empty_result() -> ScenarioResult:
    """No data at all (e.g. a scenario that stopped at once)."""
    return ScenarioResult(
        name="empty",
        description="",
        tags=[],
        seed=0,
        target="",
        started_at="not a date",
        duration_s=0.0,
        verdict="passed",
    )


def nasty_result() -> ScenarioResult:
    return ScenarioResult(
        name=f"nasty {NASTY}",
        description=NASTY,
        tags=[NASTY],
        seed=5,
        target=NASTY,
        started_at="2025-01-02T03:07:00+00:00",
        duration_s=5.0,
        verdict="failed",
        expectations=[
            ExpectationResult(
                NASTY, "end", "failed", NASTY, evidence=[{"frame": NASTY, NASTY: 1}], at=1.0
            ),
            ExpectationResult(NASTY, "end", "error", NASTY),
        ],
        steps=[StepResult(0, "send_raw", NASTY, "error", error=NASTY)],
        findings=[
            {"kind": NASTY, "severity": NASTY, "charger": NASTY, "spec": NASTY, "message": NASTY}
        ],
        response_times={NASTY: {"count": 1, "p50": 0.1, "buckets": [[0.5, 1]]}},
        messages=[{"t": 0.0, "up": 1, "down": 1}, {"t": 1.0, "up": 2, "down": 0}],
        fault_windows=[FaultWindow(NASTY, 0.5, None)],
        charger_timeline={NASTY: [[0.0, NASTY]]},
        metrics={NASTY: 1.0},
        tape=NASTY,
    )


def all_results() -> list[ScenarioResult]:
    return [passed_result(), failed_result(), error_result(), empty_result(), nasty_result()]


# -- JUnit ---------------------------------------------------------------------------------


def test_junit_counts_names_and_properties() -> None:
    root = ET.fromstring(junit_xml([passed_result(), failed_result(), error_result()]))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("7", "1", "2")
    assert float(root.get("time") or 0) == pytest.approx(42.5 + 10 + 1.25)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["boot-storm", "slow-csms", "unreachable"]

    boot = suites[0]
    assert (boot.get("tests"), boot.get("failures"), boot.get("errors")) == ("3", "0", "0")
    assert boot.get("time") == "42.500"
    assert boot.get("timestamp") == "2025-01-02T03:04:05"
    properties = {p.get("name"): p.get("value") for p in boot.iter("property")}
    assert properties["seed"] == "7"
    assert properties["target"] == "ws://127.0.0.1:9000/ocpp"
    assert properties["tags"] == "smoke, OCPP-1.6:4.2"
    # properties come first, as the JUnit schema wants
    assert boot[0].tag == "properties"
    cases = boot.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "before: all_accepted",
        "during: all_accepted",
        "end: every_call_answered",
    ]
    assert {c.get("classname") for c in cases} == {"ocpp_chaos.boot-storm"}
    assert all(len(c) == 0 for c in cases)

    slow = suites[1]
    assert (slow.get("tests"), slow.get("failures"), slow.get("errors")) == ("3", "1", "1")
    assert slow.get("timestamp") == "2025-01-02T03:05:00"
    failure = slow.find("testcase/failure")
    assert failure is not None
    assert failure.get("message") == "p99 2.4 s > 2 s for StartTransaction"
    assert "StartTransaction" in (failure.text or "")
    assert "cp-001" in (failure.text or "")
    assert "at 9.500 s" in (failure.text or "")
    error = slow.find("testcase/error")
    assert error is not None and error.get("message") == "could not ask: timeout"

    unreachable = suites[2]
    assert (unreachable.get("tests"), unreachable.get("errors")) == ("1", "1")
    (case,) = unreachable.findall("testcase")
    assert case.get("name") == "scenario"
    scenario_error = case.find("error")
    assert scenario_error is not None
    assert scenario_error.get("message") == "connection refused"
    assert "refused" in (scenario_error.text or "")


def test_junit_a_verdict_no_expectation_explains_is_not_lost() -> None:
    result = failed_result()
    result.verdict = "error"
    result.expectations = [e for e in result.expectations if e.status == "passed"]
    suite = ET.fromstring(junit_xml([result])).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("errors")) == ("2", "1")
    assert [c.get("name") for c in suite.iter("testcase")] == ["end: no_findings", "scenario"]


def test_junit_empty_and_duplicates() -> None:
    root = ET.fromstring(junit_xml([]))
    assert (root.tag, root.get("tests"), len(root)) == ("testsuites", "0", 0)

    empty = ET.fromstring(junit_xml([empty_result()])).find("testsuite")
    assert empty is not None
    assert empty.get("timestamp") is None  # "not a date"
    (case,) = empty.findall("testcase")
    assert (case.get("name"), len(case)) == ("scenario", 0)  # a suite is never empty

    result = passed_result()
    result.expectations.append(ExpectationResult("all_accepted", "during", "passed", "again"))
    suite = ET.fromstring(junit_xml([result])).find("testsuite")
    assert suite is not None
    names = [c.get("name") for c in suite.iter("testcase")]
    assert len(names) == len(set(names))
    assert "during: all_accepted (2)" in names


def test_junit_nasty_strings() -> None:
    text = junit_xml([nasty_result()])
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    text.encode("utf-8")  # no lone surrogate left
    root = ET.fromstring(text)
    suite = root.find("testsuite")
    assert suite is not None
    clean = "a<b>&c\"d'e \x1b[31m\x7f  é ✓ 日本 ]]> </script> --> "
    assert suite.get("name") == f"nasty {clean}".replace("\x1b", "")
    case = suite.find("testcase")
    assert case is not None
    assert case.get("classname") == f"ocpp_chaos.nasty {clean}".replace("\x1b", "")
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == clean.replace("\x1b", "")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "1")
    for element in root.iter():
        for value in [element.text or "", *element.attrib.values()]:
            assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\ud800-\udfff]", value)


# -- JSON ----------------------------------------------------------------------------------


def test_json_round_trips() -> None:
    results = [passed_result(), failed_result(), error_result(), empty_result()]
    text = json_report(results)
    document = json.loads(text)
    assert list(document) == ["version", "results", "summary"]
    assert document["version"] == 1
    assert document["summary"] == {"passed": 2, "failed": 1, "error": 1, "total": 4}
    assert document["results"] == [r.to_json() for r in results]
    assert list(document["results"][0]) == list(results[0].to_json())
    assert text.startswith('{\n  "version": 1,')
    assert parse_json_report(text) == results
    assert json_report(results) == text


def test_json_strict_and_nasty() -> None:
    result = nasty_result()
    result.metrics["nan"] = float("nan")
    result.response_times["x"] = {"max": float("inf")}
    text = json_report([result])
    text.encode("utf-8")
    assert "NaN" not in text and "Infinity" not in text
    document = json.loads(text)
    assert document["results"][0]["metrics"]["nan"] is None
    assert document["results"][0]["name"] == f"nasty {NASTY}"
    assert document["results"][0]["findings"][0]["message"] == NASTY


def test_parse_json_report_rejects_others() -> None:
    with pytest.raises(ValueError):
        parse_json_report('{"version": 2, "results": []}')
    with pytest.raises(ValueError):
        parse_json_report('{"version": 1, "results": [{"name": "x"}]}')
    assert parse_json_report('{"version": 1, "results": []}') == []


def test_summary_counts() -> None:
    assert summary_counts(all_results()) == {"passed": 2, "failed": 2, "error": 1, "total": 5}


# -- HTML ----------------------------------------------------------------------------------

VOID = {"meta", "link", "br", "hr", "img", "input", "col", "wbr", "source", "area", "base"}


class Checker(HTMLParser):
    """Checks tags balance and collects what a self-contained page must not have."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.external: list[str] = []
        self.counts: dict[str, int] = {}
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1
        values = dict(attrs)
        for name in ("src", "href", "xlink:href", "action", "data"):
            value = values.get(name) or ""
            if re.match(r"\s*(https?:)?//", value, re.I) or (name == "src" and value):
                self.external.append(f"{tag} {name}={value}")
        if tag == "link":
            self.external.append(f"link {values}")
        if tag == "script" and "src" in values:
            self.external.append("script src")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:]}")
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check(page: str) -> Checker:
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.problems == []
    assert checker.stack == []
    assert checker.external == []
    assert page.startswith("<!DOCTYPE html>")
    assert "@import" not in page and "url(" not in page
    for tag in ("html", "head", "body", "main", "style"):
        assert checker.counts.get(tag) == 1, tag
    assert re.search(r"<head>.*<title>[^<]+</title>.*</head>", page, re.S)
    return checker


def sections(page: str) -> list[str]:
    return re.findall(r"<section .*?</section>", page, re.S)


def test_html_self_contained_and_complete() -> None:
    results = [passed_result(), failed_result(), error_result()]
    page = html_report(results)
    checker = check(page)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page
    text = "".join(checker.text)
    assert "1 passed" in text and "1 failed" in text and "1 error" in text
    boot, slow, unreachable = sections(page)

    # the header: verdict as a word (not colour alone), seed, target, duration, tags
    assert "✔ passed" in boot and "boot-storm" in boot
    for expected in ("7", "ws://127.0.0.1:9000/ocpp", "42.5 s", "smoke", "OCPP-1.6:4.2"):
        assert expected in boot
    # three charts, each an <svg>
    assert boot.count("<svg") == 1 + 1 + 1  # one histogram (Heartbeat has no buckets)
    assert "BootNotification" in boot and "p99 2.30 s" in boot
    assert "delay 2s" in boot and "outage" in boot and "until the end" in boot
    assert "cp-010" in boot and "accepted" in boot and "offline" in boot
    assert "slow_response" in boot and "BootNotification took 2.3 s" in boot
    assert "l-up" in boot and "l-down" in boot

    assert "✘ failed" in slow
    assert "<details><summary>1 item</summary>" in slow
    assert "StartTransaction" in slow and "9.50 s" in slow
    assert slow.count("<svg") == 0 and slow.count("no data") == 4  # 3 charts, metrics

    assert "⚠ error" in unreachable and "connection refused" in unreachable


def test_html_no_data() -> None:
    page = html_report([empty_result()])
    check(page)
    assert "<svg" not in page
    assert page.count("no data") >= 3
    assert "no expectations" not in page or "no data" in page
    assert "no scenarios" in html_report([])
    check(html_report([]))


def test_html_escapes_nasty_strings() -> None:
    page = html_report([nasty_result()])
    page.encode("utf-8")
    checker = check(page)
    assert "a<b>" not in page and "</script> -->" not in page
    assert "a&lt;b&gt;&amp;c&quot;d&#x27;e" in page
    assert "\x00" not in page and "\x1b" not in page and "\x7f" not in page
    assert "\\x1b[31m" in page  # shown, not acted on
    assert "é ✓ 日本" in page
    assert "a<b>&c\"d'e" in "".join(checker.text)
    # the nasty data still makes charts
    assert page.count("<svg") == 3


def test_html_caps_the_timeline_and_findings() -> None:
    result = passed_result()
    result.charger_timeline = {f"cp-{n}": [[0.0, "accepted"]] for n in range(1, 121)}
    result.findings = [
        {"kind": "k", "severity": "error", "charger": f"ev-{n}", "message": f"m{n}"}
        for n in range(600)
    ]
    result.finding_counts = {"k": 600}
    page = html_report([result])
    check(page)
    assert "and 70 more chargers not shown" in page
    assert ">cp-50<" in page and ">cp-51<" not in page  # natural order: cp-2 before cp-10
    assert ">m499<" in page and ">m500<" not in page
    assert "and 100 more findings" in page


def test_html_long_message_series_is_thinned() -> None:
    result = passed_result()
    result.messages = [{"t": float(t), "up": 1.0, "down": 2.0} for t in range(10_000)]
    result.messages[1234]["up"] = 500.0
    page = html_report([result])
    check(page)
    (line,) = re.findall(r'class="l-up" points="([^"]*)"', page)
    assert 500 < len(line.split()) <= 1500
    assert "busiest second" in page


def test_cumulative_buckets_are_undone() -> None:
    result = passed_result()
    result.response_times = {
        "Authorize": {"count": 10, "buckets": [[0.01, 4], [0.1, 9], [1.0, 10]]},
    }
    page = html_report([result])
    titles = re.findall(r"<title>(≤ [^<]*)</title>", page)
    assert titles == ["≤ 10ms: 4 responses", "≤ 100ms: 5 responses", "≤ 1s: 1 response"]


# -- the terminal --------------------------------------------------------------------------


def test_verdict_table() -> None:
    table = verdict_table([passed_result(), failed_result(), error_result()])
    lines = table.splitlines()
    assert lines[0].split() == ["scenario", "expectation", "phase", "status", "summary"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[-1] == "1 passed, 1 failed, 1 error"
    assert len(lines) == 2 + 3 + 3 + 1 + 1
    # columns line up: each status starts where the header's does
    column = lines[0].index("status")
    for line in lines[2:-1]:
        assert line[column:].split()[0] in {"passed", "failed", "error"}
    assert any(
        "unreachable" in line and "(scenario)" in line and "connection refused" in line
        for line in lines
    )
    assert verdict_table([]) == "0 passed, 0 failed, 0 errors\n"


def test_verdict_table_width_and_nasty() -> None:
    table = verdict_table([nasty_result()], width=100)
    assert "\x1b" not in table and "\x00" not in table
    for line in table.splitlines()[2:-1]:
        assert "…" in line
    assert verdict_table([failed_result()], width=60).splitlines()[-1].endswith("0 errors")


# -- files ---------------------------------------------------------------------------------


def test_write_reports(tmp_path: Path) -> None:
    results = all_results()
    junit = tmp_path / "a" / "junit.xml"
    as_json = tmp_path / "b" / "c" / "report.json"
    page = tmp_path / "report.html"
    write_reports(results, junit=junit, json=as_json, html=page)
    assert ET.parse(junit).getroot().tag == "testsuites"
    assert json.loads(as_json.read_text(encoding="utf-8"))["summary"]["total"] == 5
    assert page.read_text(encoding="utf-8") == html_report(results)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "junit.xml",
        "report.html",
        "report.json",
    ]


def test_write_reports_only_what_is_asked(tmp_path: Path) -> None:
    write_reports([passed_result()], junit=None, json=str(tmp_path / "r.json"), html=None)
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


class FakeResponseTimes:
    """Like the oracle's ResponseTimes: an object whose to_json() gives milliseconds."""

    def to_json(self) -> dict[str, object]:
        return {
            "count": 3,
            "p50_ms": 12.0,
            "p95_ms": 250.0,
            "p99_ms": 250.0,
            "max_ms": 2400.0,
            "mean_ms": 100.0,
            "buckets": [[10.0, 1], [251.2, 1], [None, 1]],
        }


def test_response_times_in_milliseconds_or_as_objects() -> None:
    result = passed_result()
    result.response_times = {
        "as_dict": FakeResponseTimes().to_json(),
        "as_object": FakeResponseTimes(),  # type: ignore[dict-item]
    }
    page = html_report([result])
    check(page)
    assert page.count("p99 250 ms") == 2 and page.count("max 2.40 s") == 2
    titles = re.findall(r"<title>((?:≤|over) [^<]*)</title>", page)
    assert titles == ["≤ 10ms: 1 response", "≤ 251ms: 1 response", "over 251ms: 1 response"] * 2
    document = json.loads(json_report([result]))
    assert document["results"][0]["response_times"]["as_object"]["p50_ms"] == 12.0
