"""Which waiting runs may start now: one agent per workspace, and the configured limits.

Pure and level-based: the decision is a function of the runs that exist (their kind, creation time,
workspace, user and whether their Job exists and is unfinished), never of what the controller
remembers. Every reconcile of every run computes the same admission from the same state, so a
restart, a leader change or several workers at once keep the order and never start two Jobs on one
workspace: a run starts only when it is admitted, and admission goes first come, first served
(creation time, then name) through the waiting runs, skipping those whose workspace is busy or
whose limits are reached.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

SlotState = Literal["active", "waiting", "finished"]
Blocker = Literal["workspace", "maxActiveRuns", "maxActiveRunsPerUser"]


@dataclass(frozen=True)
class Slot:
    """One run as the scheduler sees it."""

    name: str
    created: str
    """metadata.creationTimestamp (RFC 3339, so it sorts as text)."""
    user: str
    workspace: str | None
    """The CodeRun's workspace claim; None for a DocsRun, which holds no workspace."""
    state: SlotState
    """active: its Job exists and is unfinished; waiting: no Job yet and not finished or cancelled."""

    @property
    def order(self) -> tuple[str, str]:
        return (self.created, self.name)


@dataclass(frozen=True)
class Limits:
    max_active_runs: int = 0
    """Whole namespace; 0: no limit."""
    max_active_runs_per_user: int = 0


@dataclass(frozen=True)
class Admission:
    start: bool
    blocker: Blocker | None = None
    waiting_for: str | None = None
    """The run it waits for: the active one on its workspace (or, for a limit, the earliest active
    run that counts against it)."""
    position: int = 0
    """1-based place among the runs waiting for the same thing (0 when it may start)."""


def _over(limit: int, count: int) -> bool:
    return limit > 0 and count >= limit


def admit(name: str, slots: list[Slot], limits: Limits) -> Admission:
    """Whether the waiting run `name` may start its Job now, and if not, what it waits for."""
    active = sorted((s for s in slots if s.state == "active"), key=lambda s: s.order)
    total = len(active)
    per_user = Counter(s.user for s in active)
    busy = {s.workspace: s.name for s in active if s.workspace is not None}
    blocked: dict[str, tuple[Blocker, str | None]] = {}
    for slot in sorted((s for s in slots if s.state == "waiting"), key=lambda s: s.order):
        if slot.workspace is not None and slot.workspace in busy:
            blocked[slot.name] = ("workspace", busy[slot.workspace])
        elif _over(limits.max_active_runs, total):
            blocked[slot.name] = ("maxActiveRuns", active[0].name if active else None)
        elif _over(limits.max_active_runs_per_user, per_user[slot.user]):
            mine = [s.name for s in active if s.user == slot.user]
            blocked[slot.name] = ("maxActiveRunsPerUser", mine[0] if mine else None)
        else:
            if slot.name == name:
                return Admission(start=True)
            total += 1
            per_user[slot.user] += 1
            if slot.workspace is not None:
                busy[slot.workspace] = slot.name
    if name not in blocked:
        raise ValueError(f"{name} is not a waiting run")
    blocker, waiting_for = blocked[name]
    ahead = [other for other, (why, what) in blocked.items() if (why, what) == (blocker, waiting_for)]
    return Admission(False, blocker, waiting_for, ahead.index(name) + 1)
