"""Hostile comments, fuzzed: the parser never raises, every accepted command becomes a spec the CRD
accepts and a run that acts only as its sender, and every value in the rendered scripts is quoted —
bash reads each one back unchanged and runs nothing injected.

CI runs 5,000 examples; `RELIABILITY_FUZZ_EXAMPLES` (or `PARSER_FUZZ_EXAMPLES`) raises it, e.g. to
100,000 in the benchmarks' fuzz run. `RELIABILITY_SCRIPT_RUNS` sets how many whole runs execute
end to end under bash."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .fuzz import Prologue, run_parser_fuzz, run_scripts_end_to_end, verify_with_bash

FUZZ_EXAMPLES = int(
    os.environ.get("RELIABILITY_FUZZ_EXAMPLES") or os.environ.get("PARSER_FUZZ_EXAMPLES") or "5000"
)
SCRIPT_RUNS = int(os.environ.get("RELIABILITY_SCRIPT_RUNS", "15"))


@pytest.mark.slow
def test_hostile_comments_parse_into_schema_valid_runs_with_quoted_scripts(tmp_path: Path) -> None:
    report = run_parser_fuzz(FUZZ_EXAMPLES, tmp_path / "bash")
    assert report.examples >= FUZZ_EXAMPLES * 0.9
    # The generator reaches both outcomes, and bash really read back scripts.
    assert report.accepted_runs > 0 and report.rejected_lines > 0
    assert len(report.prologues) > 0


@pytest.mark.slow
def test_whole_rendered_runs_execute_inert_under_bash(tmp_path: Path) -> None:
    assert run_scripts_end_to_end(SCRIPT_RUNS, tmp_path) == SCRIPT_RUNS


@pytest.mark.parametrize(
    "assignment",
    [
        pytest.param("X=$(touch PWNED)", id="command substitution"),
        pytest.param('X="a"; touch PWNED', id="a second command"),
        pytest.param("X=a b", id="a word bash runs as a command"),
    ],
)
def test_the_bash_check_catches_an_unquoted_value(assignment: str, tmp_path: Path) -> None:
    """The checker itself can fail: a value rendered without quoting is caught."""
    value = assignment.removeprefix("X=")
    prologue = Prologue(source=assignment + "\n", names=("X",), values=(value,))
    with pytest.raises(AssertionError):
        verify_with_bash({prologue: assignment}, tmp_path / "bash")
