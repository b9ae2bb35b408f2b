"""`orchestrator-bot sandbox github-api` (and `python -m bot.sandbox.github`): run the local GitHub API."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.sandbox.github.api import LocalGitHubAPI
from bot.sandbox.github.seed import seed_demo

DEFAULT_PORT = 8011
DESCRIPTION = """\
Serve a local GitHub API on HOST:PORT that answers the endpoints the bot uses (installation tokens,
installations, collaborator permissions, issue comments and reactions, issues and pull requests, check
runs, app webhook deliveries) and checks every request against GitHub's OpenAPI description.

The App's private key is generated at start (or read with --private-key) and written to a file, so the
bot can be pointed at this server with the printed GITHUB_* variables. With --webhook-url, deliveries
redelivered through the API are POSTed there, signed with --webhook-secret."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port to listen on; 0 picks one (default: %(default)s)"
    )
    parser.add_argument(
        "--app-id", type=int, default=12345, help="the GitHub App's id (default: %(default)s)"
    )
    parser.add_argument(
        "--app-slug",
        default="orchestrator-bot",
        help="the App's slug; its bot user is SLUG[bot] (default: %(default)s)",
    )
    parser.add_argument(
        "--private-key",
        type=Path,
        metavar="FILE",
        help="use this PEM key for the App instead of generating one",
    )
    parser.add_argument(
        "--write-private-key",
        type=Path,
        metavar="FILE",
        help="where to write the App's private key (default: a file in a new temporary directory)",
    )
    parser.add_argument(
        "--webhook-url", help="where webhook (re)deliveries are POSTed, e.g. http://127.0.0.1:8080/webhook"
    )
    parser.add_argument(
        "--webhook-secret", help="the secret deliveries are signed with (GITHUB_WEBHOOK_SECRET)"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="preload installation 1 on demo-org, repositories demo-org/trader and demo-org/platform, users "
        "alice (write), carol (maintain), erin (admin), bob (read), dave (triage), mallory (no role), "
        "issue #5 and pull request #7",
    )


def register(subparsers: Any) -> None:
    """Add the `github-api` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "github-api",
        help="run the local GitHub API (demo and tests)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted (Ctrl-C or SIGTERM)."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


async def _serve(args: argparse.Namespace) -> None:
    key = args.private_key.read_text() if args.private_key else None
    gh = LocalGitHubAPI(
        args.port,
        args.host,
        args.app_id,
        args.webhook_url,
        args.webhook_secret,
        app_slug=args.app_slug,
        private_key_pem=key,
    )
    async with gh:
        key_file = args.write_private_key or Path(tempfile.mkdtemp(prefix="local-github-")) / "app.pem"
        key_file.write_text(gh.private_key_pem)
        key_file.chmod(0o600)
        print(f"local GitHub API listening on {gh.url} (App {gh.app_id}, client id {gh.client_id})")
        print(f"export GITHUB_API_URL={gh.url} GITHUB_APP_ID={gh.app_id} GITHUB_PRIVATE_KEY_PATH={key_file}")
        if args.demo:
            scene = seed_demo(gh)
            roles = ", ".join(f"{login} ({role})" for login, role in scene.roles.items())
            print(
                f"demo: installation {scene.installation_id} on {scene.repo.owner}; repositories "
                f"{scene.repo.full_name} and {scene.platform_repo.full_name}; {roles}; issue #{scene.issue_number}, "
                f"pull request #{scene.pull_number}"
            )
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop.set)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.sandbox.github",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
