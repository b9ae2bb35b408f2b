"""Helpers shared by the local GitHub API tests: one App key per session, a small scene, and gidgethub
clients (the real aiohttp client, over HTTP). Test modules define their pytest fixtures with these."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import aiohttp
from gidgethub import apps
from gidgethub.aiohttp import GitHubAPI

from bot.sandbox.github import LocalGitHubAPI, RepoRef
from bot.sandbox.github.auth import generate_private_key_pem

INSTALLATION = 1
OTHER_INSTALLATION = 2


@cache
def app_key() -> str:
    """One RSA key for every test server (generating one per test would dominate the run time)."""
    return generate_private_key_pem()


@cache
def stranger_key() -> str:
    return generate_private_key_pem()


@dataclass(frozen=True)
class Scene:
    trader: RepoRef  # public, installation 1
    vault: RepoRef  # private, installation 1
    secret: RepoRef  # private, installation 2 (another organization)
    open_repo: RepoRef  # public, installation 2


def build_scene(gh: LocalGitHubAPI) -> Scene:
    gh.add_installation(INSTALLATION, "demo-org")
    gh.add_installation(OTHER_INSTALLATION, "other-org")
    trader = gh.add_repo("demo-org/trader", "main", installation_id=INSTALLATION)
    vault = gh.add_repo("demo-org/vault", "main", installation_id=INSTALLATION, private=True)
    secret = gh.add_repo("other-org/secret", "main", installation_id=OTHER_INSTALLATION, private=True)
    open_repo = gh.add_repo("other-org/open", "main", installation_id=OTHER_INSTALLATION)
    for login, role in {
        "alice": "write",
        "carol": "maintain",
        "dave": "triage",
        "erin": "admin",
        "bob": "read",
    }.items():
        gh.set_permission(trader, login, role)
    gh.add_user("mallory")
    gh.add_issue(trader, 5, title="Task 5", body="/code 5 --service trader", user="alice")
    gh.add_pull(trader, 7, head_ref="feature/x", user="alice")
    gh.add_issue(secret, 1, title="Hidden", user="mallory")
    gh.add_issue(open_repo, 1, title="Visible", user="mallory")
    return Scene(trader, vault, secret, open_repo)


@asynccontextmanager
async def local_github(**options: Any) -> AsyncIterator[LocalGitHubAPI]:
    async with LocalGitHubAPI(private_key_pem=app_key(), **options) as gh:
        build_scene(gh)
        yield gh


@asynccontextmanager
async def github_client(gh: LocalGitHubAPI) -> AsyncIterator[GitHubAPI]:
    async with aiohttp.ClientSession() as session:
        yield GitHubAPI(session, "orchestrator-bot-tests", base_url=gh.url)


async def installation_token(api: GitHubAPI, gh: LocalGitHubAPI, installation_id: int = INSTALLATION) -> str:
    """A token the way the bot gets one: App JWT -> POST /app/installations/{id}/access_tokens."""
    response = await apps.get_installation_access_token(
        api, installation_id=str(installation_id), app_id=str(gh.app_id), private_key=gh.private_key_pem
    )
    return str(response["token"])
