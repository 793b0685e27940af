"""docker-compose.yml and the Dockerfile (no Docker engine here): every published port (the
API's too: the reverse proxy is the public face) is on this host's loopback only, Flower asks
for a password, and uvicorn runs with its limits."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILES = ("docker-compose.yml", "docker-compose.rabbitmq.yml")
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
LOOPBACK = {"127.0.0.1", "::1"}
OPS_UIS = ("mailpit", "flower")
LIMITS = {"--limit-concurrency": "200", "--timeout-keep-alive": "5", "--backlog": "1024"}


def host_ip(port: str | int | dict[str, Any]) -> str | None:
    """The host address a compose port is published on; None means every interface."""
    if isinstance(port, dict):
        return port.get("host_ip")
    text = str(port).split("/", 1)[0]
    if bracketed := re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:[^:]+:[^:]+", text):
        return bracketed[1]
    parts = text.split(":")
    return parts[0] if len(parts) == 3 else None


def option(command: list[str], name: str) -> str | None:
    """The value of `--name value` or `--name=value` in an argv list."""
    for i, arg in enumerate(command):
        if arg == name and i + 1 < len(command):
            return command[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def dockerfile_cmd() -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    match = re.search(r"^CMD\s+(\[.*\])\s*$", text, re.MULTILINE)
    assert match, "the Dockerfile has no exec-form CMD"
    command = json.loads(match[1])
    assert isinstance(command, list)
    return [str(arg) for arg in command]


def test_host_ip_reads_every_port_syntax() -> None:
    assert host_ip("8025:8025") is None
    assert host_ip(8025) is None
    assert host_ip("127.0.0.1:8025:8025") == "127.0.0.1"
    assert host_ip("127.0.0.1:5555:5555/tcp") == "127.0.0.1"
    assert host_ip("[::1]:5555:5555") == "::1"
    assert host_ip({"target": 5555, "published": "5555", "host_ip": "127.0.0.1"}) == "127.0.0.1"
    assert host_ip({"target": 5555, "published": "5555"}) is None


@pytest.mark.parametrize("name", OPS_UIS)
def test_ops_uis_are_published_on_loopback_only(name: str) -> None:
    ports = SERVICES[name].get("ports", [])
    assert ports, f"{name} publishes nothing: update this test"
    for port in ports:
        assert host_ip(port) in LOOPBACK, f"{name}: {port!r} is public"


def test_flower_requires_basic_auth_from_a_required_variable() -> None:
    flower = SERVICES["flower"]
    command = flower["command"]
    assert command[:4] == ["celery", "-A", "worker", "flower"]
    # Flower reads FLOWER_<OPTION> from its environment; --basic-auth on the command line would
    # work too, but shows the password in the process list.
    assert option(command, "--basic-auth") is None
    assert option(command, "--basic_auth") is None
    assert flower["environment"]["FLOWER_BASIC_AUTH"] == (
        "${FLOWER_BASIC_AUTH:?set FLOWER_BASIC_AUTH}"
    )


def test_flower_keeps_the_relink_environment() -> None:
    flower_env = SERVICES["flower"]["environment"]
    assert {k: v for k, v in flower_env.items() if k != "FLOWER_BASIC_AUTH"} == (
        SERVICES["worker"]["environment"]
    )


Port = str | int | dict[str, Any]


def published_ports() -> list[tuple[str, str, Port]]:
    """(file, service, port) for every port any compose file publishes."""
    return [
        (name, service, port)
        for name in COMPOSE_FILES
        for service, spec in yaml.safe_load((ROOT / name).read_text())["services"].items()
        for port in (spec or {}).get("ports", [])
    ]


def test_every_published_port_is_on_loopback_only() -> None:
    ports = published_ports()
    assert [(f, s, p) for f, s, p in ports if host_ip(p) not in LOOPBACK] == []
    assert ("docker-compose.yml", "api", "127.0.0.1:8000:8000") in ports  # for the proxy


@pytest.mark.parametrize("source", ["compose", "Dockerfile"])
def test_uvicorn_runs_with_limits_and_no_access_log(source: str) -> None:
    command = SERVICES["api"]["command"] if source == "compose" else dockerfile_cmd()
    assert command[:3] == ["uvicorn", "api.app:create_app", "--factory"]
    for name, value in LIMITS.items():
        assert option(command, name) == value, (source, name)
    # The limits below are documented for httptools; uvicorn would fall back to h11 silently.
    assert option(command, "--http") == "httptools"
    assert "--no-access-log" in command  # uvicorn's access log would hold relink tokens
