"""The run pages: `/runs` (the runs of the repositories the person can read) and
`/runs/{namespace}/{name}` (one run: header, todos, timeline, the whole transcript), and the latter's
live updates. Everything is read from the store; nothing here reads the agent's log.

Who may see a run: a signed-in person who can read its repository (bot/web/access.py). No session: the
sign-in redirect; a run that does not exist: 404; one they may not read: 403 (the same page).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import quote, urlencode

from aiohttp import web

from bot.core import runpage
from bot.core.resources import ACTIVE_PHASES, FINISHED_PHASES
from bot.errors import UpstreamUnavailable
from bot.store import RunQuery
from bot.store.rows import RunRecord
from bot.web.access import GitHubUnreachable, SignInAgain
from bot.web.context import WEB_CONTEXT, WebContext, form_token_matches, sign_in_redirect, viewer
from bot.web.live import LiveRuns, Update, render_header, render_rows
from bot.web.session import Viewer

log = logging.getLogger(__name__)
PAGE_SIZE = 50
HEARTBEAT_SECONDS = 15.0
LIVE_RUNS: web.AppKey[LiveRuns] = web.AppKey("live_runs", LiveRuns)
NOT_HERE = "There is no run here that you may see. Runs are shown to people who can read their repository."


async def _allowed(
    context: WebContext, request: web.Request, who: Viewer, run: RunRecord | None
) -> web.StreamResponse | None:
    """None when `who` may see `run`; else the answer (404, 403, the sign-in again, 503)."""
    if run is None:
        return context.problem(404, "Not found", NOT_HERE, who)
    try:
        if await context.access.can_read(who.user_id, who.token, run.repository):
            return None
    except SignInAgain:
        await context.store.delete_session(who.session_hash)
        return sign_in_redirect(request)
    except GitHubUnreachable:
        return context.problem(
            503, "GitHub cannot be asked", "Whether you may read this run is not known now.", who
        )
    return context.problem(403, "Not allowed", NOT_HERE, who)


async def run_page(request: web.Request) -> web.StreamResponse:
    context = request.app[WEB_CONTEXT]
    who = await viewer(request)
    if who is None:
        return sign_in_redirect(request)
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    run = await context.store.run(namespace, name)
    refused = await _allowed(context, request, who, run)
    if refused is not None or run is None:
        return refused or web.HTTPNotFound()
    rows = await context.store.events(namespace, name)
    retries = await context.store.retries_of(namespace, name)
    head = runpage.header(run, context.clock(), retries=retries, web_url=context.web_url)
    todos = head.todos or runpage.todo_list(rows)
    last = rows[-1].id if rows else 0
    return context.page(
        "run.html.j2",
        viewer=who,
        run=run,
        head=head,
        todos=todos,
        timeline=runpage.timeline(run, [row for row in rows if row.kind == "phase"]),
        items=runpage.transcript([row for row in rows if row.kind != "phase"]),
        live_url=f"/runs/{namespace}/{name}/live?after={last}" if head.active else None,
        button=_button(context, run),
    )


def _button(context: WebContext, run: RunRecord) -> str | None:
    """The one button a run's page shows: Cancel while it is active, Retry once it failed or was
    cancelled (as on its check run)."""
    if context.act is None:
        return None
    if run.phase in ACTIVE_PHASES or run.phase is None:
        return "cancel"
    return "retry" if run.phase in ("Failed", "Cancelled") else None


async def runs_page(request: web.Request) -> web.StreamResponse:
    context = request.app[WEB_CONTEXT]
    who = await viewer(request)
    if who is None:
        return sign_in_redirect(request)
    try:
        readable = await context.access.readable(who.user_id, who.token, await context.store.repositories())
    except SignInAgain:
        await context.store.delete_session(who.session_hash)
        return sign_in_redirect(request)
    except GitHubUnreachable:
        return context.problem(
            503, "GitHub cannot be asked", "Which repositories you may read is not known now.", who
        )
    filters = {key: request.query.get(key, "").strip()[:200] for key in ("repository", "phase", "user")}
    page = _page_number(request.query.get("page"))
    found = await context.store.runs(
        RunQuery(
            repositories=readable,
            repository=filters["repository"] or None,
            phase=filters["phase"] or None,
            user=filters["user"] or None,
            limit=PAGE_SIZE + 1,
            offset=(page - 1) * PAGE_SIZE,
        )
    )
    kept = {key: value for key, value in filters.items() if value}
    return context.page(
        "runs.html.j2",
        viewer=who,
        runs=[(run, runpage.title(run)) for run in found[:PAGE_SIZE]],
        repositories=readable,
        phases=(*ACTIVE_PHASES, *FINISHED_PHASES),
        filters=filters,
        newer=f"/runs?{urlencode({**kept, 'page': page - 1})}" if page > 1 else None,
        older=f"/runs?{urlencode({**kept, 'page': page + 1})}" if len(found) > PAGE_SIZE else None,
    )


def _page_number(value: str | None) -> int:
    return max(1, min(int(value), 10_000)) if value and value.isdigit() else 1


async def live(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: the rows after `after`, then every change, until the run has finished."""
    context = request.app[WEB_CONTEXT]
    who = await viewer(request)
    if who is None:
        return web.Response(status=401, text="sign in again")
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    run = await context.store.run(namespace, name)
    refused = await _allowed(context, request, who, run)
    if refused is not None or run is None:
        return web.Response(status=refused.status if refused else 404, text="not available")
    cursor = max(
        int(given) if given.isdigit() and len(given) < 19 else 0
        for given in (request.query.get("after", ""), request.headers.get("Last-Event-ID", ""))
    )
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    with contextlib.suppress(ConnectionResetError):
        async with request.app[LIVE_RUNS].watch(namespace, name, cursor) as queue:
            cursor = await _catch_up(context, response, run, cursor)
            while True:
                try:
                    update = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if update.resync:
                    fresh = await context.store.run(namespace, name)
                    cursor = await _catch_up(context, response, fresh or run, cursor)
                    continue
                shown = update.after(cursor)
                if shown.rows or shown.header or shown.done:
                    await response.write(shown.message().encode())
                if shown.rows:
                    cursor = max(cursor, max(row["id"] for row in shown.rows))
                if update.done:
                    break
    return response


async def _catch_up(context: WebContext, response: web.StreamResponse, run: RunRecord, cursor: int) -> int:
    rows = await context.store.events(run.namespace, run.name, after=cursor)
    if not rows:
        return cursor
    cwd = next((row.data.get("cwd") for row in rows if row.kind == "init"), None)
    update = Update(
        render_rows(context, rows, cwd if isinstance(cwd, str) else None), render_header(context, run, [])
    )
    await response.write(update.message().encode())
    return rows[-1].id


async def action(request: web.Request) -> web.StreamResponse:
    """`POST /runs/{namespace}/{name}/{cancel|retry}`: a button of the run page. Checked in this order:
    signed in, the form's token (CSRF), may read the run; then the same rules as the `/cancel` and
    `/retry` commands (write access; a retry needs the person's SSH secret) decide, in the intake."""
    context = request.app[WEB_CONTEXT]
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    back = f"/runs/{namespace}/{name}"
    who = await viewer(request)
    if who is None:
        raise web.HTTPSeeOther("/auth/login?next=" + quote(back, safe=""))
    if context.act is None:
        return context.problem(404, "Not found", "This bot's run pages have no buttons.", who)
    if not await form_token_matches(request, who):
        return context.problem(
            403, "The form has expired", "Open the run's page again and press the button there.", who
        )
    run = await context.store.run(namespace, name)
    refused = await _allowed(context, request, who, run)
    if refused is not None:
        return refused
    try:
        answer = await context.act(namespace, name, request.match_info["action"], who.login)
    except UpstreamUnavailable:
        log.warning(
            "run page: %s of %s not done: GitHub or Kubernetes unavailable",
            request.match_info["action"],
            name,
        )
        return context.problem(
            503, "Not done", "GitHub or Kubernetes could not be reached. Try again in a minute.", who
        )
    go_to = f"/runs/{namespace}/{answer.run}" if answer.run else back
    return context.page(
        "done.html.j2",
        answer.status,
        viewer=who,
        succeeded=answer.status < 300,
        text=answer.text,
        go_to=go_to,
    )


async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/runs")


def add_routes(app: web.Application, context: WebContext) -> None:
    live_runs = LiveRuns(context)
    app[LIVE_RUNS] = live_runs
    app.router.add_get("/runs", runs_page)
    app.router.add_get("/runs/{namespace}/{name}", run_page)
    app.router.add_get("/runs/{namespace}/{name}/live", live)
    app.router.add_post("/runs/{namespace}/{name}/{action:cancel|retry}", action)

    async def stop(_: web.Application) -> None:
        await live_runs.close()

    app.on_shutdown.append(stop)
