"""The whole product on one machine: local Kubernetes API (with the Job simulator), local GitHub API,
`serve` and `controller` — the real code paths, over HTTP. Used by the flow tests and by the demo.

    async with running_stack() as stack:
        status, body = await stack.comment(issue=5, user="alice", body="/code 5 --service trader")
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web
from pydantic import SecretStr

from bot import assets
from bot.config import GitHubSettings, OrchestratorSettings, Settings
from bot.controller import ControllerOptions
from bot.core.crds import custom_resource_definition
from bot.core.jobs import WORK_BRANCH_ANNOTATION
from bot.core.policy import SSH_PRIVATE_KEY, SSH_PUBLIC_KEY, ssh_secret_name
from bot.roles import create_serve_app, run_controller_role
from bot.sandbox import payloads
from bot.sandbox.agent import framed, recorded
from bot.sandbox.deliveries import send_webhook
from bot.sandbox.github import LocalGitHubAPI
from bot.sandbox.github.delivery_reviews import (
    PullRef,
    pull_request_review_comment_created,
    pull_request_review_submitted,
)
from bot.sandbox.github.seed import DemoScene, seed_demo
from bot.sandbox.kube import JobOutcome, LocalKubeAPI
from bot.store.settings import StoreSettings
from bot.templates import default_templates_dir
from bot.web.settings import WebSettings

TASK_CONFIG_FILE = assets.task_config()
"""The default job settings shipped in the package (k8s/task-controller-config.yaml is a copy)."""
WEBHOOK_SECRET = "demo-webhook-secret-not-for-production"  # noqa: S105 - the local demo's own secret
NAMESPACE = "orchestrator"
USERS_WITH_SECRETS = ("alice", "carol", "erin")
OutcomeFor = Callable[[dict[str, Any]], JobOutcome]


def pushed_branch(job: dict[str, Any]) -> str:
    """The branch the agent's script pushes for this Job (see templates/*/container.sh.j2)."""
    annotated = (job["metadata"].get("annotations") or {}).get(WORK_BRANCH_ANNOTATION)
    if annotated:
        return str(annotated)
    labels = job["metadata"].get("labels") or {}
    if labels.get("task-type") == "code":
        return f"feature/task-{labels['task-id']}-{labels['service']}"
    return f"docs/{job['metadata']['name']}"


def agent_pushes_a_branch(job: dict[str, Any]) -> JobOutcome:
    """The default simulated agent: works briefly (the real CLI's successful transcript, 20 times faster
    than recorded), pushes its branch, opens no PR."""
    result = {"branch": pushed_branch(job), "commit": uuid.uuid4().hex + "0" * 8, "pullRequestUrl": None}
    transcript = framed(recorded("success", speed=20), pushed_branch(job))
    return JobOutcome(
        succeeded=True, termination_message=json.dumps(result), run_seconds=0.3, transcript=transcript
    )


def cluster_objects(
    namespace: str = NAMESPACE, settings: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """What an installation has before the first command: CRDs, the namespace, the job settings (the
    packaged default, with `settings` sections replaced), the API key secret and the demo users' SSH
    secrets."""
    task_config = yaml.safe_load(TASK_CONFIG_FILE.read_text())
    task_config["metadata"]["namespace"] = namespace
    if settings:
        values = {**yaml.safe_load(task_config["data"]["config.yaml"]), **settings}
        task_config["data"]["config.yaml"] = yaml.safe_dump(values, sort_keys=False)
    objects: list[dict[str, Any]] = [
        custom_resource_definition("DocsRun"),
        custom_resource_definition("CodeRun"),
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        task_config,
        _secret(namespace, "anthropic-api-key", {"api-key": "sk-ant-demo-not-a-real-key"}),
    ]
    for login in USERS_WITH_SECRETS:
        objects.append(
            _secret(
                namespace,
                ssh_secret_name(login),
                {
                    SSH_PRIVATE_KEY: f"demo private key of {login}",
                    SSH_PUBLIC_KEY: f"ssh-ed25519 AAAA {login}",
                },
            )
        )
    return objects


def _secret(namespace: str, name: str, values: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in values.items()},
    }


@dataclass
class Stack:
    kube: LocalKubeAPI
    gh: LocalGitHubAPI
    scene: DemoScene
    settings: Settings
    session: aiohttp.ClientSession
    webhook_url: str = ""
    _serve: web.AppRunner | None = None
    _controller: asyncio.Task[None] | None = None
    _serve_port: int = 0
    controller_options: ControllerOptions | None = None
    default_outcome: OutcomeFor = agent_pushes_a_branch
    """What the simulated agent does with each Job (tests swap in failures, deadlines, PRs)."""

    # --- the bot's two roles ----------------------------------------------------------------------

    async def start_serve(self) -> None:
        app = await create_serve_app(self.settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self._serve_port)
        await site.start()
        self._serve_port = int(runner.addresses[0][1])
        self.webhook_url = f"http://127.0.0.1:{self._serve_port}{self.settings.orchestrator.webhook_path}"
        self.gh.webhook_url = self.webhook_url
        self._serve = runner

    async def stop_serve(self) -> None:
        if self._serve is not None:
            await self._serve.cleanup()
            self._serve = None

    @property
    def public_url(self) -> str:
        """Where `serve` is reached (the run pages: `{public_url}/runs/...`)."""
        return f"http://127.0.0.1:{self._serve_port}"

    def run_page_url(self, name: str) -> str:
        return f"{self.public_url}/runs/{self.settings.orchestrator.namespace}/{name}"

    def start_controller(self) -> None:
        self._controller = asyncio.get_running_loop().create_task(
            run_controller_role(self.settings, self.controller_options)
        )

    async def stop_controller(self) -> None:
        if self._controller is not None:
            self._controller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._controller
            self._controller = None

    # --- what people do on GitHub ----------------------------------------------------------------

    async def send(self, event: str, payload: dict[str, Any], guid: str | None = None) -> tuple[int, str]:
        """Sign and post one delivery straight to `serve` (GitHub's own sending is `gh.deliver`)."""
        return await send_webhook(self.session, self.webhook_url, event, payload, WEBHOOK_SECRET, guid)

    async def press_button(
        self, check: dict[str, Any], identifier: str, user: str = "alice"
    ) -> tuple[int, str]:
        """`user` presses the button `identifier` (retry, cancel) on a check run as the local GitHub
        shows it; GitHub delivers `check_run` `requested_action`."""
        payload = payloads.check_run_requested_action(
            self.scene.repo,
            check_run_id=int(check["id"]),
            head_sha=check["head_sha"],
            identifier=identifier,
            sender=user,
            installation_id=self.scene.installation_id,
            app_id=self.gh.app_id,
            external_id=check["external_id"],
            status=check["status"],
            conclusion=check["conclusion"],
            api_url=self.gh.url,
        )
        return await self.send("check_run", payload)

    def comment_payload(
        self, issue: int, user: str, body: str, *, on_pull_request: bool = False
    ) -> dict[str, Any]:
        """A comment typed on GitHub: stored in the local GitHub API and built as its delivery."""
        comment = self.gh.add_comment(self.scene.repo, issue, user, body)
        return payloads.issue_comment_created(
            self.scene.repo,
            issue,
            comment,
            user,
            on_pull_request=on_pull_request,
            installation_id=self.scene.installation_id,
            api_url=self.gh.url,
        )

    def review_payloads(
        self,
        pull_number: int,
        user: str,
        state: str,
        body: str,
        comments: Sequence[tuple[str, int, str]] = (),
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A review submitted on GitHub (state as webhooks spell it: `changes_requested`...), stored in
        the local GitHub API: the `pull_request_review` delivery and one `pull_request_review_comment`
        delivery per inline comment (path, line, text)."""
        [pull] = [p for p in self.gh.pulls(self.scene.repo) if p["number"] == pull_number]
        ref = PullRef(
            pull_number, pull["head"]["ref"], pull["head"]["sha"], pull["title"], pull["user"]["login"]
        )
        review_id, inline = self.gh.add_review(
            self.scene.repo, pull_number, user, state.upper(), body, comments
        )
        installation, api = self.scene.installation_id, self.gh.url
        submitted = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        review = pull_request_review_submitted(
            self.scene.repo,
            ref,
            review_id,
            state,
            body,
            user,
            installation_id=installation,
            submitted_at=submitted,
            api_url=api,
        )
        comment_deliveries = [
            pull_request_review_comment_created(
                self.scene.repo, ref, c, user, installation_id=installation, api_url=api
            )
            for c in inline
        ]
        return review, comment_deliveries

    async def comment(
        self, issue: int, user: str, body: str, *, on_pull_request: bool = False, guid: str | None = None
    ) -> tuple[int, str]:
        return await self.send(
            "issue_comment", self.comment_payload(issue, user, body, on_pull_request=on_pull_request), guid
        )


SESSION_SECRET = "demo-session-secret-not-for-production-0123456789"  # noqa: S105 - the local demo's own


def run_page_settings(gh: LocalGitHubAPI, public_url: str) -> WebSettings:
    """Sign-in to the run page through the local GitHub (its OAuth pages), the bot at `public_url`."""
    gh.oauth.callback_urls = [f"{public_url}/auth/callback"]
    return WebSettings(
        public_url=public_url,
        session_secret=SESSION_SECRET,
        client_id=gh.client_id,
        client_secret=gh.client_secret,
        web_url=gh.url,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stack_settings(
    gh: LocalGitHubAPI,
    kube: LocalKubeAPI,
    namespace: str,
    store_url: str | None = None,
    public_url: str | None = None,
) -> Settings:
    """The bot's settings for the local APIs; with `store_url` the run store, and with `public_url`
    too the run page (sign-in through the local GitHub)."""
    store = StoreSettings(url=store_url) if store_url else StoreSettings.model_construct(url=None)
    web = run_page_settings(gh, public_url) if store_url and public_url else WebSettings.model_construct()
    return Settings(
        github=GitHubSettings(
            app_id=gh.app_id,
            private_key=SecretStr(gh.private_key_pem),
            webhook_secret=SecretStr(WEBHOOK_SECRET),
            api_url=gh.url,
        ),
        orchestrator=OrchestratorSettings(namespace=namespace, templates_dir=default_templates_dir()),
        kubeconfig=kube.kubeconfig_path,
        store=store,
        web=web,
    )


@contextlib.asynccontextmanager
async def running_stack(
    *,
    controller: bool = True,
    simulate_jobs: bool = True,
    namespace: str = NAMESPACE,
    kubeconfig_path: Path | None = None,
    lease_seconds: int = 3,
    progress_seconds: float = 0.5,
    comment_edit_seconds: float = 1.0,
    task_settings: Mapping[str, Any] | None = None,
    store_url: str | None = None,
    run_page: bool = True,
) -> AsyncIterator[Stack]:
    """Start everything; the controller (with a short Lease) unless `controller=False`. Progress is
    written and shown sooner than in production (`progress_seconds`, `comment_edit_seconds`). With
    `store_url` the controller keeps every run's transcript there, and `serve` shows the run pages
    (unless `run_page=False`) at `stack.public_url`."""
    stack_ref: list[Stack] = []

    def decide(job: dict[str, Any]) -> JobOutcome:
        return stack_ref[0].default_outcome(job) if stack_ref else agent_pushes_a_branch(job)

    async def push_branch(job: dict[str, Any], outcome: JobOutcome) -> None:
        if outcome.succeeded and outcome.termination_message and stack_ref:
            result = json.loads(outcome.termination_message)
            if result.get("branch"):
                stack_ref[0].gh.push_branch(stack_ref[0].scene.repo, result["branch"], result.get("commit"))

    async with (
        LocalKubeAPI(
            simulate_jobs=simulate_jobs,
            job_outcome=decide,
            on_job_finished=push_branch,
            kubeconfig_path=kubeconfig_path,
        ) as kube,
        LocalGitHubAPI(webhook_secret=WEBHOOK_SECRET) as gh,
        aiohttp.ClientSession() as session,
    ):
        for manifest in cluster_objects(namespace, task_settings):
            kube.apply_manifest(manifest)
        scene = seed_demo(gh)
        port = free_port() if store_url and run_page else 0
        public_url = f"http://127.0.0.1:{port}" if port else None
        settings = stack_settings(gh, kube, namespace, store_url, public_url)
        options = ControllerOptions(
            namespace=namespace,
            templates_dir=default_templates_dir(),
            resync_seconds=30.0,
            lease_duration=lease_seconds,
            renew_deadline=max(1.5, lease_seconds * 2 / 3),
            retry_period=1.0,
            progress_seconds=progress_seconds,
            comment_edit_seconds=comment_edit_seconds,
        )
        stack = Stack(kube, gh, scene, settings, session, controller_options=options, _serve_port=port)
        stack_ref.append(stack)
        await stack.start_serve()
        if controller:
            stack.start_controller()
        try:
            yield stack
        finally:
            await stack.stop_controller()
            await stack.stop_serve()
