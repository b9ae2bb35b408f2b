r"""Faults to inject into the local GitHub API: server errors, rate limits and latency.

A `Fault` matches requests by method and path (a regular expression that must match the whole path,
e.g. r"/repos/.*/issues/\d+/comments") or by operation id, and answers `times` of them (None: all)
with its status, GitHub's rate-limit answers, or just a delay before the normal answer. Faults
are taken first added, first matched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SECONDARY_RATE_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach "
    "out to GitHub Support for help, please include the request ID {request_id}."
)
SECONDARY_RATE_LIMIT_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
PRIMARY_RATE_LIMIT_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"
)


@dataclass
class Fault:
    """One injected misbehaviour. With neither `status` nor a rate limit it only adds `latency`."""

    method: str | None = None
    path_pattern: str | None = None
    operation_id: str | None = None
    status: int | None = None
    times: int | None = None
    latency: float = 0.0
    secondary_rate_limit: bool = False
    primary_rate_limit: bool = False
    retry_after: int | None = None
    body: dict[str, Any] | None = None
    served: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.secondary_rate_limit or self.primary_rate_limit:
            self.status = self.status or 403
        self._pattern = re.compile(self.path_pattern) if self.path_pattern is not None else None

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.served >= self.times

    def matches(self, method: str, path: str, operation_id: str | None) -> bool:
        if self.exhausted:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self._pattern is not None and self._pattern.fullmatch(path) is None:
            return False
        return self.operation_id is None or self.operation_id == operation_id

    def response_body(self, request_id: str) -> dict[str, Any]:
        if self.body is not None:
            return self.body
        if self.secondary_rate_limit:
            return {
                "message": SECONDARY_RATE_LIMIT_MESSAGE.format(request_id=request_id),
                "documentation_url": SECONDARY_RATE_LIMIT_DOCS,
                "status": str(self.status),
            }
        if self.primary_rate_limit:
            return {
                "message": "API rate limit exceeded.",
                "documentation_url": PRIMARY_RATE_LIMIT_DOCS,
                "status": str(self.status),
            }
        return {
            "message": "Server Error" if (self.status or 500) >= 500 else "Injected fault",
            "status": str(self.status),
        }


class FaultPlan:
    """The faults in force, first added first matched."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        return [fault for fault in self._faults if not fault.exhausted]

    def take(self, method: str, path: str, operation_id: str | None) -> Fault | None:
        """The first fault that matches this request, counted as served."""
        for fault in self._faults:
            if fault.matches(method, path, operation_id):
                fault.served += 1
                return fault
        return None
