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

import bisect
from collections import Counter
from collections.abc import Iterable
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


def admit(name: str, slots: Iterable[Slot], limits: Limits) -> Admission:
    """Whether the waiting run `name` may start its Job now, and if not, what it waits for."""
    return Occupancy(slots).admit(name, limits)


Order = tuple[str, str]


class Occupancy:
    """The slots of a namespace, indexed so that admitting a run costs in proportion to the runs
    waiting ahead of it, not to every run that exists. The controller keeps one up to date from what
    its watches deliver (an index of the cluster's state, not a memory of decisions): `put` a run's
    slot whenever its run or Job changes, `remove` it when both are gone."""

    def __init__(self, slots: Iterable[Slot] = ()) -> None:
        self._slots: dict[str, Slot] = {}
        self._waiting: list[Order] = []
        self._active: list[Order] = []
        self._active_by_user: dict[str, list[Order]] = {}
        self._active_on: dict[str, list[Order]] = {}
        for slot in slots:
            self.put(slot)

    def __len__(self) -> int:
        return len(self._slots)

    def get(self, name: str) -> Slot | None:
        return self._slots.get(name)

    def put(self, slot: Slot) -> None:
        if self._slots.get(slot.name) == slot:
            return
        self.remove(slot.name)
        self._slots[slot.name] = slot
        for orders in self._lists(slot):
            bisect.insort(orders, slot.order)

    def remove(self, name: str) -> None:
        slot = self._slots.pop(name, None)
        if slot is None:
            return
        for orders in self._lists(slot):
            del orders[bisect.bisect_left(orders, slot.order)]
        # No empty list is kept for a user or a workspace that has no active run any more.
        if not self._active_by_user.get(slot.user, True):
            del self._active_by_user[slot.user]
        if slot.workspace is not None and not self._active_on.get(slot.workspace, True):
            del self._active_on[slot.workspace]

    def _lists(self, slot: Slot) -> list[list[Order]]:
        """The sorted lists a slot belongs in."""
        if slot.state == "waiting":
            return [self._waiting]
        if slot.state != "active":
            return []
        lists = [self._active, self._active_by_user.setdefault(slot.user, [])]
        if slot.workspace is not None:
            lists.append(self._active_on.setdefault(slot.workspace, []))
        return lists

    def admit(self, name: str, limits: Limits) -> Admission:
        """Whether the waiting run `name` may start its Job now, and if not, what it waits for: the
        waiting runs go first come, first served, each taking its workspace and a place under the
        limits unless its workspace is busy or a limit is reached."""
        me = self._slots.get(name)
        if me is None or me.state != "waiting":
            raise ValueError(f"{name} is not a waiting run")
        started = 0
        started_by_user: Counter[str] = Counter()
        claimed: dict[str, str] = {}
        """Workspaces taken by the runs ahead that may start."""
        ahead: Counter[tuple[Blocker, str | None]] = Counter()
        for _, other in self._waiting[: bisect.bisect_right(self._waiting, me.order)]:
            slot = self._slots[other]
            holder = None
            if slot.workspace is not None:
                holder = claimed.get(slot.workspace) or self._latest_on(slot.workspace)
            mine = self._active_by_user.get(slot.user) or []
            why: tuple[Blocker, str | None]
            if holder is not None:
                why = ("workspace", holder)
            elif _over(limits.max_active_runs, len(self._active) + started):
                why = ("maxActiveRuns", self._active[0][1] if self._active else None)
            elif _over(limits.max_active_runs_per_user, len(mine) + started_by_user[slot.user]):
                why = ("maxActiveRunsPerUser", mine[0][1] if mine else None)
            else:
                if other == name:
                    return Admission(start=True)
                started += 1
                started_by_user[slot.user] += 1
                if slot.workspace is not None:
                    claimed[slot.workspace] = other
                continue
            if other == name:
                return Admission(False, why[0], why[1], ahead[why] + 1)
            ahead[why] += 1
        raise AssertionError("unreachable: the run itself is among the waiting runs")

    def _latest_on(self, workspace: str | None) -> str | None:
        """The active run on a workspace (the latest, should an orphaned Job share it)."""
        active = self._active_on.get(workspace) if workspace is not None else None
        return active[-1][1] if active else None
