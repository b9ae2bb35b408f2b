"""The wheel holds every file of the package, and the check that says so fails when package data is
left out (scripts/check_wheel.py; CI runs it in full after the tests: install, `demo`, `render`)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import ROOT

LEFT_OUT = "bot/assets/templates/docs/prompt.md.j2"
pytestmark = pytest.mark.slow  # each builds a wheel (a few seconds)


def check_wheel() -> ModuleType:
    """scripts/check_wheel.py as a module (scripts/ is not a package)."""
    if "check_wheel" not in sys.modules:
        spec = importlib.util.spec_from_file_location("check_wheel", ROOT / "scripts" / "check_wheel.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["check_wheel"] = module
        spec.loader.exec_module(module)
    return sys.modules["check_wheel"]


def test_the_wheel_holds_every_file_of_the_package(tmp_path: Path) -> None:
    wheel = check_wheel().build_wheel(ROOT, tmp_path)
    assert check_wheel().missing_from(wheel, ROOT) == []
    assert "bot/assets/task-controller-config.yaml" in check_wheel().package_files(ROOT)


def test_the_check_fails_when_a_template_is_left_out_of_the_package(tmp_path: Path) -> None:
    """A tree whose package data leaves out one template (as a too-narrow pattern would): the check
    exits 1 and names the file."""
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, tree / name)
    shutil.copytree(ROOT / "bot", tree / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    folder, _, name = LEFT_OUT.rpartition("/")
    # Out of both package-data patterns that include it: bot.assets' glob and the per-folder "*.j2".
    excluded = (
        "\n[tool.setuptools.exclude-package-data]\n"
        f'"bot.assets" = ["{LEFT_OUT.removeprefix("bot/assets/")}"]\n'
        f'"{folder.replace("/", ".")}" = ["{name}"]\n'
    )
    with (tree / "pyproject.toml").open("a") as pyproject:
        pyproject.write(excluded)
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_wheel.py"), "--inspect-only", "--source", str(tree)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"lacks 1 file(s) of the package: {LEFT_OUT}" in done.stderr
