"""The Dockerfile and compose.yaml, checked without Docker (it does not run here): the image
is multi-stage, slim and non-root, its health check really asks the control API, and every
command in both files is accepted by the real CLI parser, with ports and URLs that agree."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from ocpp_chaos.cli import build_parser
from ocpp_chaos.cli.engine import check_engine_options

ROOT = Path(__file__).resolve().parent.parent
SECRET_DIR = "/run/secrets/"


# -- a small Dockerfile parser ---------------------------------------------------------------


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical = (pending + line).strip()
        pending = ""
        word, _, rest = logical.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "a continuation line ends the file"
    return out


def stages(text: str) -> list[list[tuple[str, str]]]:
    """The build stages: each starts with its FROM."""
    out: list[list[tuple[str, str]]] = []
    for instruction in instructions(text):
        if instruction[0] == "FROM":
            out.append([])
        assert out, f"{instruction[0]} before the first FROM"
        out[-1].append(instruction)
    return out


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), arguments
    return value


def one(stage: list[tuple[str, str]], name: str) -> str:
    found = [args for word, args in stage if word == name]
    assert len(found) == 1, f"expected one {name}, found {len(found)}"
    return found[0]


DOCKERFILE = (ROOT / "Dockerfile").read_text()
STAGES = stages(DOCKERFILE)
FINAL = STAGES[-1]


def healthcheck() -> tuple[dict[str, str], list[str]]:
    """The final stage's HEALTHCHECK: its options and its exec-form command."""
    options: dict[str, str] = {}
    rest = one(FINAL, "HEALTHCHECK")
    while rest.startswith("--"):
        option, _, rest = rest.partition(" ")
        key, _, value = option[2:].partition("=")
        options[key] = value
        rest = rest.strip()
    word, _, command = rest.partition(" ")
    assert word == "CMD", "HEALTHCHECK CMD [...]"
    return options, exec_form(command)


def exposed() -> set[int]:
    return {int(p.split("/")[0]) for p in one(FINAL, "EXPOSE").split()}


def parse(arguments: list[str]) -> Any:
    return build_parser().parse_args(arguments)


# -- the image ------------------------------------------------------------------------------------


def test_the_image_is_multi_stage_slim_and_non_root() -> None:
    assert len(STAGES) >= 2
    names = []
    for stage in STAGES:
        base, _, name = stage[0][1].partition(" AS ")
        assert re.fullmatch(r"python:3\.\d+-slim", base.strip()), base
        names.append(name.strip())
    # the final stage takes only what the build stage produced
    sources = re.findall(r"--from=(\S+)", " ".join(args for word, args in FINAL if word == "COPY"))
    assert sources and set(sources) <= set(names[:-1])
    assert not any(word == "RUN" and "pip install" in args for word, args in FINAL)
    user = [args for word, args in FINAL if word == "USER"][-1]
    assert user.split(":")[0] not in ("root", "0"), user
    # after USER nothing runs as root again
    after = FINAL[[i for i, (w, _a) in enumerate(FINAL) if w == "USER"][-1] :]
    assert not any(word == "RUN" for word, _ in after)


def test_the_image_exposes_the_proxy_the_api_and_the_web_console() -> None:
    assert exposed() == {9000, 8181, 8182}


def test_the_default_command_is_a_headless_proxy_the_cli_accepts() -> None:
    assert exec_form(one(FINAL, "ENTRYPOINT")) == ["ocpp-chaos"]
    command = exec_form(one(FINAL, "CMD"))
    args = parse(command)
    assert args.command == "proxy" and args.headless
    assert args.listen[1] in exposed() and args.api[1] in exposed()
    # a loopback API needs no token: the command starts as it is
    assert check_engine_options(args) is None


def test_the_health_check_is_python_asking_the_control_api() -> None:
    options, command = healthcheck()
    assert set(options) >= {"interval", "timeout", "retries"}
    assert command[:2] == ["python", "-c"] and len(command) == 3
    compile(command[2], "HEALTHCHECK", "exec")
    assert "http://127.0.0.1:8181/api/status" in command[2]
    assert f"{SECRET_DIR}api_token" in command[2]


async def _health(code: str, env: dict[str, str]) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(process.wait(), 20)


async def test_the_health_check_passes_only_when_the_api_answers() -> None:
    from ocpp_chaos.api.engine import Engine
    from ocpp_chaos.api.server import ApiServer
    from ocpp_chaos.proxy import ProxyConfig, ProxyServer

    _options, command = healthcheck()
    code = command[2]
    proxy = ProxyServer(ProxyConfig(upstream="ws://127.0.0.1:9/", listen_port=0))
    engine = Engine(proxy)
    api = ApiServer(engine, "127.0.0.1", 0, token="s3cret")
    await proxy.start()
    await api.start()
    try:
        status = f"{api.url}/api/status"
        env = {"OCPP_CHAOS_HEALTH_URL": status}
        assert await _health(code, {**env, "OCPP_CHAOS_API_TOKEN": "s3cret"}) == 0
        assert await _health(code, {**env, "OCPP_CHAOS_API_TOKEN": "wrong"}) != 0
    finally:
        await api.stop()
        await engine.stop()
        await proxy.stop()
    assert await _health(code, {"OCPP_CHAOS_HEALTH_URL": status}) != 0  # nobody listens


def test_the_image_ships_the_examples_the_docs_name() -> None:
    copies = " ".join(args for word, args in FINAL if word == "COPY")
    for path in ("/opt/ocpp-chaos/rules", "/opt/ocpp-chaos/scenarios"):
        assert path in copies
        assert path in (ROOT / "docs" / "getting-started.md").read_text()
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "api_token"} <= set(ignored)


# -- compose -----------------------------------------------------------------------------------

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


def command_of(service: str) -> list[str]:
    command = SERVICES[service]["command"]
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def args_of(service: str) -> Any:
    return parse(command_of(service))


def published(service: str) -> list[tuple[str | None, int, int]]:
    """(host address, host port, container port) of each `ports` entry."""
    out = []
    for entry in SERVICES[service].get("ports", []):
        parts = str(entry).split(":")
        address = parts[0] if len(parts) == 3 else None
        out.append((address, int(parts[-2]), int(parts[-1])))
    return out


def url_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname and parts.port, url
    return parts.hostname, parts.port


def test_compose_has_the_four_services_on_one_image() -> None:
    assert set(SERVICES) == {"csms", "proxy", "fleet", "web"}
    # each names the build too, so that `docker compose up` builds rather than pulls it
    assert {(s.get("image"), s.get("build")) for s in SERVICES.values()} == {
        ("ocpp-chaos:local", ".")
    }


@pytest.mark.parametrize("service", ["csms", "proxy", "fleet", "web"])
def test_every_compose_command_is_accepted_by_the_cli(service: str) -> None:
    args = args_of(service)
    assert args.command == service
    assert args.headless


def test_the_ports_and_urls_agree() -> None:
    csms, proxy, fleet, web = (args_of(s) for s in ("csms", "proxy", "fleet", "web"))
    # the proxy relays to the csms service, the fleet connects to the proxy
    assert url_port(proxy.upstream) == ("csms", csms.listen[1])
    assert url_port(fleet.target) == ("proxy", proxy.listen[1])
    assert urlsplit(fleet.target).scheme == "ws"
    # the web console talks to the proxy's control API
    assert url_port(web.api) == ("proxy", proxy.api[1])
    # what is published is what listens, and what the image exposes
    assert {p[2] for p in published("proxy")} == {proxy.listen[1], proxy.api[1]}
    assert {p[2] for p in published("web")} == {web.listen[1]}
    for service in ("proxy", "web"):
        for _address, _host_port, container_port in published(service):
            assert container_port in exposed()
    for service in ("csms", "proxy", "web"):
        assert args_of(service).listen[0] == "0.0.0.0"  # reachable from the other containers
    assert not published("csms") and not published("fleet")


def test_the_console_and_the_api_are_published_on_loopback_only() -> None:
    web = args_of("web")
    assert web.allow_remote  # listens on 0.0.0.0 inside its container...
    ((address, host_port, _),) = published("web")
    assert address == "127.0.0.1"  # ...but only this host's loopback reaches it
    assert url_port(web.public_url) == ("127.0.0.1", host_port)
    proxy = args_of("proxy")
    api = [p for p in published("proxy") if p[2] == proxy.api[1]]
    assert [a for a, _h, _c in api] == ["127.0.0.1"]


def test_a_non_loopback_api_gets_its_token_from_a_compose_secret(tmp_path: Path) -> None:
    for service in ("proxy", "web"):
        path = args_of(service).api_token_file
        assert path is not None and str(path).startswith(SECRET_DIR), service
        secret = str(path)[len(SECRET_DIR) :]
        assert secret in SERVICES[service]["secrets"]
        assert secret in COMPOSE["secrets"]
        assert COMPOSE["secrets"][secret]["file"].lstrip("./") in (
            (ROOT / ".gitignore").read_text().split()
        )
    # the proxy's command as the CLI checks it: fine with the token file, refused without
    token = tmp_path / "api_token"
    token.write_text("s3cret\n")
    command = command_of("proxy")
    with_token = parse([str(token) if c.startswith(SECRET_DIR) else c for c in command])
    assert check_engine_options(with_token) is None
    i = command.index("--api-token-file")
    without = parse(command[:i] + command[i + 2 :])
    assert "needs a token" in (check_engine_options(without) or "")


def test_health_checks_and_start_order() -> None:
    csms = args_of("csms")
    test = SERVICES["csms"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    compile(test[3], "csms healthcheck", "exec")
    assert str(csms.listen[1]) in re.findall(r"\d+", test[3])
    # the proxy uses the image's health check (the API, with the secret token)
    assert "healthcheck" not in SERVICES["proxy"]
    web_health = SERVICES["web"]["environment"]["OCPP_CHAOS_HEALTH_URL"]
    assert url_port(web_health) == ("127.0.0.1", args_of("web").listen[1])
    assert SERVICES["fleet"]["healthcheck"] == {"disable": True}  # no endpoint to ask
    for name, service in SERVICES.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in SERVICES, (name, dependency)
            assert condition == {"condition": "service_healthy"}
            assert SERVICES[dependency].get("healthcheck", {}).get("disable") is not True
    assert set(SERVICES["proxy"]["depends_on"]) == {"csms"}
    assert set(SERVICES["fleet"]["depends_on"]) == {"proxy"}
    assert set(SERVICES["web"]["depends_on"]) == {"proxy"}
