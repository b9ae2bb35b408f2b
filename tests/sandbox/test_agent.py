"""The simulated agent's transcripts: the real CLI's recordings at a chosen pace, framed by the Job
script's own lines, and the synthetic flood of the load benchmark."""

from __future__ import annotations

import pytest

from bot.core.transcript import fold_lines, outcome
from bot.sandbox.agent import NAMES, flood, framed, recorded, working


@pytest.mark.parametrize("name", NAMES)
def test_a_recording_replays_at_its_recorded_pace_or_faster(name: str) -> None:
    real, fast = recorded(name), recorded(name, speed=4)
    assert [line for _, line in real] == [line for _, line in fast]
    assert [at for at, _ in real] == sorted(at for at, _ in real)
    assert fast[-1][0] == pytest.approx(real[-1][0] / 4)


def test_unknown_recordings_and_speeds_are_refused() -> None:
    with pytest.raises(ValueError, match="no recorded transcript 'nope'"):
        recorded("nope")
    with pytest.raises(ValueError, match="speed must be positive"):
        recorded("success", 0)


def test_framed_puts_the_script_lines_around_the_agent() -> None:
    transcript = framed(recorded("success"), "feature/task-5-trader")
    assert transcript[0][1] == "+ configuring SSH and git"
    assert transcript[-1][1] == "+ pushed feature/task-5-trader"
    assert [at for at, _ in transcript] == sorted(at for at, _ in transcript)
    assert framed((), None)[-1][1] == "+ the agent stopped"


def test_the_flood_has_its_rate_and_ends_with_a_result() -> None:
    transcript = flood(200, 2)
    assert len(transcript) == 401
    progress = fold_lines(line for _, line in transcript)
    assert outcome(progress, ended=True) == "success"
    assert progress.cost_usd == 1.25
    assert (progress.todos_done, len(progress.todos)) == (3, 20)


def test_a_working_agent_moves_through_its_todos_and_ends_with_a_result() -> None:
    transcript = working(30)
    assert transcript == working(30)  # the same seed, the same transcript
    assert transcript[-1][0] == 1800.0
    assert 100 < len(transcript) < 600  # a tool call every 5-20 s
    progress = fold_lines(line for _, line in transcript)
    assert outcome(progress, ended=True) == "success"
    assert (progress.todos_done, len(progress.todos)) == (7, 8)
