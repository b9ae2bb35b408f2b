"""`orchestrator-bot send-comment`: play a person commenting on GitHub, against a running demo.

With `--github-api` (the demo's local GitHub API) the comment is stored there and that server signs
and delivers the `issue_comment` webhook, as github.com does. With `--webhook-url` and `--secret`
this command builds the delivery from a real recorded payload, signs it and posts it itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from typing import Any

import aiohttp

from bot.sandbox import payloads
from bot.sandbox.deliveries import send_webhook
from bot.sandbox.github.api import USER_COMMENT_PATH


async def _via_github(args: argparse.Namespace) -> tuple[int, str]:
    wanted = {"repository": args.repository, "issue": args.issue, "user": args.user, "body": args.body}
    async with (
        aiohttp.ClientSession() as session,
        session.post(args.github_api.rstrip("/") + USER_COMMENT_PATH, json=wanted) as response,
    ):
        answer: dict[str, Any] = await response.json()
    if response.status != 201:
        return response.status, str(answer.get("message"))
    delivery = answer["delivery"]
    return int(delivery["status_code"]), f"delivered {delivery['guid']} for comment {answer['comment']['id']}"


async def _direct(args: argparse.Namespace) -> tuple[int, str]:
    repo = payloads.RepoRef.parse(args.repository)
    payload = payloads.issue_comment_created(
        repo,
        args.issue,
        args.body,
        args.user,
        on_pull_request=args.pull_request,
        installation_id=args.installation_id,
    )
    async with aiohttp.ClientSession() as session:
        return await send_webhook(session, args.webhook_url, "issue_comment", payload, args.secret)


def cmd_send_comment(args: argparse.Namespace) -> int:
    if not args.github_api and not (args.webhook_url and args.secret):
        print(
            "orchestrator-bot send-comment: give --github-api, or --webhook-url and --secret", file=sys.stderr
        )
        return 2
    try:
        status, text = asyncio.run(_via_github(args) if args.github_api else _direct(args))
    except (aiohttp.ClientError, OSError) as exc:
        print(f"orchestrator-bot send-comment: cannot reach the server: {exc}", file=sys.stderr)
        return 1
    with contextlib.suppress(ValueError):
        text = json.dumps(json.loads(text), indent=2)
    print(f"{status} {text}")
    return 0 if 200 <= status < 300 else 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "send-comment",
        help="comment on an issue of the demo's local GitHub (or sign and post the delivery yourself)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("body", help="the comment text, e.g. '/code 9 --service trader'")
    parser.add_argument("--repository", default="demo-org/trader", help="owner/name (default: %(default)s)")
    parser.add_argument(
        "--issue", type=int, default=5, help="issue or pull request number (default: %(default)s)"
    )
    parser.add_argument("--user", default="alice", help="who comments (default: %(default)s)")
    parser.add_argument(
        "--github-api", metavar="URL", help="the demo's local GitHub API: it delivers the webhook"
    )
    parser.add_argument("--webhook-url", metavar="URL", help="post the signed delivery straight to this bot")
    parser.add_argument("--secret", help="webhook secret to sign with (with --webhook-url)")
    parser.add_argument(
        "--installation-id", type=int, default=1, help="installation in the payload (default: 1)"
    )
    parser.add_argument("--pull-request", action="store_true", help="the number is a pull request")
    parser.set_defaults(handler=cmd_send_comment)
