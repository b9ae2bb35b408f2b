"""app-manifest.yml: valid under GitHub's documented manifest parameters, subscribed to exactly the
events bot/handlers.py handles, and with exactly the permissions the GitHub calls of the code need; and
`orchestrator-bot app-manifest`, which prints it for a URL."""

from __future__ import annotations

import argparse
import ast
import functools
import html
import json
import re
import subprocess
import sys
from typing import Any

import jsonschema
import pytest
import yaml

from bot import app_manifest

from .conftest import ROOT, Recording

MANIFEST_FILE = ROOT / "app-manifest.yml"
# GitHub's "GitHub App Manifest parameters" (docs.github.com, "Registering a GitHub App from a
# manifest"): url is required, hook_attributes.url is required when hook_attributes is given,
# callback_urls holds at most 10 URLs; permission values are access levels.
MANIFEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 34},
        "url": {"type": "string", "format": "uri", "pattern": "^https?://"},
        "hook_attributes": {
            "type": "object",
            "additionalProperties": False,
            "required": ["url"],
            "properties": {"url": {"type": "string", "pattern": "^https?://"}, "active": {"type": "boolean"}},
        },
        "redirect_url": {"type": "string", "pattern": "^https?://"},
        "callback_urls": {
            "type": "array",
            "maxItems": 10,
            "items": {"type": "string", "pattern": "^https?://"},
        },
        "setup_url": {"type": "string", "pattern": "^https?://"},
        "description": {"type": "string"},
        "public": {"type": "boolean"},
        "default_events": {"type": "array", "uniqueItems": True, "items": {"type": "string"}},
        "default_permissions": {
            "type": "object",
            "additionalProperties": {"enum": ["read", "write", "admin"]},
        },
        "request_oauth_on_install": {"type": "boolean"},
        "setup_on_update": {"type": "boolean"},
    },
}
# Sent to every App without a subscription (and refused in default_events).
ALWAYS_DELIVERED = {"ping", "installation", "installation_repositories"}
# The permission an App needs to receive each event (docs.github.com, "Webhook events and payloads",
# "Availability"). issue_comment comes for issues and for pull requests: the bot takes commands on both.
EVENT_PERMISSIONS = {
    "issue_comment": {"issues": "read", "pull_requests": "read"},
    "issues": {"issues": "read"},
    "pull_request": {"pull_requests": "read"},
    "pull_request_review": {"pull_requests": "read"},
    "pull_request_review_comment": {"pull_requests": "read"},
    "check_run": {"checks": "read"},
}
# The installation permission each GitHub operation needs (docs.github.com, "Permissions required for
# GitHub Apps"). Calls authenticated as the App itself (its JWT) need none. Comments and reactions go
# to issues and to pull requests, which need the issues or the pull_requests permission respectively.
OPERATION_PERMISSIONS: dict[str, dict[str, str]] = {
    "apps/get-authenticated": {},
    "apps/create-installation-access-token": {},
    "apps/list-webhook-deliveries": {},
    "apps/get-webhook-delivery": {},
    "apps/redeliver-webhook-delivery": {},
    "repos/get-collaborator-permission-level": {"metadata": "read"},
    # the run page: whether the signed-in person may read a run's repository (with their own token)
    "repos/get": {"metadata": "read"},
    "reactions/create-for-issue-comment": {"issues": "write", "pull_requests": "write"},
    "issues/list-comments": {"issues": "read", "pull_requests": "read"},
    "issues/create-comment": {"issues": "write", "pull_requests": "write"},
    "issues/update-comment": {"issues": "write", "pull_requests": "write"},
    "pulls/get": {"pull_requests": "read"},
    "pulls/list": {"pull_requests": "read"},
    "pulls/list-comments-for-review": {"pull_requests": "read"},
    # "you must have write access to the head branch" (Create a pull request): the agent's pushed branch.
    "pulls/create": {"pull_requests": "write", "contents": "write"},
    "checks/create": {"checks": "write"},
    "checks/update": {"checks": "write"},
    "checks/list-for-ref": {"checks": "read"},
}
LEVELS = {"read": 1, "write": 2, "admin": 3}


def committed() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(MANIFEST_FILE.read_text())
    return document


def merge(needs: list[dict[str, str]]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for need in needs:
        for permission, level in need.items():
            if LEVELS[level] > LEVELS.get(merged.get(permission, ""), 0):
                merged[permission] = level
    return merged


def handled_events() -> set[str]:
    """The event names registered in bot/handlers.py (`router.add(handler, "event", ...)`)."""
    tree = ast.parse((ROOT / "bot" / "handlers.py").read_text())
    events = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add":
            event = node.args[1]
            assert isinstance(event, ast.Constant) and isinstance(event.value, str)
            events.add(event.value)
    return events


def github_paths_in_code() -> set[str]:
    """Every GitHub API path template written in bot/ (the local stand-ins under bot/sandbox excepted)."""
    paths = set()
    for source in (ROOT / "bot").rglob("*.py"):
        if "sandbox" in source.parts:
            continue
        for node in ast.walk(ast.parse(source.read_text())):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and re.fullmatch(r"/(repos|app|installation)(/[^\s]*)?", node.value)
            ):
                paths.add(re.sub(r"\{\?[^}]*\}$", "", node.value))
    return paths


@functools.cache
def github_description() -> dict[str, Any]:
    text = (ROOT / "bot" / "sandbox" / "github" / "openapi" / "api.github.com-subset.json").read_text()
    description: dict[str, Any] = json.loads(text)
    return description


def operations_at(path: str) -> set[str]:
    methods = github_description()["paths"].get(path, {})
    return {op["operationId"] for op in methods.values() if isinstance(op, dict) and "operationId" in op}


# --- the committed manifest ----------------------------------------------------------------------


def test_the_manifest_uses_only_documented_parameters() -> None:
    jsonschema.validate(committed(), MANIFEST_SCHEMA, format_checker=jsonschema.FormatChecker())
    assert committed()["public"] is False


def test_the_manifest_file_is_the_commands_output_for_the_example_url() -> None:
    assert committed() == app_manifest.manifest("https://bot.example.com")
    assert committed()["hook_attributes"]["url"] == "https://bot.example.com/webhook"


def test_the_manifest_subscribes_to_exactly_the_events_the_code_handles() -> None:
    assert set(committed()["default_events"]) == handled_events() - ALWAYS_DELIVERED


def test_every_github_call_the_code_makes_is_classified(recording: Recording) -> None:
    assert recording.github_operations - set(OPERATION_PERMISSIONS) == set()
    for path in github_paths_in_code():
        found = operations_at(path)
        assert found, f"{path} is not in the vendored GitHub description"
        assert found & set(OPERATION_PERMISSIONS), f"no operation at {path} has its permission listed"


def test_the_manifest_asks_for_exactly_the_permissions_the_code_needs(recording: Recording) -> None:
    needed = merge(
        [OPERATION_PERMISSIONS[op] for op in recording.github_operations]
        + [EVENT_PERMISSIONS[event] for event in committed()["default_events"]]
    )
    assert committed()["default_permissions"] == needed


def test_the_recording_exercised_the_writes(recording: Recording) -> None:
    """Each write permission is backed by a call actually made in the recorded flows."""
    for op in (
        "pulls/create",
        "checks/update",
        "issues/update-comment",
        "reactions/create-for-issue-comment",
    ):
        assert op in recording.github_operations


# --- the command -----------------------------------------------------------------------------------


def run_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="orchestrator-bot")
    app_manifest.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_fills_in_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_command(
        ["app-manifest", "--url", "https://bots.acme.dev/", "--name", "acme-agents"], capsys
    )
    assert code == 0
    printed = json.loads(out)
    assert printed == app_manifest.manifest("https://bots.acme.dev", "acme-agents")
    assert printed["hook_attributes"] == {"url": "https://bots.acme.dev/webhook", "active": True}
    assert printed["url"] == "https://bots.acme.dev"
    jsonschema.validate(printed, MANIFEST_SCHEMA)


def test_the_command_follows_a_custom_webhook_path(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_command(
        [
            "app-manifest",
            "--url",
            "https://bots.acme.dev",
            "--webhook-path",
            "/github/events",
            "--format",
            "yaml",
        ],
        capsys,
    )
    assert yaml.safe_load(out)["hook_attributes"]["url"] == "https://bots.acme.dev/github/events"


def test_the_html_form_posts_the_manifest_to_github(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_command(
        ["app-manifest", "--url", "https://bots.acme.dev", "--format", "html", "--org", "acme"], capsys
    )
    action = re.search(r'<form action="([^"]+)" method="post">', out)
    assert action and action.group(1) == "https://github.com/organizations/acme/settings/apps/new"
    value = re.search(r'name="manifest" value="([^"]*)"', out)
    assert value and json.loads(html.unescape(value.group(1))) == app_manifest.manifest(
        "https://bots.acme.dev"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["app-manifest", "--url", "bot.example.com"],
        ["app-manifest", "--url", "https://bot.example.com?x=1"],
        ["app-manifest", "--url", "https://bot.example.com", "--webhook-path", "webhook"],
        ["app-manifest"],
    ],
    ids=["no scheme", "query", "relative path", "no url"],
)
def test_the_command_refuses_a_bad_url(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        run_command(argv, capsys)
    assert stopped.value.code == 2


def test_org_without_the_form_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_command(["app-manifest", "--url", "https://bot.example.com", "--org", "acme"], capsys)
    assert code == 2
    assert "--org" in err


def test_the_module_runs_on_its_own() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.app_manifest", "--url", "https://bot.example.com", "--format", "yaml"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert yaml.safe_load(done.stdout) == committed()
