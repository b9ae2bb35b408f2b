"""The webhook payload builders: real recorded deliveries with the scenario's fields substituted, as
valid as the recording they came from (checked against GitHub's own webhook schemas)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import payloads
from bot.sandbox.deliveries import encode_payload
from bot.sandbox.github import delivery_reviews
from bot.sandbox.github.description import Description
from bot.sandbox.payloads import RepoRef

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "webhooks"
PACKAGE_FIXTURES = Path(payloads.__file__).resolve().parent / "github" / "payload_fixtures"
REPO = RepoRef.parse("demo-org/trader", default_branch="develop")
API = "http://127.0.0.1:9999"
Builder = Callable[[], dict[str, Any]]
PULL = delivery_reviews.PullRef(7, "feature/task-5-trader", "a" * 40)

BUILDERS: dict[str, tuple[str, str, Builder]] = {
    "issue comment on an issue": (
        "issue_comment.created.json",
        "issue-comment-created",
        lambda: payloads.issue_comment_created(
            REPO,
            5,
            "/code 5 --service trader",
            "alice",
            installation_id=77,
            issue_title="Task 5",
            issue_body="Build it",
            api_url=API,
        ),
    ),
    "issue comment on a pull request": (
        "issue_comment.created.pull_request.json",
        "issue-comment-created",
        lambda: payloads.issue_comment_created(
            REPO,
            7,
            payloads.comment_object(REPO, 7, "/docs", "alice", comment_id=4242, on_pull_request=True),
            "alice",
            on_pull_request=True,
            installation_id=77,
        ),
    ),
    "edited comment": (
        "issue_comment.edited.json",
        "issue-comment-edited",
        lambda: payloads.issue_comment_edited(
            REPO, 5, "/docs --branch x", "alice", previous_body="/docs", installation_id=77
        ),
    ),
    "issue labeled": (
        "issues.labeled.json",
        "issues-labeled",
        lambda: payloads.issues_labeled(
            REPO, 5, "code", "alice", installation_id=77, issue_body="/code 5 --service trader"
        ),
    ),
    "pull request labeled": (
        "pull_request.labeled.json",
        "pull-request-labeled",
        lambda: payloads.pull_request_labeled(
            REPO, 7, "docs", "alice", installation_id=77, head_ref="feature/x", head_sha="a" * 40
        ),
    ),
    "check run requested action": (
        "check_run.requested_action.json",
        "check-run-requested-action",
        lambda: payloads.check_run_requested_action(
            REPO,
            check_run_id=99,
            head_sha="b" * 40,
            identifier="cancel",
            sender="alice",
            installation_id=77,
            app_id=12345,
            external_id="coderun-abc",
            head_branch="feature/x",
            pull_request_numbers=[7],
        ),
    ),
    "check run rerequested": (
        "check_run.rerequested.json",
        "check-run-rerequested",
        lambda: payloads.check_run_rerequested(
            REPO,
            check_run_id=99,
            head_sha="b" * 40,
            sender="alice",
            installation_id=77,
            app_id=12345,
            external_id="coderun-abc",
        ),
    ),
    "review submitted": (
        "pull_request_review.submitted.json",
        "pull-request-review-submitted",
        lambda: delivery_reviews.pull_request_review_submitted(
            REPO,
            PULL,
            5550001,
            "changes_requested",
            "Please add tests.",
            "alice",
            installation_id=77,
            submitted_at="2026-12-03T10:00:00Z",
            api_url=API,
        ),
    ),
    "review comment created": (
        "pull_request_review_comment.created.json",
        "pull-request-review-comment-created",
        lambda: delivery_reviews.pull_request_review_comment_created(
            REPO,
            PULL,
            {"id": 6660001, "body": "/code --continue split this", "path": "a.py", "line": 3},
            "alice",
            installation_id=77,
            api_url=API,
        ),
    ),
    "ping": ("ping.json", "ping", lambda: payloads.ping(app_id=12345, hook_id=31337)),
    "push": (
        "push.json",
        "push",
        lambda: payloads.push(REPO, sender="alice", installation_id=77, after="c" * 40),
    ),
    "installation created": (
        "installation.created.json",
        "installation-created",
        lambda: payloads.installation_created(
            installation_id=77, account="demo-org", app_id=12345, sender="alice", repositories=[REPO]
        ),
    ),
}


@pytest.fixture(scope="module")
def description() -> Description:
    return Description.load()


@pytest.mark.parametrize("name", BUILDERS)
def test_built_payload_is_as_valid_as_the_recording(name: str, description: Description) -> None:
    fixture_file, webhook, build = BUILDERS[name]
    built = build()
    assert json.loads(encode_payload(built)) == built
    known = set(description.webhook_problems(webhook, payloads.fixture(fixture_file)))
    assert set(description.webhook_problems(webhook, built)) <= known


@pytest.mark.parametrize("name", [n for n in BUILDERS if n not in ("ping", "installation created")])
def test_built_payload_names_the_scenarios_repository_everywhere(name: str) -> None:
    built = BUILDERS[name][2]()
    repository = built["repository"]
    assert (repository["full_name"], repository["name"], repository["id"]) == (
        "demo-org/trader",
        "trader",
        REPO.repo_id,
    )
    assert repository["owner"]["login"] == "demo-org"
    assert repository["ssh_url"] == "git@github.com:demo-org/trader.git"
    assert repository["clone_url"] == "https://github.com/demo-org/trader.git"
    assert repository["default_branch"] == "develop"
    assert built["organization"]["login"] == "demo-org"
    assert built["installation"]["id"] == 77
    assert (built["sender"]["login"], built["sender"]["id"], built["sender"]["type"]) == (
        "alice",
        payloads.stable_id("user", "alice"),
        "User",
    )
    text = json.dumps(built)
    for recorded in ("Hello-World", "electron/electron", "github/hello-world", "Octocoders"):
        assert recorded not in text


def test_comment_on_an_issue() -> None:
    built = BUILDERS["issue comment on an issue"][2]()
    assert built["action"] == "created"
    issue, comment = built["issue"], built["comment"]
    assert (issue["number"], issue["title"], issue["body"], "pull_request" in issue) == (
        5,
        "Task 5",
        "Build it",
        False,
    )
    assert issue["url"] == f"{API}/repos/demo-org/trader/issues/5"
    assert (comment["body"], comment["user"]["login"]) == ("/code 5 --service trader", "alice")
    assert comment["issue_url"] == issue["url"]


def test_comment_on_a_pull_request_carries_pull_request() -> None:
    built = BUILDERS["issue comment on a pull request"][2]()
    issue = built["issue"]
    assert issue["pull_request"]["url"] == "https://api.github.com/repos/demo-org/trader/pulls/7"
    assert issue["html_url"] == "https://github.com/demo-org/trader/pull/7"
    assert (built["comment"]["id"], built["comment"]["body"]) == (4242, "/docs")


def test_comment_from_the_local_api_is_used_as_given() -> None:
    comment = payloads.comment_object(REPO, 5, "/help", "bob", comment_id=31)
    built = payloads.issue_comment_created(REPO, 5, comment, "bob", installation_id=1)
    assert {key: built["comment"][key] for key in comment} == comment


def test_bot_sender_is_a_bot() -> None:
    built = payloads.issue_comment_created(REPO, 5, "/docs", "orchestrator-bot[bot]", installation_id=1)
    assert built["sender"]["type"] == "Bot"


def test_edited_comment_says_what_it_was() -> None:
    built = BUILDERS["edited comment"][2]()
    assert (built["action"], built["changes"]["body"]["from"], built["comment"]["body"]) == (
        "edited",
        "/docs",
        "/docs --branch x",
    )


def test_labels() -> None:
    issue = BUILDERS["issue labeled"][2]()
    assert (issue["label"]["name"], issue["issue"]["body"], issue["issue"]["labels"][0]["name"]) == (
        "code",
        "/code 5 --service trader",
        "code",
    )
    pull = BUILDERS["pull request labeled"][2]()
    assert (pull["number"], pull["label"]["name"]) == (7, "docs")
    assert (pull["pull_request"]["head"]["ref"], pull["pull_request"]["head"]["sha"]) == (
        "feature/x",
        "a" * 40,
    )
    assert pull["pull_request"]["base"]["ref"] == "develop"


def test_check_run_actions_name_our_app_and_run() -> None:
    built = BUILDERS["check run requested action"][2]()
    run = built["check_run"]
    assert built["requested_action"] == {"identifier": "cancel"}
    assert (run["id"], run["head_sha"], run["external_id"], run["app"]["id"]) == (
        99,
        "b" * 40,
        "coderun-abc",
        12345,
    )
    assert [p["number"] for p in run["pull_requests"]] == [7]
    rerun = BUILDERS["check run rerequested"][2]()
    assert (rerun["action"], rerun["check_run"]["status"], rerun["check_run"]["app"]["slug"]) == (
        "rerequested",
        "completed",
        "orchestrator-bot",
    )


def test_ping_push_and_installation() -> None:
    ping = BUILDERS["ping"][2]()
    assert (ping["hook_id"], ping["hook"]["app_id"]) == (31337, 12345)
    push = BUILDERS["push"][2]()
    assert (push["ref"], push["after"]) == ("refs/heads/develop", "c" * 40)
    installed = BUILDERS["installation created"][2]()
    assert (installed["installation"]["id"], installed["installation"]["account"]["login"]) == (
        77,
        "demo-org",
    )
    assert [r["full_name"] for r in installed["repositories"]] == ["demo-org/trader"]


def test_builders_do_not_change_the_recordings() -> None:
    before = payloads.fixture("issue_comment.created.json")
    BUILDERS["issue comment on an issue"][2]()
    assert payloads.fixture("issue_comment.created.json") == before


def test_package_fixtures_are_the_test_fixtures() -> None:
    packaged = sorted(path.name for path in PACKAGE_FIXTURES.glob("*.json"))
    assert packaged
    for name in packaged:
        assert (PACKAGE_FIXTURES / name).read_bytes() == (FIXTURES / name).read_bytes(), name


def test_fixture_readme_names_every_file_and_the_source() -> None:
    readme = (FIXTURES / "README.md").read_text()
    assert "@octokit/webhooks-examples" in readme and "MIT" in readme
    assert "scripts/refresh_webhook_fixtures.py" in readme
    for path in FIXTURES.glob("*.json"):
        assert f"`{path.name}`" in readme
