"""The scheduling decision, one row per case: who starts, who waits for what, at which position."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.schedule import Admission, Blocker, Limits, Occupancy, Slot, SlotState, admit

STATES_OR_GONE: list[SlotState | Literal["gone"]] = ["waiting", "active", "finished", "gone"]


def slot(
    name: str,
    minute: int,
    state: SlotState = "waiting",
    workspace: str | None = "trader",
    user: str = "alice",
) -> Slot:
    return Slot(name, f"2026-12-03T10:{minute:02d}:00Z", user, workspace, state)


NONE = Limits()


@pytest.mark.parametrize(
    ("name", "slots", "limits", "expected"),
    [
        pytest.param("a", [slot("a", 1)], NONE, Admission(True), id="alone on its workspace"),
        pytest.param(
            "b",
            [slot("a", 1, "active"), slot("b", 2)],
            NONE,
            Admission(False, "workspace", "a", 1),
            id="behind the active run of its workspace",
        ),
        pytest.param(
            "c",
            [slot("a", 1, "active"), slot("b", 2), slot("c", 3)],
            NONE,
            Admission(False, "workspace", "a", 2),
            id="second in the workspace queue",
        ),
        pytest.param(
            "b",
            [slot("a", 1), slot("b", 2)],
            NONE,
            Admission(False, "workspace", "a", 1),
            id="created at once: the earlier one goes first",
        ),
        pytest.param(
            "a2",
            [slot("a1", 1), slot("a2", 1)],
            NONE,
            Admission(False, "workspace", "a1", 1),
            id="same instant: ties by name",
        ),
        pytest.param(
            "b",
            [slot("a", 1, "finished"), slot("b", 2)],
            NONE,
            Admission(True),
            id="the one ahead finished",
        ),
        pytest.param(
            "api",
            [slot("a", 1, "active"), slot("api", 2, workspace="api")],
            NONE,
            Admission(True),
            id="another workspace is free",
        ),
        pytest.param(
            "docs",
            [slot("a", 1, "active"), slot("docs", 2, workspace=None)],
            NONE,
            Admission(True),
            id="a DocsRun holds no workspace",
        ),
        pytest.param(
            "b",
            [slot("a", 1, "active", workspace="x"), slot("b", 2, workspace="y")],
            Limits(max_active_runs=1),
            Admission(False, "maxActiveRuns", "a", 1),
            id="namespace limit reached",
        ),
        pytest.param(
            "c",
            [slot("a", 1, workspace="x"), slot("b", 2, workspace="y"), slot("c", 3, workspace="z")],
            Limits(max_active_runs=2),
            Admission(False, "maxActiveRuns", None, 1),
            id="namespace limit filled by earlier waiting runs",
        ),
        pytest.param(
            "b",
            [slot("a", 1, "active", workspace="x"), slot("b", 2, workspace="y")],
            Limits(max_active_runs_per_user=1),
            Admission(False, "maxActiveRunsPerUser", "a", 1),
            id="per-user limit: waits although its workspace is free",
        ),
        pytest.param(
            "b",
            [slot("a", 1, "active", workspace="x"), slot("b", 2, workspace="y", user="bob")],
            Limits(max_active_runs_per_user=1),
            Admission(True),
            id="per-user limit: someone else may start",
        ),
        pytest.param(
            "b",
            [slot("a", 1, workspace="x"), slot("b", 2, workspace="x", user="bob")],
            Limits(max_active_runs_per_user=1),
            Admission(False, "workspace", "a", 1),
            id="a waiting run admitted before holds its workspace",
        ),
        pytest.param(
            "c",
            [
                slot("a", 1, "active", workspace="x"),
                slot("b", 2, workspace="y"),
                slot("c", 3, workspace="y", user="bob"),
            ],
            Limits(max_active_runs_per_user=1),
            Admission(True),
            id="a run held by its user's limit does not hold its workspace",
        ),
        pytest.param(
            "b",
            [slot("a", 1, "active"), slot("b", 2)],
            Limits(max_active_runs=0, max_active_runs_per_user=0),
            Admission(False, "workspace", "a", 1),
            id="0 means no limit, the workspace still counts",
        ),
    ],
)
def test_admission(name: str, slots: list[Slot], limits: Limits, expected: Admission) -> None:
    assert admit(name, slots, limits) == expected


def test_only_a_waiting_run_is_asked_about() -> None:
    with pytest.raises(ValueError, match="a is not a waiting run"):
        admit("a", [slot("a", 1, "active")], NONE)


def test_every_order_of_the_same_runs_admits_the_same() -> None:
    slots = [slot("c", 3), slot("a", 1), slot("b", 2, workspace="api"), slot("d", 4, workspace="api")]
    admitted = {s.name for s in slots if admit(s.name, slots, NONE).start}
    assert admitted == {"a", "b"}
    assert {s.name for s in reversed(slots) if admit(s.name, list(reversed(slots)), NONE).start} == admitted


SLOTS = st.lists(
    st.builds(
        slot,
        name=st.text("abcdef", min_size=1, max_size=3),
        minute=st.integers(0, 5),
        state=st.sampled_from(["waiting", "waiting", "finished"]),
        workspace=st.sampled_from(["x", "y", "z", None]),
        user=st.sampled_from(["alice", "bob"]),
    ),
    max_size=12,
    unique_by=lambda s: s.name,
)


@given(SLOTS, st.integers(0, 4), st.integers(0, 3))
def test_admitting_everyone_it_allows_never_breaks_a_rule(
    slots: list[Slot], total: int, per_user: int
) -> None:
    """Start everything `admit` allows, in any order, round after round (each round's starts become
    active): never two runs on one workspace, never over a limit, and every run ends up started."""
    limits = Limits(total, per_user)
    while any(s.state == "waiting" for s in slots):
        starting = {s.name for s in slots if s.state == "waiting" and admit(s.name, slots, limits).start}
        slots = [replace(s, state="active") if s.name in starting else s for s in slots]
        active = [s for s in slots if s.state == "active"]
        workspaces = [s.workspace for s in active if s.workspace is not None]
        assert len(workspaces) == len(set(workspaces))
        assert total == 0 or len(active) <= total
        assert per_user == 0 or max(Counter(s.user for s in active).values(), default=0) <= per_user
        if not starting:  # everything waits on an active run: finish the earliest one
            first = min(active, key=lambda s: s.order)
            slots = [replace(s, state="finished") if s is first else s for s in slots]


def reference_admit(name: str, slots: list[Slot], limits: Limits) -> Admission:
    """The rule written plainly, over every slot at once: what the index must agree with."""
    active = sorted((s for s in slots if s.state == "active"), key=lambda s: s.order)
    total, per_user = len(active), Counter(s.user for s in active)
    busy = {s.workspace: s.name for s in active if s.workspace is not None}
    blocked: list[tuple[str, tuple[Blocker, str | None]]] = []
    for s in sorted((s for s in slots if s.state == "waiting"), key=lambda s: s.order):
        if s.workspace is not None and s.workspace in busy:
            why: tuple[Blocker, str | None] = ("workspace", busy[s.workspace])
        elif limits.max_active_runs and total >= limits.max_active_runs:
            why = ("maxActiveRuns", active[0].name if active else None)
        elif limits.max_active_runs_per_user and per_user[s.user] >= limits.max_active_runs_per_user:
            why = ("maxActiveRunsPerUser", next((a.name for a in active if a.user == s.user), None))
        else:
            if s.name == name:
                return Admission(True)
            total, per_user[s.user] = total + 1, per_user[s.user] + 1
            if s.workspace is not None:
                busy[s.workspace] = s.name
            continue
        blocked.append((s.name, why))
        if s.name == name:
            return Admission(False, why[0], why[1], [w for _, w in blocked].count(why))
    raise ValueError(f"{name} is not a waiting run")


ANY_SLOTS = st.lists(
    st.builds(
        slot,
        name=st.text("abcdef", min_size=1, max_size=3),
        minute=st.integers(0, 5),
        state=st.sampled_from(["waiting", "active", "finished"]),
        workspace=st.sampled_from(["x", "y", None]),
        user=st.sampled_from(["alice", "bob"]),
    ),
    max_size=12,
    unique_by=lambda s: s.name,
)


@given(ANY_SLOTS, st.integers(0, 3), st.integers(0, 2))
def test_the_index_admits_as_the_plain_rule_does(slots: list[Slot], total: int, per_user: int) -> None:
    limits = Limits(total, per_user)
    for waiting in (s for s in slots if s.state == "waiting"):
        assert admit(waiting.name, slots, limits) == reference_admit(waiting.name, slots, limits)


@given(
    ANY_SLOTS,
    st.lists(st.tuples(st.integers(0, 11), st.sampled_from(STATES_OR_GONE))),
)
def test_an_index_kept_up_to_date_equals_one_built_afresh(
    slots: list[Slot], changes: list[tuple[int, SlotState | Literal["gone"]]]
) -> None:
    """Runs change state and disappear in any order (as watch events arrive): the index kept up to
    date slot by slot decides as one built from the final state does, and keeps nothing of the gone."""
    kept = Occupancy(slots)
    now = {s.name: s for s in slots}
    for index, state in changes:
        if not slots:
            break
        changed = slots[index % len(slots)]
        if state == "gone":
            kept.remove(changed.name)
            now.pop(changed.name, None)
        else:
            now[changed.name] = replace(changed, state=state)
            kept.put(now[changed.name])
    afresh = Occupancy(now.values())
    assert len(kept) == len(afresh) == len(now)
    for name, current in now.items():
        assert kept.get(name) == current
        if current.state == "waiting":
            assert kept.admit(name, Limits(1, 1)) == afresh.admit(name, Limits(1, 1))
            assert kept.admit(name, Limits()) == afresh.admit(name, Limits())
    assert kept._active_by_user.keys() == afresh._active_by_user.keys()
    assert kept._active_on.keys() == afresh._active_on.keys()
