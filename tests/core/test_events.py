"""Webhook payloads -> typed events: every real example of every handled event decodes; every wrong shape
is a `Malformed` naming the field, never an exception."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.events import (
    MODELS,
    CheckRunEvent,
    Event,
    IssueCommentEvent,
    IssuesEvent,
    Malformed,
    PingEvent,
    PullRequestEvent,
    PullRequestReviewCommentEvent,
    PullRequestReviewEvent,
    decode,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhooks"
EXAMPLES = FIXTURES / "examples"
SCRIPTS = Path(__file__).parents[2] / "scripts"


def examples(event: str) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((EXAMPLES / f"{event}.json").read_text())
    return loaded


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


def encoded(payload: object) -> bytes:
    return json.dumps(payload).encode()


# --- the real payloads ---------------------------------------------------------------------------------


def test_a_review_names_its_pull_request_and_its_head() -> None:
    payload = fixture("pull_request_review.submitted.json")
    decoded = decode("pull_request_review", encoded(payload))
    assert isinstance(decoded, PullRequestReviewEvent)
    origin = decoded.origin("guid-1")
    head = payload["pull_request"]["head"]
    assert (origin.issue_number, origin.is_pull_request, origin.head_branch, origin.head_sha) == (
        payload["pull_request"]["number"],
        True,
        head["ref"],
        head["sha"],
    )
    assert origin.run_identity == f"review-{payload['review']['id']}"
    assert origin.comment_id is None  # no reaction: reviews take none


def test_an_inline_review_comment_is_named_by_its_own_id() -> None:
    payload = fixture("pull_request_review_comment.created.json")
    decoded = decode("pull_request_review_comment", encoded(payload))
    assert isinstance(decoded, PullRequestReviewCommentEvent)
    assert decoded.origin("guid-1").run_identity == f"review-comment-{payload['comment']['id']}"
    assert decoded.comment.path == payload["comment"]["path"]


def test_the_vendored_examples_cover_exactly_the_decoded_events() -> None:
    sys.path.insert(0, str(SCRIPTS))
    try:
        spec = importlib.util.spec_from_file_location("refresh", SCRIPTS / "refresh_webhook_fixtures.py")
        assert spec is not None and spec.loader is not None
        script = importlib.util.module_from_spec(spec)
        sys.modules["refresh"] = script  # dataclasses look their module up
        spec.loader.exec_module(script)
    finally:
        sys.path.remove(str(SCRIPTS))
        sys.modules.pop("refresh", None)
    assert set(script.DECODED_EVENTS) == set(MODELS)
    assert {path.stem for path in EXAMPLES.glob("*.json")} == set(MODELS)


@pytest.mark.parametrize("event", sorted(MODELS))
def test_every_example_of_a_handled_event_decodes(event: str) -> None:
    found = examples(event)
    assert found, f"no examples of {event}"
    for index, payload in enumerate(found):
        decoded = decode(event, encoded(payload))
        assert not isinstance(decoded, Malformed), (index, payload.get("action"), str(decoded))
        assert isinstance(decoded, MODELS[event])


def test_a_comment_keeps_what_the_bot_reads() -> None:
    payload = fixture("issue_comment.created.json")
    decoded = decode("issue_comment", encoded(payload))
    assert isinstance(decoded, IssueCommentEvent)
    assert (decoded.action, decoded.comment.body, decoded.comment.id) == (
        "created",
        payload["comment"]["body"],
        payload["comment"]["id"],
    )
    origin = decoded.origin("guid-1")
    assert (origin.repository, origin.repository_id, origin.issue_number, origin.is_pull_request) == (
        payload["repository"]["full_name"],
        payload["repository"]["id"],
        payload["issue"]["number"],
        False,
    )
    assert (origin.sender, origin.sender_type, origin.installation_id) == (
        payload["sender"]["login"],
        payload["sender"]["type"],
        payload["installation"]["id"],
    )


def test_a_comment_on_a_pull_request_is_known_as_one() -> None:
    decoded = decode("issue_comment", encoded(fixture("issue_comment.created.pull_request.json")))
    assert isinstance(decoded, IssueCommentEvent)
    assert decoded.origin("guid-1").is_pull_request


def test_a_pull_request_label_reads_the_pull_request_as_the_issue() -> None:
    payload = fixture("pull_request.labeled.json")
    decoded = decode("pull_request", encoded(payload))
    assert isinstance(decoded, PullRequestEvent)
    origin = decoded.origin("guid-1")
    assert (decoded.label_name, decoded.issue.number, origin.is_pull_request) == (
        payload["label"]["name"],
        payload["pull_request"]["number"],
        True,
    )
    assert origin.run_identity == (
        f"label-{payload['label']['name']}-{payload['pull_request']['id']}-{payload['pull_request']['updated_at']}"
    )


def test_an_issue_label_without_a_label_object_names_no_label() -> None:
    payload = fixture("issues.labeled.json")
    del payload["label"]
    decoded = decode("issues", encoded(payload))
    assert isinstance(decoded, IssuesEvent)
    assert decoded.label_name is None


def test_a_delivery_without_an_installation_has_installation_zero() -> None:
    payload = fixture("issue_comment.created.json")
    del payload["installation"]
    decoded = decode("issue_comment", encoded(payload))
    assert isinstance(decoded, IssueCommentEvent)
    assert decoded.origin("guid-1").installation_id == 0


def test_a_check_run_takes_its_issue_from_the_run_and_its_head_from_the_payload() -> None:
    payload = fixture("check_run.requested_action.json")
    decoded = decode("check_run", encoded(payload))
    assert isinstance(decoded, CheckRunEvent)
    origin = decoded.origin(
        "guid-1", {"orchestrator.platform/issue": "7", "orchestrator.platform/pull-request": "true"}
    )
    assert (origin.issue_number, origin.is_pull_request, origin.head_sha) == (
        7,
        True,
        payload["check_run"]["head_sha"],
    )


def test_a_bots_login_has_githubs_form() -> None:
    payload = fixture("issue_comment.created.json")
    payload["sender"].update(login="orchestrator-bot[bot]", type="Bot")
    decoded = decode("issue_comment", encoded(payload))
    assert isinstance(decoded, IssueCommentEvent)
    assert decoded.sender.login == "orchestrator-bot[bot]"


def test_an_event_knows_its_action() -> None:
    comment = decode("issue_comment", encoded(fixture("issue_comment.edited.json")))
    ping = decode("ping", encoded(fixture("ping.json")))
    assert isinstance(ping, PingEvent)
    assert Event("issue_comment", "d", comment).action == "edited"
    assert Event("ping", "d", ping).action is None


# --- wrong shapes ----------------------------------------------------------------------------------------

Change = Callable[[dict[str, Any]], None]


def setting(path: str, value: object) -> Change:
    *parents, last = path.split(".")

    def change(payload: dict[str, Any]) -> None:
        target = payload
        for part in parents:
            target = target[part]
        target[last] = value

    return change


def deleting(path: str) -> Change:
    *parents, last = path.split(".")

    def change(payload: dict[str, Any]) -> None:
        target = payload
        for part in parents:
            target = target[part]
        del target[last]

    return change


@dataclass(frozen=True)
class Row:
    id: str
    event: str
    fixture: str
    change: Change
    field: str
    reason: str


DEEP = json.loads("[" * 500 + "]" * 500)
ROWS = [
    Row("no comment object", "issue_comment", "issue_comment.created.json", deleting("comment"), "comment", "required field missing"),
    Row("comment body is a number", "issue_comment", "issue_comment.created.json", setting("comment.body", 5), "comment.body", "expected a string, got an integer"),
    Row("comment body is null", "issue_comment", "issue_comment.created.json", setting("comment.body", None), "comment.body", "expected a string, got null"),
    Row("comment is null", "issue_comment", "issue_comment.created.json", setting("comment", None), "comment", "expected an object, got null"),
    Row("comment is a string", "issue_comment", "issue_comment.created.json", setting("comment", "/code 5"), "comment", "expected an object, got a string"),
    Row("comment id is a string", "issue_comment", "issue_comment.created.json", setting("comment.id", "5"), "comment.id", "expected an integer, got a string"),
    Row("comment id is a float", "issue_comment", "issue_comment.created.json", setting("comment.id", 5.5), "comment.id", "expected an integer, got a number"),
    Row("comment id is a boolean", "issue_comment", "issue_comment.created.json", setting("comment.id", True), "comment.id", "expected an integer, got a boolean"),
    Row("comment id is negative", "issue_comment", "issue_comment.created.json", setting("comment.id", -1), "comment.id", "expected an integer >= 0"),
    Row("comment id beyond 64 bits", "issue_comment", "issue_comment.created.json", setting("comment.id", 2**64), "comment.id", "expected an integer <= 9223372036854775807"),
    Row("comment id of 4,000 digits", "issue_comment", "issue_comment.created.json", setting("comment.id", int("9" * 4000)), "comment.id", "expected an integer <= 9223372036854775807"),
    Row("issue number of 30 digits", "issue_comment", "issue_comment.created.json", setting("issue.number", 10**30), "issue.number", "expected an integer <= 9223372036854775807"),
    Row("comment body nested 500 deep", "issue_comment", "issue_comment.created.json", setting("comment.body", DEEP), "comment.body", "expected a string, got an array"),
    Row("no issue", "issue_comment", "issue_comment.created.json", deleting("issue"), "issue", "required field missing"),
    Row("issue pull_request is a string", "issue_comment", "issue_comment.created.json", setting("issue.pull_request", "yes"), "issue.pull_request", "expected an object or null, got a string"),
    Row("no repository", "issue_comment", "issue_comment.created.json", deleting("repository"), "repository", "required field missing"),
    Row("repository is an array", "issue_comment", "issue_comment.created.json", setting("repository", []), "repository", "expected an object, got an array"),
    Row("repository without ssh_url", "issue_comment", "issue_comment.created.json", deleting("repository.ssh_url"), "repository.ssh_url", "required field missing"),
    Row("sender is null", "issue_comment", "issue_comment.created.json", setting("sender", None), "sender", "expected an object, got null"),
    Row("sender login is a number", "issue_comment", "issue_comment.created.json", setting("sender.login", 1), "sender.login", "expected a string, got an integer"),
    Row("sender login with a space", "issue_comment", "issue_comment.created.json", setting("sender.login", "a b"), "sender.login", r"expected a string matching regex '^[A-Za-z0-9]([A-Za-z0-9-]{0,37}[A-Za-z0-9])?(\\[bot\\])?$'"),
    Row("repository full name without an owner", "issue_comment", "issue_comment.created.json", setting("repository.full_name", "trader"), "repository.full_name", "expected a string matching regex '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$'"),
    Row("installation id is a string", "issue_comment", "issue_comment.created.json", setting("installation.id", "1"), "installation.id", "expected an integer, got a string"),
    Row("action is null", "issue_comment", "issue_comment.created.json", setting("action", None), "action", "expected a string, got null"),
    Row("label name is an object", "issues", "issues.labeled.json", setting("label.name", {"name": "docs"}), "label.name", "expected a string, got an object"),
    Row("issue body is a number", "issues", "issues.labeled.json", setting("issue.body", 5), "issue.body", "expected a string or null, got an integer"),
    Row("no pull_request object", "pull_request", "pull_request.labeled.json", deleting("pull_request"), "pull_request", "required field missing"),
    Row("pull request number is null", "pull_request", "pull_request.labeled.json", setting("pull_request.number", None), "pull_request.number", "expected an integer, got null"),
    Row("check run is null", "check_run", "check_run.requested_action.json", setting("check_run", None), "check_run", "expected an object, got null"),
    Row("check run app id is a string", "check_run", "check_run.requested_action.json", setting("check_run.app.id", "1"), "check_run.app.id", "expected an integer, got a string"),
    Row("requested action is a list", "check_run", "check_run.requested_action.json", setting("requested_action", ["cancel"]), "requested_action", "expected an object or null, got an array"),
    Row("ping without zen", "ping", "ping.json", deleting("zen"), "zen", "required field missing"),
    Row("installation account login is a number", "installation", "installation.created.json", setting("installation.account.login", 7), "installation.account.login", "expected a string, got an integer"),
]  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_a_wrong_shape_names_the_field(row: Row) -> None:
    payload = fixture(row.fixture)
    row.change(payload)
    decoded = decode(row.event, encoded(payload))
    assert decoded == Malformed(row.reason, row.field)
    assert str(decoded) == f"{row.field}: {row.reason}"


BODIES = [
    pytest.param(b"", "body is not valid JSON: input data was truncated", id="empty"),
    pytest.param(b"{", "body is not valid JSON: input data was truncated", id="cut short"),
    pytest.param(b"\xff{}", "body is not valid JSON: invalid character (byte 0)", id="not UTF-8"),
    pytest.param(b'{"zen": "\xff"}', "body is not valid JSON: invalid UTF-8 encoded string", id="bad UTF-8 in a string"),
    pytest.param(b'{"zen": "z"} {}', "body is not valid JSON: trailing characters (byte 14)", id="trailing data"),
    pytest.param(b"null", "body: expected an object, got null", id="null"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "body: expected an object, got an array", id="deep arrays"),
    pytest.param(
        b'{"zen": "z", "other": ' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"}",
        "body is not valid JSON: nested too deeply",
        id="deep objects in a field nobody reads",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("body", "reason"), BODIES)
def test_a_body_that_is_no_json_object_is_malformed(body: bytes, reason: str) -> None:
    assert str(decode("ping", body)) == reason


def test_fields_nobody_reads_may_hold_anything() -> None:
    payload = fixture("issue_comment.created.json")
    payload["comment"]["reactions"] = DEEP
    payload["issue"]["title"] = 10**30
    payload["extra"] = {"anything": [None, True, 1.5]}
    body = encoded(payload).replace(b'"extra"', b'"huge": ' + b"9" * 5000 + b', "extra"')
    assert isinstance(decode("issue_comment", body), IssueCommentEvent)


# --- any shape -------------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
FIXTURE_OF = {
    "issue_comment": "issue_comment.created.json",
    "issues": "issues.labeled.json",
    "pull_request": "pull_request.labeled.json",
    "pull_request_review": "pull_request_review.submitted.json",
    "pull_request_review_comment": "pull_request_review_comment.created.json",
    "check_run": "check_run.requested_action.json",
    "ping": "ping.json",
    "installation": "installation.created.json",
    "installation_repositories": "installation.created.json",
}


def paths(value: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path into the objects of a payload (not into arrays)."""
    found = []
    if isinstance(value, dict):
        for key, child in value.items():
            found.append((*prefix, key))
            found.extend(paths(child, (*prefix, key)))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A real payload of a handled event with some of its fields replaced by any JSON, or removed."""
    event = draw(st.sampled_from(sorted(MODELS)))
    payload = fixture(FIXTURE_OF[event])
    candidates = paths(payload)
    for path in draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=3)):
        target: Any = payload
        for part in path[:-1]:
            if not isinstance(target, dict) or part not in target:
                break
            target = target[part]
        else:
            if isinstance(target, dict):
                if draw(st.booleans()):
                    target.pop(path[-1], None)
                else:
                    target[path[-1]] = draw(JSON_VALUES)
    return event, encoded(payload)


@settings(max_examples=300, deadline=None)
@given(mutated())
def test_any_shape_decodes_or_is_malformed_never_raises(drawn: tuple[str, bytes]) -> None:
    event, body = drawn
    decoded = decode(event, body)
    assert isinstance(decoded, MODELS[event] | Malformed)
    if isinstance(decoded, Malformed):
        assert decoded.reason


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(MODELS)), st.binary(max_size=200) | JSON_VALUES.map(encoded))
def test_any_bytes_decode_or_are_malformed_never_raise(event: str, body: bytes) -> None:
    assert isinstance(decode(event, body), MODELS[event] | Malformed)
