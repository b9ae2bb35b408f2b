"""The run's own page over HTTP (issue 20): sign-in through the local GitHub's OAuth pages, who may see
what, what the page shows, and that it outlives the Job, the Pod and the controller. The whole stack
runs: local Kubernetes and GitHub APIs, serve, controller, the store."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from kubernetes_asyncio import client
from yarl import URL

from bot.sandbox.stack import NAMESPACE, Stack, running_stack
from bot.web.session import OAUTH_COOKIE, SESSION_COOKIE, Sealer
from tests.core.test_redact import PLANTED
from tests.flows.conftest import api_client_for

from .conftest import Browser, finished_run, transcript_stored


def sealer_of(stack: Stack) -> Sealer:
    """The sessions' sealer of a stack that serves the run page (which always has a session secret)."""
    secret = stack.settings.web.session_secret
    assert secret is not None, "the stack serves the run page without a session secret"
    return Sealer(secret.get_secret_value())


TOOL_LINES = ("TodoWrite: 0/3 done", "Bash: cat src/orders.py secrets.txt", "Edit src/orders.py")


async def test_without_a_session_the_page_sends_the_person_to_sign_in_with_github(
    paged: tuple[Stack, client.ApiClient], browser: Browser
) -> None:
    stack, _ = paged
    page = await browser.get("/runs/orchestrator/code-5-trader-0123456789")
    assert page.status == 302
    assert page.headers["Location"] == "/auth/login?next=/runs/orchestrator/code-5-trader-0123456789"
    login = await browser.get(page.headers["Location"])
    target = urlsplit(login.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{stack.gh.url}/login/oauth/authorize"
    query = parse_qs(target.query)
    assert query["client_id"] == [stack.gh.client_id]
    assert query["redirect_uri"] == [f"{stack.public_url}/auth/callback"]
    assert len(query["state"][0]) >= 32
    cookie = login.headers["Set-Cookie"]
    assert cookie.startswith(OAUTH_COOKIE + "=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert query["state"][0] not in cookie  # sealed: the state is not readable in the cookie


async def test_a_signed_in_reader_sees_the_todos_the_tool_calls_and_the_cost(
    paged: tuple[Stack, client.ApiClient], browser: Browser
) -> None:
    stack, api = paged
    name = await finished_run(stack, api)
    page = await browser.sign_in("bob", f"/runs/{NAMESPACE}/{name}")  # bob may read, not write
    text = await page.text()
    assert page.status == 200
    for todo in ("Read src/orders.py", "Fix rounding in place_order", "Run the tests"):
        assert f'<li class="todo completed">{todo}</li>' in text
    for line in TOOL_LINES:
        assert line in text
    assert '<dd data-fact="cost">$0.10</dd>' in text and '<dd data-fact="turns">15</dd>' in text
    assert "✅ finished (15 turns, 2.4 s, $0.10)" in text
    assert "[redacted]" in text and not any(secret in text for secret in PLANTED)
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'; script-src 'self';")
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "<script src=" not in text  # a finished run needs no script at all
    # The check run's Details button and the tracking comment lead here.
    checks = [c for c in stack.gh.check_runs(stack.scene.repo) if c["external_id"] == name]
    assert checks and checks[-1]["details_url"] == stack.run_page_url(name)
    assert any(stack.run_page_url(name) in c["body"] for c in stack.gh.comments(stack.scene.repo, 7))


async def test_the_session_cookie_is_sealed_and_the_user_token_never_reaches_the_browser(
    paged: tuple[Stack, client.ApiClient], browser: Browser
) -> None:
    stack, _ = paged
    landed = await browser.sign_in("alice")
    assert landed.status == 200
    cookies = {cookie.key: cookie for cookie in browser.session.cookie_jar}
    session = cookies[SESSION_COOKIE]
    assert session["httponly"] and session["samesite"] == "Lax" and not session["secure"]  # http here
    assert 8 * 3600 - 60 < int(session["max-age"]) <= 8 * 3600  # with the user token
    tokens = list(stack.gh.oauth.user_tokens)
    assert len(tokens) == 1 and tokens[0].startswith("ghu_")
    assert tokens[0] not in session.value and tokens[0] not in await landed.text()
    assert OAUTH_COOKIE not in cookies  # used once


async def test_a_tampered_state_is_refused_with_400(browser: Browser) -> None:
    login = await browser.get("/auth/login?next=/runs")
    callback = await browser.authorize(login.headers["Location"], "alice")
    tampered = re.sub(r"state=[^&]+", "state=somebody-elses-state", callback)
    answer = await browser.get(tampered)
    assert answer.status == 400 and "did not start in this browser" in await answer.text()
    # Without the browser's own cookie, even the right state is refused.
    browser.session.cookie_jar.clear()
    assert (await browser.get(callback)).status == 400


@pytest.mark.parametrize("cookie", ["forged", "expired", "signed out"])
async def test_a_forged_expired_or_signed_out_session_means_signing_in_again(
    paged: tuple[Stack, client.ApiClient], browser: Browser, cookie: str
) -> None:
    stack, _ = paged
    assert (await browser.sign_in("alice")).status == 200
    sealer = sealer_of(stack)
    if cookie == "forged":
        browser.session.cookie_jar.update_cookies(
            {SESSION_COOKIE: "gAAAAAB" + "x" * 100}, URL(stack.public_url)
        )
    elif cookie == "expired":
        value = sealer.seal_session("any-session-id", "alice", expires_at=1000.0, now=900.0)
        browser.session.cookie_jar.update_cookies({SESSION_COOKIE: value}, URL(stack.public_url))
    else:
        # Signing out takes the page's form token: another site cannot sign a person out.
        assert (await browser.post("/auth/logout", {})).status == 403
        assert (await browser.get("/runs")).status == 200
        token = await browser.form_token("/runs")
        assert (await browser.post("/auth/logout", {"form_token": token})).status == 302
    page = await browser.get("/runs")
    assert page.status == 302 and page.headers["Location"].startswith("/auth/login?next=")


async def test_only_people_who_can_read_the_repository_see_its_runs(
    paged: tuple[Stack, client.ApiClient], browser: Browser
) -> None:
    stack, api = paged
    name = await finished_run(stack, api)
    repo = stack.gh.state.repo("demo-org", "trader")
    assert repo is not None
    repo.private = True
    assert (await browser.sign_in("mallory")).status == 200  # signed in, no role on the repository
    refused = await browser.get(f"/runs/{NAMESPACE}/{name}")
    assert refused.status == 403 and "no run here that you may see" in await refused.text()
    assert name not in await (await browser.get("/runs")).text()
    missing = await browser.get(f"/runs/{NAMESPACE}/code-5-trader-0000000000")
    assert missing.status == 404 and "no run here that you may see" in await missing.text()
    assert (await browser.get(f"/runs/{NAMESPACE}/{name}/live")).status == 403

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        reader = Browser(stack, other)
        assert (await reader.sign_in("dave", f"/runs/{NAMESPACE}/{name}")).status == 200  # triage reads
        assert name in await (await reader.get("/runs")).text()


async def test_the_runs_list_is_newest_first_filtered_and_paginated(
    paged: tuple[Stack, client.ApiClient], browser: Browser
) -> None:
    stack, api = paged
    first = await finished_run(stack, api, "/docs")
    second = await finished_run(stack, api, "/code 5 --service trader")
    await browser.sign_in("alice")
    listing = await (await browser.get("/runs")).text()
    assert listing.index(second) < listing.index(first)
    only_docs = await (
        await browser.get("/runs?phase=Succeeded&repository=demo-org%2Ftrader&user=alice")
    ).text()
    assert first in only_docs and second in only_docs
    nobody = await (await browser.get("/runs?user=carol")).text()
    assert first not in nobody and "No runs you may see with these filters" in nobody
    assert 'href="/runs?page=2"' not in listing  # two runs: one page


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_the_page_outlives_the_job_the_pod_and_a_controller_restart(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = (
        f"sqlite:///{tmp_path}/runs.sqlite3"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    async with running_stack(store_url=url) as stack, await api_client_for(stack) as api:
        name = await finished_run(stack, api)
        stored = await transcript_stored(stack, name)
        batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
        await batch.delete_namespaced_job(name, NAMESPACE, propagation_policy="Background")
        for pod in (await core.list_namespaced_pod(NAMESPACE, label_selector=f"job-name={name}")).items:
            await core.delete_namespaced_pod(pod.metadata.name, NAMESPACE)
        await stack.stop_controller()
        stack.start_controller()
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            page = await Browser(stack, session).sign_in("alice", f"/runs/{NAMESPACE}/{name}")
            text = await page.text()
        assert page.status == 200
        for line in TOOL_LINES:
            assert line in text
        assert text.count('class="item tool') == sum(
            1
            for row in stored
            if row.kind == "assistant"
            for b in row.data["blocks"]
            if b["type"] == "tool_use"
        )
        assert "✅ finished (15 turns, 2.4 s, $0.10)" in text
        assert len(await transcript_stored(stack, name)) == len(stored)  # nothing stored twice


async def test_readyz_shows_the_store_and_stays_ready_when_the_store_is_down(tmp_path: Path) -> None:
    async with running_stack(controller=False, store_url=f"sqlite:///{tmp_path}/runs.sqlite3") as stack:
        async with stack.session.get(stack.public_url + "/readyz") as answer:
            body = await answer.json()
        assert answer.status == 200 and body["detail"]["store"] == {"up": True}
    async with running_stack(controller=False, store_url="postgresql://nobody@127.0.0.1:9/none") as stack:
        async with stack.session.get(stack.public_url + "/readyz") as answer:
            body = await answer.json()
        assert answer.status == 200 and body["status"] == "ready"
        assert body["detail"]["store"]["up"] is False and "PostgreSQL" in body["detail"]["store"]["error"]
        sealer = sealer_of(stack)
        cookie = {"Cookie": f"{SESSION_COOKIE}={sealer.seal_session('sid', 'alice', 2e9, 1e9)}"}
        async with stack.session.get(
            stack.public_url + "/runs", headers=cookie, allow_redirects=False
        ) as page:
            assert page.status == 503 and "run store cannot be reached" in await page.text()
