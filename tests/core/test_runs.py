"""Run names and manifests built from accepted commands."""

from __future__ import annotations

import re

import pytest

from bot.core.commands import parse
from bot.core.commands.code import CodeArgs
from bot.core.commands.docs import DocsArgs
from bot.core.crds import spec_schema
from bot.core.origin import Origin
from bot.core.resources import RUN_NAME
from bot.core.runs import code_run, command_run_name, docs_run, retry_run, retry_run_name
from bot.core.taskconfig import TaskConfig

from .commands.conftest import CONTEXT
from .conftest import make_origin

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def code_args(body: str) -> CodeArgs:
    [accepted] = parse(body, CONTEXT).accepted
    assert isinstance(accepted.args, CodeArgs)
    return accepted.args


def test_code_run_name_is_readable_and_deterministic() -> None:
    first = command_run_name("CodeRun", "delivery-1", 0, 5, "trader")
    assert first == command_run_name("CodeRun", "delivery-1", 0, 5, "trader")
    assert first.startswith("code-5-trader-")
    assert re.fullmatch(RUN_NAME, first)


@pytest.mark.parametrize(
    ("delivery", "index"), [("delivery-2", 0), ("delivery-1", 1)], ids=["other delivery", "other index"]
)
def test_code_run_name_changes_with_delivery_and_index(delivery: str, index: int) -> None:
    assert command_run_name("CodeRun", delivery, index, 5, "trader") != command_run_name(
        "CodeRun", "delivery-1", 0, 5, "trader"
    )


def test_long_service_names_are_cut_to_a_dns_label() -> None:
    name = command_run_name("CodeRun", "d", 0, 9_999_999, "s" * 53)
    assert len(name) <= 63
    assert DNS_LABEL.match(name)
    assert re.fullmatch(RUN_NAME, name)


def test_docs_run_name() -> None:
    name = command_run_name("DocsRun", "d", 0, None, None)
    assert re.fullmatch(r"docs-[0-9a-f]{10}", name)


def test_code_run_manifest(origin: Origin, task_config: TaskConfig) -> None:
    manifest = code_run(code_args("/code 5 --service trader"), origin, 0, task_config, "orchestrator")
    assert manifest["apiVersion"] == "orchestrator.platform/v1"
    assert manifest["kind"] == "CodeRun"
    assert manifest["metadata"]["namespace"] == "orchestrator"
    assert manifest["spec"] == {
        "taskId": 5,
        "service": "trader",
        "repositoryUrl": "git@github.com:demo-org/trader.git",
        "platformRepositoryUrl": "git@github.com:demo-org/trader.git",
        "branch": "main",
        "workingDirectory": ".",
        "model": "claude-sonnet-4-20250514",
        "githubUser": "Alice",
        "toolConfig": "default",
        "contextVersion": 1,
        "promptMode": "append",
        "continueSession": False,
        "overwriteMemory": False,
    }
    assert manifest["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "orchestrator-bot",
        "orchestrator.platform/task-type": "code",
        "orchestrator.platform/github-user": "alice",
        "orchestrator.platform/repository-id": "1296269",
        "orchestrator.platform/issue": "5",
        "orchestrator.platform/task-id": "5",
        "orchestrator.platform/service": "trader",
    }
    assert manifest["metadata"]["annotations"] == {
        "orchestrator.platform/repository": "demo-org/trader",
        "orchestrator.platform/repository-html-url": "https://github.com/demo-org/trader",
        "orchestrator.platform/issue": "5",
        "orchestrator.platform/pull-request": "false",
        "orchestrator.platform/comment-id": "1001",
        "orchestrator.platform/delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "orchestrator.platform/installation-id": "42",
        "orchestrator.platform/source": "comment",
    }


def test_code_run_on_a_pull_request_starts_from_its_head(task_config: TaskConfig) -> None:
    origin = make_origin(is_pull_request=True).with_pull_request(
        {"head": {"ref": "feature/x", "sha": "a" * 40, "repo": {"full_name": "demo-org/trader"}}}
    )
    manifest = code_run(code_args("/code 5 --service trader"), origin, 0, task_config, "ns")
    assert manifest["spec"]["branch"] == "feature/x"
    assert manifest["metadata"]["annotations"]["orchestrator.platform/head-sha"] == "a" * 40


def test_explicit_options_win_over_defaults(origin: Origin, task_config: TaskConfig) -> None:
    args = code_args(
        "/code 5 --service trader --branch dev --dir svc --model claude-opus-4-20250514 "
        "--platform-repo https://github.com/org/platform"
    )
    spec = code_run(args, origin, 0, task_config, "ns")["spec"]
    assert (spec["branch"], spec["workingDirectory"], spec["model"], spec["platformRepositoryUrl"]) == (
        "dev",
        "svc",
        "claude-opus-4-20250514",
        "https://github.com/org/platform",
    )


def test_docs_run_manifest_uses_the_pr_head_branch(task_config: TaskConfig) -> None:
    origin = make_origin(is_pull_request=True, head_branch="feature/docs")
    manifest = docs_run(DocsArgs(), origin, 0, task_config, "ns")
    assert manifest["spec"] == {
        "repositoryUrl": "git@github.com:demo-org/trader.git",
        "workingDirectory": ".",
        "sourceBranch": "feature/docs",
        "model": "claude-opus-4-20250514",
        "githubUser": "Alice",
    }
    assert manifest["metadata"]["labels"]["orchestrator.platform/task-type"] == "docs"


def test_retry_bumps_the_context_version_and_acts_as_the_new_sender(task_config: TaskConfig) -> None:
    previous = code_run(code_args("/code 5 --service trader"), make_origin(), 0, task_config, "ns")
    retry_origin = make_origin(sender="bob", delivery_id="other", comment_id=2002)
    retried = retry_run(previous, retry_origin, "use the staging database")
    assert retried["spec"]["contextVersion"] == 2
    assert retried["spec"]["githubUser"] == "bob"
    assert retried["spec"]["promptModification"] == "use the staging database"
    assert (
        retried["metadata"]["annotations"]["orchestrator.platform/retry-of"] == previous["metadata"]["name"]
    )
    assert retried["metadata"]["name"] != previous["metadata"]["name"]
    assert retried["metadata"]["name"].startswith("code-5-trader-")
    # The same retry requested twice (two clicks, a redelivery) names the same run.
    assert (
        retry_run(previous, make_origin(delivery_id="third"), None)["metadata"]["name"]
        == retried["metadata"]["name"]
    )
    assert retry_run(retried, retry_origin, None)["spec"]["contextVersion"] == 3


def test_retry_of_a_docs_run_counts_attempts(task_config: TaskConfig) -> None:
    previous = docs_run(DocsArgs(), make_origin(), 0, task_config, "ns")
    retried = retry_run(previous, make_origin(delivery_id="x"), None)
    assert retried["metadata"]["annotations"]["orchestrator.platform/attempt"] == "2"
    assert (
        retry_run(retried, make_origin(), None)["metadata"]["annotations"]["orchestrator.platform/attempt"]
        == "3"
    )


def test_retry_names_differ_per_version() -> None:
    assert retry_run_name("code-5-trader-0123456789", 2) != retry_run_name("code-5-trader-0123456789", 3)


def test_manifest_fields_match_the_crd(origin: Origin, task_config: TaskConfig) -> None:
    manifest = code_run(code_args("/code 5 --service trader --continue"), origin, 0, task_config, "ns")
    properties = spec_schema("CodeRun")["properties"]
    assert set(manifest["spec"]) <= set(properties)
