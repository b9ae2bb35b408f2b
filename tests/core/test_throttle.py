"""When the reporter may edit a run's comment or check run to show progress: an injected clock (plain
numbers), one row per rule."""

from __future__ import annotations

from bot.core.throttle import EditThrottle

RUNNING = ("Running", None, False)
FINISHED = ("Succeeded", None, True)


def test_the_first_edit_and_a_milestone_go_at_once() -> None:
    throttle = EditThrottle(interval=15)
    assert throttle.delay("comment", RUNNING, now=0) == 0
    throttle.edited("comment", RUNNING, now=0)
    assert throttle.delay("comment", FINISHED, now=1) == 0


def test_progress_alone_waits_for_the_interval() -> None:
    throttle = EditThrottle(interval=15)
    throttle.edited("comment", RUNNING, now=100)
    assert throttle.delay("comment", RUNNING, now=104) == 11
    assert throttle.delay("comment", RUNNING, now=115) == 0
    assert throttle.delay("comment", RUNNING, now=104, interval=60) == 56  # a check run waits longer
    assert throttle.delay("other run's comment", RUNNING, now=104) == 0


def test_progress_edits_share_a_budget_per_installation() -> None:
    throttle = EditThrottle(interval=1, per_minute=3, per_hour=5)
    for key in ("a", "b", "c", "d"):
        throttle.edited(key, RUNNING, now=0, budget=1)  # first edits: not progress, not counted
    for n, key in enumerate(("a", "b", "c")):
        throttle.edited(key, RUNNING, now=10 + n, budget=1)
    assert throttle.delay("d", RUNNING, now=20, budget=1) == 10 + 60 - 20  # the minute is full
    assert throttle.delay("d", RUNNING, now=20, budget=2) == 0  # another installation
    assert throttle.delay("d", FINISHED, now=20, budget=1) == 0  # milestones never wait
    throttle.edited("a", RUNNING, now=80, budget=1)
    throttle.edited("b", RUNNING, now=81, budget=1)
    assert throttle.delay("c", RUNNING, now=90, budget=1) == 10 + 3600 - 90  # the hour is full
    assert throttle.delay("c", RUNNING, now=3611, budget=1) == 0


def test_objects_not_edited_for_an_hour_are_forgotten() -> None:
    throttle = EditThrottle(interval=15)
    for n in range(1100):
        throttle.edited(f"run-{n}", RUNNING, now=0)
    throttle.edited("late", RUNNING, now=4000)
    assert len(throttle._last) == 1
    assert throttle.delay("run-1", RUNNING, now=4001) == 0
