"""Handlers for pull requests and check runs, with the rules GitHub applies beyond the schemas."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from bot.sandbox.github.context import Context, Reply, error, validation_failed
from bot.sandbox.github.identity import stable_id
from bot.sandbox.github.state import CheckRun, Repository

Handler = Callable[[Context], Reply]


# --- pull requests ------------------------------------------------------------------------------------


def get_pull(ctx: Context) -> Reply:
    repo = ctx.require_repo()
    pull = ctx.state.pulls.get((repo.key, ctx.path_params["pull_number"]))
    return ctx.not_found() if pull is None else Reply(200, ctx.shapes.pull(repo, pull))


def list_review_comments(ctx: Context) -> Reply:
    """The inline comments of one review of the pull request, oldest first."""
    repo = ctx.require_repo()
    pull_number, review_id = ctx.path_params["pull_number"], ctx.path_params["review_id"]
    review = ctx.state.reviews.get(review_id)
    if (repo.key, pull_number) not in ctx.state.pulls or review is None or review.repo_key != repo.key:
        return ctx.not_found()
    if review.pull_number != pull_number:
        return ctx.not_found()
    comments = sorted(
        (c for c in ctx.state.review_comments.values() if c.review_id == review.id), key=lambda c: c.id
    )
    return ctx.page([ctx.shapes.review_comment(repo, comment) for comment in comments])


def _head_branch(repo: Repository, head: str) -> str | None:
    """The branch a `head` names (`branch` or `owner:branch`); None for another owner (forks)."""
    owner, sep, branch = head.rpartition(":")
    if sep and owner.lower() != repo.owner.lower():
        return None
    return branch


def list_pulls(ctx: Context) -> Reply:
    """Filtered by `state`, `head` (`owner:branch`) and `base`; newest first unless asked otherwise."""
    repo = ctx.require_repo()
    pulls = [pull for pull in ctx.state.pulls.values() if pull.repo_key == repo.key]
    state = ctx.query.get("state", "open")
    if state != "all":
        pulls = [pull for pull in pulls if pull.state == state]
    if ctx.query.get("head"):
        owner, _, branch = str(ctx.query["head"]).partition(":")
        matches_owner = owner.lower() == repo.owner.lower()
        pulls = [pull for pull in pulls if matches_owner and pull.head_ref == branch]
    if ctx.query.get("base"):
        pulls = [pull for pull in pulls if pull.base_ref == ctx.query["base"]]
    descending = ctx.query.get("direction", "desc") == "desc"
    pulls.sort(key=lambda pull: (pull.created_at, pull.number), reverse=descending)
    return ctx.page([ctx.shapes.pull(repo, pull) for pull in pulls])


def create_pull(ctx: Context) -> Reply:
    repo = ctx.require_repo()
    body: dict[str, Any] = ctx.body
    docs = ctx.documentation_url
    if "issue" in body:
        return error(422, "Converting an issue into a pull request is not supported here", docs)
    if not body.get("title"):
        return validation_failed(docs, {"resource": "Issue", "code": "missing_field", "field": "title"})
    head = str(body.get("head", ""))
    base = str(body.get("base", ""))
    branch = _head_branch(repo, head)
    if base not in repo.branches:
        return validation_failed(docs, {"resource": "PullRequest", "field": "base", "code": "invalid"})
    if branch is None or branch not in repo.branches:
        return validation_failed(docs, {"resource": "PullRequest", "field": "head", "code": "invalid"})
    for pull in ctx.state.pulls.values():
        if (
            pull.repo_key == repo.key
            and pull.state == "open"
            and pull.head_ref == branch
            and pull.base_ref == base
        ):
            message = f"A pull request already exists for {repo.owner}:{branch}."
            return validation_failed(docs, {"resource": "PullRequest", "code": "custom", "message": message})
    if repo.branches[branch] == repo.branches[base]:
        message = f"No commits between {base} and {branch}"
        return validation_failed(docs, {"resource": "PullRequest", "code": "custom", "message": message})
    pull = ctx.state.add_pull(
        repo,
        ctx.state.next_issue_number(repo),
        str(body["title"]),
        body.get("body"),
        ctx.actor,
        head_ref=branch,
        head_sha=repo.branches[branch],
        base_ref=base,
        draft=bool(body.get("draft", False)),
        maintainer_can_modify=bool(body.get("maintainer_can_modify", False)),
    )
    shown = ctx.shapes.pull(repo, pull)
    return Reply(201, shown, {"Location": str(shown["url"])})


# --- check runs ---------------------------------------------------------------------------------------


def _completion_problem(ctx: Context, status: str, conclusion: str | None) -> Reply | None:
    if status == "completed" and conclusion is None:
        return error(422, 'Invalid request.\n\n"conclusion" wasn\'t supplied.', ctx.documentation_url)
    return None


def create_check_run(ctx: Context) -> Reply:
    """A check run on `head_sha`. Giving a `conclusion` completes it, as on GitHub."""
    repo = ctx.require_repo()
    body: dict[str, Any] = ctx.body
    head_sha = str(body["head_sha"])
    bad_time = _bad_timestamp(ctx, body)
    if bad_time is not None:
        return bad_time
    if head_sha not in repo.commits:
        return error(422, f"No commit found for SHA: {head_sha}", ctx.documentation_url)
    conclusion = body.get("conclusion")
    status = "completed" if conclusion is not None else str(body.get("status", "queued"))
    problem = _completion_problem(ctx, status, conclusion)
    if problem is not None:
        return problem
    now = ctx.now
    run = CheckRun(
        id=ctx.state.next_id("check_run"),
        repo_key=repo.key,
        name=str(body["name"]),
        head_sha=head_sha,
        status=status,
        conclusion=conclusion,
        external_id=str(body.get("external_id", "")),
        details_url=body.get("details_url"),
        started_at=_timestamp(body.get("started_at"), now),
        completed_at=_timestamp(body.get("completed_at"), now) if status == "completed" else None,
        output=dict(body.get("output") or {}),
        actions=[dict(action) for action in body.get("actions", [])],
        suite_id=stable_id("check_suite", f"{repo.full_name}@{head_sha}"),
    )
    ctx.state.check_runs[run.id] = run
    return Reply(201, ctx.shapes.check_run(repo, run))


def update_check_run(ctx: Context) -> Reply:
    repo = ctx.require_repo()
    run = _run(ctx, repo)
    if run is None:
        return ctx.not_found()
    body: dict[str, Any] = ctx.body
    bad_time = _bad_timestamp(ctx, body)
    if bad_time is not None:
        return bad_time
    conclusion = body.get("conclusion", run.conclusion)
    status = "completed" if "conclusion" in body else str(body.get("status", run.status))
    problem = _completion_problem(ctx, status, conclusion)
    if problem is not None:
        return problem
    for name in ("name", "details_url", "external_id"):
        if name in body:
            setattr(run, name, body[name])
    if "started_at" in body:
        run.started_at = _timestamp(body["started_at"], run.started_at)
    if "output" in body:
        run.output = {**run.output, **body["output"]}
    if "actions" in body:
        run.actions = [dict(action) for action in body["actions"]]
    run.status, run.conclusion = status, conclusion if status == "completed" else None
    run.completed_at = _timestamp(body.get("completed_at"), ctx.now) if status == "completed" else None
    return Reply(200, ctx.shapes.check_run(repo, run))


def get_check_run(ctx: Context) -> Reply:
    repo = ctx.require_repo()
    run = _run(ctx, repo)
    return ctx.not_found() if run is None else Reply(200, ctx.shapes.check_run(repo, run))


def list_check_runs_for_ref(ctx: Context) -> Reply:
    """Check runs on a SHA, or on the head of a branch (`name` or `heads/name`)."""
    repo = ctx.require_repo()
    ref = str(ctx.path_params["ref"])
    sha = repo.branches.get(ref.removeprefix("heads/"), ref)
    runs = sorted(
        (run for run in ctx.state.check_runs.values() if run.repo_key == repo.key and run.head_sha == sha),
        key=lambda run: run.id,
        reverse=True,
    )
    if ctx.query.get("check_name"):
        runs = [run for run in runs if run.name == ctx.query["check_name"]]
    if ctx.query.get("status"):
        runs = [run for run in runs if run.status == ctx.query["status"]]
    if ctx.query.get("filter", "latest") == "latest":
        latest: dict[str, CheckRun] = {}
        for run in runs:
            latest.setdefault(run.name, run)
        runs = list(latest.values())
    reply = ctx.page([ctx.shapes.check_run(repo, run) for run in runs])
    reply.body = {"total_count": len(runs), "check_runs": reply.body}
    return reply


def _run(ctx: Context, repo: Repository) -> CheckRun | None:
    run = ctx.state.check_runs.get(ctx.path_params["check_run_id"])
    return run if run is not None and run.repo_key == repo.key else None


def _timestamp(value: Any, default: float) -> float:
    """An ISO 8601 time from a request body as epoch seconds (`_bad_timestamp` checked it parses)."""
    if not value:
        return default
    return datetime.datetime.fromisoformat(str(value)).timestamp()


def _bad_timestamp(ctx: Context, body: dict[str, Any]) -> Reply | None:
    for name in ("started_at", "completed_at"):
        if name in body:
            try:
                datetime.datetime.fromisoformat(str(body[name]))
            except ValueError:
                return error(
                    422,
                    f"Invalid request.\n\nFor '{name}', {body[name]!r} is not a date-time.",
                    ctx.documentation_url,
                )
    return None


HANDLERS: dict[str, Handler] = {
    "pulls/get": get_pull,
    "pulls/list": list_pulls,
    "pulls/create": create_pull,
    "pulls/list-comments-for-review": list_review_comments,
    "checks/create": create_check_run,
    "checks/update": update_check_run,
    "checks/get": get_check_run,
    "checks/list-for-ref": list_check_runs_for_ref,
}
