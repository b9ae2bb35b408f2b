"""Who can run what: sender permission x command x event source. Runs start (and runs are cancelled or
retried) only for write, maintain and admin, as reported by GitHub's collaborator-permission endpoint —
never from `author_association`, never for bots or the App itself — and every run acts as its sender:
its Job mounts `github-ssh-<sender>` and no other secret.

Every case gets its own issue or pull request, so the cases cannot see each other's runs."""

from __future__ import annotations

import asyncio
import base64
import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
from kubernetes_asyncio import client

from bot.core import jobs, runs
from bot.core.commands.code import CodeArgs
from bot.core.events import IssueCommentEvent
from bot.core.policy import SSH_PRIVATE_KEY, SSH_PUBLIC_KEY, ssh_secret_name
from bot.core.reconcile import CANCEL_ANNOTATION
from bot.kube import Kube
from bot.sandbox import payloads
from bot.sandbox.stack import NAMESPACE, Stack
from bot.webhook import WEBHOOK_APP
from tests.flows.conftest import eventually

from .fuzz import CONFIG
from .observe import all_jobs, all_runs

COMMAND_LINE = "/code 5 --service trader"
RUN_DELIVERY = "orchestrator.platform/delivery"
RETRY_OF = "orchestrator.platform/retry-of"
REPLY_MARKER = "<!-- orchestrator-reply:"


@dataclass(frozen=True)
class Sender:
    login: str
    role: str | None
    """The collaborator role GitHub reports; None: no grant (read, on this public repository)."""
    allowed: bool
    association: str | None = None
    """What the delivery's `author_association` claims; the bot must not care."""

    @property
    def is_bot(self) -> bool:
        return self.login.endswith("[bot]")


SENDERS = [
    Sender("nobody", "none", False),
    Sender("bob", "read", False),
    Sender("dave", "triage", False),
    Sender("alice", "write", True),
    Sender("carol", "maintain", True),
    Sender("erin", "admin", True),
    Sender("dependabot[bot]", "admin", False),
    Sender("orchestrator-bot[bot]", "admin", False),  # the App itself
    Sender("outside-reader", "read", False, association="COLLABORATOR"),
    Sender("outside-writer", "write", True, association="COLLABORATOR"),
    # GitHub reports private organization members as CONTRIBUTOR (or NONE) to a webhook.
    Sender("private-member", "write", True, association="CONTRIBUTOR"),
    Sender("mallory", None, False, association="OWNER"),
]
# (command, source): labels start /code and /docs; Cancel and Retry are also buttons on a check run.
COMMANDS = [
    *(
        (command, source)
        for command in ("code", "docs", "cancel", "retry")
        for source in ("issue comment", "PR comment")
    ),
    *((command, source) for command in ("code", "docs") for source in ("issue label", "PR label")),
    ("cancel", "check-run button"),
    ("retry", "check-run button"),
]


@dataclass
class Case:
    sender: Sender
    command: str
    source: str
    number: int
    seeded: str | None = None
    status: int = 0
    answer: str = ""

    @property
    def id(self) -> str:
        return f"{self.sender.login} {self.command} via {self.source}"

    @property
    def on_pull_request(self) -> bool:
        return self.source.startswith("PR") or (self.source == "check-run button" and self.number % 2 == 0)


def secret_manifest(login: str) -> dict[str, Any]:
    values = {SSH_PRIVATE_KEY: f"private key of {login}", SSH_PUBLIC_KEY: f"ssh-ed25519 AAAA {login}"}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": ssh_secret_name(login), "namespace": NAMESPACE},
        "type": "Opaque",
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in values.items()},
    }


def set_the_scene(stack: Stack) -> None:
    """Roles as the matrix says, and an SSH secret for every human, so that only permission decides."""
    for sender in SENDERS:
        if sender.role is not None:
            stack.gh.set_permission(stack.scene.repo, sender.login, sender.role)
        else:
            stack.gh.add_user(sender.login)
        if not sender.is_bot:
            stack.kube.apply_manifest(secret_manifest(sender.login))


async def seed_run(stack: Stack, api: client.ApiClient, case: Case, phase: str) -> str:
    """A run alice started from the case's issue, already in `phase`, for /cancel and /retry to find."""
    payload = stack.comment_payload(case.number, "alice", COMMAND_LINE, on_pull_request=case.on_pull_request)
    origin = msgspec.convert(payload, IssueCommentEvent).origin(f"seed-{uuid.uuid4()}")
    manifest = runs.code_run(CodeArgs(task_id=5, service="trader"), origin, 0, CONFIG, NAMESPACE)
    kube = Kube(api)
    assert await kube.create_run(manifest)
    name = str(manifest["metadata"]["name"])
    await kube.patch_run_status("CodeRun", NAMESPACE, name, {"phase": phase, "message": "seeded"})
    return name


def event_for(stack: Stack, case: Case) -> tuple[str, dict[str, Any]]:
    repo, login, installation = stack.scene.repo, case.sender.login, stack.scene.installation_id
    if case.source.endswith("comment"):
        body = {"code": COMMAND_LINE, "docs": "/docs", "cancel": "/cancel", "retry": "/retry"}[case.command]
        payload = stack.comment_payload(case.number, login, body, on_pull_request=case.on_pull_request)
        if case.sender.association is not None:
            payload["comment"]["author_association"] = case.sender.association
        return "issue_comment", payload
    if case.source == "issue label":
        return "issues", payloads.issues_labeled(
            repo,
            case.number,
            case.command,
            login,
            installation_id=installation,
            issue_body=f"Please:\n{COMMAND_LINE}",
            issue_user="alice",
            api_url=stack.gh.url,
        )
    head = f"case-{case.number}"
    if case.source == "PR label":
        return "pull_request", payloads.pull_request_labeled(
            repo,
            case.number,
            case.command,
            login,
            installation_id=installation,
            head_ref=head,
            head_sha=str(stack.gh.branch_sha(repo, head)),
            body=f"Please:\n{COMMAND_LINE}",
            pull_user="alice",
            api_url=stack.gh.url,
        )
    assert case.seeded is not None
    return "check_run", payloads.check_run_requested_action(
        repo,
        check_run_id=900_000 + case.number,
        head_sha=str(stack.gh.branch_sha(repo, head) or stack.gh.branch_sha(repo, "main")),
        identifier=case.command,
        sender=login,
        installation_id=installation,
        app_id=stack.gh.app_id,
        external_id=case.seeded,
        api_url=stack.gh.url,
    )


async def prepare(stack: Stack, api: client.ApiClient, case: Case) -> None:
    if case.on_pull_request:
        stack.gh.add_pull(
            stack.scene.repo, case.number, head_ref=f"case-{case.number}", user="alice", body=COMMAND_LINE
        )
    else:
        stack.gh.add_issue(stack.scene.repo, case.number, body=f"Please:\n{COMMAND_LINE}", user="alice")
    if case.command in ("cancel", "retry"):
        case.seeded = await seed_run(stack, api, case, "Running" if case.command == "cancel" else "Failed")


async def send(stack: Stack, case: Case) -> None:
    event, payload = event_for(stack, case)
    case.status, case.answer = await stack.send(event, payload, guid=str(uuid.uuid4()))


def runs_of(all_found: list[dict[str, Any]], case: Case) -> list[dict[str, Any]]:
    return [
        run
        for run in all_found
        if run["metadata"]["labels"].get("orchestrator.platform/issue") == str(case.number)
        and run["metadata"]["name"] != case.seeded
    ]


def mounted_secrets(run: dict[str, Any]) -> list[str]:
    job = jobs.job_manifest(run, CONFIG)
    return [v["secret"]["secretName"] for v in job["spec"]["template"]["spec"]["volumes"] if "secret" in v]


def problems_with(case: Case, found: list[dict[str, Any]], replies: list[str]) -> list[str]:
    """What went wrong in one case (empty when it behaved)."""
    login, allowed = case.sender.login, case.sender.allowed
    wrong = []
    if case.status != 200:
        wrong.append(f"answered {case.status}: {case.answer}")
    new = runs_of(found, case)
    seeded = next((run for run in found if run["metadata"]["name"] == case.seeded), None)
    if case.command in ("code", "docs", "retry"):
        if len(new) != (1 if allowed else 0):
            wrong.append(f"{len(new)} new runs")
        for run in new:
            if run["spec"]["githubUser"] != login:
                wrong.append(f"run acts as {run['spec']['githubUser']}")
            if mounted_secrets(run) != [ssh_secret_name(login)]:
                wrong.append(f"run mounts {mounted_secrets(run)}")
            if case.command == "retry" and run["metadata"]["annotations"].get(RETRY_OF) != case.seeded:
                wrong.append("retried something else")
            kind = {"code": "CodeRun", "docs": "DocsRun", "retry": "CodeRun"}[case.command]
            if run["kind"] != kind:
                wrong.append(f"made a {run['kind']}")
    if case.command == "cancel":
        requested_by = ((seeded or {}).get("metadata", {}).get("annotations") or {}).get(CANCEL_ANNOTATION)
        if requested_by != (login if allowed else None):
            wrong.append(f"cancel requested by {requested_by}")
        if new:
            wrong.append(f"{len(new)} new runs")
    expected_replies = 1 if not allowed and not case.sender.is_bot else 0
    if len(replies) != expected_replies:
        wrong.append(f"{len(replies)} replies: {replies}")
    if replies and f"@{login}" not in replies[0]:
        wrong.append("the reply does not mention the sender")
    return wrong


async def test_only_writers_start_cancel_or_retry_runs_and_runs_act_as_their_sender(
    stack: Stack, kube_api: client.ApiClient
) -> None:
    set_the_scene(stack)
    numbers = itertools.count(100)
    cases = [
        Case(sender, command, source, next(numbers)) for sender in SENDERS for command, source in COMMANDS
    ]
    assert len(cases) == len(SENDERS) * 14
    for case in cases:
        await prepare(stack, kube_api, case)
    for start in range(0, len(cases), 24):
        await asyncio.gather(*(send(stack, case) for case in cases[start : start + 24]))
    assert stack._serve is not None
    await stack._serve.app[WEBHOOK_APP].drain_follow_ups()

    found = await all_runs(kube_api)
    failures = {}
    for case in cases:
        replies = [
            c["body"] for c in stack.gh.comments(stack.scene.repo, case.number) if REPLY_MARKER in c["body"]
        ]
        wrong = problems_with(case, found, replies)
        if wrong:
            failures[case.id] = wrong
    assert failures == {}
    # Sanity: the matrix did start runs, and refused some.
    assert sum(bool(runs_of(found, case)) for case in cases) == sum(
        case.sender.allowed for case in cases if case.command != "cancel"
    )


async def test_a_run_started_for_someone_else_still_mounts_only_the_senders_key() -> None:
    """Retrying alice's run, labelling alice's issue, pressing Retry on alice's check run, or writing
    the login in another case: the Job (made by the real controller) mounts the sender's own secret."""
    from bot.sandbox.kube import JobOutcome
    from bot.sandbox.stack import running_stack
    from tests.flows.conftest import api_client_for

    async with running_stack(controller=True) as stack, await api_client_for(stack) as api:
        stack.default_outcome = lambda job: JobOutcome(
            succeeded=False, message="tests failed", run_seconds=0.1
        )
        stack.gh.set_permission(stack.scene.repo, "Carol-X", "maintain")  # a login with capitals
        stack.kube.apply_manifest(secret_manifest("Carol-X"))
        status, answer = await stack.comment(
            issue=stack.scene.pull_number, user="alice", body=COMMAND_LINE, on_pull_request=True
        )
        assert status == 200, answer
        original = answer.split('"created CodeRun ')[1].split('"')[0]

        async def failed() -> bool:
            return any(
                r["metadata"]["name"] == original and (r.get("status") or {}).get("phase") == "Failed"
                for r in await all_runs(api)
            )

        await eventually(failed, within=20, what="alice's run failed")
        stack.default_outcome = lambda job: JobOutcome(succeeded=True, run_seconds=30)
        # carol retries it by comment, erin labels alice's issue, Carol-X presses Retry on the check run.
        assert (
            await stack.comment(
                issue=stack.scene.pull_number, user="carol", body="/retry", on_pull_request=True
            )
        )[0] == 200
        label = payloads.issues_labeled(
            stack.scene.repo,
            stack.scene.issue_number,
            "code",
            "erin",
            installation_id=stack.scene.installation_id,
            issue_body=COMMAND_LINE,
            issue_user="alice",
            api_url=stack.gh.url,
        )
        assert (await stack.send("issues", label))[0] == 200
        run = next(r for r in await all_runs(api) if r["metadata"]["name"] == original)
        button = payloads.check_run_requested_action(
            stack.scene.repo,
            check_run_id=1,
            head_sha=run["metadata"]["annotations"]["orchestrator.platform/head-sha"],
            identifier="retry",
            sender="Carol-X",
            installation_id=stack.scene.installation_id,
            app_id=stack.gh.app_id,
            external_id=original,
            api_url=stack.gh.url,
        )
        status, answer = await stack.send("check_run", button)
        assert status == 200, answer

        async def three_jobs() -> list[dict[str, Any]] | None:
            found = await all_jobs(api)
            return found if len(found) == 3 else None

        found_jobs = await eventually(three_jobs, within=20, what="a Job for each of the three runs")
        users = {}
        for job in found_jobs:
            pod = job["spec"]["template"]["spec"]
            secrets = [v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v]
            users[job["metadata"]["labels"]["github-user"]] = secrets
        # carol's /retry and Carol-X's button retry the same failed run at the same version: one run,
        # made by whoever came first.
        assert users.pop("alice") == ["github-ssh-alice"]
        assert users.pop("erin") == ["github-ssh-erin"]
        [(retrier, secrets)] = users.items()
        assert retrier in ("carol", "carol-x") and secrets == [f"github-ssh-{retrier}"]


@pytest.mark.parametrize("command", ["/cancel", "/retry"])
async def test_a_writer_of_another_repository_cannot_touch_this_ones_runs(
    stack: Stack, kube_api: client.ApiClient, command: str
) -> None:
    """mallory is admin of demo-org/platform (same installation) and only reads demo-org/trader."""
    set_the_scene(stack)
    stack.gh.set_permission(stack.scene.platform_repo, "mallory", "admin")
    case = Case(SENDERS[3], command.removeprefix("/"), "issue comment", 300)
    await prepare(stack, kube_api, case)
    assert case.seeded is not None
    stack.gh.add_issue(stack.scene.platform_repo, 1, body="", user="mallory")
    comment = stack.gh.add_comment(stack.scene.platform_repo, 1, "mallory", f"{command} {case.seeded}")
    payload = payloads.issue_comment_created(
        stack.scene.platform_repo,
        1,
        comment,
        "mallory",
        installation_id=stack.scene.installation_id,
        api_url=stack.gh.url,
    )
    status, answer = await stack.send("issue_comment", payload)
    assert status == 200, answer
    found = await all_runs(kube_api)
    assert [r["metadata"]["name"] for r in found] == [case.seeded]
    assert CANCEL_ANNOTATION not in found[0]["metadata"].get("annotations", {})
