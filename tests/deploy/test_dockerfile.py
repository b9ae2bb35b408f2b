"""The Dockerfile, checked statically (no Docker engine here): parsed by BuildKit's own parser (the
`dockerfile` package), linted by hadolint, and held to what the chart and the code expect of the image."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import dockerfile
import pytest
import yaml

from bot.templates import default_templates_dir, load_template_sources

from .conftest import CHART, ROOT

BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|cc|clang|make|build-essential|apt-get|apk|dnf|yum|pip)\b")


@dataclass
class Stage:
    image: str
    name: str
    commands: list[dockerfile.Command] = field(default_factory=list)

    def all(self, cmd: str) -> list[dockerfile.Command]:
        return [c for c in self.commands if c.cmd == cmd]


def stages() -> list[Stage]:
    """The build stages, with `${ARG}`s in FROM resolved from the ARG defaults before the first FROM."""
    args: dict[str, str] = {}
    found: list[Stage] = []
    for command in dockerfile.parse_file(str(ROOT / "Dockerfile")):
        if command.cmd == "ARG" and not found:
            name, _, default = command.value[0].partition("=")
            args[name] = default
        elif command.cmd == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], command.value[0])
            name = command.value[2] if len(command.value) == 3 else ""
            found.append(Stage(image, name))
        elif found:
            found[-1].commands.append(command)
    return found


def env(stage: Stage) -> dict[str, str]:
    values: dict[str, str] = {}
    for command in stage.all("ENV"):
        pairs = command.value
        values.update(zip(pairs[::2], pairs[1::2], strict=True))
    return values


def test_every_stage_builds_on_slim_python_3_11() -> None:
    images = [stage.image for stage in stages()]
    assert len(images) >= 2, "a build stage and a final stage"
    for image in images:
        assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?(@sha256:[0-9a-f]{64})?", image), image


def test_the_final_stage_installs_and_compiles_nothing() -> None:
    final = stages()[-1]
    for command in final.all("RUN"):
        assert not BUILD_TOOLS.search(" ".join(command.value)), command.original
    # What it copies from other stages is the finished virtualenv only.
    copied = [c.value for c in final.all("COPY") if any(f.startswith("--from=") for f in c.flags)]
    assert copied == [("/opt/venv", "/opt/venv")]


def test_the_image_runs_as_the_numeric_non_root_user_the_chart_expects() -> None:
    [user] = stages()[-1].all("USER")
    uid, _, gid = user.value[0].partition(":")
    assert uid.isdigit() and gid.isdigit() and int(uid) != 0
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert (int(uid), int(gid)) == (
        values["podSecurityContext"]["runAsUser"],
        values["podSecurityContext"]["runAsGroup"],
    )


def test_the_image_reads_the_templates_from_the_installed_package() -> None:
    """The templates are package data: nothing is copied beside the virtualenv, and no
    ORCHESTRATOR_TEMPLATES_DIR points elsewhere (the chart sets its own, to its mounted ConfigMap)."""
    final = stages()[-1]
    assert "ORCHESTRATOR_TEMPLATES_DIR" not in env(final)
    assert [c.value for c in final.all("COPY") if not c.flags] == []
    assert load_template_sources(default_templates_dir())


def test_the_image_installs_the_production_set_without_extras() -> None:
    [install] = [c for c in stages()[0].all("RUN") if "pip install" in " ".join(c.value)]
    assert re.search(r"pip install \.(\s|$)", " ".join(install.value)), install.original


def test_the_entrypoint_is_the_console_script() -> None:
    final = stages()[-1]
    [entrypoint] = final.all("ENTRYPOINT")
    assert entrypoint.json and list(entrypoint.value) == ["orchestrator-bot"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "orchestrator-bot" in project["scripts"]
    assert "/opt/venv/bin" in env(final)["PATH"].split(":")


def test_the_exposed_port_is_the_charts_webhook_port() -> None:
    [expose] = stages()[-1].all("EXPOSE")
    assert int(expose.value[0]) == yaml.safe_load((CHART / "values.yaml").read_text())["webhook"]["port"]


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    done = subprocess.run(
        [str(hadolint), "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- the build context -----------------------------------------------------------------------------


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path, or a parent of it, decides."""
    parents = [path] + ["/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 1)]
    decision = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = re.escape(pattern.lstrip("!").rstrip("/"))
        regex = (
            regex.replace(r"\*\*/", "(.*/)?")
            .replace(r"\*\*", ".*")
            .replace(r"\*", "[^/]*")
            .replace(r"\?", "[^/]")
        )
        if any(re.fullmatch(regex, candidate) for candidate in parents):
            decision = not negated
    return decision


def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("pyproject.toml", True),
        ("README.md", True),
        ("bot/cli.py", True),
        ("bot/sandbox/github/openapi/api.github.com-subset.json", True),
        ("bot/assets/templates/code/hooks/stop-commit.sh.j2", True),
        ("templates/code/hooks/stop-commit.sh.j2", False),
        (".venv/bin/python", False),
        (".git/config", False),
        ("tests/deploy/test_dockerfile.py", False),
        ("helm/orchestrator-bot/values.yaml", False),
        ("bot/__pycache__/cli.cpython-311.pyc", False),
        ("orchestrator_bot.egg-info/PKG-INFO", False),
    ],
)
def test_the_build_context_holds_only_what_the_image_needs(path: str, sent: bool) -> None:
    assert ignored(path, dockerignore()) is not sent


def test_everything_the_dockerfile_copies_is_in_the_build_context() -> None:
    for stage in stages():
        for command in stage.all("COPY"):
            if command.flags:
                continue
            for source in command.value[:-1]:
                assert (ROOT / source).exists(), source
                assert not ignored(source.rstrip("/"), dockerignore()), source
