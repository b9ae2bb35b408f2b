"""Which persistent workspace a CodeRun uses: one per repository and service and, by default, person.

A workspace keeps a clone, the agent's sessions and its memory between runs, so whoever shares one
shares what the last agent left there. Keyed by the service alone (as the seed did), a writer of any
repository could reach another repository's code and plant commands for another person's run; so
the key always holds the repository, and with scope `user` (the default) the person too. The claim's
name is a stable hash of the key; its labels and annotations carry the parts for people and queries.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from bot.core.resources import CodeRunSpec
from bot.core.taskconfig import WorkspaceScope

LABEL_PREFIX = "orchestrator.platform/"
WORKSPACE_LABEL = LABEL_PREFIX + "workspace"
"""On the claim and on every CodeRun: the workspace's hash, so a run's workspace can be selected."""
_HASH_LENGTH = 16


@dataclass(frozen=True)
class Workspace:
    key: str
    """`<repository>|<service>[|<user>]`, lower-case: what decides which runs share the workspace."""
    digest: str
    service: str
    repository: str
    user: str | None
    scope: WorkspaceScope

    @property
    def claim_name(self) -> str:
        return f"workspace-{self.service}-{self.digest}"

    @property
    def labels(self) -> dict[str, str]:
        labels = {WORKSPACE_LABEL: self.digest, "service": self.service}
        if self.user is not None:
            labels["github-user"] = self.user
        return labels

    @property
    def annotations(self) -> dict[str, str]:
        return {
            LABEL_PREFIX + "workspace-repository": self.repository,
            LABEL_PREFIX + "workspace-scope": self.scope,
        }


def repository_identity(url: str) -> str:
    """`host/owner/name` of a repository URL in any of its forms (SSH, ssh://, HTTPS; `.git` or not),
    lower-case, since GitHub treats names case-insensitively: the same repository, the same key."""
    if "://" in url:
        authority, _, path = url.split("://", 1)[1].partition("/")
        host = authority.rpartition("@")[2].split(":", 1)[0]
    else:  # git@host:owner/name
        host, _, path = url.partition("@")[2].partition(":")
    return f"{host}/{path.removesuffix('.git').strip('/')}".lower()


def workspace(spec: CodeRunSpec, scope: WorkspaceScope) -> Workspace:
    return workspace_of(spec.repository_url, spec.service, spec.github_user, scope)


@functools.lru_cache(maxsize=4096)
def workspace_of(repository_url: str, service: str, github_user: str, scope: WorkspaceScope) -> Workspace:
    """The workspace of a run's repository, service and user (cached: the scheduler's index asks for
    it on every watch event of a CodeRun, and for every run when it is rebuilt)."""
    repository = repository_identity(repository_url)
    user = github_user.lower() if scope == "user" else None
    key = "|".join(part for part in (repository, service, user) if part is not None)
    digest = hashlib.sha256(key.encode()).hexdigest()[:_HASH_LENGTH]
    return Workspace(key, digest, service, repository, user, scope)
