"""Screen snapshots: the app's SVG screenshot (`App.export_screenshot()`) compared with a
file under tests/console/__snapshots__/<test module>/<name>.svg, beside a plain-text copy
(<name>.txt) whose diff a reviewer can read. `pytest --snapshot-update` rewrites them.

pytest-textual-snapshot does this too, but its last release (1.1.0) pins syrupy 4.8.0,
which requires pytest < 9: it cannot be installed beside this project's pytest 9.
"""

from __future__ import annotations

import difflib
import io
from pathlib import Path

import pytest
from rich.console import Console
from textual.app import App

__all__ = ["assert_snapshot"]

SNAPSHOTS = Path(__file__).parent / "__snapshots__"


def screen_text(app: App[object]) -> str:
    """The screen as plain text (what export_screenshot draws, without styles)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text(styles=False)


def assert_snapshot(request: pytest.FixtureRequest, app: App[object], name: str) -> None:
    """Compare the app's screen now with the stored snapshot `name` (or store it)."""
    folder = SNAPSHOTS / request.node.module.__name__.rsplit(".", 1)[-1]
    svg_path = folder / f"{name}.svg"
    txt_path = folder / f"{name}.txt"
    svg = app.export_screenshot(title="ocpp-chaos console")
    text = screen_text(app)
    if request.config.getoption("--snapshot-update"):
        folder.mkdir(parents=True, exist_ok=True)
        svg_path.write_text(svg, encoding="utf-8")
        txt_path.write_text(text, encoding="utf-8")
        return
    if not svg_path.exists():
        pytest.fail(f"no snapshot {svg_path}: run pytest with --snapshot-update, then read it")
    if svg == svg_path.read_text(encoding="utf-8"):
        return
    actual = Path(request.getfixturevalue("tmp_path")) / f"{name}.svg"
    actual.write_text(svg, encoding="utf-8")
    expected_text = txt_path.read_text(encoding="utf-8") if txt_path.exists() else ""
    diff = "\n".join(
        difflib.unified_diff(
            expected_text.splitlines(), text.splitlines(), "expected", "actual", lineterm=""
        )
    )
    pytest.fail(
        f"the screen differs from {svg_path} (actual: {actual})\n"
        + (diff or "(the text is the same: colours or styles differ)")
    )
