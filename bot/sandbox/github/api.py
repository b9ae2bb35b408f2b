"""`LocalGitHubAPI`: the local GitHub API as an async context manager, with the knobs tests and the demo
use to set the scene (accounts, installations, repositories, roles, issues, pull requests, comments,
pushed branches), to inspect what the bot did, to inject faults and to send signed webhook deliveries.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiohttp
from aiohttp import web

from bot.sandbox.deliveries import (
    DEFAULT_HOOK_ID,
    DELIVERY_TIMEOUT_SECONDS,
    encode_payload,
    send_webhook,
    webhook_headers,
)
from bot.sandbox.github.auth import (
    TOKEN_LIFETIME_SECONDS,
    InstallationToken,
    generate_private_key_pem,
    new_token_value,
    public_key_pem,
)
from bot.sandbox.github.context import Call
from bot.sandbox.github.description import Description
from bot.sandbox.github.faults import FaultPlan
from bot.sandbox.github.identity import WEB_URL, RepoRef, stable_id
from bot.sandbox.github.oauth import OAuthFlow
from bot.sandbox.github.server import GitHubHTTP
from bot.sandbox.github.shapes import Shapes
from bot.sandbox.github.state import (
    DEFAULT_INSTALLATION_EVENTS,
    DEFAULT_INSTALLATION_PERMISSIONS,
    ROLES,
    AppInfo,
    DeliveryRecord,
    GitHubState,
    Installation,
    Repository,
)

RepoName = str | RepoRef
USER_COMMENT_PATH = "/_sandbox/user-comments"
"""POST {"repository", "issue", "user", "body"}: a person comments (sandbox only, not GitHub's API)."""


class LocalGitHubAPI:
    """A strict local GitHub API over HTTP. Use `async with LocalGitHubAPI() as gh:` then `gh.url`."""

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        app_id: int = 12345,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        *,
        app_slug: str = "orchestrator-bot",
        app_owner: str = "demo-org",
        private_key_pem: str | None = None,
        web_url: str = WEB_URL,
        clock: Callable[[], float] = time.time,
        rate_limit: int = 5000,
        hook_id: int = DEFAULT_HOOK_ID,
    ) -> None:
        self.host = host
        self.port = port
        self.app_id = app_id
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.hook_id = hook_id
        self.private_key_pem = private_key_pem or generate_private_key_pem()
        self.client_id = f"Iv23li{stable_id('client', str(app_id)):010d}"
        app = AppInfo(
            app_id, app_slug, app_slug.replace("-", " ").title(), self.client_id, app_owner, clock()
        )
        self.state = GitHubState(app, clock)
        self._http = GitHubHTTP(
            self.state,
            Description.load(),
            public_key=public_key_pem(self.private_key_pem),
            issuers=frozenset({str(app_id), self.client_id}),
            web_url=web_url.rstrip("/"),
            rate_limit=rate_limit,
            redeliver=self._schedule_redelivery,
        )
        self.client_secret = new_token_value()[4:] + "0123"
        """The App's OAuth client secret (40 characters, like GitHub's)."""
        self.oauth = OAuthFlow(self.state, self.client_id, self.client_secret)
        self._http.oauth = self.oauth
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._pending: set[asyncio.Task[DeliveryRecord]] = set()

    # --- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> LocalGitHubAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        # Not part of GitHub's API: what a person does in the web UI (see `user_comments`).
        app.router.add_post(USER_COMMENT_PATH, self._user_comments)
        self.oauth.routes(app)  # github.com's sign-in pages (the API and the web share this server)
        app.router.add_route("*", "/{tail:.*}", self._http.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self._http.api_url = self.url
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        await self.wait_for_deliveries()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        """The API base URL (use as GITHUB_API_URL / gidgethub's base_url)."""
        if not self.port:
            raise RuntimeError("LocalGitHubAPI is not started (use `async with` or `await start()`)")
        return f"http://{self.host}:{self.port}"

    @property
    def calls(self) -> list[Call]:
        return self._http.calls

    @property
    def faults(self) -> FaultPlan:
        return self._http.faults

    @property
    def deliveries(self) -> list[DeliveryRecord]:
        """Every delivery attempt, oldest first (the API lists them newest first)."""
        return self.state.deliveries

    @property
    def shapes(self) -> Shapes:
        return Shapes(self.state, self.url, self._http.web_url)

    def response_problems(self) -> list[str]:
        """Every place where one of our answers did not match the described response schema."""
        return [f"{c.operation_id} {c.status}: {p}" for c in self.calls for p in c.response_problems]

    # --- setting the scene ----------------------------------------------------------------------

    def add_user(self, login: str, type: str | None = None) -> dict[str, Any]:
        """A user (type "User"), a bot ("Bot", login ending in "[bot]") or an organization."""
        self.state.ensure_account(login, type)
        return self.shapes.user(login)

    def add_installation(
        self,
        installation_id: int,
        account: str = "demo-org",
        *,
        account_type: str = "Organization",
        permissions: Mapping[str, str] | None = None,
        events: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        self.state.ensure_account(account, account_type)
        self.state.installations[installation_id] = Installation(
            installation_id,
            account,
            dict(permissions or DEFAULT_INSTALLATION_PERMISSIONS),
            list(events or DEFAULT_INSTALLATION_EVENTS),
            self.state.clock(),
        )
        return self.shapes.installation(self.state.installations[installation_id])

    def add_repo(
        self,
        full_name: str,
        default_branch: str = "main",
        installation_id: int | None = None,
        private: bool = False,
    ) -> RepoRef:
        """A repository with its default branch pushed; returns the `RepoRef` for payload builders.
        Its owner becomes an organization unless added before as a user."""
        owner_login, _, name = full_name.partition("/")
        if installation_id is not None:
            installation = self.state.installations.get(installation_id)
            if installation is None:
                raise ValueError(f"no installation {installation_id}; add_installation first")
            if installation.account.lower() != owner_login.lower():
                raise ValueError(
                    f"installation {installation_id} belongs to {installation.account}, not {owner_login}"
                )
        owner = self.state.ensure_account(owner_login, "Organization")
        ref = RepoRef.parse(full_name, default_branch=default_branch, private=private, owner_type=owner.type)
        repo = Repository(
            ref.repo_id, ref.owner, name, default_branch, private, installation_id, self.state.clock()
        )
        self.state.repos[repo.key] = repo
        self.state.push_branch(repo, default_branch)
        return ref

    def set_permission(self, repo: RepoName, login: str, role: str) -> None:
        """The collaborator role of `login`: none, read, triage, write, maintain or admin."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        self.state.ensure_account(login)
        self._repo(repo).roles[login.lower()] = role

    def add_issue(
        self,
        repo: RepoName,
        number: int | None = None,
        title: str = "A task",
        body: str = "",
        user: str = "alice",
        labels: Sequence[str] = (),
    ) -> dict[str, Any]:
        found = self._repo(repo)
        self.state.ensure_account(user)
        issue = self.state.add_issue(
            found, number or self.state.next_issue_number(found), title, body, user, labels=list(labels)
        )
        return self.shapes.issue(found, issue)

    def add_pull(
        self,
        repo: RepoName,
        number: int | None = None,
        head_ref: str = "feature",
        head_sha: str | None = None,
        base_ref: str | None = None,
        user: str = "alice",
        title: str = "A change",
        body: str = "",
        draft: bool = False,
    ) -> dict[str, Any]:
        """An open pull request; its head branch is pushed at `head_sha`."""
        found = self._repo(repo)
        self.state.ensure_account(user)
        sha = self.state.push_branch(found, head_ref, head_sha)
        pull = self.state.add_pull(
            found,
            number or self.state.next_issue_number(found),
            title,
            body,
            user,
            head_ref=head_ref,
            head_sha=sha,
            base_ref=base_ref or found.default_branch,
            draft=draft,
        )
        return self.shapes.pull(found, pull)

    def add_comment(self, repo: RepoName, issue_number: int, user: str, body: str) -> dict[str, Any]:
        """A comment by `user` (what someone typed on GitHub); pass it to the payload builders."""
        found = self._repo(repo)
        if (found.key, issue_number) not in self.state.issues:
            raise ValueError(f"{found.full_name}#{issue_number} does not exist; add_issue or add_pull first")
        self.state.ensure_account(user)
        return self.shapes.comment(found, self.state.add_comment(found, issue_number, user, body))

    def add_review(
        self,
        repo: RepoName,
        pull_number: int,
        user: str,
        state: str,
        body: str,
        comments: Sequence[tuple[str, int, str]] = (),
    ) -> tuple[int, list[dict[str, Any]]]:
        """A review `user` submitted (state APPROVED, CHANGES_REQUESTED or COMMENTED) with its inline
        comments (path, line, text): its id, and the comments as the REST API shows them."""
        found = self._repo(repo)
        if (found.key, pull_number) not in self.state.pulls:
            raise ValueError(f"{found.full_name} has no pull request #{pull_number}")
        self.state.ensure_account(user)
        review, inline = self.state.add_review(found, pull_number, user, state, body, list(comments))
        return review.id, [self.shapes.review_comment(found, comment) for comment in inline]

    def push_branch(self, repo: RepoName, branch: str, sha: str | None = None) -> str:
        """`branch` now exists at `sha` (default: a new commit), as after the agent's `git push`."""
        return self.state.push_branch(self._repo(repo), branch, sha)

    def branch_sha(self, repo: RepoName, branch: str) -> str | None:
        return self._repo(repo).branches.get(branch)

    def installation_token(self, installation_id: int) -> str:
        """An installation token without the JWT round trip (for tests of code that is given one)."""
        installation = self.state.installations[installation_id]
        token = InstallationToken(
            new_token_value(),
            installation_id,
            self.state.clock() + TOKEN_LIFETIME_SECONDS,
            dict(installation.permissions),
            None,
        )
        self.state.tokens[token.value] = token
        return token.value

    # --- what happened --------------------------------------------------------------------------

    def comments(self, repo: RepoName, issue_number: int) -> list[dict[str, Any]]:
        found = self._repo(repo)
        return [self.shapes.comment(found, c) for c in self.state.comments_on(found, issue_number)]

    def reactions(self, repo: RepoName, comment_id: int) -> list[dict[str, Any]]:
        found = self._repo(repo)
        if self.state.comment_in(found, comment_id) is None:
            return []
        return [self.shapes.reaction(r) for r in self.state.reactions.get(comment_id, [])]

    def check_runs(self, repo: RepoName) -> list[dict[str, Any]]:
        """Check runs as the API shows them, plus the `actions` they were given (GitHub shows those as
        buttons but does not return them)."""
        found = self._repo(repo)
        runs = sorted(
            (r for r in self.state.check_runs.values() if r.repo_key == found.key), key=lambda r: r.id
        )
        return [
            {**self.shapes.check_run(found, run), "actions": [dict(a) for a in run.actions]} for run in runs
        ]

    def pulls(self, repo: RepoName) -> list[dict[str, Any]]:
        found = self._repo(repo)
        pulls = sorted(
            (p for p in self.state.pulls.values() if p.repo_key == found.key), key=lambda p: p.number
        )
        return [self.shapes.pull(found, pull) for pull in pulls]

    def issue(self, repo: RepoName, number: int) -> dict[str, Any]:
        found = self._repo(repo)
        return self.shapes.issue(found, self.state.issues[(found.key, number)])

    def _repo(self, repo: RepoName) -> Repository:
        name = repo.full_name if isinstance(repo, RepoRef) else repo
        found = self.state.repos.get(name.lower())
        if found is None:
            raise KeyError(f"no repository {name}; add_repo first")
        return found

    # --- what people do on github.com -----------------------------------------------------------

    async def user_comments(
        self, repo: RepoName, issue_number: int, user: str, body: str
    ) -> tuple[dict[str, Any], DeliveryRecord]:
        """`user` writes a comment in the web UI: it is stored and GitHub delivers `issue_comment`
        `created` to the App's webhook URL, signed, exactly as github.com does."""
        # Imported here: the payload builders import this package for its fixtures.
        from bot.sandbox.payloads import issue_comment_created

        found = self._repo(repo)
        comment = self.add_comment(found.full_name, issue_number, user, body)
        issue = self.issue(found.full_name, issue_number)
        payload = issue_comment_created(
            RepoRef.parse(found.full_name, default_branch=found.default_branch, private=found.private),
            issue_number,
            comment,
            user,
            on_pull_request="pull_request" in issue,
            installation_id=found.installation_id,
            issue_title=issue.get("title", ""),
            issue_body=issue.get("body") or "",
            api_url=self.url,
        )
        return comment, await self.deliver("issue_comment", payload)

    async def _user_comments(self, request: web.Request) -> web.Response:
        try:
            wanted = await request.json()
            comment, record = await self.user_comments(
                str(wanted["repository"]), int(wanted["issue"]), str(wanted["user"]), str(wanted["body"])
            )
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response({"message": f"bad sandbox request: {exc}"}, status=422)
        return web.json_response(
            {"comment": comment, "delivery": {"guid": record.guid, "status_code": record.status_code}},
            status=201,
        )

    # --- webhook deliveries ---------------------------------------------------------------------

    async def deliver(
        self, event: str, payload: Mapping[str, Any] | bytes, delivery_guid: str | None = None
    ) -> DeliveryRecord:
        """Sign `payload` and POST it to `webhook_url` as GitHub would; the attempt is recorded for
        `GET /app/hook/deliveries` (failed ones too, with GitHub's status texts)."""
        return await self._send(event, encode_payload(payload), delivery_guid, redelivery=False)

    async def wait_for_deliveries(self, within: float = DELIVERY_TIMEOUT_SECONDS + 1) -> None:
        """Wait for redeliveries requested through the API (they run after the 202)."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=within)

    def _schedule_redelivery(self, original: DeliveryRecord) -> None:
        task = asyncio.get_running_loop().create_task(
            self._send(original.event, original.request_body, original.guid, redelivery=True)
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send(self, event: str, body: bytes, guid: str | None, *, redelivery: bool) -> DeliveryRecord:
        if not self.webhook_url or self._session is None:
            raise RuntimeError("set webhook_url (and start the server) before delivering webhooks")
        headers = webhook_headers(
            event, body, self.webhook_secret, guid, hook_id=self.hook_id, target_id=self.app_id
        )
        try:
            payload = json.loads(body)
        except ValueError:  # a deliberately malformed body, for tests of the receiver
            payload = None
        fields = payload if isinstance(payload, dict) else {}
        record = DeliveryRecord(
            id=self.state.next_id("delivery"),
            guid=headers["X-GitHub-Delivery"],
            event=event,
            action=fields.get("action"),
            installation_id=(fields.get("installation") or {}).get("id"),
            repository_id=(fields.get("repository") or {}).get("id"),
            redelivery=redelivery,
            delivered_at=self.state.clock(),
            url=self.webhook_url,
            request_headers=headers,
            request_body=body,
        )
        self.state.deliveries.append(record)
        started = time.perf_counter()
        try:
            status, text = await send_webhook(
                self._session,
                self.webhook_url,
                event,
                body,
                self.webhook_secret,
                record.guid,
                hook_id=self.hook_id,
                target_id=self.app_id,
            )
        except TimeoutError:
            record.status = "timed out"
        except aiohttp.ClientError:
            record.status = "failed to connect"
        else:
            record.status_code = status
            record.status = "OK" if 200 <= status < 300 else f"Invalid HTTP Response: {status}"
            record.response_body = text
        record.duration = time.perf_counter() - started
        return record
