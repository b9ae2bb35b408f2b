"""The local GitHub's OAuth web flow and user tokens, as github.com behaves (bot/sandbox/github/oauth.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest

from bot.sandbox.github import LocalGitHubAPI
from bot.sandbox.github.seed import seed_demo

CALLBACK = "http://127.0.0.1:8080/auth/callback"


@pytest.fixture
async def gh() -> AsyncIterator[LocalGitHubAPI]:
    async with LocalGitHubAPI() as api:
        seed_demo(api)
        api.oauth.callback_urls = [CALLBACK]
        yield api


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def code_for(gh: LocalGitHubAPI, http: aiohttp.ClientSession, login: str, state: str = "s1") -> str:
    query = urlencode({"client_id": gh.client_id, "redirect_uri": CALLBACK, "state": state})
    page = await (await http.get(f"{gh.url}/login/oauth/authorize?{query}")).text()
    assert f"<option>{login}</option>" in page
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page))
    answer = await http.post(
        f"{gh.url}/login/oauth/authorize",
        data={**fields, "login": login, "decision": "authorize"},
        allow_redirects=False,
    )
    back = urlsplit(answer.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    query_back = parse_qs(back.query)
    assert query_back["state"] == [state]
    return query_back["code"][0]


async def exchange(gh: LocalGitHubAPI, http: aiohttp.ClientSession, **fields: str) -> dict[str, object]:
    values = {
        "client_id": gh.client_id,
        "client_secret": gh.client_secret,
        "redirect_uri": CALLBACK,
        **fields,
    }
    answer = await http.post(
        f"{gh.url}/login/oauth/access_token", data=values, headers={"Accept": "application/json"}
    )
    assert answer.status == 200  # GitHub answers 200 with an `error` field when it refuses
    body: dict[str, object] = await answer.json()
    return body


async def test_a_code_becomes_an_expiring_user_token_once(
    gh: LocalGitHubAPI, http: aiohttp.ClientSession
) -> None:
    code = await code_for(gh, http, "alice")
    token = await exchange(gh, http, code=code)
    assert str(token["access_token"]).startswith("ghu_") and str(token["refresh_token"]).startswith("ghr_")
    assert (token["expires_in"], token["token_type"], token["scope"]) == (28800, "bearer", "")
    again = await exchange(gh, http, code=code)
    assert again["error"] == "bad_verification_code"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"client_secret": "wrong"}, "incorrect_client_credentials"),
        ({"client_id": "Iv23someone-else"}, "incorrect_client_credentials"),
        ({"redirect_uri": "http://127.0.0.1:8080/elsewhere"}, "redirect_uri_mismatch"),
        ({"code": "0123456789abcdef0123"}, "bad_verification_code"),
    ],
)
async def test_a_refused_exchange_says_why(
    gh: LocalGitHubAPI, http: aiohttp.ClientSession, change: dict[str, str], error: str
) -> None:
    code = await code_for(gh, http, "alice")
    assert (await exchange(gh, http, **{"code": code, **change}))["error"] == error


async def test_the_answer_is_form_encoded_unless_json_is_asked_for(
    gh: LocalGitHubAPI, http: aiohttp.ClientSession
) -> None:
    code = await code_for(gh, http, "alice")
    values = {"client_id": gh.client_id, "client_secret": gh.client_secret, "code": code}
    answer = await http.post(f"{gh.url}/login/oauth/access_token", data=values)
    assert answer.content_type == "application/x-www-form-urlencoded"
    assert parse_qs(await answer.text())["access_token"][0].startswith("ghu_")


async def test_a_callback_url_that_is_not_the_apps_is_refused(
    gh: LocalGitHubAPI, http: aiohttp.ClientSession
) -> None:
    query = urlencode({"client_id": gh.client_id, "redirect_uri": "https://evil.example/cb", "state": "s"})
    page = await http.get(f"{gh.url}/login/oauth/authorize?{query}")
    assert page.status == 400 and "redirect_uri is not associated" in await page.text()


async def test_cancelling_sends_the_browser_back_with_access_denied(
    gh: LocalGitHubAPI, http: aiohttp.ClientSession
) -> None:
    fields = {
        "client_id": gh.client_id,
        "redirect_uri": CALLBACK,
        "state": "s9",
        "login": "alice",
        "decision": "cancel",
    }
    answer = await http.post(f"{gh.url}/login/oauth/authorize", data=fields, allow_redirects=False)
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["error"] == ["access_denied"]


async def test_a_user_token_is_its_user_and_reads_what_both_the_user_and_the_app_can(
    gh: LocalGitHubAPI, http: aiohttp.ClientSession
) -> None:
    repo = gh.state.repo("demo-org", "trader")
    assert repo is not None
    repo.private = True

    async def get(path: str, token: str) -> tuple[int, dict[str, object]]:
        answer = await http.get(gh.url + path, headers={"Authorization": f"Bearer {token}"})
        return answer.status, await answer.json()

    alice, mallory = gh.oauth.token_for("alice"), gh.oauth.token_for("mallory")
    status, user = await get("/user", alice)
    assert status == 200 and user["login"] == "alice" and user["user_view_type"] == "private"
    assert (await get("/repos/demo-org/trader", alice))[0] == 200
    assert (await get("/repos/demo-org/trader", mallory))[0] == 404  # private, no role: as if absent
    write = await http.post(
        gh.url + "/repos/demo-org/trader/issues/5/comments",
        json={"body": "hi"},
        headers={"Authorization": f"Bearer {alice}"},
    )
    assert write.status == 403
    assert (await get("/user", gh.installation_token(1)))[0] == 403
    expired = gh.oauth.token_for("alice", lifetime=-1)
    assert (await get("/user", expired))[0] == 401
    assert gh.response_problems() == []
