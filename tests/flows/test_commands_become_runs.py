"""Signed real payloads -> serve -> runs in the local Kubernetes API (issue 5)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from kubernetes_asyncio import client

from bot.sandbox import payloads
from bot.sandbox.stack import Stack

from .conftest import list_runs


async def test_code_command_from_a_writer_creates_one_coderun(
    stack: Stack, kube_api: client.ApiClient
) -> None:
    status, body = await stack.comment(issue=5, user="alice", body="/code 5 --service trader")
    assert status == 200, body
    [run] = await list_runs(kube_api, "CodeRun")
    assert run["spec"]["taskId"] == 5
    assert run["spec"]["service"] == "trader"
    assert run["spec"]["githubUser"] == "alice"
    assert run["spec"]["repositoryUrl"] == "git@github.com:demo-org/trader.git"
    assert run["spec"]["branch"] == "main"
    assert run["spec"]["contextVersion"] == 1  # applied by the CRD's default
    annotations = run["metadata"]["annotations"]
    assert annotations["orchestrator.platform/repository"] == "demo-org/trader"
    assert annotations["orchestrator.platform/issue"] == "5"
    assert annotations["orchestrator.platform/installation-id"] == str(stack.scene.installation_id)
    assert annotations["orchestrator.platform/comment-id"].isdigit()
    assert annotations["orchestrator.platform/delivery"]
    assert run["metadata"]["name"].startswith("code-5-trader-")
    assert await list_runs(kube_api, "DocsRun") == []
    assert json.loads(body)["done"] == [f"created CodeRun {run['metadata']['name']}"]


async def test_docs_on_a_pull_request_starts_from_its_head_branch(
    stack: Stack, kube_api: client.ApiClient
) -> None:
    status, _ = await stack.comment(issue=7, user="alice", body="/docs", on_pull_request=True)
    assert status == 200
    [run] = await list_runs(kube_api, "DocsRun")
    assert run["spec"]["sourceBranch"] == "feature/order-book"
    assert run["metadata"]["annotations"]["orchestrator.platform/head-sha"] == stack.gh.branch_sha(
        stack.scene.repo, "feature/order-book"
    )


async def test_same_delivery_ten_times_at_once_makes_one_run(
    stack: Stack, kube_api: client.ApiClient
) -> None:
    payload = stack.comment_payload(5, "alice", "/code 5 --service trader")
    answers = await asyncio.gather(
        *(stack.send("issue_comment", payload, guid="same-guid") for _ in range(10))
    )
    assert [status for status, _ in answers] == [200] * 10
    assert len(await list_runs(kube_api, "CodeRun")) == 1


async def test_two_commands_in_one_comment_make_two_runs(stack: Stack, kube_api: client.ApiClient) -> None:
    status, _ = await stack.comment(
        issue=5, user="alice", body="/code 5 --service trader\n/code 6 --service api"
    )
    assert status == 200
    runs = await list_runs(kube_api, "CodeRun")
    assert sorted(run["spec"]["taskId"] for run in runs) == [5, 6]


def replies_on(stack: Stack, issue: int) -> list[str]:
    return [
        comment["body"]
        for comment in stack.gh.comments(stack.scene.repo, issue)
        if comment["user"]["login"] != "alice"
    ]


@pytest.mark.parametrize(
    ("user", "body", "expected_reply"),
    [
        pytest.param("bob", "/code 5 --service trader", "only people with write access", id="read-only user"),
        pytest.param("dave", "/code 5 --service trader", "(your access: triage)", id="triage user"),
        pytest.param(
            "mallory", "/code 5 --service trader", "(your access: read)", id="outside user, public repo"
        ),
        pytest.param(
            "alice", "/code five --service trader", "`five` is not a valid task-id", id="malformed command"
        ),
        pytest.param(
            "alice", "/code 5 --service trader --model gpt-4", "is not allowed here", id="model not allowed"
        ),
    ],
)
async def test_refused_commands_make_no_run_and_one_reply(
    stack: Stack, kube_api: client.ApiClient, user: str, body: str, expected_reply: str
) -> None:
    before = len(stack.gh.comments(stack.scene.repo, 5))
    status, _ = await stack.comment(issue=5, user=user, body=body)
    assert status == 200
    await asyncio.sleep(0)
    await _drain(stack)
    assert await list_runs(kube_api, "CodeRun") == []
    new = stack.gh.comments(stack.scene.repo, 5)[before + 1 :]  # +1: the command comment itself
    assert len(new) == 1, [c["body"] for c in new]
    assert expected_reply in new[0]["body"]
    assert f"@{user}" in new[0]["body"]


async def test_missing_ssh_secret_gets_instructions_and_no_run(
    stack: Stack, kube_api: client.ApiClient
) -> None:
    stack.gh.set_permission(stack.scene.repo, "frank", "write")
    status, _ = await stack.comment(issue=5, user="frank", body="/code 5 --service trader")
    assert status == 200
    await _drain(stack)
    assert await list_runs(kube_api, "CodeRun") == []
    [reply] = [c for c in stack.gh.comments(stack.scene.repo, 5) if c["user"]["type"] == "Bot"]
    assert "kubectl create secret generic github-ssh-frank -n orchestrator" in reply["body"]


async def test_bot_sender_is_ignored_without_a_reply(stack: Stack, kube_api: client.ApiClient) -> None:
    stack.gh.set_permission(stack.scene.repo, "dependabot[bot]", "admin")
    status, _ = await stack.comment(issue=5, user="dependabot[bot]", body="/code 5 --service trader")
    assert status == 200
    await _drain(stack)
    assert await list_runs(kube_api, "CodeRun") == []
    assert [
        c
        for c in stack.gh.comments(stack.scene.repo, 5)
        if c["user"]["type"] == "Bot" and "orchestrator" in c["user"]["login"]
    ] == []


async def test_edited_comment_starts_nothing(stack: Stack, kube_api: client.ApiClient) -> None:
    comment = stack.gh.add_comment(stack.scene.repo, 5, "alice", "/code 5 --service trader")
    payload = payloads.issue_comment_edited(
        stack.scene.repo,
        5,
        comment,
        "alice",
        installation_id=stack.scene.installation_id,
        api_url=stack.gh.url,
        previous_body="thinking about it",
    )
    status, _ = await stack.send("issue_comment", payload)
    assert status in (200, 202)
    assert await list_runs(kube_api, "CodeRun") == []


async def test_forged_signature_gets_401_and_no_run(stack: Stack, kube_api: client.ApiClient) -> None:
    payload = stack.comment_payload(5, "alice", "/code 5 --service trader")
    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": "issue_comment",
        "X-GitHub-Delivery": "forged",
        "X-Hub-Signature-256": "sha256=" + "0" * 64,
        "Content-Type": "application/json",
    }
    async with stack.session.post(stack.webhook_url, data=body, headers=headers) as response:
        assert response.status == 401
    assert await list_runs(kube_api, "CodeRun") == []


async def test_kubernetes_down_answers_503_and_the_redelivery_creates_the_run(
    stack: Stack, kube_api: client.ApiClient
) -> None:
    payload = stack.comment_payload(5, "alice", "/code 5 --service trader")
    await stack.kube.stop()
    status, _ = await stack.send("issue_comment", payload, guid="while-down")
    assert status == 503
    await stack.kube.start()
    status, _ = await stack.send("issue_comment", payload, guid="while-down")
    assert status == 200
    assert len(await list_runs(kube_api, "CodeRun")) == 1


async def test_label_code_runs_the_first_code_line_of_the_issue(
    stack: Stack, kube_api: client.ApiClient
) -> None:
    payload = payloads.issues_labeled(
        stack.scene.repo,
        5,
        "code",
        "alice",
        installation_id=stack.scene.installation_id,
        issue_body="Please:\n/code 5 --service trader",
        api_url=stack.gh.url,
    )
    status, _ = await stack.send("issues", payload)
    assert status == 200
    [run] = await list_runs(kube_api, "CodeRun")
    assert run["metadata"]["annotations"]["orchestrator.platform/source"] == "label"


async def test_label_code_without_a_code_line_gets_usage(stack: Stack, kube_api: client.ApiClient) -> None:
    payload = payloads.issues_labeled(
        stack.scene.repo,
        5,
        "code",
        "alice",
        installation_id=stack.scene.installation_id,
        issue_body="no command here",
        api_url=stack.gh.url,
    )
    status, _ = await stack.send("issues", payload)
    assert status == 200
    await _drain(stack)
    assert await list_runs(kube_api, "CodeRun") == []
    [reply] = [c for c in stack.gh.comments(stack.scene.repo, 5) if c["user"]["type"] == "Bot"]
    assert "Usage: `/code <task-id> --service SERVICE" in reply["body"]


async def test_label_docs_creates_a_docsrun(stack: Stack, kube_api: client.ApiClient) -> None:
    payload = payloads.issues_labeled(
        stack.scene.repo,
        5,
        "docs",
        "alice",
        installation_id=stack.scene.installation_id,
        api_url=stack.gh.url,
    )
    assert (await stack.send("issues", payload))[0] == 200
    assert len(await list_runs(kube_api, "DocsRun")) == 1


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed on this machine")
async def test_kubectl_get_cr_shows_the_printer_columns(
    stack: Stack, kube_api: client.ApiClient, tmp_path: Path
) -> None:
    assert (await stack.comment(issue=5, user="alice", body="/code 5 --service trader"))[0] == 200
    done = await asyncio.to_thread(
        subprocess.run,
        [
            "kubectl",
            "--kubeconfig",
            str(stack.kube.kubeconfig_path),
            "--cache-dir",
            str(tmp_path),
            "-n",
            "orchestrator",
            "get",
            "cr",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    header, row = done.stdout.splitlines()[:2]
    assert header.split() == ["NAME", "TASK", "SERVICE", "MODEL", "PHASE", "TURNS", "COST", "AGE"]
    assert row.split()[1:4] == ["5", "trader", "claude-sonnet-4-20250514"]


async def _drain(stack: Stack) -> None:
    """Wait for the replies `serve` sends after answering."""
    from bot.webhook import WEBHOOK_APP

    assert stack._serve is not None
    await stack._serve.app[WEBHOOK_APP].drain_follow_ups()
