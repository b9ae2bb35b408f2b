"""Signed deliveries of every handled event with the wrong shape, for `test_malformed_shapes.py`.

Every base payload is a real delivery of the demo scene that would start (or act on) a run: a `/code`
comment by a writer with an SSH secret, a `docs` label on an issue and a pull request, a Cancel button on
a check run, a ping and an installation. Each row breaks one field the bot reads; the answer must be 400
naming that field, and nothing may reach Kubernetes or GitHub.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from bot.sandbox import payloads
from bot.sandbox.stack import Stack

Payload = dict[str, Any]
DEEP = b"[" * 100_000 + b"]" * 100_000
"""Nested too deeply for any recursive parser; placed where the bot reads a value."""


def base_payloads(stack: Stack) -> dict[str, Payload]:
    """One real delivery per handled event, by event name."""
    scene, gh = stack.scene, stack.gh
    installation = scene.installation_id
    return {
        "issue_comment": stack.comment_payload(5, "alice", "/code 5 --service trader"),
        "issues": payloads.issues_labeled(
            scene.repo, 5, "docs", "alice", installation_id=installation, api_url=gh.url
        ),
        "pull_request": payloads.pull_request_labeled(
            scene.repo,
            scene.pull_number,
            "docs",
            "alice",
            installation_id=installation,
            head_ref="feature/order-book",
            head_sha="a" * 40,
            api_url=gh.url,
        ),
        "check_run": payloads.check_run_requested_action(
            scene.repo,
            check_run_id=1,
            head_sha="a" * 40,
            identifier="cancel",
            sender="alice",
            installation_id=installation,
            app_id=gh.app_id,
            external_id="code-5-trader-0123456789",
            api_url=gh.url,
        ),
        "ping": payloads.ping(app_id=gh.app_id),
        "installation": payloads.installation_created(
            installation_id=installation, account=scene.repo.owner, app_id=gh.app_id, sender="alice"
        ),
    }


def _at(payload: Payload, path: str) -> tuple[dict[str, Any], str]:
    *parents, last = path.split(".")
    target = payload
    for part in parents:
        target = target[part]
    return target, last


@dataclass(frozen=True)
class Shape:
    id: str
    event: str
    field: str
    body: Callable[[Payload], bytes]
    """The broken body, from a copy of the event's base payload."""


def _set(path: str, value: object) -> Callable[[Payload], bytes]:
    def body(payload: Payload) -> bytes:
        changed = copy.deepcopy(payload)
        target, last = _at(changed, path)
        target[last] = value
        return json.dumps(changed).encode()

    return body


def _delete(path: str) -> Callable[[Payload], bytes]:
    def body(payload: Payload) -> bytes:
        changed = copy.deepcopy(payload)
        target, last = _at(changed, path)
        del target[last]
        return json.dumps(changed).encode()

    return body


def _raw(path: str, raw: bytes) -> Callable[[Payload], bytes]:
    """The value at `path` replaced by raw JSON text (nesting or numbers `json.dumps` would refuse)."""
    marker = "__replaced__"

    def body(payload: Payload) -> bytes:
        return _set(path, marker)(payload).replace(json.dumps(marker).encode(), raw, 1)

    return body


SHAPES = [
    # missing objects
    Shape("issue_comment without comment", "issue_comment", "comment", _delete("comment")),
    Shape("issue_comment without issue", "issue_comment", "issue", _delete("issue")),
    Shape("issue_comment without repository", "issue_comment", "repository", _delete("repository")),
    Shape("issue_comment without sender", "issue_comment", "sender", _delete("sender")),
    Shape("issues without issue", "issues", "issue", _delete("issue")),
    Shape("pull_request without pull_request", "pull_request", "pull_request", _delete("pull_request")),
    Shape("check_run without check_run", "check_run", "check_run", _delete("check_run")),
    Shape("installation without installation", "installation", "installation", _delete("installation")),
    Shape("ping without zen", "ping", "zen", _delete("zen")),
    # wrong types
    Shape("comment body a number", "issue_comment", "comment.body", _set("comment.body", 5)),
    Shape("comment body an array", "issue_comment", "comment.body", _set("comment.body", ["/code 5"])),
    Shape("comment id a string", "issue_comment", "comment.id", _set("comment.id", "5")),
    Shape("issue number a float", "issue_comment", "issue.number", _set("issue.number", 5.0)),
    Shape("sender login an object", "issue_comment", "sender.login", _set("sender.login", {"a": 1})),
    Shape("repository id a boolean", "issue_comment", "repository.id", _set("repository.id", True)),
    Shape("label name a number", "issues", "label.name", _set("label.name", 1)),
    Shape("issue body a list", "issues", "issue.body", _set("issue.body", [])),
    Shape("check run app id a string", "check_run", "check_run.app.id", _set("check_run.app.id", "1")),
    Shape(
        "requested action identifier a number",
        "check_run",
        "requested_action.identifier",
        _set("requested_action.identifier", 1),
    ),
    Shape("action a number", "issue_comment", "action", _set("action", 1)),
    # null where an object is expected
    Shape("comment null", "issue_comment", "comment", _set("comment", None)),
    Shape("repository null", "issues", "repository", _set("repository", None)),
    Shape("pull_request null", "pull_request", "pull_request", _set("pull_request", None)),
    Shape("check_run null", "check_run", "check_run", _set("check_run", None)),
    Shape("sender null", "check_run", "sender", _set("sender", None)),
    Shape("installation null", "installation", "installation", _set("installation", None)),
    # huge integers
    Shape("comment id beyond 64 bits", "issue_comment", "comment.id", _set("comment.id", 2**64)),
    Shape("issue number of 5,000 digits", "issue_comment", "issue.number", _raw("issue.number", b"9" * 5000)),
    Shape("installation id negative", "issue_comment", "installation.id", _set("installation.id", -1)),
    Shape("pull request id of 40 digits", "pull_request", "pull_request.id", _set("pull_request.id", 10**40)),
    Shape("hook id of 25 digits", "ping", "hook_id", _set("hook_id", 10**25)),
    # deep nesting inside a known field
    Shape("comment body nested 100,000 deep", "issue_comment", "comment.body", _raw("comment.body", DEEP)),
    Shape("label nested 100,000 deep", "issues", "label", _raw("label", DEEP)),
    Shape("check run head sha nested", "check_run", "check_run.head_sha", _raw("check_run.head_sha", DEEP)),
    Shape("repository full name nested", "pull_request", "repository.full_name", _raw("repository.full_name", DEEP)),
]  # fmt: skip


# --- any shape ---------------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)


def _like(value: object) -> st.SearchStrategy[Any]:
    """A value of the same JSON type: what a well-typed but odd payload holds (empty names, zero ids)."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(min_value=-1, max_value=2**63) | st.sampled_from([0, 1, 2**63 - 1])
    if isinstance(value, str):
        return st.text(max_size=40) | st.sampled_from(["", "/", "a/b/c", "/code 5 --service trader", "Bot"])
    return JSON_VALUES


def key_paths(value: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path into the objects of a payload (not into arrays)."""
    found: list[tuple[str, ...]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            found.append((*prefix, key))
            found.extend(key_paths(child, (*prefix, key)))
    return found


READ = frozenset(
    [
        "action",
        "comment",
        "comment.body",
        "comment.id",
        "issue",
        "issue.number",
        "issue.id",
        "issue.body",
        "issue.updated_at",
        "issue.pull_request",
        "repository",
        "repository.id",
        "repository.full_name",
        "repository.ssh_url",
        "repository.default_branch",
        "sender",
        "sender.login",
        "sender.type",
        "installation",
        "installation.id",
        "installation.account",
        "installation.account.login",
        "label",
        "label.name",
        "pull_request",
        "pull_request.number",
        "pull_request.id",
        "pull_request.body",
        "pull_request.updated_at",
        "check_run",
        "check_run.external_id",
        "check_run.head_sha",
        "check_run.app",
        "check_run.app.id",
        "requested_action",
        "requested_action.identifier",
        "zen",
        "hook_id",
    ]
)
"""The fields the bot reads (bot/core/events.py): half of the changes go to them."""


@st.composite
def mutations(draw: st.DrawFn, bases: dict[str, Payload]) -> tuple[str, Payload]:
    """A base payload with one to three fields removed, retyped, or given odd values of their type."""
    event = draw(st.sampled_from(sorted(bases)))
    payload = copy.deepcopy(bases[event])
    every = key_paths(bases[event])
    read = [path for path in every if ".".join(path) in READ]
    chosen = st.sampled_from(read) | st.sampled_from(every)
    for path in draw(st.lists(chosen, min_size=1, max_size=3)):
        target: Any = payload
        for part in path[:-1]:
            target = target.get(part) if isinstance(target, dict) else None
        if not isinstance(target, dict) or path[-1] not in target:
            continue  # an earlier change removed or replaced its parent
        how = draw(st.sampled_from(["remove", "retype", "odd"]))
        if how == "remove":
            del target[path[-1]]
        elif how == "retype":
            target[path[-1]] = draw(JSON_VALUES)
        else:
            target[path[-1]] = draw(_like(target[path[-1]]))
    return event, payload
