"""The reports of scenario runs, made from `ScenarioResult`s (plain data, nothing live):

- `junit_xml`: JUnit XML for CI (GitHub, GitLab, Jenkins): a suite per scenario, a test
  case per expectation asked;
- `json_report` (and `parse_json_report` to read one back): every result, as data;
- `html_report`: one self-contained HTML file (inline CSS, inline SVG charts, no script,
  nothing fetched) for people who would rather look than read;
- `verdict_table`: a plain-text table for the terminal;
- `write_reports`: any of the three files at once.

Results are read defensively: a field the runner left empty (no messages, no response
times...) shows as "no data", and odd values (wrong types, NaN) are skipped, not raised on.
"""

from __future__ import annotations

import dataclasses
import json as _json
import math
import os
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape as _escape
from itertools import pairwise
from pathlib import Path
from typing import Any

from ocpp_chaos.scenarios.result import (
    ExpectationResult,
    FaultWindow,
    ScenarioResult,
    StepResult,
)

__all__ = [
    "html_report",
    "json_report",
    "junit_xml",
    "parse_json_report",
    "summary_counts",
    "verdict_table",
    "write_reports",
]

JSON_VERSION = 1
MAX_TIMELINE_CHARGERS = 50
MAX_FINDINGS = 500

# -- text ----------------------------------------------------------------------------------

# Characters XML 1.0 does not allow at all (C0 controls but tab/LF/CR, surrogates, FFFE/FFFF).
_XML_FORBIDDEN = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Characters shown escaped in HTML and on the terminal (controls, lone surrogates...).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _jsonable(value: Any) -> Any:
    """`value` as strict JSON data: non-finite floats become null, unknown objects text."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        return _jsonable(to_json())
    return str(value)


def _dumps(value: Any, *, indent: int | None = None) -> str:
    return _json.dumps(_jsonable(value), ensure_ascii=False, allow_nan=False, indent=indent)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    return _dumps(value)


def _visible_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _visible(text: str) -> str:
    """Control characters written out (\\x1b), so they show and do nothing."""
    return _CONTROL.sub(_visible_char, text)


def _h(value: Any) -> str:
    """Any value as HTML text (escaped, quotes included)."""
    return _escape(_visible(_text(value)), quote=True)


def _x(value: Any) -> str:
    """Any value as XML 1.0 text: characters it forbids are dropped (ElementTree escapes)."""
    return _XML_FORBIDDEN.sub("", _text(value))


def _float(value: Any) -> float | None:
    """A number (infinity allowed), or None for anything else (NaN, text, bool...)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return None if math.isnan(number) else number


def _finite(value: Any) -> float | None:
    number = _float(value)
    return number if number is not None and math.isfinite(number) else None


def _seconds(value: Any) -> str:
    """A duration for people: 850 ms, 2.40 s, 12.3 s, 2 min 03.0 s."""
    s = _finite(value)
    if s is None:
        return "—"
    if s < 0:
        return "-" + _seconds(-s)
    if s == 0:
        return "0 s"
    if s < 0.01:
        return f"{s * 1000:.2g} ms"
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 10:
        return f"{s:.2f} s"
    if s < 60:
        return f"{s:.1f} s"
    minutes, rest = divmod(s, 60)
    return f"{int(minutes)} min {rest:04.1f} s"


def _short_seconds(value: float) -> str:
    """A histogram bound: 5ms, 250ms, 1s, 2.5s, +∞."""
    if math.isinf(value):
        return "+∞"
    if value < 1:
        return f"{value * 1000:.3g}ms"
    return f"{value:.3g}s"


def _natural(text: str) -> list[str]:
    """A sort key putting cp-2 before cp-10."""
    return [p.zfill(20) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", text)]


def _verdict(value: Any) -> str:
    return value if value in ("passed", "failed") else "error"


# -- counts and the scenario-level outcome -------------------------------------------------


def summary_counts(results: Sequence[ScenarioResult]) -> dict[str, int]:
    """{passed, failed, error, total}: scenarios by verdict (an unknown verdict is an error)."""
    counts = Counter(_verdict(r.verdict) for r in results)
    return {
        "passed": counts["passed"],
        "failed": counts["failed"],
        "error": counts["error"],
        "total": len(results),
    }


def _expectations(result: ScenarioResult) -> list[ExpectationResult]:
    return [e for e in (result.expectations or []) if isinstance(e, ExpectationResult)]


def _steps(result: ScenarioResult) -> list[StepResult]:
    return [s for s in (result.steps or []) if isinstance(s, StepResult)]


def _windows(result: ScenarioResult) -> list[FaultWindow]:
    return [
        w
        for w in (result.fault_windows or [])
        if isinstance(w, FaultWindow) and _finite(w.start) is not None
    ]


def _scenario_outcome(result: ScenarioResult) -> tuple[str, str, str] | None:
    """(status, message, details) of a "scenario" test case, when one is needed: the run
    failed outside the expectations (an error, or a verdict no expectation explains), or
    it asked nothing (then a passed case, so the suite is not empty)."""
    step_errors = [
        f"step {s.index} ({s.name or s.do}): {s.status}: {s.error}"
        for s in _steps(result)
        if s.status != "passed" and s.error
    ]
    details = "\n".join(step_errors)
    verdict = _verdict(result.verdict)
    expectations = _expectations(result)
    if result.error:
        return "error", _text(result.error), details
    if verdict != "passed" and all(e.status == "passed" for e in expectations):
        message = step_errors[0] if step_errors else f"the scenario {verdict}"
        return verdict, message, details
    if not expectations:
        return "passed", "no expectations", details
    return None


# -- JUnit XML -----------------------------------------------------------------------------


def _timestamp(value: Any) -> str | None:
    """ISO 8601 as JUnit readers want it: UTC, seconds, no zone."""
    try:
        moment = datetime.fromisoformat(_text(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _evidence_text(expectation: ExpectationResult) -> str:
    lines = [expectation.summary]
    at = _finite(expectation.at)
    if at is not None:
        lines.append(f"at {at:.3f} s since the start")
    if expectation.evidence:
        lines.append(_dumps(expectation.evidence, indent=2))
    return "\n".join(lines)


def _junit_suite(result: ScenarioResult) -> tuple[ET.Element, int, int, int, float]:
    duration = max(_finite(result.duration_s) or 0.0, 0.0)
    suite = ET.Element(
        "testsuite",
        {
            "name": _x(result.name),
            "tests": "0",
            "failures": "0",
            "errors": "0",
            "skipped": "0",
            "time": f"{duration:.3f}",
        },
    )
    timestamp = _timestamp(result.started_at)
    if timestamp:
        suite.set("timestamp", timestamp)
    properties = ET.SubElement(suite, "properties")
    props: list[tuple[str, Any]] = [
        ("seed", result.seed),
        ("target", result.target),
        ("verdict", result.verdict),
        ("started_at", result.started_at),
    ]
    if result.tags:
        props.append(("tags", ", ".join(_text(t) for t in result.tags)))
    if result.tape:
        props.append(("tape", result.tape))
    for name, value in props:
        ET.SubElement(properties, "property", {"name": name, "value": _x(value)})

    classname = _x(f"ocpp_chaos.{result.name}")
    tests = failures = errors = 0
    seen: Counter[str] = Counter()

    def case(name: str, status: str, message: str, text: str) -> None:
        nonlocal tests, failures, errors
        seen[name] += 1
        if seen[name] > 1:  # readers merge cases of the same name
            name = f"{name} ({seen[name]})"
        element = ET.SubElement(
            suite, "testcase", {"classname": classname, "name": _x(name), "time": "0.000"}
        )
        tests += 1
        if status == "passed":
            return
        if status == "failed":
            failures += 1
            tag = "failure"
        else:
            errors += 1
            tag = "error"
        outcome = ET.SubElement(element, tag, {"message": _x(message), "type": tag})
        outcome.text = _x(text)

    for e in _expectations(result):
        case(f"{e.phase}: {e.name}", _text(e.status), e.summary, _evidence_text(e))
    outcome = _scenario_outcome(result)
    if outcome is not None:
        status, message, details = outcome
        case("scenario", status, message, "\n".join(filter(None, [message, details])))

    lines = [result.description] if result.description else []
    for s in _steps(result):
        line = f"step {s.index} {s.name or s.do} [{s.do}]: {s.status}"
        if s.error:
            line += f" ({s.error})"
        lines.append(line)
    if result.tape:
        lines.append(f"tape: {result.tape}")
    if lines:
        ET.SubElement(suite, "system-out").text = _x("\n".join(lines))

    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    return suite, tests, failures, errors, duration


def junit_xml(results: Sequence[ScenarioResult]) -> str:
    """JUnit XML: <testsuites>, a <testsuite> per scenario (properties seed, target...), a
    <testcase> per expectation result ("<phase>: <name>", classname ocpp_chaos.<scenario>)
    and a "scenario" case for an error outside the expectations."""
    root = ET.Element(
        "testsuites",
        {"name": "ocpp-chaos", "tests": "0", "failures": "0", "errors": "0", "time": "0"},
    )
    tests = failures = errors = 0
    time = 0.0
    for result in results:
        suite, t, f, e, d = _junit_suite(result)
        root.append(suite)
        tests, failures, errors, time = tests + t, failures + f, errors + e, time + d
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    root.set("time", f"{time:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


# -- JSON ----------------------------------------------------------------------------------


def json_report(results: Sequence[ScenarioResult]) -> str:
    """{"version": 1, "results": [...], "summary": {passed, failed, error, total}}, indented.

    Keys keep their order (the result's fields, in order), so two reports diff well.
    Strict JSON: NaN and infinities become null; lone surrogates are written escaped."""
    document = {
        "version": JSON_VERSION,
        "results": [r.to_json() for r in results],
        "summary": summary_counts(results),
    }
    text = _dumps(document, indent=2)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"


def _build(cls: type[Any], data: Any) -> Any:
    if not isinstance(data, Mapping):
        raise ValueError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    try:
        return cls(**{k: v for k, v in data.items() if k in names})
    except TypeError as exc:
        raise ValueError(f"{cls.__name__}: {exc}") from None


def parse_json_report(text: str) -> list[ScenarioResult]:
    """The results of a `json_report` (keys it does not know are ignored); ValueError if
    it is not one."""
    document = _json.loads(text)
    if not isinstance(document, dict) or document.get("version") != JSON_VERSION:
        raise ValueError(f"not an ocpp-chaos JSON report (version {JSON_VERSION})")
    results: list[ScenarioResult] = []
    for item in document.get("results") or []:
        if not isinstance(item, Mapping):
            raise ValueError("a result is not an object")
        data = dict(item)
        data["expectations"] = [
            _build(ExpectationResult, e) for e in item.get("expectations") or []
        ]
        data["steps"] = [_build(StepResult, s) for s in item.get("steps") or []]
        data["fault_windows"] = [_build(FaultWindow, w) for w in item.get("fault_windows") or []]
        results.append(_build(ScenarioResult, data))
    return results


# -- the terminal --------------------------------------------------------------------------


def _width(text: str) -> int:
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def _clip(text: str, width: int) -> str:
    if _width(text) <= width:
        return text
    out, used = [], 0
    for c in text:
        w = _width(c)
        if used + w > width - 1:
            break
        out.append(c)
        used += w
    return "".join(out) + "…"


def _cell(value: Any) -> str:
    return _visible(" ".join(_text(value).split()))


def verdict_table(results: Sequence[ScenarioResult], *, width: int | None = None) -> str:
    """A plain-text table (scenario, expectation, phase, status, summary) and a last line
    "N passed, M failed, K errors" (scenarios). `width` (a terminal's): names and
    summaries are clipped (…) to fit it."""
    header = ("scenario", "expectation", "phase", "status", "summary")
    rows: list[tuple[str, ...]] = []
    for r in results:
        for e in _expectations(r):
            rows.append(tuple(_cell(v) for v in (r.name, e.name, e.phase, e.status, e.summary)))
        outcome = _scenario_outcome(r)
        if outcome is not None:
            status, message, _ = outcome
            rows.append(tuple(_cell(v) for v in (r.name, "(scenario)", "", status, message)))
    counts = summary_counts(results)
    errors = counts["error"]
    footer = (
        f"{counts['passed']} passed, {counts['failed']} failed, "
        f"{errors} {'error' if errors == 1 else 'errors'}"
    )
    if not rows:
        return footer + "\n"
    widths = [max(_width(row[i]) for row in [header, *rows]) for i in range(len(header))]
    if width is not None:
        # the names get at most a quarter of the width each, the summary what is left
        for i in (0, 1):
            widths[i] = min(widths[i], max(width // 4, len(header[i])))
        room = width - sum(widths[:-1]) - 2 * (len(header) - 1)
        widths[-1] = max(min(widths[-1], room), 10)

    def line(cells: Sequence[str]) -> str:
        parts = [_clip(c, w) for c, w in zip(cells, widths, strict=True)]
        padded = [c + " " * (w - _width(c)) for c, w in zip(parts[:-1], widths, strict=False)]
        return "  ".join([*padded, parts[-1]]).rstrip()

    lines = [line(header), line(["-" * w for w in widths])]
    lines.extend(line(row) for row in rows)
    lines.append(footer)
    return "\n".join(lines) + "\n"


# -- files ---------------------------------------------------------------------------------


def _write(path: str | os.PathLike[str], text: str) -> None:
    """Write whole (a temporary file renamed), so a reader never sees half a report."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_reports(
    results: Sequence[ScenarioResult],
    *,
    junit: str | os.PathLike[str] | None = None,
    json: str | os.PathLike[str] | None = None,
    html: str | os.PathLike[str] | None = None,
) -> None:
    """Write the reports asked for (UTF-8; parent directories are created)."""
    if junit is not None:
        _write(junit, junit_xml(results))
    if json is not None:
        _write(json, json_report(results))
    if html is not None:
        _write(html, html_report(results))


# -- HTML ----------------------------------------------------------------------------------

_CSS = """
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--border:#d1d9e0;
--head:#f6f8fa;--pass:#1a7f37;--fail:#cf222e;--err:#9a6700;--up:#0969da;--down:#bc4c00;
--fault:rgba(207,34,46,.12);--faultline:#cf222e;--bar:#0969da;--grid:#e8ebef}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;
--border:#3d444d;--head:#161b22;--pass:#3fb950;--fail:#f85149;--err:#d29922;--up:#4493f8;
--down:#f0883e;--fault:rgba(248,81,73,.18);--faultline:#f85149;--bar:#4493f8;--grid:#262c36}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1240px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:1.6em;margin:.4em 0}h2{font-size:1.3em;margin:0 0 .4em;overflow-wrap:anywhere}
h3{display:inline;font-size:1.05em;margin:0}h4{font-size:1em;margin:.2em 0;overflow-wrap:anywhere}
a{color:var(--up)}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre{white-space:pre-wrap;overflow-wrap:anywhere;max-height:28em;overflow:auto;
background:var(--head);border:1px solid var(--border);border-radius:4px;padding:6px 8px;
margin:4px 0}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:6px 0 12px;min-width:50%}
th,td{border:1px solid var(--border);padding:4px 8px;text-align:left;vertical-align:top;
overflow-wrap:anywhere}
th{background:var(--head);font-weight:600;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.scenario{border:1px solid var(--border);border-left:6px solid var(--err);border-radius:6px;
padding:12px 16px;margin:20px 0}
.scenario.v-passed{border-left-color:var(--pass)}.scenario.v-failed{border-left-color:var(--fail)}
.badge{display:inline-block;padding:0 8px;border:1.5px solid currentColor;border-radius:10px;
font-weight:700;font-size:.9em;white-space:nowrap}
.s-passed{color:var(--pass)}.s-failed{color:var(--fail)}.s-error{color:var(--err)}
.st{font-weight:600;white-space:nowrap}
.desc{margin:.2em 0 .6em}
.meta{display:flex;flex-wrap:wrap;gap:4px 24px;margin:0 0 8px}
.meta div{display:flex;gap:6px}.meta dt{color:var(--muted)}.meta dd{margin:0;overflow-wrap:anywhere}
.tag{display:inline-block;border:1px solid var(--border);border-radius:4px;padding:0 6px;
margin:0 4px 2px 0;background:var(--head)}
.alert{border:1px solid var(--err);border-radius:4px;padding:6px 10px;margin:8px 0}
details.part{margin:10px 0}details.part>summary{cursor:pointer;padding:2px 0}
.nodata{color:var(--muted);font-style:italic}.muted{color:var(--muted)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(350px,1fr));gap:8px 16px}
figure{margin:6px 0}figcaption{color:var(--muted);font-size:.9em}
.figures{color:var(--muted);font-size:.9em;font-variant-numeric:tabular-nums}
svg.chart{max-width:100%;height:auto;display:block}
svg.chart text{fill:var(--muted);font-size:11px;font-family:inherit}
svg.chart .gridline{stroke:var(--grid);stroke-width:1}
svg.chart .axis{stroke:var(--muted);stroke-width:1}
svg.chart .bar{fill:var(--bar)}
svg.chart .l-up{fill:none;stroke:var(--up);stroke-width:1.6}
svg.chart .l-down{fill:none;stroke:var(--down);stroke-width:1.6;stroke-dasharray:6 3}
svg.chart .fault{fill:var(--fault)}
svg.chart .faultedge{stroke:var(--faultline);stroke-width:1;stroke-dasharray:2 2}
svg.chart text.flabel{fill:var(--faultline)}
.legend{list-style:none;padding:0;margin:4px 0;display:flex;flex-wrap:wrap;gap:4px 16px}
.sw{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;
vertical-align:-1px;border:1px solid var(--border)}
.ln{display:inline-block;width:22px;height:0;margin-right:5px;vertical-align:middle;
border-top:2px solid var(--up)}
.ln.down{border-top:2px dashed var(--down)}
"""

_SYMBOL = {"passed": "✔", "failed": "✘", "error": "⚠"}

# State colours of the charger timeline: mid tones that read on light and dark.
_STATE_COLOURS = {
    "accepted": "#2da44e",
    "online": "#2da44e",
    "available": "#2da44e",
    "charging": "#1f6feb",
    "connected": "#54aeff",
    "booting": "#d4a72c",
    "pending": "#d4a72c",
    "connecting": "#d4a72c",
    "rejected": "#cf222e",
    "faulted": "#cf222e",
    "error": "#cf222e",
    "offline": "#8c959f",
    "disconnected": "#8c959f",
    "stopped": "#6e7781",
}
_PALETTE = (
    "#8250df",
    "#e16f24",
    "#bf3989",
    "#1b7c83",
    "#a40e26",
    "#4d2d00",
    "#0550ae",
    "#7d4e00",
    "#116329",
    "#ff8182",
)


def _status(status: Any) -> str:
    """A status as a word with a symbol and a colour (never the colour alone)."""
    word = _verdict(status)
    label = _text(status) or word
    return f'<span class="st s-{word}">{_SYMBOL[word]} {_h(label)}</span>'


def _badge(verdict: Any) -> str:
    word = _verdict(verdict)
    return f'<span class="badge s-{word}">{_SYMBOL[word]} {_h(_text(verdict) or word)}</span>'


def _nodata(what: str = "no data") -> str:
    return f'<p class="nodata">{_h(what)}</p>'


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    """An HTML table of cells already escaped; columns in `numeric` align right."""

    def cls(i: int) -> str:
        return ' class="num"' if i in numeric else ""

    out = ['<div class="scroll"><table><thead><tr>']
    out.extend(f'<th scope="col"{cls(i)}>{_h(h)}</th>' for i, h in enumerate(header))
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        out.extend(f"<td{cls(i)}>{cell}</td>" for i, cell in enumerate(row))
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _part(title: str, body: str, *, open_: bool = True) -> str:
    return (
        f'<details class="part"{" open" if open_ else ""}><summary><h3>{_h(title)}</h3>'
        f"</summary>{body}</details>"
    )


def _nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * magnitude >= raw:
            return m * magnitude
    return 10 * magnitude


def _value_ticks(top: float, count: int = 4) -> list[float]:
    """0 to a round number at or above `top`, in round steps."""
    step = _nice_step(top if top > 0 else 1.0, count)
    n = max(1, math.ceil((top if top > 0 else 1.0) / step - 1e-9))
    return [i * step for i in range(n + 1)]


_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200)


def _time_ticks(end: float) -> list[float]:
    """Round times (s) from 0 to `end`."""
    if end < 5:
        step = _nice_step(end, 5)
    else:
        step = next((s for s in _TIME_STEPS if end / s <= 8), _nice_step(end, 6))
    ticks: list[float] = []
    t = 0.0
    while t <= end + 1e-9 and len(ticks) < 50:
        ticks.append(t)
        t += step
    return ticks


def _time_label(t: float, end: float) -> str:
    if end >= 120:
        minutes, seconds = divmod(round(t), 60)
        return f"{minutes}:{seconds:02d}"
    return f"{t:g}s"


def _count_label(v: float) -> str:
    if v >= 10_000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def _n(v: float) -> str:
    """A coordinate, short."""
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _svg_open(width: int, height: int, label: str) -> str:
    return (
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{_h(label)}"><title>{_h(label)}</title>'
    )


def _run_end(result: ScenarioResult, times: Iterable[float]) -> float:
    """Where a time axis ends: the run's duration, or the last time the data shows."""
    candidates = [_finite(result.duration_s) or 0.0, *times]
    for w in _windows(result):
        candidates.append(_finite(w.start) or 0.0)
        if _finite(w.end) is not None:
            candidates.append(_finite(w.end) or 0.0)
    end = max(candidates)
    return end if end > 0 else 1.0


def _sorted_windows(result: ScenarioResult) -> list[FaultWindow]:
    return sorted(_windows(result), key=lambda w: _finite(w.start) or 0.0)


def _label_lanes(
    result: ScenarioResult, x: Callable[[float], float], end: float
) -> list[tuple[float, int, str]]:
    """Where each fault window's label goes (x, lane, text): at its band, or further left
    where it would run off the chart, in the first of up to 4 lanes where it fits."""
    placed: list[tuple[float, int, str]] = []
    lane_ends: list[float] = []
    for w in _sorted_windows(result):
        text = _clip(_visible(_text(w.label)), 40)
        span = 6.2 * _width(text)
        start = min(max(_finite(w.start) or 0.0, 0.0), end)
        lx = max(min(x(start) + 2, x(end) - span), x(0))
        lane = next((i for i, e in enumerate(lane_ends) if e <= lx), None)
        if lane is None:
            if len(lane_ends) < 4:
                lane_ends.append(0.0)
                lane = len(lane_ends) - 1
            else:
                lane = min(range(len(lane_ends)), key=lambda i: lane_ends[i])
        lane_ends[lane] = max(lane_ends[lane], lx + span + 8)
        placed.append((lx, lane, text))
    return placed


def _lanes_needed(result: ScenarioResult, x: Callable[[float], float], end: float) -> int:
    return 1 + max((lane for _, lane, _ in _label_lanes(result, x, end)), default=-1)


def _fault_shading(
    result: ScenarioResult,
    x: Callable[[float], float],
    end: float,
    top: float,
    bottom: float,
    *,
    overlay: bool = False,
) -> str:
    """Fault windows as shaded bands with their labels in lanes above `top`
    (`overlay`: drawn over other marks, which keep their tooltips)."""
    out: list[str] = []
    events = ' pointer-events="none"' if overlay else ""
    labels = _label_lanes(result, x, end)
    for w, (lx, lane, text) in zip(_sorted_windows(result), labels, strict=True):
        start = min(max(_finite(w.start) or 0.0, 0.0), end)
        stop = _finite(w.end)
        stop = end if stop is None else min(max(stop, start), end)
        x0, x1 = x(start), x(stop)
        tip = f"{w.label}: from {_seconds(start)} to " + (
            "the end" if w.end is None else _seconds(stop)
        )
        out.append(
            f'<rect class="fault" x="{_n(x0)}" y="{_n(top)}" width="{_n(max(x1 - x0, 1.5))}" '
            f'height="{_n(bottom - top)}"{events}><title>{_h(tip)}</title></rect>'
            f'<line class="faultedge" x1="{_n(x0)}" y1="{_n(top)}" x2="{_n(x0)}" '
            f'y2="{_n(bottom)}"{events}/>'
            f'<text class="flabel" x="{_n(lx)}" y="{_n(top - 4 - 13 * lane)}">'
            f"{_escape(text)}</text>"
        )
    return "".join(out)


def _time_axis(x: Callable[[float], float], end: float, y: float, left: float, right: float) -> str:
    out = [f'<line class="axis" x1="{_n(left)}" y1="{_n(y)}" x2="{_n(right)}" y2="{_n(y)}"/>']
    for t in _time_ticks(end):
        px = x(t)
        out.append(
            f'<line class="axis" x1="{_n(px)}" y1="{_n(y)}" x2="{_n(px)}" y2="{_n(y + 4)}"/>'
            f'<text x="{_n(px)}" y="{_n(y + 16)}" text-anchor="middle">'
            f"{_time_label(t, end)}</text>"
        )
    return "".join(out)


# ---- response times


_FIGURES = ("p50", "p95", "p99", "max")


def _buckets(stats: Mapping[str, Any], scale: float = 1.0) -> list[tuple[float, float]]:
    """[(upper bound s, count)] sorted; cumulative counts (as Prometheus keeps them) are
    recognised (non-decreasing, the last one the total, adding up to more) and undone."""
    out: list[tuple[float, float]] = []
    for bucket in stats.get("buckets") or []:
        if not isinstance(bucket, list | tuple) or len(bucket) < 2:
            continue
        upper = math.inf if bucket[0] in (None, "+Inf", "inf") else _float(bucket[0])
        count = _finite(bucket[1])
        if upper is None or count is None or count < 0:
            continue
        out.append((upper * scale, count))
    out.sort(key=lambda b: b[0])
    counts = [c for _, c in out]
    total = _finite(stats.get("count"))
    if (
        len(counts) > 1
        and total is not None
        and counts[-1] == total
        and sum(counts) > total
        and all(a <= b for a, b in pairwise(counts))
    ):
        counts = [counts[0], *(b - a for a, b in pairwise(counts))]
        out = [(u, c) for (u, _), c in zip(out, counts, strict=True)]
    return out


def _response_stats(value: Any) -> dict[str, Any] | None:
    """One action's response times as {count, p50, p95, p99, max (s), buckets [(s, n)]}.

    Read as result.py documents them (seconds: p50..., buckets [[upper_s, count]]) or as
    the oracle's `ResponseTimes.to_json()` writes them (p50_ms..., bucket bounds in ms):
    an object with `to_json()` is asked for it; with only `*_ms` figures, bucket bounds
    are taken as milliseconds too."""
    if not isinstance(value, Mapping):
        to_json = getattr(value, "to_json", None)
        value = to_json() if callable(to_json) else None
        if not isinstance(value, Mapping):
            return None
    in_ms = not any(k in value for k in _FIGURES) and any(f"{k}_ms" in value for k in _FIGURES)
    stats: dict[str, Any] = {"count": _finite(value.get("count"))}
    for key in _FIGURES:
        seconds = _finite(value.get(key))
        if seconds is None:
            ms = _finite(value.get(f"{key}_ms"))
            seconds = None if ms is None else ms / 1000
        stats[key] = seconds
    stats["buckets"] = _buckets(value, 0.001 if in_ms else 1.0)
    return stats


def _histogram_svg(action: str, buckets: list[tuple[float, float]]) -> str:
    width, height = 350, 180
    left, right, top, bottom = 42, 8, 10, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = _value_ticks(max(c for _, c in buckets))
    peak = ticks[-1]
    base = top + plot_h
    out = [_svg_open(width, height, f"Response-time histogram of {action}")]
    for v in ticks:
        y = base - v / peak * plot_h
        out.append(
            f'<line class="gridline" x1="{left}" y1="{_n(y)}" x2="{width - right}" y2="{_n(y)}"/>'
            f'<text x="{left - 4}" y="{_n(y + 4)}" text-anchor="end">{_count_label(v)}</text>'
        )
    slot = plot_w / len(buckets)
    every = max(1, math.ceil(len(buckets) / 8))
    previous = 0.0
    for i, (upper, count) in enumerate(buckets):
        h = count / peak * plot_h
        x = left + i * slot
        bound = (
            f"over {_short_seconds(previous)}"
            if math.isinf(upper)
            else f"≤ {_short_seconds(upper)}"
        )
        tip = f"{bound}: {count:g} response{'' if count == 1 else 's'}"
        out.append(
            f'<rect class="bar" x="{_n(x + 1)}" y="{_n(base - h)}" width="{_n(max(slot - 2, 1))}" '
            f'height="{_n(h)}"><title>{_h(tip)}</title></rect>'
        )
        if i % every == 0 or i == len(buckets) - 1:
            out.append(
                f'<text x="{_n(x + slot / 2)}" y="{base + 14}" text-anchor="middle">'
                f"{_h(_short_seconds(upper))}</text>"
            )
        if not math.isinf(upper):
            previous = upper
    out.append(
        f'<line class="axis" x1="{left}" y1="{base}" x2="{width - right}" y2="{base}"/>'
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 4}" text-anchor="middle">'
        "response time (upper bound)</text></svg>"
    )
    return "".join(out)


def _response_times_html(result: ScenarioResult) -> str:
    times = result.response_times if isinstance(result.response_times, Mapping) else {}
    actions = sorted(
        (
            (_text(action), stats)
            for action, stats in ((a, _response_stats(v)) for a, v in times.items())
            if stats is not None
        ),
        key=lambda item: _natural(item[0]),
    )
    if not actions:
        return _nodata()
    rows = []
    for action, stats in actions:
        count = stats["count"]
        rows.append(
            [
                _h(action),
                "—" if count is None else f"{count:g}",
                *(_h(_seconds(stats[k])) for k in _FIGURES),
            ]
        )
    out = [_table(["action", "count", *_FIGURES], rows, {1, 2, 3, 4, 5}), '<div class="grid">']
    for action, stats in actions:
        buckets: list[tuple[float, float]] = stats["buckets"]
        figures = " · ".join(f"{k} {_seconds(stats[k])}" for k in _FIGURES if stats[k] is not None)
        if stats["count"] is not None:
            figures = f"n {stats['count']:g}" + (f" · {figures}" if figures else "")
        chart = (
            _histogram_svg(action, buckets)
            if buckets and max(c for _, c in buckets) > 0
            else _nodata()
        )
        out.append(
            f"<figure><h4>{_h(action)}</h4>{chart}"
            f'<figcaption class="figures">{_h(figures or "no figures")}</figcaption></figure>'
        )
    out.append("</div>")
    return "".join(out)


# ---- messages over time


def _messages(result: ScenarioResult) -> list[tuple[float, float, float]]:
    points = []
    for m in result.messages or []:
        if not isinstance(m, Mapping):
            continue
        t = _finite(m.get("t"))
        if t is None:
            continue
        points.append(
            (t, max(_finite(m.get("up")) or 0.0, 0.0), max(_finite(m.get("down")) or 0.0, 0.0))
        )
    points.sort()
    return points


def _downsample(
    points: list[tuple[float, float, float]], limit: int = 1500
) -> tuple[list[tuple[float, float, float]], int]:
    """At most about `limit` points: the busiest second of each group (peaks stay)."""
    if len(points) <= limit:
        return points, 1
    size = math.ceil(len(points) / (limit // 2))
    grouped = []
    for i in range(0, len(points), size):
        group = points[i : i + size]
        grouped.append((group[0][0], max(p[1] for p in group), max(p[2] for p in group)))
    return grouped, size


def _messages_svg(result: ScenarioResult, points: list[tuple[float, float, float]]) -> str:
    width, height = 760, 260
    left, right, bottom = 48, 14, 34
    plot_w = width - left - right
    end = _run_end(result, (p[0] for p in points))

    def x(t: float) -> float:
        return left + t / end * plot_w

    top = 12 + 13 * _lanes_needed(result, x, end)
    plot_h = height - top - bottom
    ticks = _value_ticks(max(max(p[1], p[2]) for p in points))
    peak = ticks[-1]
    base = top + plot_h

    def y(v: float) -> float:
        return base - v / peak * plot_h

    out = [_svg_open(width, height, "Frames per second through the proxy, up and down")]
    for v in ticks:
        out.append(
            f'<line class="gridline" x1="{left}" y1="{_n(y(v))}" x2="{width - right}" '
            f'y2="{_n(y(v))}"/><text x="{left - 4}" y="{_n(y(v) + 4)}" text-anchor="end">'
            f"{_count_label(v)}</text>"
        )
    out.append(_fault_shading(result, x, end, top, base))
    for cls, index in (("l-up", 1), ("l-down", 2)):
        coords = " ".join(f"{_n(x(p[0]))},{_n(y(p[index]))}" for p in points)
        out.append(f'<polyline class="{cls}" points="{coords}"/>')
    out.append(_time_axis(x, end, base, left, width - right))
    out.append(
        f'<text x="12" y="{_n(top + plot_h / 2)}" text-anchor="middle" '
        f'transform="rotate(-90 12 {_n(top + plot_h / 2)})">frames/s</text></svg>'
    )
    return "".join(out)


def _windows_table(result: ScenarioResult) -> str:
    rows = [
        [
            _h(w.label),
            _h(_seconds(w.start)),
            "until the end" if w.end is None else _h(_seconds(w.end)),
        ]
        for w in sorted(_windows(result), key=lambda w: _finite(w.start) or 0.0)
    ]
    if not rows:
        return ""
    return "<h4>Fault windows</h4>" + _table(["fault or rule", "from", "to"], rows, {1, 2})


def _messages_html(result: ScenarioResult) -> str:
    points = _messages(result)
    if not points:
        return _nodata() + _windows_table(result)
    shown, size = _downsample(points)
    up = sum(p[1] for p in points)
    down = sum(p[2] for p in points)
    caption = f"{up:g} frames up, {down:g} down over {len(points)} s"
    if size > 1:
        caption += f"; each point is the busiest second of {size}"
    if _windows(result):
        caption += "; shaded: when a fault or rule was active"
    legend = (
        '<ul class="legend"><li><span class="ln"></span>up (charger → CSMS)</li>'
        '<li><span class="ln down"></span>down (CSMS → charger)</li></ul>'
    )
    return (
        f"<figure>{legend}{_messages_svg(result, shown)}"
        f"<figcaption>{_h(caption)}</figcaption></figure>{_windows_table(result)}"
    )


# ---- charger timeline


def _timeline(result: ScenarioResult) -> list[tuple[str, list[tuple[float, str]]]]:
    timeline = result.charger_timeline if isinstance(result.charger_timeline, Mapping) else {}
    out = []
    for charger, changes in timeline.items():
        points = []
        for change in changes or []:
            if isinstance(change, list | tuple) and len(change) >= 2:
                t = _finite(change[0])
                if t is not None:
                    points.append((t, _text(change[1])))
        points.sort(key=lambda p: p[0])
        out.append((_text(charger), points))
    out.sort(key=lambda item: _natural(item[0]))
    return out


def _state_colours(states: Iterable[str]) -> dict[str, str]:
    colours: dict[str, str] = {}
    spare = iter(_PALETTE)
    for state in sorted(set(states), key=str.lower):
        known = _STATE_COLOURS.get(state.lower())
        colours[state] = known or next(spare, None) or "#8c959f"
    return colours


def _timeline_html(result: ScenarioResult) -> str:
    chargers = [(c, p) for c, p in _timeline(result) if p]
    if not chargers:
        return _nodata()
    shown = chargers[:MAX_TIMELINE_CHARGERS]
    colours = _state_colours(state for _, points in shown for _, state in points)
    row, gap = 14, 3
    width = 760
    left, right, bottom = 150, 14, 26
    plot_w = width - left - right
    end = _run_end(result, (p[-1][0] for _, p in shown))

    def x(t: float) -> float:
        return left + min(max(t, 0.0), end) / end * plot_w

    top = 8 + 13 * _lanes_needed(result, x, end)
    height = top + len(shown) * (row + gap) + bottom
    base = top + len(shown) * (row + gap)

    out = [_svg_open(width, height, f"State of {len(shown)} chargers over time")]
    for i, (charger, points) in enumerate(shown):
        y = top + i * (row + gap)
        name = _visible(charger)
        out.append(
            f'<text x="{left - 6}" y="{y + row - 3}" text-anchor="end">'
            f"<title>{_escape(name)}</title>{_escape(_clip(name, 22))}</text>"
        )
        for j, (t, state) in enumerate(points):
            stop = points[j + 1][0] if j + 1 < len(points) else end
            x0, x1 = x(t), x(stop)
            tip = f"{charger}: {state}, from {_seconds(t)} to {_seconds(stop)}"
            out.append(
                f'<rect x="{_n(x0)}" y="{y}" width="{_n(max(x1 - x0, 1))}" height="{row}" '
                f'fill="{colours[state]}"><title>{_h(tip)}</title></rect>'
            )
    # over the bars (a tint), so they show
    out.append(_fault_shading(result, x, end, top, base - gap, overlay=True))
    out.append(_time_axis(x, end, base, left, width - right))
    out.append("</svg>")
    legend = "".join(
        f'<li><span class="sw" style="background:{colour}"></span>{_h(state)}</li>'
        for state, colour in colours.items()
    )
    caption = "Bars: each charger's state from each change until the next; hover for times."
    if _windows(result):
        caption += " Shaded: when a fault or rule was active."
    more = ""
    if len(chargers) > len(shown):
        more = f'<p class="muted">and {len(chargers) - len(shown)} more chargers not shown</p>'
    return (
        f'<figure><ul class="legend">{legend}</ul>{"".join(out)}'
        f"<figcaption>{_h(caption)}</figcaption></figure>{more}"
    )


# ---- tables


def _verdict_html(result: ScenarioResult) -> str:
    rows = []
    for e in _expectations(result):
        if e.evidence:
            n = len(e.evidence)
            evidence = (
                f"<details><summary>{n} item{'' if n == 1 else 's'}</summary>"
                f"<pre>{_h(_dumps(e.evidence, indent=2))}</pre></details>"
            )
        else:
            evidence = '<span class="muted">—</span>'
        at = _finite(e.at)
        rows.append(
            [
                _h(e.name),
                _h(e.phase),
                _status(e.status),
                _h(e.summary),
                evidence,
                _h(_seconds(at)) if at is not None else "—",
            ]
        )
    outcome = _scenario_outcome(result)
    if outcome is not None and outcome[0] != "passed":
        status, message, details = outcome
        detail = f"<pre>{_h(details)}</pre>" if details else "—"
        rows.append(["(scenario)", "", _status(status), _h(message), detail, "—"])
    if not rows:
        return _nodata("no expectations")
    return _table(["expectation", "phase", "status", "summary", "evidence", "at"], rows, {5})


def _steps_html(result: ScenarioResult) -> str:
    rows = []
    for s in _steps(result):
        started, ended = _finite(s.started_at), _finite(s.ended_at)
        took = ended - started if started is not None and ended is not None else None
        rows.append(
            [
                _h(s.index),
                _h(s.name or s.do),
                f'<span class="mono">{_h(s.do)}</span>',
                _status(s.status),
                _h(_seconds(started)),
                _h(_seconds(ended)),
                _h(_seconds(took)),
                _h(s.chargers),
                _h(s.error) if s.error else "",
            ]
        )
    if not rows:
        return _nodata("no steps")
    header = ["#", "step", "do", "status", "started", "ended", "took", "chargers", "error"]
    return _table(header, rows, {0, 4, 5, 6, 7})


def _findings_html(result: ScenarioResult) -> str:
    findings = [f for f in (result.findings or []) if isinstance(f, Mapping)]
    counts: Counter[str] = Counter()
    if isinstance(result.finding_counts, Mapping) and result.finding_counts:
        for kind, n in result.finding_counts.items():
            counts[_text(kind)] += int(_finite(n) or 0)
    else:
        counts.update(_text(f.get("kind")) or "?" for f in findings)
    total = max(sum(counts.values()), len(findings))
    if not total:
        return _nodata("no findings")
    out = [f"<p>{total} finding{'' if total == 1 else 's'}.</p>"]
    if counts:
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], _natural(kv[0])))
        out.append(_table(["kind", "count"], ([_h(k), _h(n)] for k, n in ranked), {1}))
    rows = [
        [
            f'<span class="mono">{_h(f.get("kind"))}</span>',
            _h(f.get("severity")),
            _h(f.get("charger")),
            _h(f.get("spec")),
            _h(f.get("message")),
        ]
        for f in findings[:MAX_FINDINGS]
    ]
    if rows:
        out.append(_table(["kind", "severity", "charger", "spec", "message"], rows, set()))
    if len(findings) > MAX_FINDINGS:
        out.append(
            f'<p class="muted">and {len(findings) - MAX_FINDINGS} more findings '
            "not shown (the JSON report has them all)</p>"
        )
    return "".join(out)


def _metrics_html(result: ScenarioResult) -> str:
    metrics = result.metrics if isinstance(result.metrics, Mapping) else {}
    if not metrics:
        return _nodata()
    rows = [[_h(k), _h(v)] for k, v in metrics.items()]
    return _table(["metric", "value"], rows, {1})


def _meta_html(result: ScenarioResult) -> str:
    expectations = _expectations(result)
    held = sum(1 for e in expectations if e.status == "passed")
    items = [
        ("seed", _h(result.seed)),
        ("target", f'<span class="mono">{_h(result.target)}</span>'),
        ("started", _h(result.started_at)),
        ("duration", _h(_seconds(result.duration_s))),
        ("expectations", f"{held} of {len(expectations)} held"),
    ]
    if result.tags:
        items.append(("tags", "".join(f'<span class="tag">{_h(t)}</span>' for t in result.tags)))
    if result.tape:
        items.append(("tape", f'<span class="mono">{_h(result.tape)}</span>'))
    body = "".join(f"<div><dt>{_h(k)}</dt><dd>{v}</dd></div>" for k, v in items)
    return f'<dl class="meta">{body}</dl>'


def _scenario_html(result: ScenarioResult, index: int) -> str:
    sid = f"scenario-{index + 1}"
    verdict = _verdict(result.verdict)
    out = [
        f'<section class="scenario v-{verdict}" id="{sid}" aria-labelledby="{sid}-title">',
        f'<h2 id="{sid}-title">{_badge(result.verdict)} {_h(result.name)}</h2>',
    ]
    if result.description:
        out.append(f'<p class="desc">{_h(result.description)}</p>')
    out.append(_meta_html(result))
    if result.error:
        out.append(
            f'<div class="alert" role="alert"><strong class="s-error">⚠ error</strong>'
            f"<pre>{_h(result.error)}</pre></div>"
        )
    out.append(_part("Verdict", _verdict_html(result)))
    out.append(_part("Steps", _steps_html(result)))
    out.append(_part("Response times", _response_times_html(result)))
    out.append(_part("Messages over time", _messages_html(result)))
    out.append(_part("Chargers over time", _timeline_html(result)))
    out.append(_part("Findings", _findings_html(result)))
    out.append(_part("Metrics", _metrics_html(result), open_=False))
    out.append("</section>")
    return "\n".join(out)


def html_report(results: Sequence[ScenarioResult], *, title: str = "ocpp-chaos report") -> str:
    """One self-contained HTML page: every scenario with its verdict, steps, charts and
    findings. No script, nothing fetched; light and dark."""
    counts = summary_counts(results)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="ocpp-chaos">',
        f"<title>{_h(title)}</title><style>{_CSS}</style></head>",
        "<body><main>",
        f"<h1>{_h(title)}</h1>",
        f'<p><span class="st s-passed">{_SYMBOL["passed"]} {counts["passed"]} passed</span>, '
        f'<span class="st s-failed">{_SYMBOL["failed"]} {counts["failed"]} failed</span>, '
        f'<span class="st s-error">{_SYMBOL["error"]} {counts["error"]} '
        f"error{'' if counts['error'] == 1 else 's'}</span> "
        f'<span class="muted">({counts["total"]} scenario'
        f"{'' if counts['total'] == 1 else 's'})</span></p>",
    ]
    if not results:
        out.append(_nodata("no scenarios"))
    elif len(results) > 1:
        rows = []
        for i, r in enumerate(results):
            expectations = _expectations(r)
            held = sum(1 for e in expectations if e.status == "passed")
            rows.append(
                [
                    f'<a href="#scenario-{i + 1}">{_h(r.name)}</a>',
                    _status(r.verdict),
                    f"{held} / {len(expectations)}",
                    _h(_seconds(r.duration_s)),
                ]
            )
        out.append(
            '<nav aria-label="scenarios">'
            + _table(["scenario", "verdict", "expectations held", "duration"], rows, {2, 3})
            + "</nav>"
        )
    out.extend(_scenario_html(r, i) for i, r in enumerate(results))
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"
