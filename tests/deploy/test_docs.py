"""The README's "Deploy" section agrees with the chart and the code: the Secrets it
has you create are the ones the chart and the bot read, its `helm install` renders, and the commands
it shows parse."""

from __future__ import annotations

import argparse
import re
import shlex
from typing import Any

import helm_python
import yaml

from bot import app_manifest
from bot.cli import build_parser
from bot.core.policy import SSH_PRIVATE_KEY, SSH_PUBLIC_KEY, ssh_secret_name

from .conftest import CHART, ROOT, find, render, rendered

README = ROOT / "README.md"


def guide() -> str:
    """The README's "## Deploy" section, up to the next second-level heading."""
    text = README.read_text()
    start = text.index("\n## Deploy\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def shell_commands() -> list[list[str]]:
    """Each command of the guide's ```sh blocks, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", guide(), flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split(" #")[0].strip()
            if line and not line.startswith("#"):
                commands.append(shlex.split(line.rstrip("&").strip()))
    return commands


def created_secrets() -> dict[str, set[str]]:
    """{secret name: its keys} for every `kubectl create secret generic` in the guide."""
    secrets = {}
    for argv in shell_commands():
        if argv[:1] == ["kubectl"] and "secret" in argv and "generic" in argv:
            name = argv[argv.index("generic") + 1]
            keys = {
                arg.split("=", 2)[1] for arg in argv if arg.startswith(("--from-literal=", "--from-file="))
            }
            secrets[name] = keys
    return secrets


def test_the_github_secret_is_the_one_the_chart_reads() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())["github"]
    assert created_secrets()[values["existingSecret"]] == set(values["secretKeys"].values())


def test_the_api_key_secret_is_the_one_the_jobs_read() -> None:
    secrets = yaml.safe_load((CHART / "values.yaml").read_text())["taskConfig"]["secrets"]
    assert created_secrets()[secrets["apiKeySecretName"]] == {secrets["apiKeySecretKey"]}


def test_the_ssh_secret_has_the_name_and_keys_the_webhook_checks() -> None:
    assert created_secrets()[ssh_secret_name("alice")] == {SSH_PRIVATE_KEY, SSH_PUBLIC_KEY}


def test_the_helm_install_command_renders() -> None:
    [install] = [argv for argv in shell_commands() if argv[:2] == ["helm", "install"]]
    values: dict[str, Any] = {}
    for index, arg in enumerate(install):
        if arg == "--set":
            deep_merge(values, helm_python.parse_set_string(install[index + 1]))
    with helm_python.Chart.load(str(CHART)) as chart:
        chart.validate_schema(values)
    ingress = find(render(values), "Ingress")
    assert ingress["spec"]["rules"][0]["host"] == "bot.example.com"


def deep_merge(into: dict[str, Any], more: dict[str, Any]) -> None:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            deep_merge(into[key], value)
        else:
            into[key] = value


def test_the_deployments_and_service_it_names_exist() -> None:
    objects = rendered("default")
    text = guide()
    for kind, name in re.findall(r"(?<![\w/])(deploy|svc)/([a-z0-9-]+)\b(?!\.)", text):
        find(objects, "Deployment" if kind == "deploy" else "Service", name)


def test_the_app_manifest_command_parses() -> None:
    parser = argparse.ArgumentParser(prog="orchestrator-bot")
    app_manifest.register(parser.add_subparsers(dest="command", required=True))
    commands = [argv for argv in shell_commands() if argv[:2] == ["orchestrator-bot", "app-manifest"]]
    assert commands
    for argv in commands:
        # The guide redirects the page to a file: `> register-app.html`.
        arguments = argv[1 : argv.index(">")] if ">" in argv else argv[1:]
        assert parser.parse_args(arguments).format == "html"


def test_the_doctor_command_parses_and_checks_the_namespace_the_guide_uses() -> None:
    commands = [argv for argv in shell_commands() if "orchestrator-bot" in argv and "doctor" in argv]
    assert commands
    for argv in commands:
        arguments = argv[argv.index("orchestrator-bot") + 1 :]
        assert build_parser().parse_args(arguments).namespace == "orchestrator"
