"""The GitHub App manifest and `orchestrator-bot app-manifest --url https://bot.example.com`.

GitHub's manifest flow registers a preconfigured App from a browser form that POSTs the manifest (JSON)
to github.com/settings/apps/new; GitHub then generates the App id, private key and webhook secret.
`app-manifest.yml` at the repository root is this command's output for https://bot.example.com, checked
by tests/deploy/test_app_manifest.py (which also derives the events and permissions from the code).
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import yaml

DEFAULT_NAME = "orchestrator-bot"
DEFAULT_WEBHOOK_PATH = "/webhook"
DEFAULT_GITHUB_URL = "https://github.com"
DESCRIPTION = (
    "Starts AI coding agents on Kubernetes from /docs and /code comments and labels, "
    "and reports back with a tracking comment, a check run and the pull request."
)
# The events bot/handlers.py handles. `installation`, `installation_repositories` and `ping` are sent
# to every App without a subscription, and GitHub refuses them in a manifest.
DEFAULT_EVENTS = (
    "issue_comment",
    "issues",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "check_run",
)
# What the GitHub calls in bot/github.py, bot/intake.py and bot/reporter.py need.
DEFAULT_PERMISSIONS = {
    # check runs with Cancel / Retry buttons; check_run events
    "checks": "write",
    # opening the pull request from the agent's pushed branch needs write access to that branch
    "contents": "write",
    # reactions and tracking comments on issues; issues and issue_comment events
    "issues": "write",
    # the sender's permission on the repository (collaborator permission level)
    "metadata": "read",
    # reading a pull request's head, opening one, comments on pull requests; pull_request events
    "pull_requests": "write",
}
FORMATS = ("json", "yaml", "html")


def manifest(url: str, name: str = DEFAULT_NAME, webhook_path: str = DEFAULT_WEBHOOK_PATH) -> dict[str, Any]:
    """The manifest for a bot served at `url` (https, no path), webhook at `url + webhook_path`."""
    base = url.rstrip("/")
    return {
        "name": name,
        "url": base,
        "hook_attributes": {"url": base + webhook_path, "active": True},
        # GitHub sends the browser here with ?code=... once the App exists; the code is exchanged with
        # POST /app-manifests/{code}/conversions (README: Deploy). The bot need not serve this page.
        "redirect_url": base + "/",
        # Sign-in to the run pages (the App's OAuth web flow) returns here (bot/web/auth.py).
        "callback_urls": [base + "/auth/callback"],
        "description": DESCRIPTION,
        "public": False,
        "default_permissions": dict(DEFAULT_PERMISSIONS),
        "default_events": list(DEFAULT_EVENTS),
    }


def as_yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, width=110)


def as_form(document: dict[str, Any], github_url: str = DEFAULT_GITHUB_URL, org: str | None = None) -> str:
    """A page whose button POSTs the manifest to GitHub, as the manifest flow requires (a browser
    request, signed in to GitHub); for an organization's App when `org` is given."""
    target = (
        f"{github_url.rstrip('/')}/organizations/{org}/settings/apps/new"
        if org
        else (f"{github_url.rstrip('/')}/settings/apps/new")
    )
    value = html.escape(json.dumps(document), quote=True)
    return (
        "<!doctype html>\n"
        f"<title>Register {html.escape(document['name'])}</title>\n"
        f'<form action="{html.escape(target, quote=True)}" method="post">\n'
        f'  <input type="hidden" name="manifest" value="{value}">\n'
        f'  <button type="submit">Register the GitHub App {html.escape(document["name"])}</button>\n'
        "</form>\n"
    )


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) URL such as https://bot.example.com")
    if parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"{value!r}: give the bot's base URL, without query or fragment")
    return value.rstrip("/")


def _webhook_path(value: str) -> str:
    if not value.startswith("/"):
        raise argparse.ArgumentTypeError(f"{value!r} must start with '/'")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `app-manifest` command to the `orchestrator-bot` command line."""
    parser = subparsers.add_parser(
        "app-manifest",
        help="print the GitHub App manifest for a bot served at a URL",
        description="Print the GitHub App manifest (app-manifest.yml) with the bot's URLs filled in: "
        "the webhook at URL + --webhook-path. With --format html, a page that registers the App "
        "through GitHub's manifest flow (see the README, section Deploy).",
    )
    _add_arguments(parser)
    parser.set_defaults(handler=cmd_app_manifest)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", required=True, type=_base_url, help="the bot's public base URL, e.g. https://bot.example.com"
    )
    parser.add_argument(
        "--name", default=DEFAULT_NAME, help="the App's name on GitHub (default: %(default)s)"
    )
    parser.add_argument(
        "--webhook-path",
        default=DEFAULT_WEBHOOK_PATH,
        type=_webhook_path,
        help="ORCHESTRATOR_WEBHOOK_PATH of the deployment (default: %(default)s)",
    )
    parser.add_argument(
        "--format", choices=FORMATS, default="json", help="output format (default: %(default)s)"
    )
    parser.add_argument("--org", help="with --format html: register the App for this organization")
    parser.add_argument(
        "--github-url",
        default=DEFAULT_GITHUB_URL,
        type=_base_url,
        help="with --format html: GitHub's web URL, for GitHub Enterprise Server (default: %(default)s)",
    )


def cmd_app_manifest(args: argparse.Namespace) -> int:
    if args.org and args.format != "html":
        print("orchestrator-bot app-manifest: --org only applies to --format html", file=sys.stderr)
        return 2
    document = manifest(args.url, args.name, args.webhook_path)
    if args.format == "yaml":
        sys.stdout.write(as_yaml(document))
    elif args.format == "html":
        sys.stdout.write(as_form(document, args.github_url, args.org))
    else:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.app_manifest", description=__doc__)
    _add_arguments(parser)
    return cmd_app_manifest(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
