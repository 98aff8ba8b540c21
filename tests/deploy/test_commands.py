"""The command lines the deployment files run are ones the real `cf502` CLI accepts."""

from __future__ import annotations

import re
import shlex

import pytest

from cf502 import cli
from tests.deploy.tools import DEPLOY, load_yaml_documents


def _compose_commands() -> dict[str, list[str]]:
    compose = load_yaml_documents(DEPLOY / "docker-compose.yml")[0]
    return {
        f"compose:{name}": svc["command"]
        for name, svc in compose["services"].items()
        if svc.get("image", "").startswith("cf502")
    }


def _kubernetes_commands() -> dict[str, list[str]]:
    found = {}
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for doc in load_yaml_documents(path):
            if doc["kind"] != "Deployment":
                continue
            for c in doc["spec"]["template"]["spec"]["containers"]:
                if c["image"].startswith("cf502"):
                    found[f"{path.name}:{c['name']}"] = c["args"]
    return found


def _systemd_commands() -> dict[str, list[str]]:
    found = {}
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        match = re.search(r"^ExecStart=\S+/cf502 (.+)$", unit.read_text(), re.MULTILINE)
        assert match, unit.name
        found[unit.name] = shlex.split(match.group(1).replace("%i", "9103"))
    return found


COMMANDS = {**_compose_commands(), **_kubernetes_commands(), **_systemd_commands()}


def test_every_deployment_runs_the_bot_and_the_worker() -> None:
    used = {args[0] for args in COMMANDS.values()}
    assert used == {"bot", "worker"}
    assert len(COMMANDS) == 7  # compose: bot, bot-http, worker; k8s: bot, worker; systemd: 2


@pytest.mark.parametrize(("where", "args"), COMMANDS.items(), ids=list(COMMANDS))
def test_command_line_is_accepted_by_the_cli(where: str, args: list[str]) -> None:
    # Given the arguments a deployment passes to the image's `cf502` entrypoint
    # When the real CLI parses them
    parsed = cli.build_parser().parse_args(args)
    # Then they are accepted (a usage error raises) and select the intended command
    assert parsed.command == args[0]
    if args[0] == "worker" and "--grace" in args:
        assert parsed.grace == float(args[args.index("--grace") + 1])
