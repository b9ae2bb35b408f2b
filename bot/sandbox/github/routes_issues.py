"""Handlers for repositories, branches, collaborator permissions, issues, comments and reactions."""

from __future__ import annotations

from collections.abc import Callable

from bot.sandbox.github.context import Context, Reply, validation_failed
from bot.sandbox.github.state import Reaction

Handler = Callable[[Context], Reply]
MAX_COMMENT_LENGTH = 65536
"""GitHub's limit on comment bodies; the description does not state it, the server enforces it."""


def get_repo(ctx: Context) -> Reply:
    return Reply(200, ctx.shapes.repository(ctx.require_repo()))


def get_branch(ctx: Context) -> Reply:
    repo = ctx.require_repo()
    name = ctx.path_params["branch"]
    if name not in repo.branches:
        return ctx.not_found("Branch not found")
    return Reply(200, ctx.shapes.branch(repo, name))


def get_ref(ctx: Context) -> Reply:
    repo = ctx.require_repo()
    ref = str(ctx.path_params["ref"])
    branch = ref.removeprefix("heads/")
    if not ref.startswith("heads/") or branch not in repo.branches:
        return ctx.not_found()
    return Reply(200, ctx.shapes.git_ref(repo, f"refs/{ref}", repo.branches[branch]))


def get_collaborator_permission(ctx: Context) -> Reply:
    """`permission` is the legacy base role (maintain -> write, triage -> read); `role_name` the role."""
    username = ctx.path_params["username"]
    if ctx.state.account(username) is None:
        return ctx.not_found(f"{username} is not a user")
    return Reply(200, ctx.shapes.permission(ctx.require_repo(), username))


def get_issue(ctx: Context) -> Reply:
    repo = ctx.require_repo()
    issue = ctx.state.issues.get((repo.key, ctx.path_params["issue_number"]))
    return ctx.not_found() if issue is None else Reply(200, ctx.shapes.issue(repo, issue))


def list_comments(ctx: Context) -> Reply:
    repo = ctx.require_repo()
    number = ctx.path_params["issue_number"]
    if (repo.key, number) not in ctx.state.issues:
        return ctx.not_found()
    comments = ctx.state.comments_on(repo, number)
    since = ctx.query.get("since")
    shown = [ctx.shapes.comment(repo, comment) for comment in comments]
    if since:
        shown = [comment for comment in shown if str(comment["updated_at"]) >= str(since)]
    return ctx.page(shown)


def get_comment(ctx: Context) -> Reply:
    repo = ctx.require_repo()
    comment = ctx.state.comment_in(repo, ctx.path_params["comment_id"])
    return ctx.not_found() if comment is None else Reply(200, ctx.shapes.comment(repo, comment))


def _body_too_long(ctx: Context, body: str) -> Reply | None:
    if len(body) <= MAX_COMMENT_LENGTH:
        return None
    return validation_failed(
        ctx.documentation_url,
        {
            "resource": "IssueComment",
            "code": "custom",
            "field": "body",
            "message": f"body is too long (maximum is {MAX_COMMENT_LENGTH} characters)",
        },
    )


def create_comment(ctx: Context) -> Reply:
    repo = ctx.require_repo()
    number = ctx.path_params["issue_number"]
    if (repo.key, number) not in ctx.state.issues:
        return ctx.not_found()
    body = str(ctx.body["body"])
    too_long = _body_too_long(ctx, body)
    if too_long is not None:
        return too_long
    comment = ctx.state.add_comment(repo, number, ctx.actor, body, via_app=True)
    shown = ctx.shapes.comment(repo, comment)
    return Reply(201, shown, {"Location": str(shown["url"])})


def update_comment(ctx: Context) -> Reply:
    repo = ctx.require_repo()
    comment = ctx.state.comment_in(repo, ctx.path_params["comment_id"])
    if comment is None:
        return ctx.not_found()
    body = str(ctx.body["body"])
    too_long = _body_too_long(ctx, body)
    if too_long is not None:
        return too_long
    comment.body = body
    comment.updated_at = ctx.now
    return Reply(200, ctx.shapes.comment(repo, comment))


def list_reactions(ctx: Context) -> Reply:
    repo = ctx.require_repo()
    comment = ctx.state.comment_in(repo, ctx.path_params["comment_id"])
    if comment is None:
        return ctx.not_found()
    reactions = ctx.state.reactions.get(comment.id, [])
    content = ctx.query.get("content")
    return ctx.page([ctx.shapes.reaction(r) for r in reactions if content is None or r.content == content])


def create_reaction(ctx: Context) -> Reply:
    """201 with a new reaction; 200 with the existing one if this user already reacted so."""
    repo = ctx.require_repo()
    comment = ctx.state.comment_in(repo, ctx.path_params["comment_id"])
    if comment is None:
        return ctx.not_found()
    content = str(ctx.body["content"])
    reactions = ctx.state.reactions.setdefault(comment.id, [])
    for existing in reactions:
        if existing.user == ctx.actor and existing.content == content:
            return Reply(200, ctx.shapes.reaction(existing))
    reaction = Reaction(ctx.state.next_id("reaction"), comment.id, ctx.actor, content, ctx.now)
    reactions.append(reaction)
    return Reply(201, ctx.shapes.reaction(reaction))


HANDLERS: dict[str, Handler] = {
    "repos/get": get_repo,
    "repos/get-branch": get_branch,
    "git/get-ref": get_ref,
    "repos/get-collaborator-permission-level": get_collaborator_permission,
    "issues/get": get_issue,
    "issues/list-comments": list_comments,
    "issues/get-comment": get_comment,
    "issues/create-comment": create_comment,
    "issues/update-comment": update_comment,
    "reactions/list-for-issue-comment": list_reactions,
    "reactions/create-for-issue-comment": create_reaction,
}
