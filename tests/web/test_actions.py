"""The run page's Cancel and Retry buttons: a POST with the page's form token (CSRF), by a signed-in
person who can read the run, decided by the same rules as `/cancel` and `/retry` (write access; a
retry acts as the person, with their own SSH secret). serve + controller + local APIs, SQLite store."""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client

from bot.core.reconcile import CANCEL_ANNOTATION
from bot.sandbox.kube import JobOutcome
from bot.sandbox.stack import NAMESPACE, Stack
from tests.flows.conftest import eventually, list_runs
from tests.flows.test_feedback import command, run_in_phase

from .conftest import Browser


def page_of(name: str) -> str:
    return f"/runs/{NAMESPACE}/{name}"


async def stored(stack: Stack, name: str, phase: str) -> None:
    """Wait until the store shows the run in `phase` (the page reads the store)."""
    from bot.store import open_store

    assert stack.settings.store.url is not None
    store = open_store(stack.settings.store.url.get_secret_value())
    try:

        async def there() -> bool:
            run = await store.run(NAMESPACE, name)
            return run is not None and run.phase == phase

        await eventually(there, within=20, what=f"{name} {phase} in the store")
    finally:
        await store.close()


async def running(stack: Stack, api: client.ApiClient) -> str:
    stack.default_outcome = lambda job: JobOutcome(succeeded=True, run_seconds=60)
    name, _ = await command(stack, 7, "/code 5 --service trader", pr=True)
    await eventually(lambda: run_in_phase(api, name, "Running"), within=30, what="the run running")
    await stored(stack, name, "Running")
    return name


async def failed(stack: Stack, api: client.ApiClient) -> str:
    stack.default_outcome = lambda job: JobOutcome(succeeded=False, run_seconds=0.1)
    name, _ = await command(stack, 7, "/code 5 --service trader", pr=True)
    await eventually(lambda: run_in_phase(api, name, "Failed"), within=30, what="the run failed")
    await stored(stack, name, "Failed")
    return name


async def code_run(api: client.ApiClient, name: str) -> dict[str, Any]:
    [run] = [run for run in await list_runs(api, "CodeRun") if run["metadata"]["name"] == name]
    return run


async def test_a_writer_cancels_a_running_run_from_its_page(
    paged: tuple[Stack, client.ApiClient], browser: Browser
) -> None:
    stack, api = paged
    name = await running(stack, api)
    assert (await browser.sign_in("alice", page_of(name))).status == 200
    page = await (await browser.get(page_of(name))).text()
    assert f'action="/runs/{NAMESPACE}/{name}/cancel"' in page and "Retry this run" not in page
    token = await browser.form_token(page_of(name))

    # Without the form's token (a page of another site posting here), nothing happens.
    for fields in ({}, {"form_token": "0" * 64}):
        refused = await browser.post(f"{page_of(name)}/cancel", fields)
        assert refused.status == 403 and "The form has expired" in await refused.text()
    assert CANCEL_ANNOTATION not in (await code_run(api, name))["metadata"]["annotations"]

    answer = await browser.post(f"{page_of(name)}/cancel", {"form_token": token})
    assert answer.status == 202, await answer.text()
    assert "Cancel requested" in await answer.text()
    await eventually(lambda: run_in_phase(api, name, "Cancelled"), what="the run cancelled")
    assert (await code_run(api, name))["metadata"]["annotations"][CANCEL_ANNOTATION] == "alice"


async def test_a_reader_sees_the_button_but_may_not_press_it(
    paged: tuple[Stack, client.ApiClient], browser: Browser
) -> None:
    stack, api = paged
    name = await running(stack, api)
    assert (await browser.sign_in("bob", page_of(name))).status == 200
    token = await browser.form_token(page_of(name))
    answer = await browser.post(f"{page_of(name)}/cancel", {"form_token": token})
    assert answer.status == 403
    assert "write" in await answer.text()
    assert CANCEL_ANNOTATION not in (await code_run(api, name))["metadata"]["annotations"]
    assert await run_in_phase(api, name, "Running")


async def test_someone_who_cannot_read_the_repository_cannot_press_it(
    paged: tuple[Stack, client.ApiClient], browser: Browser
) -> None:
    stack, api = paged
    name = await running(stack, api)
    repo = stack.gh.state.repo("demo-org", "trader")
    assert repo is not None
    repo.private = True
    assert (await browser.sign_in("mallory", "/runs")).status == 200
    token = await browser.form_token("/runs")  # a valid token of her own session
    answer = await browser.post(f"{page_of(name)}/cancel", {"form_token": token})
    assert answer.status == 403 and "no run here that you may see" in await answer.text()
    assert CANCEL_ANNOTATION not in (await code_run(api, name))["metadata"]["annotations"]


async def test_retry_on_a_failed_run_starts_the_next_attempt_once(
    paged: tuple[Stack, client.ApiClient], browser: Browser
) -> None:
    stack, api = paged
    name = await failed(stack, api)
    assert (await browser.sign_in("carol", page_of(name))).status == 200
    page = await (await browser.get(page_of(name))).text()
    assert f'action="/runs/{NAMESPACE}/{name}/retry"' in page and "Cancel this run" not in page
    token = await browser.form_token(page_of(name))

    answer = await browser.post(f"{page_of(name)}/retry", {"form_token": token})
    assert answer.status == 202, await answer.text()
    runs = {run["metadata"]["name"]: run for run in await list_runs(api, "CodeRun")}
    [retried] = [
        run
        for run in runs.values()
        if run["metadata"]["annotations"].get("orchestrator.platform/retry-of") == name
    ]
    assert retried["spec"]["contextVersion"] == 2 and retried["spec"]["githubUser"] == "carol"
    assert f'href="{page_of(retried["metadata"]["name"])}"' in await answer.text()
    # Pressed twice (a double click, a reload that posts again): the same run, nothing new.
    again = await browser.post(f"{page_of(name)}/retry", {"form_token": token})
    assert again.status == 202 and "already retried" in await again.text()
    assert len(await list_runs(api, "CodeRun")) == len(runs)


async def test_retry_without_an_ssh_secret_says_so_and_starts_nothing(
    paged: tuple[Stack, client.ApiClient], browser: Browser
) -> None:
    stack, api = paged
    name = await failed(stack, api)
    stack.gh.set_permission(stack.scene.repo, "bob", "write")  # may retry, but has no SSH secret
    assert (await browser.sign_in("bob", page_of(name))).status == 200
    token = await browser.form_token(page_of(name))
    answer = await browser.post(f"{page_of(name)}/retry", {"form_token": token})
    assert answer.status == 409
    assert "SSH" in await answer.text() or "secret" in await answer.text()
    assert len(await list_runs(api, "CodeRun")) == 1
