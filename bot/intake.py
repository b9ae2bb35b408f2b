"""Commands and labels become runs: the webhook handlers for issue_comment, issues and pull_request.

verify (done by webhook.py) -> decode -> parse -> decide -> create the run -> answer. Replies to
rejections and `/help` are sent after the answer; reactions and progress come from the controller's
reporter, driven by the run's state. Anything GitHub or Kubernetes fails to do before the answer is
raised as `UpstreamUnavailable`, which turns the answer into 503 so GitHub can redeliver.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from bot.core import feedback, policy, runs
from bot.core.commands import (
    Accepted,
    CommandContext,
    Parsed,
    code_label_command,
    command_context,
    parse,
)
from bot.core.commands.cancel import CANCEL, CancelArgs
from bot.core.commands.code import CONTINUE
from bot.core.commands.continuation import ContinueArgs
from bot.core.commands.docs import DOCS_CONTINUE
from bot.core.commands.plan import CreateRun, PlanContext, RequestCancel
from bot.core.commands.retry import RETRY, RetryArgs
from bot.core.comments import CommandLine
from bot.core.events import (
    Author,
    CheckRunEvent,
    Event,
    IssueCommentEvent,
    IssuesEvent,
    PullRequestEvent,
    PullRequestReviewCommentEvent,
    PullRequestReviewEvent,
)
from bot.core.origin import Origin, from_run_page
from bot.core.reconcile import CANCEL_ANNOTATION
from bot.core.repositories import RepositoryRule
from bot.core.resources import RUN_NAME, RunKind
from bot.core.reviews import InlineComment, review_prompt
from bot.core.taskconfig import TaskConfig
from bot.github import GitHubApp, github_failures, post_reply_once
from bot.kube import Kube, TaskConfigUnavailable
from bot.metrics import WebhookMetrics
from bot.webhook import FollowUp, Outcome

log = logging.getLogger(__name__)

TASK_CONFIG_TTL_SECONDS = 30.0
MAX_REVIEW_COMMENTS = 300
"""Inline comments read for one review's prompt (which names what it leaves out)."""
SSH_SECRET_TTL_SECONDS = 60.0
RUN_KINDS: tuple[RunKind, ...] = ("CodeRun", "DocsRun")


@dataclass
class TaskConfigCache:
    """serve reads task-controller-config (models) from the cluster, at most every 30 s."""

    kube: Kube
    namespace: str
    value: TaskConfig | None = None
    read_at: float = float("-inf")

    async def get(self) -> TaskConfig:
        if self.value is None or time.monotonic() - self.read_at > TASK_CONFIG_TTL_SECONDS:
            self.value = await self.kube.read_task_config(self.namespace)
            self.read_at = time.monotonic()
        return self.value


@dataclass
class SshSecretCache:
    """Senders whose SSH secret was found complete, remembered for a minute (like their permission),
    so a warm `/code` costs one Kubernetes request, the run's creation, instead of two. Only a
    complete secret is remembered: someone who has just added theirs is never refused from memory."""

    kube: Kube
    namespace: str
    found: dict[str, tuple[frozenset[str], float]] = field(default_factory=dict)

    async def decide(self, login: str) -> policy.Decision:
        name = policy.ssh_secret_name(login)
        cached = self.found.get(name)
        if cached is not None and time.monotonic() - cached[1] <= SSH_SECRET_TTL_SECONDS:
            return policy.decide_secret(login, cached[0], self.namespace)
        keys = await self.kube.secret_keys(self.namespace, name)
        decision = policy.decide_secret(login, keys, self.namespace)
        if decision.allowed and keys is not None:
            self.found[name] = (keys, time.monotonic())
        else:
            self.found.pop(name, None)
        return decision


@dataclass
class ReplyLocks:
    """One lock per reply marker, held while the reply is looked for and posted. Without it, copies of
    one delivery handled at once (a redelivery racing the original) all find no reply and all post
    one. Each lock is dropped once nobody holds or awaits it."""

    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self.locks.setdefault(key, asyncio.Lock())
        self.users[key] = self.users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self.users[key] -= 1
            if not self.users[key]:
                del self.users[key], self.locks[key]


@dataclass(frozen=True)
class PageAnswer:
    """What the run page shows after a button: an HTTP status, the text, and a run to go to."""

    status: int
    text: str
    run: str | None = None


@dataclass(frozen=True)
class Step:
    """One command line dealt with: the summary (the delivery's answer, the log), what to tell the
    sender, and the run it made (`new` false when that run already existed: a redelivery)."""

    summary: str
    reply: str | None = None
    run: str | None = None
    new: bool = False


@dataclass
class Known:
    """What one delivery's commands needed and the edge already looked up (asked once, not per line)."""

    pull_request: dict[str, Any] | None = None
    secret: policy.Decision | None = None
    runs_here: list[dict[str, Any]] | None = None
    runs_of_pull_request: list[dict[str, Any]] | None = None


@dataclass
class Intake:
    github: GitHubApp
    kube: Kube
    namespace: str
    docs_label: str
    code_label: str
    metrics: WebhookMetrics
    task_config: TaskConfigCache = field(init=False)
    ssh_secrets: SshSecretCache = field(init=False)
    reply_locks: ReplyLocks = field(init=False, default_factory=ReplyLocks)

    def __post_init__(self) -> None:
        self.task_config = TaskConfigCache(self.kube, self.namespace)
        self.ssh_secrets = SshSecretCache(self.kube, self.namespace)

    # --- event handlers -------------------------------------------------------------------------

    async def on_issue_comment(self, event: Event[IssueCommentEvent]) -> Outcome | None:
        if event.data.action != "created":
            return None  # edited and deleted comments never start anything
        sender = event.data.sender
        if policy.is_automation(sender.login, sender.type):
            return Outcome.skipped(f"ignored comment by {sender.login}")
        comment = event.data.comment
        author = comment.user.login if comment.user is not None else ""
        by_sender = author.lower() == sender.login.lower()
        try:
            config = await self.task_config.get()
        except TaskConfigUnavailable:
            # Without the job settings only commands must wait (503, redelivered later): a comment
            # that is not addressed to us is answered as usual.
            unconfigured = CommandContext((), RepositoryRule(web_host="", allowed_owners=()))
            if not parse(comment.body, unconfigured, trust_collapsed=by_sender).addressed_to_us:
                return None
            raise
        origin = event.data.origin(event.delivery_id)
        parsed = parse(comment.body, command_context(config, origin), trust_collapsed=by_sender)
        if not parsed.addressed_to_us:
            return None
        return await self._carry_out(parsed, origin, config, f"comment-{origin.comment_id}")

    async def on_labeled(self, event: Event[IssuesEvent | PullRequestEvent]) -> Outcome | None:
        """`issues` or `pull_request` labeled with the docs or code label."""
        label = event.data.label_name
        if label not in (self.docs_label, self.code_label):
            return None
        origin = event.data.origin(event.delivery_id)
        if policy.is_automation(origin.sender, origin.sender_type):
            return Outcome.skipped(f"ignored label by {origin.sender}")
        config = await self.task_config.get()
        context = command_context(config, origin)
        marker = f"label-{label}-{origin.run_identity}"
        if label == self.docs_label:
            return await self._carry_out(parse("/docs", context), origin, config, marker)
        issue = event.data.issue
        author = issue.user.login if issue.user is not None else ""
        by_labeler = author.lower() == origin.sender.lower()
        parsed = code_label_command(issue.body or "", label, context, by_labeler=by_labeler)
        return await self._carry_out(parsed, origin, config, marker)

    async def on_pull_request_review(self, event: Event[PullRequestReviewEvent]) -> Outcome | None:
        """Commands in a review's body; and, with `iterateOnReviews`, a review that requests changes on a
        pull request a run produced continues that run with the review as its prompt."""
        review = event.data.review
        origin = event.data.origin(event.delivery_id)
        if policy.is_automation(origin.sender, origin.sender_type):
            return Outcome.skipped(f"ignored review by {origin.sender}")
        config, parsed = await self._commands_in(origin, review.user, review.body or "")
        if parsed.addressed_to_us:
            return await self._carry_out(parsed, origin, config, origin.run_identity)
        if review.state.lower() != "changes_requested" or not config.iterate_on_reviews:
            return Outcome.skipped("review without a command")
        # A fork's pull request gets the fork reply (the plan's); any other not produced by a run, none.
        produced = [] if origin.from_fork else await self._runs_of_pull_request(origin)
        if not origin.from_fork and not produced:
            return Outcome.skipped("review on a pull request no run produced")
        latest = runs.latest(produced)
        spec = DOCS_CONTINUE if latest is not None and latest["kind"] == "DocsRun" else CONTINUE
        comments = await self._review_comments(origin, review.id)
        prompt = review_prompt(origin.sender, review.body or "", comments)
        line = CommandLine(0, "(review: changes requested)")
        accepted = Accepted(line, 0, spec, ContinueArgs(prompt_modification=prompt))
        known = Known(runs_of_pull_request=produced)  # listed above: not asked again
        return await self._carry_out(Parsed((accepted,)), origin, config, origin.run_identity, known)

    async def on_pull_request_review_comment(
        self, event: Event[PullRequestReviewCommentEvent]
    ) -> Outcome | None:
        """Commands in an inline review comment work like commands in an issue comment."""
        comment = event.data.comment
        origin = event.data.origin(event.delivery_id)
        if policy.is_automation(origin.sender, origin.sender_type):
            return Outcome.skipped(f"ignored review comment by {origin.sender}")
        config, parsed = await self._commands_in(origin, comment.user, comment.body)
        if not parsed.addressed_to_us:
            return None
        return await self._carry_out(parsed, origin, config, origin.run_identity)

    async def _commands_in(
        self, origin: Origin, author: Author | None, body: str
    ) -> tuple[TaskConfig, Parsed]:
        """The commands in a review's text; collapsed and hidden HTML is read only when its author is the
        sender (whose run it starts)."""
        config = await self.task_config.get()
        by_sender = author is not None and author.login.lower() == origin.sender.lower()
        return config, parse(body, command_context(config, origin), trust_collapsed=by_sender)

    async def on_check_run(self, event: Event[CheckRunEvent]) -> Outcome | None:
        """The Cancel / Retry buttons (`requested_action`) and "Re-run" (`rerequested`) on our check runs."""
        check = event.data.check_run
        run_name = check.external_id or ""
        if str(check.app.id if check.app else None) != str(self.github.app_id) or not re.fullmatch(
            RUN_NAME, run_name
        ):
            return None  # another App's check run
        run = await self._find_run(run_name)
        if run is None:
            return Outcome(f"check run for unknown run {run_name}")
        origin = event.data.origin(event.delivery_id, run["metadata"].get("annotations") or {})
        if policy.is_automation(origin.sender, origin.sender_type):
            return Outcome.skipped(f"ignored check run action by {origin.sender}")
        requested = event.data.requested_action
        identifier = (requested.identifier if requested else None) or feedback.RETRY_ACTION
        line = CommandLine(0, f"/{identifier} {run_name}")
        spec = CANCEL if identifier == feedback.CANCEL_ACTION else RETRY
        args = CancelArgs(run=run_name) if spec is CANCEL else RetryArgs(run=run_name)
        parsed = Parsed((Accepted(line, 0, spec, args),))
        config = await self.task_config.get()
        return await self._carry_out(parsed, origin, config, f"check-run-{event.delivery_id}")

    async def _find_run(self, name: str) -> dict[str, Any] | None:
        for kind in RUN_KINDS:
            run = await self.kube.get_run(kind, self.namespace, name)
            if run is not None:
                return run
        return None

    # --- the common path ------------------------------------------------------------------------

    async def _carry_out(
        self, parsed: Parsed, origin: Origin, config: TaskConfig, marker: str, known: Known | None = None
    ) -> Outcome:
        steps, _ = await self._decide(parsed, origin, config, known or Known())
        replies = [step.reply for step in steps if step.reply]
        follow_up: list[FollowUp] = []
        if replies:
            follow_up.append(self._reply_later(origin, "\n\n---\n\n".join(replies), marker))
        return Outcome("; ".join(step.summary for step in steps) or "nothing to do", follow_up)

    async def _decide(
        self, parsed: Parsed, origin: Origin, config: TaskConfig, known: Known
    ) -> tuple[list[Step], bool]:
        """Check who asks, run each accepted command: a step for each line (what was done, what to
        tell the sender), and whether the sender was allowed at all."""
        steps = [Step(f"rejected line {r.line.number}", r.reply(origin.sender)) for r in parsed.rejected]
        if not parsed.accepted:
            return steps, True
        permission = await self._permission(origin)
        required = max(
            (a.spec.required_permission for a in parsed.accepted), key=policy.ROLE_RANK.__getitem__
        )
        decision = policy.decide_sender(
            origin.sender, origin.sender_type, policy.role_of(permission), required
        )
        if not decision.allowed:
            log.info("not permitted: %s", decision.reason, extra={"sender": origin.sender})
            steps.append(Step(f"refused {origin.sender}", decision.reason if decision.reply else None))
            return steps, False
        for accepted in parsed.accepted:
            steps.append(await self._run_command(accepted, origin, config, known))
        return steps, True

    async def page_action(self, namespace: str, name: str, action: str, login: str) -> PageAnswer:
        """The Cancel / Retry button of a run's page, pressed by the signed-in `login` (who can read the
        repository): the same checks and effect as `/cancel <run>` or `/retry <run>` on the run's
        issue, answered on the page instead of in a comment."""
        run = await self._find_run(name) if namespace == self.namespace else None
        if run is None:
            return PageAnswer(404, "There is no such run.")
        spec = CANCEL if action == feedback.CANCEL_ACTION else RETRY
        args = CancelArgs(run=name) if spec is CANCEL else RetryArgs(run=name)
        origin = from_run_page(run, login, f"run-page-{uuid.uuid4()}")
        parsed = Parsed((Accepted(CommandLine(0, f"/{spec.name} {name}"), 0, spec, args),))
        steps, allowed = await self._decide(parsed, origin, await self.task_config.get(), Known())
        log.info(
            "run page: %s by %s: %s", action, login, "; ".join(s.summary for s in steps), extra={"run": name}
        )
        replies = " ".join(step.reply for step in steps if step.reply)
        if not allowed:
            return PageAnswer(403, replies or f"@{login} may not do this here.")
        if replies:
            return PageAnswer(409, replies)
        made = next((step for step in steps if step.run is not None), None)
        if made is not None and made.new:
            return PageAnswer(202, f"Retry started: run {made.run}.", made.run)
        if made is not None:
            return PageAnswer(202, "This run was already retried.", made.run)
        return PageAnswer(202, "Cancel requested: the run stops in a moment.")

    async def _run_command(
        self, accepted: Accepted, origin: Origin, config: TaskConfig, known: Known
    ) -> Step:
        """Gather what the command needs, let its pure plan decide, carry the effect out."""
        context = await self._plan_context(accepted, origin, config, known)
        effect = accepted.spec.plan(accepted.args, context)
        if isinstance(effect, CreateRun):
            return await self._create(effect.manifest)
        if isinstance(effect, RequestCancel):
            for kind, name in effect.runs:
                patch = {"metadata": {"annotations": {CANCEL_ANNOTATION: effect.by}}}
                await self.kube.patch_run(kind, self.namespace, name, patch)
            return Step(f"cancel requested for {', '.join(name for _, name in effect.runs)}")
        return Step(effect.summary, effect.text or None)

    async def _plan_context(
        self, accepted: Accepted, origin: Origin, config: TaskConfig, known: Known
    ) -> PlanContext:
        needs = accepted.spec.needs
        if origin.is_pull_request and needs & {"pull_request", "runs_of_pull_request"}:
            if known.pull_request is None:
                known.pull_request = await self._pull_request(origin)
            origin = origin.with_pull_request(known.pull_request)
        if "secret" in needs and known.secret is None:
            known.secret = await self._secret_decision(origin)
        if "runs_here" in needs and known.runs_here is None:
            known.runs_here = await self._runs_here(origin)
        if "runs_of_pull_request" in needs and known.runs_of_pull_request is None and origin.is_pull_request:
            known.runs_of_pull_request = await self._runs_of_pull_request(origin)
        return PlanContext(
            origin=origin,
            config=config,
            namespace=self.namespace,
            index=accepted.index,
            secret=known.secret,
            runs_here=tuple(known.runs_here or ()),
            runs_of_pull_request=tuple(known.runs_of_pull_request or ()),
        )

    async def _secret_decision(self, origin: Origin) -> policy.Decision:
        """Runs act as the sender, with the sender's own SSH secret, or not at all."""
        return await self.ssh_secrets.decide(origin.sender)

    async def _create(self, manifest: dict[str, Any]) -> Step:
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        if await self.kube.create_run(manifest):
            self.metrics.runs_created.labels(kind).inc()
            log.info("created %s %s", kind, name, extra={"run": name})
            return Step(f"created {kind} {name}", run=name, new=True)
        log.info("%s %s already exists (redelivery or another replica)", kind, name, extra={"run": name})
        return Step(f"{kind} {name} already existed", run=name)

    async def _runs_of_repository(self, origin: Origin, selector: str = "") -> list[dict[str, Any]]:
        labels = f"{runs.LABEL_PREFIX}repository-id={origin.repository_id}" + (
            f",{selector}" if selector else ""
        )
        found: list[dict[str, Any]] = []
        for kind in RUN_KINDS:
            found.extend(
                {**run, "kind": kind} for run in await self.kube.list_runs(kind, self.namespace, labels)
            )
        return sorted(
            found, key=lambda run: (run["metadata"].get("creationTimestamp", ""), run["metadata"]["name"])
        )

    async def _runs_here(self, origin: Origin) -> list[dict[str, Any]]:
        return await self._runs_of_repository(origin, f"{runs.LABEL_PREFIX}issue={origin.issue_number}")

    async def _runs_of_pull_request(self, origin: Origin) -> list[dict[str, Any]]:
        return [run for run in await self._runs_of_repository(origin) if runs.produced(run, origin)]

    # --- GitHub, before and after the answer -----------------------------------------------------

    async def _permission(self, origin: Origin) -> dict[str, Any]:
        with github_failures(f"checking the permission of {origin.sender}"):
            return await self.github.collaborator_permission(
                origin.installation_id, origin.repository, origin.sender
            )

    async def _pull_request(self, origin: Origin) -> dict[str, Any]:
        client = await self.github.installation_client(origin.installation_id)
        with github_failures(f"reading pull request {origin.repository}#{origin.issue_number}"):
            pull: dict[str, Any] = await client.getitem(
                "/repos/{owner}/{repo}/pulls/{pull_number}",
                url_vars={
                    "owner": origin.owner,
                    "repo": origin.name,
                    "pull_number": str(origin.issue_number),
                },
            )
        return pull

    async def _review_comments(self, origin: Origin, review_id: int) -> list[InlineComment]:
        """The review's inline comments, through the API (paginated), at most MAX_REVIEW_COMMENTS."""
        client = await self.github.installation_client(origin.installation_id)
        found: list[InlineComment] = []
        with github_failures(f"reading the comments of review {review_id}"):
            async for item in client.getiter(
                "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/comments",
                url_vars={
                    "owner": origin.owner,
                    "repo": origin.name,
                    "pull_number": str(origin.issue_number),
                    "review_id": str(review_id),
                },
            ):
                line = item.get("line") or item.get("original_line")
                found.append(InlineComment(str(item.get("path") or "?"), line, str(item.get("body") or "")))
                if len(found) >= MAX_REVIEW_COMMENTS:
                    break
        return found

    def _reply_later(self, origin: Origin, body: str, marker: str) -> FollowUp:
        async def reply() -> None:
            async with self.reply_locks.hold(marker):
                client = await self.github.installation_client(origin.installation_id)
                await post_reply_once(client, origin.repository, origin.issue_number, body, marker)

        return reply
