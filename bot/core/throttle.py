"""How often the reporter may edit a run's tracking comment and check run to show progress. Pure: the
caller passes the time (a monotonic clock, injected in tests).

- An edit that changes a milestone (the phase, the PR link, the result: `feedback.milestone`) goes
  at once: people wait for those.
- An edit that only shows progress (checklist, activity, log tail) waits until `interval` seconds
  have passed since the last edit of that object, and
- progress edits of one installation share a budget (`per_minute`, `per_hour`) that keeps the App
  well inside GitHub's secondary limits for content-creating requests (80 a minute, 500 an hour),
  with room left for everything else the App writes. When it runs out, progress waits; milestones
  don't.

The edits themselves are skipped altogether when nothing visible changed (the reporter compares
fingerprints); this only decides *when*.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field

EDIT_INTERVAL = 15.0
PROGRESS_EDITS_PER_MINUTE = 30
PROGRESS_EDITS_PER_HOUR = 300
_FORGET_AFTER = 3600.0


@dataclass
class _Edited:
    at: float
    milestone: Hashable


@dataclass
class EditThrottle:
    interval: float = EDIT_INTERVAL
    per_minute: int = PROGRESS_EDITS_PER_MINUTE
    per_hour: int = PROGRESS_EDITS_PER_HOUR
    _last: dict[Hashable, _Edited] = field(default_factory=dict)
    _progress_edits: dict[Hashable, deque[float]] = field(default_factory=dict)

    def delay(
        self,
        key: Hashable,
        milestone: Hashable,
        now: float,
        budget: Hashable = None,
        interval: float | None = None,
    ) -> float:
        """Seconds to wait before editing the object `key` (0: now). `budget` names the shared budget
        (the installation); `interval` overrides the object interval (a check run's is longer)."""
        last = self._last.get(key)
        if last is None or last.milestone != milestone:
            return 0.0
        wait = last.at + (self.interval if interval is None else interval) - now
        edits = self._recent(budget, now)
        if len(edits) >= self.per_hour:
            wait = max(wait, edits[-self.per_hour] + 3600.0 - now)
        in_minute = [at for at in edits if at > now - 60.0]
        if len(in_minute) >= self.per_minute:
            wait = max(wait, in_minute[-self.per_minute] + 60.0 - now)
        return max(0.0, wait)

    def edited(self, key: Hashable, milestone: Hashable, now: float, budget: Hashable = None) -> None:
        """Record an edit of `key`; one that kept the milestone counts against the budget."""
        last = self._last.get(key)
        if last is not None and last.milestone == milestone:
            self._recent(budget, now).append(now)
        self._last[key] = _Edited(now, milestone)
        self._forget_old(now)

    def _recent(self, budget: Hashable, now: float) -> deque[float]:
        edits = self._progress_edits.setdefault(budget, deque())
        while edits and edits[0] <= now - 3600.0:
            edits.popleft()
        return edits

    def _forget_old(self, now: float) -> None:
        """Objects not edited for an hour are forgotten (their next edit goes at once): bounded memory."""
        if len(self._last) < 1024:
            return
        for key in [k for k, edit in self._last.items() if edit.at < now - _FORGET_AFTER]:
            del self._last[key]
