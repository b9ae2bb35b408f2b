"""Assembles the roles from their parts: `serve` (clients, intake handlers, web app) and `controller`
(reconciler and reporter under one Lease)."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from functools import partial
from typing import Any

import aiohttp
from aiohttp import web

from bot.config import Settings
from bot.controller import Controller, ControllerOptions
from bot.core.redact import Secrets
from bot.errors import StoreUnavailable
from bot.github import GitHubApp, RetryPolicy
from bot.handlers import build_router
from bot.intake import Intake
from bot.kube import Kube, TaskConfigUnavailable, api_client, task_config_unavailable_reason
from bot.logfollow import FollowOptions, LogFollower
from bot.metrics import WebhookMetrics
from bot.redelivery import sweeper_for
from bot.reporter import Reporter
from bot.store import Store, open_store
from bot.store.writer import StoreWriter, StoreWriterMetrics, WriterOptions
from bot.templates import default_templates_dir
from bot.web.app import add_run_pages, web_context
from bot.webhook import WEBHOOK_APP, create_app

GITHUB_READY_CACHE_SECONDS = 300.0
READINESS_TIMEOUT_SECONDS = 3.0


async def create_serve_app(settings: Settings) -> web.Application:
    stack = AsyncExitStack()
    session = await stack.enter_async_context(aiohttp.ClientSession())
    kube = Kube(await stack.enter_async_context(api_client(settings.kubeconfig, "orchestrator-bot-serve")))
    github = GitHubApp(
        session,
        app_id=settings.github.app_id,
        private_key=settings.private_key_pem(),
        api_url=settings.github.api_base,
        permission_cache_seconds=settings.orchestrator.permission_cache_seconds,
    )
    metrics = WebhookMetrics()
    intake = Intake(
        github,
        kube,
        settings.orchestrator.namespace,
        settings.orchestrator.docs_label,
        settings.orchestrator.code_label,
        metrics,
    )
    github_ok_at = float("-inf")

    async def kubernetes_ready() -> str | None:
        # Through the intake's cache (refreshed every TASK_CONFIG_TTL_SECONDS; a missing or invalid
        # ConfigMap is never cached): ready exactly when a command could be handled, and a ConfigMap
        # created or fixed is seen by the next probe.
        namespace = settings.orchestrator.namespace
        return await task_config_unavailable_reason(intake.task_config.get(), namespace)

    async def github_ready() -> str | None:
        nonlocal github_ok_at
        if time.monotonic() - github_ok_at < GITHUB_READY_CACHE_SECONDS:
            return None
        try:
            # A probe answers quickly: one attempt, bounded, no backoff.
            async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
                await github.app_client(RetryPolicy(attempts=1)).getitem("/app")
        except Exception as exc:  # any failure means "not ready"; the reason is reported
            return f"github: cannot authenticate as the App: {exc.__class__.__name__}: {exc}"
        github_ok_at = time.monotonic()
        return None

    app = create_app(
        settings, build_router(intake), readiness=[kubernetes_ready, github_ready], metrics=metrics
    )
    if settings.run_page and settings.store.url is not None:
        store = open_store(settings.store.url.get_secret_value())
        stack.push_async_callback(store.close)
        pages = web_context(settings, store, session)
        pages.act = intake.page_action  # the Cancel / Retry buttons go through the commands' checks
        add_run_pages(app, pages)
        app[WEBHOOK_APP].readiness_details["store"] = partial(store_state, store)

    async def close(_: web.Application) -> None:
        await stack.aclose()

    app.on_cleanup.append(close)
    return app


async def store_state(store: Store) -> dict[str, Any]:
    """The run store as `/readyz` shows it (not a readiness check: an outage degrades the page only)."""
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            await store.ping()
    except (StoreUnavailable, TimeoutError) as exc:
        return {"up": False, "error": str(exc) or "timed out"}
    return {"up": True}


class ControllerCannotStart(Exception):
    """The controller refuses to start (one line for the operator)."""


async def run_controller_role(settings: Settings, options: ControllerOptions | None = None) -> None:
    """Reconciler and reporter; with leader election unless `options` says otherwise."""
    namespace = settings.orchestrator.namespace
    options = options or ControllerOptions(
        namespace=namespace, templates_dir=settings.orchestrator.templates_dir or default_templates_dir()
    )
    user_agent = f"orchestrator-bot-controller/{options.identity}"
    async with aiohttp.ClientSession() as session, api_client(settings.kubeconfig, user_agent) as api:
        kube = Kube(api)
        try:
            config = await kube.read_task_config(namespace)
        except TaskConfigUnavailable as exc:
            raise ControllerCannotStart(
                f"{exc} (the controller does not start without its job settings)"
            ) from None
        github = GitHubApp(
            session,
            app_id=settings.github.app_id,
            private_key=settings.private_key_pem(),
            api_url=settings.github.api_base,
        )
        secrets = Secrets.of([settings.github.webhook_secret.get_secret_value(), settings.private_key_pem()])
        reporter = Reporter(github, kube, namespace, secrets=secrets)
        reporter.edit_interval = options.comment_edit_seconds
        writer = store_writer(settings, secrets)
        follower = LogFollower(
            kube,
            FollowOptions(namespace, status_interval=options.progress_seconds),
            secrets,
            on_event=None if writer is None else writer.follower_sink(namespace),
        )
        if settings.run_page:
            reporter.page_base = settings.web.public_base
        controller = Controller(kube, config, options)
        if writer is not None:
            controller.run_listeners.append(writer.on_run)
            controller.leader_tasks += [writer.run, writer.retain]
            controller.metrics.registry.register(StoreWriterMetrics(writer))
            controller.health_details["store"] = writer.detail
        controller.run_listeners.append(reporter.on_run)
        controller.leader_tasks.append(reporter.run)
        controller.leader_tasks.append(follower.run)
        controller.leader_tasks.append(sweeper_for(settings, github, kube).run)
        health = await controller.serve_health()
        try:
            await controller.run_with_leader_election()
        finally:
            if health is not None:
                await health.cleanup()
            if writer is not None:
                await writer.close()


def store_writer(settings: Settings, secrets: Secrets) -> StoreWriter | None:
    """The controller's writer to the run store, if one is configured (nothing connects yet)."""
    if settings.store.url is None:
        return None
    store = open_store(settings.store.url.get_secret_value())
    return StoreWriter(store, WriterOptions(retention_days=settings.store.retention_days), secrets=secrets)
