"""The reference pages say what the code does: their generated blocks are current, and the
hand-written pages cover every fault type, CLI command, event and tape field there is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ocpp_chaos.cli.reference import BLOCKS, REGENERATE, render_page, stale_pages
from tests.docs.blocks import ROOT


def test_generated_blocks_are_current() -> None:
    stale = stale_pages(ROOT)
    assert not stale, f"{', '.join(stale)} out of date: run `.venv/bin/{REGENERATE}` to update"


def test_a_stale_block_is_noticed_and_rewritten(tmp_path: Path) -> None:
    page = "docs/reference/metrics.md"
    text = (ROOT / page).read_text()
    broken = re.sub(r"ocpp_chaos_sessions\b", "ocpp_chaos_sessionz", text, count=1)
    assert broken != text
    (tmp_path / "docs" / "reference").mkdir(parents=True)
    for path, _ in BLOCKS.values():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((ROOT / path).read_text())
    (tmp_path / page).write_text(broken)
    assert stale_pages(tmp_path) == [page]
    assert render_page(broken, page) == text


def test_a_page_must_keep_its_block() -> None:
    with pytest.raises(ValueError, match="no generated block"):
        render_page("# nothing generated here\n", "docs/reference/cli.md")


def _headings(page: str) -> set[str]:
    text = (ROOT / page).read_text()
    return set(re.findall(r"^#+ `([^`]+)`", text, flags=re.M))


def test_the_fault_catalogue_covers_every_fault_type() -> None:
    from ocpp_chaos.rules.model import FAULT_TYPES

    covered = _headings("docs/faults.md")
    assert set(FAULT_TYPES) <= covered, set(FAULT_TYPES) - covered
    text = (ROOT / "docs" / "faults.md").read_text()
    for fault in FAULT_TYPES:
        section = text.split(f"### `{fault}`", 1)[1].split("\n### ", 1)[0]
        for part in ("**Models:**", "**A correct CSMS**", "**Spec:**", "```yaml rules"):
            assert part in section, (fault, part)


def test_the_tape_page_documents_every_field_a_tape_has(tmp_path: Path) -> None:
    """A real session through the proxy, recorded; every key of every line is on the page."""
    import asyncio
    import json

    from ocpp_chaos.csms import ReferenceCSMS
    from ocpp_chaos.proxy import ProxyConfig, ProxyServer
    from ocpp_chaos.proxy.oracle import OracleConfig
    from ocpp_chaos.rules.model import Rule
    from ocpp_chaos.testing.raw import RawClient

    tape = tmp_path / "tape.jsonl"
    rule = Rule.model_validate(
        {"name": "dup", "match": {"action": "Heartbeat"}, "fault": {"type": "duplicate"}}
    )

    async def session() -> None:
        async with ReferenceCSMS(port=0) as csms:
            slow = OracleConfig(slow_threshold=0.0)  # every answer is a finding
            config = ProxyConfig(upstream=csms.url, listen_port=0, tape=tape, oracle=slow)
            proxy = ProxyServer(config, rules=[rule])
            await proxy.start()
            try:
                async with await RawClient.connect(proxy.url + "/DOC-1") as client:
                    await client.send("text", b'[2,"1","Heartbeat",{}]')
                    await client.send("text", b'[2,"2","BootNotification",{}]')  # invalid
                    await client.send("text", b"not json")
                    await client.rec.wait_frames(4)  # two Heartbeat answers, two CALLERRORs
            finally:
                await proxy.stop()

    asyncio.run(session())
    lines = [json.loads(line) for line in tape.read_text().splitlines()]
    page = (ROOT / "docs" / "reference" / "tape.md").read_text()
    keys = {key for line in lines for key in line}
    keys |= {key for line in lines for key in line.get("evidence", {})}
    missing = sorted(k for k in keys if f"`{k}`" not in page)
    assert not missing, f"docs/reference/tape.md does not mention {missing}"
    kinds = {line.get("type") for line in lines} | {line.get("event") for line in lines}
    assert {"call", "result", "error", "malformed", "finding"} <= kinds
    assert {"session_open", "session_closed"} <= kinds


def test_the_control_api_page_lists_every_event() -> None:
    page = (ROOT / "docs" / "reference" / "control-api.md").read_text()
    source = (ROOT / "ocpp_chaos" / "api" / "engine.py").read_text()
    events = set(re.findall(r'self\.publish\("(\w+)"', source))
    events |= {"frame", "finding", "session_open", "session_closed", "hello", "dropped"}
    missing = sorted(e for e in events if f'"event": "{e}"' not in page)
    assert not missing, f"docs/reference/control-api.md shows no {missing} event"


def test_the_filter_keys_are_documented() -> None:
    from ocpp_chaos.api import filters

    page = (ROOT / "docs" / "reference" / "control-api.md").read_text()
    keys = set(filters._KEYS)
    missing = sorted(k for k in keys if f"`{k}:" not in page)
    assert not missing, missing


def test_the_module_map_names_every_package_and_module() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text()
    package = ROOT / "ocpp_chaos"
    names = [p.name + "/" for p in package.iterdir() if (p / "__init__.py").is_file()]
    names += [p.name for p in package.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    missing = sorted(n for n in names if n not in page)
    assert not missing, f"docs/architecture.md's module map lacks {missing}"


def test_the_exit_statuses_are_all_documented() -> None:
    from ocpp_chaos.cli.common import ExitStatus

    page = (ROOT / "docs" / "reference" / "cli.md").read_text()
    table = page.split("## Exit statuses", 1)[1].split("\n## ", 1)[0]
    documented = {int(n) for n in re.findall(r"^\| `(\d+)` \|", table, flags=re.M)}
    assert documented == {int(s) for s in ExitStatus}


def test_the_performance_page_has_the_readme_figures() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Performance", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    assert rows, "README has a Performance section with tables"
    page = (ROOT / "docs" / "performance.md").read_text()
    stale = [row for row in rows if row not in page]
    assert not stale, f"copy README's Performance figures to docs/performance.md: {stale}"
