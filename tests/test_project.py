"""The project's own promises: README's two commands, CI running the test one, the layout."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    setup = text.split("## Set up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", setup, flags=re.S)


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    demo, tests = commands
    assert "pip install" in demo and "ocpp-chaos demo" in demo
    assert "pip install" in tests and "pytest" in tests
    assert "ruff check" in tests and "mypy ocpp_chaos" in tests


def test_ci_runs_exactly_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    lines = [ln for ln in ci.splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines[-1] == _readme_commands()[1]


def test_layout_and_single_import_package() -> None:
    for name in ("pyproject.toml", "README.md", "LICENSE.md", "Dockerfile", "CONTRIBUTING.md"):
        assert (ROOT / name).is_file(), name
    for name in ("ocpp_chaos", "rules", "scenarios", "tests", "bench"):
        assert (ROOT / name).is_dir(), name
    assert "GNU AFFERO GENERAL PUBLIC LICENSE" in (ROOT / "LICENSE.md").read_text()[:200]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["ocpp_chaos*"]
    assert project["project"]["scripts"] == {"ocpp-chaos": "ocpp_chaos.cli:main"}


def test_dockerfile_is_slim_non_root_with_the_cli_as_entrypoint() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim", text, flags=re.M)
    users = re.findall(r"^USER (\S+)", text, flags=re.M)
    assert users and users[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["ocpp-chaos"]' in text
