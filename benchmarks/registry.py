"""What a benchmark module exposes to the entry point."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Benchmark:
    name: str
    """The subcommand: `python -m benchmarks <name>`."""
    summary: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    """Returns the exit code: 0 when every target was met (or there is none), 1 otherwise."""
