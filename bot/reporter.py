"""The reporter: makes GitHub show what a run's state says (inside the `controller` role).

Driven by run events from the controller's watch, it reads only the run (origin annotations, spec,
status) and records what it has reported in the run's annotations, so a restart or a resync neither
loses nor repeats anything:
- 👀 on the command comment, once;
- one tracking comment, found again by its hidden marker, edited when its text changes;
- a check run on the PR's head commit, with Cancel / Retry buttons;
- the agent's progress in both (checklist, activity, cost, the log's tail: `status.progress`), edited
  at most every `edit_interval` seconds when only progress changed (bot/core/throttle.py), and
  everything redacted (bot/core/redact.py) before it leaves;
- the pull request: the agent's (once GitHub confirms it is the run's branch in the run's repository),
  an open one for the pushed branch, or one the bot opens.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from gidgethub import BadRequest, InvalidField, ValidationError

from bot.core import feedback
from bot.core.feedback import RunView
from bot.core.origin import ANNOTATION_PREFIX
from bot.core.redact import NO_SECRETS, Secrets, redact, redact_value
from bot.core.repositories import pull_request_number
from bot.core.resources import RunKind
from bot.core.throttle import EDIT_INTERVAL, EditThrottle
from bot.errors import GitHubUnavailable, KubernetesUnavailable
from bot.github import GitHubApp, GitHubClient, github_failures
from bot.kube import Kube
from bot.workqueue import WorkQueue

log = logging.getLogger(__name__)

RunKey = tuple[RunKind, str]
PULL_REQUEST_CHECKED = ANNOTATION_PREFIX + "pull-request-checked"
"""The `status.pullRequestUrl` GitHub confirmed as the run's pull request."""


@dataclass(frozen=True)
class Mirror:
    """Where the reporter keeps track of one kind of GitHub object in a run's annotations."""

    what: str
    id_key: str
    fingerprint_key: str
    posting_key: str


TRACKING_COMMENT = Mirror(
    "tracking comment",
    feedback.TRACKING_COMMENT_ID,
    feedback.REPORTED_COMMENT,
    ANNOTATION_PREFIX + "posting-comment",
)
CHECK_RUN = Mirror(
    "check run", feedback.CHECK_RUN_ID, feedback.REPORTED_CHECK, ANNOTATION_PREFIX + "posting-check-run"
)
NEW_HEAD_CHECK_RUN = Mirror(
    "check run on the new head",
    ANNOTATION_PREFIX + "new-head-check-run-id",
    ANNOTATION_PREFIX + "reported-new-head-check",
    ANNOTATION_PREFIX + "posting-new-head-check-run",
)
"""A run on a pull request that pushed to it: its result also shows on the commit it pushed, the
pull request's new head (a check run stays on the commit it was made for)."""


class Reporter:
    def __init__(
        self,
        github: GitHubApp,
        kube: Kube,
        namespace: str,
        workers: int = 2,
        *,
        secrets: Secrets = NO_SECRETS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.github = github
        self.kube = kube
        self.namespace = namespace
        self.workers = workers
        self.queue: WorkQueue[RunKey] = WorkQueue(base_backoff=1.0, max_backoff=120.0)
        self.secrets = secrets
        self.clock = clock
        self.throttle = EditThrottle(EDIT_INTERVAL)
        self.page_base: str | None = None
        """The bot's public URL when the run page is served: the check run's Details button and the
        tracking comment link to `{page_base}/runs/{namespace}/{name}`."""
        self.waiting_on: dict[str, set[RunKey]] = {}
        """Queued runs whose comment names a run whose tracking comment was not posted yet: reported
        again once it is, to link it (a restart reports every run anyway)."""

    @staticmethod
    def _reported(run: dict[str, Any]) -> bool:
        """Runs started from GitHub are reported there; one created with kubectl has nowhere to go."""
        return ANNOTATION_PREFIX + "installation-id" in (run["metadata"].get("annotations") or {})

    async def on_run(self, run: dict[str, Any]) -> None:
        """Run listener for the controller's watch."""
        if self._reported(run):
            self.queue.add((run["kind"], run["metadata"]["name"]))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for _ in range(self.workers):
                group.create_task(self._work())

    async def _work(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self.report(*key)
            except (GitHubUnavailable, KubernetesUnavailable) as exc:
                log.warning("reporting %s/%s will be retried in %.1f s: %s", *key, self.queue.retry(key), exc)
            except Exception:
                log.exception("reporting %s/%s failed; retrying in %.1f s", *key, self.queue.retry(key))
            else:
                self.queue.forget(key)
            finally:
                self.queue.done(key)

    async def report(self, kind: RunKind, name: str) -> None:
        run = await self.kube.get_run(kind, self.namespace, name)
        if run is None or run["metadata"].get("deletionTimestamp"):
            return
        view = feedback.run_view(run)
        if self.page_base:
            view = replace(view, page_url=f"{self.page_base}/runs/{view.namespace}/{view.name}")
        if ahead_name := view.waiting_for:
            # Only CodeRuns have a workspace to wait for.
            ahead = await self.kube.get_run("CodeRun", self.namespace, ahead_name)
            url = feedback.tracking_comment_url(ahead) if ahead is not None else None
            view = replace(view, waiting_for_comment=url)
            if url is None and ahead is not None and self._reported(ahead):
                # Linked once that run's comment is posted (a run the reporter skips never gets one).
                self.waiting_on.setdefault(ahead_name, set()).add((kind, name))
        annotations: dict[str, str] = run["metadata"].get("annotations") or {}
        client = await self.github.installation_client(view.installation_id)
        done: dict[str, str | None] = {}
        agent_link = view.phase == "Succeeded" and view.branch and view.pull_request_url
        if agent_link and annotations.get(PULL_REQUEST_CHECKED) != view.pull_request_url:
            if await self._is_the_runs_pull_request(client, view, annotations):
                done[PULL_REQUEST_CHECKED] = view.pull_request_url
            else:
                log.warning(
                    "%s is not the pull request of %s; the bot links its own",
                    view.pull_request_url,
                    view.name,
                    extra={"run": view.name},
                )
                view = replace(view, pull_request_url=None)
        wants_link = view.phase == "Succeeded" and view.branch and not view.pull_request_url
        # The status change linking makes comes back as an event; the comment then shows the link.
        if wants_link and await self._link_pull_request(client, run, view):
            return
        if view.comment_id and feedback.REACTION not in annotations:
            done[feedback.REACTION] = await self._react(client, view)
        done.update(await self._tracking_comment(client, run, view, annotations))
        if view.head_sha:
            done.update(await self._check_run(client, run, view, annotations))
            # Only a continuation pushes to the pull request's own branch (a /docs on a PR does not).
            new_head = view.commit if view.finished and view.branch and view.continues else None
            if new_head and new_head != view.head_sha:
                moved = replace(view, head_sha=new_head)
                done.update(await self._check_run(client, run, moved, annotations, NEW_HEAD_CHECK_RUN))
        if done:
            await self.kube.patch_run(kind, self.namespace, name, {"metadata": {"annotations": done}})
        if done.get(feedback.TRACKING_COMMENT_ID) or annotations.get(feedback.TRACKING_COMMENT_ID):
            for waiting in self.waiting_on.pop(name, ()):
                self.queue.add(waiting)

    # --- the pieces --------------------------------------------------------------------------------

    async def _react(self, client: GitHubClient, view: RunView) -> str:
        """👀 on the command; "gone" when the comment was deleted (nothing to retry then)."""
        owner, repo = view.repository.split("/", 1)
        try:
            with github_failures("adding a reaction"):
                await client.post(
                    "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
                    url_vars={"owner": owner, "repo": repo, "comment_id": str(view.comment_id)},
                    data={"content": "eyes"},
                )
        except BadRequest as exc:
            if exc.status_code.value not in (404, 410):
                raise
            return "gone"
        return "eyes"

    async def _keep_in_step(
        self,
        run: dict[str, Any],
        annotations: dict[str, str],
        mirror: Mirror,
        content: Any,
        *,
        find: Callable[[], Awaitable[str | None]],
        create: Callable[[], Awaitable[dict[str, Any]]],
        update: Callable[[str], Awaitable[Any]],
    ) -> dict[str, str | None]:
        """Keep one GitHub object (tracking comment, check run) showing `content`, creating it once.

        Its id and a fingerprint of what it shows are kept in the run's annotations. "posting" is
        recorded before creating: after a crash right after the POST, the next attempt finds the
        object (by marker or external id) instead of creating a second one."""
        fingerprint = feedback.fingerprint(content)
        object_id = annotations.get(mirror.id_key)
        if object_id is None and annotations.get(mirror.posting_key):
            object_id = await find()
        with github_failures(f"writing the {mirror.what}"):
            if object_id is None:
                await self._annotate(run, {mirror.posting_key: "true"})
                object_id = str((await create())["id"])
            elif annotations.get(mirror.fingerprint_key) != fingerprint:
                try:
                    await update(object_id)
                except BadRequest as exc:
                    if exc.status_code.value != 404:
                        raise
                    # Someone deleted it: forget it, and the next report creates a new one.
                    return {mirror.id_key: None, mirror.fingerprint_key: None}
            else:
                return {}
        return {mirror.id_key: object_id, mirror.fingerprint_key: fingerprint, mirror.posting_key: None}

    async def _tracking_comment(
        self, client: GitHubClient, run: dict[str, Any], view: RunView, annotations: dict[str, str]
    ) -> dict[str, str | None]:
        body = redact(feedback.tracking_comment(view), self.secrets)
        if self._hold_back(run, view, annotations, TRACKING_COMMENT, body):
            return {}
        owner, repo = view.repository.split("/", 1)

        async def create() -> dict[str, Any]:
            created: dict[str, Any] = await client.post(
                "/repos/{owner}/{repo}/issues/{issue_number}/comments",
                url_vars={"owner": owner, "repo": repo, "issue_number": str(view.issue_number)},
                data={"body": body},
            )
            return created

        async def update(comment_id: str) -> Any:
            return await client.patch(
                "/repos/{owner}/{repo}/issues/comments/{comment_id}",
                url_vars={"owner": owner, "repo": repo, "comment_id": comment_id},
                data={"body": body},
            )

        done = await self._keep_in_step(
            run,
            annotations,
            TRACKING_COMMENT,
            body,
            find=lambda: self._find_tracking_comment(client, view),
            create=create,
            update=update,
        )
        self._edited(view, TRACKING_COMMENT, done)
        return done

    async def _find_tracking_comment(self, client: GitHubClient, view: RunView) -> str | None:
        owner, repo = view.repository.split("/", 1)
        marker = feedback.tracking_marker(view)
        with github_failures("looking for the tracking comment"):
            async for comment in client.getiter(
                "/repos/{owner}/{repo}/issues/{issue_number}/comments",
                {"owner": owner, "repo": repo, "issue_number": str(view.issue_number)},
            ):
                # Only the App's own comments count: anyone can paste a marker into theirs.
                if (comment.get("user") or {}).get("type") == "Bot" and marker in (comment.get("body") or ""):
                    return str(comment["id"])
        return None

    async def _check_run(
        self,
        client: GitHubClient,
        run: dict[str, Any],
        view: RunView,
        annotations: dict[str, str],
        mirror: Mirror = CHECK_RUN,
    ) -> dict[str, str | None]:
        state: dict[str, Any] = redact_value(feedback.check_run_state(view), self.secrets)
        if self._hold_back(run, view, annotations, mirror, state):
            return {}
        owner, repo = view.repository.split("/", 1)

        async def create() -> dict[str, Any]:
            created: dict[str, Any] = await client.post(
                "/repos/{owner}/{repo}/check-runs",
                url_vars={"owner": owner, "repo": repo},
                data={**state, "head_sha": view.head_sha},
            )
            return created

        async def update(check_id: str) -> Any:
            return await client.patch(
                "/repos/{owner}/{repo}/check-runs/{check_run_id}",
                url_vars={"owner": owner, "repo": repo, "check_run_id": check_id},
                data=state,
            )

        done = await self._keep_in_step(
            run,
            annotations,
            mirror,
            state,
            find=lambda: self._find_check_run(client, view),
            create=create,
            update=update,
        )
        self._edited(view, mirror, done)
        return done

    async def _find_check_run(self, client: GitHubClient, view: RunView) -> str | None:
        owner, repo = view.repository.split("/", 1)
        with github_failures("looking for the check run"):
            answer = await client.getitem(
                "/repos/{owner}/{repo}/commits/{ref}/check-runs{?check_name}",
                url_vars={
                    "owner": owner,
                    "repo": repo,
                    "ref": str(view.head_sha),
                    "check_name": feedback.check_run_name(view),
                },
            )
        for check in answer.get("check_runs", []):
            if check.get("external_id") == view.name:
                return str(check["id"])
        return None

    async def _link_pull_request(self, client: GitHubClient, run: dict[str, Any], view: RunView) -> bool:
        """Fill `status.pullRequestUrl`; False if GitHub refuses for good (e.g. the branch is gone)."""
        owner, repo = view.repository.split("/", 1)
        base = run["spec"].get("branch") or run["spec"].get("sourceBranch")
        url = await self._open_pull_request_for(client, owner, repo, str(view.branch))
        if url is None:
            content = feedback.pull_request(view)
            try:
                with github_failures("opening the pull request"):
                    created = await client.post(
                        "/repos/{owner}/{repo}/pulls",
                        url_vars={"owner": owner, "repo": repo},
                        data={**content, "head": view.branch, "base": base},
                    )
                url = str(created["html_url"])
                log.info("opened %s for %s", url, view.name, extra={"run": view.name})
            except (InvalidField, ValidationError) as exc:
                # "A pull request already exists": someone (or a previous attempt) was faster.
                url = await self._open_pull_request_for(client, owner, repo, str(view.branch))
                if url is None:
                    log.warning(
                        "GitHub refused a pull request for %s: %s", view.branch, exc, extra={"run": view.name}
                    )
                    if run.get("status", {}).get("pullRequestUrl"):  # the agent's, which did not check out
                        await self.kube.patch_run_status(
                            run["kind"], self.namespace, view.name, {"pullRequestUrl": None}
                        )
                    return False
        await self._annotate(run, {PULL_REQUEST_CHECKED: url})  # GitHub's own answer: nothing to check
        await self.kube.patch_run_status(run["kind"], self.namespace, view.name, {"pullRequestUrl": url})
        return True

    async def _is_the_runs_pull_request(
        self, client: GitHubClient, view: RunView, annotations: dict[str, str]
    ) -> bool:
        """The agent wrote the link: it counts only if GitHub shows that pull request in the run's
        repository, from the run's branch of that repository."""
        number = pull_request_number(
            str(view.pull_request_url), annotations.get(ANNOTATION_PREFIX + "repository-html-url")
        )
        if number is None:
            return False
        owner, repo = view.repository.split("/", 1)
        try:
            with github_failures("checking the agent's pull request"):
                pull: dict[str, Any] = await client.getitem(
                    "/repos/{owner}/{repo}/pulls/{pull_number}",
                    url_vars={"owner": owner, "repo": repo, "pull_number": str(number)},
                )
        except BadRequest as exc:
            if exc.status_code.value != 404:
                raise
            return False
        base, head = pull.get("base") or {}, pull.get("head") or {}
        same = view.repository.lower()
        return (
            str((base.get("repo") or {}).get("full_name", "")).lower() == same
            and str((head.get("repo") or {}).get("full_name", "")).lower() == same
            and head.get("ref") == view.branch
        )

    async def _open_pull_request_for(
        self, client: GitHubClient, owner: str, repo: str, branch: str
    ) -> str | None:
        with github_failures("looking for the pull request"):
            async for pull in client.getiter(
                "/repos/{owner}/{repo}/pulls{?head,state}",
                {"owner": owner, "repo": repo, "head": f"{owner}:{branch}", "state": "open"},
            ):
                return str(pull["html_url"])
        return None

    async def _annotate(self, run: dict[str, Any], values: dict[str, str | None]) -> None:
        await self.kube.patch_run(
            run["kind"], self.namespace, run["metadata"]["name"], {"metadata": {"annotations": values}}
        )

    # --- progress edits, throttled (issue 14) ------------------------------------------------------

    @property
    def edit_interval(self) -> float:
        """Seconds between two edits of a run's tracking comment that only show progress; the check
        run's text waits four times as long."""
        return self.throttle.interval

    @edit_interval.setter
    def edit_interval(self, seconds: float) -> None:
        self.throttle.interval = seconds

    def _interval_of(self, mirror: Mirror) -> float:
        return self.throttle.interval * (4 if mirror is CHECK_RUN else 1)

    def _hold_back(
        self, run: dict[str, Any], view: RunView, annotations: dict[str, str], mirror: Mirror, content: Any
    ) -> bool:
        """True when this edit would only show progress and comes too soon: the run is looked at
        again when it may be edited."""
        if annotations.get(mirror.id_key) is None:
            return False  # not created yet: creating is never held back
        if annotations.get(mirror.fingerprint_key) == feedback.fingerprint(content):
            return False  # nothing to edit anyway
        delay = self.throttle.delay(
            (view.name, mirror.what),
            feedback.milestone(view),
            self.clock(),
            view.installation_id,
            self._interval_of(mirror),
        )
        if delay <= 0:
            return False
        self.queue.add_after((run["kind"], view.name), delay)
        return True

    def _edited(self, view: RunView, mirror: Mirror, done: dict[str, str | None]) -> None:
        if done.get(mirror.fingerprint_key):
            self.throttle.edited(
                (view.name, mirror.what), feedback.milestone(view), self.clock(), view.installation_id
            )
