"""Handlers for what the App does as itself (JWT): its installations, tokens and webhook deliveries,
plus the rate-limit endpoint."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from bot.sandbox.github.auth import (
    TOKEN_LIFETIME_SECONDS,
    InstallationToken,
    narrower_permissions,
    new_token_value,
)
from bot.sandbox.github.context import MAX_PER_PAGE, Context, Reply, error
from bot.sandbox.github.state import DeliveryRecord

Handler = Callable[[Context], Reply]
NOT_ACCESSIBLE_REPOS = (
    "There is at least one repository that does not exist or is not accessible to the parent installation."
)
PERMISSIONS_NOT_GRANTED = "The permissions requested are not granted to this installation."


def get_authenticated_app(ctx: Context) -> Reply:
    return Reply(200, ctx.shapes.app())


def get_installation(ctx: Context) -> Reply:
    installation = ctx.state.installations.get(ctx.path_params["installation_id"])
    if installation is None:
        return ctx.not_found()
    return Reply(200, ctx.shapes.installation(installation))


def get_repo_installation(ctx: Context) -> Reply:
    repo = ctx.require_repo()
    installation = (
        ctx.state.installations.get(repo.installation_id) if repo.installation_id is not None else None
    )
    if installation is None:
        return ctx.not_found()
    return Reply(200, ctx.shapes.installation(installation))


def create_installation_access_token(ctx: Context) -> Reply:
    """A token for the installation, optionally narrowed to some repositories and permissions."""
    installation = ctx.state.installations.get(ctx.path_params["installation_id"])
    if installation is None:
        return ctx.not_found()
    body = ctx.body or {}
    repos = ctx.state.repos_of(installation.id)
    repository_ids: frozenset[int] | None = None
    if "repositories" in body or "repository_ids" in body:
        by_name = {repo.name.lower(): repo.id for repo in repos}
        names = [str(name).lower() for name in body.get("repositories", [])]
        ids = [int(i) for i in body.get("repository_ids", [])]
        if any(name not in by_name for name in names) or any(i not in by_name.values() for i in ids):
            return error(422, NOT_ACCESSIBLE_REPOS, ctx.documentation_url)
        repository_ids = frozenset([by_name[name] for name in names] + ids)
    permissions = dict(installation.permissions)
    if "permissions" in body:
        asked = {str(k): str(v) for k, v in body["permissions"].items()}
        if not narrower_permissions(asked, installation.permissions):
            return error(422, PERMISSIONS_NOT_GRANTED, ctx.documentation_url)
        permissions = {**asked, "metadata": "read"}
    token = InstallationToken(
        value=new_token_value(),
        installation_id=installation.id,
        expires_at=ctx.now + TOKEN_LIFETIME_SECONDS,
        permissions=permissions,
        repository_ids=repository_ids,
    )
    ctx.state.tokens[token.value] = token
    return Reply(201, ctx.shapes.token(token))


def list_webhook_deliveries(ctx: Context) -> Reply:
    """Newest first, `per_page` at a time, continued with the `cursor` from the `Link` header."""
    deliveries = list(reversed(ctx.state.deliveries))
    wanted = ctx.query.get("status")
    if wanted == "success":
        deliveries = [d for d in deliveries if 200 <= d.status_code < 400]
    elif wanted == "failure":
        deliveries = [d for d in deliveries if not 200 <= d.status_code < 400]
    cursor = ctx.query.get("cursor")
    if cursor:
        ids = [str(d.id) for d in deliveries]
        if cursor not in ids:
            return error(400, "Invalid cursor", ctx.documentation_url)
        deliveries = deliveries[ids.index(cursor) :]
    per_page = max(1, min(int(ctx.query.get("per_page") or 30), MAX_PER_PAGE))
    reply = Reply(200, [ctx.shapes.delivery_item(d) for d in deliveries[:per_page]])
    if len(deliveries) > per_page:
        query = {"per_page": per_page, "cursor": deliveries[per_page].id}
        if wanted:
            query["status"] = wanted
        reply.headers["Link"] = f'<{ctx.shapes.api_url}{ctx.path}?{urlencode(query)}>; rel="next"'
    return reply


def get_webhook_delivery(ctx: Context) -> Reply:
    delivery = _delivery(ctx)
    return ctx.not_found() if delivery is None else Reply(200, ctx.shapes.delivery(delivery))


def redeliver_webhook_delivery(ctx: Context) -> Reply:
    """202 at once; the original body goes out again, same GUID, as a new delivery marked redelivery."""
    delivery = _delivery(ctx)
    if delivery is None:
        return ctx.not_found()
    ctx.redeliver(delivery)
    return Reply(202, {})


def _delivery(ctx: Context) -> DeliveryRecord | None:
    wanted = ctx.path_params["delivery_id"]
    return next((d for d in ctx.state.deliveries if d.id == wanted), None)


HANDLERS: dict[str, Handler] = {
    "apps/get-authenticated": get_authenticated_app,
    "apps/get-installation": get_installation,
    "apps/get-repo-installation": get_repo_installation,
    "apps/create-installation-access-token": create_installation_access_token,
    "apps/list-webhook-deliveries": list_webhook_deliveries,
    "apps/get-webhook-delivery": get_webhook_delivery,
    "apps/redeliver-webhook-delivery": redeliver_webhook_delivery,
}
