"""Which repositories a run may take its instructions from, and which pull request links are its own.

A `--platform-repo` (and the configured default) must be a repository on the GitHub the bot serves —
its web host, read from the event (`repository.html_url`): `github.com`, or the Enterprise Server's
host — with an owner from `repositories.allowedOwners` in task-controller-config, or, when that is
not set, the owner of the repository the command was given on. So task documents, which steer the
agent, never come from an arbitrary host, an internal address, or someone else's organisation.

The agent's pull request link is kept only if it is `<the run's repository>/pull/<number>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.core.markdown import code_span
from bot.core.resources import REPOSITORY_URL

_HOSTED = (
    re.compile(r"https://(?P<host>[^/@:\s]+)(?::(?P<port>[^/]*))?/(?P<path>.*)"),
    re.compile(r"ssh://git@(?P<host>[^/@:\s]+)(?::(?P<port>[^/]*))?/(?P<path>.*)"),
    re.compile(r"git@(?P<host>[^/@:\s]+):(?P<path>.*)"),
)
_PATH = re.compile(r"(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?")
_PULL_NUMBER = r"/pull/([1-9][0-9]{0,9})"


@dataclass(frozen=True)
class RepositoryAddress:
    host: str
    """Lower-cased."""
    owner: str
    name: str


def repository_address(url: str) -> RepositoryAddress | None:
    """Host, owner and name of a GitHub repository URL in one of the accepted forms (no port); None
    for anything else."""
    for form in _HOSTED:
        hosted = form.fullmatch(url)
        if hosted is None:
            continue
        path = _PATH.fullmatch(hosted.group("path"))
        if hosted.groupdict().get("port") is not None or path is None or not re.match(REPOSITORY_URL, url):
            return None
        return RepositoryAddress(hosted.group("host").lower(), path.group("owner"), path.group("name"))
    return None


def web_host(html_url: str) -> str:
    """The host of a repository's web address (`https://github.com/o/r` -> `github.com`)."""
    return (urlsplit(html_url).hostname or "").lower()


@dataclass(frozen=True)
class RepositoryRule:
    """Where the repositories a command names may be: on `web_host`, owned by one of `allowed_owners`."""

    web_host: str
    allowed_owners: tuple[str, ...]

    def problem(self, url: str) -> str | None:
        """Why `url` may not be used (to follow "... is not allowed: "), or None."""
        host = next((hosted.group("host") for form in _HOSTED if (hosted := form.fullmatch(url))), None)
        if host is not None and host.lower() != self.web_host:
            return (
                f"only repositories on {code_span(self.web_host)} can be used, "
                f"and this one is on {code_span(host)}"
            )
        found = repository_address(url)
        if found is None:
            return (
                f"it must be an SSH or HTTPS URL of a repository on {code_span(self.web_host)}, without a "
                f"port, such as `https://{self.web_host}/OWNER/REPO` or `git@{self.web_host}:OWNER/REPO.git`"
            )
        if found.owner.lower() not in {owner.lower() for owner in self.allowed_owners}:
            owners = ", ".join(code_span(owner) for owner in self.allowed_owners)
            return (
                f"only repositories of {owners} can be used here "
                "(`repositories.allowedOwners` in task-controller-config)"
            )
        return None


def pull_request_number(url: str, repository_html_url: str | None) -> int | None:
    """The number of the pull request `url` links to, if it is one of the repository whose web address
    is `repository_html_url` (`https://github.com/o/r`); None for any other link."""
    if not repository_html_url or not repository_html_url.startswith("https://"):
        return None
    own = re.fullmatch(re.escape(repository_html_url.rstrip("/")) + _PULL_NUMBER, url, re.IGNORECASE)
    return int(own.group(1)) if own else None
