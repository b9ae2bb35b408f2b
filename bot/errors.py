"""The one exception hierarchy. Exceptions are for bugs and I/O failures, never for user input
(the parser and the policy return values for that)."""

from __future__ import annotations


class OrchestratorError(Exception):
    """Base of every exception this package raises on purpose."""


class ConfigError(OrchestratorError):
    """A setting is missing or invalid. `variable` names it as the operator spells it."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class UpstreamUnavailable(OrchestratorError):
    """Kubernetes or GitHub could not be reached or answered 5xx; the caller may retry.

    The webhook answers 503 for this so GitHub records a failed delivery that can be redelivered.
    """


class KubernetesUnavailable(UpstreamUnavailable):
    """The Kubernetes API could not be reached or failed."""


class GitHubUnavailable(UpstreamUnavailable):
    """The GitHub API could not be reached or kept failing after retries."""


class StoreUnavailable(OrchestratorError):
    """The run store (SQLite or PostgreSQL) could not be reached or failed; the caller may retry.

    Progress on GitHub does not depend on it: the controller buffers what it could not write."""
