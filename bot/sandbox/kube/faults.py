"""Fault injection and the request log, for reliability tests and benchmarks.

    kube.faults.fail(method="POST", path_contains="/coderuns", status=500, times=2)
    kube.faults.conflict_on_status_update(times=1)
    kube.faults.cut_watch(after_events=3)
    kube.faults.expire_watch()          # the next watch gets ERROR 410 Expired
    kube.faults.compact_history()       # every resourceVersion before now is too old (410)

`times=None` keeps a fault until `clear()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it; verb/group/resource/subresource are RBAC's terms (None for
    non-resource paths such as /version or discovery)."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    verb: str | None = None
    group: str | None = None
    version: str | None = None
    resource: str | None = None
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    user_agent: str = ""
    """Who asked: kubectl, or a client that names itself (the controller puts its identity here)."""


@dataclass
class _Rule:
    matches: Callable[[str, str], bool]
    remaining: int | None
    status: int = 0
    reason: str = ""
    message: str = ""
    delay: float = 0.0
    after_events: int = 0

    def take(self) -> bool:
        if self.remaining is None:
            return True
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True


@dataclass(frozen=True)
class InjectedFailure:
    status: int
    reason: str
    message: str
    delay: float


def _matcher(
    method: str | None, path_contains: str, extra: Callable[[str, str], bool] | None = None
) -> Callable[[str, str], bool]:
    def matches(request_method: str, path_and_query: str) -> bool:
        return (
            (method is None or request_method.upper() == method.upper())
            and path_contains in path_and_query
            and (extra is None or extra(request_method, path_and_query))
        )

    return matches


@dataclass
class Faults:
    _failures: list[_Rule] = field(default_factory=list)
    _watch_cuts: list[_Rule] = field(default_factory=list)
    _watch_expiries: list[_Rule] = field(default_factory=list)
    _compact: Callable[[], None] | None = None

    def fail(
        self,
        *,
        method: str | None = None,
        path_contains: str = "",
        status: int = 500,
        times: int | None = 1,
        reason: str | None = None,
        message: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer the next `times` matching requests with a Status of `status` (after `delay` seconds)."""
        self._failures.append(
            _Rule(
                _matcher(method, path_contains),
                times,
                status,
                reason or _REASONS.get(status, "InternalError"),
                message or f"injected fault: {status}",
                delay,
            )
        )

    def delay(
        self, seconds: float, *, method: str | None = None, path_contains: str = "", times: int | None = 1
    ) -> None:
        """Answer the next `times` matching requests normally, but only after `seconds`."""
        self._failures.append(_Rule(_matcher(method, path_contains), times, 0, "", "", seconds))

    def conflict_on_status_update(self, times: int | None = 1, *, path_contains: str = "") -> None:
        """The next `times` PUT/PATCH of a /status subresource answer 409 Conflict."""

        def is_status_write(method: str, path: str) -> bool:
            return method in ("PUT", "PATCH") and path.split("?", 1)[0].endswith("/status")

        self._failures.append(
            _Rule(
                _matcher(None, path_contains, is_status_write),
                times,
                409,
                "Conflict",
                "Operation cannot be fulfilled: the object has been modified; please apply your changes to the "
                "latest version and try again",
            )
        )

    def cut_watch(self, after_events: int, *, times: int | None = 1, path_contains: str = "") -> None:
        """End the next `times` matching watch streams after `after_events` events."""
        self._watch_cuts.append(_Rule(_matcher("GET", path_contains), times, after_events=after_events))

    def expire_watch(self, *, times: int | None = 1, path_contains: str = "") -> None:
        """The next `times` matching watches get an ERROR event with a 410 Expired Status at once."""
        self._watch_expiries.append(_Rule(_matcher("GET", path_contains), times))

    def compact_history(self) -> None:
        """Drop the watch history, as etcd compaction does: older resourceVersions now answer 410."""
        if self._compact is not None:
            self._compact()

    @property
    def pending(self) -> int:
        """How many counted faults are still to be served (those with `times=None` are not counted)."""
        rules = (*self._failures, *self._watch_cuts, *self._watch_expiries)
        return sum(rule.remaining for rule in rules if rule.remaining is not None)

    def clear(self) -> None:
        self._failures.clear()
        self._watch_cuts.clear()
        self._watch_expiries.clear()

    # Used by the server

    def failure_for(self, method: str, path_and_query: str) -> InjectedFailure | None:
        for rule in self._failures:
            if rule.matches(method, path_and_query) and rule.take():
                return InjectedFailure(rule.status, rule.reason, rule.message, rule.delay)
        return None

    def watch_cut_for(self, path_and_query: str) -> int | None:
        for rule in self._watch_cuts:
            if rule.matches("GET", path_and_query) and rule.take():
                return rule.after_events
        return None

    def watch_expired_for(self, path_and_query: str) -> bool:
        return any(rule.matches("GET", path_and_query) and rule.take() for rule in self._watch_expiries)
