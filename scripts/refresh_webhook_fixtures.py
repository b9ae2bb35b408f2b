#!/usr/bin/env python3
"""Copy real webhook deliveries from `@octokit/webhooks-examples` into the repository.

    python scripts/refresh_webhook_fixtures.py                # npm install into a temp dir, then copy
    python scripts/refresh_webhook_fixtures.py --from DIR     # DIR = an unpacked webhooks-examples package
    python scripts/refresh_webhook_fixtures.py --version 7.6.1

Writes `tests/fixtures/webhooks/<event>.<action>[.<variant>].json` (the full set the tests use), the
subset the payload builders need into `bot/sandbox/github/payload_fixtures/` (package data, so
`bot.sandbox.payloads` works when the package is installed), and `tests/fixtures/webhooks/README.md`
naming the package, its version and licence, and where each file came from; and every example of each
event the webhook decodes into `tests/fixtures/webhooks/examples/<event>.json` (a JSON array, as the
package has them), which its models are checked against.

Payloads are copied unmodified. The package has no `issue_comment` delivery for a pull request, so
`issue_comment.created.pull_request.json` is the one assembled file; `DERIVED` says exactly how.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from npm_package import install_package  # scripts/ is on sys.path when a script runs

PACKAGE = "@octokit/webhooks-examples"
DEFAULT_VERSION = "7"
EXAMPLES_FILE = "api.github.com/index.json"
REPO_ROOT = Path(__file__).resolve().parent.parent
TESTS_DIR = REPO_ROOT / "tests" / "fixtures" / "webhooks"
PACKAGE_DIR = REPO_ROOT / "bot" / "sandbox" / "github" / "payload_fixtures"

Payload = dict[str, Any]

DECODED_EVENTS = (
    "check_run",
    "installation",
    "installation_repositories",
    "issue_comment",
    "issues",
    "ping",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
)
"""The events `bot/core/events.py` has models for (a test checks the two lists agree)."""
EXAMPLES_DIR_NAME = "examples"


def _always(payload: Payload) -> bool:
    return True


@dataclass(frozen=True)
class FixtureSpec:
    """One fixture file: which example of which event to copy, and whether the builders need it."""

    file_name: str
    event: str
    action: str | None
    why: str
    accept: Callable[[Payload], bool] = _always
    in_package: bool = True


def _app_ping(payload: Payload) -> bool:
    return "app_id" in payload.get("hook", {})


def _branch_push(payload: Payload) -> bool:
    return str(payload.get("ref", "")).startswith("refs/heads/")


FIXTURES = (
    FixtureSpec("issue_comment.created.json", "issue_comment", "created", "a command comment on an issue"),
    FixtureSpec("issue_comment.edited.json", "issue_comment", "edited", "edited comments are ignored"),
    FixtureSpec("issues.labeled.json", "issues", "labeled", "the `docs`/`code` label on an issue"),
    FixtureSpec("pull_request.labeled.json", "pull_request", "labeled", "a label on a pull request"),
    FixtureSpec(
        "pull_request.opened.json",
        "pull_request",
        "opened",
        "an event the bot does not act on",
        in_package=False,
    ),
    FixtureSpec(
        "pull_request_review.submitted.json",
        "pull_request_review",
        "submitted",
        "a review on a pull request a run produced (review -> revise)",
    ),
    FixtureSpec(
        "pull_request_review_comment.created.json",
        "pull_request_review_comment",
        "created",
        "an inline review comment, which may hold a command",
    ),
    FixtureSpec("check_run.rerequested.json", "check_run", "rerequested", "Re-run on our check run"),
    FixtureSpec(
        "check_run.requested_action.json", "check_run", "requested_action", "the Cancel/Retry buttons"
    ),
    FixtureSpec("ping.json", "ping", None, "sent when the App's webhook is created", accept=_app_ping),
    FixtureSpec("installation.created.json", "installation", "created", "the App was installed"),
    FixtureSpec("push.json", "push", None, "an ignored event (benchmarks)", accept=_branch_push),
)

DERIVED_NAME = "issue_comment.created.pull_request.json"
DERIVED = (
    f"`{DERIVED_NAME}` is `issue_comment.created.json` with its `issue` replaced by the `issue` object "
    "of the package's `issues` `milestoned` delivery for pull request #2 of the same repository (an issue "
    "object that carries `pull_request`, as GitHub sends it for a pull request), and the comment's "
    "`issue_url`/`html_url` pointed at that pull request. Every other byte is the real delivery."
)


def _preference(payload: Payload) -> tuple[int, int]:
    # GitHub App deliveries carry `installation`; organization-owned repositories carry `organization`.
    return (0 if "installation" in payload else 1, 0 if "organization" in payload else 1)


def choose(examples: dict[str, list[Payload]], spec: FixtureSpec) -> tuple[int, Payload]:
    """The index and payload of the best example for `spec` (App deliveries first, then org repos)."""
    candidates = [
        (index, payload)
        for index, payload in enumerate(examples[spec.event])
        if payload.get("action") == spec.action and spec.accept(payload)
    ]
    if not candidates:
        raise SystemExit(f"no {spec.event}.{spec.action} example in the package for {spec.file_name}")
    return min(candidates, key=lambda item: (_preference(item[1]), item[0]))


def derive_pull_request_comment(examples: dict[str, list[Payload]], comment_delivery: Payload) -> Payload:
    """See `DERIVED`."""
    pull_issue = next(
        payload["issue"]
        for payload in sorted(examples["issues"], key=_preference)
        if payload.get("action") == "milestoned"
        and "pull_request" in payload["issue"]
        and payload["repository"]["full_name"] == comment_delivery["repository"]["full_name"]
    )
    derived = copy.deepcopy(comment_delivery)
    derived["issue"] = copy.deepcopy(pull_issue)
    comment_anchor = derived["comment"]["html_url"].rpartition("#")[2]
    derived["comment"]["issue_url"] = pull_issue["url"]
    derived["comment"]["html_url"] = f"{pull_issue['html_url']}#{comment_anchor}"
    return derived


def dump(payload: Payload) -> str:
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def readme(manifest: dict[str, Any], sources: list[tuple[str, str, str]]) -> str:
    rows = "\n".join(f"| `{name}` | {source} | {why} |" for name, source, why in sources)
    return f"""# Webhook fixtures

Real GitHub webhook deliveries, copied unmodified from the npm package
**`{manifest["name"]}` {manifest["version"]}** (licence: **{manifest.get("license", "unknown")}**,
from the repository `{manifest.get("repository", "github:octokit/webhooks")}`; the package declares MIT in its
`package.json` and ships no separate licence file). Only the file named below as derived is assembled.

Refresh (rewrites this directory and `bot/sandbox/github/payload_fixtures/`):

    python scripts/refresh_webhook_fixtures.py            # npm install {manifest["name"]}@{DEFAULT_VERSION}
    python scripts/refresh_webhook_fixtures.py --from DIR # an unpacked copy of the package

Files marked *package* are also vendored as package data in `bot/sandbox/github/payload_fixtures/`
(byte-identical, checked by a test); `bot.sandbox.payloads` builds scenario deliveries from those by
substituting repository, installation, sender, issue, comment, label and check-run fields.

| file | source in `{EXAMPLES_FILE}` | used for |
|---|---|---|
{rows}

{DERIVED}

`{EXAMPLES_DIR_NAME}/<event>.json` holds every example the package has of each event the webhook decodes
({", ".join(f"`{event}`" for event in DECODED_EVENTS)}), unmodified, as a JSON array: every one of
them must decode (`tests/core/test_events.py`).
"""


def refresh(package_dir: Path, tests_dir: Path, package_fixture_dir: Path) -> list[str]:
    manifest = json.loads((package_dir / "package.json").read_text())
    definitions = json.loads((package_dir / EXAMPLES_FILE).read_text())
    examples: dict[str, list[Payload]] = {item["name"]: item["examples"] for item in definitions}

    files: dict[str, tuple[Payload, bool]] = {}
    sources: list[tuple[str, str, str]] = []
    for spec in FIXTURES:
        index, payload = choose(examples, spec)
        files[spec.file_name] = (payload, spec.in_package)
        where = "package" if spec.in_package else "tests only"
        sources.append((spec.file_name, f"`{spec.event}` example {index} ({where})", spec.why))
    comment_delivery = files["issue_comment.created.json"][0]
    files[DERIVED_NAME] = (derive_pull_request_comment(examples, comment_delivery), True)
    sources.append((DERIVED_NAME, "derived, see below (package)", "a command comment on a pull request"))

    for directory in (tests_dir, package_fixture_dir):
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.json"):
            stale.unlink()
    for name, (payload, in_package) in sorted(files.items()):
        text = dump(payload)
        (tests_dir / name).write_text(text)
        if in_package:
            (package_fixture_dir / name).write_text(text)
    examples_dir = tests_dir / EXAMPLES_DIR_NAME
    examples_dir.mkdir(exist_ok=True)
    for stale in examples_dir.glob("*.json"):
        stale.unlink()
    for event in DECODED_EVENTS:
        (examples_dir / f"{event}.json").write_text(dump(examples[event]))
    (tests_dir / "README.md").write_text(readme(manifest, sorted(sources)))
    return sorted(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--from", dest="source", type=Path, help="an unpacked @octokit/webhooks-examples package"
    )
    parser.add_argument("--version", default=DEFAULT_VERSION, help="npm version spec (default: %(default)s)")
    parser.add_argument("--tests-dir", type=Path, default=TESTS_DIR, help="default: %(default)s")
    parser.add_argument("--package-dir", type=Path, default=PACKAGE_DIR, help="default: %(default)s")
    args = parser.parse_args(argv)
    if args.source is not None:
        written = refresh(args.source, args.tests_dir, args.package_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="octokit-webhooks-examples-") as temp:
            written = refresh(
                install_package(PACKAGE, args.version, Path(temp)), args.tests_dir, args.package_dir
            )
    print(f"wrote {len(written)} fixtures: {', '.join(written)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
