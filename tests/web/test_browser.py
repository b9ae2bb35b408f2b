"""The run page in a real browser: Debian's Chromium, headless, driven by Playwright (issue 20).

A person opens a run's page, signs in through the local GitHub's OAuth page, sees the todo list, the
tool calls and the cost, and watches new lines arrive without reloading; a screenshot is kept in
`test-artifacts/`. A hostile transcript runs no script and makes the browser load nothing from
elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from kubernetes_asyncio import client
from playwright import async_api as playwright_api

from bot.sandbox.kube import JobOutcome
from bot.sandbox.stack import NAMESPACE, Stack, pushed_branch
from tests.flows.conftest import eventually
from tests.flows.test_feedback import command, run_in_phase

from .conftest import transcript_stored
from .test_actions import running, stored

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
# As root, with no network but loopback (/work/.library/env/machines/python.md).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = (
    'Look: <img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> '
    "[click me](javascript:window.__pwned=3) ![pixel](http://198.51.100.7/pixel.png) "
    "<a href=http://198.51.100.7/>raw link</a>"
)
LATE_TEXT = "Now running the whole test suite"
LATE_GAP = 8.0
"""Seconds between the first half of the transcript and the second: the page is open by then."""


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    if not HAVE_CHROMIUM:  # never skipped: what a person sees would go untested
        pytest.fail("Chromium is not installed (.ci/run installs Debian's chromium)", pytrace=False)
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


def line(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields})


def assistant(number: int, *blocks: dict[str, Any]) -> str:
    message = {"id": f"msg_{number:04d}", "model": "claude-sonnet-4-20250514", "content": list(blocks)}
    return line("assistant", message=message)


def tool(number: int, name: str, **given: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": f"toolu_{number:04d}", "name": name, "input": given}


def result(number: int, content: str, is_error: bool = False) -> str:
    block = {
        "type": "tool_result",
        "tool_use_id": f"toolu_{number:04d}",
        "content": content,
        "is_error": is_error,
    }
    return line("user", message={"role": "user", "content": [block]})


TODOS = [
    {"id": "1", "content": "Read the order book", "status": "completed", "priority": "high"},
    {"id": "2", "content": "Fix the rounding", "status": "in_progress", "priority": "high"},
    {"id": "3", "content": "Run the tests", "status": "pending", "priority": "medium"},
]


def live_agent(job: dict[str, Any]) -> JobOutcome:
    """An agent that works, pauses `LATE_GAP` seconds (the page is opened then), and finishes."""
    first = [
        line(
            "system",
            subtype="init",
            session_id="s-1",
            model="claude-sonnet-4-20250514",
            cwd="/workspace/trader",
        ),
        assistant(1, tool(1, "TodoWrite", todos=TODOS)),
        result(1, "Todos have been modified successfully."),
        assistant(2, {"type": "text", "text": HOSTILE}),
        assistant(3, tool(3, "Bash", command="echo '<script>window.__pwned=4</script>'")),
        result(
            3, "<img src=x onerror=window.__pwned=5>\n" + "\n".join(f"output line {n}" for n in range(60))
        ),
    ]
    second = [
        assistant(4, {"type": "text", "text": f"**{LATE_TEXT}**"}),
        assistant(5, tool(5, "Bash", command="python3 -m pytest -q")),
        result(5, "1 failed", is_error=True),
        line(
            "result",
            subtype="success",
            is_error=False,
            result="Done.",
            num_turns=5,
            duration_ms=9000,
            total_cost_usd=0.37,
            session_id="s-1",
        ),
    ]
    timed = [(0.1 * index, text) for index, text in enumerate(first)]
    timed += [(LATE_GAP + 0.1 * index, text) for index, text in enumerate(second)]
    message = json.dumps({"branch": pushed_branch(job), "commit": "c" * 40})
    return JobOutcome(succeeded=True, termination_message=message, transcript=tuple(timed))


async def sign_in_in_the_browser(page: Any, stack: Stack, url: str, login: str) -> None:
    await page.goto(url)
    assert urlsplit(page.url).path == "/login/oauth/authorize"  # the local GitHub's sign-in page
    await page.select_option("#login", login)
    await page.click("#authorize")
    await page.wait_for_url(url)


async def test_a_person_signs_in_and_watches_the_transcript_grow_without_reloading(
    paged: tuple[Stack, client.ApiClient], chromium: Any
) -> None:
    stack, api = paged
    stack.default_outcome = live_agent
    name, _ = await command(stack, 7, "/code 5 --service trader", pr=True)
    await transcript_stored_first_half(stack, name)

    context = await chromium.new_context()
    page = await context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if urlsplit(r.url).hostname != "127.0.0.1" else None)
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    await sign_in_in_the_browser(page, stack, stack.run_page_url(name), "alice")

    assert await page.inner_text("h1") == "code task-5 (trader) Running"
    assert await page.locator("li.todo").all_inner_texts() == [t["content"] for t in TODOS]
    assert await page.locator("li.todo.in_progress").inner_text() == "Fix the rounding"
    assert await page.locator("details.tool > summary").all_inner_texts() == [
        "🔧 TodoWrite: 1/3 done",
        "🔧 Bash: echo '<script>window.__pwned=4</script>'",
    ]
    assert LATE_TEXT not in await page.inner_text("#transcript"), "the page opened too late for this test"
    assert await page.inner_text("#run-action button") == "Cancel this run"
    await page.evaluate("window.__same_page = true")  # gone if the page were reloaded

    # New lines arrive on the open page: the text, the failed tool call, the result and the cost.
    await page.locator(".item.said strong", has_text=LATE_TEXT).wait_for(timeout=20_000)
    await page.locator("#live-state.done").wait_for(timeout=20_000)
    assert await page.evaluate("window.__same_page") is True
    assert await page.locator("#run-action").count() == 0  # nothing left to cancel
    assert await page.inner_text('[data-fact="cost"]') == "$0.37"
    assert await page.inner_text("h1") == "code task-5 (trader) Succeeded"
    failed_call = page.locator("details.tool.error")
    await page.locator("details.tool.error > summary").click()
    assert "1 failed" in await failed_call.inner_text()
    assert (await page.locator(".item.finished").inner_text()).split() == [
        "✅",
        "finished",
        "(5",
        "turns,",
        "9.0",
        "s,",
        "$0.37)",
        "Done.",
    ]

    ARTIFACTS.mkdir(exist_ok=True)  # noqa: ASYNC240 - once, a local directory
    await page.screenshot(path=str(ARTIFACTS / "run-page.png"), full_page=True)
    assert await page.evaluate("window.__pwned === undefined") is True
    assert dialogs == [] and outside == []
    await eventually(lambda: run_in_phase(api, name, "Succeeded"), within=20)
    await context.close()


async def test_a_hostile_transcript_runs_no_script_and_loads_nothing_from_elsewhere(
    paged: tuple[Stack, client.ApiClient], chromium: Any
) -> None:
    stack, api = paged
    stack.default_outcome = live_agent
    name, _ = await command(stack, 7, "/code 5 --service trader", pr=True)
    await eventually(lambda: run_in_phase(api, name, "Succeeded"), within=40, what="the run to finish")
    await transcript_stored(stack, name)

    context = await chromium.new_context(java_script_enabled=True)
    page = await context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    await sign_in_in_the_browser(page, stack, stack.run_page_url(name), "bob")
    said = page.locator(".item.said").first
    assert HOSTILE.split(" <a")[0].replace("![pixel]", "!pixel")[:40] in (await said.inner_text()).replace(
        "[", ""
    )
    assert await said.locator("img, script").count() == 0
    assert await page.locator("#transcript img, #transcript script, #transcript iframe").count() == 0
    link = said.locator("a", has_text="pixel")  # the Markdown image is a plain link, never fetched
    assert await link.get_attribute("rel") == "nofollow noopener noreferrer"
    assert await said.locator("a", has_text="click me").count() == 0  # javascript: is no link at all
    await page.locator("details.tool > summary").nth(1).click()
    assert "<img src=x onerror=window.__pwned=5>" in await page.locator("details.tool").nth(1).inner_text()
    await page.locator("details.more > summary").first.click()  # the long output, folded
    assert "output line 59" in await page.locator("details.more").first.inner_text()

    assert await page.evaluate("window.__pwned === undefined") is True
    hosts = {urlsplit(url).hostname for url in requests}
    assert hosts <= {"127.0.0.1"}, requests
    assert not [m for m in console if "Content Security Policy" in m]  # nothing even tried
    await context.close()


async def transcript_stored_first_half(stack: Stack, name: str) -> None:
    from bot.store import open_store

    assert stack.settings.store.url is not None
    store = open_store(stack.settings.store.url.get_secret_value())
    try:

        async def first_half() -> bool:
            rows = await store.events(NAMESPACE, name)
            return sum(row.kind == "user" for row in rows) >= 2

        await eventually(first_half, within=20, what="the first half of the transcript in the store")
    finally:
        await store.close()


async def test_a_writer_cancels_a_run_with_the_pages_button(
    paged: tuple[Stack, client.ApiClient], chromium: Any
) -> None:
    """The button is a plain form (works with the page's strict CSP, no script needed)."""
    stack, api = paged
    name = await running(stack, api)
    context = await chromium.new_context()
    page = await context.new_page()
    await sign_in_in_the_browser(page, stack, stack.run_page_url(name), "alice")

    await page.click("#run-action button")
    assert await page.inner_text("#answer") == "Cancel requested: the run stops in a moment."
    await eventually(lambda: run_in_phase(api, name, "Cancelled"), what="the run cancelled")
    await stored(stack, name, "Cancelled")
    await page.click("#go-on")  # back on the run's page, which now offers Retry
    assert await page.inner_text("#run-action button") == "Retry this run"
    await context.close()
