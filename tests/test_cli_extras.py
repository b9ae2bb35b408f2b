"""A production install (no extras) has every command: the roles, `render` and `doctor` work without
the `sandbox` extra, and the commands that need the local APIs say so in one line.

The install without the extra is played in a subprocess whose import system refuses the extra's
modules, as an environment without them would (scripts/check_wheel.py does the same with a real
install from the wheel, in CI)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.cli import SANDBOX_COMMANDS, SANDBOX_MODULES

ROOT = Path(__file__).resolve().parents[1]
WITHOUT_EXTRA = """\
import sys

class RefuseTheSandboxExtra:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {modules!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, RefuseTheSandboxExtra())
"""


def without_extra(*code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    program = WITHOUT_EXTRA.format(modules=set(SANDBOX_MODULES)) + "\n".join(code)
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def cli(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return without_extra(f"from bot.cli import main\nraise SystemExit(main({argv!r}))", cwd=cwd)


@pytest.mark.parametrize(
    "argv",
    [
        ["demo"],
        ["demo", "--keep-running"],
        ["demo", "--help"],
        ["sandbox", "kube-api"],
        ["send-comment", "-h"],
    ],
    ids=" ".join,
)
def test_a_command_that_needs_the_extra_says_so_in_one_line(argv: list[str], tmp_path: Path) -> None:
    done = cli(argv, tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"orchestrator-bot {argv[0]}: needs the local Kubernetes and GitHub APIs, which this install "
        "leaves out: pip install 'orchestrator-bot[sandbox]'\n"
    )


def test_help_lists_the_commands_that_need_the_extra(tmp_path: Path) -> None:
    done = cli(["--help"], tmp_path)
    assert done.returncode == 0
    for name in SANDBOX_COMMANDS:
        assert name in done.stdout
    assert "(needs the sandbox extra)" in done.stdout


def test_render_works_without_the_extra(tmp_path: Path) -> None:
    example = (ROOT / "k8s" / "examples" / "docsrun.yaml").read_text()
    (tmp_path / "docsrun.yaml").write_text(example)
    done = cli(["render", "docsrun.yaml"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "kind: Job" in done.stdout


def test_the_roles_import_without_the_extra(tmp_path: Path) -> None:
    done = without_extra(
        "import bot.cli, bot.roles, bot.doctor",
        "loaded = sorted(m for m in sys.modules if m.partition('.')[0] in {'jsonschema', 'kubernetes_validate'})",
        "print(loaded)",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"


def test_the_extra_installs_the_modules_the_cli_looks_for() -> None:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"][
        "sandbox"
    ]
    modules = {requirement.split(">")[0].split("=")[0].replace("-", "_") for requirement in extra}
    assert modules <= SANDBOX_MODULES
    assert "kubernetes_validate" in modules
