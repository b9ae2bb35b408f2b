"""Fetch one npm package into a folder, for the scripts that vendor GitHub's published material."""

from __future__ import annotations

import subprocess
from pathlib import Path


def install_package(package: str, version: str, into: Path) -> Path:
    """`npm install` `package@version` into `into` (no scripts run) and return the package directory."""
    subprocess.run(
        [
            "npm",
            "install",
            "--prefix",
            str(into),
            "--no-save",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            f"{package}@{version}",
        ],
        check=True,
    )
    return into / "node_modules" / package
