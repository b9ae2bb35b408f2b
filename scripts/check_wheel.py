"""The package installs like software: build the wheel, check it holds every file of the package, install
it into fresh virtualenvs and run the commands from an empty directory, with nothing of the checkout
present (no editable install, no repository on sys.path, no k8s/ or templates/ beside it).

python scripts/check_wheel.py                  # all of it (CI, after the tests; about a minute)
python scripts/check_wheel.py --inspect-only   # build and compare the wheel with the source tree only

The wheel is built from a copy of what the Dockerfile sends to its build (pyproject.toml, README.md,
bot/), so a stale build/ folder or an untracked file cannot hide a file the package data leaves out.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import venv
import zipfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "bot"
BUILD_INPUTS = ("pyproject.toml", "README.md", PACKAGE)
EXAMPLES = ("docsrun.yaml", "coderun.yaml")
NEEDS_EXTRA = "pip install 'orchestrator-bot[sandbox]'"


class CheckFailed(Exception):
    """One line saying what is wrong with the wheel or with what it installs."""


def package_files(source: Path) -> list[str]:
    """Every file of the package in the source tree, as the wheel names it (`bot/assets/crds/x.yaml`)."""
    return sorted(
        path.relative_to(source).as_posix()
        for path in (source / PACKAGE).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


def missing_from(wheel: Path, source: Path) -> list[str]:
    """Files of the package that the wheel does not hold: package data the build left out."""
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    return [name for name in package_files(source) if name not in shipped]


def build_wheel(source: Path, out: Path) -> Path:
    """Build the wheel from a clean copy of the build inputs of `source`; returns its path."""
    with tempfile.TemporaryDirectory(prefix="wheel-source-") as scratch:
        tree = Path(scratch)
        for name in BUILD_INPUTS:
            origin = source / name
            if origin.is_dir():
                shutil.copytree(origin, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(origin, tree / name)
        _run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(tree)]
        )
    [wheel] = out.glob("orchestrator_bot-*.whl")
    return wheel


def inspect(wheel: Path, source: Path) -> None:
    missing = missing_from(wheel, source)
    if missing:
        raise CheckFailed(
            f"{wheel.name} lacks {len(missing)} file(s) of the package: {', '.join(missing)} "
            "(add them to [tool.setuptools.package-data] in pyproject.toml)"
        )
    print(f"ok: {wheel.name} holds all {len(package_files(source))} files of the package")


def smoke(wheel: Path, examples: Path, scratch: Path) -> None:
    """Install the production set, then the sandbox extra, and run the commands from an empty directory."""
    environment = scratch / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    bin_dir = environment / "bin"
    empty = scratch / "empty"
    empty.mkdir()
    # The machine's environment (pip's configuration included), minus whatever could lead back to the
    # checkout or to another virtualenv.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join([str(bin_dir), *(p for p in env.get("PATH", "").split(os.pathsep) if p)])

    def run(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, cwd=empty, env=env, input=stdin, capture_output=True, text=True, timeout=300, check=False
        )

    def expect(done: subprocess.CompletedProcess[str], code: int, what: str) -> None:
        if done.returncode != code:
            output = (done.stdout + done.stderr).strip().splitlines()[-15:]
            raise CheckFailed(f"{what}: exit {done.returncode}, wanted {code}:\n  " + "\n  ".join(output))
        print(f"ok: {what}")

    pip = str(bin_dir / "pip")
    expect(run(pip, "install", "--quiet", str(wheel)), 0, "pip install the wheel (production set)")
    where = run(str(bin_dir / "python"), "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)")
    expect(where, 0, "import bot")
    if not where.stdout.strip().startswith(str(environment)):
        raise CheckFailed(f"bot was imported from {where.stdout.strip()}, not from the fresh virtualenv")
    bot = str(bin_dir / "orchestrator-bot")
    expect(run(bot, "--help"), 0, "orchestrator-bot --help")
    for example in EXAMPLES:
        rendered = run(bot, "render", "-", stdin=(examples / example).read_text())
        expect(rendered, 0, f"orchestrator-bot render {example}")
        if "kind: Job" not in rendered.stdout:
            raise CheckFailed(f"render {example} printed no Job")
    expect(run(bot, "doctor", "--help"), 0, "orchestrator-bot doctor --help")
    without = run(bot, "demo")
    expect(without, 2, "orchestrator-bot demo without the sandbox extra refuses")
    if NEEDS_EXTRA not in without.stderr or len(without.stderr.strip().splitlines()) != 1:
        raise CheckFailed(
            f"demo without the extra should say in one line: {NEEDS_EXTRA}; it said {without.stderr!r}"
        )
    expect(run(pip, "install", "--quiet", f"{wheel}[sandbox]"), 0, "pip install the wheel with [sandbox]")
    expect(run(bot, "demo", "--no-color", "--workdir", str(scratch / "demo")), 0, "orchestrator-bot demo")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inspect-only", action="store_true", help="build and compare, install nothing")
    parser.add_argument(
        "--source", type=Path, default=ROOT, help="the tree to build (default: this checkout)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="check-wheel-") as scratch_name:
        scratch = Path(scratch_name)
        try:
            wheel = build_wheel(args.source, scratch / "dist")
            inspect(wheel, args.source)
            if not args.inspect_only:
                smoke(wheel, ROOT / "k8s" / "examples", scratch)
        except CheckFailed as exc:
            print(f"check_wheel: {exc}", file=sys.stderr)
            return 1
    return 0


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CheckFailed(f"{' '.join(argv[:4])} failed: {done.stderr.strip()[-2000:]}")


if __name__ == "__main__":
    raise SystemExit(main())
