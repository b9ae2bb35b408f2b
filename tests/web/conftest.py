"""The run page's fixtures: the whole stack with a store (SQLite, or the suite's PostgreSQL), and a
person's browser-like HTTP client that signs in through the local GitHub's OAuth pages."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client

from bot.sandbox.stack import Stack, running_stack
from tests.flows.conftest import api_client_for, eventually
from tests.flows.test_feedback import command, run_in_phase
from tests.postgres import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]


@pytest.fixture
async def paged(tmp_path: Path) -> AsyncIterator[tuple[Stack, client.ApiClient]]:
    """serve + controller + local APIs, the runs kept in a SQLite file, the run pages served."""
    async with (
        running_stack(store_url=f"sqlite:///{tmp_path}/runs.sqlite3") as stack,
        await api_client_for(stack) as api,
    ):
        yield stack, api


@dataclass
class Browser:
    """A person's HTTP client: keeps cookies, follows nothing by itself."""

    stack: Stack
    session: aiohttp.ClientSession

    async def get(self, url: str) -> aiohttp.ClientResponse:
        response = await self.session.get(self._absolute(url), allow_redirects=False)
        await response.read()
        return response

    async def form_token(self, page: str) -> str:
        """The CSRF token in the forms of `page` (as the person's browser has it)."""
        answer = await self.get(page)
        assert answer.status == 200, await answer.text()
        [token] = set(re.findall(r'name="form_token" value="([0-9a-f]{64})"', await answer.text()))
        return token

    async def post(self, url: str, fields: dict[str, str]) -> aiohttp.ClientResponse:
        response = await self.session.post(self._absolute(url), data=fields, allow_redirects=False)
        await response.read()
        return response

    def _absolute(self, url: str) -> str:
        return url if url.startswith("http") else self.stack.public_url + url

    async def sign_in(self, login: str, page: str = "/runs") -> aiohttp.ClientResponse:
        """Open `page`, follow the sign-in through the local GitHub as `login`, land back on `page`."""
        to_login = await self.get(page)
        assert to_login.status == 302 and to_login.headers["Location"].startswith("/auth/login?next=")
        to_github = await self.get(to_login.headers["Location"])
        assert to_github.status == 302
        callback = await self.authorize(to_github.headers["Location"], login)
        landed = await self.get(callback)
        assert landed.status == 302, await landed.text()
        return await self.get(landed.headers["Location"])

    async def authorize(self, authorize_url: str, login: str, decision: str = "authorize") -> str:
        """On GitHub's page: sign in as `login` and authorize; where GitHub sends the browser back."""
        form_page = await self.session.get(authorize_url)
        fields = {
            name: html.unescape(value)
            for name, value in re.findall(r'name="(\w+)" value="([^"]*)"', await form_page.text())
        }
        answer = await self.session.post(
            self.stack.gh.url + "/login/oauth/authorize",
            data={**fields, "login": login, "decision": decision},
            allow_redirects=False,
        )
        assert answer.status == 302
        return answer.headers["Location"]


@pytest.fixture
async def browser(paged: tuple[Stack, client.ApiClient]) -> AsyncIterator[Browser]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield Browser(paged[0], session)


async def finished_run(stack: Stack, api: client.ApiClient, body: str = "/code 5 --service trader") -> str:
    """A command on PR 7 whose run succeeded, with its whole transcript in the store."""
    name, _ = await command(stack, 7, body, pr=True)
    await eventually(lambda: run_in_phase(api, name, "Succeeded"), within=30, what="the run to succeed")
    await transcript_stored(stack, name)
    return name


async def transcript_stored(
    stack: Stack, name: str, kinds: tuple[str, ...] = ("result", "phase")
) -> list[Any]:
    """Wait until the store holds the run's result line and its final phase."""
    from bot.store import open_store

    assert stack.settings.store.url is not None
    store = open_store(stack.settings.store.url.get_secret_value())
    try:

        async def stored() -> list[Any] | None:
            rows = await store.events(stack.settings.orchestrator.namespace, name)
            run = await store.run(stack.settings.orchestrator.namespace, name)
            done = run is not None and run.phase in ("Succeeded", "Failed")
            return rows if done and all(any(r.kind == k for r in rows) for k in kinds) else None

        return await eventually(stored, within=20, what="the transcript in the store")
    finally:
        await store.close()
